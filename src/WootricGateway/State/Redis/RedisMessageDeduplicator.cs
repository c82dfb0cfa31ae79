using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace WootricGateway.State.Redis;

/// <summary>Message ids as <c>SET NX</c> keys that expire after the de-duplication window.</summary>
/// <remarks>
/// A request's ids are marked by one script call, which costs one command and one reply instead of a
/// command, a task and a reply per id. Each id's key has its own hash tag, so on Redis Cluster the keys
/// of one call lie in different slots and the script is rejected. From then on the deduplicator marks
/// ids one command each.
/// </remarks>
internal sealed class RedisMessageDeduplicator(RedisConnection redis, IOptions<RedisOptions> options) : IMessageDeduplicator
{
    /// <summary>Sets each absent key with an expiry of ARGV[1] ms, and returns 1 for each key it set and 0 for each key that existed.</summary>
    private const string MarkScript = """
        local marked = {}
        for i = 1, #KEYS do
          marked[i] = redis.call('SET', KEYS[i], '1', 'PX', ARGV[1], 'NX') and 1 or 0
        end
        return marked
        """;

    private readonly TimeSpan _window = options.Value.DeduplicationWindow;
    private readonly long _windowMilliseconds = (long)options.Value.DeduplicationWindow.TotalMilliseconds;
    private volatile bool _keyByKey;

    /// <summary>True once a script over keys in several slots was rejected (Redis Cluster).</summary>
    internal bool MarksKeyByKey => _keyByKey;

    public async ValueTask<bool[]> TryMarkManyAsync(IReadOnlyList<(string Scope, string MessageId)> ids, CancellationToken cancellationToken)
    {
        if (ids.Count == 0)
        {
            return [];
        }

        var keys = new RedisKey[ids.Count];
        for (var i = 0; i < keys.Length; i++)
        {
            keys[i] = redis.Keys.Message(ids[i].Scope, ids[i].MessageId);
        }

        if (!_keyByKey)
        {
            try
            {
                // The script sets the keys in list order, so a repeated id later in the list finds the earlier one set.
                var marked = await redis.RunAsync(database => database.ScriptEvaluateAsync(MarkScript, keys, [_windowMilliseconds]), cancellationToken);
                return ToFlags(marked, keys.Length);
            }
            catch (Exception exception) when (IsCrossSlot(exception))
            {
                // Rejected before it ran, so no key was set.
                _keyByKey = true;
            }
        }

        // The commands go out back to back on one connection and Redis runs them in that order, with the
        // same effect as the script. The whole list still costs one round trip.
        return await redis.RunAsync(
            database => Task.WhenAll(keys.Select(key => database.StringSetAsync(key, 1, _window, When.NotExists))),
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

    /// <summary>
    /// Returns true for a rejected multi-slot command. StackExchange.Redis raises RedisCommandException itself
    /// once it has detected a cluster, and a cluster node (or a proxy in front of one) replies CROSSSLOT.
    /// </summary>
    private static bool IsCrossSlot(Exception exception) =>
        exception is RedisCommandException
            || (exception is RedisServerException server && server.Message.StartsWith("CROSSSLOT", StringComparison.Ordinal));

    private static bool[] ToFlags(RedisResult result, int count)
    {
        var values = (RedisResult[]?)result;
        if (values is null || values.Length != count)
        {
            throw new InvalidOperationException($"The mark script returned {values?.Length.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "no array"} results for {count} keys.");
        }

        var flags = new bool[count];
        for (var i = 0; i < count; i++)
        {
            flags[i] = (long)values[i] == 1;
        }

        return flags;
    }
}
