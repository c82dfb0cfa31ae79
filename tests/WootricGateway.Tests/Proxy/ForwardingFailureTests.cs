using System.Net.Sockets;
using WootricGateway.Proxy;

namespace WootricGateway.Tests.Proxy;

/// <summary>The cause and destination that the forwarding-failure log line (event 1201) shows.</summary>
public sealed class ForwardingFailureTests
{
    private const string SecretUrl = "http://gateway-user:s3cret@127.0.0.1:9/v1/identify?writeKey=wk-secret";

    public static TheoryData<Exception?, string> Causes => new()
    {
        { null, "no exception" },
        {
            new HttpRequestException(HttpRequestError.ConnectionError, $"Connection refused ({SecretUrl})", new SocketException((int)SocketError.ConnectionRefused)),
            "HttpRequestError.ConnectionError, SocketError.ConnectionRefused"
        },
        { new HttpRequestException(HttpRequestError.NameResolutionError, SecretUrl), "HttpRequestError.NameResolutionError" },
        { new HttpIOException(HttpRequestError.ResponseEnded, SecretUrl), "HttpRequestError.ResponseEnded" },
        { new IOException(SecretUrl, new SocketException((int)SocketError.ConnectionReset)), "IOException, SocketError.ConnectionReset" },
        { new IOException(SecretUrl, new IOException(SecretUrl, new SocketException((int)SocketError.TimedOut))), "IOException, SocketError.TimedOut" },
        { new SocketException((int)SocketError.HostUnreachable), "SocketError.HostUnreachable" },
        { new TaskCanceledException(SecretUrl, new TimeoutException(SecretUrl)), "TaskCanceledException" },
    };

    [Theory]
    [MemberData(nameof(Causes))]
    public void DescribeCause_EnumsAndTypeNamesOnly(Exception? exception, string expected)
    {
        var cause = ForwardingFailure.DescribeCause(exception);

        Assert.Equal(expected, cause);
        Assert.DoesNotContain("s3cret", cause, StringComparison.Ordinal);
        Assert.DoesNotContain("wk-secret", cause, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(SecretUrl, "127.0.0.1:9")]
    [InlineData("https://api.segment.io", "api.segment.io:443")]
    [InlineData("http://[::1]:8088/base/", "[::1]:8088")]
    [InlineData(null, "no destination")]
    public void DescribeDestination_HostAndPortOnly(string? address, string expected) =>
        Assert.Equal(expected, ForwardingFailure.DescribeDestination(address));
}
