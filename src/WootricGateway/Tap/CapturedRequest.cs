using WootricGateway.Segment;

namespace WootricGateway.Tap;

/// <summary>A complete copy of one proxied request body, waiting for the background parser.</summary>
internal sealed record CapturedRequest(
    SegmentRoute Route,
    string? ContentEncoding,
    string? HeaderWriteKey,
    PooledSegmentBuffer Body,
    DateTimeOffset ReceivedAt);
