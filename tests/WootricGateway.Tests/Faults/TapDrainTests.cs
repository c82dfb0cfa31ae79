using System.Text;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using WootricGateway.Metrics;
using WootricGateway.Segment;
using WootricGateway.Tap;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.Faults;

/// <summary>The tap parser at shutdown: captures still queued reach the sink before it stops.</summary>
public sealed class TapDrainTests
{
    [Fact]
    public async Task StopAsync_HandsQueuedCapturesToSink()
    {
        var options = Options.Create(new TapOptions());
        var queue = new TapQueue(options);
        var sink = new SlowSink(TimeSpan.FromMilliseconds(20));
        var registry = Prometheus.Metrics.NewCustomRegistry();
        using var worker = new TapWorker(queue, sink, options, new GatewayMetrics(registry), NullLogger<TapWorker>.Instance);
        await worker.StartAsync(CancellationToken.None);

        const int captures = 50;
        for (var i = 0; i < captures; i++)
        {
            Assert.True(queue.TryWrite(Capture(i)));
        }

        // BackgroundService starts ExecuteAsync on the thread pool and skips it when stopped first.
        await WaitUntilConsumingAsync(sink);
        using var shutdownTimeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await worker.StopAsync(shutdownTimeout.Token);

        using var exposition = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(exposition);
        Assert.True(captures == sink.Consumed, $"{sink.Consumed} of {captures} captures reached the sink:\n{Encoding.UTF8.GetString(exposition.ToArray())}");
        Assert.False(queue.TryWrite(Capture(captures)), "the queue still accepted a capture after the parser stopped");
    }

    [Fact]
    public async Task StopAsync_ShutdownTimeoutAbortsDrain()
    {
        var options = Options.Create(new TapOptions());
        var queue = new TapQueue(options);
        var sink = new SlowSink(TimeSpan.FromMilliseconds(200));
        using var worker = new TapWorker(queue, sink, options, new GatewayMetrics(Prometheus.Metrics.NewCustomRegistry()), NullLogger<TapWorker>.Instance);
        await worker.StartAsync(CancellationToken.None);
        for (var i = 0; i < 50; i++)
        {
            Assert.True(queue.TryWrite(Capture(i)));
        }

        await WaitUntilConsumingAsync(sink);
        using var shutdownTimeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        await worker.StopAsync(shutdownTimeout.Token);
        await (worker.ExecuteTask ?? Task.CompletedTask).WaitAsync(TimeSpan.FromSeconds(30));

        Assert.True(sink.Consumed < 50, $"all {sink.Consumed} captures were handed over although the shutdown timeout passed");
    }

    /// <summary>Waits until the parser has handed the sink its first events. The parser thread runs at nice 19, so a busy machine may start it late.</summary>
    private static async Task WaitUntilConsumingAsync(SlowSink sink)
    {
        var consuming = await Poll.UntilAsync(() => sink.Started > 0, TimeSpan.FromSeconds(60), CancellationToken.None);
        Assert.True(consuming, "the parser handed nothing to the sink within 60 s");
    }

    private static CapturedRequest Capture(int index)
    {
        var body = new PooledSegmentBuffer(1024 * 1024);
        Assert.True(body.TryAppend(Encoding.UTF8.GetBytes($$$"""{"type":"identify","userId":"drain-{{{index}}}","messageId":"drain-m-{{{index}}}","traits":{"email":"drain-{{{index}}}@example.test"}}""")));
        return new CapturedRequest(SegmentRoutes.Classify("/v1/identify"), null, null, body, DateTimeOffset.UtcNow);
    }

    /// <summary>A sink that takes <c>delay</c> per event; the worker may hand it several captures at once.</summary>
    private sealed class SlowSink(TimeSpan delay) : ITapEventSink
    {
        private int consumed;
        private int started;

        /// <summary>Events (one per capture here) the sink finished taking.</summary>
        public int Consumed => Volatile.Read(ref consumed);

        public int Started => Volatile.Read(ref started);

        public async ValueTask ConsumeAsync(TappedBatch batch, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref started);
            await Task.Delay(delay * batch.Events.Count, cancellationToken);
            Interlocked.Add(ref consumed, batch.Events.Count);
        }
    }
}
