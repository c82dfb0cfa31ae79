using System.Globalization;
using System.Text;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.Conformance;

/// <summary>The checks on forwarding: client statuses, upstream paths and unchanged requests and responses.</summary>
internal sealed partial class CaseChecks
{
    /// <summary>Headers that apply to one connection and that a proxy may drop or change (RFC 9110, section 7.6.1).</summary>
    private static readonly HashSet<string> HopByHopHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "Connection", "Keep-Alive", "Proxy-Connection", "Proxy-Authenticate", "Proxy-Authorization", "TE", "Trailer", "Transfer-Encoding", "Upgrade",
    };

    private void CheckClientStatuses()
    {
        if (expect.ClientStatuses is not { } expected)
        {
            return;
        }

        if (expected.Count != clientExchanges.Count)
        {
            Fail("expect.client_statuses", $"lists {expected.Count} status(es) but the runner sent {clientExchanges.Count} request(s).");
        }

        for (var i = 0; i < Math.Min(expected.Count, clientExchanges.Count); i++)
        {
            var exchange = clientExchanges[i];
            if (exchange.Status != expected[i])
            {
                var actual = exchange.Status?.ToString(CultureInfo.InvariantCulture) ?? $"no response ({exchange.Error})";
                Fail($"expect.client_statuses[{i}]", $"expected {expected[i]}, got {actual} for {DescribeSent(exchange.Request)}.");
            }
        }
    }

    /// <summary>Compares paths only, or path and query when the expected entry has a query.</summary>
    private void CheckUpstreamPaths()
    {
        if (expect.UpstreamPaths is not { } expected)
        {
            return;
        }

        var actual = upstreamExchanges.Select(exchange => exchange.RawTarget).ToList();
        if (expected.Count != actual.Count)
        {
            Fail("expect.upstream_paths", $"expected {expected.Count} request(s) at the upstream, got {actual.Count}: {string.Join(", ", actual)}.");
        }

        for (var i = 0; i < Math.Min(expected.Count, actual.Count); i++)
        {
            var received = expected[i].Contains('?', StringComparison.Ordinal) ? actual[i] : actual[i].Split('?', 2)[0];
            if (!string.Equals(expected[i], received, StringComparison.Ordinal))
            {
                Fail($"expect.upstream_paths[{i}]", $"expected '{expected[i]}', got '{received}'.");
            }
        }
    }

    /// <summary>
    /// Requires the upstream to have received exactly the sent requests in order, and every client
    /// to have received the upstream's response unchanged.
    /// </summary>
    private void CheckUpstreamUnchanged()
    {
        if (!expect.UpstreamUnchanged)
        {
            return;
        }

        const string field = "expect.upstream_unchanged";
        if (upstreamExchanges.Count != clientExchanges.Count)
        {
            Fail(field, $"the runner sent {clientExchanges.Count} request(s) but the upstream received {upstreamExchanges.Count}.");
        }

        for (var i = 0; i < Math.Min(upstreamExchanges.Count, clientExchanges.Count); i++)
        {
            CompareForwardedRequest($"{field} {DescribeSent(clientExchanges[i].Request)}", clientExchanges[i].Request, upstreamExchanges[i]);
            CompareRelayedResponse($"{field} {DescribeSent(clientExchanges[i].Request)}", upstreamExchanges[i], clientExchanges[i]);
        }
    }

    private void CompareForwardedRequest(string field, SentRequest sent, UpstreamExchange received)
    {
        if (!string.Equals(sent.Method, received.Method, StringComparison.Ordinal))
        {
            Fail(field, $"method: sent {sent.Method}, upstream received {received.Method}.");
        }

        if (!string.Equals(sent.Target, received.RawTarget, StringComparison.Ordinal))
        {
            Fail(field, $"path and query: sent '{sent.Target}', upstream received '{received.RawTarget}'.");
        }

        if (!sent.Body.AsSpan().SequenceEqual(received.Body))
        {
            Fail(field, $"body: {DescribeBodyDifference(sent.Body, received.Body)}.");
        }

        var sentHeaders = JoinHeaders(sent.Headers);
        var receivedHeaders = JoinHeaders(received.Headers);
        var ignored = IgnoredHeaders(sentHeaders, "Host", "Content-Length");
        CompareHeaders(field, "request header", sentHeaders, receivedHeaders, ignored, "sent", "upstream received");
        foreach (var (name, value) in receivedHeaders)
        {
            if (!sentHeaders.ContainsKey(name) && !ignored.Contains(name) && !name.StartsWith("X-Forwarded-", StringComparison.OrdinalIgnoreCase))
            {
                Fail(field, $"request header {name}: the upstream received '{value}', which the client did not send.");
            }
        }
    }

    private void CompareRelayedResponse(string field, UpstreamExchange upstream, ClientExchange client)
    {
        if (client.Status is null)
        {
            Fail(field, $"the client got no response ({client.Error}).");
            return;
        }

        var upstreamResponse = upstream.Response;
        if (client.Status != upstreamResponse.Status)
        {
            Fail(field, $"response status: upstream sent {upstreamResponse.Status}, client got {client.Status}.");
        }

        var upstreamBody = upstreamResponse.Body ?? [];
        if (!upstreamBody.AsSpan().SequenceEqual(client.Body))
        {
            Fail(field, $"response body: {DescribeBodyDifference(upstreamBody, client.Body)}.");
        }

        var upstreamHeaders = new List<KeyValuePair<string, string>>(upstreamResponse.Headers);
        if (upstreamResponse.ContentType is not null)
        {
            upstreamHeaders.Add(new("Content-Type", upstreamResponse.ContentType));
        }

        var sentHeaders = JoinHeaders(upstreamHeaders);
        var clientHeaders = JoinHeaders(client.Headers);
        var ignored = IgnoredHeaders(clientHeaders, "Content-Length", "Date", "Server");
        CompareHeaders(field, "response header", sentHeaders, clientHeaders, ignored, "upstream sent", "client got");
        foreach (var (name, value) in clientHeaders)
        {
            if (!sentHeaders.ContainsKey(name) && !ignored.Contains(name))
            {
                Fail(field, $"response header {name}: the client got '{value}', which the upstream did not send.");
            }
        }
    }

    private void CompareHeaders(
        string field,
        string kind,
        Dictionary<string, string> expected,
        Dictionary<string, string> actual,
        HashSet<string> ignored,
        string expectedSide,
        string actualSide)
    {
        foreach (var (name, value) in expected)
        {
            if (ignored.Contains(name))
            {
                continue;
            }

            var actualValue = actual.GetValueOrDefault(name);
            if (!string.Equals(value, actualValue, StringComparison.Ordinal))
            {
                Fail(field, $"{kind} {name}: {expectedSide} '{value}', {actualSide} {TextValues.Describe(actualValue)}.");
            }
        }
    }

    private static string DescribeSent(SentRequest sent) =>
        sent.Source.Repeat == 1 ? sent.Source.Label : $"{sent.Source.Label} repetition {sent.Repetition}";

    /// <summary>Returns headers by name (ignoring case) with repeated values joined by ", ".</summary>
    private static Dictionary<string, string> JoinHeaders(IEnumerable<KeyValuePair<string, string>> headers) =>
        headers
            .GroupBy(header => header.Key, StringComparer.OrdinalIgnoreCase)
            .ToDictionary(group => group.Key, group => string.Join(", ", group.Select(header => header.Value)), StringComparer.OrdinalIgnoreCase);

    /// <summary>Returns the hop-by-hop headers, the headers a Connection header names, and <paramref name="others"/>.</summary>
    private static HashSet<string> IgnoredHeaders(Dictionary<string, string> headers, params string[] others)
    {
        var ignored = new HashSet<string>(HopByHopHeaders, StringComparer.OrdinalIgnoreCase);
        ignored.UnionWith(others);
        if (headers.TryGetValue("Connection", out var connection))
        {
            ignored.UnionWith(connection.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }

        return ignored;
    }

    private static string DescribeBodyDifference(byte[] expected, byte[] actual)
    {
        var length = Math.Min(expected.Length, actual.Length);
        var offset = 0;
        while (offset < length && expected[offset] == actual[offset])
        {
            offset++;
        }

        var summary = $"expected {expected.Length} bytes, got {actual.Length}, first difference at byte {offset}";
        const int maxPreviewBytes = 300;
        if (expected.Length <= maxPreviewBytes && actual.Length <= maxPreviewBytes && IsUtf8(expected) && IsUtf8(actual))
        {
            summary += $": expected '{Encoding.UTF8.GetString(expected)}', got '{Encoding.UTF8.GetString(actual)}'";
        }

        return summary;
    }

    private static bool IsUtf8(byte[] bytes) => System.Text.Unicode.Utf8.IsValid(bytes);
}
