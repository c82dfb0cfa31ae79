using System.Collections.Concurrent;

namespace WootricGateway.State.InMemory;

/// <summary>
/// The id cache in process memory: one instance, lost on restart. Entries leave with their user's state
/// when <see cref="InMemoryUserStateStore"/> evicts it, which bounds the cache too.
/// </summary>
internal sealed class InMemoryIdCache : IIdCache
{
    private readonly ConcurrentDictionary<UserRef, long> _ids = new();

    public ValueTask<long?> GetAsync(UserRef user, CancellationToken cancellationToken) =>
        ValueTask.FromResult<long?>(_ids.TryGetValue(user, out var id) ? id : null);

    public ValueTask SetAsync(UserRef user, long wootricId, CancellationToken cancellationToken)
    {
        _ids[user] = wootricId;
        return ValueTask.CompletedTask;
    }

    /// <summary>Drops the user's id, as when its state is forgotten.</summary>
    public void Forget(UserRef user) => _ids.TryRemove(user, out _);

    public ValueTask RemoveAsync(UserRef user, CancellationToken cancellationToken)
    {
        _ids.TryRemove(user, out _);
        return ValueTask.CompletedTask;
    }
}
