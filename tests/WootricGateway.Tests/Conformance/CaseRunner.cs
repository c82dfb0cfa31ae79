using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.Conformance;

/// <summary>A response the client got through the gateway, or the error that stopped it.</summary>
internal sealed record ClientExchange(
    SentRequest Request,
    int? Status,
    IReadOnlyList<KeyValuePair<string, string>> Headers,
    byte[] Body,
    string? Error);

/// <summary>The failed checks of one case run, and what the fakes and the gateway recorded.</summary>
internal sealed record CaseOutcome(ConformanceCase Case, IReadOnlyList<string> Failures, string Diagnostics)
{
    public string Report()
    {
        var report = new StringBuilder();
        report.AppendLine(CultureInfo.InvariantCulture, $"Case '{Case.Id}' ({Case.FilePath}) failed {Failures.Count} check(s):");
        foreach (var failure in Failures)
        {
            report.AppendLine(CultureInfo.InvariantCulture, $"  - {failure}");
        }

        report.AppendLine();
        report.Append(Diagnostics);
        return report.ToString();
    }
}

/// <summary>
/// Runs one conformance case end to end: a fresh fake Wootric, recording upstream and gateway,
/// the case's requests in order, a wait until the gateway is idle, then every expectation.
/// </summary>
internal static class CaseRunner
{
    public const string AccountToken = "NPS-test0001";

    /// <summary>Short retry delays, so retried Wootric calls finish well within a case's timeout.</summary>
    public const string RetryBaseDelay = "00:00:00.200";

    public const string RetryMaxDelay = "00:00:02";

    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan StartupAllowance = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The shortest limit for one settle wait. A case's <c>timeout_s</c> fits an idle machine, and a
    /// settle wait returns as soon as the gateway is idle, so the longer limit costs time only when
    /// a case fails.
    /// </summary>
    private static readonly TimeSpan MinimumSettleTimeout = TimeSpan.FromSeconds(60);

    private const int MaxListedWootricRequests = 120;
    private const int MaxListedLogLines = 80;

    /// <summary>Returns an upper bound for a whole case: every settle wait, every request and startup.</summary>
    public static TimeSpan GetCaseTimeout(ConformanceCase testCase)
    {
        var settleCount = 1 + testCase.Requests.Count(request => request.SettleBefore);
        var requestCount = testCase.Requests.Sum(request => request.Repeat);
        return (GetSettleTimeout(testCase) * settleCount) + (RequestTimeout * requestCount) + StartupAllowance;
    }

    /// <summary>Returns the limit for one settle wait: the case's <c>timeout_s</c>, but at least <see cref="MinimumSettleTimeout"/>.</summary>
    public static TimeSpan GetSettleTimeout(ConformanceCase testCase) =>
        testCase.Timeout > MinimumSettleTimeout ? testCase.Timeout : MinimumSettleTimeout;

    public static async Task<CaseOutcome> RunAsync(
        ConformanceCase testCase,
        CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string?>? storeConfiguration = null)
    {
        var failures = new List<string>();

        await using var wootric = await FakeWootricServer.StartAsync(cancellationToken);
        SeedEndUsers(testCase, wootric);
        if (testCase.WootricFaults is { } faults)
        {
            wootric.ApplyFaults(faults);
        }

        await using var upstream = await RecordingUpstream.StartAsync(cancellationToken);
        if (testCase.Upstream is { } upstreamSettings)
        {
            upstream.Response = UpstreamResponse.FromJson(upstreamSettings);
        }

        var gateway = await GatewayUnderTest.StartAsync(BuildConfiguration(testCase, wootric, upstream, storeConfiguration), cancellationToken);
        IReadOnlyList<ClientExchange> exchanges;
        try
        {
            exchanges = await PlayRequestsAsync(testCase, gateway, wootric, upstream, failures, cancellationToken);

            // The quiet window starts once every expectation is met, so a gateway that is slow to get
            // there is waited for, and the window still catches a write that comes after.
            var played = exchanges;
            var settleTimeout = GetSettleTimeout(testCase);
            var settle = await gateway.WaitUntilSettledAsync(
                wootric,
                testCase.SettleQuiet,
                settleTimeout,
                () => CaseChecks.Run(testCase, wootric, upstream, played).Count == 0,
                cancellationToken);
            if (!settle.IsSettled)
            {
                failures.Add($"{testCase.Id}: settle after the last request: the gateway was not idle within {settleTimeout.TotalSeconds:F0} s ({settle.LastObservation}).");
            }
        }
        finally
        {
            // Stopped before the checks, so the gateway cannot change Wootric while they run.
            await gateway.DisposeAsync();
        }

        failures.AddRange(CaseChecks.Run(testCase, wootric, upstream, exchanges));
        return new CaseOutcome(testCase, failures, Diagnose(wootric, upstream, gateway.Logs));
    }

