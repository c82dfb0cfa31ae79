using Microsoft.Extensions.Options;
using Prometheus;
using WootricGateway.Metrics;

namespace WootricGateway.Management;

/// <summary>
/// Serves <c>/healthz</c>, <c>/readyz</c>, <c>/metrics</c> and the admin API on the management listener,
/// behind the bearer token check when <see cref="ManagementOptions.BearerToken"/> is set.
/// </summary>
internal static class ManagementApplicationBuilderExtensions
{
    public static IApplicationBuilder UseManagementListener(this IApplicationBuilder app)
    {
        var metrics = app.ApplicationServices.GetRequiredService<GatewayMetrics>();
        var lifetime = app.ApplicationServices.GetRequiredService<IHostApplicationLifetime>();
        var authentication = new ManagementAuthentication(app.ApplicationServices.GetRequiredService<IOptions<ManagementOptions>>().Value.BearerToken);

        return app.MapWhen(
            context => context.Features.Get<ManagementConnectionFeature>() is not null,
            management =>
            {
                management.Use((context, next) => authentication.IsAuthorized(context)
                    ? next(context)
                    : ManagementAuthentication.WriteChallengeAsync(context));
                management.UseMetricServer("/metrics", metrics.Registry);
                management.Map("/healthz", health => health.Run(context => WriteStatusAsync(context, StatusCodes.Status200OK, "healthy")));
                management.Map("/readyz", ready => ready.Run(context =>
                {
                    // Ready means the proxy listener is serving; Redis and Wootric are deliberately not consulted.
                    var isReady = lifetime.ApplicationStarted.IsCancellationRequested && !lifetime.ApplicationStopping.IsCancellationRequested;
                    return isReady
                        ? WriteStatusAsync(context, StatusCodes.Status200OK, "ready")
                        : WriteStatusAsync(context, StatusCodes.Status503ServiceUnavailable, "not_ready");
                }));
                management.UseAdminApi();
                management.Run(context => WriteStatusAsync(context, StatusCodes.Status404NotFound, "not_found"));
            });
    }

    private static Task WriteStatusAsync(HttpContext context, int statusCode, string status)
    {
        context.Response.StatusCode = statusCode;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync($$"""{"status":"{{status}}"}""");
    }
}
