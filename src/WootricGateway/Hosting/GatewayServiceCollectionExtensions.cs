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
        services.AddOptions<GatewayOptions>().Bind(configuration.GetSection(GatewayOptions.SectionName));
        services.AddOptions<ManagementOptions>()
            .Bind(configuration.GetSection(ManagementOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();

        services.AddGatewayProxy(configuration);
        services.AddTap(configuration);
        services.AddWootricSync(configuration);
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
