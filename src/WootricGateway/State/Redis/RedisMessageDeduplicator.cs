using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace WootricGateway.State.Redis;

/// <summary>Message ids as <c>SET NX</c> keys that expire after the de-duplication window.</summary>
internal sealed class RedisMessageDeduplicator(RedisConnection redis, IOptions<RedisOptions> options) : IMessageDeduplicator
{
    private readonly TimeSpan _window = options.Value.DeduplicationWindow;

    public async ValueTask<bool[]> TryMarkManyAsync(IReadOnlyList<(string Scope, string MessageId)> ids, CancellationToken cancellationToken)
    {
        if (ids.Count == 0)
        {
            return [];
        }

        // The commands go out back to back on one connection and Redis runs them in that order, so a
        // repeated id later in the list finds the earlier one set. The whole list costs one round trip.
        return await redis.RunAsync(
            database => Task.WhenAll(ids.Select(id => database.StringSetAsync(redis.Keys.Message(id.Scope, id.MessageId), 1, _window, When.NotExists))),
            cancellationToken);
    }

    public async ValueTask ForgetAsync(IReadOnlyList<(string Scope, string MessageId)> ids, CancellationToken cancellationToken)
    {
        if (ids.Count > 0)
        {
            await redis.RunAsync(
                database => Task.WhenAll(ids.Select(id => database.KeyDeleteAsync(redis.Keys.Message(id.Scope, id.MessageId)))),
                cancellationToken);
        }
    }
}
