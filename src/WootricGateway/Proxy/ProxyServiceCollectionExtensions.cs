using Microsoft.Extensions.DependencyInjection.Extensions;
using Yarp.ReverseProxy.Configuration;
using Yarp.ReverseProxy.Forwarder;
using WootricGateway.Hosting;

namespace WootricGateway.Proxy;

/// <summary>Registers YARP as a transparent proxy in front of the configured upstream.</summary>
public static class ProxyServiceCollectionExtensions
{
    public const string RouteId = "segment";
    public const string ClusterId = "upstream";

    /// <summary>The YARP configuration section that, when it has routes, replaces <c>Upstream:Address</c>.</summary>
    internal const string CustomSectionName = "ReverseProxy";

    /// <summary>
    /// Adds the reverse proxy. A <c>ReverseProxy</c> configuration section with routes replaces the
    /// generated single route to <c>Upstream:Address</c>.
    /// </summary>
    public static IServiceCollection AddGatewayProxy(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<UpstreamOptions>()
            .Bind(configuration.GetSection(UpstreamOptions.SectionName))
            .ValidateDataAnnotations()
            .ValidateOnStart();

        // The values are read once here. GatewayApplication.Build runs the ValidateOnStart checks before
        // the proxy reads its routes, so an invalid address never reaches YARP.
        var upstream = configuration.GetSection(UpstreamOptions.SectionName).Get<UpstreamOptions>() ?? new UpstreamOptions();
        var gateway = configuration.GetSection(GatewayOptions.SectionName).Get<GatewayOptions>() ?? new GatewayOptions();

        var proxy = services.AddReverseProxy();
        if (HasCustomRoutes(configuration))
        {
            proxy.LoadFromConfig(configuration.GetSection(CustomSectionName));
        }
        else
        {
            proxy.LoadFromMemory([BuildRoute(gateway)], [BuildCluster(upstream)]);
        }

        services.Replace(ServiceDescriptor.Singleton<IForwarderHttpClientFactory>(new GatewayHttpClientFactory(upstream)));

        services.AddHostedService<ProxyStartupReport>();
        return services;
    }

    /// <summary>True when the <c>ReverseProxy</c> section has routes, which then replace the generated route.</summary>
    internal static bool HasCustomRoutes(IConfiguration configuration) =>
        configuration.GetSection(CustomSectionName).GetSection("Routes").GetChildren().Any();

    internal static RouteConfig BuildRoute(GatewayOptions gateway)
    {
        var transforms = new List<IReadOnlyDictionary<string, string>>
        {
            // Append to X-Forwarded-For/Proto/Host so an ingress chain in front is kept.
            new Dictionary<string, string> { ["X-Forwarded"] = "Append", ["Prefix"] = "Off" },
        };
        if (gateway.NormalizedPathPrefix is { } prefix)
        {
            transforms.Add(new Dictionary<string, string> { ["PathRemovePrefix"] = prefix });
        }

        return new RouteConfig
        {
            RouteId = RouteId,
            ClusterId = ClusterId,
            Match = new RouteMatch { Path = "{**catch-all}" },
            Transforms = transforms,
        };
    }

    internal static ClusterConfig BuildCluster(UpstreamOptions upstream) => new()
    {
        ClusterId = ClusterId,
        Destinations = new Dictionary<string, DestinationConfig>
        {
            ["upstream"] = new() { Address = upstream.Address },
        },
        HttpRequest = new ForwarderRequestConfig { ActivityTimeout = upstream.ActivityTimeout },
    };
}
