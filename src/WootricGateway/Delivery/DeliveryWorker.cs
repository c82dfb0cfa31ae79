using Microsoft.Extensions.Options;
using WootricGateway.Metrics;
using WootricGateway.State;

namespace WootricGateway.Delivery;

/// <summary>
/// Runs user syncs from the <see cref="IWorkQueue"/> on several loops, and turns each
/// <see cref="SyncResult"/> into completion, a delayed retry with backoff, or a dead letter.
/// </summary>
internal sealed partial class DeliveryWorker(
    IWorkQueue queue,
    UserSynchronizer synchronizer,
    IDeadLetterStore deadLetters,
    IOptions<DeliveryOptions> options,
    GatewayMetrics metrics,
    TimeProvider timeProvider,
    ILogger<DeliveryWorker> logger) : BackgroundService
{
    private readonly DeliveryOptions _options = options.Value;
    private static readonly TimeSpan AbortedSyncGrace = TimeSpan.FromSeconds(1);
    private readonly CancellationTokenSource _abort = new();

    /// <summary>
    /// Stops taking users and lets running syncs finish, until <paramref name="cancellationToken"/>
    /// (the host's shutdown timeout) aborts them. With Redis an aborted sync stays pending and another
    /// replica claims it after <c>Redis:ClaimIdleTimeout</c>. In memory it is lost with the process.
    /// </summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await using (cancellationToken.Register(_abort.Cancel))
        {
            await base.StopAsync(cancellationToken);
        }

        // base.StopAsync may return on the timeout before the registration above has run.
        if (cancellationToken.IsCancellationRequested)
        {
            await _abort.CancelAsync();
        }

        // After the timeout the aborted syncs unwind at once; wait briefly so they log before exit.
        if (ExecuteTask is { IsCompleted: false } loops)
        {
            await Task.WhenAny(loops, Task.Delay(AbortedSyncGrace, CancellationToken.None));
        }

        // Work held in process memory ends with the process. Saying how much makes the loss visible.
        if (!queue.IsDurable && await queue.GetBacklogAsync(CancellationToken.None) is > 0 and var unsynced)
        {
            LogInMemoryWorkLost(logger, unsynced);
        }
    }

    public override void Dispose()
    {
        _abort.Dispose();
        base.Dispose();
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        LogStarted(logger, _options.Concurrency);
        var loops = Enumerable.Range(0, _options.Concurrency).Select(_ => RunLoopAsync(stoppingToken));
        return Task.WhenAll(loops);
    }

    private async Task RunLoopAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            WorkItem item;
            try
            {
                item = await queue.DequeueAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }

            // The stopping token only ends the loop; a sync already taken runs until the shutdown timeout.
            var abort = _abort.Token;
            try
            {
                await RunOneAsync(item, abort);
            }
            catch (OperationCanceledException) when (abort.IsCancellationRequested)
            {
                // Aborted at the shutdown timeout: the item stays pending (Redis) or is lost with the process (in memory).
                if (queue.IsDurable)
                {
                    LogSyncAbortedEntryPending(logger, item.User);
                }
                else
                {
                    LogSyncAbortedChangesLost(logger, item.User);
                }

                return;
            }
            catch (Exception exception)
            {
                // A defect or a store outage: keep the user and try again later rather than stop the loop.
                LogSyncCrashed(logger, item.User, exception);
                await TryScheduleRetryAsync(item, exception, abort);
            }
        }
    }

    private async Task TryScheduleRetryAsync(WorkItem item, Exception failure, CancellationToken stoppingToken)
    {
        try
        {
            await RetryOrDeadLetterAsync(item, new SyncResult(SyncOutcome.Retry, "internal_error", 0, failure.GetType().Name), stoppingToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // The store is unreachable too. With Redis the entry stays unacknowledged and another
            // claim delivers it again; in memory this cannot fail.
            LogRetryNotScheduled(logger, item.User, exception.GetType().Name);
        }
    }

    internal async Task RunOneAsync(WorkItem item, CancellationToken cancellationToken)
    {
        var result = await synchronizer.SyncAsync(item, cancellationToken);
        switch (result.Outcome)
        {
            case SyncOutcome.Done:
            case SyncOutcome.Parked:
                await queue.CompleteAsync(item, cancellationToken);
                break;
            case SyncOutcome.DeadLetter:
                await DeadLetterAsync(item, result, cancellationToken);
                break;
            default:
                await RetryOrDeadLetterAsync(item, result, cancellationToken);
                break;
        }
    }

    private async Task RetryOrDeadLetterAsync(WorkItem item, SyncResult result, CancellationToken cancellationToken)
    {
        if (result.CountsAsAttempt && item.Attempt + 1 >= _options.MaxAttempts)
        {
            await DeadLetterAsync(item, result with { Reason = "retries_exhausted", Message = $"{result.Reason}: {result.Message}" }, cancellationToken);
            return;
        }

        var delay = result.RetryAfter ?? Backoff(item.Attempt);
        metrics.Retries.WithLabels(result.Reason ?? "unknown").Inc();
        if (result.CountsAsAttempt)
        {
            LogRetrying(logger, item.User, item.Attempt + 1, delay.TotalSeconds, result.Reason);
        }

        await queue.RetryAsync(item, delay, result.CountsAsAttempt, cancellationToken);
    }

    private async Task DeadLetterAsync(WorkItem item, SyncResult result, CancellationToken cancellationToken)
    {
        var reason = result.Reason ?? "unknown";
        var letter = new DeadLetter(
            Guid.NewGuid().ToString("N"),
            item.User,
            reason,
            result.StatusCode,
            result.Message,
            item.Attempt + 1,
            timeProvider.GetUtcNow());
        await deadLetters.AddAsync(letter, cancellationToken);
        await queue.CompleteAsync(item, cancellationToken);
        metrics.DeadLetters.WithLabels(reason).Inc();
        LogDeadLettered(logger, item.User, reason, result.StatusCode, result.Message);
    }

    /// <summary>Exponential backoff with jitter: base × 2^attempt, capped, then a random 50–100 % of it.</summary>
    private TimeSpan Backoff(int attempt)
    {
        var exponential = _options.RetryBaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt, 30));
        var capped = Math.Min(exponential, _options.RetryMaxDelay.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(capped * (0.5 + (Random.Shared.NextDouble() / 2)));
    }

    [LoggerMessage(EventId = 2101, Level = LogLevel.Information, Message = "Delivery started with {Concurrency} concurrent syncs")]
    private static partial void LogStarted(ILogger logger, int concurrency);

    [LoggerMessage(EventId = 2102, Level = LogLevel.Information, Message = "Sync of {User} failed (attempt {Attempt}); retrying in {DelaySeconds:F1} s ({Reason})")]
    private static partial void LogRetrying(ILogger logger, UserRef user, int attempt, double delaySeconds, string? reason);

    [LoggerMessage(EventId = 2103, Level = LogLevel.Error, Message = "Sync of {User} moved to dead letters: {Reason}, status {StatusCode}: {WootricMessage}")]
    private static partial void LogDeadLettered(ILogger logger, UserRef user, string reason, int statusCode, string? wootricMessage);

    [LoggerMessage(EventId = 2105, Level = LogLevel.Warning, Message = "Could not schedule a retry for {User} ({Error}); the work entry stays pending until it is claimed again")]
    private static partial void LogRetryNotScheduled(ILogger logger, UserRef user, string error);

    [LoggerMessage(EventId = 2107, Level = LogLevel.Warning, Message = "Stopping with {Users} users not yet synced to Wootric; without Redis their changes are lost. Set Redis__Configuration to keep work across restarts")]
    private static partial void LogInMemoryWorkLost(ILogger logger, long users);

    [LoggerMessage(EventId = 2106, Level = LogLevel.Warning, Message = "Shutdown timeout reached during the sync of {User}; its work entry stays pending for another replica")]
    private static partial void LogSyncAbortedEntryPending(ILogger logger, UserRef user);

    // Shares event id 2106 with the message above, so a filter on the id finds aborted syncs with and
    // without Redis.
    [LoggerMessage(EventId = 2106, Level = LogLevel.Warning, Message = "Shutdown timeout reached during the sync of {User}; without Redis its changes are lost")]
    private static partial void LogSyncAbortedChangesLost(ILogger logger, UserRef user);

    [LoggerMessage(EventId = 2104, Level = LogLevel.Error, Message = "Sync of {User} failed unexpectedly; it will be retried")]
    private static partial void LogSyncCrashed(ILogger logger, UserRef user, Exception exception);
}
