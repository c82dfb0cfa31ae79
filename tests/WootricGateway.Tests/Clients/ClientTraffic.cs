using System.Text;
using System.Text.Json;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.Clients;

/// <summary>
/// One request as a client put it on the wire, recorded on the client side: method, target (path
/// and query), header names and values in order, body bytes, and the status the client got back
/// (null when it got none).
/// </summary>
internal sealed record ClientRequest(
    string Method,
    string Target,
    IReadOnlyList<KeyValuePair<string, string>> Headers,
    byte[] Body,
    int? Status)
{
    /// <summary>The path part of <see cref="Target"/>, without the query.</summary>
    public string Path => Target.Split('?', 2)[0];

    /// <summary>Returns every value of a header joined with ", ", or null when the client sent none.</summary>
    public string? GetHeader(string name)
    {
        var values = Headers.Where(header => string.Equals(header.Key, name, StringComparison.OrdinalIgnoreCase)).Select(header => header.Value).ToList();
        return values.Count == 0 ? null : string.Join(", ", values);
    }

    /// <summary>Reads the exchanges printed by <c>tests/clients/recording-relay.mjs</c>.</summary>
    public static IReadOnlyList<ClientRequest> FromRelay(JsonElement exchanges) =>
        [.. exchanges.EnumerateArray().Select(exchange => new ClientRequest(
            exchange.GetProperty("method").GetString()!,
            exchange.GetProperty("target").GetString()!,
            [.. exchange.GetProperty("headers").EnumerateArray().Select(pair => new KeyValuePair<string, string>(pair[0].GetString()!, pair[1].GetString()!))],
            Convert.FromBase64String(exchange.GetProperty("bodyBase64").GetString()!),
            exchange.TryGetProperty("status", out var status) ? status.GetInt32() : null))];
}

/// <summary>Checks that what clients sent reached the upstream unchanged.</summary>
internal static class ForwardingAssert
{
    /// <summary>
    /// Headers the proxy may change: YARP sends the destination's <c>Host</c>, and
    /// <c>Connection</c> and <c>Keep-Alive</c> are hop-by-hop.
    /// </summary>
    public static readonly IReadOnlySet<string> RewrittenHeaders = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { "Host", "Connection", "Keep-Alive" };

    /// <summary>
    /// Pairs every sent request with one upstream exchange of the same method, target (after
    /// removing <paramref name="pathPrefix"/>) and body bytes, and checks that each header the client
    /// sent, other than <see cref="RewrittenHeaders"/>, arrived with the same value and that the
    /// client got the upstream's status. Fails when the counts differ or a request has no match.
    /// Returns the pairs in the order of <paramref name="sent"/>.
    /// </summary>
    public static IReadOnlyList<(ClientRequest Sent, UpstreamExchange Received)> AssertForwardedUnchanged(
        IReadOnlyList<ClientRequest> sent,
        IReadOnlyList<UpstreamExchange> received,
        string pathPrefix = "")
    {
        Assert.True(
            sent.Count == received.Count,
            $"The client sent {sent.Count} request(s) but the upstream received {received.Count}.\nSent: {Describe(sent.Select(request => (request.Method, request.Target)))}\nReceived: {Describe(received.Select(exchange => (exchange.Method, exchange.RawTarget)))}");

        var unmatched = received.ToList();
        var pairs = new List<(ClientRequest, UpstreamExchange)>();
        foreach (var request in sent)
        {
            Assert.StartsWith(pathPrefix + "/", request.Target, StringComparison.Ordinal);
            var expectedTarget = request.Target[pathPrefix.Length..];
            var match = unmatched.FirstOrDefault(exchange =>
                exchange.Method == request.Method
                && exchange.RawTarget == expectedTarget
                && exchange.Body.AsSpan().SequenceEqual(request.Body));
            Assert.True(
                match is not null,
                $"No upstream request matches {request.Method} {request.Target} with its {request.Body.Length}-byte body; received: {Describe(unmatched.Select(exchange => (exchange.Method, exchange.RawTarget)))}");
            unmatched.Remove(match);

            foreach (var name in request.Headers.Select(header => header.Key).Distinct(StringComparer.OrdinalIgnoreCase))
            {
                if (!RewrittenHeaders.Contains(name))
                {
                    Assert.True(
                        request.GetHeader(name) == match.GetHeader(name),
                        $"{request.Method} {request.Target}: header {name} was sent as '{request.GetHeader(name)}' but the upstream received '{match.GetHeader(name)}'.");
                }
            }

            if (request.Status is { } status)
            {
                Assert.True(status == match.Response.Status, $"{request.Method} {request.Target}: the client got status {status}, the upstream sent {match.Response.Status}.");
            }

            pairs.Add((request, match));
        }

        return pairs;
    }

    /// <summary>Parses a request body as UTF-8 JSON, after gunzipping it when it is gzip-compressed.</summary>
    public static JsonDocument ParseBody(ClientRequest request)
    {
        var body = request.Body;
        if (string.Equals(request.GetHeader("Content-Encoding"), "gzip", StringComparison.OrdinalIgnoreCase))
        {
            using var input = new MemoryStream(body);
            using var gzip = new System.IO.Compression.GZipStream(input, System.IO.Compression.CompressionMode.Decompress);
            using var output = new MemoryStream();
            gzip.CopyTo(output);
            body = output.ToArray();
        }

        return JsonDocument.Parse(Encoding.UTF8.GetString(body));
    }

    private static string Describe(IEnumerable<(string Method, string Target)> requests) =>
        string.Join(", ", requests.Select(request => $"{request.Method} {request.Target}"));
}
