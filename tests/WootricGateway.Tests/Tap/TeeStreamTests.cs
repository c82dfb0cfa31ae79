using System.Buffers;
using System.Text;
using WootricGateway.Segment;
using WootricGateway.Tap;

namespace WootricGateway.Tests.Tap;

public sealed class TeeStreamTests
{
    [Fact]
    public async Task ReadAsync_ZeroByteProbeIsNotEnd()
    {
        using var capture = new PooledSegmentBuffer(1 << 20);
        var tee = new TeeStream(new MemoryStream(Encoding.UTF8.GetBytes("hello")), capture);

        var probe = await tee.ReadAsync(Memory<byte>.Empty);

        Assert.Equal(0, probe);
        Assert.False(tee.Completed);

        var buffer = new byte[3];
        Assert.Equal(3, await tee.ReadAsync(buffer));
        Assert.Equal(0, await tee.ReadAsync(Memory<byte>.Empty));
        Assert.Equal(2, await tee.ReadAsync(buffer));
        Assert.False(tee.Completed);
        Assert.Equal(0, await tee.ReadAsync(buffer));
        Assert.True(tee.Completed);
        Assert.Equal("hello", Encoding.UTF8.GetString(capture.ToSequence().ToArray()));
    }

    [Fact]
    public async Task ReadAsync_PassesBytesUnchangedPastLimit()
    {
        var data = Enumerable.Range(0, 100_000).Select(i => (byte)(i * 7)).ToArray();
        using var capture = new PooledSegmentBuffer(50_000);
        var tee = new TeeStream(new MemoryStream(data), capture);
        using var copy = new MemoryStream();

        await tee.CopyToAsync(copy, 4096);

        Assert.Equal(data, copy.ToArray());
        Assert.True(tee.Overflowed);
        Assert.True(tee.Completed);
        Assert.Equal(100_000, tee.BytesRead);
    }

    [Fact]
    public async Task Capture_SpansManySegments()
    {
        var data = Enumerable.Range(0, 600_000).Select(i => (byte)(i % 251)).ToArray();
        using var capture = new PooledSegmentBuffer(1 << 20);
        var tee = new TeeStream(new MemoryStream(data), capture);

        await tee.CopyToAsync(Stream.Null, 65536);

        Assert.False(tee.Overflowed);
        Assert.Equal(data, capture.ToSequence().ToArray());
    }

    [Fact]
    public async Task ReadAsync_InnerFailureMarksFaulted()
    {
        using var capture = new PooledSegmentBuffer(1 << 20);
        var tee = new TeeStream(new FailingStream(), capture);

        await Assert.ThrowsAsync<IOException>(async () => _ = await tee.ReadAsync(new byte[10]).ConfigureAwait(false));

        Assert.True(tee.Faulted);
        Assert.False(tee.Completed);
    }

    private sealed class FailingStream : MemoryStream
    {
        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
            ValueTask.FromException<int>(new IOException("client reset"));
    }
}
