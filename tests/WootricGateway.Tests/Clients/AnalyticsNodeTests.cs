using System.Text;
using System.Text.Json;
using WootricGateway.Tests.Conformance;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.Clients;

/// <summary>
/// The real <c>@segment/analytics-node</c> library sends identify, page and track through a running
/// gateway to a recording upstream, with the fake Wootric behind the tap.
/// </summary>
public sealed class AnalyticsNodeTests
{
    private const string WriteKey = "wk-node-0001";

    [Fact]
    public async Task AnalyticsNode_ForwardedUnchangedAndSynced()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        var cancellationToken = timeout.Token;
        await using var upstream = await RecordingUpstream.StartAsync(cancellationToken);
        await using var wootric = await FakeWootricServer.StartAsync(cancellationToken);
        await using var gateway = await GatewayUnderTest.StartAsync(CaseRunner.BuildConfiguration(wootric, upstream), cancellationToken);

        using var report = await NodeClientRunner.RunAsync(
            "analytics-node.mjs",
            [gateway.ProxyAddress.GetLeftPart(UriPartial.Authority), WriteKey],
            TimeSpan.FromSeconds(60));

        // The library saw no delivery failure, and the upstream got exactly what it sent.
        var root = report.RootElement;
        Assert.Empty(root.GetProperty("failures").EnumerateArray());
        var sent = root.GetProperty("sent").EnumerateArray().ToList();
        Assert.NotEmpty(sent);
        var received = upstream.Exchanges;
        Assert.Equal(sent.Count, received.Count);
        for (var i = 0; i < sent.Count; i++)
        {
            var request = sent[i];
            var exchange = received[i];
            Assert.Equal(request.GetProperty("method").GetString(), exchange.Method);
            Assert.Equal(new Uri(request.GetProperty("url").GetString()!).PathAndQuery, exchange.RawTarget);
            Assert.Equal(request.GetProperty("body").GetString(), Encoding.UTF8.GetString(exchange.Body));
            foreach (var header in request.GetProperty("headers").EnumerateObject())
            {
                Assert.Equal(header.Value.GetString(), exchange.GetHeader(header.Name));
            }
        }

        // The identify and the page became one end user with the visit; the track changed nothing.
        var expected = new ExpectedEndUser("node-user-1", "node.user@example.test", "1706933107", new Dictionary<string, string>
        {
            ["plan"] = "team",
            ["seats"] = "12",
            ["last_page_url"] = "https://app.example.test/pricing",
            ["last_seen_date"] = "1714564800",
        });
        var settled = await ExpectedEndUser.SettleAsync(gateway, wootric, cancellationToken, expected);
        var user = Assert.Single(wootric.EndUsers);
        Assert.Equal("node-user-1", user.ExternalId);
        Assert.Equal("node.user@example.test", user.Email);
        Assert.Equal("1706933107", user.ExternalCreatedAt);
        Assert.Null(user.LastSurveyed);
        Assert.Equal(expected.Properties.ToDictionary(), user.Properties.ToDictionary());
        Assert.Equal(1, wootric.CreateCount);
        Assert.True(wootric.WriteCount <= 2, $"expected at most 2 Wootric writes, saw {wootric.WriteCount}");
        Assert.Empty(wootric.Violations);
        Assert.True(settled.IsSettled, settled.LastObservation);
    }
}
