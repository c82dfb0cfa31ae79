using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;
using WootricGateway.Hosting;
using WootricGateway.State;
using WootricGateway.State.Redis;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.Conformance;

/// <summary>The result of waiting for the gateway to go idle, with what was last observed.</summary>
internal sealed record SettleResult(bool IsSettled, TimeSpan Waited, string LastObservation);

/// <summary>
/// A real gateway built with <see cref="GatewayApplication.Build"/>, listening on two free
/// loopback ports with its own metrics registry and a log capture.
/// </summary>
internal sealed class GatewayUnderTest : IAsyncDisposable
{
    public const string BacklogMetric = "wootric_gateway_delivery_backlog";

    /// <summary>Bodies captured but not yet parsed, checked only when the gateway exports the metric.</summary>
    public const string TapQueueMetric = "wootric_gateway_tap_queue_depth";

    /// <summary>Tapped requests held while Redis is unreachable; they reach the store only after it returns.</summary>
    public const string OutageBufferMetric = "wootric_gateway_outage_buffer_depth";

    public const string TapRequestsMetric = "wootric_gateway_tap_requests_total";

    /// <summary>
    /// The <see cref="TapRequestsMetric"/> outcomes the background parser records for a queued capture,
    /// one per capture. <c>sink_failed</c> is also counted when handing parsed events to the store fails.
    /// </summary>
    public static readonly string[] ParserOutcomes =
    [
        "unsupported_encoding", "decoded_too_large", "corrupt_encoding", "parsed", "invalid_json",
        "not_an_object", "invalid_utf8", "missing_batch", "unpaired_surrogate_escape", "too_deep", "sink_failed",
    ];

    /// <summary>The quiet window of most settle waits.</summary>
    public static readonly TimeSpan DefaultSettleQuiet = TimeSpan.FromSeconds(1);

    /// <summary>The time limit of most settle waits.</summary>
    public static readonly TimeSpan DefaultSettleTimeout = TimeSpan.FromSeconds(60);

    private const int MaxStartAttempts = 3;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    private readonly WebApplication app;
    private readonly HttpClient managementClient;

    private GatewayUnderTest(WebApplication app, Uri proxyAddress, Uri managementAddress, CapturedLogs logs)
    {
        this.app = app;
        ProxyAddress = proxyAddress;
        ManagementAddress = managementAddress;
        Logs = logs;
        managementClient = new HttpClient(new SocketsHttpHandler { UseProxy = false, UseCookies = false })
        {
            BaseAddress = managementAddress,
            Timeout = TimeSpan.FromSeconds(5),
        };
    }

    public Uri ProxyAddress { get; }

    public Uri ManagementAddress { get; }

    public CapturedLogs Logs { get; }

    /// <summary>
    /// The gateway's work queue, or null when delivery is not set up. Waits read its backlog directly
    /// because with Redis the backlog gauge is refreshed every 500 ms and reads 0 until the first refresh.
    /// </summary>
    private IWorkQueue? WorkQueue => app.Services.GetService<IWorkQueue>();

    /// <summary>
    /// Builds and starts a gateway with <paramref name="configuration"/> plus the two listener
    /// URLs, then waits until <c>/healthz</c> returns 200. A port taken between picking and binding
    /// is retried with new ports. <paramref name="configureServices"/> adds registrations, such as
    /// another logger provider.
    /// </summary>
    public static async Task<GatewayUnderTest> StartAsync(
        IReadOnlyDictionary<string, string?> configuration,
        CancellationToken cancellationToken,
        Action<IServiceCollection>? configureServices = null)
    {
        for (var attempt = 1; ; attempt++)
        {
            var proxyAddress = new Uri($"http://127.0.0.1:{Loopback.PickFreePort()}/");
            var managementAddress = new Uri($"http://127.0.0.1:{Loopback.PickFreePort()}/");
            var values = new Dictionary<string, string?>(configuration, StringComparer.OrdinalIgnoreCase)
            {
                ["Kestrel:Endpoints:Proxy:Url"] = proxyAddress.GetLeftPart(UriPartial.Authority),
                ["Kestrel:Endpoints:Management:Url"] = managementAddress.GetLeftPart(UriPartial.Authority),
            };

            var logs = new CapturedLogs();
            var app = GatewayApplication.Build([], new GatewayBuildOptions
            {
                Configuration = values,
                MetricsRegistry = Prometheus.Metrics.NewCustomRegistry(),
                ConfigureServices = services =>
                {
                    services.AddSingleton<ILoggerProvider>(logs);
                    configureServices?.Invoke(services);
                },
            });

            try
            {
                await app.StartAsync(cancellationToken);
            }
            catch (IOException exception) when (exception.InnerException is AddressInUseException && attempt < MaxStartAttempts)
            {
                await app.DisposeAsync();
                continue;
            }
            catch
            {
                await app.DisposeAsync();
                throw;
            }

            var gateway = new GatewayUnderTest(app, proxyAddress, managementAddress, logs);
            if (values.GetValueOrDefault("Management:BearerToken") is { Length: > 0 } token)
            {
                // The settle wait reads /metrics, which then requires the token.
                gateway.managementClient.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
            }

            try
            {
                await gateway.WaitUntilHealthyAsync(cancellationToken);
                return gateway;
            }
            catch
            {
                await gateway.DisposeAsync();
                throw;
            }
        }
    }