    /// <summary>
    /// Returns the gateway configuration for a case: <see cref="BuildConfiguration(FakeWootricServer, RecordingUpstream, IEnumerable{KeyValuePair{string, string}})"/>,
    /// then <paramref name="storeConfiguration"/> (Redis settings, for example), then the case's own
    /// <c>config</c>, where a null value unsets a key.
    /// </summary>
    public static Dictionary<string, string?> BuildConfiguration(
        ConformanceCase testCase,
        FakeWootricServer wootric,
        RecordingUpstream upstream,
        IReadOnlyDictionary<string, string?>? storeConfiguration = null) =>
        BuildConfiguration(wootric, upstream, (storeConfiguration ?? new Dictionary<string, string?>()).Concat(testCase.Configuration));

    /// <summary>
    /// Returns a gateway configuration that points at the fakes: their addresses and credentials,
    /// short retry delays, the in-memory store and no console logging, then
    /// <paramref name="overrides"/>. The listener URLs are added by <see cref="GatewayUnderTest"/>.
    /// </summary>
    public static Dictionary<string, string?> BuildConfiguration(
        FakeWootricServer wootric,
        RecordingUpstream upstream,
        IEnumerable<KeyValuePair<string, string?>>? overrides = null)
    {
        var wootricAddress = wootric.BaseAddress.GetLeftPart(UriPartial.Authority);
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase)
        {
            ["Upstream:Address"] = upstream.BaseAddress.GetLeftPart(UriPartial.Authority),
            ["Wootric:AccountToken"] = AccountToken,
            ["Wootric:ClientId"] = wootric.ClientId,
            ["Wootric:ClientSecret"] = wootric.ClientSecret,
            ["Wootric:ApiBaseUrl"] = wootricAddress,
            ["Wootric:AuthBaseUrl"] = wootricAddress,
            ["Delivery:RetryBaseDelay"] = RetryBaseDelay,
            ["Delivery:RetryMaxDelay"] = RetryMaxDelay,
            ["Redis:Configuration"] = "",
            ["Logging:Console:LogLevel:Default"] = "None",
        };

        foreach (var (key, value) in overrides ?? [])
        {
            values[key] = value;
        }

