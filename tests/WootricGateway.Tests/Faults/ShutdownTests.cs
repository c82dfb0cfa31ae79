using System.Net;
using System.Text.Json.Nodes;
using WootricGateway.Tests.Conformance;
using WootricGateway.Tests.Fakes;
using WootricGateway.Tests.State;
using Xunit.Abstractions;

namespace WootricGateway.Tests.Faults;

/// <summary>A gateway process stopped with SIGTERM mid-traffic, and another one finishing its work from Redis.</summary>
public sealed class ShutdownTests(RedisServerFixture redis, ITestOutputHelper output) : IClassFixture<RedisServerFixture>
{
    /// <summary>The end of log event 2106, a sync aborted at the shutdown timeout, with Redis and in memory.</summary>
    private const string SyncAbortedWithRedis = "its work entry stays pending for another replica";
    private const string SyncAbortedInMemory = "without Redis its changes are lost";

    private static Dictionary<string, string?> Configuration(FakeWootricServer wootric, RecordingUpstream upstream, Dictionary<string, string?> store) =>
        CaseRunner.BuildConfiguration(wootric, upstream, store.Concat(new Dictionary<string, string?>
        {
            ["Wootric:RequestsPerMinute"] = "6000",
            ["Delivery:MaxAttempts"] = "100",
            ["Delivery:Concurrency"] = "2",
            ["Logging:Console:LogLevel:Default"] = "Information",
            ["Logging:Console:LogLevel:Microsoft"] = "Warning",
            ["Logging:Console:LogLevel:System"] = "Warning",
            ["Logging:Console:LogLevel:Yarp"] = "Warning",
        }));

