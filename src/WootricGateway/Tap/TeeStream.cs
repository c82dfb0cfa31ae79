using WootricGateway.Segment;

namespace WootricGateway.Tap;

/// <summary>
/// A read-only pass-through over the request body that copies every byte it hands out into a
/// <see cref="PooledSegmentBuffer"/> up to a limit. It never reads ahead or changes bytes, so the
/// forwarder reads exactly the client's body.
/// </summary>
/// <remarks>
/// YARP issues zero-byte reads to wait for data without holding a buffer. A read returning 0 into an
/// empty buffer is that probe, not the end of the body; only 0 into a non-empty buffer marks
/// <see cref="Completed"/>.
/// </remarks>
internal sealed class TeeStream(Stream inner, PooledSegmentBuffer capture) : Stream
{
    /// <summary>True once the inner stream reported the end of the body.</summary>
    public bool Completed { get; private set; }

    /// <summary>True when the body passed the capture limit; the copy is then incomplete.</summary>
    public bool Overflowed { get; private set; }

    /// <summary>True when a read from the client failed.</summary>
    public bool Faulted { get; private set; }

    /// <summary>Bytes passed through so far.</summary>
    public long BytesRead { get; private set; }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int read;
        try
        {
            read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            Faulted = true;
            throw;
        }

        Observe(buffer.Span, read);
        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(Span<byte> buffer)
    {
        int read;
        try
        {
            read = inner.Read(buffer);
        }
        catch
        {
            Faulted = true;
            throw;
        }

        Observe(buffer, read);
        return read;
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    private void Observe(ReadOnlySpan<byte> buffer, int read)
    {
        if (read == 0)
        {
            if (!buffer.IsEmpty)
            {
                Completed = true;
            }

            return;
        }

        BytesRead += read;
        if (!Overflowed && !capture.TryAppend(buffer[..read]))
        {
            Overflowed = true;
        }
    }
}
