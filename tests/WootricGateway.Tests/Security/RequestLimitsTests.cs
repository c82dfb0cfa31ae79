using System.Net;
using System.Text;
using WootricGateway.Tests.Conformance;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.Security;

/// <summary>
/// Kestrel's request limits on the proxy listener: the defaults accept everything Segment accepts,
/// and the standard <c>Kestrel:Limits:*</c> keys lower them with Kestrel's own status codes.
/// </summary>
public sealed class RequestLimitsTests
{
    private static HttpClient CreateClient() => new(new SocketsHttpHandler { UseProxy = false, UseCookies = false, AutomaticDecompression = DecompressionMethods.None })
    {
        Timeout = TimeSpan.FromSeconds(30),
    };

    private static Task<GatewayUnderTest> StartAsync(RecordingUpstream upstream, CancellationToken cancellationToken, params (string Key, string Value)[] settings)
    {
        var configuration = new Dictionary<string, string?>
        {
            ["Upstream:Address"] = upstream.BaseAddress.ToString(),
            ["Logging:Console:LogLevel:Default"] = "None",
        };
        foreach (var (key, value) in settings)
        {
            configuration[key] = value;
        }

        return GatewayUnderTest.StartAsync(configuration, cancellationToken);
    }

    /// <summary>Returns a batch of track events padded to exactly <paramref name="size"/> bytes.</summary>
    private static byte[] BatchOfSize(int size)
    {
        var builder = new StringBuilder("{\"writeKey\":\"limits-key\",\"batch\":[");
        var index = 0;
        const int eventPadding = 30_000;
        while (builder.Length + eventPadding + 200 < size)
        {
            builder.Append(index == 0 ? "" : ",")
                .Append("{\"type\":\"track\",\"event\":\"e").Append(index).Append("\",\"userId\":\"u").Append(index)
                .Append("\",\"properties\":{\"pad\":\"").Append('x', eventPadding).Append("\"}}");
            index++;
        }

        builder.Append("],\"pad\":\"");
        var closing = "\"}";
        builder.Append('y', size - builder.Length - closing.Length).Append(closing);
        var body = Encoding.UTF8.GetBytes(builder.ToString());
        Assert.Equal(size, body.Length);
        return body;
    }

    [Theory]
    [InlineData(500_000)]
    [InlineData(512_000)]
    [InlineData(4_096_000)]
    public async Task DefaultLimits_AcceptSegmentSizedBodies(int size)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var gateway = await StartAsync(upstream, timeout.Token);
        using var client = CreateClient();
        var body = BatchOfSize(size);

        using var response = await client.PostAsync(new Uri(gateway.ProxyAddress, "/v1/batch"), new ByteArrayContent(body), timeout.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(body, Assert.Single(upstream.Exchanges).Body);
    }

    [Fact]
    public async Task DefaultLimits_AcceptLargeHeadersAndRequestLine()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var gateway = await StartAsync(upstream, timeout.Token);
        using var client = CreateClient();

        // Four 14 KB headers (56 KB with the rest) and a 15 KB query string, like a pixel request with a large data parameter.
        var query = "?data=" + new string('Q', 15_000);
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(gateway.ProxyAddress, "/v1/pixel/track" + query));
        for (var i = 0; i < 4; i++)
        {
            request.Headers.TryAddWithoutValidation($"X-Pad-{i}", new string((char)('a' + i), 14_000));
        }

        using var response = await client.SendAsync(request, timeout.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var exchange = Assert.Single(upstream.Exchanges);
        Assert.Equal("/v1/pixel/track" + query, exchange.RawTarget);
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal(new string((char)('a' + i), 14_000), exchange.GetHeader($"X-Pad-{i}"));
        }
    }

    [Fact]
    public async Task DefaultLimits_HeadersPastLimitGet431()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var gateway = await StartAsync(upstream, timeout.Token);
        using var client = CreateClient();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(gateway.ProxyAddress, "/v1/identify"))
        {
            Content = new StringContent("{\"userId\":\"u1\"}"),
        };
        for (var i = 0; i < 5; i++)
        {
            request.Headers.TryAddWithoutValidation($"X-Pad-{i}", new string('p', 14_000));
        }

        using var response = await client.SendAsync(request, timeout.Token);

        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, response.StatusCode);
        Assert.Empty(upstream.Exchanges);
        using var health = await client.GetAsync(new Uri(gateway.ManagementAddress, "/healthz"), timeout.Token);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task ConfiguredBodyLimit_Enforced()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var gateway = await StartAsync(upstream, timeout.Token, ("Kestrel:Limits:MaxRequestBodySize", "2000"));
        using var client = CreateClient();

        using var small = await client.PostAsync(new Uri(gateway.ProxyAddress, "/v1/batch"), new ByteArrayContent(BatchOfSize(1_900)), timeout.Token);
        using var large = await client.PostAsync(new Uri(gateway.ProxyAddress, "/v1/batch"), new ByteArrayContent(BatchOfSize(2_100)), timeout.Token);

        Assert.Equal(HttpStatusCode.OK, small.StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, large.StatusCode);
        Assert.Equal(1_900, Assert.Single(upstream.Exchanges).Body.Length);
    }

    [Fact]
    public async Task ConfiguredHeaderLimits_Enforced()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var gateway = await StartAsync(
            upstream,
            timeout.Token,
            ("Kestrel:Limits:MaxRequestHeadersTotalSize", "4096"),
            ("Kestrel:Limits:MaxRequestLineSize", "1024"));
        using var client = CreateClient();

        using var headers = new HttpRequestMessage(HttpMethod.Get, new Uri(gateway.ProxyAddress, "/v1/pixel/track"));
        headers.Headers.TryAddWithoutValidation("X-Pad", new string('p', 5_000));
        using var headersResponse = await client.SendAsync(headers, timeout.Token);
        using var line = await client.GetAsync(new Uri(gateway.ProxyAddress, "/v1/pixel/track?data=" + new string('q', 2_000)), timeout.Token);
        using var fits = await client.GetAsync(new Uri(gateway.ProxyAddress, "/v1/pixel/track?data=" + new string('q', 500)), timeout.Token);

        Assert.Equal(HttpStatusCode.RequestHeaderFieldsTooLarge, headersResponse.StatusCode);
        Assert.Equal(HttpStatusCode.RequestUriTooLong, line.StatusCode);
        Assert.Equal(HttpStatusCode.OK, fits.StatusCode);
        Assert.Single(upstream.Exchanges);
    }
}
