using System.Buffers;

namespace WootricGateway.Segment;

/// <summary>
/// An append-only byte buffer made of pooled 16 KiB segments, so large bodies never land on the
/// large-object heap and never need one contiguous array. Appends past the limit are rejected.
/// </summary>
public sealed class PooledSegmentBuffer(long limitBytes) : IDisposable
{
    private const int SegmentSize = 16 * 1024;

    private readonly List<byte[]> _segments = [];
    private int _lastUsed;
    private bool _disposed;

    /// <summary>Bytes stored so far.</summary>
    public long Length { get; private set; }

    /// <summary>
    /// Appends <paramref name="data"/>; returns false, storing nothing more, when the total would
    /// pass the limit.
    /// </summary>
    public bool TryAppend(ReadOnlySpan<byte> data)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (Length + data.Length > limitBytes)
        {
            return false;
        }

        while (!data.IsEmpty)
        {
            if (_segments.Count == 0 || _lastUsed == SegmentSize)
            {
                _segments.Add(ArrayPool<byte>.Shared.Rent(SegmentSize));
                _lastUsed = 0;
            }

            var target = _segments[^1].AsSpan(_lastUsed, SegmentSize - _lastUsed);
            var count = Math.Min(target.Length, data.Length);
            data[..count].CopyTo(target);
            data = data[count..];
            _lastUsed += count;
            Length += count;
        }

        return true;
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

        var first = new Segment(_segments[0].AsMemory(0, SegmentSize), 0);
        var last = first;
        for (var i = 1; i < _segments.Count; i++)
        {
            var length = i == _segments.Count - 1 ? _lastUsed : SegmentSize;
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
            ArrayPool<byte>.Shared.Return(segment);
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
