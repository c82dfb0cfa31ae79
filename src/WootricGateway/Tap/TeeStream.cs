using System.Diagnostics;
using WootricGateway.Segment;

namespace WootricGateway.Tap;

/// <summary>
/// A read-only pass-through over the request body that copies every byte it hands out into a
/// <see cref="PooledSegmentBuffer"/> up to a limit, or copies nothing when there is no buffer. It never
/// reads past the caller's buffer or changes bytes, so the forwarder reads exactly the client's body.
/// One read may fill the caller's buffer from several chunks.
/// </summary>
/// <remarks>
/// YARP issues zero-byte reads to wait for data without holding a buffer. A read returning 0 into an
/// empty buffer is that probe, not the end of the body; only 0 into a non-empty buffer marks
/// <see cref="Completed"/>.
/// </remarks>
internal sealed class TeeStream(Stream inner, PooledSegmentBuffer? capture, long? expectedLength = null, TimeSpan? gatherWindow = null)
    : Stream
{
    /// <summary>How long one read may keep gathering chunks of a body of known length, unless a test sets another.</summary>
    internal static readonly TimeSpan DefaultGatherWindow = TimeSpan.FromMilliseconds(5);

    private readonly TimeSpan _gatherWindow = gatherWindow ?? DefaultGatherWindow;

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
        var total = 0;
        var firstRead = 0L;
        try
        {
            while (true)
            {
                var read = await inner.ReadAsync(buffer[total..], cancellationToken).ConfigureAwait(false);
                Observe(buffer.Span[total..], read);
                total += read;
                if (read == 0 || !ShouldGatherMore(total, buffer.Length, ref firstRead))
                {
                    return total;
                }
            }
        }
        catch
        {
            Faulted = true;
            throw;
        }
    }

    /// <summary>
    /// Returns whether to read again before returning: while the caller's buffer has room, more of the declared
    /// body is still to come, and the first chunk arrived less than the gather window (5 ms) ago.
    /// </summary>
    /// <remarks>
    /// Kestrel hands the body over in chunks of at most 4 KiB, and with inline scheduling each one would
    /// otherwise become its own send to the upstream. Gathering them costs no syscall and changes no byte.
    /// A body of unknown length (chunked) is passed on as it arrives.
    /// NOTE: the window only stops further reads from starting. A read started inside it waits for the
    /// client's next piece, so a client that pauses mid-body delays the pieces before the pause by as long.
    /// </remarks>
    private bool ShouldGatherMore(int gathered, int capacity, ref long firstRead)
    {
        if (gathered >= capacity || expectedLength is not { } expected || BytesRead >= expected)
        {
            return false;
        }

        var now = Stopwatch.GetTimestamp();
        if (firstRead == 0)
        {
            firstRead = now;
            return true;
        }

        return Stopwatch.GetElapsedTime(firstRead, now) < _gatherWindow;
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
        if (capture is not null && !Overflowed && !capture.TryAppend(buffer[..read]))
        {
            Overflowed = true;
        }
    }
}
