using System.Globalization;
using System.Text.Json;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace WootricGateway.State.Redis;

/// <summary>
/// User state as JSON in a Redis hash (<c>json</c> and <c>version</c> fields). Updates are
/// optimistic: read, mutate, then write only if the version is unchanged, else read again.
/// </summary>
internal sealed class RedisUserStateStore(RedisConnection redis, IOptions<RedisOptions> options) : IUserStateStore
{
    /// <summary>Writes the state only if its version is still the one read (an empty ARGV[1] means "absent").</summary>
    private const string CompareAndSetScript = """
        local current = redis.call('HGET', KEYS[1], 'version')
        if (current or '') ~= ARGV[1] then return 0 end
        redis.call('HSET', KEYS[1], 'json', ARGV[2], 'version', ARGV[3])
        redis.call('PEXPIRE', KEYS[1], ARGV[4])
        return 1
        """;

    private const int MaxConflicts = 50;

    private static readonly RedisValue[] Fields = ["json", "version"];

    private readonly long _ttlMilliseconds = (long)options.Value.StateTtl.TotalMilliseconds;

    public async ValueTask<UserState?> GetAsync(UserRef user, CancellationToken cancellationToken)
    {
        var (state, _) = await ReadAsync(redis.Keys.State(user), cancellationToken);
        return state;
    }

    public async ValueTask<bool> UpdateAsync(UserRef user, Func<UserState, bool> mutate, CancellationToken cancellationToken)
    {
        var key = redis.Keys.State(user);
        for (var conflict = 0; conflict < MaxConflicts; conflict++)
        {
            var (state, version) = await ReadAsync(key, cancellationToken);
            state ??= new UserState();
            if (!mutate(state))
            {
                return false;
            }

            var next = (version + 1).ToString(CultureInfo.InvariantCulture);
            var expected = version == 0 ? string.Empty : version.ToString(CultureInfo.InvariantCulture);
            var json = JsonSerializer.Serialize(state);
            var written = await redis.RunAsync(
                database => database.ScriptEvaluateAsync(CompareAndSetScript, [key], [expected, json, next, _ttlMilliseconds]),
                cancellationToken);
            if ((int)written == 1)
            {
                return true;
            }
        }

        throw new InvalidOperationException($"The state of {user} changed {MaxConflicts} times while it was being updated; giving up.");
    }

    private async Task<(UserState? State, long Version)> ReadAsync(RedisKey key, CancellationToken cancellationToken)
    {
        var values = await redis.RunAsync(database => database.HashGetAsync(key, Fields), cancellationToken);
        if (values[0].IsNullOrEmpty)
        {
            return (null, 0);
        }

        var state = JsonSerializer.Deserialize<UserState>(values[0].ToString());
        return (state, (long)values[1]);
    }
}
