using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Microsoft.Extensions.Options;
using WootricGateway.Tests.Conformance;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.Security;

/// <summary>The management listener: its bearer token, its separation from the proxy and its bind address.</summary>
public sealed class ManagementSecurityTests
{
    private const string Token = "test-management-token-6f1d2c9a";

    private static readonly string[] ProtectedPaths = ["/metrics", "/admin/queue", "/admin/dead-letters", "/no-such-path"];

    private static HttpClient CreateClient() => new(new SocketsHttpHandler { UseProxy = false, UseCookies = false })
    {
        Timeout = TimeSpan.FromSeconds(10),
    };

    private static Task<GatewayUnderTest> StartAsync(RecordingUpstream upstream, string? token, CancellationToken cancellationToken) =>
        GatewayUnderTest.StartAsync(
            new Dictionary<string, string?>
            {
                ["Upstream:Address"] = upstream.BaseAddress.ToString(),
                ["Management:BearerToken"] = token,
                ["Logging:Console:LogLevel:Default"] = "None",
            },
            cancellationToken);

    private static async Task<HttpStatusCode> GetStatusAsync(HttpClient client, Uri address, string? authorization, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, address);
        if (authorization is not null)
        {
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        }

        using var response = await client.SendAsync(request, cancellationToken);
        return response.StatusCode;
    }

    [Fact]
    public async Task BearerToken_MissingOrWrong_Gets401()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var gateway = await StartAsync(upstream, Token, timeout.Token);
        using var client = CreateClient();

        foreach (var path in ProtectedPaths)
        {
            var address = new Uri(gateway.ManagementAddress, path);
            Assert.Equal(HttpStatusCode.Unauthorized, await GetStatusAsync(client, address, null, timeout.Token));
            Assert.Equal(HttpStatusCode.Unauthorized, await GetStatusAsync(client, address, "Bearer wrong-token-of-some-length", timeout.Token));
            Assert.Equal(HttpStatusCode.Unauthorized, await GetStatusAsync(client, address, "Bearer " + Token + "x", timeout.Token));
            Assert.Equal(HttpStatusCode.Unauthorized, await GetStatusAsync(client, address, "Bearer " + Token[..^1], timeout.Token));
            Assert.Equal(HttpStatusCode.Unauthorized, await GetStatusAsync(client, address, "Basic " + Convert.ToBase64String("admin:"u8.ToArray()), timeout.Token));
            Assert.Equal(HttpStatusCode.Unauthorized, await GetStatusAsync(client, address, Token, timeout.Token));
        }

        using var redrive = new HttpRequestMessage(HttpMethod.Post, new Uri(gateway.ManagementAddress, "/admin/dead-letters/redrive"));
        using var redriveResponse = await client.SendAsync(redrive, timeout.Token);
        Assert.Equal(HttpStatusCode.Unauthorized, redriveResponse.StatusCode);
        Assert.Equal("Bearer", redriveResponse.Headers.WwwAuthenticate.Single().Scheme);
        Assert.DoesNotContain(Token, await redriveResponse.Content.ReadAsStringAsync(timeout.Token), StringComparison.Ordinal);
    }

    [Fact]
    public async Task BearerToken_Right_Works()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var gateway = await StartAsync(upstream, Token, timeout.Token);
        using var client = CreateClient();

        Assert.Equal(HttpStatusCode.OK, await GetStatusAsync(client, new Uri(gateway.ManagementAddress, "/metrics"), "Bearer " + Token, timeout.Token));
        Assert.Equal(HttpStatusCode.OK, await GetStatusAsync(client, new Uri(gateway.ManagementAddress, "/admin/queue"), "bearer " + Token, timeout.Token));
        Assert.Equal(HttpStatusCode.OK, await GetStatusAsync(client, new Uri(gateway.ManagementAddress, "/admin/dead-letters"), "Bearer " + Token, timeout.Token));
        Assert.Equal(HttpStatusCode.NotFound, await GetStatusAsync(client, new Uri(gateway.ManagementAddress, "/no-such-path"), "Bearer " + Token, timeout.Token));

        using var redrive = new HttpRequestMessage(HttpMethod.Post, new Uri(gateway.ManagementAddress, "/admin/dead-letters/redrive"));
        redrive.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        using var redriveResponse = await client.SendAsync(redrive, timeout.Token);
        Assert.Equal(HttpStatusCode.OK, redriveResponse.StatusCode);
    }

    [Fact]
    public async Task BearerToken_ProbesStayOpen()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var gateway = await StartAsync(upstream, Token, timeout.Token);
        using var client = CreateClient();

        Assert.Equal(HttpStatusCode.OK, await GetStatusAsync(client, new Uri(gateway.ManagementAddress, "/healthz"), null, timeout.Token));
        Assert.Equal(HttpStatusCode.OK, await GetStatusAsync(client, new Uri(gateway.ManagementAddress, "/readyz"), null, timeout.Token));
        Assert.Equal(HttpStatusCode.OK, await GetStatusAsync(client, new Uri(gateway.ManagementAddress, "/healthz"), "Bearer wrong", timeout.Token));
    }

    [Fact]
    public async Task NoBearerToken_EverythingOpen()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var gateway = await StartAsync(upstream, null, timeout.Token);
        using var client = CreateClient();

        Assert.Equal(HttpStatusCode.OK, await GetStatusAsync(client, new Uri(gateway.ManagementAddress, "/metrics"), null, timeout.Token));
        Assert.Equal(HttpStatusCode.OK, await GetStatusAsync(client, new Uri(gateway.ManagementAddress, "/admin/queue"), null, timeout.Token));
    }

    [Theory]
    [InlineData("short")]
    [InlineData(" padded-token-with-spaces-1234 ")]
    public async Task BearerToken_Weak_FailsAtStartup(string token)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => StartAsync(upstream, token, timeout.Token));

        Assert.Contains("Management:BearerToken", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(token.Trim(), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ProxyListener_ForwardsManagementPathsWithToken()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var gateway = await StartAsync(upstream, Token, timeout.Token);
        using var client = CreateClient();
        string[] paths = ["/metrics", "/healthz", "/readyz", "/admin/queue", "/admin/dead-letters"];

        foreach (var path in paths)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(gateway.ProxyAddress, path));
            request.Headers.Host = gateway.ManagementAddress.Authority;
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
            using var response = await client.SendAsync(request, timeout.Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("{\"success\":true}", await response.Content.ReadAsStringAsync(timeout.Token));
        }

        using var redrive = new HttpRequestMessage(HttpMethod.Post, new Uri(gateway.ProxyAddress, "/admin/dead-letters/redrive"));
        redrive.Headers.Authorization = new AuthenticationHeaderValue("Bearer", Token);
        using var redriveResponse = await client.SendAsync(redrive, timeout.Token);
        Assert.Equal("{\"success\":true}", await redriveResponse.Content.ReadAsStringAsync(timeout.Token));

        Assert.Equal([.. paths, "/admin/dead-letters/redrive"], upstream.Exchanges.Select(exchange => exchange.Path));
        Assert.All(upstream.Exchanges, exchange => Assert.Equal("Bearer " + Token, exchange.GetHeader("Authorization")));
    }

    /// <summary>
    /// Tests aim only at loopback, so the second loopback address 127.0.0.2 (routed to the loopback
    /// interface on Linux) is used in place of another interface: a listener bound to 127.0.0.1 must not
    /// accept connections sent to it.
    /// </summary>
    [Fact]
    public async Task LoopbackBoundListener_NotReachableOnOtherAddress()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var gateway = await StartAsync(upstream, null, timeout.Token);
        var otherAddress = IPAddress.Parse("127.0.0.2");

        // Control: 127.0.0.2 itself accepts connections on this machine, so a refusal below comes from the bind.
        using (var control = new TcpListener(otherAddress, 0))
        {
            control.Start();
            using var probe = new TcpClient();
            await probe.ConnectAsync(otherAddress, ((IPEndPoint)control.LocalEndpoint).Port, timeout.Token);
            Assert.True(probe.Connected);
        }

        Assert.Equal("127.0.0.1", gateway.ManagementAddress.Host);
        using (var reachable = new TcpClient())
        {
            await reachable.ConnectAsync(IPAddress.Loopback, gateway.ManagementAddress.Port, timeout.Token);
            Assert.True(reachable.Connected);
        }

        using var unreachable = new TcpClient();
        var error = await Assert.ThrowsAsync<SocketException>(async () => await unreachable.ConnectAsync(otherAddress, gateway.ManagementAddress.Port, timeout.Token));
        Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
    }
}
