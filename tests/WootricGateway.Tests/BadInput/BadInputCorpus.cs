using System.IO.Compression;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace WootricGateway.Tests.BadInput;

/// <summary>
/// One bad-input case from <c>corpus/manifest.json</c>: the request to send, why it is there, and
/// the change expected in <c>wootric_gateway_tap_requests_total</c> (keyed by outcome) and,
/// where given, in <c>wootric_gateway_tap_events_total</c> (keyed by <c>type/outcome</c>).
/// </summary>
internal sealed record CorpusCase
{
    public required string Id { get; init; }

    public required string Why { get; init; }

    public string Method { get; init; } = "POST";

    public required string Path { get; init; }

    /// <summary>A file in the corpus folder, sent byte for byte. With neither this nor a generator the body is empty.</summary>
    public string? Body { get; init; }

    /// <summary>The name of a <see cref="BadInputCorpus.Generate"/> body, for bodies too large to store.</summary>
    public string? Generator { get; init; }

    public Dictionary<string, string> Headers { get; init; } = [];

    /// <summary>Headers filled with a repeated letter to the given length in bytes.</summary>
    [JsonPropertyName("padded_headers")]
    public Dictionary<string, int> PaddedHeaders { get; init; } = [];

    /// <summary>Sends the body with chunked transfer encoding and no Content-Length.</summary>
    public bool Chunked { get; init; }

    [JsonPropertyName("upstream_status")]
    public int UpstreamStatus { get; init; } = 200;

    /// <summary>A status the gateway itself responds with (such as Kestrel's 431); the upstream then receives nothing.</summary>
    [JsonPropertyName("expect_status")]
    public int? ExpectStatus { get; init; }

    public Dictionary<string, double> Tap { get; init; } = [];

    [JsonPropertyName("tap_events")]
    public Dictionary<string, double> TapEvents { get; init; } = [];

    public override string ToString() => Id;
}

/// <summary>Loads the checked-in corpus and builds the generated bodies.</summary>
internal static class BadInputCorpus
{
    /// <summary>Size of the decompression bombs once decoded: past the default 8 MiB Tap:MaxDecodedBytes.</summary>
    public const int BombDecodedBytes = 20_000_000;

    private static readonly Lazy<IReadOnlyList<CorpusCase>> LoadedCases = new(Load);

    private static readonly JsonSerializerOptions ManifestJson = new()
    {
        PropertyNameCaseInsensitive = true,
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    public static string Directory { get; } = System.IO.Path.Combine(AppContext.BaseDirectory, "BadInput", "corpus");

    public static IReadOnlyList<CorpusCase> Cases => LoadedCases.Value;

    public static CorpusCase Find(string id) =>
        Cases.SingleOrDefault(candidate => candidate.Id == id)
        ?? throw new InvalidDataException($"No corpus case '{id}' in {System.IO.Path.Combine(Directory, "manifest.json")}.");

    /// <summary>Returns the exact bytes a case sends.</summary>
    public static byte[] ReadBody(CorpusCase testCase)
    {
        if (testCase.Body is { } file)
        {
            return File.ReadAllBytes(System.IO.Path.Combine(Directory, file));
        }

        return testCase.Generator is { } generator ? Generate(generator) : [];
    }

    /// <summary>Builds a generated body. Each generator is deterministic, so a failure can be reproduced.</summary>
    public static byte[] Generate(string name) => name switch
    {
        "nested-arrays-100000" => Encoding.ASCII.GetBytes(new string('[', 100_000) + new string(']', 100_000)),
        "gzip-bomb" => Compress(WhitespaceBomb(), stream => new GZipStream(stream, CompressionLevel.SmallestSize)),
        "brotli-bomb" => Compress(WhitespaceBomb(), stream => new BrotliStream(stream, CompressionLevel.Optimal)),
        "deflate-bomb" => Compress(WhitespaceBomb(), stream => new ZLibStream(stream, CompressionLevel.SmallestSize)),
        "brotli-valid-identify" => BrotliIdentify(),
        "brotli-cut-identify" => BrotliIdentify()[..(BrotliIdentify().Length / 2)],
        "batch-1500000-bytes" => PaddedBatch(1_500_000),
        "batch-10000-events" => ManyEventBatch(10_000, identifyEvery: 1_000),
        _ => throw new InvalidDataException($"Unknown corpus generator '{name}'; see BadInputCorpus.Generate for the known names."),
    };

    /// <summary>A valid batch envelope with an empty batch and <see cref="BombDecodedBytes"/> of whitespace.</summary>
    private static byte[] WhitespaceBomb()
    {
        var body = new byte[BombDecodedBytes];
        body.AsSpan().Fill((byte)' ');
        "{\"batch\":["u8.CopyTo(body);
        "]}"u8.CopyTo(body.AsSpan(body.Length - 2));
        return body;
    }

    /// <summary>The control identify, compressed with Brotli; no Brotli encoder is at hand to store it as a file.</summary>
    private static byte[] BrotliIdentify() =>
        Compress(File.ReadAllBytes(System.IO.Path.Combine(Directory, "valid-identify.json")), stream => new BrotliStream(stream, CompressionLevel.Optimal));

    private static byte[] Compress(byte[] data, Func<Stream, Stream> open)
    {
        using var output = new MemoryStream();
        using (var compressor = open(output))
        {
            compressor.Write(data);
        }

        return output.ToArray();
    }

    private static byte[] PaddedBatch(int size)
    {
        var prefix = "{\"batch\":[{\"type\":\"track\",\"event\":\"padded\",\"userId\":\"corpus-padded\",\"properties\":{\"pad\":\"";
        var suffix = "\"}}]}";
        return Encoding.ASCII.GetBytes(prefix + new string('x', size - prefix.Length - suffix.Length) + suffix);
    }

    private static byte[] ManyEventBatch(int count, int identifyEvery)
    {
        var builder = new StringBuilder("{\"writeKey\":\"corpus-bulk-key\",\"batch\":[");
        for (var i = 0; i < count; i++)
        {
            builder.Append(i == 0 ? "" : ",");
            if (i % identifyEvery == 0)
            {
                builder.Append("{\"type\":\"identify\",\"userId\":\"corpus-bulk-").Append(i).Append("\",\"traits\":{\"email\":\"corpus-bulk-").Append(i).Append("@example.test\"}}");
            }
            else
            {
                builder.Append("{\"type\":\"track\",\"event\":\"e").Append(i).Append("\",\"userId\":\"corpus-bulk-").Append(i).Append("\"}");
            }
        }

        return Encoding.ASCII.GetBytes(builder.Append("]}").ToString());
    }

    private static IReadOnlyList<CorpusCase> Load()
    {
        var path = System.IO.Path.Combine(Directory, "manifest.json");
        var manifest = JsonSerializer.Deserialize<Manifest>(File.ReadAllBytes(path), ManifestJson)
            ?? throw new InvalidDataException($"{path} is empty.");
        return manifest.Cases;
    }

    private sealed record Manifest(IReadOnlyList<CorpusCase> Cases);
}
