using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using WootricGateway.Delivery;
using WootricGateway.Tests.Conformance;
using WootricGateway.Tests.Fakes;
using WootricGateway.Tests.State;

namespace WootricGateway.Tests.Delivery;

/// <summary>
/// The limit on what one user's stored properties may take over many identifies, through the running gateway
/// with the fake Wootric, in memory and with a real Redis.
/// </summary>
public sealed class UserPropertyLimitTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>
{
    private const string UserId = "limit-user";
    private const int ValueLength = 1000;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task NewNames_StopAtTheUserLimit(bool withRedis)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        var store = withRedis ? redis.IsolatedConfiguration() : [];
        await using var gateway = await GatewayUnderTest.StartAsync(CaseRunner.BuildConfiguration(wootric, upstream, store), timeout.Token);
        using var client = TestTraffic.CreateClient();

        // 200 names of 9 characters with values of 1,000: 201,800 characters stored.
        var first = new JsonObject();
        for (var i = 0; i < 200; i++)
        {
            first[$"first_{i:000}"] = new string('a', ValueLength);
        }

        await SendAsync(client, gateway, "m-1", first, timeout.Token);
        await WaitForAsync(gateway, wootric, user => user.Properties.Count == 200, timeout.Token);

        // A shorter value for a stored name frees 995 characters. Each new name of 10 characters takes 1,010,
        // so of 100 new names 60 fit in what is left (262,144 - 201,800 + 995 = 61,339) and 40 do not.
        var second = new JsonObject { ["first_000"] = "short" };
        for (var i = 0; i < 100; i++)
        {
            second[$"second_{i:000}"] = new string('a', ValueLength);
        }

        await SendAsync(client, gateway, "m-2", second, timeout.Token);
        var afterSecond = await WaitForAsync(gateway, wootric, user => user.Properties.GetValueOrDefault("first_000") == "short", timeout.Token);

        Assert.Equal(260, afterSecond.Properties.Count);
        Assert.Equal(
            Enumerable.Range(0, 60).Select(i => $"second_{i:000}"),
            afterSecond.Properties.Keys.Where(key => key.StartsWith("second_", StringComparison.Ordinal)).Order(StringComparer.Ordinal));
        Assert.Equal(40, await gateway.ReadMetricSumAsync("wootric_gateway_properties_dropped_total", timeout.Token));

        // 739 characters are left. A value 1,000 characters longer does not fit, and one of the same length still replaces.
        var third = new JsonObject
        {
            ["first_001"] = new string('a', 2 * ValueLength),
            ["first_002"] = new string('b', ValueLength),
        };
        await SendAsync(client, gateway, "m-3", third, timeout.Token);
        var afterThird = await WaitForAsync(gateway, wootric, user => user.Properties.GetValueOrDefault("first_002") == new string('b', ValueLength), timeout.Token);

        Assert.Equal(new string('a', ValueLength), afterThird.Properties["first_001"]);
        Assert.Equal(260, afterThird.Properties.Count);
        Assert.Equal(41, await gateway.ReadMetricSumAsync("wootric_gateway_properties_dropped_total", timeout.Token));
        Assert.True(
            afterThird.Properties.Sum(property => property.Key.Length + property.Value.Length) <= UserSyncSink.MaxUserPropertyCharacters,
            "the stored properties passed the user limit");
        Assert.Equal(1, wootric.CreateCount);
        Assert.Empty(wootric.Violations);
    }

    private static async Task SendAsync(HttpClient client, GatewayUnderTest gateway, string messageId, JsonObject properties, CancellationToken cancellationToken)
    {
        properties["email"] = "limit-user@example.test";
        var body = new JsonObject
        {
            ["type"] = "identify",
            ["userId"] = UserId,
            ["messageId"] = messageId,
            ["traits"] = properties,
        };
        using var content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await client.PostAsync(new Uri(gateway.ProxyAddress, "/v1/identify"), content, cancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>Waits until Wootric's one end user matches <paramref name="condition"/> and no call follows for a while.</summary>
    private static async Task<FakeEndUser> WaitForAsync(
        GatewayUnderTest gateway,
        FakeWootricServer wootric,
        Func<FakeEndUser, bool> condition,
        CancellationToken cancellationToken)
    {
        var settled = await gateway.WaitUntilSettledAsync(wootric, () => wootric.EndUsers.Count == 1 && condition(wootric.EndUsers[0]), cancellationToken);
        Assert.True(settled.IsSettled, settled.LastObservation);
        return Assert.Single(wootric.EndUsers);
    }
}
