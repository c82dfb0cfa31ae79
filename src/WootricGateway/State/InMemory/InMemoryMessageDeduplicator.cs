using System.Collections.Concurrent;

namespace WootricGateway.State.InMemory;

/// <summary>
/// Message ids seen recently, in process memory. Bounded: past the capacity the oldest ids are
/// forgotten, which can only let a very old re-send through again.
/// </summary>
internal sealed class InMemoryMessageDeduplicator : IMessageDeduplicator
{
    private const int Capacity = 200_000;

    private readonly ConcurrentDictionary<(string Scope, string MessageId), byte> _seen = new();
    private readonly ConcurrentQueue<(string, string)> _order = new();

    // ConcurrentDictionary.Count takes every lock of the table, so the size is tracked here instead.
    private int _count;

    public ValueTask<bool> TryMarkAsync(string scope, string messageId, CancellationToken cancellationToken)
    {
        var key = (scope, messageId);
        if (!_seen.TryAdd(key, 0))
        {
            return ValueTask.FromResult(false);
        }

        _order.Enqueue(key);
        if (Interlocked.Increment(ref _count) > Capacity && _order.TryDequeue(out var oldest) && _seen.TryRemove(oldest, out _))
        {
            Interlocked.Decrement(ref _count);
        }

        return ValueTask.FromResult(true);
    }

    public async ValueTask<bool[]> TryMarkManyAsync(IReadOnlyList<(string Scope, string MessageId)> ids, CancellationToken cancellationToken)
    {
        var fresh = new bool[ids.Count];
        for (var i = 0; i < ids.Count; i++)
        {
            fresh[i] = await TryMarkAsync(ids[i].Scope, ids[i].MessageId, cancellationToken);
        }

        return fresh;
    }

    public ValueTask ForgetAsync(IReadOnlyList<(string Scope, string MessageId)> ids, CancellationToken cancellationToken)
    {
        foreach (var id in ids)
        {
            // The id stays in the eviction order; evicting an absent key later is harmless.
            if (_seen.TryRemove(id, out _))
            {
                Interlocked.Decrement(ref _count);
            }
        }

        return ValueTask.CompletedTask;
    }
}
