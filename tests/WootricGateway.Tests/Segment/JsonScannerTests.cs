using System.Text;
using System.Text.Json;
using WootricGateway.Segment;

namespace WootricGateway.Tests.Segment;

/// <summary>
/// The scanner accepts exactly what <see cref="Utf8JsonReader"/> accepts, with the same depth limit,
/// and finds a value where the reader does.
/// </summary>
public sealed class JsonScannerTests
{
    [Theory]
    [InlineData("{}")]
    [InlineData(" \t\r\n{ \"a\" : [ 1 , -0.5e+3 , true , false , null , \"x\\u00e9\\n\" ] } \n")]
    [InlineData("[]")]
    [InlineData("\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u0041\"")]
    [InlineData("-0")]
    [InlineData("0e0")]
    [InlineData("1E5")]
    [InlineData("\"\u007f\"")]
    [InlineData("{\"a\":{\"b\":{\"c\":[[[]]]}}}")]
    public void ValidJson_IsAccepted(string json)
    {
        Assert.True(ScannerAccepts(Encoding.UTF8.GetBytes(json), 64));
        Assert.True(ReaderAccepts(Encoding.UTF8.GetBytes(json), 64));
    }

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData("\uFEFF{}")]
    [InlineData("{} {}")]
    [InlineData("{}\u0000")]
    [InlineData("[1,]")]
    [InlineData("{\"a\":1,}")]
    [InlineData("{\"a\" 1}")]
    [InlineData("{'a':1}")]
    [InlineData("{a:1}")]
    [InlineData("[1 2]")]
    [InlineData("01")]
    [InlineData("[-]")]
    [InlineData("[.5]")]
    [InlineData("[1.]")]
    [InlineData("[1e]")]
    [InlineData("[1e+]")]
    [InlineData("[+1]")]
    [InlineData("[00]")]
    [InlineData("[1.5.3]")]
    [InlineData("[1x]")]
    [InlineData("[nul]")]
    [InlineData("[truex]")]
    [InlineData("\"\\x\"")]
    [InlineData("\"\\u00zz\"")]
    [InlineData("\"\\u00\"")]
    [InlineData("\"a\u0001b\"")]
    [InlineData("\"unterminated")]
    [InlineData("[\f]")]
    [InlineData("/* comment */ {}")]
    [InlineData("{\"a\":1}}")]
    [InlineData("[")]
    [InlineData("{\"a\":")]
    public void MalformedJson_IsRejected(string json)
    {
        Assert.False(ScannerAccepts(Encoding.UTF8.GetBytes(json), 64));
        Assert.False(ReaderAccepts(Encoding.UTF8.GetBytes(json), 64));
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(64)]
    [InlineData(65)]
    [InlineData(200)]
    public void DepthLimit_MatchesReader(int maxDepth)
    {
        foreach (var depth in new[] { maxDepth - 1, maxDepth, maxDepth + 1 })
        {
            var arrays = Encoding.UTF8.GetBytes(new string('[', depth) + new string(']', depth));
            var objects = Encoding.UTF8.GetBytes(string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth));

            Assert.Equal(ReaderAccepts(arrays, maxDepth), ScannerAccepts(arrays, maxDepth));
            Assert.Equal(ReaderAccepts(objects, maxDepth), ScannerAccepts(objects, maxDepth));
        }
    }

    [Fact]
    public void DeepNesting_WithHugeLimitIsAccepted()
    {
        var json = Encoding.UTF8.GetBytes("{\"a\":" + new string('[', 300) + new string(']', 300) + "}");

        Assert.True(ScannerAccepts(json, int.MaxValue));
        Assert.True(ReaderAccepts(json, int.MaxValue));
    }

    [Theory]
    [InlineData(63, -1)]
    [InlineData(150, -1)]
    [InlineData(150, 100)]
    [InlineData(150, 30)]
    public void MixedDeepNesting_MatchesReader(int depth, int wrongCloserAt)
    {
        // Objects and arrays alternate, so the scanner must remember each level's kind past the first 64.
        var json = new StringBuilder();
        for (var level = 0; level < depth; level++)
        {
            json.Append(level % 2 == 0 ? "{\"k\":" : "[");
        }

        json.Append("null");
        for (var level = depth - 1; level >= 0; level--)
        {
            var isObject = level % 2 == 0;
            json.Append((level == wrongCloserAt) != isObject ? '}' : ']');
        }

        var bytes = Encoding.UTF8.GetBytes(json.ToString());

        Assert.Equal(wrongCloserAt < 0, ReaderAccepts(bytes, 256));
        Assert.Equal(wrongCloserAt < 0, ScannerAccepts(bytes, 256));
    }

    [Fact]
    public void MutatedJson_MatchesReader()
    {
        // Seeded, so a failure can be reproduced: the message prints the input.
        var random = new Random(20261205);
        string[] pieces =
        [
            "{", "}", "[", "]", "\"", ":", ",", "\\", "\\u", "\\u00e9", "\\ud83d\\ude00", "null", "true", "false", "nul", "tru",
            "0", "1", "-", "-0", "01", "1.", ".5", "1e5", "1E+", "2.5e-3", " ", "\t", "\n", "\r", "\f", "\u0001", "é",
            "\"a\"", "\"\"", "{}", "[]", "\"k\":", "[[[[", "]]]]", "\"a long string value without any escape in it at all\"",
        ];
        var accepted = 0;
        for (var i = 0; i < 20_000; i++)
        {
            var text = new StringBuilder(RandomValue(random, 0));
            for (var edits = random.Next(0, 3); edits > 0; edits--)
            {
                var at = random.Next(text.Length + 1);
                if (random.Next(2) == 0 && at < text.Length)
                {
                    text.Remove(at, Math.Min(text.Length - at, random.Next(1, 4)));
                }
                else
                {
                    text.Insert(at, pieces[random.Next(pieces.Length)]);
                }
            }

            var bytes = Encoding.UTF8.GetBytes(text.ToString());
            var maxDepth = random.Next(1, 6);
            var expected = ReaderAccepts(bytes, maxDepth);
            Assert.True(expected == ScannerAccepts(bytes, maxDepth), $"maxDepth {maxDepth}, reader accepts: {expected}, input: {text}");
            accepted += expected ? 1 : 0;
        }

        // Both outcomes must be well represented, or the comparison proves little.
        Assert.InRange(accepted, 2_000, 18_000);
    }

    [Fact]
    public void SkipValue_FindsTheReadersRange()
    {
        var json = Encoding.UTF8.GetBytes("  {\"a\" : [1, {\"b\":\"c\"}], \"d\":\"e\\\"f\"} ");

        var scanner = new JsonScanner(json, 64);
        var (start, length) = scanner.SkipValue(0);
        var reader = new Utf8JsonReader(json);
        reader.Read();
        var readerStart = reader.TokenStartIndex;
        reader.Skip();

        Assert.Equal(readerStart, start);
        Assert.Equal(reader.BytesConsumed, start + length);
    }

    [Fact]
    public void NextMember_ReadsNamesAndEscapes()
    {
        var json = Encoding.UTF8.GetBytes("{\"plain\":1, \"t\\u0079pe\" :\"x\"}");
        var scanner = new JsonScanner(json, 64);
        Assert.Equal((byte)'{', scanner.Peek());
        scanner.Open(1);
        var first = true;

        Assert.True(scanner.NextMember(ref first, out var plain));
        Assert.Equal("plain", Encoding.UTF8.GetString(json, plain.Start, plain.Length));
        Assert.False(plain.Escaped);
        scanner.SkipValue(1);

        Assert.True(scanner.NextMember(ref first, out var escaped));
        Assert.Equal("t\\u0079pe", Encoding.UTF8.GetString(json, escaped.Start, escaped.Length));
        Assert.True(escaped.Escaped);
        scanner.SkipValue(1);

        Assert.False(scanner.NextMember(ref first, out _));
        scanner.ExpectEnd();
    }

    private static string RandomValue(Random random, int depth)
    {
        var kind = depth > 4 ? random.Next(4) : random.Next(7);
        switch (kind)
        {
            case 0:
                return random.Next(3) switch { 0 => "null", 1 => "true", _ => "false" };
            case 1:
                return random.Next(4) switch { 0 => "0", 1 => "-12", 2 => "3.25", _ => "6.02e23" };
            case 2:
                return random.Next(3) switch { 0 => "\"\"", 1 => "\"plain text\"", _ => "\"esc\\\"aped\\u00e9\\n\"" };
            case 3:
                return "\"" + new string('s', random.Next(0, 40)) + "\"";
            case 4:
            case 5:
                var members = Enumerable.Range(0, random.Next(0, 4)).Select(i => $"\"k{i}\":{RandomValue(random, depth + 1)}");
                return "{" + string.Join(random.Next(4) == 0 ? " , " : ",", members) + "}";
            default:
                var items = Enumerable.Range(0, random.Next(0, 4)).Select(_ => RandomValue(random, depth + 1));
                return "[" + string.Join(",", items) + "]";
        }
    }

    private static bool ScannerAccepts(byte[] json, int maxDepth)
    {
        try
        {
            var scanner = new JsonScanner(json, maxDepth);
            scanner.SkipValue(0);
            scanner.ExpectEnd();
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static bool ReaderAccepts(byte[] json, int maxDepth)
    {
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = maxDepth });
            while (reader.Read())
            {
            }

            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }
}
