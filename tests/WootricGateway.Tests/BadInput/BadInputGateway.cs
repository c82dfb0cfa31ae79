using System.Net;
using System.Net.Http.Headers;
using WootricGateway.Tests.Conformance;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.BadInput;

/// <summary>
/// One gateway in front of a <see cref="RecordingUpstream"/>, with Wootric in dry-run mode, shared by
/// the tests of a class. It reads the tap counters and the log lines written since a mark.
/// </summary>
public sealed class BadInputGateway : IAsyncLifetime
{
    public const string TapRequestsMetric = "wootric_gateway_tap_requests_total";
    public const string TapEventsMetric = "wootric_gateway_tap_events_total";

    private RecordingUpstream? upstream;
    private GatewayUnderTest? gateway;

    internal RecordingUpstream Upstream => upstream ?? throw new InvalidOperationException("The fixture has not started.");

    internal GatewayUnderTest Gateway => gateway ?? throw new InvalidOperationException("The fixture has not started.");

    internal HttpClient Client { get; } = new(new SocketsHttpHandler { UseProxy = false, UseCookies = false, AutomaticDecompression = DecompressionMethods.None })
    {
        Timeout = TimeSpan.FromSeconds(30),
    };

    public async Task InitializeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        upstream = await RecordingUpstream.StartAsync(timeout.Token);
        gateway = await GatewayUnderTest.StartAsync(
            new Dictionary<string, string?>
            {
                ["Upstream:Address"] = upstream.BaseAddress.ToString(),
                ["Logging:Console:LogLevel:Default"] = "None",
            },
            timeout.Token);
    }

    public async Task DisposeAsync()
    {
        Client.Dispose();
        if (gateway is not null)
        {
            await gateway.DisposeAsync();
        }

        if (upstream is not null)
        {
            await upstream.DisposeAsync();
        }
    }

    /// <summary>Returns the tap request outcomes and tap event counters as they are now.</summary>
    internal async Task<(Dictionary<string, double> Requests, Dictionary<string, double> Events)> ReadTapCountersAsync(CancellationToken cancellationToken)
    {
        var text = await Client.GetStringAsync(new Uri(Gateway.ManagementAddress, "/metrics"), cancellationToken);
        return (MetricSamples.Read(text, TapRequestsMetric), MetricSamples.Read(text, TapEventsMetric));
    }

    /// <summary>
    /// Waits until, since <paramref name="before"/>, the tap request counters have moved by exactly
    /// <paramref name="expected"/> and each counter in <paramref name="expectedEvents"/> by its value,
    /// and both have stayed so for a short while. Gives up after <paramref name="timeout"/>. Returns
    /// the last change seen, which the caller compares with what it expected.
    /// </summary>
    /// <remarks>
    /// The parser counts a request's outcome before its events, and on a busy machine the parser
    /// thread, which runs at nice 19, can stall between the two. So both are waited for.
    /// </remarks>
    internal async Task<(Dictionary<string, double> Requests, Dictionary<string, double> Events)> WaitForTapAsync(
        (Dictionary<string, double> Requests, Dictionary<string, double> Events) before,
        IReadOnlyDictionary<string, double> expected,
        IReadOnlyDictionary<string, double> expectedEvents,
        TimeSpan timeout,
        CancellationToken cancellationToken)
    {
        var stableFor = TimeSpan.FromMilliseconds(150);
        var deadline = DateTime.UtcNow + timeout;
        DateTime? matchedAt = null;
        while (true)
        {
            var now = await ReadTapCountersAsync(cancellationToken);
            var delta = (MetricSamples.Delta(before.Requests, now.Requests), MetricSamples.Delta(before.Events, now.Events));
            var matches = delta.Item1.Count == expected.Count
                && expected.All(pair => delta.Item1.GetValueOrDefault(pair.Key) == pair.Value)
                && expectedEvents.All(pair => delta.Item2.GetValueOrDefault(pair.Key) == pair.Value);
            matchedAt = matches ? matchedAt ?? DateTime.UtcNow : null;
            if ((matchedAt is { } since && DateTime.UtcNow - since >= stableFor) || DateTime.UtcNow >= deadline)
            {
                return delta;
            }

            await Task.Delay(25, cancellationToken);
        }
    }

    /// <summary>Returns the log lines written since <paramref name="mark"/> (a <see cref="CapturedLogs.TotalCount"/>).</summary>
    internal IReadOnlyList<string> LogLinesSince(int mark) => Gateway.Logs.Tail(Math.Min(Gateway.Logs.TotalCount - mark, CapturedLogs.Capacity));

    /// <summary>Returns the lines that show a failure: Error or Critical level, or an attached exception.</summary>
    internal static List<string> FailureLines(IEnumerable<string> lines) =>
        [.. lines.Where(line => line.Contains(" Error ", StringComparison.Ordinal)
            || line.Contains(" Critical ", StringComparison.Ordinal)
            || line.Contains("Exception", StringComparison.Ordinal))];

    internal async Task<HttpStatusCode> GetHealthAsync(CancellationToken cancellationToken)
    {
        using var response = await Client.GetAsync(new Uri(Gateway.ManagementAddress, "/healthz"), cancellationToken);
        return response.StatusCode;
    }
}

/// <summary>A request body sent with chunked transfer encoding: its length is never computed.</summary>
internal sealed class ChunkedContent(byte[] body) : HttpContent
{
    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) => stream.WriteAsync(body).AsTask();

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}

/// <summary>Builds requests with headers exactly as given, skipping HttpClient's validation.</summary>
internal static class RawRequests
{
    private static readonly HashSet<string> ContentHeaderNames = new(StringComparer.OrdinalIgnoreCase)
    {
        "Content-Type", "Content-Encoding", "Content-Language", "Content-Location", "Content-MD5", "Content-Range", "Content-Disposition", "Expires", "Last-Modified", "Allow",
    };

    public static HttpRequestMessage Build(HttpMethod method, Uri address, byte[] body, bool chunked, IEnumerable<KeyValuePair<string, string>> headers)
    {
        HttpContent content = chunked ? new ChunkedContent(body) : new ByteArrayContent(body);
        var request = new HttpRequestMessage(method, address) { Content = content };
        foreach (var (name, value) in headers)
        {
            HttpHeaders target = ContentHeaderNames.Contains(name) ? content.Headers : request.Headers;
            Assert.True(target.TryAddWithoutValidation(name, value), $"HttpClient would not send header {name}.");
        }

        return request;
    }
}
