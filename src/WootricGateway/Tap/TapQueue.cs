using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Threading.Channels;
using Microsoft.Extensions.Options;
using WootricGateway.Metrics;
using WootricGateway.Segment;

namespace WootricGateway.Tap;

/// <summary>
/// The bounded hand-off between request threads and the parser, limited both in captures and in
/// the pooled bytes they hold. Writers never wait: when either limit is reached the capture is
/// dropped and the caller counts it.
/// </summary>
/// <remarks>
/// NOTE: captures here are in process memory only. A crash loses the few that the parser has not yet
/// handed to the store, even with Redis; the <c>handed_off</c> outcome counts those that made it.
/// </remarks>
internal sealed class TapQueue
{
    /// <summary>
    /// How many returned arrays <see cref="BufferPool"/> keeps per array size. Captures use five sizes
    /// (1 to 16 KiB), so the pool keeps at most about 7.75 MiB.
    /// </summary>
    internal const int PooledBuffersPerSize = 256;

    private readonly Channel<CapturedRequest> _channel;
    private readonly long _capacityBytes;
    private readonly int _capacity;
    private long _bytes;

    /// <summary>
    /// Creates the queue. With <paramref name="metrics"/>, its depth is read into
    /// <c>wootric_gateway_tap_queue_depth</c> at every scrape, so the gauge is current even while the
    /// parser, at its low priority, gets no CPU to report it.
    /// </summary>
    public TapQueue(IOptions<TapOptions> options, GatewayMetrics? metrics = null)
    {
        _capacityBytes = options.Value.QueueCapacityBytes;
        _capacity = options.Value.QueueCapacity;
        _channel = Channel.CreateBounded<CapturedRequest>(new BoundedChannelOptions(options.Value.QueueCapacity)
        {
            FullMode = BoundedChannelFullMode.Wait,
            SingleReader = false,
            SingleWriter = false,
        });
        metrics?.Registry.AddBeforeCollectCallback(() => metrics.TapQueueDepth.Set(Count));
    }

    /// <summary>
    /// The pool that capture arrays come from. It keeps a parser backlog's arrays for reuse, where the
    /// shared pool (32 per size and core) drops them (docs/benchmarks.md, "A pool for the tap's buffers").
    /// </summary>
    public ArrayPool<byte> BufferPool { get; } = ArrayPool<byte>.Create(PooledSegmentBuffer.SegmentSize, PooledBuffersPerSize);

    /// <summary>Captures waiting.</summary>
    public int Count => _channel.Reader.Count;

    /// <summary>Pooled bytes held by the captures waiting.</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>
    /// Returns whether a capture of about <paramref name="expectedBytes"/> would fit now. Writers call it
    /// before copying a body, so a full queue costs no copy. <see cref="TryWrite"/> still decides.
    /// </summary>
    public bool HasRoomFor(long expectedBytes) =>
        _channel.Reader.Count < _capacity && Interlocked.Read(ref _bytes) + Math.Max(expectedBytes, 0) <= _capacityBytes;

    /// <summary>Queues <paramref name="request"/>; returns false without waiting when the queue is full.</summary>
    public bool TryWrite(CapturedRequest request)
    {
        var size = request.Body.Capacity;
        if (Interlocked.Add(ref _bytes, size) > _capacityBytes && size > 0)
        {
            Interlocked.Add(ref _bytes, -size);
            return false;
        }

        if (_channel.Writer.TryWrite(request))
        {
            return true;
        }

        Interlocked.Add(ref _bytes, -size);
        return false;
    }

    /// <summary>Takes the oldest capture, if any; the caller owns (and disposes) its body.</summary>
    public bool TryRead([MaybeNullWhen(false)] out CapturedRequest request)
    {
        if (!_channel.Reader.TryRead(out request))
        {
            return false;
        }

        Interlocked.Add(ref _bytes, -request.Body.Capacity);
        return true;
    }

    /// <summary>Waits until a capture is available; false once the queue is completed and empty.</summary>
    public ValueTask<bool> WaitToReadAsync(CancellationToken cancellationToken) => _channel.Reader.WaitToReadAsync(cancellationToken);

    /// <summary>Stops accepting captures, so the parser can drain what is queued and stop.</summary>
    public void Complete() => _channel.Writer.TryComplete();
}
