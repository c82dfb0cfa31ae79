using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Http;
using WootricGateway.Tests.Conformance;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.Clients;

/// <summary>
/// The real <c>@segment/analytics-next</c> browser library in Debian's headless Chromium, driven by
/// <c>tests/clients/analytics-browser.mjs</c> with playwright-core. The page comes from a loopback
/// origin other than the gateway's, so every request the library sends is cross-origin and, because
/// the library adds an <c>Authorization</c> header, preceded by a CORS preflight.
/// </summary>
public sealed class BrowserClientTests
{
    private const string WriteKey = "wk-browser-0001";
    /// <summary>Debian's Chromium, or <c>CHROMIUM_PATH</c>, which the driver script reads too.</summary>
    private static readonly string ChromiumPath = Environment.GetEnvironmentVariable("CHROMIUM_PATH") ?? "/usr/bin/chromium";
    private const string DeniedProbePath = "/v1/t-denied";

    [Theory]
    [InlineData("standard", "")]
    [InlineData("batching", "")]
    [InlineData("standard", "/segment")]
    [InlineData("batching", "/segment")]
    public async Task AnalyticsNext_ForwardedUnchangedAndSynced(string delivery, string pathPrefix)
    {
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is missing; install it with 'apt-get install chromium' (.ci/run does).");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(180));
        var cancellationToken = timeout.Token;
        await using var upstream = await RecordingUpstream.StartAsync(cancellationToken);
        upstream.Responder = RespondWithCors;
        await using var wootric = await FakeWootricServer.StartAsync(cancellationToken);
        var configuration = CaseRunner.BuildConfiguration(wootric, upstream, [new("Gateway:PathPrefix", pathPrefix)]);
        await using var gateway = await GatewayUnderTest.StartAsync(configuration, cancellationToken);
        var gatewayOrigin = gateway.ProxyAddress.GetLeftPart(UriPartial.Authority);

        using var report = await NodeClientRunner.RunAsync(
            "analytics-browser.mjs",
            [gatewayOrigin + pathPrefix, WriteKey, delivery],
            TimeSpan.FromSeconds(60));
        var root = report.RootElement;

        // The library loaded from loopback only and reported every event delivered.
        Assert.Equal("1.84.3", root.GetProperty("libraryVersion").GetString());
        Assert.Empty(root.GetProperty("outsideLoopback").EnumerateArray());
        Assert.Empty(root.GetProperty("pageErrors").EnumerateArray());
        var delivered = root.GetProperty("delivery");
        Assert.Empty(delivered.GetProperty("failures").EnumerateArray());
        Assert.All(delivered.GetProperty("delivered").EnumerateArray(), context => Assert.Equal(JsonValueKind.Null, context.GetProperty("failedDelivery").ValueKind));

        // Every request the browser sent to the gateway reached the upstream byte for byte. The one
        // request the browser held back is the probe whose preflight the upstream did not approve.
        var toGateway = root.GetProperty("requests").EnumerateArray()
            .Where(request => request.GetProperty("url").GetString()!.StartsWith(gatewayOrigin + "/", StringComparison.Ordinal))
            .ToList();
        var blocked = Assert.Single(toGateway, request => request.TryGetProperty("failed", out _));
        Assert.Equal("POST", blocked.GetProperty("method").GetString());
        Assert.Equal(gatewayOrigin + pathPrefix + DeniedProbePath, blocked.GetProperty("url").GetString());
        Assert.Equal("HeaderDisallowedByPreflightResponse", blocked.GetProperty("corsError").GetString());

        var sentRequests = toGateway.Where(request => !request.TryGetProperty("failed", out _)).ToList();
        var sent = sentRequests.Select(request => ToClientRequest(request, gatewayOrigin)).ToList();
        var pairs = ForwardingAssert.AssertForwardedUnchanged(sent, upstream.Exchanges, pathPrefix);

        // The browser got the upstream's responses, CORS headers included, unchanged.
        for (var i = 0; i < pairs.Count; i++)
        {
            var (request, received) = pairs[i];
            var seen = sentRequests[i].GetProperty("responseHeaders");
            foreach (var (name, value) in received.Response.Headers)
            {
                Assert.True(
                    seen.TryGetProperty(name, out var actual) && actual.GetString() == value,
                    $"{request.Method} {request.Target}: the browser did not get the upstream's {name}: {value}.");
            }

            Assert.Equal(received.Response.ContentType, seen.TryGetProperty("Content-Type", out var contentType) ? contentType.GetString() : null);
        }

        // The library's own requests use short paths (or /v1/b when batching), text/plain, and the
        // write key in the body and in Basic authentication. Each follows a preflight to the upstream.
        var basic = "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes(WriteKey + ":"));
        var libraryPosts = pairs.Where(pair => pair.Sent.Method == "POST" && pair.Received.Path != "/v1/t").ToList();
        var expectedPaths = delivery == "batching" ? new[] { "/v1/b" } : ["/v1/i", "/v1/p"];
        Assert.Equal(expectedPaths, libraryPosts.Select(pair => pair.Received.Path).Order(StringComparer.Ordinal).ToArray());
        foreach (var (request, received) in libraryPosts)
        {
            Assert.Equal("text/plain", request.GetHeader("Content-Type"));
            Assert.Equal(basic, request.GetHeader("Authorization"));
            Assert.Null(request.GetHeader("Content-Encoding"));
            using (var body = ForwardingAssert.ParseBody(request))
            {
                Assert.Equal(WriteKey, body.RootElement.GetProperty("writeKey").GetString());
            }

            var exchanges = upstream.Exchanges.ToList();
            var preflight = exchanges.FindIndex(exchange => exchange.Method == "OPTIONS" && exchange.Path == received.Path);
            Assert.True(preflight >= 0, $"no preflight for {received.Path} reached the upstream");
            Assert.True(preflight < exchanges.IndexOf(received), $"the preflight for {received.Path} reached the upstream after the POST");
            Assert.Equal("POST", exchanges[preflight].GetHeader("Access-Control-Request-Method"));
            Assert.Equal("authorization", exchanges[preflight].GetHeader("Access-Control-Request-Headers"));
            Assert.Null(exchanges[preflight].GetHeader("Authorization"));
        }

        // A JSON POST with a custom header passed its preflight and got the upstream's body. The
        // denied probe's preflight reached the upstream, but its POST did not.
        var probes = root.GetProperty("probes");
        Assert.Equal(200, probes.GetProperty("allowed").GetProperty("status").GetInt32());
        Assert.Equal("{\"success\":true}", probes.GetProperty("allowed").GetProperty("body").GetString());
        Assert.Contains(upstream.Exchanges, exchange => exchange.Method == "OPTIONS" && exchange.Path == "/v1/t" && exchange.GetHeader("Access-Control-Request-Headers") == "content-type,x-probe");
        Assert.Contains("Failed to fetch", probes.GetProperty("denied").GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Contains(upstream.Exchanges, exchange => exchange.Method == "OPTIONS" && exchange.Path == DeniedProbePath);
        Assert.DoesNotContain(upstream.Exchanges, exchange => exchange.Method == "POST" && exchange.Path == DeniedProbePath);

        // identify and page became one end user with the page visit.
        var expected = new ExpectedEndUser("browser-user-1", "browser.user@example.test", "1706933107", new Dictionary<string, string>
        {
            ["plan"] = "pro",
            ["company_name"] = "Acme",
            ["company_size"] = "40",
            ["beta"] = "true",
            ["last_page_url"] = root.GetProperty("pageUrl").GetString()!,
            ["last_seen_date"] = "1714564800",
        });
        var settled = await ExpectedEndUser.SettleAsync(gateway, wootric, cancellationToken, expected);
        ExpectedEndUser.AssertEndUsers(wootric, expected);
        Assert.True(settled.IsSettled, settled.LastObservation);
    }

    /// <summary>
    /// Converts one request recorded through the DevTools protocol. Its headers are the ones
    /// Chromium put on the wire; a header sent several times is one entry with values joined by
    /// newlines.
    /// </summary>
    private static ClientRequest ToClientRequest(JsonElement request, string gatewayOrigin)
    {
        var headers = request.GetProperty("headers").EnumerateObject()
            .SelectMany(header => header.Value.GetString()!.Split('\n').Select(value => new KeyValuePair<string, string>(header.Name, value)))
            .ToList();
        var body = request.TryGetProperty("bodyBase64", out var encoded) ? Convert.FromBase64String(encoded.GetString()!) : [];
        return new ClientRequest(
            request.GetProperty("method").GetString()!,
            request.GetProperty("url").GetString()![gatewayOrigin.Length..],
            headers,
            body,
            request.GetProperty("status").GetInt32());
    }

    /// <summary>
    /// Responds as a CORS-enabled ingestion API. Preflights get 204 approving the requested method
    /// and headers for the requesting origin, except on <see cref="DeniedProbePath"/>, where the
    /// approval of headers is missing. Other requests get Segment's usual JSON response.
    /// </summary>
    private static UpstreamResponse RespondWithCors(HttpRequest request)
    {
        var headers = new List<KeyValuePair<string, string>>
        {
            new("Access-Control-Allow-Origin", request.Headers.Origin.ToString()),
            new("Vary", "Origin"),
        };
        if (request.Method != HttpMethods.Options)
        {
            return UpstreamResponse.Default with { Headers = headers };
        }

        if (request.Path != DeniedProbePath)
        {
            headers.Add(new("Access-Control-Allow-Methods", "POST"));
            headers.Add(new("Access-Control-Allow-Headers", request.Headers.AccessControlRequestHeaders.ToString()));
            headers.Add(new("Access-Control-Max-Age", "0"));
        }

        return new UpstreamResponse(204, null, null, headers, TimeSpan.Zero);
    }
}
