using System.Text;
using System.Text.Json;
using WootricGateway.Tests.Conformance;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.Clients;

/// <summary>
/// Node server libraries other than the small <c>@segment/analytics-node</c> run: a large batch from
/// <c>@segment/analytics-node</c>, the legacy <c>analytics-node</c> package, and RudderStack's
/// <c>@rudderstack/rudder-sdk-node</c> (gzip) in front of a RudderStack-like upstream.
/// </summary>
public sealed class NodeServerClientTests
{
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(150);
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task AnalyticsNode_LargeBatchForwardedAndTapped()
    {
        const string writeKey = "wk-node-large-0001";
        using var timeout = new CancellationTokenSource(TestTimeout);
        var cancellationToken = timeout.Token;
        await using var upstream = await RecordingUpstream.StartAsync(cancellationToken);
        await using var wootric = await FakeWootricServer.StartAsync(cancellationToken);
        await using var gateway = await GatewayUnderTest.StartAsync(CaseRunner.BuildConfiguration(wootric, upstream), cancellationToken);

        using var report = await NodeClientRunner.RunAsync(
            "analytics-node.mjs",
            [gateway.ProxyAddress.GetLeftPart(UriPartial.Authority), writeKey, "large"],
            ClientTimeout);

        var root = report.RootElement;
        Assert.Empty(root.GetProperty("failures").EnumerateArray());
        var sent = root.GetProperty("sent").EnumerateArray().Select(request => new ClientRequest(
            request.GetProperty("method").GetString()!,
            new Uri(request.GetProperty("url").GetString()!).PathAndQuery,
            [.. request.GetProperty("headers").EnumerateObject().Select(header => new KeyValuePair<string, string>(header.Name, header.Value.GetString()!))],
            Encoding.UTF8.GetBytes(request.GetProperty("body").GetString()!),
            null)).ToList();

        // All 400 events went in one request of more than 400 KB, and it arrived byte for byte.
        var batch = Assert.Single(sent);
        Assert.Equal("/v1/batch", batch.Target);
        Assert.True(batch.Body.Length > 400 * 1024, $"expected a batch over 400 KB, the library sent {batch.Body.Length} bytes");
        using (var body = ForwardingAssert.ParseBody(batch))
        {
            Assert.Equal(400, body.RootElement.GetProperty("batch").GetArrayLength());
        }

        ForwardingAssert.AssertForwardedUnchanged(sent, upstream.Exchanges);

        ExpectedEndUser[] expected =
        [
            new ExpectedEndUser("node-user-2", "node.two@example.test", "1700000000", new Dictionary<string, string>
            {
                ["region"] = "eu",
                ["last_page_url"] = "https://app.example.test/import",
                ["last_seen_date"] = "1717320600",
            }),
        ];
        var settled = await ExpectedEndUser.SettleAsync(gateway, wootric, cancellationToken, expected);
        ExpectedEndUser.AssertEndUsers(wootric, expected);
        Assert.True(settled.IsSettled, settled.LastObservation);
    }

    [Fact]
    public async Task LegacyAnalyticsNode_ForwardedUnchangedAndSynced()
    {
        const string writeKey = "wk-legacy-0001";
        using var timeout = new CancellationTokenSource(TestTimeout);
        var cancellationToken = timeout.Token;
        await using var upstream = await RecordingUpstream.StartAsync(cancellationToken);
        await using var wootric = await FakeWootricServer.StartAsync(cancellationToken);
        await using var gateway = await GatewayUnderTest.StartAsync(CaseRunner.BuildConfiguration(wootric, upstream), cancellationToken);

        using var report = await NodeClientRunner.RunAsync(
            "analytics-node-legacy.mjs",
            [gateway.ProxyAddress.GetLeftPart(UriPartial.Authority), writeKey],
            ClientTimeout);

        var root = report.RootElement;
        Assert.Equal("6.2.0", root.GetProperty("libraryVersion").GetString());
        Assert.Empty(root.GetProperty("failures").EnumerateArray());
        var sent = ClientRequest.FromRelay(root.GetProperty("sent"));
        var pairs = ForwardingAssert.AssertForwardedUnchanged(sent, upstream.Exchanges);

        // Every request is a JSON batch to /v1/batch with the key only in Basic authentication, and
        // one of them is the large batch of more than 400 KB.
        var basic = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(writeKey + ":"));
        foreach (var (request, _) in pairs)
        {
            Assert.Equal("POST", request.Method);
            Assert.Equal("/v1/batch", request.Target);
            Assert.Equal("application/json", request.GetHeader("Content-Type"));
            Assert.Equal(basic, request.GetHeader("Authorization"));
            Assert.Null(request.GetHeader("Content-Encoding"));
            using var body = ForwardingAssert.ParseBody(request);
            Assert.False(body.RootElement.TryGetProperty("writeKey", out _));
        }

        Assert.Contains(sent, request => request.Body.Length > 400 * 1024);

