namespace WootricGateway.Segment;

/// <summary>How the tap treats a request path.</summary>
public enum SegmentRouteKind
{
    /// <summary>Not an ingestion path the tap reads (forwarded only).</summary>
    Other,

    /// <summary>A single event: <c>/v1/identify</c>, <c>/v1/page</c> … and the analytics.js letters <c>/v1/i</c> ….</summary>
    SingleEvent,

    /// <summary>A batch envelope: <c>/v1/batch</c>, <c>/v1/b</c>, <c>/v1/import</c>, <c>/v1/import/</c>.</summary>
    Batch,

    /// <summary>analytics.js client metrics (<c>/v1/m</c>): forwarded, never parsed.</summary>
    ClientMetrics,
}

/// <summary>A classified path: its kind, the event type the path implies, and the metric label.</summary>
public readonly record struct SegmentRoute(SegmentRouteKind Kind, SegmentEventType? ImpliedType, string Label)
{
    public static readonly SegmentRoute Other = new(SegmentRouteKind.Other, null, "other");
}

/// <summary>Classifies Segment Tracking API paths (after any configured prefix was removed).</summary>
public static class SegmentRoutes
{
    private static readonly SegmentRoute Batch = new(SegmentRouteKind.Batch, null, "batch");
    private static readonly SegmentRoute ClientMetrics = new(SegmentRouteKind.ClientMetrics, null, "client_metrics");

    /// <summary>Classifies <paramref name="path"/>; matching is exact and case-sensitive, as Segment's is.</summary>
    public static SegmentRoute Classify(ReadOnlySpan<char> path) => path switch
    {
        "/v1/identify" => Single(SegmentEventType.Identify),
        "/v1/page" => Single(SegmentEventType.Page),
        "/v1/track" => Single(SegmentEventType.Track),
        "/v1/screen" => Single(SegmentEventType.Screen),
        "/v1/group" => Single(SegmentEventType.Group),
        "/v1/alias" => Single(SegmentEventType.Alias),
        "/v1/i" => Short(SegmentEventType.Identify),
        "/v1/p" => Short(SegmentEventType.Page),
        "/v1/t" => Short(SegmentEventType.Track),
        "/v1/s" => Short(SegmentEventType.Screen),
        "/v1/g" => Short(SegmentEventType.Group),
        "/v1/a" => Short(SegmentEventType.Alias),
        "/v1/batch" or "/v1/b" or "/v1/import" or "/v1/import/" => Batch,
        "/v1/m" => ClientMetrics,
        _ => SegmentRoute.Other,
    };

    /// <summary>
    /// Removes <paramref name="prefix"/> from the front of <paramref name="path"/> when it is there as
    /// whole segments (<c>/segment/v1/i</c> → <c>/v1/i</c>, but not <c>/segments/v1/i</c>).
    /// </summary>
    public static ReadOnlySpan<char> RemovePrefix(ReadOnlySpan<char> path, string? prefix)
    {
        // Case-insensitive, as the forwarding side (YARP's PathRemovePrefix) matches it, so both agree on what is stripped.
        if (string.IsNullOrEmpty(prefix) || !path.StartsWith(prefix, StringComparison.OrdinalIgnoreCase))
        {
            return path;
        }

        var rest = path[prefix.Length..];
        return rest.IsEmpty || rest[0] == '/' ? rest : path;
    }

    private static SegmentRoute Single(SegmentEventType type) => new(SegmentRouteKind.SingleEvent, type, "single");

    private static SegmentRoute Short(SegmentEventType type) => new(SegmentRouteKind.SingleEvent, type, "short");
}
