using System.Text.Json;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using WootricGateway.Delivery;
using WootricGateway.Metrics;

namespace WootricGateway.State.Redis;

/// <summary>
/// The work queue as a Redis stream read by one consumer group, so every replica shares the work.
/// </summary>
/// <remarks>
/// A user is queued once: a per-user <c>queued</c> flag (<c>SET NX</c>) guards the <c>XADD</c>, and
/// the flag is cleared when a replica takes the entry, so a change during a sync queues the user
/// again. Entries are acknowledged and deleted only after the sync finished, so nothing is trimmed
/// unacknowledged. Entries left by a dead replica are claimed after <see cref="RedisOptions.ClaimIdleTimeout"/>.
/// Retries wait in a sorted set until they are due.
/// </remarks>
internal sealed partial class RedisWorkQueue : BackgroundService, IWorkQueue
{
    /// <summary>Moves due retries into the stream atomically; both keys share the <c>{work}</c> hash tag.</summary>
    private const string MoveDueScript = """
        local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', ARGV[1], 'LIMIT', 0, 100)
        for _, member in ipairs(due) do
          local item = cjson.decode(member)
          redis.call('XADD', KEYS[1], '*', 'account', item.account, 'user', item.user, 'attempt', item.attempt)
          redis.call('ZREM', KEYS[2], member)
        end
        return #due
        """;

    /// <summary>
    /// Puts an entry this consumer read but did not start back at the end of the stream, as a new
    /// entry, and acknowledges the old one, so another consumer reads it at once. The add comes first:
    /// a failure between the two leaves a duplicate entry (a second, harmless sync), never a loss.
    /// </summary>
    private const string HandBackScript = """
        redis.call('XADD', KEYS[1], '*', 'account', ARGV[2], 'user', ARGV[3], 'attempt', ARGV[4])
        redis.call('XACK', KEYS[1], ARGV[5], ARGV[1])
        redis.call('XDEL', KEYS[1], ARGV[1])
        return 1
        """;

    /// <summary>
    /// How long a <c>queued</c> flag may outlive a lost <c>XADD</c> (a crash between the two); until it
    /// expires, changes for that user coalesce into nothing.
    /// </summary>
    private static readonly TimeSpan QueuedFlagTtl = TimeSpan.FromMinutes(10);

    private readonly RedisConnection _redis;
    private readonly RedisOptions _options;
    private readonly GatewayMetrics _metrics;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger<RedisWorkQueue> _logger;
    private readonly Channel<WorkItem> _local;
    private readonly string _consumer;
    private readonly int _batchSize;
    private bool _groupCreated;

    public RedisWorkQueue(
        RedisConnection redis,
        IOptions<RedisOptions> options,
        IOptions<DeliveryOptions> deliveryOptions,
        GatewayMetrics metrics,
        TimeProvider timeProvider,
        ILogger<RedisWorkQueue> logger)
    {
        _redis = redis;
        _options = options.Value;
        _metrics = metrics;
        _timeProvider = timeProvider;
        _logger = logger;
        _batchSize = deliveryOptions.Value.Concurrency;
        _local = Channel.CreateBounded<WorkItem>(_batchSize);
        // Host name and process id stay the same when a container restarts (its process is pid 1), so a
        // restarted replica finds its own unacknowledged entries at once.
        _consumer = _options.ConsumerName is { Length: > 0 } name ? name : $"{Environment.MachineName}-{Environment.ProcessId}";
    }

    public bool IsDurable => true;

    public async ValueTask EnqueueAsync(UserRef user, CancellationToken cancellationToken)
    {
        var flagged = await _redis.RunAsync(
            database => database.StringSetAsync(_redis.Keys.Queued(user), 1, QueuedFlagTtl, When.NotExists),
            cancellationToken);
        if (!flagged)
        {
            // Already waiting: this change is picked up by that entry.
            return;
        }

        await _redis.RunAsync(
            database => database.StreamAddAsync(_redis.Keys.WorkStream, [new("account", user.Account), new("user", user.Key), new("attempt", 0)]),
            cancellationToken);
    }

    public ValueTask<WorkItem> DequeueAsync(CancellationToken cancellationToken) => _local.Reader.ReadAsync(cancellationToken);

    public async ValueTask CompleteAsync(WorkItem item, CancellationToken cancellationToken)
    {
        if (item.EntryId is not { } id)
        {
            return;
        }

        await _redis.RunAsync(database => database.StreamAcknowledgeAsync(_redis.Keys.WorkStream, _redis.Keys.ConsumerGroup, id), cancellationToken);
        await _redis.RunAsync(database => database.StreamDeleteAsync(_redis.Keys.WorkStream, [id]), cancellationToken);
    }

