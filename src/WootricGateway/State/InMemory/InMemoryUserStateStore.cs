using System.Collections.Concurrent;

namespace WootricGateway.State.InMemory;

/// <summary>User state in process memory: for one instance, lost on restart.</summary>
internal sealed class InMemoryUserStateStore : IUserStateStore
{
    private readonly ConcurrentDictionary<UserRef, UserState> _states = new();

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
        var state = _states.GetOrAdd(user, _ => new UserState());
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
}
