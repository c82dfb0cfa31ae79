using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using WootricGateway.Metrics;
using WootricGateway.Segment;
using WootricGateway.State.Redis;
using WootricGateway.Tap;

namespace WootricGateway.Delivery;

/// <summary>
/// Keeps the tap fail-open when Redis is down: tapped batches that cannot be applied wait in a
/// bounded in-memory buffer, in order, and are applied when Redis returns. Past
/// <see cref="RedisOptions.OutageBufferCapacity"/> batches, further events are dropped and counted.
/// </summary>
/// <remarks>
/// NOTE: a batch that failed half-way is applied again from its start. Events applied the first
/// time are then skipped as duplicates by messageId. An event whose messageId was recorded but whose
/// state write failed is lost.
/// </remarks>
internal sealed partial class OutageBufferingSink(
    UserSyncSink inner,
    RedisConnection redis,
    IOptions<RedisOptions> options,
    GatewayMetrics metrics,
    TimeProvider timeProvider,
    ILogger<OutageBufferingSink> logger) : BackgroundService, ITapEventSink
{
    private readonly ConcurrentQueue<TappedBatch> _buffer = new();
    private readonly SemaphoreSlim _applying = new(1, 1);
    private readonly int _capacity = options.Value.OutageBufferCapacity;
    private int _count;

    public async ValueTask ConsumeAsync(TappedBatch batch, CancellationToken cancellationToken)
    {
        // While anything waits, new batches queue behind it so users see their events in order.
        if (!_buffer.IsEmpty || !redis.IsConnected)
        {
            Buffer(batch);
            return;
        }

        await _applying.WaitAsync(cancellationToken);
        try
        {
            await inner.ConsumeAsync(batch, cancellationToken);
        }
        catch (Exception exception) when (RedisConnection.IsOutage(exception))
        {
            Buffer(batch);
        }
        finally
        {
            _applying.Release();
        }
    }

    /// <summary>Connects to Redis early, then applies buffered batches whenever Redis is reachable.</summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await redis.WarmUpAsync().WaitAsync(stoppingToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // Reconnection continues in the background; the buffer takes events meanwhile.
            LogFlushFailed(logger, exception.GetType().Name, _count);
        }

        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(TimeSpan.FromMilliseconds(250), timeProvider, stoppingToken);
                if (!_buffer.IsEmpty && redis.IsConnected)
                {
                    await FlushAsync(stoppingToken);
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
        }
    }

    /// <summary>
    /// Stops the background flush, then applies what is still buffered if Redis is reachable. The tap
    /// stops before this service, so no batch arrives after this flush.
    /// </summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        if (!_buffer.IsEmpty && redis.IsConnected)
        {
            try
            {
                await FlushAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                // The shutdown timeout ended the flush; the count below is what is lost.
            }
        }

        if (Volatile.Read(ref _count) is > 0 and var lost)
        {
            LogLostAtShutdown(logger, lost);
        }
    }

    private async Task FlushAsync(CancellationToken cancellationToken)
    {
        var applied = 0;
        await _applying.WaitAsync(cancellationToken);
        try
        {
            while (_buffer.TryPeek(out var batch))
            {
                await inner.ConsumeAsync(batch, cancellationToken);
                _buffer.TryDequeue(out _);
                metrics.OutageBufferDepth.Set(Interlocked.Decrement(ref _count));
                applied++;
            }
        }
        catch (Exception exception) when (RedisConnection.IsOutage(exception))
        {
            LogFlushFailed(logger, exception.GetType().Name, _count);
        }
        finally
        {
            _applying.Release();
        }

        if (applied > 0)
        {
            LogFlushed(logger, applied);
        }
    }

    private void Buffer(TappedBatch batch)
    {
        if (Interlocked.Increment(ref _count) > _capacity)
        {
            Interlocked.Decrement(ref _count);
            foreach (var tapped in batch.Events)
            {
                metrics.TapEvents.WithLabels(tapped is IdentifyEvent ? "identify" : "page", "dropped_redis_unavailable").Inc();
            }

            return;
        }

        _buffer.Enqueue(batch);
        metrics.OutageBufferDepth.Set(Volatile.Read(ref _count));
    }

    [LoggerMessage(EventId = 2301, Level = LogLevel.Information, Message = "Applied {Count} tapped requests buffered while Redis was unreachable")]
    private static partial void LogFlushed(ILogger logger, int count);

    [LoggerMessage(EventId = 2303, Level = LogLevel.Error, Message = "Stopping with {Count} tapped requests still buffered because Redis is unreachable; their events are lost")]
    private static partial void LogLostAtShutdown(ILogger logger, int count);

    [LoggerMessage(EventId = 2302, Level = LogLevel.Warning, Message = "Applying buffered tapped requests failed ({Error}); {Buffered} still wait for Redis")]
    private static partial void LogFlushFailed(ILogger logger, string error, int buffered);
}
