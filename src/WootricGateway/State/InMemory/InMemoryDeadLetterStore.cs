using System.Collections.Concurrent;

namespace WootricGateway.State.InMemory;

/// <summary>Dead letters in process memory, capped so a long outage cannot exhaust memory.</summary>
internal sealed class InMemoryDeadLetterStore : IDeadLetterStore
{
    /// <summary>The most dead letters kept; the oldest go first beyond it.</summary>
    private const int Capacity = 100_000;

    private readonly ConcurrentDictionary<string, DeadLetter> _letters = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<string> _order = new();

    public ValueTask AddAsync(DeadLetter deadLetter, CancellationToken cancellationToken)
    {
        _letters[deadLetter.Id] = deadLetter;
        _order.Enqueue(deadLetter.Id);
        while (_letters.Count > Capacity && _order.TryDequeue(out var oldest))
        {
            _letters.TryRemove(oldest, out _);
        }

        return ValueTask.CompletedTask;
    }

    public ValueTask<IReadOnlyList<DeadLetter>> ListAsync(int max, CancellationToken cancellationToken) =>
        ValueTask.FromResult<IReadOnlyList<DeadLetter>>([.. _letters.Values.OrderBy(letter => letter.At).Take(max)]);

    public ValueTask<DeadLetter?> TakeAsync(string id, CancellationToken cancellationToken) =>
        ValueTask.FromResult(_letters.TryRemove(id, out var letter) ? letter : null);

    public ValueTask<long> CountAsync(CancellationToken cancellationToken) => ValueTask.FromResult((long)_letters.Count);
}
