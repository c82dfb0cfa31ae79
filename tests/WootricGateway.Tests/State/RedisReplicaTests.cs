using System.Net;
using System.Text.Json.Nodes;
using WootricGateway.Tests.Conformance;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.State;

/// <summary>Several gateways sharing one real Redis server. Crashes and Redis outages are in <c>Faults/ProcessFaultTests</c>.</summary>
public sealed class RedisReplicaTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>
{
    private static Dictionary<string, string?> Configuration(FakeWootricServer wootric, RecordingUpstream upstream, Dictionary<string, string?> store) =>
        CaseRunner.BuildConfiguration(wootric, upstream, store.Concat(new Dictionary<string, string?>
        {
            ["Wootric:RequestsPerMinute"] = "6000",
            ["Delivery:MaxAttempts"] = "100",
        }));

    [Fact]
    public async Task TwoReplicas_CreateUserOnce()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        wootric.ApplyFaults(JsonNode.Parse("""{"latency_ms": 50}""")!);
        var store = redis.IsolatedConfiguration();
        // One replica is a separate process, the other runs in this one; they share only Redis.
        using var first = await GatewayProcess.StartAsync(Configuration(wootric, upstream, store), timeout.Token);
        await using var second = await GatewayUnderTest.StartAsync(Configuration(wootric, upstream, store), timeout.Token);
        using var client = TestTraffic.CreateClient();

        var sends = Enumerable.Range(0, 200).Select(async i =>
        {
            var proxy = i % 2 == 0 ? first.ProxyAddress : second.ProxyAddress;
            using var response = await client.PostAsync(new Uri(proxy, "/v1/identify"), TestTraffic.Identify("shared-user", $"m-{i}"), timeout.Token);
            return response.StatusCode;
        });
        var statuses = await Task.WhenAll(sends);

        Assert.All(statuses, status => Assert.Equal(HttpStatusCode.OK, status));

        // The work queue is the shared stream, so either replica reports the whole backlog. Each
        // replica's tap is its own, so the wait starts once both have handed every request to Redis.
        var settled = await second.WaitUntilSettledAsync(
            wootric,
            async token => await first.ReadMetricAsync("wootric_gateway_tap_requests_total{outcome=\"handed_off\"}", token)
                + await second.ReadTapOutcomeAsync("handed_off", token) >= statuses.Length
                && wootric.CreateCount >= 1,
            timeout.Token);
        Assert.True(settled.IsSettled, settled.LastObservation);
        Assert.Equal(1, wootric.CreateCount);
        Assert.Equal("shared-user", Assert.Single(wootric.EndUsers).ExternalId);
    }
}