    [Fact]
    public async Task Sigterm_DrainsRequestsAndHandsBackWork()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(180));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);

        // Slow upstream answers keep requests in flight at SIGTERM; slow creates keep work queued.
        upstream.Response = UpstreamResponse.Default with { Latency = TimeSpan.FromMilliseconds(1500) };
        wootric.ApplyFaults(JsonNode.Parse("""{"rules":[{"method":"POST","path":"/v1/end_users","latency_ms":400}]}""")!);
        var store = redis.IsolatedConfiguration();

        // Far longer than the test, so only a hand-back (not a claim of abandoned entries) lets the
        // second gateway run the work the first one had read.
        store["Redis:ClaimIdleTimeout"] = "00:10:00";
        store["Gateway:ShutdownTimeout"] = "00:00:20";
        var configuration = Configuration(wootric, upstream, store);
        const int users = 30;

        using var stopped = await GatewayProcess.StartAsync(configuration, timeout.Token);
        using var client = TestTraffic.CreateClient();
        var sends = Enumerable.Range(0, users).Select(async i =>
        {
            using var response = await client.PostAsync(new Uri(stopped.ProxyAddress, "/v1/identify"), TestTraffic.Identify($"term-user-{i}", $"m-{i}"), timeout.Token);
            return (response.StatusCode, await response.Content.ReadAsStringAsync(timeout.Token));
        }).ToList();

        var allForwarded = await Poll.UntilAsync(() => upstream.Exchanges.Count >= users, TimeSpan.FromSeconds(60), timeout.Token);
        Assert.True(allForwarded, $"only {upstream.Exchanges.Count} of {users} requests reached the upstream within 60 s");

        stopped.Terminate();
        var responses = await Task.WhenAll(sends);
        var exited = await stopped.WaitForExitAsync(TimeSpan.FromSeconds(30), timeout.Token);

        Assert.All(responses, response => Assert.Equal(HttpStatusCode.OK, response.StatusCode));
        Assert.All(responses, response => Assert.Equal("{\"success\":true}", response.Item2));
        Assert.True(exited, "the gateway did not exit within 30 s of SIGTERM:\n" + stopped.Output);
        Assert.Equal(0, stopped.ExitCode);
        var createsByFirst = wootric.CreateCount;
        Assert.True(createsByFirst < users, $"the first gateway created all {users} users before it stopped; nothing was left to hand over");

        await using var successor = await GatewayUnderTest.StartAsync(configuration, timeout.Token);
        var (settled, report) = await EventAccounting.SettleAsync(successor, upstream, wootric, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(60), timeout.Token);

        output.WriteLine($"creates by the stopped gateway: {createsByFirst}; {report}");
        output.WriteLine(stopped.Output);
        Assert.True(settled.IsSettled, settled.LastObservation);
        Assert.Empty(report.Violations);
        Assert.Equal(users, report.Applied);
        Assert.Equal(users, wootric.CreateCount);
    }

    [Fact]
    public async Task ShutdownTimeout_LeavesSyncForClaim()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(180));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);

        // The first create takes 60 s, far past the 2 s shutdown timeout, and the request timeout is
        // longer still, so the sync is aborted and its entry stays pending. A gateway that waited for
        // the create would take a minute to stop, which no busy machine explains.
        wootric.ApplyFaults(JsonNode.Parse("""{"rules":[{"method":"POST","path":"/v1/end_users","latency_ms":60000,"count":1}]}""")!);
        var store = redis.IsolatedConfiguration();
        store["Redis:ClaimIdleTimeout"] = "00:00:04";
        store["Delivery:LeaseDuration"] = "00:00:04";
        store["Gateway:ShutdownTimeout"] = "00:00:02";
        store["Wootric:RequestTimeout"] = "00:01:30";
        var configuration = Configuration(wootric, upstream, store);

        using var stopped = await GatewayProcess.StartAsync(configuration, timeout.Token);
        using var client = TestTraffic.CreateClient();
        using (var response = await client.PostAsync(new Uri(stopped.ProxyAddress, "/v1/identify"), TestTraffic.Identify("slow-user", "m-slow"), timeout.Token))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await AssertCreateStartedAsync(wootric, stopped, timeout.Token);

        var terminated = System.Diagnostics.Stopwatch.StartNew();
        stopped.Terminate();
        var exited = await stopped.WaitForExitAsync(TimeSpan.FromSeconds(45), timeout.Token);
        var stopTime = terminated.Elapsed;

        Assert.True(exited, "the gateway did not exit within 45 s of SIGTERM:\n" + stopped.Output);
        Assert.True(stopped.Output.Contains(SyncAbortedWithRedis, StringComparison.Ordinal), "no aborted sync was logged:\n" + stopped.Output);
        Assert.False(stopped.Output.Contains(SyncAbortedInMemory, StringComparison.Ordinal), "an aborted sync was logged as lost although Redis keeps it:\n" + stopped.Output);

        await using var successor = await GatewayUnderTest.StartAsync(configuration, timeout.Token);
        var (settled, report) = await EventAccounting.SettleAsync(successor, upstream, wootric, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(60), timeout.Token);

        output.WriteLine($"stopped in {stopTime.TotalSeconds:F1} s; {report}");
        Assert.True(stopTime < TimeSpan.FromSeconds(30), $"the gateway took {stopTime.TotalSeconds:F1} s to stop; it waited for the 60 s create instead of its 2 s shutdown timeout");
        Assert.Contains(successor.Logs.Tail(CapturedLogs.Capacity), line => line.Contains("Claimed work entry", StringComparison.Ordinal));
        Assert.True(settled.IsSettled, settled.LastObservation);
        Assert.Empty(report.Violations);
        Assert.Equal(1, report.Applied);
        Assert.Equal(1, wootric.CreateCount);
    }

    /// <summary>Without Redis, work still waiting at shutdown is lost, and the gateway logs how much.</summary>
    [Fact]
    public async Task Sigterm_InMemoryLogsUnsyncedUsers()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);

        // Every create takes 60 s, so no user is synced before the 2 s shutdown timeout, and the
        // syncs running then are aborted.
        wootric.ApplyFaults(JsonNode.Parse("""{"rules":[{"method":"POST","path":"/v1/end_users","latency_ms":60000}]}""")!);
        var configuration = Configuration(wootric, upstream, new Dictionary<string, string?>
        {
            ["Gateway:ShutdownTimeout"] = "00:00:02",
            ["Wootric:RequestTimeout"] = "00:01:30",
        });

        using var stopped = await GatewayProcess.StartAsync(configuration, timeout.Token);
        using var client = TestTraffic.CreateClient();
        for (var i = 0; i < 3; i++)
        {
            using var response = await client.PostAsync(new Uri(stopped.ProxyAddress, "/v1/identify"), TestTraffic.Identify($"memory-user-{i}", $"m-memory-{i}"), timeout.Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        await AssertCreateStartedAsync(wootric, stopped, timeout.Token);

        stopped.Terminate();
        var exited = await stopped.WaitForExitAsync(TimeSpan.FromSeconds(45), timeout.Token);

        Assert.True(exited, "the gateway did not exit within 45 s of SIGTERM:\n" + stopped.Output);
        Assert.True(stopped.Output.Contains("Stopping with 3 users not yet synced to Wootric", StringComparison.Ordinal), "no lost in-memory work was logged:\n" + stopped.Output);
        Assert.True(stopped.Output.Contains(SyncAbortedInMemory, StringComparison.Ordinal), "no aborted in-memory sync was logged as lost:\n" + stopped.Output);
        Assert.False(stopped.Output.Contains(SyncAbortedWithRedis, StringComparison.Ordinal), "an aborted in-memory sync was logged as pending for another replica:\n" + stopped.Output);
        Assert.Equal(0, wootric.CreateCount);
    }

    /// <summary>Waits up to 60 s for the gateway's first create request to reach Wootric.</summary>
    private static async Task AssertCreateStartedAsync(FakeWootricServer wootric, GatewayProcess gateway, CancellationToken cancellationToken)
    {
        var createStarted = await Poll.UntilAsync(
            () => wootric.Requests.Any(request => request.Method == "POST" && request.Path == "/v1/end_users"),
            TimeSpan.FromSeconds(60),
            cancellationToken);
        Assert.True(createStarted, "the gateway sent no create to Wootric within 60 s:\n" + gateway.Output);
    }
}
