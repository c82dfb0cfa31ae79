using StackExchange.Redis;

namespace WootricGateway.State.Redis;

/// <summary>Leases as <c>SET key token NX PX</c>, released only by the token that took them.</summary>
internal sealed class RedisLeaseManager(RedisConnection redis) : ILeaseManager
{
    private const string ReleaseScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """;

    private const string ExtendScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
        return 0
        """;

    public async ValueTask<bool> TryExtendAsync(string resource, string token, TimeSpan duration, CancellationToken cancellationToken)
    {
        var extended = await redis.RunAsync(
            database => database.ScriptEvaluateAsync(ExtendScript, [redis.Keys.Lease(resource)], [token, (long)duration.TotalMilliseconds]),
            cancellationToken);
        return (int)extended == 1;
    }

    public async ValueTask<string?> TryAcquireAsync(string resource, TimeSpan duration, CancellationToken cancellationToken)
    {
        var token = Guid.NewGuid().ToString("N");
        var taken = await redis.RunAsync(
            database => database.StringSetAsync(redis.Keys.Lease(resource), token, duration, When.NotExists),
            cancellationToken);
        return taken ? token : null;
    }

    public ValueTask ReleaseAsync(string resource, string token, CancellationToken cancellationToken) =>
        new(redis.RunAsync(database => database.ScriptEvaluateAsync(ReleaseScript, [redis.Keys.Lease(resource)], [token]), cancellationToken));
}
