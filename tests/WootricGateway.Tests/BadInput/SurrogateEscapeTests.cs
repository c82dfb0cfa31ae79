using System.Buffers;
using System.Text;
using WootricGateway.Segment;
using WootricGateway.Tests.Segment;

namespace WootricGateway.Tests.BadInput;

/// <summary>The parser's check for <c>\u</c> escapes of unpaired UTF-16 surrogates.</summary>
public sealed class SurrogateEscapeTests
{
    [Theory]
    [InlineData("""{"a":"plain"}""", true)]
    [InlineData("""{"a":"\ud83d\ude00"}""", true)]
    [InlineData("""{"a":"\uD83D\uDE00 and \u00e9"}""", true)]
    [InlineData("""{"a":"\\ud800"}""", true)]
    [InlineData("""{"a":"\\\ud83d\ude00"}""", true)]
    [InlineData("""{"a":"\ud800"}""", false)]
    [InlineData("""{"a":"\udc00"}""", false)]
    [InlineData("""{"a":"\ud800x\udc00"}""", false)]
    [InlineData("""{"a":"\ud800\n"}""", false)]
    [InlineData("""{"a":"\ud800\ud800"}""", false)]
    [InlineData("""{"a":"\ud83d"},"b":"\ude00"}""", false)]
    [InlineData("""{"\udfff":1}""", false)]
    public void Check_FindsUnpairedEscapes(string json, bool expected)
    {
        Assert.Equal(expected, SegmentParser.HasOnlyPairedSurrogateEscapes(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(json))));
    }

    [Fact]
    public void Check_WorksAcrossSegments()
    {
        var bytes = Encoding.UTF8.GetBytes("""{"a":"x\ud83d\ude00y","b":"\ud800"}""");
        for (var split = 1; split < bytes.Length; split++)
        {
            var sequence = ByteSequences.Join(bytes[..split], bytes[split..]);
            Assert.False(SegmentParser.HasOnlyPairedSurrogateEscapes(sequence), $"split at {split}");
        }

        var valid = Encoding.UTF8.GetBytes("""{"a":"x\ud83d\ude00y"}""");
        for (var split = 1; split < valid.Length; split++)
        {
            Assert.True(SegmentParser.HasOnlyPairedSurrogateEscapes(ByteSequences.Join(valid[..split], valid[split..])), $"split at {split}");
        }
    }

    [Fact]
    public void Parse_UnpairedEscapeIsCountedNotThrown()
    {
        var body = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes("""{"type":"identify","userId":"u1","traits":{"name":"\ud800"}}"""));

        var result = SegmentParser.Parse(body, SegmentRoutes.Classify("/v1/identify"), null, DateTimeOffset.UnixEpoch);

        Assert.Equal(BodyOutcome.UnpairedSurrogateEscape, result.Outcome);
        Assert.Null(result.Batch);
    }
}
