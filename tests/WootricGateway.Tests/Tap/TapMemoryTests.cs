using System.Buffers;
using System.Diagnostics;
using System.Diagnostics.Tracing;
using System.IO.Compression;
using System.Text;
using Microsoft.Extensions.Options;
using WootricGateway.Segment;
using WootricGateway.Tap;

namespace WootricGateway.Tests.Tap;

/// <summary>What the tap costs in memory: pooled capture buffers, the queue's byte bound and the CPU budget.</summary>
[Collection(SerialTests.Name)]
public sealed class TapMemoryTests
{
    [Theory]
    [InlineData(600, 1024)]
    [InlineData(2_058, 4096)]
    [InlineData(17_305, (16 * 1024) + 1024)]
    [InlineData(40_000, (32 * 1024) + 8192)]
    public void Segments_FollowContentLength(int length, int expectedCapacity)
    {
        using var capture = new PooledSegmentBuffer(1 << 20, length);

        Assert.True(capture.TryAppend(new byte[length]));

        Assert.Equal(expectedCapacity, capture.Capacity);
        Assert.Equal(length, capture.Length);
    }

    [Fact]
    public void Segments_WithoutLength_AreFull()
    {
        using var capture = new PooledSegmentBuffer(1 << 20);

        Assert.True(capture.TryAppend(new byte[20_000]));

        Assert.Equal(2 * PooledSegmentBuffer.SegmentSize, capture.Capacity);
    }

    [Fact]
    public void MixedSegments_KeepBytesInOrder()
    {
        var data = Enumerable.Range(0, 50_000).Select(i => (byte)(i % 253)).ToArray();
        using var capture = new PooledSegmentBuffer(1 << 20, 1500);

        foreach (var chunk in data.Chunk(777))
        {
            Assert.True(capture.TryAppend(chunk));
        }

        Assert.Equal(data, capture.ToSequence().ToArray());
    }

    [Fact]
    public void TeePath_AllocatesNothingPerRead()
    {
        var body = new byte[120_000];
        Random.Shared.NextBytes(body);
        var destination = new byte[8192];

        // Segments come from a pool of the test's own: the shared pool may release its arrays at any gen2
        // collection when memory load is high, and a refill would be counted here as the tee's allocation.
        var pool = ArrayPool<byte>.Create(maxArrayLength: PooledSegmentBuffer.SegmentSize, maxArraysPerBucket: 16);

        // One pass first, so the pool has arrays of each size and every code path is compiled.
        CaptureAll(body, destination, pool);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var capture = new PooledSegmentBuffer(1 << 20, body.Length, pool);
        var tee = new TeeStream(new MemoryStream(body, writable: false), capture);
        var afterSetup = GC.GetAllocatedBytesForCurrentThread();
        while (tee.Read(destination) > 0)
        {
        }

        var afterReads = GC.GetAllocatedBytesForCurrentThread();
        capture.Dispose();

        Assert.True(tee.Completed);
        Assert.Equal(0, afterReads - afterSetup);
        Assert.True(afterSetup - before < 1024, $"setting up a capture allocated {afterSetup - before} bytes");
    }

    [Fact]
    public void Queue_BoundsPooledBytes()
    {
        var queue = new TapQueue(Options.Create(new TapOptions { QueueCapacity = 1000, QueueCapacityBytes = 64 * 1024 }));
        var accepted = new List<CapturedRequest>();

        for (var i = 0; i < 10; i++)
        {
            var body = new PooledSegmentBuffer(1 << 20, 20_000);
            body.TryAppend(new byte[20_000]);
            var request = new CapturedRequest(SegmentRoutes.Classify("/v1/batch"), null, null, body, DateTimeOffset.UnixEpoch);
            if (queue.TryWrite(request))
            {
                accepted.Add(request);
            }
            else
            {
                body.Dispose();
            }
        }

        // Each 20,000-byte body uses 20 KiB of pooled segments (16 + 4), so three fit in 64 KiB.
        Assert.Equal(3, accepted.Count);
        Assert.Equal(60 * 1024, queue.Bytes);
        Assert.True(queue.TryRead(out var first));
        first.Body.Dispose();
        Assert.Equal(40 * 1024, queue.Bytes);
        var small = new PooledSegmentBuffer(1 << 20, 600);
        small.TryAppend(new byte[600]);
        Assert.True(queue.TryWrite(new CapturedRequest(SegmentRoutes.Classify("/v1/p"), null, null, small, DateTimeOffset.UnixEpoch)));
        Assert.Equal((40 * 1024) + 1024, queue.Bytes);
    }

