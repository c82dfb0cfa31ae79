using Microsoft.Extensions.Options;

namespace WootricGateway.State.Redis;

/// <summary>Wootric end-user ids in Redis strings with a time to live.</summary>
internal sealed class RedisIdCache(RedisConnection redis, IOptions<RedisOptions> options) : IIdCache
{
    private readonly TimeSpan _ttl = options.Value.IdCacheTtl;

    public async ValueTask<long?> GetAsync(UserRef user, CancellationToken cancellationToken)
    {
        var value = await redis.RunAsync(database => database.StringGetAsync(redis.Keys.WootricId(user)), cancellationToken);
        // RedisValue.Null parses as 0, so a missing key must be checked first.
        return !value.IsNull && value.TryParse(out long id) ? id : null;
    }

    public ValueTask SetAsync(UserRef user, long wootricId, CancellationToken cancellationToken) =>
        new(redis.RunAsync(database => database.StringSetAsync(redis.Keys.WootricId(user), wootricId, _ttl), cancellationToken));

    public ValueTask RemoveAsync(UserRef user, CancellationToken cancellationToken) =>
        new(redis.RunAsync(database => database.KeyDeleteAsync(redis.Keys.WootricId(user)), cancellationToken));
}
