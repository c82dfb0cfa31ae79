using Microsoft.Extensions.Options;
using WootricGateway.Hosting;
using WootricGateway.Metrics;
using WootricGateway.Segment;
using Yarp.ReverseProxy.Forwarder;

namespace WootricGateway.Tap;

/// <summary>
/// Copies the bodies of Segment ingestion requests while YARP forwards them, and hands complete
/// copies of requests the upstream accepted to the <see cref="TapQueue"/>. Larger bodies it does not
/// copy are passed through in gathered reads. It never alters or fails the proxied request.
/// </summary>
internal sealed partial class TapMiddleware(
    RequestDelegate next,
    IOptions<TapOptions> tapOptions,
    IOptions<GatewayOptions> gatewayOptions,
    TapQueue queue,
    GatewayMetrics metrics,
    TimeProvider timeProvider)
{
    private readonly TapOptions _options = tapOptions.Value;
    private readonly string? _pathPrefix = gatewayOptions.Value.NormalizedPathPrefix;
    private readonly Prometheus.Counter.Child _queued = metrics.TapRequests.WithLabels("queued");
    private readonly Prometheus.Counter.Child _queueFull = metrics.TapRequests.WithLabels("queue_full");

    /// <summary>
    /// The declared body size above which an untapped body is also read through a gathering <see cref="TeeStream"/>.
    /// With inline scheduling Kestrel hands bodies over in pieces of at most 4 KiB (seen with strace), and
    /// the forwarder would send each piece upstream in its own write.
    /// </summary>
    internal const long GatherThreshold = 4096;

    public Task InvokeAsync(HttpContext context)
    {
        var request = context.Request;
        if (_options.Enabled && HttpMethods.IsPost(request.Method))
        {
            var route = SegmentRoutes.Classify(SegmentRoutes.RemovePrefix(request.Path.Value, _pathPrefix));
            if (route.Kind is SegmentRouteKind.SingleEvent or SegmentRouteKind.Batch)
            {
                if (queue.HasRoomFor(Math.Min(request.ContentLength ?? 0, _options.CaptureLimitBytes)))
                {
                    return InvokeTappedAsync(context, route);
                }

                // The parser is behind, so the capture would be dropped when the request completes. Skipping the
                // copy now saves that work.
                _queueFull.Inc();
            }
        }

        return request.ContentLength > GatherThreshold ? InvokeGatheredAsync(context) : next(context);
    }

    private async Task InvokeGatheredAsync(HttpContext context)
    {
        var request = context.Request;
        var original = request.Body;
        request.Body = new TeeStream(original, capture: null, request.ContentLength);
        try
        {
            await next(context);
        }
        finally
        {
            request.Body = original;
        }
    }

    private async Task InvokeTappedAsync(HttpContext context, SegmentRoute route)
    {
        var request = context.Request;
        var original = request.Body;
        var capture = new PooledSegmentBuffer(_options.CaptureLimitBytes, request.ContentLength, queue.BufferPool);
        var tee = new TeeStream(original, capture, request.ContentLength);
        var receivedAt = timeProvider.GetUtcNow();

        request.Body = tee;
        try
        {
            await next(context);
        }
        finally
        {
            request.Body = original;
            HandOff(context, route, tee, capture, receivedAt);
        }
    }

    /// <summary>Queues the capture when it is complete and the upstream accepted the request; else releases it.</summary>
    private void HandOff(HttpContext context, SegmentRoute route, TeeStream tee, PooledSegmentBuffer capture, DateTimeOffset receivedAt)
    {
        var outcome = Classify(context, tee);
        if (outcome is not null)
        {
            metrics.TapRequestsByOutcome.Get(outcome).Inc();
            if (outcome is "forward_failed" or "incomplete")
            {
                // The forwarder may still be reading into these buffers on another thread.
                capture.Abandon();
            }
            else
            {
                capture.Dispose();
            }

            return;
        }

        metrics.TapCapturedBytes.Inc(capture.Length);
        var headers = context.Request.Headers;
        var captured = new CapturedRequest(
            route,
            headers.ContentEncoding.Count == 1 ? headers.ContentEncoding[0] : headers.ContentEncoding.ToString(),
            WriteKeys.FromAuthorization(headers.Authorization.Count > 0 ? headers.Authorization[0] : null),
            capture,
            receivedAt);

        if (!queue.TryWrite(captured))
        {
            capture.Dispose();
            _queueFull.Inc();
            return;
        }

        _queued.Inc();
    }

    private string? Classify(HttpContext context, TeeStream tee)
    {
        if (context.GetForwarderErrorFeature() is not null || tee.Faulted)
        {
            return "forward_failed";
        }

        var status = context.Response.StatusCode;
        if (_options.OnlySuccessfulResponses && status is < 200 or >= 300)
        {
            return "upstream_rejected";
        }

        if (tee.Overflowed)
        {
            return "over_capture_limit";
        }

        if (!tee.Completed)
        {
            // The upstream responded before reading the whole body, or the body was empty and never read.
            return tee.BytesRead == 0 && context.Request.ContentLength is null or 0 ? "empty_body" : "incomplete";
        }

        return null;
    }
}
