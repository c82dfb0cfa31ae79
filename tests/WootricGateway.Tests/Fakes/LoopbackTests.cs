using System.Net.Sockets;

namespace WootricGateway.Tests.Fakes;

/// <summary>Checks on the loopback helpers that other tests rely on for unreachable addresses.</summary>
public sealed class LoopbackTests
{
    [Fact]
    public async Task ClosedAddress_RefusesConnections()
    {
        var address = Loopback.ClosedAddress();
        using var client = new TcpClient();

        var error = await Assert.ThrowsAsync<SocketException>(() => client.ConnectAsync(address.Host, address.Port));

        Assert.Equal("127.0.0.3", address.Host);
        Assert.Equal(SocketError.ConnectionRefused, error.SocketErrorCode);
    }
}
