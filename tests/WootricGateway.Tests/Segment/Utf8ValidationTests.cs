using System.Buffers;
using System.Text;
using WootricGateway.Segment;

namespace WootricGateway.Tests.Segment;

/// <summary>The segment-by-segment UTF-8 check agrees with a check of the whole body, wherever the body is split.</summary>
public sealed class Utf8ValidationTests
{
    private static readonly byte[] Sample = Encoding.UTF8.GetBytes("plain ascii, café, 日本語, emoji 🎉🙂, ß and € signs");

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    [InlineData(7)]
    public void SplitAtEveryOffset_AgreesWithWholeBodyCheck(int segmentSize)
    {
        Assert.True(SegmentParser.IsValidUtf8(ByteSequences.Split(Sample, segmentSize)));
        for (var cut = 1; cut < Sample.Length; cut++)
        {
            // Dropping one byte breaks a multi-byte character whenever it lands inside one.
            var broken = Sample.Take(cut - 1).Concat(Sample.Skip(cut)).ToArray();
            Assert.Equal(System.Text.Unicode.Utf8.IsValid(broken), SegmentParser.IsValidUtf8(ByteSequences.Split(broken, segmentSize)));
        }
    }

    [Fact]
    public void RandomBodies_AgreeWithWholeBodyCheck()
    {
        var random = new Random(7);
        for (var round = 0; round < 5000; round++)
        {
            var body = new byte[random.Next(0, 64)];
            for (var i = 0; i < body.Length; i++)
            {
                // Mostly bytes from valid text, some arbitrary, so both outcomes occur often.
                body[i] = random.Next(4) == 0 ? (byte)random.Next(256) : Sample[random.Next(Sample.Length)];
            }

            var expected = System.Text.Unicode.Utf8.IsValid(body);
            Assert.Equal(expected, SegmentParser.IsValidUtf8(ByteSequences.Split(body, random.Next(1, 9))));
        }
    }

    [Theory]
    [InlineData(new byte[] { 0xE6, 0x97 })]
    [InlineData(new byte[] { 0xF0, 0x9F, 0x8E })]
    [InlineData(new byte[] { 0xC3 })]
    public void TruncatedCharacterAtTheEnd_IsInvalid(byte[] tail)
    {
        var body = Encoding.UTF8.GetBytes("abc").Concat(tail).ToArray();

        Assert.False(SegmentParser.IsValidUtf8(ByteSequences.Split(body, 2)));
    }
}
