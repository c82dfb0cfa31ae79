using System.Globalization;
using StackExchange.Redis;

namespace WootricGateway.State.Redis;

/// <summary>Dead letters as entries of a Redis stream; the entry id is the dead letter's id.</summary>
internal sealed class RedisDeadLetterStore(RedisConnection redis) : IDeadLetterStore
{
    public ValueTask AddAsync(DeadLetter deadLetter, CancellationToken cancellationToken) =>
        new(redis.RunAsync(
            database => database.StreamAddAsync(
                redis.Keys.DeadLetters,
                [
                    new("account", deadLetter.User.Account),
                    new("user", deadLetter.User.Key),
                    new("reason", deadLetter.Reason),
                    new("status", deadLetter.StatusCode),
                    new("message", deadLetter.Message ?? string.Empty),
                    new("attempts", deadLetter.Attempts),
                    new("at", deadLetter.At.ToUnixTimeMilliseconds()),
                ]),
            cancellationToken));

    public async ValueTask<IReadOnlyList<DeadLetter>> ListAsync(int max, CancellationToken cancellationToken)
    {
        var entries = await redis.RunAsync(
            database => database.StreamRangeAsync(redis.Keys.DeadLetters, count: max),
            cancellationToken);
        return [.. entries.Select(ToDeadLetter)];
    }

    public async ValueTask<DeadLetter?> TakeAsync(string id, CancellationToken cancellationToken)
    {
        var entries = await redis.RunAsync(
            database => database.StreamRangeAsync(redis.Keys.DeadLetters, id, id, count: 1),
            cancellationToken);
        if (entries.Length == 0)
        {
            return null;
        }

        var deleted = await redis.RunAsync(database => database.StreamDeleteAsync(redis.Keys.DeadLetters, [id]), cancellationToken);
        return deleted == 1 ? ToDeadLetter(entries[0]) : null;
    }

    public async ValueTask<long> CountAsync(CancellationToken cancellationToken) =>
        await redis.RunAsync(database => database.StreamLengthAsync(redis.Keys.DeadLetters), cancellationToken);

    private static DeadLetter ToDeadLetter(StreamEntry entry)
    {
        string Field(string name) => entry[name].ToString();

        return new DeadLetter(
            entry.Id.ToString(),
            new UserRef(Field("account"), Field("user")),
            Field("reason"),
            (int)entry["status"],
            Field("message") is { Length: > 0 } message ? message : null,
            (int)entry["attempts"],
            DateTimeOffset.FromUnixTimeMilliseconds(long.Parse(Field("at"), CultureInfo.InvariantCulture)));
    }
}