    public async ValueTask RetryAsync(WorkItem item, TimeSpan delay, bool countAttempt, CancellationToken cancellationToken)
    {
        var attempt = countAttempt ? item.Attempt + 1 : item.Attempt;
        var member = JsonSerializer.Serialize(new { account = item.User.Account, user = item.User.Key, attempt });
        var dueAt = (_timeProvider.GetUtcNow() + delay).ToUnixTimeMilliseconds();

        // Changes arriving while the retry waits coalesce into it, as they do for a queued entry.
        await _redis.RunAsync(database => database.StringSetAsync(_redis.Keys.Queued(item.User), 1, QueuedFlagTtl), cancellationToken);
        await _redis.RunAsync(database => database.SortedSetAddAsync(_redis.Keys.DelayedWork, member, dueAt), cancellationToken);
        await CompleteAsync(item, cancellationToken);
    }

    public async ValueTask<long> GetBacklogAsync(CancellationToken cancellationToken)
    {
        var queued = await _redis.RunAsync(database => database.StreamLengthAsync(_redis.Keys.WorkStream), cancellationToken);
        var delayed = await _redis.RunAsync(database => database.SortedSetLengthAsync(_redis.Keys.DelayedWork), cancellationToken);
        return queued + delayed;
    }

    /// <summary>
    /// Feeds the local channel: first this consumer's own unacknowledged entries (from before a
    /// restart), then new entries, due retries and entries claimed from dead consumers.
    /// </summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        LogStarted(_logger, _consumer);
        var readOwnPending = true;
        var nextClaim = _timeProvider.GetUtcNow();
        var nextBacklogReport = _timeProvider.GetUtcNow();
        var failing = false;

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await EnsureGroupAsync(stoppingToken);
                var now = _timeProvider.GetUtcNow();
                if (now >= nextBacklogReport)
                {
                    _metrics.DeliveryBacklog.Set(await GetBacklogAsync(stoppingToken));
                    nextBacklogReport = now + TimeSpan.FromMilliseconds(500);
                }

                await _redis.RunAsync(
                    database => database.ScriptEvaluateAsync(MoveDueScript, [_redis.Keys.WorkStream, _redis.Keys.DelayedWork], [now.ToUnixTimeMilliseconds()]),
                    stoppingToken);

                var delivered = 0;
                if (now >= nextClaim)
                {
                    delivered += await ClaimAbandonedAsync(stoppingToken);
                    nextClaim = now + TimeSpan.FromTicks(_options.ClaimIdleTimeout.Ticks / 4);
                }

                delivered += await ReadAsync(readOwnPending ? "0" : ">", stoppingToken);
                readOwnPending = false;
                if (failing)
                {
                    failing = false;
                    LogResumed(_logger);
                }

