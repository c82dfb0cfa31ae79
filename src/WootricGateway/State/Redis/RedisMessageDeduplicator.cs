using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace WootricGateway.State.Redis;

/// <summary>Message ids as <c>SET NX</c> keys that expire after the de-duplication window.</summary>
internal sealed class RedisMessageDeduplicator(RedisConnection redis, IOptions<RedisOptions> options) : IMessageDeduplicator
{
    private readonly TimeSpan _window = options.Value.DeduplicationWindow;

    public async ValueTask<bool> TryMarkAsync(string scope, string messageId, CancellationToken cancellationToken) =>
        await redis.RunAsync(
            database => database.StringSetAsync(redis.Keys.Message(scope, messageId), 1, _window, When.NotExists),
            cancellationToken);
}
