using System.Net.Sockets;

namespace WootricGateway.Proxy;

/// <summary>
/// Log-safe descriptions of a failed forward. Exception messages are never used, because
/// <see cref="HttpRequestException"/> messages can contain the request URL with its query string.
/// </summary>
internal static class ForwardingFailure
{
    /// <summary>
    /// Describes <paramref name="exception"/> by enum values and type names only: its
    /// <see cref="HttpRequestError"/>, or its type name when it has none, followed by the
    /// <see cref="SocketError"/> of the first inner <see cref="SocketException"/>. A refused
    /// connection reads <c>HttpRequestError.ConnectionError, SocketError.ConnectionRefused</c>.
    /// </summary>
    public static string DescribeCause(Exception? exception)
    {
        if (exception is null)
        {
            return "no exception";
        }

        var cause = exception switch
        {
            HttpRequestException request => $"HttpRequestError.{request.HttpRequestError}",
            HttpIOException io => $"HttpRequestError.{io.HttpRequestError}",
            SocketException socket => $"SocketError.{socket.SocketErrorCode}",
            _ => exception.GetType().Name,
        };

        for (var inner = exception.InnerException; inner is not null; inner = inner.InnerException)
        {
            if (inner is SocketException socket)
            {
                return $"{cause}, SocketError.{socket.SocketErrorCode}";
            }
        }

        return cause;
    }

    /// <summary>
    /// Returns <c>host:port</c> of a destination address, without userinfo, path or query, or
    /// <c>no destination</c> when none was chosen.
    /// </summary>
    public static string DescribeDestination(string? destinationAddress) =>
        Uri.TryCreate(destinationAddress, UriKind.Absolute, out var address)
            ? $"{address.Host}:{address.Port}"
            : "no destination";
}