    [Fact]
    public void Budget_PausesOnlyPastItsShare()
    {
        long now = 0;
        var budget = new ParserBudget(0.5, () => now);
        var second = Stopwatch.Frequency;

        // 80 ms of parsing is within the 100 ms burst.
        budget.Charge(TimeSpan.FromMilliseconds(80));
        Assert.Equal(TimeSpan.Zero, budget.RequiredPause());

        // Another 120 ms at once is 100 ms past the burst: at half a core that needs 200 ms of rest.
        budget.Charge(TimeSpan.FromMilliseconds(120));
        Assert.Equal(200, budget.RequiredPause().TotalMilliseconds, 1);

        // After those 200 ms the allowance has refilled by 100 ms.
        now += second / 5;
        Assert.Equal(TimeSpan.Zero, budget.RequiredPause());

        // A steady half core, charged every 10 ms, never needs a pause.
        for (var i = 0; i < 1000; i++)
        {
            now += second / 100;
            budget.Charge(TimeSpan.FromMilliseconds(5));
            Assert.Equal(TimeSpan.Zero, budget.RequiredPause());
        }
    }

    [Fact]
    public void LargeBatch_ParsesWithoutLargeObjectHeapAllocations()
    {
        var json = LargeBatch(500 * 1024);
        var gzip = Gzip(json);

        // The parser copies a segmented body into one array rented from a pool, and a 500 KB array is a
        // large object. The shared pool releases its arrays at a gen2 collection when memory load is high,
        // which other tests and the machine decide. A pool of the test's own never does, so a rent
        // after the warm-up is served from it, and any large allocation left is the parser's own.
        var scratch = ArrayPool<byte>.Create(maxArrayLength: 1 << 20, maxArraysPerBucket: 2);
        using var listener = new LargeAllocationListener(CurrentOsThreadId());

        // Warm-up: the first parses fill the pool with the array this batch needs and compile every path.
        for (var i = 0; i < 3; i++)
        {
            ParseOnce(gzip, scratch);
        }

        // The runtime delivers allocation events on a thread of its own, some time after they happen. A marker
        // allocation on this thread before and after the measurement, each waited for, brackets the events the
        // measured parses raised. Late events from the warm-up arrive before the first marker.
        listener.MarkAndWait();
        for (var i = 0; i < 10; i++)
        {
            ParseOnce(gzip, scratch);
        }

        listener.MarkAndWait();

        Assert.True(listener.LargeAllocations == 0, $"{listener.LargeAllocations} large-object-heap allocation ticks on the parsing thread");
    }

    private static void CaptureAll(byte[] body, byte[] destination, ArrayPool<byte> pool)
    {
        using var capture = new PooledSegmentBuffer(1 << 20, body.Length, pool);
        var tee = new TeeStream(new MemoryStream(body, writable: false), capture);
        while (tee.Read(destination) > 0)
        {
        }
    }

    private static void ParseOnce(byte[] gzip, ArrayPool<byte> scratch)
    {
        using var capture = new PooledSegmentBuffer(1 << 20, gzip.Length);
        capture.TryAppend(gzip);
        var outcome = BodyDecoder.TryDecode(capture.ToSequence(), "gzip", 8 << 20, out var decoded, out var owner);
        using (owner)
        {
            Assert.Equal(DecodeOutcome.Ok, outcome);
            var result = SegmentParser.Parse(decoded, SegmentRoutes.Classify("/v1/batch"), "key", DateTimeOffset.UnixEpoch, scratch: scratch);
            Assert.Equal(BodyOutcome.Parsed, result.Outcome);
            Assert.NotEmpty(result.Batch!.Events);
        }
    }

