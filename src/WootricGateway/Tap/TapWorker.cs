using Microsoft.Extensions.Options;
using WootricGateway.Metrics;
using WootricGateway.Segment;

namespace WootricGateway.Tap;

/// <summary>
/// The background parser: takes captured bodies from the <see cref="TapQueue"/>, decodes and parses
/// them, counts every outcome and passes the events to the <see cref="ITapEventSink"/>.
/// </summary>
internal sealed partial class TapWorker(
    TapQueue queue,
    ITapEventSink sink,
    IOptions<TapOptions> options,
    GatewayMetrics metrics,
    ILogger<TapWorker> logger) : BackgroundService
{
    private readonly TapOptions _options = options.Value;

    private readonly CancellationTokenSource _abort = new();

    /// <summary>
    /// Parses captures until the queue is completed and empty. The loop ignores the stopping token:
    /// at shutdown <see cref="StopAsync"/> completes the queue, so what is queued still reaches the
    /// store, and only the host's shutdown timeout aborts the drain.
    /// </summary>
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        LogStarted(logger, _options.QueueCapacity);
        var abort = _abort.Token;
        try
        {
            await foreach (var request in queue.Reader.ReadAllAsync(abort))
            {
                metrics.TapQueueDepth.Set(queue.Count);
                await ProcessAsync(request, abort);
            }

            metrics.TapQueueDepth.Set(0);
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
            LogDrainAborted(logger, queue.Count);
        }

        LogStopped(logger);
    }

    /// <summary>Stops taking captures and waits, at most until <paramref name="cancellationToken"/> fires, for the queued ones.</summary>
    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // The web server stops before this service, so no request adds a capture any more.
        queue.Complete();
        LogDraining(logger, queue.Count);
        await using (cancellationToken.Register(_abort.Cancel))
        {
            await base.StopAsync(cancellationToken);
        }

        // base.StopAsync may return on the timeout before the registration above has run.
        if (cancellationToken.IsCancellationRequested)
        {
            await _abort.CancelAsync();
        }
    }

    public override void Dispose()
    {
        _abort.Dispose();
        base.Dispose();
    }

    /// <summary>Decodes, parses and delivers one capture. Bad input becomes a counted outcome; only cancellation escapes.</summary>
    internal async Task ProcessAsync(CapturedRequest request, CancellationToken cancellationToken)
    {
        PooledSegmentBuffer? decodedOwner = null;
        try
        {
            var decodeOutcome = BodyDecoder.TryDecode(
                request.Body.ToSequence(),
                request.ContentEncoding,
                _options.MaxDecodedBytes,
                out var decoded,
                out decodedOwner);
            if (decodeOutcome != DecodeOutcome.Ok)
            {
                metrics.TapRequests.WithLabels(decodeOutcome switch
                {
                    DecodeOutcome.UnsupportedEncoding => "unsupported_encoding",
                    DecodeOutcome.TooLarge => "decoded_too_large",
                    _ => "corrupt_encoding",
                }).Inc();
                return;
            }

            var result = SegmentParser.Parse(decoded, request.Route, request.HeaderWriteKey, request.ReceivedAt, _options.MaxJsonDepth);
            metrics.TapRequests.WithLabels(result.Outcome switch
            {
                BodyOutcome.Parsed => "parsed",
                BodyOutcome.InvalidJson => "invalid_json",
                BodyOutcome.NotAnObject => "not_an_object",
                BodyOutcome.InvalidUtf8 => "invalid_utf8",
                _ => "missing_batch",
            }).Inc();

            foreach (var skipped in result.Skipped)
            {
                metrics.TapEvents.WithLabels(SegmentEventTypes.Label(skipped.Type), "skipped_" + skipped.Reason).Inc();
            }

            if (result.Batch is not { Events.Count: > 0 } batch)
            {
                return;
            }

            foreach (var tapped in batch.Events)
            {
                metrics.TapEvents.WithLabels(tapped is IdentifyEvent ? "identify" : "page", "parsed").Inc();
            }

            await sink.ConsumeAsync(batch, cancellationToken);
            metrics.TapRequests.WithLabels("handed_off").Inc();
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // A defect in a sink or the parser must not stop the loop; the body is counted and dropped.
            metrics.TapRequests.WithLabels("sink_failed").Inc();
            LogSinkFailed(logger, exception);
        }
        finally
        {
            decodedOwner?.Dispose();
            request.Body.Dispose();
        }
    }

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Tap parser started (queue capacity {QueueCapacity})")]
    private static partial void LogStarted(ILogger logger, int queueCapacity);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Information, Message = "Tap parser stopped")]
    private static partial void LogStopped(ILogger logger);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Information, Message = "Tap parser stopping; handing {Count} queued captures to the store first")]
    private static partial void LogDraining(ILogger logger, int count);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Warning, Message = "Shutdown timeout reached; {Count} queued captures were dropped")]
    private static partial void LogDrainAborted(ILogger logger, int count);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Error, Message = "Processing a tapped request failed; its events were dropped")]
    private static partial void LogSinkFailed(ILogger logger, Exception exception);
}
