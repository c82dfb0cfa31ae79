using System.Globalization;
using System.IO.Hashing;
using System.Text;
using StackExchange.Redis;

namespace WootricGateway.State.Redis;

/// <summary>
/// Key names. A user's keys share one hash tag, a hash of account and user key, so they sit in one
/// Redis Cluster slot, and no email or id appears in a key name.
/// </summary>
public sealed class RedisKeys(string prefix)
{
    /// <summary>The work stream; it shares the <c>{work}</c> hash tag with <see cref="DelayedWork"/> so one script can move entries between them.</summary>
    public RedisKey WorkStream { get; } = prefix + ":{work}:stream";

    /// <summary>Retries waiting for their time, as a sorted set scored by due time in unix milliseconds.</summary>
    public RedisKey DelayedWork { get; } = prefix + ":{work}:delayed";

    public RedisKey DeadLetters { get; } = prefix + ":dead";

    public string ConsumerGroup => "delivery";

    public RedisKey State(UserRef user) => Tagged(user, "state");

    public RedisKey WootricId(UserRef user) => Tagged(user, "id");

    public RedisKey Queued(UserRef user) => Tagged(user, "queued");

    public RedisKey Lease(string resource) => prefix + ":lease:{" + Hash(resource) + "}";

    public RedisKey Message(string scope, string messageId) => prefix + ":msg:{" + Hash(scope + "\n" + messageId) + "}";

    private RedisKey Tagged(UserRef user, string suffix) => prefix + ":user:{" + Hash(user.Account + "\n" + user.Key) + "}:" + suffix;

    private static string Hash(string value)
    {
        var hash = XxHash128.HashToUInt128(Encoding.UTF8.GetBytes(value));
        return hash.ToString("x32", CultureInfo.InvariantCulture);
    }
}