    /// <summary>
    /// Waits until the gateway is idle and has stayed so for <paramref name="quiet"/>, or gives up
    /// after <paramref name="timeout"/>. Idle means that <paramref name="until"/> returns true,
    /// the tap parser has recorded an outcome for every capture it queued, the work queue read from
    /// the store is empty, the backlog, tap queue and outage buffer gauges are 0, and the fake
    /// Wootric has no request in progress. The quiet window starts when all of that is true, and
    /// starts again whenever one of these checks fails or Wootric receives or completes a request.
    /// </summary>
    /// <remarks>
    /// NOTE: after the parser counts a capture and before the store has the capture's work, no
    /// metric shows work in progress. In memory that gap is short, but the parser thread runs at
    /// nice 19, so on a busy machine it can stall there for longer than a quiet window. Pass
    /// <paramref name="until"/> with the state the test expects (captures handed off, end users in
    /// Wootric) wherever the test can tell it, so the window starts only after that state is reached.
    /// </remarks>
    public Task<SettleResult> WaitUntilSettledAsync(
        FakeWootricServer wootric,
        TimeSpan quiet,
        TimeSpan timeout,
        Func<CancellationToken, Task<bool>> until,
        CancellationToken cancellationToken) =>
        WaitUntilIdleAsync(wootric, quiet, timeout, until, cancellationToken);

    /// <summary>Waits as <see cref="WaitUntilSettledAsync(FakeWootricServer, TimeSpan, TimeSpan, Func{CancellationToken, Task{bool}}, CancellationToken)"/> does, with a condition that needs no I/O.</summary>
    public Task<SettleResult> WaitUntilSettledAsync(FakeWootricServer wootric, TimeSpan quiet, TimeSpan timeout, Func<bool> until, CancellationToken cancellationToken) =>
        WaitUntilIdleAsync(wootric, quiet, timeout, _ => Task.FromResult(until()), cancellationToken);

    /// <summary>
    /// Waits as <see cref="WaitUntilSettledAsync(FakeWootricServer, TimeSpan, TimeSpan, Func{CancellationToken, Task{bool}}, CancellationToken)"/>
    /// does, with a quiet window of 1 s (<see cref="DefaultSettleQuiet"/>) and a limit of 60 s (<see cref="DefaultSettleTimeout"/>).
    /// </summary>
    public Task<SettleResult> WaitUntilSettledAsync(FakeWootricServer wootric, Func<CancellationToken, Task<bool>> until, CancellationToken cancellationToken) =>
        WaitUntilIdleAsync(wootric, DefaultSettleQuiet, DefaultSettleTimeout, until, cancellationToken);

    /// <summary>Waits as <see cref="WaitUntilSettledAsync(FakeWootricServer, Func{CancellationToken, Task{bool}}, CancellationToken)"/> does, with a condition that needs no I/O.</summary>
    public Task<SettleResult> WaitUntilSettledAsync(FakeWootricServer wootric, Func<bool> until, CancellationToken cancellationToken) =>
        WaitUntilIdleAsync(wootric, DefaultSettleQuiet, DefaultSettleTimeout, _ => Task.FromResult(until()), cancellationToken);

    /// <summary>
    /// Waits as <see cref="WaitUntilSettledAsync(FakeWootricServer, TimeSpan, TimeSpan, Func{CancellationToken, Task{bool}}, CancellationToken)"/>
    /// does, with no expected state: for a test that cannot tell what the gateway will do.
    /// </summary>
    public Task<SettleResult> WaitUntilSettledAsync(FakeWootricServer wootric, TimeSpan quiet, TimeSpan timeout, CancellationToken cancellationToken) =>
        WaitUntilIdleAsync(wootric, quiet, timeout, null, cancellationToken);

