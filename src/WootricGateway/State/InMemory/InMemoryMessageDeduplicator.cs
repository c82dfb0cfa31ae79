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

    public ValueTask<bool> TryMarkAsync(string scope, string messageId, CancellationToken cancellationToken)
    {
        var key = (scope, messageId);
        if (!_seen.TryAdd(key, 0))
        {
            return ValueTask.FromResult(false);
        }

        _order.Enqueue(key);
        while (_seen.Count > Capacity && _order.TryDequeue(out var oldest))
        {
            _seen.TryRemove(oldest, out _);
        }

        return ValueTask.FromResult(true);
    }
}
