using Prometheus;

namespace WootricGateway.Hosting;

/// <summary>
/// Settings for building a gateway in code, for tests and embedding. Production uses
/// <see cref="GatewayApplication.Build(string[], GatewayBuildOptions?)"/> with no options.
/// </summary>
public sealed class GatewayBuildOptions
{
    /// <summary>Configuration values added after every other source, so they win.</summary>
    public IDictionary<string, string?>? Configuration { get; init; }

    /// <summary>
    /// The registry the gateway's metrics go to. Default: prometheus-net's process-wide registry,
    /// which also carries the runtime and .NET meter metrics. Tests give each gateway its own.
    /// </summary>
    public CollectorRegistry? MetricsRegistry { get; init; }

    /// <summary>Extra service registrations, applied after the gateway's own.</summary>
    public Action<IServiceCollection>? ConfigureServices { get; init; }
}
