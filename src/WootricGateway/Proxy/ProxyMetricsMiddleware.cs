using System.Diagnostics;
using Microsoft.Extensions.Options;
using WootricGateway.Hosting;
using WootricGateway.Metrics;
using WootricGateway.Segment;
using Yarp.ReverseProxy.Forwarder;
using Yarp.ReverseProxy.Model;

namespace WootricGateway.Proxy;

/// <summary>
/// The first step of the proxy pipeline: counts and times every proxied request, and gives the
/// gateway's own 502/504 responses a small JSON body so clients that parse every reply keep working.
/// </summary>
internal sealed partial class ProxyMetricsMiddleware(
    RequestDelegate next,
    IOptions<GatewayOptions> gatewayOptions,
    GatewayMetrics metrics,
    TimeProvider timeProvider,
    ILogger<ProxyMetricsMiddleware> logger)
{
    /// <summary>The interval between forwarding-failure lines. wootric_gateway_proxy_errors_total counts every failure.</summary>
    internal static readonly TimeSpan FailureLogInterval = TimeSpan.FromSeconds(10);

    private readonly string? _pathPrefix = gatewayOptions.Value.NormalizedPathPrefix;
    private readonly LogThrottle _failureLogs = new(timeProvider, FailureLogInterval);

    public async Task InvokeAsync(HttpContext context)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            await next(context);
        }
        finally
        {
            var route = SegmentRoutes.Classify(SegmentRoutes.RemovePrefix(context.Request.Path.Value, _pathPrefix)).Label;
            var error = context.GetForwarderErrorFeature();
            if (error is not null)
            {
                metrics.ProxyErrors.WithLabels(error.Error.ToString()).Inc();
                await WriteErrorBodyAsync(context, error);
            }

            metrics.ProxyRequestsByLabels.Get(route, GatewayMetrics.StatusClass(context.Response.StatusCode)).Inc();
            metrics.ProxyDurationByRoute.Get(route).Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
    }

    private async Task WriteErrorBodyAsync(HttpContext context, IForwarderErrorFeature error)
    {
        var status = context.Response.StatusCode;
        if (context.Response.HasStarted || status is not (StatusCodes.Status502BadGateway or StatusCodes.Status503ServiceUnavailable or StatusCodes.Status504GatewayTimeout))
        {
            return;
        }

        // YARP records the destination before it sends. With NoAvailableDestinations (503) there is none.
        var destination = ForwardingFailure.DescribeDestination(context.Features.Get<IReverseProxyFeature>()?.ProxiedDestination?.Model.Config.Address);
        var cause = ForwardingFailure.DescribeCause(error.Exception);
        if (_failureLogs.TryEnter(out var suppressed))
        {
            if (suppressed > 0)
            {
                LogFailuresSuppressed(logger, suppressed, FailureLogInterval.TotalSeconds);
            }

            LogUpstreamFailed(logger, destination, error.Error, cause, status);
        }

        var body = status == StatusCodes.Status504GatewayTimeout
            ? """{"error":"upstream_timeout","message":"The upstream did not answer in time."}"""
            : """{"error":"upstream_unavailable","message":"The upstream could not be reached."}""";
        context.Response.ContentType = "application/json";
        try
        {
            await context.Response.WriteAsync(body, context.RequestAborted);
        }
        catch (OperationCanceledException)
        {
            // The client went away; nothing left to tell it.
        }
    }

    [LoggerMessage(EventId = 1201, Level = LogLevel.Warning, Message = "Forwarding to {Destination} failed with {ForwarderError} ({Cause}); responded {StatusCode}")]
    private static partial void LogUpstreamFailed(ILogger logger, string destination, ForwarderError forwarderError, string cause, int statusCode);

    [LoggerMessage(EventId = 1204, Level = LogLevel.Warning, Message = "{Count} more forwarding failures were not logged, because at most one line is written every {Seconds} s. wootric_gateway_proxy_errors_total counts every failure")]
    private static partial void LogFailuresSuppressed(ILogger logger, long count, double seconds);
}
