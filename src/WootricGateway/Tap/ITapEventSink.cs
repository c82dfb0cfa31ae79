using WootricGateway.Segment;

namespace WootricGateway.Tap;

/// <summary>Receives the identify and page events read from each tapped request.</summary>
public interface ITapEventSink
{
    /// <summary>Takes the events of one request. Called from the parser's background loop, one batch at a time.</summary>
    ValueTask ConsumeAsync(TappedBatch batch, CancellationToken cancellationToken);
}