    private async Task<SettleResult> WaitUntilIdleAsync(
        FakeWootricServer wootric,
        TimeSpan quiet,
        TimeSpan timeout,
        Func<CancellationToken, Task<bool>>? until,
        CancellationToken cancellationToken)
    {
        var time = wootric.Time;
        var started = time.GetTimestamp();
        var lastBusy = started;
        while (true)
        {
            var reading = await ReadIdleMetricsAsync(cancellationToken);
            var (storeBacklog, storeProblem) = await ReadStoreBacklogAsync(cancellationToken);
            var (reached, conditionProblem) = until is null ? (true, null) : await EvaluateAsync(until, cancellationToken);
            var now = time.GetTimestamp();
            var inFlight = wootric.InFlightCount;
            var busy = reading.IsBusy || storeBacklog is > 0 || storeProblem is not null || !reached || inFlight > 0;
            if (busy)
            {
                lastBusy = now;
            }

            var quietFor = time.GetElapsedTime(Math.Max(lastBusy, wootric.LastActivityTimestamp), now);
            var waited = time.GetElapsedTime(started, now);
            var store = storeProblem ?? (storeBacklog is { } backlog ? $"work queue in the store={backlog}" : "no work queue");
            var condition = "";
            if (until is not null)
            {
                condition = reached ? ", expected state reached" : $", expected state not reached{conditionProblem}";
            }

            var observation = $"{BacklogMetric}={reading.Describe()}, {store}{condition}, Wootric requests in progress={inFlight}, quiet for {quietFor.TotalMilliseconds:F0} ms of the {quiet.TotalMilliseconds:F0} ms required";
            if (!busy && quietFor >= quiet)
            {
                return new SettleResult(true, waited, observation);
            }

            if (waited >= timeout)
            {
                return new SettleResult(false, waited, observation);
            }

            await Task.Delay(PollInterval, cancellationToken);
        }
    }

    /// <summary>Returns the sum of every sample of <paramref name="metricName"/> on <c>/metrics</c>, or 0 when it has none yet.</summary>
    public async Task<double> ReadMetricSumAsync(string metricName, CancellationToken cancellationToken)
    {
        var text = await managementClient.GetStringAsync(new Uri("/metrics", UriKind.Relative), cancellationToken);
        return SumSamples(text, metricName) ?? 0;
    }

    /// <summary>
    /// Returns the count of one <see cref="TapRequestsMetric"/> outcome, such as <c>handed_off</c>
    /// (captures whose events reached the store) or <c>forward_failed</c>, or 0 when it has no sample yet.
    /// </summary>
    public async Task<double> ReadTapOutcomeAsync(string outcome, CancellationToken cancellationToken)
    {
        var text = await managementClient.GetStringAsync(new Uri("/metrics", UriKind.Relative), cancellationToken);
        return ReadTapOutcomes(text).GetValueOrDefault(outcome);
    }

    public async ValueTask DisposeAsync()
    {
        managementClient.Dispose();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        try
        {
            await app.StopAsync(timeout.Token);
        }
        finally
        {
            await app.DisposeAsync();
        }
    }

    private async Task WaitUntilHealthyAsync(CancellationToken cancellationToken)
    {
        var deadline = DateTimeOffset.UtcNow + StartTimeout;
        string lastError = "no response yet";
        while (DateTimeOffset.UtcNow < deadline)
        {
            try
            {
                using var response = await managementClient.GetAsync(new Uri("/healthz", UriKind.Relative), cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return;
                }

                lastError = $"status {(int)response.StatusCode}";
            }
            catch (HttpRequestException exception)
            {
                lastError = exception.Message;
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                lastError = $"no response within {managementClient.Timeout.TotalSeconds:F0} s";
            }

            await Task.Delay(PollInterval, cancellationToken);
        }

        throw new TimeoutException($"The gateway's /healthz on {ManagementAddress} did not return 200 within {StartTimeout.TotalSeconds:F0} s; last result: {lastError}.");
    }

