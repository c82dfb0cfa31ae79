using System.IO.Hashing;
using System.Runtime.InteropServices;

namespace WootricGateway.State.InMemory;

/// <summary>
/// Message ids seen recently, in process memory. Bounded: past the capacity the oldest ids are
/// forgotten, which can only let a very old re-send through again.
/// </summary>
/// <remarks>
/// Ids are kept as 64-bit hashes of scope and id in plain arrays, not as strings, so a steady stream
/// of new ids allocates nothing that lives on. Retaining 200,000 strings would push them into the
/// older generations and make every collection costlier. Two different ids sharing a hash (about
/// one chance in 10^14 per event at full capacity) would make the second look like a re-send.
/// </remarks>
internal sealed class InMemoryMessageDeduplicator : IMessageDeduplicator
{
    private const int Capacity = 200_000;

    private readonly Lock _lock = new();
    private readonly HashSet<ulong> _seen = new(Capacity);
    private readonly Queue<ulong> _order = new(Capacity);

    public ValueTask<bool[]> TryMarkManyAsync(IReadOnlyList<(string Scope, string MessageId)> ids, CancellationToken cancellationToken)
    {
        var fresh = new bool[ids.Count];
        for (var i = 0; i < ids.Count; i++)
        {
            fresh[i] = TryMark(Hash(ids[i].Scope, ids[i].MessageId));
        }

        return ValueTask.FromResult(fresh);
    }

    public ValueTask ForgetAsync(IReadOnlyList<(string Scope, string MessageId)> ids, CancellationToken cancellationToken)
    {
        lock (_lock)
        {
            // The hash stays in the eviction order; evicting an absent hash later is harmless.
            foreach (var (scope, messageId) in ids)
            {
                _seen.Remove(Hash(scope, messageId));
            }
        }

        return ValueTask.CompletedTask;
    }

    private bool TryMark(ulong hash)
    {
        lock (_lock)
        {
            if (!_seen.Add(hash))
            {
                return false;
            }

            _order.Enqueue(hash);
            if (_order.Count > Capacity)
            {
                _seen.Remove(_order.Dequeue());
            }

            return true;
        }
    }

    /// <summary>Hashes the scope's length, the scope and the id, so no two different pairs give the same input.</summary>
    private static ulong Hash(string scope, string messageId)
    {
        var length = sizeof(int) + ((scope.Length + messageId.Length) * sizeof(char));
        byte[]? rented = null;
        var buffer = length <= 1024 ? stackalloc byte[1024] : (rented = System.Buffers.ArrayPool<byte>.Shared.Rent(length));
        try
        {
            BitConverter.TryWriteBytes(buffer, scope.Length);
            MemoryMarshal.AsBytes(scope.AsSpan()).CopyTo(buffer[sizeof(int)..]);
            MemoryMarshal.AsBytes(messageId.AsSpan()).CopyTo(buffer[(sizeof(int) + (scope.Length * sizeof(char)))..]);
            return XxHash3.HashToUInt64(buffer[..length]);
        }
        finally
        {
            if (rented is not null)
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }
}
