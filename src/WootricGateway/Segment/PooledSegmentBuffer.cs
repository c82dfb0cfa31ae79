using System.Buffers;

namespace WootricGateway.Segment;

/// <summary>
/// An append-only byte buffer made of pooled segments of at most 16 KiB, so large bodies never land
/// on the large-object heap and never need one contiguous array. Appends past the limit are rejected.
/// </summary>
/// <remarks>
/// Segments are sized from a hint (a request's Content-Length), so a 600-byte body uses a 1 KiB
/// array rather than 16 KiB while it waits in the tap queue, and a 17 KB body 16 + 1 KiB.
/// </remarks>
public sealed class PooledSegmentBuffer : IDisposable
{
    /// <summary>The size of every segment after the first.</summary>
    public const int SegmentSize = 16 * 1024;

    private const int MinimumFirstSegment = 1024;

    private readonly ArrayPool<byte> _pool;
    private readonly long _limitBytes;
    private readonly long? _expectedLength;
    private readonly int _firstSegmentSize;
    private readonly List<byte[]> _segments;
    private int _lastUsed;
    private bool _disposed;

    /// <param name="limitBytes">The most bytes the buffer accepts.</param>
    /// <param name="expectedLength">The expected total length, when known; sizes the segments.</param>
    /// <param name="pool">Where segments are rented; the shared pool when null.</param>
    public PooledSegmentBuffer(long limitBytes, long? expectedLength = null, ArrayPool<byte>? pool = null)
    {
        _pool = pool ?? ArrayPool<byte>.Shared;
        _limitBytes = limitBytes;
        _expectedLength = expectedLength;
        _firstSegmentSize = expectedLength is { } expected
            ? (int)Math.Clamp(expected, MinimumFirstSegment, SegmentSize)
            : SegmentSize;

        // Room for every segment the expected length needs, so appending never grows the list.
        var expectedSegments = expectedLength is { } total && total > _firstSegmentSize
            ? 1 + (int)Math.Min(64, (total - _firstSegmentSize + SegmentSize - 1) / SegmentSize)
            : 1;
        _segments = new List<byte[]>(expectedSegments);
    }

    /// <summary>Bytes stored so far.</summary>
    public long Length { get; private set; }

    /// <summary>Bytes held in pooled arrays, which is what a waiting buffer costs in memory.</summary>
    public long Capacity { get; private set; }

    /// <summary>
    /// Appends <paramref name="data"/>; returns false, storing nothing more, when the total would
    /// pass the limit.
    /// </summary>
    public bool TryAppend(ReadOnlySpan<byte> data)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Length + data.Length > _limitBytes)
        {
            return false;
        }

        while (!data.IsEmpty)
        {
            if (_segments.Count == 0 || _lastUsed == _segments[^1].Length)
            {
                var segment = _pool.Rent(NextSegmentSize());
                _segments.Add(segment);
                Capacity += segment.Length;
                _lastUsed = 0;
            }

            var target = _segments[^1].AsSpan(_lastUsed);
            var count = Math.Min(target.Length, data.Length);
            data[..count].CopyTo(target);
            data = data[count..];
            _lastUsed += count;
            Length += count;
        }

        return true;
    }

    /// <summary>
    /// The size of the next segment: what the expected length still needs (at least 1 KiB, at most
    /// <see cref="SegmentSize"/>), or a full segment when the length is unknown or already passed.
    /// </summary>
    private int NextSegmentSize()
    {
        if (_segments.Count == 0)
        {
            return _firstSegmentSize;
        }

        return _expectedLength is { } expected && expected > Length
            ? (int)Math.Clamp(expected - Length, MinimumFirstSegment, SegmentSize)
            : SegmentSize;
    }

    /// <summary>Returns the stored bytes; valid until the buffer is disposed.</summary>
    public ReadOnlySequence<byte> ToSequence()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_segments.Count == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        if (_segments.Count == 1)
        {
            return new ReadOnlySequence<byte>(_segments[0], 0, _lastUsed);
        }

        // Every segment but the last is full to its array's length.
        var first = new Segment(_segments[0], 0);
        var last = first;
        for (var i = 1; i < _segments.Count; i++)
        {
            var length = i == _segments.Count - 1 ? _lastUsed : _segments[i].Length;
            last = last.Append(_segments[i].AsMemory(0, length));
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>Returns the segments to the pool.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        foreach (var segment in _segments)
        {
            _pool.Return(segment);
        }

        _segments.Clear();
    }

    /// <summary>
    /// Drops the segments without returning them to the pool. Use it when another thread might still
    /// write into them, as after an aborted request; the garbage collector reclaims them instead.
    /// </summary>
    public void Abandon()
    {
        _disposed = true;
        _segments.Clear();
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
