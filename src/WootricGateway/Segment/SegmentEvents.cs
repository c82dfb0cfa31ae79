namespace WootricGateway.Segment;

/// <summary>Event types the tap distinguishes. Metric labels use <see cref="SegmentEventTypes.Label"/>.</summary>
public enum SegmentEventType
{
    Identify,
    Page,
    Track,
    Screen,
    Group,
    Alias,
    Other,
}

public static class SegmentEventTypes
{
    /// <summary>Returns the type for a Segment <c>type</c> value, or <see cref="SegmentEventType.Other"/>.</summary>
    public static SegmentEventType FromName(string? name) => name switch
    {
        "identify" => SegmentEventType.Identify,
        "page" => SegmentEventType.Page,
        "track" => SegmentEventType.Track,
        "screen" => SegmentEventType.Screen,
        "group" => SegmentEventType.Group,
        "alias" => SegmentEventType.Alias,
        _ => SegmentEventType.Other,
    };

    /// <summary>Returns the metric label for a type: a closed set of lower-case names.</summary>
    public static string Label(SegmentEventType type) => type switch
    {
        SegmentEventType.Identify => "identify",
        SegmentEventType.Page => "page",
        SegmentEventType.Track => "track",
        SegmentEventType.Screen => "screen",
        SegmentEventType.Group => "group",
        SegmentEventType.Alias => "alias",
        _ => "other",
    };
}

/// <summary>Fields shared by every tapped event.</summary>
public abstract record SegmentEvent
{
    /// <summary>The write key of the request (Basic auth first, else the body's <c>writeKey</c>); a secret.</summary>
    public string? WriteKey { get; init; }

    public string? MessageId { get; init; }

    /// <summary><c>userId</c> as text; JSON numbers become their decimal text.</summary>
    public string? UserId { get; init; }

    public string? AnonymousId { get; init; }

    /// <summary>The event time (<c>timestamp</c>), not <c>sentAt</c>; null when absent or unparseable.</summary>
    public DateTimeOffset? Timestamp { get; init; }
}

/// <summary>
/// An identify call. <see cref="Traits"/> is the merged view: batch-level <c>context.traits</c>,
/// then the event's <c>context.traits</c>, then its top-level <c>traits</c>, the later winning per key.
/// </summary>
public sealed record IdentifyEvent : SegmentEvent
{
    public IReadOnlyList<KeyValuePair<string, TraitValue>> Traits { get; init; } = [];
}

/// <summary>A page call: <see cref="Url"/> is <c>properties.url</c>, else <c>context.page.url</c>.</summary>
public sealed record PageEvent : SegmentEvent
{
    public string? Url { get; init; }

    public string? Name { get; init; }
}

/// <summary>The identify and page events read from one proxied request body.</summary>
public sealed record TappedBatch(string? WriteKey, IReadOnlyList<SegmentEvent> Events, DateTimeOffset ReceivedAt);
