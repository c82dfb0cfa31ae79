using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;

namespace WootricGateway.Tests.BadInput;

/// <summary>A mutated request: path, body bytes, the Content-Encoding header (or null) and what was done.</summary>
internal sealed record MutatedInput(string Path, byte[] Body, string? ContentEncoding, string Description);

/// <summary>
/// Seeded random mutations of valid Segment bodies: bit flips, truncation, splicing, nesting,
/// type swaps, byte edits and encoding swaps, one to three per input. The same seed gives the same
/// inputs, so a failure is reproduced from the seed the test prints.
/// </summary>
internal sealed class SegmentBodyMutator(int seed)
{
    public static readonly string[] Paths = ["/v1/identify", "/v1/page", "/v1/i", "/v1/p", "/v1/track", "/v1/batch", "/v1/b", "/v1/import", "/v1/import/"];

    /// <summary>Valid bodies of the shapes real clients send, used as the starting points.</summary>
    public static readonly string[] SeedBodies =
    [
        """{"type":"identify","userId":"fuzz-u1","messageId":"fuzz-m1","traits":{"email":"fuzz-u1@example.test","plan":"team","createdAt":"2024-01-02T03:04:05Z","age":41,"tags":["a","b"],"address":{"city":"Oslo","zip":"0150"}}}""",
        """{"type":"page","userId":"fuzz-u2","name":"Home","properties":{"url":"https://example.test/home","title":"Home"},"context":{"page":{"url":"https://example.test/home"}}}""",
        """{"userId":"fuzz-u3","traits":{"email":"fuzz-u3@example.test","phone":"+4712345678","created_at":1704164645},"context":{"traits":{"plan":"pro"}},"writeKey":"fuzz-key"}""",
        """{"writeKey":"fuzz-key","sentAt":"2024-01-02T03:04:05Z","context":{"traits":{"company":"Acme"},"library":{"name":"analytics-node"}},"batch":[{"type":"identify","userId":"fuzz-u4","traits":{"email":"fuzz-u4@example.test"}},{"type":"page","anonymousId":"fuzz-a4","properties":{"url":"https://example.test/p"}},{"type":"track","event":"Clicked","userId":"fuzz-u4"}]}""",
        """{"batch":[{"type":"identify","anonymousId":"fuzz-a5","traits":{"email":"Fuzz.U5@Example.Test","name":"Fuzz \u00e9 \ud83d\ude00","createdAt":1704164645000}}],"sentAt":"2024-01-02T03:04:05.123Z"}""",
    ];

    private static readonly string[] ReplacementValues = ["123", "-1.5e400", "[]", "{}", "null", "true", "\"\"", "\"identify\"", "[\"identify\"]", "{\"type\":\"identify\"}", "\"\\ud800\"", "\"\\u0000\""];

    private readonly Random random = new(seed);

    public MutatedInput Next()
    {
        var seedIndex = random.Next(SeedBodies.Length);
        var body = Encoding.UTF8.GetBytes(SeedBodies[seedIndex]);
        string? encoding = null;
        var steps = new List<string> { $"seed {seedIndex}" };
        var count = 1 + random.Next(3);
        for (var i = 0; i < count; i++)
        {
            (body, encoding, var step) = Mutate(body, encoding);
            steps.Add(step);
        }

        return new MutatedInput(Paths[random.Next(Paths.Length)], body, encoding, string.Join(", ", steps));
    }

    private (byte[] Body, string? Encoding, string Step) Mutate(byte[] body, string? encoding)
    {
        switch (random.Next(9))
        {
            case 0:
                var flips = 1 + random.Next(8);
                var flipped = (byte[])body.Clone();
                for (var i = 0; i < flips && flipped.Length > 0; i++)
                {
                    flipped[random.Next(flipped.Length)] ^= (byte)(1 << random.Next(8));
                }

                return (flipped, encoding, $"flip {flips} bits");
            case 1:
                var cut = random.Next(body.Length + 1);
                return (body[..cut], encoding, $"truncate to {cut}");
            case 2:
                var other = Encoding.UTF8.GetBytes(SeedBodies[random.Next(SeedBodies.Length)]);
                var head = random.Next(body.Length + 1);
                var tail = random.Next(other.Length + 1);
                return ([.. body[..head], .. other[tail..]], encoding, $"splice {head}+{tail}");
            case 3:
                var depth = random.Next(2) == 0 ? 1 + random.Next(80) : 1 + random.Next(5000);
                var open = random.Next(2) == 0 ? "[" : "{\"a\":";
                var close = open == "[" ? "]" : "}";
                var wrapped = string.Concat(Enumerable.Repeat(open, depth)) + Encoding.UTF8.GetString(body) + string.Concat(Enumerable.Repeat(close, random.Next(2) == 0 ? depth : random.Next(depth + 1)));
                return (Encoding.UTF8.GetBytes(wrapped), encoding, $"nest {depth} {open}");
            case 4:
                return SwapValue(body, encoding);
            case 5:
                var position = random.Next(body.Length + 1);
                var inserted = new byte[1 + random.Next(8)];
                random.NextBytes(inserted);
                return ([.. body[..position], .. inserted, .. body[position..]], encoding, $"insert {inserted.Length} bytes at {position}");
            case 6:
                var start = random.Next(body.Length + 1);
                var length = random.Next(body.Length - start + 1);
                return ([.. body[..start], .. body[(start + length)..]], encoding, $"delete {length} at {start}");
            case 7:
                return Encode(body, encoding);
            default:
                var repeats = 2 + random.Next(50);
                var from = random.Next(body.Length + 1);
                var chunk = body[from..Math.Min(body.Length, from + random.Next(64))];
                return ([.. body[..from], .. Enumerable.Repeat(chunk, repeats).SelectMany(part => part), .. body[from..]], encoding, $"repeat {chunk.Length} bytes {repeats} times");
        }
    }