        ExpectedEndUser[] expected =
        [
            new ExpectedEndUser("legacy-user-1", "legacy.user@example.test", "1699784430", new Dictionary<string, string>
            {
                ["plan"] = "starter",
                ["tags"] = "a,b",
                ["last_page_url"] = "https://app.example.test/settings",
                ["last_seen_date"] = "1717228800",
            }),
            new ExpectedEndUser("legacy-user-2", "legacy.two@example.test", "1700000000", new Dictionary<string, string>
            {
                ["team_size"] = "5",
                ["last_page_url"] = "https://app.example.test/import",
                ["last_seen_date"] = "1717320600",
            }),
        ];
        var settled = await ExpectedEndUser.SettleAsync(gateway, wootric, cancellationToken, expected);
        ExpectedEndUser.AssertEndUsers(wootric, expected);
        Assert.True(settled.IsSettled, settled.LastObservation);
    }

    [Fact]
    public async Task RudderSdkNode_GzipForwardedUnchangedAndSynced()
    {
        const string writeKey = "wk-rudder-0001";
        using var timeout = new CancellationTokenSource(TestTimeout);
        var cancellationToken = timeout.Token;
        await using var upstream = await RecordingUpstream.StartAsync(cancellationToken);
        upstream.Responder = RespondLikeRudderStack;
        await using var wootric = await FakeWootricServer.StartAsync(cancellationToken);
        await using var gateway = await GatewayUnderTest.StartAsync(CaseRunner.BuildConfiguration(wootric, upstream), cancellationToken);

        using var report = await NodeClientRunner.RunAsync(
            "rudder-sdk-node.mjs",
            [gateway.ProxyAddress.GetLeftPart(UriPartial.Authority), writeKey],
            ClientTimeout);

        var root = report.RootElement;
        Assert.Equal("3.0.13", root.GetProperty("libraryVersion").GetString());
        Assert.Empty(root.GetProperty("failures").EnumerateArray());
        var sent = ClientRequest.FromRelay(root.GetProperty("sent"));
        var pairs = ForwardingAssert.AssertForwardedUnchanged(sent, upstream.Exchanges);

        // The SDK gzips JSON but labels it as a form; the upstream accepted every request.
        var basic = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(writeKey + ":"));
        foreach (var (request, received) in pairs)
        {
            Assert.Equal("/v1/batch", request.Target);
            Assert.Equal("application/x-www-form-urlencoded", request.GetHeader("Content-Type"));
            Assert.Equal("gzip", request.GetHeader("Content-Encoding"));
            Assert.Equal(basic, request.GetHeader("Authorization"));
            Assert.Equal(200, received.Response.Status);
            Assert.Equal(200, request.Status);
        }

        // The identify of the second user carries its traits only in context.traits.
        var events = pairs.SelectMany(pair =>
        {
            using var body = ForwardingAssert.ParseBody(pair.Sent);
            return body.RootElement.GetProperty("batch").EnumerateArray().Select(item => JsonDocument.Parse(item.GetRawText())).ToList();
        }).ToList();
        var secondIdentify = Assert.Single(events, item => item.RootElement.GetProperty("type").GetString() == "identify" && item.RootElement.GetProperty("userId").GetString() == "rudder-user-2");
        Assert.False(secondIdentify.RootElement.TryGetProperty("traits", out _));
        Assert.Equal("rudder.two@example.test", secondIdentify.RootElement.GetProperty("context").GetProperty("traits").GetProperty("email").GetString());

        ExpectedEndUser[] expected =
        [
            new ExpectedEndUser("rudder-user-1", "rudder.user@example.test", "1458841605", new Dictionary<string, string>
            {
                ["plan"] = "enterprise",
                ["last_page_url"] = "https://app.example.test/billing",
                ["last_seen_date"] = "1719828000",
            }),
            new ExpectedEndUser("rudder-user-2", "rudder.two@example.test", null, new Dictionary<string, string>
            {
                ["role"] = "admin",
            }),
        ];
        var settled = await ExpectedEndUser.SettleAsync(gateway, wootric, cancellationToken, expected);
        ExpectedEndUser.AssertEndUsers(wootric, expected);
        Assert.True(settled.IsSettled, settled.LastObservation);
    }

    /// <summary>
    /// Responds as a RudderStack data plane does: 401 with a text reason unless Basic authentication
    /// carries a non-empty write key, else 200 with the plain-text body <c>ok</c>.
    /// </summary>
    private static UpstreamResponse RespondLikeRudderStack(Microsoft.AspNetCore.Http.HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        var hasKey = false;
        if (authorization.StartsWith("Basic ", StringComparison.Ordinal))
        {
            var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(authorization["Basic ".Length..]));
            hasKey = decoded.Split(':', 2)[0].Length > 0;
        }

        return hasKey
            ? new UpstreamResponse(200, "ok"u8.ToArray(), "text/plain; charset=utf-8", [], TimeSpan.Zero)
            : new UpstreamResponse(401, "failed to read writekey from header\n"u8.ToArray(), "text/plain; charset=utf-8", [], TimeSpan.Zero);
    }
}
