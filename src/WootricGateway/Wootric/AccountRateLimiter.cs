using System.Collections.Concurrent;
using System.Threading.RateLimiting;

namespace WootricGateway.Wootric;

/// <summary>
/// Spends each account's per-minute request budget: a sliding one-minute window, plus a pause until
/// Wootric's <c>X-Rate-Limit-Reset</c> after a 429.
/// </summary>
public sealed class AccountRateLimiter(TimeProvider timeProvider) : IDisposable
{
    private readonly ConcurrentDictionary<string, Budget> _budgets = new(StringComparer.Ordinal);

    /// <summary>Waits until <paramref name="account"/> may send one more request.</summary>
    public async ValueTask WaitAsync(WootricAccount account, CancellationToken cancellationToken)
    {
        var budget = _budgets.GetOrAdd(account.Name, _ => new Budget(account.RequestsPerMinute));
        await WaitWhilePausedAsync(budget, cancellationToken).ConfigureAwait(false);

        using var lease = await budget.Limiter.AcquireAsync(1, cancellationToken).ConfigureAwait(false);
        if (!lease.IsAcquired)
        {
            throw new InvalidOperationException("The Wootric request queue is full; raise RequestsPerMinute or lower Delivery:Concurrency.");
        }

        // A 429 seen by another caller while this one waited for its permit pauses it too.
        await WaitWhilePausedAsync(budget, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Stops requests for <paramref name="account"/> until <paramref name="until"/>.</summary>
    public void PauseUntil(WootricAccount account, DateTimeOffset until)
    {
        var budget = _budgets.GetOrAdd(account.Name, _ => new Budget(account.RequestsPerMinute));
        budget.ExtendPause(until);
    }

    private async ValueTask WaitWhilePausedAsync(Budget budget, CancellationToken cancellationToken)
    {
        while (budget.PausedUntil - timeProvider.GetUtcNow() is var pausedFor && pausedFor > TimeSpan.Zero)
        {
            // Round up to whole milliseconds: a shorter delay completes at once and would spin.
            var delay = TimeSpan.FromMilliseconds(Math.Ceiling(pausedFor.TotalMilliseconds));
            await Task.Delay(delay, timeProvider, cancellationToken).ConfigureAwait(false);
        }
    }

    public void Dispose()
    {
        foreach (var budget in _budgets.Values)
        {
            budget.Limiter.Dispose();
        }
    }

    private sealed class Budget(int requestsPerMinute)
    {
        public SlidingWindowRateLimiter Limiter { get; } = new(new SlidingWindowRateLimiterOptions
        {
            PermitLimit = requestsPerMinute,
            Window = TimeSpan.FromMinutes(1),
            SegmentsPerWindow = 12,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            QueueLimit = 100_000,
            AutoReplenishment = true,
        });

        private long _pausedUntilTicks;

        /// <summary>The end of the current 429 pause; read and extended from many threads.</summary>
        public DateTimeOffset PausedUntil => new(Interlocked.Read(ref _pausedUntilTicks), TimeSpan.Zero);

        /// <summary>Moves the end of the pause to <paramref name="until"/> unless it is already later.</summary>
        public void ExtendPause(DateTimeOffset until)
        {
            var ticks = until.UtcTicks;
            var current = Interlocked.Read(ref _pausedUntilTicks);
            while (ticks > current)
            {
                var seen = Interlocked.CompareExchange(ref _pausedUntilTicks, ticks, current);
                if (seen == current)
                {
                    return;
                }

                current = seen;
            }
        }
    }
}
