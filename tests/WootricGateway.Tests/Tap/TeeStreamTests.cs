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
    /// <summary>A gather window no test run reaches, so how many chunks a read gathers does not depend on timing.</summary>
    private static readonly TimeSpan LongWindow = TimeSpan.FromMinutes(5);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task KnownLength_GathersChunks(bool withCapture)
    {
        var data = Enumerable.Range(0, 17_000).Select(i => (byte)(i % 253)).ToArray();
        using var capture = withCapture ? new PooledSegmentBuffer(1 << 20) : null;
        var tee = new TeeStream(new ChunkedStream(data, 4096), capture, data.Length, LongWindow);
        var buffer = new byte[65536];

        var first = await tee.ReadAsync(buffer);

        Assert.Equal(data.Length, first);
        Assert.Equal(data, buffer[..first]);
        Assert.Equal(0, await tee.ReadAsync(buffer));
        Assert.True(tee.Completed);
        Assert.False(tee.Overflowed);
        Assert.Equal(data.Length, tee.BytesRead);
        if (capture is not null)
        {
            Assert.Equal(data, capture.ToSequence().ToArray());
        }
    }

    [Fact]
    public async Task KnownLength_StopsAtBufferSize()
    {
        var data = Enumerable.Range(0, 17_000).Select(i => (byte)(i % 253)).ToArray();
        using var capture = new PooledSegmentBuffer(1 << 20);
        var tee = new TeeStream(new ChunkedStream(data, 4096), capture, data.Length, LongWindow);
        using var copy = new MemoryStream();
        var buffer = new byte[10_000];
        var reads = new List<int>();

        int read;
        while ((read = await tee.ReadAsync(buffer)) > 0)
        {
            reads.Add(read);
            copy.Write(buffer, 0, read);
        }

        Assert.Equal([10_000, 7_000], reads);
        Assert.Equal(data, copy.ToArray());
        Assert.Equal(data, capture.ToSequence().ToArray());
    }

    [Fact]
    public async Task UnknownLength_ReturnsEachChunk()
    {
        var data = new byte[17_000];
        using var capture = new PooledSegmentBuffer(1 << 20);
        var tee = new TeeStream(new ChunkedStream(data, 4096), capture, expectedLength: null, LongWindow);

        Assert.Equal(4096, await tee.ReadAsync(new byte[65536]));
    }

    [Fact]
    public async Task SlowClient_StopsAfterWindow()
    {
        // Each chunk after the first takes longer than the gathering window, so a read returns the
        // first chunk and the one it was already waiting for, not the whole body.
        var data = new byte[5 * 1000];
        using var capture = new PooledSegmentBuffer(1 << 20);
        var tee = new TeeStream(new ChunkedStream(data, 1000, TimeSpan.FromMilliseconds(50)), capture, data.Length, TimeSpan.FromMilliseconds(1));

        Assert.Equal(2000, await tee.ReadAsync(new byte[65536]));
        Assert.Equal(2000, await tee.ReadAsync(new byte[65536]));
        Assert.Equal(1000, await tee.ReadAsync(new byte[65536]));
        Assert.Equal(0, await tee.ReadAsync(new byte[65536]));
        Assert.True(tee.Completed);
    }

    /// <summary>Returns at most <paramref name="chunk"/> bytes per read, asynchronously, like a socket would.</summary>
    private sealed class ChunkedStream(byte[] data, int chunk, TimeSpan delayAfterFirst = default) : Stream
    {
        private int _position;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => data.Length;
        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position > 0 && delayAfterFirst > TimeSpan.Zero)
            {
                await Task.Delay(delayAfterFirst, cancellationToken);
            }
            else
            {
                await Task.Yield();
            }

            var count = Math.Min(Math.Min(chunk, buffer.Length), data.Length - _position);
            data.AsMemory(_position, count).CopyTo(buffer);
            _position += count;
            return count;
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override void Flush() => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
