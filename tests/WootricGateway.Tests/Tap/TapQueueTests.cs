using System.Globalization;
using System.Text;
using Microsoft.Extensions.Options;
using WootricGateway.Metrics;
using WootricGateway.Segment;
using WootricGateway.Tap;

namespace WootricGateway.Tests.Tap;

public sealed class TapQueueTests
{
    [Fact]
    public void HasRoomFor_ByteLimit()
    {
        var queue = new TapQueue(Options.Create(new TapOptions { QueueCapacity = 100, QueueCapacityBytes = 64 * 1024 }));

        Assert.True(queue.HasRoomFor(64 * 1024));
        Assert.False(queue.HasRoomFor((64 * 1024) + 1));

        Assert.True(queue.TryWrite(Capture(40 * 1024)));

        // The queue counts the pooled bytes of a capture, which are at least its length.
        var free = (64 * 1024) - queue.Bytes;
        Assert.InRange(free, 0, 24 * 1024);
        Assert.True(queue.HasRoomFor(free));
        Assert.False(queue.HasRoomFor(free + 1));
        Assert.True(queue.TryRead(out var taken));
        taken.Body.Dispose();
        Assert.True(queue.HasRoomFor(64 * 1024));
    }

    [Fact]
    public void BufferPool_KeepsBacklogOfCaptures()
    {
        var queue = new TapQueue(Options.Create(new TapOptions()));

        // Simulates 200 waiting 2 KB captures that are released together once the parser catches up. The
        // shared pool keeps 32 arrays per size and core, so it would hand out new arrays the next time.
        var first = Enumerable.Range(0, 200).Select(_ => queue.BufferPool.Rent(2200)).ToList();
        foreach (var array in first)
        {
            queue.BufferPool.Return(array);
        }

        var second = Enumerable.Range(0, 200).Select(_ => queue.BufferPool.Rent(2200)).ToList();

        var reused = second.Count(array => first.Any(earlier => ReferenceEquals(earlier, array)));
        Assert.Equal(200, reused);
    }

    [Fact]
    public void HasRoomFor_CountLimit()
    {
        var queue = new TapQueue(Options.Create(new TapOptions { QueueCapacity = 2, QueueCapacityBytes = 1 << 20 }));

        Assert.True(queue.TryWrite(Capture(100)));
        Assert.True(queue.HasRoomFor(100));
        Assert.True(queue.TryWrite(Capture(100)));

        Assert.False(queue.HasRoomFor(0));
        var third = Capture(100);
        Assert.False(queue.TryWrite(third));
        third.Body.Dispose();
        while (queue.TryRead(out var taken))
        {
            taken.Body.Dispose();
        }
    }

    /// <summary>The depth gauge follows the queue at each scrape, with no parser running to set it.</summary>
    [Fact]
    public async Task QueueDepth_ReadAtScrape()
    {
        var registry = Prometheus.Metrics.NewCustomRegistry();
        var queue = new TapQueue(Options.Create(new TapOptions { QueueCapacity = 10, QueueCapacityBytes = 1 << 20 }), new GatewayMetrics(registry));
        for (var i = 0; i < 3; i++)
        {
            Assert.True(queue.TryWrite(Capture(100)));
        }

        Assert.Equal(3, await QueueDepthAsync(registry));

        Assert.True(queue.TryRead(out var taken));
        taken.Body.Dispose();
        Assert.Equal(2, await QueueDepthAsync(registry));

        while (queue.TryRead(out taken))
        {
            taken.Body.Dispose();
        }

        Assert.Equal(0, await QueueDepthAsync(registry));
    }

    private static async Task<double> QueueDepthAsync(Prometheus.CollectorRegistry registry)
    {
        using var exposition = new MemoryStream();
        await registry.CollectAndExportAsTextAsync(exposition);
        var line = Encoding.UTF8.GetString(exposition.ToArray()).Split('\n').Single(text => text.StartsWith("wootric_gateway_tap_queue_depth ", StringComparison.Ordinal));
        return double.Parse(line.Split(' ')[1], CultureInfo.InvariantCulture);
    }

    private static CapturedRequest Capture(int length)
    {
        var body = new PooledSegmentBuffer(1 << 20, length);
        Assert.True(body.TryAppend(new byte[length]));
        return new CapturedRequest(SegmentRoutes.Classify("/v1/batch"), null, null, body, DateTimeOffset.UnixEpoch);
    }
}
