using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using WootricGateway.Delivery;

namespace WootricGateway.State.InMemory;

/// <summary>
/// User state in process memory: for one instance, lost on restart. Holds at most
/// <see cref="DeliveryOptions.MaxInMemoryUsers"/> users; past that, the ones added longest ago with no
/// work waiting are forgotten, together with their cached Wootric id.
/// </summary>
internal sealed class InMemoryUserStateStore(InMemoryWorkQueue queue, InMemoryIdCache ids, IOptions<DeliveryOptions> options) : IUserStateStore
{
    /// <summary>Users looked at per new user when over capacity; users with work waiting go to the back.</summary>
    private const int EvictionAttempts = 4;

    private readonly int _capacity = options.Value.MaxInMemoryUsers;
    private readonly ConcurrentDictionary<UserRef, UserState> _states = new();
    private readonly ConcurrentQueue<UserRef> _order = new();
    private int _count;

    /// <summary>Users held now.</summary>
    public int Count => Volatile.Read(ref _count);

    public ValueTask<UserState?> GetAsync(UserRef user, CancellationToken cancellationToken)
    {
        if (!_states.TryGetValue(user, out var state))
        {
            return ValueTask.FromResult<UserState?>(null);
        }

        lock (state)
        {
            return ValueTask.FromResult<UserState?>(state.Clone());
        }
    }

    public ValueTask<bool> UpdateAsync(UserRef user, Func<UserState, bool> mutate, CancellationToken cancellationToken)
    {
        if (!_states.TryGetValue(user, out var state))
        {
            var fresh = new UserState();
            if (_states.TryAdd(user, fresh))
            {
                state = fresh;
                _order.Enqueue(user);
                if (Interlocked.Increment(ref _count) > _capacity)
                {
                    EvictOldest(user);
                }
            }
            else
            {
                state = _states.GetOrAdd(user, fresh);
            }
        }

        lock (state)
        {
            // Mutate a copy so a mutation that returns false (or throws) leaves no trace.
            var copy = state.Clone();
            if (!mutate(copy))
            {
                return ValueTask.FromResult(false);
            }

            _states[user] = copy;
            return ValueTask.FromResult(true);
        }
    }

    private void EvictOldest(UserRef added)
    {
        for (var attempt = 0; attempt < EvictionAttempts && _order.TryDequeue(out var oldest); attempt++)
        {
            if (oldest == added || queue.HasWork(oldest))
            {
                _order.Enqueue(oldest);
                continue;
            }

            if (_states.TryRemove(oldest, out _))
            {
                Interlocked.Decrement(ref _count);
                ids.Forget(oldest);
                return;
            }
        }
    }
}
