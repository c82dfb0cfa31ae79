using System.Globalization;
using System.Text;
using System.Text.Json;
using WootricGateway.Segment;

namespace WootricGateway.Tests.Segment;

/// <summary>
/// <see cref="TraitValue"/> returns what <see cref="JsonElement"/> returns for the same text, from every
/// member the mapping calls, so the mapping gives the same changes as it did over documents.
/// </summary>
public sealed class TraitValueTests
{
    [Theory]
    [InlineData("0")]
    [InlineData("-0")]
    [InlineData("12")]
    [InlineData("-12")]
    [InlineData("1.5")]
    [InlineData("1.0")]
    [InlineData("1E5")]
    [InlineData("1e+5")]
    [InlineData("25e-1")]
    [InlineData("9223372036854775807")]
    [InlineData("9223372036854775808")]
    [InlineData("-9223372036854775808")]
    [InlineData("-9223372036854775809")]
    [InlineData("123456789012345678901234567890")]
    [InlineData("1e400")]
    [InlineData("-1e400")]
    [InlineData("1e-400")]
    [InlineData("1710000000000")]
    [InlineData("1710000000.4999")]
    public void Numbers_MatchJsonElement(string json) => AssertSame(json);

    [Theory]
    [InlineData("\"\"")]
    [InlineData("\"ada@example.test\"")]
    [InlineData("\"caf\\u00e9 \\\"quoted\\\" \\\\ \\/ \\b\\f\\n\\r\\t\"")]
    [InlineData("\"\\ud83d\\ude00 and \u00e9\"")]
    [InlineData("\"2023-03-14T09:26:53.989Z\"")]
    [InlineData("true")]
    [InlineData("false")]
    [InlineData("null")]
    [InlineData("[]")]
    [InlineData("{}")]
    [InlineData(" [ 1 , \"a\" , [ ] , { \"b\" : null } ] ")]
    [InlineData("{\"a\":1,\"a\":2,\"na\\u006de\":{\"x\":[true,false]},\"\":\"empty name\"}")]
    public void Values_MatchJsonElement(string json) => AssertSame(json);

    [Fact]
    public void GeneratedValues_MatchJsonElement()
    {
        var random = new Random(20261205);
        for (var i = 0; i < 5_000; i++)
        {
            AssertSame(RandomValue(random, depth: 0));
        }
    }

