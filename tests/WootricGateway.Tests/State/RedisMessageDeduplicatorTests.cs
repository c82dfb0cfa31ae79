using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using WootricGateway.Metrics;
using WootricGateway.State.Redis;

namespace WootricGateway.Tests.State;

/// <summary>
/// Message ids are marked by one script on a single Redis server and key by key on Redis Cluster, where the
/// script's keys lie in different slots. Both must return the same flags and leave the same keys.
/// </summary>
public sealed class RedisMessageDeduplicatorTests
{
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TryMarkMany_MarksInListOrderAndExpires(bool cluster)
    {
        await using var server = cluster ? await RedisServer.StartClusterAsync() : await RedisServer.StartAsync();
        var options = Options.Create(new RedisOptions { Configuration = server.Configuration, KeyPrefix = "t" + Guid.NewGuid().ToString("N")[..12], DeduplicationWindow = TimeSpan.FromMinutes(10) });
        await using var connection = new RedisConnection(options, new GatewayMetrics(Prometheus.Metrics.NewCustomRegistry()), NullLogger<RedisConnection>.Instance);
        var deduplicator = new RedisMessageDeduplicator(connection, options);

        var first = await deduplicator.TryMarkManyAsync([("s", "m1"), ("s", "m2"), ("s", "m1"), ("other", "m1")], CancellationToken.None);
        var second = await deduplicator.TryMarkManyAsync([("s", "m2"), ("s", "m3")], CancellationToken.None);
        await deduplicator.ForgetAsync([("s", "m1")], CancellationToken.None);
        var afterForget = await deduplicator.TryMarkManyAsync([("s", "m1"), ("s", "m1")], CancellationToken.None);

        Assert.Equal([true, true, false, true], first);
        Assert.Equal([false, true], second);
        Assert.Equal([true, false], afterForget);
        Assert.Empty(await deduplicator.TryMarkManyAsync([], CancellationToken.None));
        Assert.Equal(cluster, deduplicator.MarksKeyByKey);

        var ttl = await connection.RunAsync(database => database.KeyTimeToLiveAsync(connection.Keys.Message("s", "m3")), CancellationToken.None);
        Assert.InRange(ttl!.Value, TimeSpan.FromMinutes(9), TimeSpan.FromMinutes(10));
        var value = await connection.RunAsync(database => database.StringGetAsync(connection.Keys.Message("other", "m1")), CancellationToken.None);
        Assert.Equal((RedisValue)"1", value);
    }
}
