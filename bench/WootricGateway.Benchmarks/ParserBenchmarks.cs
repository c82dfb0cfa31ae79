using System.Buffers;
using System.IO.Compression;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using WootricGateway.Segment;
using WootricGateway.Wootric;

namespace WootricGateway.Benchmarks;

/// <summary>
/// Throughput and allocations of the tap's parser and the identify mapping on realistic batches.
/// MB/s = body bytes / mean time; the body sizes are printed as parameters.
/// </summary>
[MemoryDiagnoser]
public class ParserBenchmarks
{
    private const string EventTemplate = """{"type":"TYPE","messageId":"bench-INDEX","timestamp":"2024-05-01T12:00:00.000Z","userId":"user-USER","event":"Item Viewed","properties":{"url":"https://www.example.test/item/INDEX","sku":"SKU-INDEX","price":12.5},"traits":{"email":"userUSER@example.test","plan":"team","seats":12,"createdAt":"2023-03-14T09:26:53.989Z","company":{"name":"Example Labs","size":40}},"context":{"library":{"name":"analytics-node-next","version":"3.1.0"},"ip":"203.0.113.10","page":{"path":"/pricing","url":"https://www.example.test/pricing"}}}""";

    private ReadOnlySequence<byte> _body;
    private PooledSegmentBuffer? _captured;
    private ReadOnlySequence<byte> _capturedBody;
    private ReadOnlySequence<byte> _gzipBody;
    private SegmentRoute _route;
    private IReadOnlyList<KeyValuePair<string, TraitValue>> _traits = [];

    /// <summary>Events in the batch; 8 is a typical server flush, 1000 is close to Segment's 500 KB limit.</summary>
    [Params(8, 1000)]
    public int Events { get; set; }

    /// <summary>
    /// Builds the benchmark's batch: <paramref name="events"/> events, a quarter identifies and a quarter
    /// pages, each with traits, properties and a context, as a server library sends them.
    /// </summary>
    public static byte[] BuildBatch(int events)
    {
        var builder = new StringBuilder("{\"batch\":[");
        for (var i = 0; i < events; i++)
        {
            if (i > 0)
            {
                builder.Append(',');
            }

            var type = (i % 4) switch { 0 => "identify", 1 => "page", _ => "track" };
            builder.Append(EventTemplate
                .Replace("TYPE", type, StringComparison.Ordinal)
                .Replace("INDEX", i.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
                .Replace("USER", (i % 50).ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal));
        }

        builder.Append("],\"sentAt\":\"2024-05-01T12:00:04.000Z\"}");
        return Encoding.UTF8.GetBytes(builder.ToString());
    }

    [GlobalSetup]
    public void Setup()
    {
        var bytes = BuildBatch(Events);
        _body = new ReadOnlySequence<byte>(bytes);
        _route = SegmentRoutes.Classify("/v1/batch");

        // The same bytes in the layout the tap stores them in: pooled 16 KiB segments, as TeeStream captures a request.
        _captured = new PooledSegmentBuffer(8 << 20, bytes.Length);
        _captured.TryAppend(bytes);
        _capturedBody = _captured.ToSequence();
        Console.WriteLine($"// body bytes: {bytes.Length}");

        using (var compressed = new MemoryStream())
        {
            using (var gzip = new GZipStream(compressed, CompressionLevel.Optimal))
            {
                gzip.Write(bytes);
            }

            _gzipBody = new ReadOnlySequence<byte>(compressed.ToArray());
        }

        var first = (IdentifyEvent)SegmentParser.Parse(_body, _route, "wk", DateTimeOffset.UnixEpoch).Batch!.Events[0];
        _traits = first.Traits;
    }

    [Benchmark]
    public int ParseBatch() => SegmentParser.Parse(_body, _route, "wk", DateTimeOffset.UnixEpoch).Batch!.Events.Count;

    /// <summary>As <see cref="ParseBatch"/>, from the segmented buffer the tap really parses.</summary>
    [Benchmark]
    public int ParseCapturedBatch() => SegmentParser.Parse(_capturedBody, _route, "wk", DateTimeOffset.UnixEpoch).Batch!.Events.Count;

    /// <summary>
    /// One <see cref="Utf8JsonReader"/> pass over the captured body that reads nothing: the floor for any
    /// parser built on the reader, measured in the same run as the parser.
    /// </summary>
    [Benchmark]
    public int ReaderPassCaptured()
    {
        var reader = new Utf8JsonReader(_capturedBody);
        var tokens = 0;
        while (reader.Read())
        {
            tokens++;
        }

        return tokens;
    }

    /// <summary>
    /// What replaced the reader's pass in the parser: copying the captured segments into one pooled array
    /// and checking it with <see cref="JsonScanner"/>, without the per-event reads.
    /// </summary>
    [Benchmark]
    public int ScanCaptured()
    {
        var length = (int)_capturedBody.Length;
        var json = System.Buffers.ArrayPool<byte>.Shared.Rent(length);
        try
        {
            _capturedBody.CopyTo(json);
            var scanner = new JsonScanner(json.AsSpan(0, length), 64);
            var (_, scanned) = scanner.SkipValue(0);
            scanner.ExpectEnd();
            return scanned;
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(json);
        }
    }

    /// <summary>The UTF-8 check that runs before every parse.</summary>
    [Benchmark]
    public bool ValidateUtf8Captured() => SegmentParser.IsValidUtf8(_capturedBody);

    /// <summary>The check for unpaired surrogate escapes that runs before a batch is read.</summary>
    [Benchmark]
    public bool CheckEscapesCaptured() => SegmentParser.HasOnlyPairedSurrogateEscapes(_capturedBody);

    /// <summary>Decoding the same batch sent gzip-compressed, including the trailer check.</summary>
    [Benchmark]
    public long DecodeGzip()
    {
        BodyDecoder.TryDecode(_gzipBody, "gzip", 8 << 20, out var decoded, out var owner);
        using (owner)
        {
            return decoded.Length;
        }
    }

    [GlobalCleanup]
    public void Cleanup() => _captured?.Dispose();

    [Benchmark]
    public int MapIdentify() => EndUserMapping.MapIdentify(_traits).Properties.Count;
}
