using System.Collections.Concurrent;

namespace WootricGateway.State.InMemory;

/// <summary>Leases within one process; an expired lease can be taken over.</summary>
internal sealed class InMemoryLeaseManager(TimeProvider timeProvider) : ILeaseManager
{
    private readonly ConcurrentDictionary<string, (string Token, DateTimeOffset ExpiresAt)> _leases = new(StringComparer.Ordinal);

    public ValueTask<string?> TryAcquireAsync(string resource, TimeSpan duration, CancellationToken cancellationToken)
    {
        var token = Guid.NewGuid().ToString("N");
        var now = timeProvider.GetUtcNow();
        while (true)
        {
            if (_leases.TryGetValue(resource, out var held))
            {
                if (held.ExpiresAt > now)
                {
                    return ValueTask.FromResult<string?>(null);
                }

                if (_leases.TryUpdate(resource, (token, now + duration), held))
                {
                    return ValueTask.FromResult<string?>(token);
                }

                continue;
            }

            if (_leases.TryAdd(resource, (token, now + duration)))
            {
                return ValueTask.FromResult<string?>(token);
            }
        }
    }

    public ValueTask<bool> TryExtendAsync(string resource, string token, TimeSpan duration, CancellationToken cancellationToken)
    {
        var extended = _leases.TryGetValue(resource, out var held)
            && held.Token == token
            && _leases.TryUpdate(resource, (token, timeProvider.GetUtcNow() + duration), held);
        return ValueTask.FromResult(extended);
    }

    public ValueTask ReleaseAsync(string resource, string token, CancellationToken cancellationToken)
    {
        if (_leases.TryGetValue(resource, out var held) && held.Token == token)
        {
            _leases.TryRemove(new KeyValuePair<string, (string, DateTimeOffset)>(resource, held));
        }

        return ValueTask.CompletedTask;
    }
}
