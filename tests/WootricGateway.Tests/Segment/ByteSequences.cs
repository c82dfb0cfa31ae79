using System.Buffers;

namespace WootricGateway.Tests.Segment;

/// <summary>Builds multi-segment byte sequences, as a captured body arrives, for code that must work across segment edges.</summary>
internal static class ByteSequences
{
    /// <summary><paramref name="data"/> cut into segments of <paramref name="segmentSize"/> bytes (the last may be shorter).</summary>
    public static ReadOnlySequence<byte> Split(byte[] data, int segmentSize) =>
        Join(data.Chunk(segmentSize).ToArray());

    /// <summary>One sequence made of <paramref name="parts"/>, each its own segment.</summary>
    public static ReadOnlySequence<byte> Join(params byte[][] parts)
    {
        if (parts.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        var first = new Chunk(parts[0], 0);
        var last = first;
        foreach (var part in parts.Skip(1))
        {
            last = last.Append(part);
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Chunk : ReadOnlySequenceSegment<byte>
    {
        public Chunk(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Chunk Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Chunk(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