                if (delivered == 0)
                {
                    await Task.Delay(_options.PollInterval, _timeProvider, stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception exception) when (RedisConnection.IsOutage(exception) || exception is RedisException)
            {
                // A Redis restarted without persistence has lost the group; create it again.
                if (exception.Message.Contains("NOGROUP", StringComparison.Ordinal))
                {
                    _groupCreated = false;
                }

                if (!failing)
                {
                    failing = true;
                    LogReadFailed(_logger, exception.GetType().Name);
                }

                await Task.Delay(TimeSpan.FromSeconds(1), _timeProvider, stoppingToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// Stops reading, then hands the entries this replica read but no sync took back to the stream,
    /// so another replica runs them without waiting for <see cref="RedisOptions.ClaimIdleTimeout"/>.
    /// The delivery worker stops before this service, so nothing takes from the local channel now.
    /// </summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);

        var handedBack = 0;
        try
        {
            while (_local.Reader.TryRead(out var item))
            {
                if (item.EntryId is not { } id)
                {
                    continue;
                }

                await _redis.RunAsync(
                    database => database.ScriptEvaluateAsync(
                        HandBackScript,
                        [_redis.Keys.WorkStream],
                        [id, item.User.Account, item.User.Key, item.Attempt, _redis.Keys.ConsumerGroup]),
                    cancellationToken);
                handedBack++;
            }
        }
        catch (Exception exception) when (exception is OperationCanceledException || RedisConnection.IsOutage(exception) || exception is RedisException)
        {
            // The entries not handed back stay pending; another replica claims them after ClaimIdleTimeout.
            LogHandBackFailed(_logger, exception.GetType().Name);
        }

        if (handedBack > 0)
        {
            LogHandedBack(_logger, handedBack);
        }
    }

    private async Task EnsureGroupAsync(CancellationToken cancellationToken)
    {
        if (_groupCreated)
        {
            return;
        }

        try
        {
            await _redis.RunAsync(
                database => database.StreamCreateConsumerGroupAsync(_redis.Keys.WorkStream, _redis.Keys.ConsumerGroup, "0-0", createStream: true),
                cancellationToken);
        }
        catch (RedisServerException exception) when (exception.Message.Contains("BUSYGROUP", StringComparison.Ordinal))
        {
            // The group exists already, created by this or another replica.
        }

        _groupCreated = true;
    }

    private async Task<int> ReadAsync(RedisValue position, CancellationToken cancellationToken)
    {
        // Read only as much as the local channel can take, so entries do not idle here unprocessed.
        var room = _batchSize - _local.Reader.Count;
        if (room <= 0)
        {
            return 0;
        }

        // Not cancelled by a stop: Redis assigns the entries to this consumer when it runs the command, so
        // abandoning the reply would leave them pending, unseen by StopAsync's hand-back, until another
        // replica claims them after ClaimIdleTimeout. The read does not block, and OperationTimeout bounds it.
        var entries = await _redis.RunAsync(
            database => database.StreamReadGroupAsync(_redis.Keys.WorkStream, _redis.Keys.ConsumerGroup, _consumer, position, room),
            CancellationToken.None);
        foreach (var entry in entries)
        {
            await DeliverAsync(entry, cancellationToken);
        }

        return entries.Length;
    }

    /// <summary>Takes over entries idle past ClaimIdleTimeout; like a read, the claim is not abandoned at a stop.</summary>
    private async Task<int> ClaimAbandonedAsync(CancellationToken cancellationToken)
    {
        var claimed = await _redis.RunAsync(
            database => database.StreamAutoClaimAsync(
                _redis.Keys.WorkStream,
                _redis.Keys.ConsumerGroup,
                _consumer,
                (long)_options.ClaimIdleTimeout.TotalMilliseconds,
                "0-0",
                _batchSize),
            CancellationToken.None);
        foreach (var entry in claimed.ClaimedEntries)
        {
            if (!entry.IsNull)
            {
                var entryId = entry.Id.ToString();
                LogClaimed(_logger, entryId);
                await DeliverAsync(entry, cancellationToken);
            }
        }

        return claimed.ClaimedEntries.Length;
    }

    private async Task DeliverAsync(StreamEntry entry, CancellationToken cancellationToken)
    {
        var user = new UserRef(entry["account"].ToString(), entry["user"].ToString());
        var attempt = (int)entry["attempt"];

        // Clear the flag before the sync reads the state, so any later change queues the user again.
        // Neither step observes the stopping token: an entry read from the stream must reach the local
        // channel, where StopAsync finds it and hands it back, and not be left pending by a shutdown.
        await _redis.RunAsync(database => database.KeyDeleteAsync(_redis.Keys.Queued(user)), CancellationToken.None);
        var item = new WorkItem(user, attempt, entry.Id.ToString());
        if (!_local.Writer.TryWrite(item))
        {
            await _local.Writer.WriteAsync(item, cancellationToken);
        }
    }

    [LoggerMessage(EventId = 4101, Level = LogLevel.Information, Message = "Reading the Redis work stream as consumer {Consumer}")]
    private static partial void LogStarted(ILogger logger, string consumer);

    [LoggerMessage(EventId = 4102, Level = LogLevel.Warning, Message = "Reading the Redis work stream failed ({Error}); retrying every second")]
    private static partial void LogReadFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 4103, Level = LogLevel.Information, Message = "Reading the Redis work stream resumed")]
    private static partial void LogResumed(ILogger logger);

    [LoggerMessage(EventId = 4105, Level = LogLevel.Information, Message = "Handed {Count} unstarted work entries back to the Redis stream for other replicas")]
    private static partial void LogHandedBack(ILogger logger, int count);

    [LoggerMessage(EventId = 4106, Level = LogLevel.Warning, Message = "Handing work entries back at shutdown failed ({Error}); the rest stay pending until another replica claims them")]
    private static partial void LogHandBackFailed(ILogger logger, string error);

    [LoggerMessage(EventId = 4104, Level = LogLevel.Information, Message = "Claimed work entry {EntryId} left unacknowledged by another consumer")]
    private static partial void LogClaimed(ILogger logger, string entryId);
}
