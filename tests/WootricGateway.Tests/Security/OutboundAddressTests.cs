using System.Net;
using System.Net.Sockets;
using System.Text;
using WootricGateway.Tests.Conformance;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.Security;

/// <summary>
/// No request can change where the gateway sends the forwarded request or its Wootric calls: a
/// second recording upstream, named in every way a request can name a host, must receive nothing.
/// </summary>
public sealed class OutboundAddressTests
{
    /// <summary>Sends raw HTTP/1.1 bytes, so the request target can be absolute-form or start with //, and returns the status code.</summary>
    private static async Task<int> SendRawAsync(Uri proxy, string requestTarget, string host, string body, CancellationToken cancellationToken)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, proxy.Port, cancellationToken);
        await using var stream = tcp.GetStream();
        var bodyBytes = Encoding.UTF8.GetBytes(body);
        var head = $"POST {requestTarget} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nContent-Length: {bodyBytes.Length}\r\nConnection: close\r\n\r\n";
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head), cancellationToken);
        await stream.WriteAsync(bodyBytes, cancellationToken);

        using var reader = new StreamReader(stream, Encoding.ASCII);
        var statusLine = await reader.ReadLineAsync(cancellationToken) ?? throw new IOException("The gateway closed the connection without a response.");
        return int.Parse(statusLine.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    [Fact]
    public async Task CraftedRequests_CannotRedirectOutboundCalls()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var evil = await RecordingUpstream.StartAsync(timeout.Token);
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        await using var gateway = await GatewayUnderTest.StartAsync(
            CaseRunner.BuildConfiguration(wootric, upstream, new Dictionary<string, string?> { ["Wootric:PageVisits"] = "PageViews" }),
            timeout.Token);
        var evilAuthority = evil.BaseAddress.Authority;
        var evilUrl = evil.BaseAddress.GetLeftPart(UriPartial.Authority);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var sent = 0;

        string Identify(int n) => $$$$"""{"type":"identify","userId":"redirect-{{{{n}}}}","traits":{"email":"redirect-{{{{n}}}}@example.test","website":"{{{{evilUrl}}}}/","apiHost":"{{{{evilAuthority}}}}","host":"{{{{evilAuthority}}}}"},"context":{"page":{"url":"{{{{evilUrl}}}}/page"}},"integrations":{"Segment.io":{"apiHost":"{{{{evilAuthority}}}}/v1"}}}""";

        // Headers that name another host.
        var headerSets = new (string Name, string Value)[]
        {
            ("X-Forwarded-Host", evilAuthority),
            ("Forwarded", $"host={evilAuthority};proto=http"),
            ("X-Original-URL", evilUrl + "/v1/identify"),
            ("X-Rewrite-URL", evilUrl + "/v1/identify"),
            ("X-Forwarded-Proto", "http"),
            ("X-Forwarded-Prefix", evilUrl),
        };
        foreach (var (name, value) in headerSets)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(gateway.ProxyAddress, "/v1/identify")) { Content = new StringContent(Identify(sent), Encoding.UTF8, "application/json") };
            request.Headers.TryAddWithoutValidation(name, value);
            request.Headers.Host = evilAuthority;
            using var response = await client.SendAsync(request, timeout.Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            sent++;
        }

        // Request targets that name another host: absolute-form, a network-path reference and look-alikes.
        var targets = new[]
        {
            $"{evilUrl}/v1/identify",
            $"//{evilAuthority}/v1/identify",
            $"/{evilUrl}/v1/identify",
            $"/@{evilAuthority}/v1/identify",
            $"/v1/identify?url={Uri.EscapeDataString(evilUrl)}",
        };
        var rawStatuses = new List<int>();
        foreach (var target in targets)
        {
            rawStatuses.Add(await SendRawAsync(gateway.ProxyAddress, target, evilAuthority, Identify(sent), timeout.Token));
            sent++;
        }

        // A page event whose URL names the other host, recorded by Wootric as a page view.
        using (var page = await client.PostAsync(
            new Uri(gateway.ProxyAddress, "/v1/page"),
            new StringContent($$$"""{"type":"page","userId":"redirect-0","properties":{"url":"{{{evilUrl}}}/v1/end_users"}}""", Encoding.UTF8, "application/json"),
            timeout.Token))
        {
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        }

        // The page was sent last, so once its view is recorded every request has reached the store.
        // The backlog and a quiet window then cover the rest of the syncs.
        var settled = await gateway.WaitUntilSettledAsync(
            wootric,
            () => wootric.PageViews.Any(view => view.Url == evilUrl + "/v1/end_users"),
            timeout.Token);
        Assert.True(settled.IsSettled, settled.LastObservation);

        Assert.Empty(evil.Exchanges);
        Assert.All(rawStatuses, status => Assert.Equal(200, status));
        Assert.Equal(sent + 1, upstream.Exchanges.Count);
        Assert.All(upstream.Exchanges, exchange => Assert.Equal(upstream.BaseAddress.Authority, exchange.GetHeader("Host")));
        Assert.Contains(upstream.Exchanges, exchange => exchange.RawTarget == $"//{evilAuthority}/v1/identify");

        // The Wootric calls all went to the configured fake: users were created and the page view recorded.
        Assert.True(wootric.CreateCount >= 1, "The gateway made no Wootric calls, so the test shows nothing about where they go.");
        Assert.Contains(wootric.PageViews, view => view.Url == evilUrl + "/v1/end_users");
    }
}
