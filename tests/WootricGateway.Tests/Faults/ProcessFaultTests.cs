using System.Diagnostics;
using System.Net;
using System.Text.Json.Nodes;
using WootricGateway.Tests.Conformance;
using WootricGateway.Tests.Fakes;
using WootricGateway.Tests.State;
using Xunit.Abstractions;

namespace WootricGateway.Tests.Faults;

/// <summary>
/// Processes dying under traffic: a gateway killed with SIGKILL mid-delivery, and Redis killed and
/// restarted, with and without an append-only file. Each ends with the accounting check.
/// </summary>
public sealed class ProcessFaultTests(RedisServerFixture redis, ITestOutputHelper output) : IClassFixture<RedisServerFixture>
{
    private static Dictionary<string, string?> Configuration(FakeWootricServer wootric, RecordingUpstream upstream, Dictionary<string, string?> store) =>
        CaseRunner.BuildConfiguration(wootric, upstream, store.Concat(new Dictionary<string, string?>
        {
            ["Wootric:RequestsPerMinute"] = "6000",
            ["Delivery:MaxAttempts"] = "100",
        }));

    [Fact]
    public async Task KilledReplica_WorkCompletedByAnother()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(180));
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
            await Poll.UntilAsync(
                async token => await killed.ReadMetricAsync("wootric_gateway_tap_requests_total{outcome=\"handed_off\"}", token) >= users
                    && wootric.Requests.Any(request => request.Method == "POST"),
                TimeSpan.FromSeconds(60),
                timeout.Token);

            Assert.Equal(users, await killed.ReadMetricAsync("wootric_gateway_tap_requests_total{outcome=\"handed_off\"}", timeout.Token));

            killed.Kill();
        }

        var createsBeforeTakeover = wootric.CreateCount;
        Assert.True(createsBeforeTakeover < users, $"the killed replica finished all {users} users before it was killed; nothing was left to take over");

        await using var survivor = await GatewayUnderTest.StartAsync(configuration, timeout.Token);
        var (settled, report) = await EventAccounting.SettleAsync(survivor, upstream, wootric, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(60), timeout.Token);
        Assert.True(settled.IsSettled, settled.LastObservation);
        output.WriteLine($"creates before the kill was noticed: {createsBeforeTakeover}, after takeover: {wootric.CreateCount}; {report}");
        Assert.Empty(report.Violations);
        Assert.Equal(users, report.Applied);
        Assert.Equal(users, wootric.EndUsers.Count);
        Assert.Equal(users, wootric.CreateCount);
        Assert.Equal(users, wootric.EndUsers.Select(user => user.ExternalId).Distinct().Count());
    }

    [Fact]
    public async Task RedisStopped_ProxyingContinuesAndEventsApplied()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(210));
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

            Task<bool> AccountedAsync(CancellationToken token) => EventAccounting.PassesAsync(upstream, wootric, [gateway.ManagementAddress], token);
            var before = await gateway.WaitUntilSettledAsync(wootric, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(45), AccountedAsync, timeout.Token);
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
            var after = await gateway.WaitUntilSettledAsync(wootric, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(60), AccountedAsync, timeout.Token);
            Assert.True(after.IsSettled, after.LastObservation);

            var report = await EventAccounting.CheckAsync(upstream, wootric, [gateway.ManagementAddress], timeout.Token);
            output.WriteLine($"sent {sent} identifies; slowest proxied request {slowest.TotalMilliseconds:F0} ms; {report}");
            Assert.Empty(report.Violations);
            Assert.Equal(sent, report.Applied);
            Assert.Equal(sent, upstream.Exchanges.Count);
            Assert.Equal(sent, wootric.CreateCount);
            Assert.Equal(sent, wootric.EndUsers.Select(user => user.ExternalId).Distinct().Count());
        }
        finally
        {
            await ownServer.DisposeAsync();
        }
    }

    [Fact]
    public async Task RedisKilledMidDelivery_AppendOnlyLosesNothing()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(180));
        var ownServer = await RedisServer.StartAsync(requireOwned: true, appendOnly: true);
        try
        {
            await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
            await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);

            // Slow creates keep work in the stream and syncs in flight when Redis dies.
            wootric.ApplyFaults(JsonNode.Parse("""{"rules":[{"method":"POST","path":"/v1/end_users","latency_ms":300}]}""")!);
            var store = new Dictionary<string, string?>
            {
                ["Redis:Configuration"] = ownServer.Configuration + ",connectTimeout=1000",
                ["Redis:KeyPrefix"] = "killed",
                ["Redis:OperationTimeout"] = "00:00:01",
                ["Redis:PollInterval"] = "00:00:00.020",

                // A sync cut off by the outage leaves its entry pending with this replica; it is
                // claimed again after this idle time.
                ["Redis:ClaimIdleTimeout"] = "00:00:05",
                ["Delivery:LeaseDuration"] = "00:00:05",
                ["Delivery:Concurrency"] = "2",
            };
            await using var gateway = await GatewayUnderTest.StartAsync(Configuration(wootric, upstream, store), timeout.Token);
            using var client = TestTraffic.CreateClient();
            var statuses = new List<HttpStatusCode>();

            async Task SendAsync(int i)
            {
                using var response = await client.PostAsync(new Uri(gateway.ProxyAddress, "/v1/identify"), TestTraffic.Identify($"aof-user-{i}", $"m-{i}"), timeout.Token);
                statuses.Add(response.StatusCode);
            }

            for (var i = 0; i < 20; i++)
            {
                await SendAsync(i);
            }

            var delivering = await Poll.UntilAsync(() => wootric.CreateCount >= 2, TimeSpan.FromSeconds(60), timeout.Token);
            Assert.True(delivering, $"the gateway created {wootric.CreateCount} users within 60 s; Redis is to be killed while it delivers");

            await ownServer.StopAsync();
            for (var i = 20; i < 30; i++)
            {
                await SendAsync(i);
                await Task.Delay(300, timeout.Token);
            }

            ownServer = await ownServer.RestartAsync();
            var (settled, report) = await EventAccounting.SettleAsync(gateway, upstream, wootric, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(60), timeout.Token);
            output.WriteLine(report.ToString());

            Assert.All(statuses, status => Assert.Equal(HttpStatusCode.OK, status));
            Assert.True(settled.IsSettled, settled.LastObservation);
            Assert.Empty(report.Violations);
            Assert.Equal(30, report.Applied);
            Assert.Equal(30, wootric.CreateCount);
        }
        finally
        {
            await ownServer.DisposeAsync();
        }
    }
}
