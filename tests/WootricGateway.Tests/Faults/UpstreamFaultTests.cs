using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using WootricGateway.Tests.Conformance;
using WootricGateway.Tests.Fakes;
using Xunit.Abstractions;

namespace WootricGateway.Tests.Faults;

/// <summary>
/// The upstream failing, slow, down or resetting: the client gets the upstream's own answer, or the
/// gateway's 502/504 with a JSON body, and only what the upstream accepted reaches Wootric.
/// </summary>
public sealed class UpstreamFaultTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData(500, "{\"error\":\"internal\"}")]
    [InlineData(503, "Service Unavailable")]
    [InlineData(429, "{\"error\":\"too many requests\"}")]
    public async Task UpstreamError_ReturnedUnchangedAndNotTapped(int status, string body)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        FaultTraffic.SeedWootric(wootric);
        await using var gateway = await GatewayUnderTest.StartAsync(WootricFaultTests.Configuration(wootric, upstream), timeout.Token);
        using var client = TestTraffic.CreateClient();
        var traffic = new FaultTraffic("ue");

        var accepted = await traffic.SendRoundAsync(client, gateway.ProxyAddress, 3, timeout.Token);
        upstream.Response = UpstreamResponse.Default with
        {
            Status = status,
            Body = Encoding.UTF8.GetBytes(body),
            ContentType = body.StartsWith('{') ? "application/json" : "text/plain",
            Headers = [new("Retry-After", "7")],
        };
        var rejected = new List<HttpResponseMessage>();
        for (var i = 0; i < 3; i++)
        {
            rejected.Add(await client.PostAsync(new Uri(gateway.ProxyAddress, "/v1/identify"), TestTraffic.Identify($"rejected-{i}", $"rejected-m-{i}"), timeout.Token));
        }

        var (settled, report) = await EventAccounting.SettleAsync(gateway, upstream, wootric, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(45), timeout.Token, FaultTraffic.SeededUsers);
        output.WriteLine(report.ToString());

        Assert.All(accepted, response => Assert.Equal(HttpStatusCode.OK, response.Status));
        foreach (var response in rejected)
        {
            Assert.Equal(status, (int)response.StatusCode);
            Assert.Equal(body, await response.Content.ReadAsStringAsync(timeout.Token));
            Assert.Equal("7", response.Headers.RetryAfter?.Delta?.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
            response.Dispose();
        }

        Assert.True(settled.IsSettled, settled.LastObservation);
        Assert.Empty(report.Violations);
        Assert.Equal(report.Accepted - traffic.ResentCopies, report.Applied);
        Assert.DoesNotContain(wootric.EndUsers, user => user.ExternalId?.StartsWith("rejected-", StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task UpstreamDown_502WithJsonBody()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);

        // A loopback address nothing listens on: every connection is refused.
        var closed = Loopback.ClosedAddress().ToString();
        await using var gateway = await GatewayUnderTest.StartAsync(
            WootricFaultTests.Configuration(wootric, upstream, [new("Upstream:Address", closed)]),
            timeout.Token);
        using var client = TestTraffic.CreateClient();

        var responses = await SendIdentifiesAsync(client, gateway.ProxyAddress, "down", 5, timeout.Token);

        // The tap counts a failed forward after the client has its response. Once all five are
        // counted, a short quiet window shows that none of them reaches Wootric.
        var settled = await gateway.WaitUntilSettledAsync(
            wootric,
            TimeSpan.FromMilliseconds(500),
            TimeSpan.FromSeconds(45),
            async token => await gateway.ReadTapOutcomeAsync("forward_failed", token) >= 5,
            timeout.Token);

        Assert.All(responses, response => Assert.Equal(HttpStatusCode.BadGateway, response.Status));
        Assert.All(responses, response => Assert.Equal("upstream_unavailable", JsonNode.Parse(response.Body)!["error"]!.GetValue<string>()));
        Assert.All(responses, response => Assert.Equal("application/json", response.ContentType));
        Assert.True(settled.IsSettled, settled.LastObservation);
        Assert.Empty(wootric.Requests);
    }

    [Fact]
    public async Task UpstreamReset_502WithJsonBody()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        await using var gateway = await GatewayUnderTest.StartAsync(WootricFaultTests.Configuration(wootric, upstream), timeout.Token);
        using var client = TestTraffic.CreateClient();

        upstream.Response = UpstreamResponse.Default with { ResetConnection = true };
        var reset = await SendIdentifiesAsync(client, gateway.ProxyAddress, "reset", 5, timeout.Token);
        upstream.Response = UpstreamResponse.Default;
        var after = await SendIdentifiesAsync(client, gateway.ProxyAddress, "after-reset", 3, timeout.Token);

        var (settled, report) = await EventAccounting.SettleAsync(gateway, upstream, wootric, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(45), timeout.Token);
        output.WriteLine(report.ToString());

        Assert.All(reset, response => Assert.Equal(HttpStatusCode.BadGateway, response.Status));
        Assert.All(reset, response => Assert.Equal("application/json", response.ContentType));
        Assert.All(after, response => Assert.Equal(HttpStatusCode.OK, response.Status));
        Assert.True(settled.IsSettled, settled.LastObservation);
        Assert.Empty(report.Violations);
        Assert.Equal(3, report.Accepted);
        Assert.Equal(3, report.Applied);
        Assert.Equal(3, wootric.CreateCount);
    }

    [Fact]
    public async Task UpstreamSlow_AnswerWaitedForOr504()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        await using var gateway = await GatewayUnderTest.StartAsync(
            WootricFaultTests.Configuration(wootric, upstream, [new("Upstream:ActivityTimeout", "00:00:06")]),
            timeout.Token);
        using var client = TestTraffic.CreateClient();

        // A first request compiles the proxy path and opens the upstream connection, which on a busy
        // machine can take a good part of a second and would otherwise count against the timeout below.
        var warm = await SendIdentifiesAsync(client, gateway.ProxyAddress, "warm", 1, timeout.Token);

        // Slower than usual but well within the activity timeout: the client waits for the upstream's response.
        upstream.Response = UpstreamResponse.Default with { Latency = TimeSpan.FromMilliseconds(1500) };
        var slow = await SendIdentifiesAsync(client, gateway.ProxyAddress, "slow", 4, timeout.Token);

        // Well past the activity timeout: the gateway gives up with 504 and taps nothing.
        upstream.Response = UpstreamResponse.Default with { Latency = TimeSpan.FromSeconds(12) };
        var stalled = await SendIdentifiesAsync(client, gateway.ProxyAddress, "stalled", 3, timeout.Token);

        var (settled, report) = await EventAccounting.SettleAsync(gateway, upstream, wootric, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(45), timeout.Token);
        output.WriteLine(report.ToString());

        Assert.Equal(HttpStatusCode.OK, Assert.Single(warm).Status);
        Assert.All(slow, response => Assert.Equal(HttpStatusCode.OK, response.Status));
        Assert.All(slow, response => Assert.Equal("{\"success\":true}", response.Body));
        Assert.All(stalled, response => Assert.Equal(HttpStatusCode.GatewayTimeout, response.Status));
        Assert.All(stalled, response => Assert.Equal("upstream_timeout", JsonNode.Parse(response.Body)!["error"]!.GetValue<string>()));
        Assert.True(settled.IsSettled, settled.LastObservation);
        Assert.Empty(report.Violations);
        Assert.Equal(5, report.Accepted);
        Assert.Equal(5, report.Applied);
        Assert.DoesNotContain(wootric.EndUsers, user => user.ExternalId?.StartsWith("stalled-", StringComparison.Ordinal) == true);
    }

    private static async Task<(HttpStatusCode Status, string Body, string? ContentType)[]> SendIdentifiesAsync(
        HttpClient client, Uri proxy, string prefix, int count, CancellationToken cancellationToken)
    {
        var sends = Enumerable.Range(0, count).Select(async i =>
        {
            using var response = await client.PostAsync(new Uri(proxy, "/v1/identify"), TestTraffic.Identify($"{prefix}-{i}", $"{prefix}-m-{i}"), cancellationToken);
            return (response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken), response.Content.Headers.ContentType?.MediaType);
        });
        return await Task.WhenAll(sends);
    }
}
