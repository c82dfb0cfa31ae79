using System.Threading.Channels;
using WootricGateway.Metrics;

namespace WootricGateway.State.InMemory;

/// <summary>
/// The work queue in process memory. Each user has one status, so a burst of events for one user
/// becomes one item, and a change during a sync runs the user once more when the sync completes.
/// </summary>
internal sealed class InMemoryWorkQueue(GatewayMetrics metrics, TimeProvider timeProvider) : IWorkQueue
{
    private readonly Lock _gate = new();
    private readonly Dictionary<UserRef, Entry> _entries = [];
    private readonly Channel<UserRef> _ready = Channel.CreateUnbounded<UserRef>();

    private enum Status
    {
        Queued,
        InFlight,
        InFlightChanged,
        Delayed,
    }

    public bool IsDurable => false;

    /// <summary>True while the user is queued, being synced or waiting for a retry.</summary>
    public bool HasWork(UserRef user)
    {
        lock (_gate)
        {
            return _entries.ContainsKey(user);
        }
    }

    public ValueTask EnqueueAsync(UserRef user, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!_entries.TryGetValue(user, out var entry))
            {
                _entries[user] = new Entry { Status = Status.Queued };
                _ready.Writer.TryWrite(user);
            }
            else if (entry.Status == Status.InFlight)
            {
                entry.Status = Status.InFlightChanged;
            }

            ReportBacklog();
        }

        return ValueTask.CompletedTask;
    }

    public async ValueTask<WorkItem> DequeueAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var user = await _ready.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            lock (_gate)
            {
                if (_entries.TryGetValue(user, out var entry) && entry.Status == Status.Queued)
                {
                    entry.Status = Status.InFlight;
                    return new WorkItem(user, entry.Attempt);
                }
            }
        }
    }

    public ValueTask CompleteAsync(WorkItem item, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (_entries.TryGetValue(item.User, out var entry))
            {
                if (entry.Status == Status.InFlightChanged)
                {
                    entry.Status = Status.Queued;
                    entry.Attempt = 0;
                    _ready.Writer.TryWrite(item.User);
                }
                else
                {
                    _entries.Remove(item.User);
                }
            }

            ReportBacklog();
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask RetryAsync(WorkItem item, TimeSpan delay, bool countAttempt, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            if (!_entries.TryGetValue(item.User, out var entry))
            {
                entry = new Entry();
                _entries[item.User] = entry;
            }

            entry.Status = Status.Delayed;
            entry.Attempt = countAttempt ? item.Attempt + 1 : item.Attempt;
            ReportBacklog();
        }

        _ = ReleaseAfterAsync(item.User, delay);
        return ValueTask.CompletedTask;
    }

    public ValueTask<long> GetBacklogAsync(CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            return ValueTask.FromResult((long)_entries.Count);
        }
    }

    private async Task ReleaseAfterAsync(UserRef user, TimeSpan delay)
    {
        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, timeProvider).ConfigureAwait(false);
        }

        lock (_gate)
        {
            if (_entries.TryGetValue(user, out var entry) && entry.Status == Status.Delayed)
            {
                entry.Status = Status.Queued;
                _ready.Writer.TryWrite(user);
            }
        }
    }

    private void ReportBacklog() => metrics.DeliveryBacklog.Set(_entries.Count);

    private sealed class Entry
    {
        public Status Status { get; set; }

        public int Attempt { get; set; }
    }
}
