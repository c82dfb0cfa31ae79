using System.Globalization;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using WootricGateway.Hosting;
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

    private const int MaxStartAttempts = 3;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);
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
    /// Waits until the gateway is idle: the backlog gauge (and the tap queue and outage buffer
    /// gauges, if exported) is 0, the fake Wootric has no request in progress, and neither has been busy for
    /// <paramref name="quiet"/>, counted from when this wait began at the earliest. Gives up
    /// after <paramref name="timeout"/>.
    /// </summary>
    public async Task<SettleResult> WaitUntilSettledAsync(FakeWootricServer wootric, TimeSpan quiet, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var time = wootric.Time;
        var started = time.GetTimestamp();
        var lastBusy = started;
        while (true)
        {
            var reading = await ReadIdleMetricsAsync(cancellationToken);
            var now = time.GetTimestamp();
            var inFlight = wootric.InFlightCount;
            var busy = reading.Backlog is not 0 || reading.TapQueueDepth is > 0 || reading.OutageBufferDepth is > 0 || inFlight > 0;
            if (busy)
            {
                lastBusy = now;
            }

            var quietFor = time.GetElapsedTime(Math.Max(lastBusy, wootric.LastActivityTimestamp), now);
            var waited = time.GetElapsedTime(started, now);
            var observation = $"{BacklogMetric}={reading.Describe()}, Wootric requests in progress={inFlight}, quiet for {quietFor.TotalMilliseconds:F0} ms of the {quiet.TotalMilliseconds:F0} ms required";
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
            return new IdleMetrics(null, null, null, $"GET /metrics failed: {exception.Message}");
        }
        catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new IdleMetrics(null, null, null, "GET /metrics timed out");
        }

        var backlog = SumSamples(text, BacklogMetric);
        return new IdleMetrics(backlog, SumSamples(text, TapQueueMetric), SumSamples(text, OutageBufferMetric), backlog is null ? "metric missing from /metrics" : null);
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

    private sealed record IdleMetrics(double? Backlog, double? TapQueueDepth, double? OutageBufferDepth, string? Problem)
    {
        public string Describe()
        {
            if (Problem is not null)
            {
                return Problem;
            }

            var tapQueue = TapQueueDepth is { } depth ? $", {TapQueueMetric}={depth.ToString(CultureInfo.InvariantCulture)}" : "";
            var outageBuffer = OutageBufferDepth is { } buffered ? $", {OutageBufferMetric}={buffered.ToString(CultureInfo.InvariantCulture)}" : "";
            return Backlog?.ToString(CultureInfo.InvariantCulture) + tapQueue + outageBuffer;
        }
    }
}