        return values;
    }

    private static async Task<IReadOnlyList<ClientExchange>> PlayRequestsAsync(
        ConformanceCase testCase,
        GatewayUnderTest gateway,
        FakeWootricServer wootric,
        RecordingUpstream upstream,
        List<string> failures,
        CancellationToken cancellationToken)
    {
        using var client = CreateClient();
        var exchanges = new List<ClientExchange>();
        foreach (var request in testCase.Requests)
        {
            if (request.SettleBefore)
            {
                var settleTimeout = GetSettleTimeout(testCase);
                var settle = await gateway.WaitUntilSettledAsync(wootric, testCase.SettleQuiet, settleTimeout, cancellationToken);
                if (!settle.IsSettled)
                {
                    failures.Add($"{testCase.Id}: {request.Label}.settle_before: the gateway was not idle within {settleTimeout.TotalSeconds:F0} s ({settle.LastObservation}).");
                }
            }

            if (request.Upstream is { } upstreamSettings)
            {
                upstream.Response = UpstreamResponse.FromJson(upstreamSettings);
            }

            if (request.WootricFaults is { } faults)
            {
                wootric.ApplyFaults(faults);
            }

            for (var repetition = 1; repetition <= request.Repeat; repetition++)
            {
                var exchange = await SendAsync(client, request, repetition, gateway.ProxyAddress, cancellationToken);
                if (exchange.Error is not null)
                {
                    failures.Add($"{testCase.Id}: {request.Label}: the client got no response from the gateway: {exchange.Error}");
                }

                exchanges.Add(exchange);
            }
        }

        return exchanges;
    }

    /// <summary>Creates the client's HttpClient: no decompression, cookies, proxy or redirects, so responses arrive as sent.</summary>
    public static HttpClient CreateClient() =>
        new(new SocketsHttpHandler
        {
            AutomaticDecompression = System.Net.DecompressionMethods.None,
            UseCookies = false,
            UseProxy = false,
            AllowAutoRedirect = false,
        })
        {
            Timeout = RequestTimeout,
        };

    /// <summary>Sends one case request to <paramref name="address"/> and returns what the client got.</summary>
    public static async Task<ClientExchange> SendAsync(HttpClient client, CaseRequest request, int repetition, Uri address, CancellationToken cancellationToken)
    {
        var (message, sent) = CaseRequestBuilder.Build(request, repetition, address);
        using (message)
        {
            try
            {
                using var response = await client.SendAsync(message, HttpCompletionOption.ResponseContentRead, cancellationToken);
                var body = await response.Content.ReadAsByteArrayAsync(cancellationToken);
                var headers = response.Headers.NonValidated
                    .Concat(response.Content.Headers.NonValidated)
                    .Select(header => new KeyValuePair<string, string>(header.Key, header.Value.ToString()))
                    .ToList();
                return new ClientExchange(sent, (int)response.StatusCode, headers, body, null);
            }
            catch (HttpRequestException exception)
            {
                return new ClientExchange(sent, null, [], [], exception.Message);
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return new ClientExchange(sent, null, [], [], $"timed out after {RequestTimeout.TotalSeconds:F0} s");
            }
        }
    }

    /// <summary>Adds the case's <c>wootric_before</c> users to the fake, keeping their ids.</summary>
    private static void SeedEndUsers(ConformanceCase testCase, FakeWootricServer wootric)
    {
        var reader = new CaseFieldReader(Path.GetFileName(testCase.FilePath));
        foreach (var (node, index) in testCase.WootricBefore.Select((node, index) => (node, index)))
        {
            var prefix = $"wootric_before[{index}].";
            var user = node as JsonObject ?? throw reader.Invalid($"wootric_before[{index}]", "an object");
            reader.RejectUnknownFields(user, prefix, ["id", "email", "external_id", "phone_number", "external_created_at", "last_surveyed", "properties"]);

            var properties = reader.OptionalObject(user, "properties", prefix)?
                .ToDictionary(pair => pair.Key, pair => TextValues.ToText(pair.Value) ?? "", StringComparer.Ordinal);
            wootric.Seed(
                user["id"]?.GetValue<long>(),
                new EndUserFields
                {
                    Email = TextValues.ToText(user["email"]),
                    ExternalId = TextValues.ToText(user["external_id"]),
                    PhoneNumber = TextValues.ToText(user["phone_number"]),
                    ExternalCreatedAt = TextValues.ToText(user["external_created_at"]),
                    LastSurveyed = TextValues.ToText(user["last_surveyed"]),
                    Properties = properties,
                });
        }
    }

    /// <summary>Describes what Wootric and the upstream received and what the gateway logged.</summary>
    private static string Diagnose(FakeWootricServer wootric, RecordingUpstream upstream, CapturedLogs logs)
    {
        var text = new StringBuilder();
        var requests = wootric.Requests;
        text.AppendLine(CultureInfo.InvariantCulture, $"Wootric received {requests.Count} request(s), {wootric.TokensIssued} token(s) issued:");
        foreach (var request in requests.Take(MaxListedWootricRequests))
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  {Redact(request)}");
        }

        if (requests.Count > MaxListedWootricRequests)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  ... {requests.Count - MaxListedWootricRequests} more");
        }

        var exchanges = upstream.Exchanges;
        text.AppendLine(CultureInfo.InvariantCulture, $"Upstream received {exchanges.Count} request(s):");
        foreach (var exchange in exchanges)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  {exchange.Method} {exchange.RawTarget} ({exchange.Body.Length} body bytes) -> {exchange.Response.Status}");
        }

        var lines = logs.Tail(MaxListedLogLines);
        text.AppendLine(CultureInfo.InvariantCulture, $"Gateway log (last {lines.Count} of {logs.TotalCount} lines):");
        foreach (var line in lines)
        {
            text.AppendLine(CultureInfo.InvariantCulture, $"  {line}");
        }

        return text.ToString();
    }

    private static string Redact(WootricRequestRecord request)
    {
        var line = request.ToString();
        return request.Form.TryGetValue("client_secret", out var secret) && secret.Length > 0
            ? line.Replace("client_secret=" + secret, "client_secret=(redacted)", StringComparison.Ordinal)
            : line;
    }
}
