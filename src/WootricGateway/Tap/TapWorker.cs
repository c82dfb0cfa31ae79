using System.Diagnostics;
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
    private readonly ParserBudget? _budget = options.Value.ParserCpuShare > 0 ? new ParserBudget(options.Value.ParserCpuShare) : null;

    /// <summary>The most captures parsed before their events are delivered together.</summary>
    private const int MaxRequestsPerDelivery = 64;

    /// <summary>The most events delivered together, so one slow delivery delays a bounded amount of work.</summary>
    private const int MaxEventsPerDelivery = 2000;

    private readonly CancellationTokenSource _abort = new();

    /// <summary>
    /// Starts the parser on its own thread, so that its priority can be lowered (<see cref="TapOptions.ParserNice"/>)
    /// without touching the thread pool that serves requests. The returned task ends when the thread does.
    /// </summary>
    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var finished = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                Run(stoppingToken);
                finished.TrySetResult();
            }
            catch (Exception exception)
            {
                finished.TrySetException(exception);
            }
        })
        {
            IsBackground = true,
            Name = "Tap parser",
        };
        thread.Start();
        return finished.Task;
    }

    /// <summary>
    /// Parses captures until the queue is completed and empty. The loop ignores the stopping token:
    /// at shutdown <see cref="StopAsync"/> completes the queue, so what is queued still reaches the
    /// store, and only the host's shutdown timeout aborts the drain. The thread blocks while it waits
    /// and while the sink delivers. The thread is the parser's alone, so no request waits for it.
    /// </summary>
    private void Run(CancellationToken stoppingToken)
    {
        LogStarted(logger, _options.QueueCapacity);
        if (_options.ParserNice > 0 && !ThreadNice.TryLowerCurrentThread(_options.ParserNice, out var error))
        {
            LogNiceFailed(logger, _options.ParserNice, error);
        }

        var abort = _abort.Token;
        try
        {
            while (WaitToRead(abort))
            {
                // Whatever has gathered is parsed, then delivered together, up to a bound.
                var parsed = new List<TappedBatch>();
                var events = 0;
                while (parsed.Count < MaxRequestsPerDelivery && events < MaxEventsPerDelivery && queue.TryRead(out var request))
                {
                    if (Parse(request) is { } batch)
                    {
                        parsed.Add(batch);
                        events += batch.Events.Count;
                    }

                    if (!stoppingToken.IsCancellationRequested)
                    {
                        RestWithinBudget(abort);
                    }
                }

                if (parsed.Count > 0)
                {
                    DeliverAsync(parsed, abort).GetAwaiter().GetResult();
                }

                // Under load, captures arrive faster than a thread wakes up. Resting briefly once the queue is
                // empty lets the next ones gather, so the parser wakes once per burst instead of once per
                // request. At shutdown the queue is drained without resting.
                if (_options.ParserBatchDelay > TimeSpan.Zero && queue.Count == 0 && !stoppingToken.IsCancellationRequested)
                {
                    Sleep(_options.ParserBatchDelay, abort);
                }
            }
        }
        catch (OperationCanceledException) when (abort.IsCancellationRequested)
        {
            LogDrainAborted(logger, queue.Count);
        }

        LogStopped(logger);
    }

    private bool WaitToRead(CancellationToken abort)
    {
        var wait = queue.WaitToReadAsync(abort);
        return wait.IsCompletedSuccessfully ? wait.Result : wait.AsTask().GetAwaiter().GetResult();
    }

    private void RestWithinBudget(CancellationToken abort)
    {
        if (_budget?.RequiredPause() is not { } pause || pause <= TimeSpan.Zero)
        {
            return;
        }

        metrics.TapParserPausedSeconds.Inc(pause.TotalSeconds);
        Sleep(pause, abort);
    }

    private static void Sleep(TimeSpan duration, CancellationToken abort)
    {
        if (abort.WaitHandle.WaitOne(duration))
        {
            throw new OperationCanceledException(abort);
        }
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

    /// <summary>
    /// Decodes and parses one capture, counts its outcome and releases its buffers; returns its events, or
    /// null when it has none to deliver.
    /// </summary>
    private TappedBatch? Parse(CapturedRequest request)
    {
        PooledSegmentBuffer? decodedOwner = null;
        try
        {
            var started = Stopwatch.GetTimestamp();
            var decodeOutcome = BodyDecoder.TryDecode(
                request.Body.ToSequence(),
                request.ContentEncoding,
                _options.MaxDecodedBytes,
                out var decoded,
                out decodedOwner);
            if (decodeOutcome != DecodeOutcome.Ok)
            {
                _budget?.Charge(Stopwatch.GetElapsedTime(started));
                metrics.TapRequestsByOutcome.Get(decodeOutcome switch
                {
                    DecodeOutcome.UnsupportedEncoding => "unsupported_encoding",
                    DecodeOutcome.TooLarge => "decoded_too_large",
                    _ => "corrupt_encoding",
                }).Inc();
                return null;
            }

            var result = SegmentParser.Parse(decoded, request.Route, request.HeaderWriteKey, request.ReceivedAt, _options.MaxJsonDepth);
            _budget?.Charge(Stopwatch.GetElapsedTime(started));
            metrics.TapRequestsByOutcome.Get(result.Outcome switch
            {
                BodyOutcome.Parsed => "parsed",
                BodyOutcome.InvalidJson => "invalid_json",
                BodyOutcome.NotAnObject => "not_an_object",
                BodyOutcome.InvalidUtf8 => "invalid_utf8",
                BodyOutcome.UnpairedSurrogateEscape => "unpaired_surrogate_escape",
                BodyOutcome.TooDeep => "too_deep",
                _ => "missing_batch",
            }).Inc();

            if (result.EnvelopeTraitsIgnored)
            {
                metrics.EnvelopeTraitsIgnored.Inc();
            }

            foreach (var skipped in result.Skipped)
            {
                metrics.TapEventsByLabels.Get(SegmentEventTypes.Label(skipped.Type), GatewayMetrics.SkippedOutcome(skipped.Reason)).Inc(skipped.Count);
            }

            if (result.Batch is not { Events.Count: > 0 } batch)
            {
                return null;
            }

            foreach (var tapped in batch.Events)
            {
                metrics.TapEventsByLabels.Get(tapped is IdentifyEvent ? "identify" : "page", "parsed").Inc();
            }

            return batch;
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // A defect in the parser must not stop the loop; the body is counted and dropped.
            metrics.TapRequestsByOutcome.Get("sink_failed").Inc();
            LogSinkFailed(logger, exception);
            return null;
        }
        finally
        {
            decodedOwner?.Dispose();
            request.Body.Dispose();
        }
    }

    /// <summary>
    /// Hands parsed requests to the sink in order. Consecutive requests with the same write key go as one
    /// batch, so the sink records their message ids and updates each of their users in one round of store
    /// calls rather than one round per request.
    /// </summary>
    private async Task DeliverAsync(List<TappedBatch> batches, CancellationToken cancellationToken)
    {
        var start = 0;
        while (start < batches.Count)
        {
            var end = start + 1;
            while (end < batches.Count && batches[end].WriteKey == batches[start].WriteKey)
            {
                end++;
            }

            var requests = end - start;
            var merged = requests == 1 ? batches[start] : Merge(batches, start, end);
            try
            {
                await sink.ConsumeAsync(merged, cancellationToken);
                metrics.TapRequestsByOutcome.Get("handed_off").Inc(requests);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                // A defect in a sink must not stop the loop; the requests are counted and dropped.
                metrics.TapRequestsByOutcome.Get("sink_failed").Inc(requests);
                LogSinkFailed(logger, exception);
            }

            start = end;
        }
    }

    /// <summary>
    /// Joins requests with one write key, events in arrival order. A page without a timestamp takes its own
    /// request's arrival time, which the joined batch would otherwise replace.
    /// </summary>
    private static TappedBatch Merge(List<TappedBatch> batches, int start, int end)
    {
        var events = new List<SegmentEvent>();
        for (var i = start; i < end; i++)
        {
            foreach (var tapped in batches[i].Events)
            {
                events.Add(tapped is PageEvent { Timestamp: null } page ? page with { Timestamp = batches[i].ReceivedAt } : tapped);
            }
        }

        return new TappedBatch(batches[start].WriteKey, events, batches[end - 1].ReceivedAt);
    }

    [LoggerMessage(EventId = 1101, Level = LogLevel.Information, Message = "Tap parser started (queue capacity {QueueCapacity})")]
    private static partial void LogStarted(ILogger logger, int queueCapacity);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Information, Message = "Tap parser stopped")]
    private static partial void LogStopped(ILogger logger);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Information, Message = "Tap parser stopping; handing {Count} queued captures to the store first")]
    private static partial void LogDraining(ILogger logger, int count);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Warning, Message = "Shutdown timeout reached; {Count} queued captures were dropped")]
    private static partial void LogDrainAborted(ILogger logger, int count);

    [LoggerMessage(EventId = 1106, Level = LogLevel.Warning, Message = "Setting the tap parser's nice value to {Nice} failed (errno {Error}), so it runs at the proxy's priority. Set Tap__ParserNice=0 where the system forbids it")]
    private static partial void LogNiceFailed(ILogger logger, int nice, int error);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Error, Message = "Processing a tapped request failed; its events were dropped")]
    private static partial void LogSinkFailed(ILogger logger, Exception exception);
}
