using System.Threading.Channels;
using Microsoft.Extensions.Options;

namespace WootricGateway.Tap;

/// <summary>
/// The bounded hand-off between request threads and the parser. Writers never wait: when the
/// queue is full the capture is dropped and the caller counts it.
/// </summary>
/// <remarks>
/// NOTE: captures here are in process memory only. A crash loses the few that the parser has not yet
/// handed to the store, even with Redis; the <c>handed_off</c> outcome counts those that made it.
/// </remarks>
internal sealed class TapQueue
{
    private readonly Channel<CapturedRequest> _channel;

    public TapQueue(IOptions<TapOptions> options)
    {
        _channel = Channel.CreateBounded<CapturedRequest>(new BoundedChannelOptions(options.Value.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = false,
            SingleWriter = false,
        });
    }

    public ChannelReader<CapturedRequest> Reader => _channel.Reader;

    public int Count => _channel.Reader.Count;

    /// <summary>Queues <paramref name="request"/>; returns false without waiting when the queue is full.</summary>
    public bool TryWrite(CapturedRequest request) => _channel.Writer.TryWrite(request);

    /// <summary>Stops accepting captures, so the parser can drain what is queued and stop.</summary>
    public void Complete() => _channel.Writer.TryComplete();
}