    private static byte[] LargeBatch(int size)
    {
        var builder = new StringBuilder("{\"batch\":[");
        for (var i = 0; builder.Length < size; i++)
        {
            builder.Append(i == 0 ? "" : ",");
            builder.Append(i % 4 == 0
                ? $$$"""{"type":"identify","userId":"user-{{{i}}}","messageId":"m-{{{i}}}","traits":{"email":"user-{{{i}}}@example.test","plan":"team","seats":{{{i % 40}}}}}"""
                : $$$"""{"type":"track","userId":"user-{{{i}}}","messageId":"m-{{{i}}}","event":"Item Viewed","properties":{"sku":"SKU-{{{i:000000}}}","price":{{{i % 1000}}}.5}}""");
        }

        builder.Append("]}");
        return Encoding.UTF8.GetBytes(builder.ToString());
    }

    private static byte[] Gzip(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }

    /// <summary>The kernel's id of the calling thread (Linux: the target of /proc/thread-self), or -1 elsewhere.</summary>
    private static int CurrentOsThreadId()
    {
        var link = OperatingSystem.IsLinux() ? new FileInfo("/proc/thread-self").LinkTarget : null;
        return link is not null && int.TryParse(Path.GetFileName(link), out var id) ? id : -1;
    }

    /// <summary>
    /// Counts the runtime's allocation ticks for large objects raised on one OS thread between two markers:
    /// large <c>long[]</c> allocations, which the parser never makes.
    /// </summary>
    private sealed class LargeAllocationListener(int osThreadId) : EventListener
    {
        private const int AllocationTickEventId = 10;
        private const uint LargeObjectKind = 1;
        private const string MarkerType = "System.Int64[]";
        private static readonly TimeSpan MarkerTimeout = TimeSpan.FromSeconds(30);

        private readonly SemaphoreSlim _markers = new(0);
        private int _markersSeen;
        private int _largeAllocations;

        /// <summary>Large-object ticks between the first marker and the second.</summary>
        public int LargeAllocations => Volatile.Read(ref _largeAllocations);

        /// <summary>Allocates a marker on the calling thread and waits until its event has been delivered.</summary>
        public void MarkAndWait()
        {
            // 240 KB: a large object, and past the 100 KB of allocation after which the runtime raises a tick.
            GC.KeepAlive(new long[30_000]);
            Assert.True(_markers.Wait(MarkerTimeout), "the marker's allocation event was not delivered");
        }

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == "Microsoft-Windows-DotNETRuntime")
            {
                EnableEvents(eventSource, EventLevel.Verbose, (EventKeywords)0x1);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs eventData)
        {
            if (eventData.EventId != AllocationTickEventId || (osThreadId >= 0 && eventData.OSThreadId != osThreadId))
            {
                return;
            }

            var kindIndex = eventData.PayloadNames?.IndexOf("AllocationKind") ?? -1;
            if (kindIndex < 0 || Convert.ToUInt32(eventData.Payload![kindIndex], System.Globalization.CultureInfo.InvariantCulture) != LargeObjectKind)
            {
                return;
            }

            var typeIndex = eventData.PayloadNames!.IndexOf("TypeName");
            if (typeIndex >= 0 && eventData.Payload![typeIndex] as string == MarkerType)
            {
                Interlocked.Increment(ref _markersSeen);
                _markers.Release();
            }
            else if (Volatile.Read(ref _markersSeen) == 1)
            {
                Interlocked.Increment(ref _largeAllocations);
            }
        }

        public override void Dispose()
        {
            base.Dispose();
            _markers.Dispose();
        }
    }
}

/// <summary>Tests that measure the process (allocations, runtime events) and so run with nothing else in parallel.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SerialTests
{
    public const string Name = "Serial";
}