    private async Task<IdleMetrics> ReadIdleMetricsAsync(CancellationToken cancellationToken)
    {
        string text;
        try
        {
            text = await managementClient.GetStringAsync(new Uri("/metrics", UriKind.Relative), cancellationToken);
        }
        catch (HttpRequestException exception)
        {
            return new IdleMetrics(null, null, null, 0, 0, $"GET /metrics failed: {exception.Message}");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new IdleMetrics(null, null, null, 0, 0, "GET /metrics timed out");
        }

        var backlog = SumSamples(text, BacklogMetric);
        var outcomes = ReadTapOutcomes(text);
        return new IdleMetrics(
            backlog,
            SumSamples(text, TapQueueMetric),
            SumSamples(text, OutageBufferMetric),
            outcomes.GetValueOrDefault("queued"),
            ParserOutcomes.Sum(outcome => outcomes.GetValueOrDefault(outcome)),
            backlog is null ? "metric missing from /metrics" : null);
    }

    /// <summary>Returns the <see cref="TapRequestsMetric"/> samples by outcome.</summary>
    private static Dictionary<string, double> ReadTapOutcomes(string exposition)
    {
        var outcomes = new Dictionary<string, double>(StringComparer.Ordinal);
        const string Prefix = TapRequestsMetric + "{outcome=\"";
        foreach (var line in exposition.Split('\n'))
        {
            if (!line.StartsWith(Prefix, StringComparison.Ordinal))
            {
                continue;
            }

            var labelEnd = line.IndexOf('"', Prefix.Length);
            var valueText = line[(line.LastIndexOf('}') + 1)..].Trim().Split(' ')[0];
            if (labelEnd > 0 && double.TryParse(valueText, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                outcomes[line[Prefix.Length..labelEnd]] = value;
            }
        }

        return outcomes;
    }

    /// <summary>Reads the backlog from the work queue itself, or describes the failure when the store cannot be read.</summary>
    private async Task<(long? Backlog, string? Problem)> ReadStoreBacklogAsync(CancellationToken cancellationToken)
    {
        if (WorkQueue is not { } queue)
        {
            return (null, null);
        }

        try
        {
            return (await queue.GetBacklogAsync(cancellationToken), null);
        }
        catch (Exception exception) when (RedisConnection.IsOutage(exception) || exception is RedisException)
        {
            return (null, $"reading the work queue failed with {exception.GetType().Name}");
        }
    }

    /// <summary>Evaluates a settle condition. A condition that failed to read what it checks counts as not reached.</summary>
    private static async Task<(bool Reached, string? Problem)> EvaluateAsync(Func<CancellationToken, Task<bool>> until, CancellationToken cancellationToken)
    {
        try
        {
            return (await until(cancellationToken), null);
        }
        catch (HttpRequestException exception)
        {
            return (false, $" (checking it failed: {exception.Message})");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return (false, " (checking it timed out)");
        }
    }

    /// <summary>Returns the sum of a metric's samples in Prometheus text format, or null when it has none.</summary>
    public static double? SumSamples(string exposition, string metricName)
    {
        double? sum = null;
        foreach (var line in exposition.Split('\n'))
        {
            if (!line.StartsWith(metricName, StringComparison.Ordinal) || line.Length == metricName.Length || line[metricName.Length] is not (' ' or '{'))
            {
                continue;
            }

            var valueStart = line[metricName.Length] == '{' ? line.LastIndexOf('}') + 1 : metricName.Length;
            var valueText = line[valueStart..].Trim().Split(' ')[0];
            if (double.TryParse(valueText, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                sum = (sum ?? 0) + value;
            }
        }

        return sum;
    }

    /// <summary>
    /// One reading of the metrics that show work in progress. <paramref name="Queued"/> counts captures
    /// the tap queued and <paramref name="ParserDone"/> those the parser has an outcome for.
    /// </summary>
    private sealed record IdleMetrics(double? Backlog, double? TapQueueDepth, double? OutageBufferDepth, double Queued, double ParserDone, string? Problem)
    {
        public bool IsBusy => Backlog is not 0 || TapQueueDepth is > 0 || OutageBufferDepth is > 0 || ParserDone < Queued;

        public string Describe()
        {
            if (Problem is not null)
            {
                return Problem;
            }

            var tapQueue = TapQueueDepth is { } depth ? $", {TapQueueMetric}={depth.ToString(CultureInfo.InvariantCulture)}" : "";
            var outageBuffer = OutageBufferDepth is { } buffered ? $", {OutageBufferMetric}={buffered.ToString(CultureInfo.InvariantCulture)}" : "";
            var parser = $", captures queued={Queued.ToString(CultureInfo.InvariantCulture)}, with a parser outcome={ParserDone.ToString(CultureInfo.InvariantCulture)}";
            return Backlog?.ToString(CultureInfo.InvariantCulture) + tapQueue + outageBuffer + parser;
        }
    }
}
