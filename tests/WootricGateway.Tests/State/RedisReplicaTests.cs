using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using WootricGateway.Tests.Conformance;
using WootricGateway.Tests.Fakes;
using Xunit.Abstractions;

namespace WootricGateway.Tests.State;

/// <summary>Several gateways sharing one real Redis server, with crashes and a Redis outage.</summary>
public sealed class RedisReplicaTests(RedisServerFixture redis, ITestOutputHelper output) : IClassFixture<RedisServerFixture>
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
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
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

        // The backlog gauge reads the shared stream, so either replica reports the whole backlog.
        var settled = await second.WaitUntilSettledAsync(wootric, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(45), timeout.Token);
        Assert.True(settled.IsSettled, settled.LastObservation);
        Assert.Equal(1, wootric.CreateCount);
        Assert.Equal("shared-user", Assert.Single(wootric.EndUsers).ExternalId);
    }

    [Fact]
    public async Task KilledReplica_WorkCompletedByAnother()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);

        // Slow creates keep syncs in flight when the first replica is killed.
        wootric.ApplyFaults(JsonNode.Parse("""{"rules":[{"method":"POST","path":"/v1/end_users","latency_ms":1500}]}""")!);
        var store = redis.IsolatedConfiguration();
        store["Redis:ClaimIdleTimeout"] = "00:00:03";
        store["Delivery:LeaseDuration"] = "00:00:03";
        var configuration = Configuration(wootric, upstream, store);
        const int users = 20;

        using (var killed = await GatewayProcess.StartAsync(configuration, timeout.Token))
        {
            using var client = TestTraffic.CreateClient();
            for (var i = 0; i < users; i++)
            {
                using var response = await client.PostAsync(new Uri(killed.ProxyAddress, "/v1/identify"), TestTraffic.Identify($"crash-user-{i}", $"m-{i}"), timeout.Token);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }

            // Kill once every request is in Redis and the first create is in progress at Wootric.
            var waited = Stopwatch.StartNew();
            while (waited.Elapsed < TimeSpan.FromSeconds(20)
                && (await killed.ReadMetricAsync("wootric_gateway_tap_requests_total{outcome=\"handed_off\"}", timeout.Token) < users
                    || !wootric.Requests.Any(request => request.Method == "POST")))
            {
                await Task.Delay(20, timeout.Token);
            }

            Assert.Equal(users, await killed.ReadMetricAsync("wootric_gateway_tap_requests_total{outcome=\"handed_off\"}", timeout.Token));

            killed.Kill();
        }

        var createsBeforeTakeover = wootric.CreateCount;
        Assert.True(createsBeforeTakeover < users, $"the killed replica finished all {users} users before it was killed; nothing was left to take over");

        await using var survivor = await GatewayUnderTest.StartAsync(configuration, timeout.Token);
        var settled = await survivor.WaitUntilSettledAsync(wootric, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(60), timeout.Token);
        Assert.True(settled.IsSettled, settled.LastObservation);

        output.WriteLine($"creates before the kill was noticed: {createsBeforeTakeover}, after takeover: {wootric.CreateCount}");
        Assert.Equal(users, wootric.EndUsers.Count);
        Assert.Equal(users, wootric.CreateCount);
        Assert.Equal(users, wootric.EndUsers.Select(user => user.ExternalId).Distinct().Count());
    }

    [Fact]
    public async Task RedisOutage_ProxyingContinuesAndEventsApplied()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        var ownServer = await RedisServer.StartAsync(requireOwned: true);
        try
        {
            await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
            await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
            var store = new Dictionary<string, string?>
            {
                ["Redis:Configuration"] = ownServer.Configuration + ",connectTimeout=1000",
                ["Redis:KeyPrefix"] = "outage",
                ["Redis:OperationTimeout"] = "00:00:01",
                ["Redis:PollInterval"] = "00:00:00.020",
            };
            await using var gateway = await GatewayUnderTest.StartAsync(Configuration(wootric, upstream, store), timeout.Token);
            using var client = TestTraffic.CreateClient();
            var sent = 0;
            var slowest = TimeSpan.Zero;

            async Task SendAsync()
            {
                var started = Stopwatch.StartNew();
                using var response = await client.PostAsync(new Uri(gateway.ProxyAddress, "/v1/identify"), TestTraffic.Identify($"outage-user-{sent}", $"m-{sent}"), timeout.Token);
                slowest = started.Elapsed > slowest ? started.Elapsed : slowest;
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                sent++;
            }

            for (var i = 0; i < 5; i++)
            {
                await SendAsync();
            }

            var before = await gateway.WaitUntilSettledAsync(wootric, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30), timeout.Token);
            Assert.True(before.IsSettled, before.LastObservation);

            // Redis goes away for 20 s while traffic continues.
            await ownServer.StopAsync();
            var outageEnds = Stopwatch.StartNew();
            while (outageEnds.Elapsed < TimeSpan.FromSeconds(20))
            {
                await SendAsync();
                await Task.Delay(250, timeout.Token);
            }

            ownServer = await ownServer.RestartAsync();
            var after = await gateway.WaitUntilSettledAsync(wootric, TimeSpan.FromSeconds(3), TimeSpan.FromSeconds(60), timeout.Token);
            Assert.True(after.IsSettled, after.LastObservation);

            output.WriteLine($"sent {sent} identifies; slowest proxied request {slowest.TotalMilliseconds:F0} ms");
            Assert.Equal(sent, upstream.Exchanges.Count);
            Assert.Equal(sent, wootric.CreateCount);
            Assert.Equal(sent, wootric.EndUsers.Select(user => user.ExternalId).Distinct().Count());
        }
        finally
        {
            await ownServer.DisposeAsync();
        }
    }
}
