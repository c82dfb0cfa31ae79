using Microsoft.Extensions.Configuration.Memory;
using Prometheus;
using WootricGateway.Management;
using WootricGateway.Metrics;
using WootricGateway.Proxy;
using WootricGateway.Tap;

namespace WootricGateway.Hosting;

/// <summary>Builds the gateway: configuration defaults, services, the two listeners and the pipelines.</summary>
public static class GatewayApplication
{
    /// <summary>Defaults for keys that have one, below every other configuration source.</summary>
    internal static readonly IReadOnlyDictionary<string, string?> ConfigurationDefaults = new Dictionary<string, string?>
    {
        ["Kestrel:Endpoints:Proxy:Url"] = "http://0.0.0.0:8080",
        ["Kestrel:Endpoints:Management:Url"] = "http://0.0.0.0:8081",
        ["Upstream:Address"] = "https://api.segment.io",

        // Segment publishes no header limit. These match the largest common front end (AWS Application
        // Load Balancer: 16 KB request line, 64 KB of request headers) so no header Segment's own
        // front end accepts is rejected here. Kestrel's own defaults are 8 KB and 32 KB.
        ["Kestrel:Limits:MaxRequestLineSize"] = "16384",
        ["Kestrel:Limits:MaxRequestHeadersTotalSize"] = "65536",

        // Kestrel's default, stated so it is visible: 60 times Segment's 500 KB batch limit.
        ["Kestrel:Limits:MaxRequestBodySize"] = "30000000",
        ["Logging:LogLevel:Default"] = "Information",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",

        // While this category is enabled at any level, ASP.NET Core hosting starts an Activity and a
        // logging scope for every request, which costs CPU on the proxy path. The gateway records no
        // traces. The category's other messages are per-request lines at Information and startup
        // failures, which the Microsoft.Extensions.Hosting category and standard error also report.
        ["Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics"] = "None",
        ["Logging:LogLevel:Yarp"] = "Warning",

        // YARP warns with a stack trace on every failed forward, including each client that disconnects
        // or sends its body too slowly. Those are counted in wootric_gateway_proxy_errors_total, and an
        // upstream failure is logged once, without a stack trace, by ProxyMetricsMiddleware.
        ["Logging:LogLevel:Yarp.ReverseProxy.Forwarder.HttpForwarder"] = "Error",

        // The gateway issues no cookies or antiforgery tokens, so the key-ring warning is noise.
        ["Logging:LogLevel:Microsoft.AspNetCore.DataProtection"] = "Error",
    };

    /// <summary>
    /// The process-wide registry, limited to the gateway's own metrics, process metrics and the runtime's
    /// <c>System.Runtime</c> meter. prometheus-net would otherwise export every meter in the process:
    /// ASP.NET Core, Kestrel, HttpClient and routing record one or more histograms per proxied request,
    /// which costs CPU on the hot path and duplicates <c>wootric_gateway_proxy_*</c>.
    /// </summary>
    private static CollectorRegistry DefaultRegistry()
    {
        lock (DefaultRegistryLock)
        {
            if (!_defaultRegistryConfigured)
            {
                Prometheus.Metrics.SuppressDefaultMetrics(new SuppressDefaultMetricOptions
                {
                    SuppressProcessMetrics = false,
                    SuppressEventCounters = true,
                    SuppressMeters = false,
                    SuppressDebugMetrics = true,
                });
                Prometheus.Metrics.ConfigureMeterAdapter(adapter =>
                    adapter.InstrumentFilterPredicate = instrument => instrument.Meter.Name == "System.Runtime");
                _defaultRegistryConfigured = true;
            }
        }

        return Prometheus.Metrics.DefaultRegistry;
    }

    private static readonly Lock DefaultRegistryLock = new();
    private static bool _defaultRegistryConfigured;

    /// <summary>
    /// Binds every options section once and returns the <c>Gateway</c> section. A value of the wrong type
    /// (a word where a number belongs) then fails here, before the host starts, and Program reports it as
    /// one line. Options that services resolve only when the host starts would otherwise fail inside it,
    /// after the host has logged a stack trace.
    /// </summary>
    private static GatewayOptions BindEverySection(ConfigurationManager configuration)
    {
        var gateway = configuration.GetSection(GatewayOptions.SectionName).Get<GatewayOptions>() ?? new GatewayOptions();
        _ = configuration.GetSection(UpstreamOptions.SectionName).Get<UpstreamOptions>();
        _ = configuration.GetSection(TapOptions.SectionName).Get<TapOptions>();
        _ = configuration.GetSection(Delivery.DeliveryOptions.SectionName).Get<Delivery.DeliveryOptions>();
        _ = configuration.GetSection(State.Redis.RedisOptions.SectionName).Get<State.Redis.RedisOptions>();
        _ = configuration.GetSection(Wootric.WootricOptions.SectionName).Get<Wootric.WootricOptions>();
        _ = configuration.GetSection(ManagementOptions.SectionName).Get<ManagementOptions>();
        return gateway;
    }

    /// <summary>Creates the gateway application; call <c>RunAsync</c> or <c>StartAsync</c> on the result.</summary>
    public static WebApplication Build(string[] args, GatewayBuildOptions? options = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.Configuration.Sources.Insert(0, new MemoryConfigurationSource { InitialData = ConfigurationDefaults });
        if (options?.Configuration is { } overrides)
        {
            builder.Configuration.AddInMemoryCollection(overrides);
        }

        var gateway = BindEverySection(builder.Configuration);
        if (gateway.InlineScheduling)
        {
            InlineScheduling.Enable();
        }

        builder.WebHost.ConfigureKestrel((context, kestrel) =>
        {
            kestrel.AddServerHeader = false;

            // Kestrel's configuration loader reads endpoints only, so the standard Kestrel:Limits keys are bound here.
            context.Configuration.GetSection("Kestrel:Limits").Bind(kestrel.Limits);
            kestrel.Configure(context.Configuration.GetSection("Kestrel"), reloadOnChange: false)
                .Endpoint("Management", endpoint => endpoint.ListenOptions.Use(next => connection =>
                {
                    connection.Features.Set(ManagementConnectionFeature.Instance);
                    return next(connection);
                }));
        });

        var registry = options?.MetricsRegistry ?? DefaultRegistry();
        builder.Services.AddGatewayServices(builder.Configuration, registry);
        options?.ConfigureServices?.Invoke(builder.Services);

        var app = builder.Build();

        // The host would run these checks in StartAsync and log a failure there with a stack trace first.
        // Run now, a bad setting reaches Program as one "Invalid configuration" line.
        app.Services.GetService<Microsoft.Extensions.Options.IStartupValidator>()?.Validate();

        app.UseManagementListener();
        app.UseRouting();
        app.MapReverseProxy(pipeline =>
        {
            pipeline.UseMiddleware<ProxyMetricsMiddleware>();
            pipeline.UseMiddleware<BodySizeGuardMiddleware>();
            pipeline.UseMiddleware<TapMiddleware>();
        });
        return app;
    }
}
