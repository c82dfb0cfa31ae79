using WootricGateway.Proxy;
using WootricGateway.Tests.Conformance;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.Proxy;

/// <summary>The startup line that reports where the proxy forwards requests (events 1202 and 1203).</summary>
public sealed class ProxyStartupReportTests
{
    private const string Category = "WootricGateway.Proxy.ProxyStartupReport";

    [Theory]
    [InlineData("http://gateway-user:s3cret@127.0.0.1:9000/base?writeKey=wk-secret#top", "http://127.0.0.1:9000/base")]
    [InlineData("https://api.segment.io", "https://api.segment.io:443/")]
    [InlineData("http://[::1]:8088/v1/", "http://[::1]:8088/v1/")]
    [InlineData("not a url", "(not an absolute URL)")]
    public void RedactAddress_SchemeHostPortPath(string address, string expected) =>
        Assert.Equal(expected, ProxyStartupReport.RedactAddress(address));

    [Fact]
    public async Task UpstreamAddress_LoggedAtStartup()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var port = Loopback.PickFreePort();
        var configuration = new Dictionary<string, string?>
        {
            ["Upstream:Address"] = $"http://127.0.0.1:{port}/segment",
        };

        await using var gateway = await GatewayUnderTest.StartAsync(configuration, timeout.Token);

        var lines = gateway.Logs.Tail(CapturedLogs.Capacity);
        var report = Assert.Single(lines, line => line.Contains(Category, StringComparison.Ordinal));
        Assert.EndsWith($"Information {Category}: Forwarding every request to http://127.0.0.1:{port}/segment (Upstream:Address)", report, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CustomReverseProxySection_LoggedAsCounts()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var port = Loopback.PickFreePort();
        var configuration = new Dictionary<string, string?>
        {
            ["Upstream:Address"] = "http://127.0.0.1:9/unused",
            ["ReverseProxy:Routes:batch:ClusterId"] = "segment",
            ["ReverseProxy:Routes:batch:Match:Path"] = "/v1/batch",
            ["ReverseProxy:Routes:rest:ClusterId"] = "segment",
            ["ReverseProxy:Routes:rest:Match:Path"] = "{**catch-all}",
            ["ReverseProxy:Clusters:segment:Destinations:main:Address"] = $"http://127.0.0.1:{port}/",
        };

        await using var gateway = await GatewayUnderTest.StartAsync(configuration, timeout.Token);

        var lines = gateway.Logs.Tail(CapturedLogs.Capacity);
        var report = Assert.Single(lines, line => line.Contains(Category, StringComparison.Ordinal));
        Assert.EndsWith(
            $"Information {Category}: Forwarding by the ReverseProxy configuration section (routes: 2, clusters: 1); Upstream:Address is not used",
            report,
            StringComparison.Ordinal);
    }
}