    /// <summary>Replaces one value in the parsed body (often <c>type</c>) with a value of another JSON kind.</summary>
    private (byte[] Body, string? Encoding, string Step) SwapValue(byte[] body, string? encoding)
    {
        JsonNode? root;
        var containers = new List<JsonNode>();
        try
        {
            // JsonNode reads strings and keys lazily, so invalid UTF-8 and duplicate keys surface only while collecting.
            root = encoding is null ? JsonNode.Parse(body) : null;
            if (root is not null)
            {
                Collect(root, containers);
            }
        }
        catch (Exception exception) when (exception is System.Text.Json.JsonException or InvalidOperationException or ArgumentException)
        {
            root = null;
        }

        if (root is null || containers.Count == 0)
        {
            return (body, encoding, "swap skipped");
        }

        var target = containers[random.Next(containers.Count)];
        var replacement = JsonNode.Parse(ReplacementValues[random.Next(ReplacementValues.Length)]);
        string where;
        if (target is JsonObject obj)
        {
            var name = random.Next(2) == 0 || obj.Count == 0 ? "type" : obj.ElementAt(random.Next(obj.Count)).Key;
            obj[name] = replacement;
            where = name;
        }
        else
        {
            var array = (JsonArray)target;
            var index = array.Count == 0 ? 0 : random.Next(array.Count);
            if (array.Count == 0)
            {
                array.Add(replacement);
            }
            else
            {
                array[index] = replacement;
            }

            where = $"[{index}]";
        }

        try
        {
            return (Encoding.UTF8.GetBytes(root.ToJsonString()), encoding, $"swap {where}");
        }
        catch (InvalidOperationException)
        {
            return (body, encoding, "swap skipped");
        }
    }

    private static void Collect(JsonNode node, List<JsonNode> containers)
    {
        if (node is JsonObject obj)
        {
            containers.Add(obj);
            foreach (var (_, child) in obj.ToList())
            {
                if (child is not null)
                {
                    Collect(child, containers);
                }
            }
        }
        else if (node is JsonArray array)
        {
            containers.Add(array);
            foreach (var child in array.ToList())
            {
                if (child is not null)
                {
                    Collect(child, containers);
                }
            }
        }
    }

    /// <summary>Compresses, re-encodes or mislabels the body.</summary>
    private (byte[] Body, string? Encoding, string Step) Encode(byte[] body, string? encoding)
    {
        switch (random.Next(7))
        {
            case 0:
                return (Compress(body, stream => new GZipStream(stream, CompressionLevel.Fastest)), "gzip", "gzip");
            case 1:
                return (Compress(body, stream => new ZLibStream(stream, CompressionLevel.Fastest)), "deflate", "deflate");
            case 2:
                return (Compress(body, stream => new BrotliStream(stream, CompressionLevel.Fastest)), "br", "br");
            case 3:
                string[] labels = ["gzip", "br", "deflate", "x-gzip", "identity", "compress", "gzip, br", ""];
                var label = labels[random.Next(labels.Length)];
                return (body, label, $"label {label}");
            case 4:
                return (Encoding.Unicode.GetBytes(Encoding.UTF8.GetString(body)), encoding, "utf-16");
            case 5:
                return (Encoding.Latin1.GetBytes(Encoding.UTF8.GetString(body)), encoding, "latin-1");
            default:
                return ([0xEF, 0xBB, 0xBF, .. body], encoding, "bom");
        }
    }

    private static byte[] Compress(byte[] data, Func<Stream, Stream> open)
    {
        using var output = new MemoryStream();
        using (var compressor = open(output))
        {
            compressor.Write(data);
        }

        return output.ToArray();
    }
}
