using Microsoft.Extensions.Options;

namespace WootricGateway.Proxy;

/// <summary>
/// Logs, once at start, where the proxy forwards requests: the <c>Upstream:Address</c> of the
/// generated route, or the size of a custom <c>ReverseProxy</c> section.
/// </summary>
internal sealed partial class ProxyStartupReport(
    IConfiguration configuration,
    IOptions<UpstreamOptions> upstream,
    ILogger<ProxyStartupReport> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (ProxyServiceCollectionExtensions.HasCustomRoutes(configuration))
        {
            var section = configuration.GetSection(ProxyServiceCollectionExtensions.CustomSectionName);
            var routes = section.GetSection("Routes").GetChildren().Count();
            var clusters = section.GetSection("Clusters").GetChildren().Count();
            LogCustomRoutes(logger, routes, clusters);
        }
        else
        {
            var address = RedactAddress(upstream.Value.Address);
            LogUpstream(logger, address);
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <summary>
    /// Returns scheme, host, port and path of <paramref name="address"/> for a log line. Userinfo, query
    /// and fragment are dropped because they can carry credentials or write keys.
    /// </summary>
    internal static string RedactAddress(string address) =>
        Uri.TryCreate(address, UriKind.Absolute, out var uri)
            ? $"{uri.Scheme}://{uri.Host}:{uri.Port}{uri.AbsolutePath}"
            : "(not an absolute URL)";

    [LoggerMessage(EventId = 1202, Level = LogLevel.Information, Message = "Forwarding every request to {Upstream} (Upstream:Address)")]
    private static partial void LogUpstream(ILogger logger, string upstream);

    [LoggerMessage(EventId = 1203, Level = LogLevel.Information, Message = "Forwarding by the ReverseProxy configuration section (routes: {Routes}, clusters: {Clusters}); Upstream:Address is not used")]
    private static partial void LogCustomRoutes(ILogger logger, int routes, int clusters);
}
