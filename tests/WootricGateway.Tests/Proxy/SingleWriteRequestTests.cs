using System.Net;
using System.Net.Sockets;
using System.Text;
using WootricGateway.Tests.Conformance;

namespace WootricGateway.Tests.Proxy;

/// <summary>
/// What the upstream receives, read off a plain socket: a request that declares its length reaches the
/// upstream with its head and body together, byte for byte, and nothing of it goes out before the body.
/// </summary>
public sealed class SingleWriteRequestTests
{
    private static readonly TimeSpan QuietWindow = TimeSpan.FromMilliseconds(500);

    [Fact]
    public async Task DeclaredLength_HeadSentWithBody()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var listener = StartUpstreamListener();
        await using var gateway = await StartGatewayAsync(listener, timeout.Token);

        var body = Encoding.UTF8.GetBytes("{\"batch\":[{\"type\":\"track\",\"event\":\"Signed Up\",\"userId\":\"u1\",\"messageId\":\"m1\"}]}");
        var head = Encoding.ASCII.GetBytes(
            "POST /v1/batch HTTP/1.1\r\n" +
            $"Host: {gateway.ProxyAddress.Authority}\r\n" +
            "Content-Type: application/json\r\n" +
            "X-Test-Header: kept\r\n" +
            $"Content-Length: {body.Length}\r\n\r\n");

        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, gateway.ProxyAddress.Port, timeout.Token);
        var clientStream = client.GetStream();

        // The head alone: the gateway connects to the upstream, but sends nothing yet.
        await clientStream.WriteAsync(head, timeout.Token);
        using var upstream = await listener.AcceptTcpClientAsync(timeout.Token);
        var upstreamStream = upstream.GetStream();
        var buffer = new byte[64 * 1024];
        var early = upstreamStream.ReadAsync(buffer, timeout.Token).AsTask();
        var first = await Task.WhenAny(early, Task.Delay(QuietWindow, timeout.Token));
        Assert.NotSame(early, first);

        // The body: head and body then arrive in one piece.
        await clientStream.WriteAsync(body, timeout.Token);
        var received = await early;
        var forwarded = buffer.AsSpan(0, received).ToArray();
        var headEnd = forwarded.AsSpan().IndexOf("\r\n\r\n"u8);
        Assert.True(headEnd > 0, "The first read holds no complete request head.");
        Assert.Equal(body, forwarded[(headEnd + 4)..]);
        var forwardedHead = Encoding.ASCII.GetString(forwarded, 0, headEnd);
        Assert.StartsWith("POST /v1/batch HTTP/1.1\r\n", forwardedHead, StringComparison.Ordinal);
        Assert.Contains($"Content-Length: {body.Length}\r\n", forwardedHead + "\r\n", StringComparison.Ordinal);
        Assert.Contains("X-Test-Header: kept\r\n", forwardedHead + "\r\n", StringComparison.Ordinal);
        Assert.Contains("Content-Type: application/json\r\n", forwardedHead + "\r\n", StringComparison.Ordinal);

        // The upstream's response reaches the client unchanged.
        await upstreamStream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 16\r\nContent-Type: application/json\r\n\r\n{\"success\":true}"u8.ToArray(), timeout.Token);
        var response = await ReadResponseAsync(clientStream, timeout.Token);
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", response, StringComparison.Ordinal);
        Assert.EndsWith("\r\n\r\n{\"success\":true}", response, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChunkedBody_ForwardedUnchanged()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        using var listener = StartUpstreamListener();
        await using var gateway = await StartGatewayAsync(listener, timeout.Token);
        const string Json = "{\"userId\":\"u1\",\"traits\":{\"email\":\"a@example.com\"}}";

        using var client = new TcpClient();
        await client.ConnectAsync(IPAddress.Loopback, gateway.ProxyAddress.Port, timeout.Token);
        var clientStream = client.GetStream();
        var request = "POST /v1/identify HTTP/1.1\r\n" +
            $"Host: {gateway.ProxyAddress.Authority}\r\n" +
            "Content-Type: application/json\r\n" +
            "Transfer-Encoding: chunked\r\n\r\n" +
            $"{Json.Length:x}\r\n{Json}\r\n0\r\n\r\n";
        await clientStream.WriteAsync(Encoding.ASCII.GetBytes(request), timeout.Token);

        using var upstream = await listener.AcceptTcpClientAsync(timeout.Token);
        var upstreamStream = upstream.GetStream();
        var forwarded = await ReadUntilAsync(upstreamStream, "\r\n0\r\n\r\n", timeout.Token);
        Assert.Contains("Transfer-Encoding: chunked\r\n", forwarded, StringComparison.Ordinal);
        Assert.EndsWith($"\r\n\r\n{Json.Length:x}\r\n{Json}\r\n0\r\n\r\n", forwarded, StringComparison.Ordinal);

        await upstreamStream.WriteAsync("HTTP/1.1 200 OK\r\nContent-Length: 16\r\n\r\n{\"success\":true}"u8.ToArray(), timeout.Token);
        var response = await ReadResponseAsync(clientStream, timeout.Token);
        Assert.StartsWith("HTTP/1.1 200 OK\r\n", response, StringComparison.Ordinal);
    }

    /// <summary>Starts a plain TCP listener on loopback that plays the upstream.</summary>
    private static TcpListener StartUpstreamListener()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return listener;
    }

    /// <summary>Starts a gateway that forwards to <paramref name="listener"/>.</summary>
    private static Task<GatewayUnderTest> StartGatewayAsync(TcpListener listener, CancellationToken cancellationToken)
    {
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        return GatewayUnderTest.StartAsync(
            new Dictionary<string, string?> { ["Upstream:Address"] = $"http://127.0.0.1:{port}/" }, cancellationToken);
    }

    /// <summary>Reads until the text ends with <paramref name="end"/>. The requests and responses in these tests are short.</summary>
    private static async Task<string> ReadUntilAsync(NetworkStream stream, string end, CancellationToken cancellationToken)
    {
        var text = new StringBuilder();
        var buffer = new byte[4096];
        while (!text.ToString().EndsWith(end, StringComparison.Ordinal))
        {
            var read = await stream.ReadAsync(buffer, cancellationToken);
            Assert.True(read > 0, $"The connection closed after: {text}");
            text.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        return text.ToString();
    }

    private static Task<string> ReadResponseAsync(NetworkStream stream, CancellationToken cancellationToken) =>
        ReadUntilAsync(stream, "{\"success\":true}", cancellationToken);
}
