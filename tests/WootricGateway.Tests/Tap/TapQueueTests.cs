using Microsoft.Extensions.Options;
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

    private static CapturedRequest Capture(int length)
    {
        var body = new PooledSegmentBuffer(1 << 20, length);
        Assert.True(body.TryAppend(new byte[length]));
        return new CapturedRequest(SegmentRoutes.Classify("/v1/batch"), null, null, body, DateTimeOffset.UnixEpoch);
    }
}
