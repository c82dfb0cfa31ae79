using System.Net;
using System.Text;
using System.Text.Json;
using WootricGateway.Tests.Conformance;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.Proxy;

/// <summary>Forwarding cases the conformance files do not cover, against real listeners on loopback.</summary>
public sealed class ProxyForwardingTests
{
    private static HttpClient CreateClient() => new(new SocketsHttpHandler { AutomaticDecompression = DecompressionMethods.None, UseCookies = false })
    {
        Timeout = TimeSpan.FromSeconds(30),
    };

    private static Task<GatewayUnderTest> StartGatewayAsync(Uri upstream, CancellationToken cancellationToken) =>
        GatewayUnderTest.StartAsync(new Dictionary<string, string?> { ["Upstream:Address"] = upstream.ToString() }, cancellationToken);

    [Fact]
    public async Task LargeBatch_ForwardedByteForByte()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var gateway = await StartGatewayAsync(upstream.BaseAddress, timeout.Token);
        var events = Enumerable.Range(0, 300).Select(i => $"{{\"type\":\"track\",\"event\":\"e{i}\",\"userId\":\"u{i}\",\"properties\":{{\"pad\":\"{new string('x', 2000)}\"}}}}");
        var body = Encoding.UTF8.GetBytes("{\"batch\":[" + string.Join(',', events) + "]}");
        Assert.True(body.Length > 600_000);
        using var client = CreateClient();

        using var response = await client.PostAsync(new Uri(gateway.ProxyAddress, "/v1/batch"), new ByteArrayContent(body), timeout.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var exchange = Assert.Single(upstream.Exchanges);
        Assert.Equal(body, exchange.Body);
        Assert.Null(exchange.GetHeader("Content-Type"));
    }

    [Fact]
    public async Task Upstream429_RelayedWithRetryAfter()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        upstream.Response = UpstreamResponse.Default with
        {
            Status = 429,
            Body = "{\"error\":\"rate limited\"}"u8.ToArray(),
            Headers = [new("Retry-After", "7"), new("X-RateLimit-Reset", "1714564807")],
        };
        await using var gateway = await StartGatewayAsync(upstream.BaseAddress, timeout.Token);
        using var client = CreateClient();

        using var response = await client.PostAsync(new Uri(gateway.ProxyAddress, "/v1/i"), new StringContent("{\"userId\":\"u1\"}", Encoding.UTF8, "text/plain"), timeout.Token);

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(7), response.Headers.RetryAfter?.Delta);
        Assert.Equal("1714564807", response.Headers.GetValues("X-RateLimit-Reset").Single());
        Assert.Equal("{\"error\":\"rate limited\"}", await response.Content.ReadAsStringAsync(timeout.Token));
    }

    [Fact]
    public async Task UnreachableUpstream_Returns502Json()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var closed = Loopback.ClosedAddress();
        await using var gateway = await StartGatewayAsync(closed, timeout.Token);
        using var client = CreateClient();

        // Some clients send the write key in the query string. The log line must not contain it.
        using var response = await client.PostAsync(new Uri(gateway.ProxyAddress, "/v1/identify?writeKey=wk-secret"), new StringContent("{\"userId\":\"u1\"}"), timeout.Token);

        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(timeout.Token));
        Assert.Equal("upstream_unavailable", body.RootElement.GetProperty("error").GetString());

        // The middleware logs before it writes the body, so the line is there once the client has read it.
        const string Category = "WootricGateway.Proxy.ProxyMetricsMiddleware";
        var lines = gateway.Logs.Tail(CapturedLogs.Capacity);
        var failure = Assert.Single(lines, line => line.Contains(Category, StringComparison.Ordinal));
        Assert.EndsWith(
            $"Warning {Category}: Forwarding to {closed.Host}:{closed.Port} failed with Request (HttpRequestError.ConnectionError, SocketError.ConnectionRefused); responded 502",
            failure,
            StringComparison.Ordinal);
        Assert.DoesNotContain(lines, line => line.Contains("wk-secret", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ManagementPaths_ForwardedOnProxyListener()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var gateway = await StartGatewayAsync(upstream.BaseAddress, timeout.Token);
        using var client = CreateClient();

        foreach (var path in new[] { "/metrics", "/healthz", "/readyz", "/admin/queue" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(gateway.ProxyAddress, path));
            request.Headers.Host = gateway.ManagementAddress.Authority;
            using var response = await client.SendAsync(request, timeout.Token);
            Assert.Equal("{\"success\":true}", await response.Content.ReadAsStringAsync(timeout.Token));
        }

        Assert.Equal(["/metrics", "/healthz", "/readyz", "/admin/queue"], upstream.Exchanges.Select(exchange => exchange.Path));

        using var metrics = await client.GetAsync(new Uri(gateway.ManagementAddress, "/metrics"), timeout.Token);
        Assert.Contains("wootric_gateway_proxy_requests_total", await metrics.Content.ReadAsStringAsync(timeout.Token));
    }

    [Fact]
    public async Task ForwardedHeaders_AppendedNotReplaced()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var gateway = await StartGatewayAsync(upstream.BaseAddress, timeout.Token);
        using var client = CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(gateway.ProxyAddress, "/v1/t"))
        {
            Content = new StringContent("{}"),
        };
        request.Headers.TryAddWithoutValidation("X-Forwarded-For", "198.51.100.7");
        request.Headers.TryAddWithoutValidation("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");

        using var response = await client.SendAsync(request, timeout.Token);

        var exchange = Assert.Single(upstream.Exchanges);
        Assert.StartsWith("198.51.100.7", exchange.GetHeader("X-Forwarded-For"));
        Assert.Contains("127.0.0.1", exchange.GetHeader("X-Forwarded-For"));
        Assert.Equal("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", exchange.GetHeader("traceparent"));
        Assert.Equal(upstream.BaseAddress.Authority, exchange.GetHeader("Host"));
    }
}
