using Microsoft.Extensions.Options;
using Prometheus;
using WootricGateway.Delivery;
using WootricGateway.Management;
using WootricGateway.Metrics;
using WootricGateway.Proxy;
using WootricGateway.Tap;

namespace WootricGateway.Hosting;

/// <summary>Registers every gateway feature.</summary>
internal static class GatewayServiceCollectionExtensions
{
    public static IServiceCollection AddGatewayServices(this IServiceCollection services, IConfiguration configuration, CollectorRegistry registry)
    {
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(new GatewayMetrics(registry));
        services.AddOptions<GatewayOptions>()
            .Bind(configuration.GetSection(GatewayOptions.SectionName))
            .Validate(options => options.ShutdownTimeout > TimeSpan.Zero, "Gateway:ShutdownTimeout must be positive.")
            .ValidateOnStart();
        services.AddOptions<HostOptions>().Configure<IOptions<GatewayOptions>>((host, gateway) => host.ShutdownTimeout = gateway.Value.ShutdownTimeout);
        services.AddOptions<ManagementOptions>()
            .Bind(configuration.GetSection(ManagementOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();

        // Hosted services stop in reverse order of registration, after the web server has finished
        // in-flight requests. Registering the sync before the tap makes shutdown run: tap drain into
        // the store, then running syncs, then the work queue hands back what it read.
        services.AddGatewayProxy(configuration);
        services.AddWootricSync(configuration);
        services.AddTap(configuration);
        return services;
    }

    private static IServiceCollection AddTap(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<TapOptions>()
            .Bind(configuration.GetSection(TapOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();
        services.AddSingleton<TapQueue>();
        services.AddHostedService<TapWorker>();
        return services;
    }
}