    [Fact]
    public void Default_IsUndefined()
    {
        var value = default(TraitValue);
        Assert.Equal(JsonValueKind.Undefined, value.ValueKind);
        Assert.Equal(string.Empty, value.GetRawText());
        Assert.Equal(string.Empty, value.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("{\"a\":}")]
    [InlineData("[1,]")]
    [InlineData("{} {}")]
    public void Parse_RejectsMalformedJson(string json) =>
        Assert.ThrowsAny<JsonException>(() => TraitValue.Parse(json));

    [Fact]
    public void Parse_RejectsNestingPastItsLimit()
    {
        TraitValue.Parse(new string('[', 64) + new string(']', 64));
        Assert.ThrowsAny<JsonException>(() => TraitValue.Parse(new string('[', 65) + new string(']', 65)));
    }

    [Fact]
    public void CopyOf_OutlivesItsSource()
    {
        var source = Encoding.UTF8.GetBytes("[{\"plan\":\"team\"}]");
        var value = TraitValue.CopyOf(source, 1, source.Length - 2);
        Array.Fill(source, (byte)' ');
        Assert.Equal("team", Assert.Single(value.EnumerateObject()).Value.GetString());
    }

    /// <summary>Compares <paramref name="json"/> read both ways, then its members or elements in turn.</summary>
    private static void AssertSame(string json)
    {
        using var document = JsonDocument.Parse(json);
        AssertSame(document.RootElement, TraitValue.Parse(json), json);
    }

    private static void AssertSame(JsonElement expected, TraitValue actual, string context)
    {
        Assert.True(expected.ValueKind == actual.ValueKind, $"kind of {context}");
        Assert.Equal(expected.GetRawText(), actual.GetRawText());
        Assert.Equal(expected.ToString(), actual.ToString());
        switch (expected.ValueKind)
        {
            case JsonValueKind.String or JsonValueKind.Null:
                Assert.Equal(expected.GetString(), actual.GetString());
                break;
            case JsonValueKind.Number:
                Assert.Equal(expected.TryGetInt64(out var expectedWhole), actual.TryGetInt64(out var actualWhole));
                Assert.Equal(expectedWhole, actualWhole);
                Assert.Equal(expected.TryGetDouble(out var expectedNumber), actual.TryGetDouble(out var actualNumber));
                Assert.Equal(expectedNumber, actualNumber);
                Assert.Throws<InvalidOperationException>(() => actual.GetString());
                break;
            case JsonValueKind.Object:
                var expectedMembers = expected.EnumerateObject().ToList();
                var actualMembers = actual.EnumerateObject();
                Assert.Equal(expectedMembers.Select(member => member.Name), actualMembers.Select(member => member.Key));
                for (var i = 0; i < expectedMembers.Count; i++)
                {
                    AssertSame(expectedMembers[i].Value, actualMembers[i].Value, context);
                }

                Assert.Throws<InvalidOperationException>(() => { actual.EnumerateArray(); });
                break;
            case JsonValueKind.Array:
                var expectedElements = expected.EnumerateArray().ToList();
                var actualElements = new List<TraitValue>();
                foreach (var element in actual.EnumerateArray())
                {
                    actualElements.Add(element);
                }

                Assert.Equal(expectedElements.Count, actualElements.Count);
                for (var i = 0; i < expectedElements.Count; i++)
                {
                    AssertSame(expectedElements[i], actualElements[i], context);
                }

                Assert.Throws<InvalidOperationException>(() => actual.EnumerateObject());
                break;
            default:
                Assert.Throws<InvalidOperationException>(() => actual.TryGetInt64(out _));
                break;
        }
    }

    private static readonly string[] Whitespace = ["", "", "", " ", "\n", "\t ", "\r\n  "];

    private static readonly string[] StringParts =
    [
        "a", "plan", "team", "\u00e9", "\u4e2d", "\ud83d\ude00", "\\\"", "\\\\", "\\/", "\\n", "\\t", "\\u0041", "\\u00e9",
        "\\ud83d\\ude00", "2023-03-14T09:26:53.989Z", "1710000000", " ", "$", ".", "\\u0000",
    ];

    private static string RandomValue(Random random, int depth)
    {
        var pad = Whitespace[random.Next(Whitespace.Length)];
        var kind = depth >= 4 ? random.Next(5) : random.Next(7);
        var text = kind switch
        {
            0 => RandomString(random),
            1 => RandomNumber(random),
            2 => random.Next(2) == 0 ? "true" : "false",
            3 => "null",
            4 => RandomString(random),
            5 => "{" + string.Join(",", Enumerable.Range(0, random.Next(5)).Select(_ =>
                $"{Pad(random)}{RandomName(random)}{Pad(random)}:{RandomValue(random, depth + 1)}")) + Pad(random) + "}",
            _ => "[" + string.Join(",", Enumerable.Range(0, random.Next(5)).Select(_ => RandomValue(random, depth + 1))) + Pad(random) + "]",
        };
        return pad + text + pad;
    }

    private static string Pad(Random random) => Whitespace[random.Next(Whitespace.Length)];

    /// <summary>A short name from a small set, so that objects often repeat one.</summary>
    private static string RandomName(Random random) =>
        random.Next(4) == 0 ? RandomString(random) : "\"" + "abc"[random.Next(3)] + "\"";

    private static string RandomString(Random random) =>
        "\"" + string.Concat(Enumerable.Range(0, random.Next(6)).Select(_ => StringParts[random.Next(StringParts.Length)])) + "\"";

    private static string RandomNumber(Random random)
    {
        var sign = random.Next(3) == 0 ? "-" : "";
        var whole = random.Next(4) switch
        {
            0 => "0",
            1 => random.Next(1, 1000).ToString(CultureInfo.InvariantCulture),
            2 => random.NextInt64(1, long.MaxValue).ToString(CultureInfo.InvariantCulture),
            _ => "9" + new string('9', random.Next(15, 40)),
        };
        var fraction = random.Next(3) == 0 ? "." + random.Next(0, 100000).ToString(CultureInfo.InvariantCulture) : "";
        var exponent = random.Next(4) == 0
            ? "eE"[random.Next(2)] + (random.Next(2) == 0 ? "" : "+-"[random.Next(2)].ToString()) + random.Next(0, 400).ToString(CultureInfo.InvariantCulture)
            : "";
        return sign + whole + fraction + exponent;
    }
}
