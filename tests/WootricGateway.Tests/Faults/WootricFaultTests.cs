using System.Net;
using System.Text.Json.Nodes;
using WootricGateway.Tests.Conformance;
using WootricGateway.Tests.Fakes;
using Xunit.Abstractions;

namespace WootricGateway.Tests.Faults;

/// <summary>
/// Wootric misbehaving while traffic flows: every proxied request still gets the upstream's answer,
/// and the accounting check holds once the fault is cleared and the gateway settled.
/// </summary>
public sealed class WootricFaultTests(ITestOutputHelper output)
{
    private const string ClearFaults = """{"rules":[],"latency_ms":0,"rate_limit_per_minute":null}""";

    /// <summary>
    /// Fault cases: a name, the fake Wootric's fault settings (applied after a first round of traffic
    /// has settled, so tokens and ids are cached), and how many seconds they last, counted from the
    /// first Wootric request that meets them, before they are cleared.
    /// </summary>
    public static TheoryData<string, string, int> Cases => new()
    {
        { "500 on some calls", """{"rules":[{"path_prefix":"/v1/","status":500,"count":10}]}""", 3 },
        { "503 storm", """{"rules":[{"path_prefix":"/v1/","status":503}]}""", 4 },
        { "429 storm", """{"rate_limit_per_minute":6,"rate_limit_window_s":2}""", 4 },
        { "timeouts", """{"rules":[{"path_prefix":"/v1/","latency_ms":2500,"count":6}]}""", 3 },
        { "create applied, answer 504", """{"rules":[{"method":"POST","path":"/v1/end_users","status":504,"apply":true,"count":4}]}""", 3 },
        { "slow responses", """{"latency_ms":400}""", 3 },
        { "connection resets", """{"rules":[{"path_prefix":"/v1/","reset":true,"count":6}]}""", 3 },
        { "create applied, connection reset", """{"rules":[{"method":"POST","path":"/v1/end_users","reset":true,"apply":true,"count":4}]}""", 3 },
        { "update applied, connection reset", """{"rules":[{"method":"PUT","path_prefix":"/v1/end_users/","reset":true,"apply":true,"count":4}]}""", 3 },
        { "invalid JSON lookups", """{"rules":[{"method":"GET","path":"/v1/end_users/seeded-late","status":200,"body":"<html>proxy error</html>"},{"method":"GET","path":"/v1/end_users","status":200,"body":"<html>proxy error</html>"}]}""", 3 },
        { "revoked token", """{"revoke_tokens":true}""", 0 },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task WootricFault_EveryEventAccounted(string name, string faults, int faultSeconds)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(180));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        FaultTraffic.SeedWootric(wootric);
        await using var gateway = await GatewayUnderTest.StartAsync(Configuration(wootric, upstream), timeout.Token);
        using var client = TestTraffic.CreateClient();
        var traffic = new FaultTraffic("wf");
        Task<bool> AccountedAsync(CancellationToken token) =>
            EventAccounting.PassesAsync(upstream, wootric, [gateway.ManagementAddress], token, FaultTraffic.SeededUsers);

        var responses = (await traffic.SendRoundAsync(client, gateway.ProxyAddress, 4, timeout.Token)).ToList();
        var warm = await gateway.WaitUntilSettledAsync(wootric, TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(45), AccountedAsync, timeout.Token);
        Assert.True(warm.IsSettled, warm.LastObservation);

        // The fault lasts its time from the first Wootric request that meets it, so a machine slow
        // to deliver the second round still has that round run into the fault.
        var requestsBeforeFault = wootric.Requests.Count;
        wootric.ApplyFaults(JsonNode.Parse(faults)!);
        responses.AddRange(await traffic.SendRoundAsync(client, gateway.ProxyAddress, 8, timeout.Token));
        var faultMet = await Poll.UntilAsync(() => wootric.Requests.Count > requestsBeforeFault, TimeSpan.FromSeconds(30), timeout.Token);
        Assert.True(faultMet, "the gateway sent no request to Wootric within 30 s of the second round");
        await Task.Delay(TimeSpan.FromSeconds(faultSeconds), timeout.Token);
        wootric.ApplyFaults(JsonNode.Parse(ClearFaults)!);

        var settled = await gateway.WaitUntilSettledAsync(wootric, AccountedAsync, timeout.Token);
        var report = await EventAccounting.CheckAsync(upstream, wootric, [gateway.ManagementAddress], timeout.Token, FaultTraffic.SeededUsers);
        output.WriteLine($"{name}: {report}; Wootric requests {wootric.Requests.Count}, writes {wootric.WriteCount}");

        Assert.All(responses, response => Assert.Equal(HttpStatusCode.OK, response.Status));
        Assert.All(responses, response => Assert.Equal("{\"success\":true}", response.Body));
        Assert.True(settled.IsSettled, settled.LastObservation);
        Assert.Empty(report.Violations);
        Assert.Equal(0, report.DeadLettered);
        Assert.Equal(traffic.ResentCopies, report.Skipped);
        Assert.Equal(report.Accepted - traffic.ResentCopies, report.Applied);
    }

    [Fact]
    public async Task RejectedCredentials_DeadLetteredAndCounted()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        FaultTraffic.SeedWootric(wootric);
        await using var gateway = await GatewayUnderTest.StartAsync(Configuration(wootric, upstream), timeout.Token);
        using var client = TestTraffic.CreateClient();
        var traffic = new FaultTraffic("cred");

        // Every token is revoked and token requests fail: the credentials were withdrawn.
        wootric.ApplyFaults(JsonNode.Parse("""{"revoke_tokens":true,"rules":[{"path":"/oauth/token","status":401,"body":{"error":"invalid_client"}}]}""")!);
        var responses = await traffic.SendRoundAsync(client, gateway.ProxyAddress, 6, timeout.Token);

        var settled = await gateway.WaitUntilSettledAsync(
            wootric,
            token => EventAccounting.PassesAsync(upstream, wootric, [gateway.ManagementAddress], token, FaultTraffic.SeededUsers),
            timeout.Token);
        var report = await EventAccounting.CheckAsync(upstream, wootric, [gateway.ManagementAddress], timeout.Token, FaultTraffic.SeededUsers);
        output.WriteLine(report.ToString());

        Assert.All(responses, response => Assert.Equal(HttpStatusCode.OK, response.Status));
        Assert.True(settled.IsSettled, settled.LastObservation);
        Assert.Empty(report.Violations);
        Assert.Equal(0, report.Applied);
        Assert.Equal(traffic.ResentCopies, report.Skipped);
        Assert.Equal(report.Accepted - traffic.ResentCopies, report.DeadLettered);
        Assert.Equal(0, wootric.CreateCount);
    }

    internal static Dictionary<string, string?> Configuration(FakeWootricServer wootric, RecordingUpstream upstream, IEnumerable<KeyValuePair<string, string?>>? overrides = null) =>
        CaseRunner.BuildConfiguration(wootric, upstream, new Dictionary<string, string?>
        {
            ["Wootric:RequestsPerMinute"] = "6000",
            ["Wootric:RequestTimeout"] = "00:00:01",
            ["Delivery:MaxAttempts"] = "100",
        }.Concat(overrides ?? []));
}
