using System.Buffers;
using System.IO.Compression;
using System.Text;
using WootricGateway.Segment;

namespace WootricGateway.Tests.Segment;

/// <summary>
/// Content-Encoding decoding: a complete stream decodes to what was compressed, and a stream that is
/// cut short, padded, or followed by other bytes is corrupt, so no prefix of a body is ever parsed.
/// </summary>
public sealed class BodyDecoderTests
{
    private const long Cap = 8 << 20;

    private static readonly byte[] Json = Encoding.UTF8.GetBytes(
        "{\"batch\":[" + string.Join(',', Enumerable.Range(0, 400).Select(i => $"{{\"type\":\"identify\",\"userId\":\"u{i}\",\"traits\":{{\"n\":{i * 7919}}}}}")) + "]}");

    public static TheoryData<string> Encodings => new() { "gzip", "deflate", "br" };

    [Theory]
    [MemberData(nameof(Encodings))]
    public void CompleteStreamDecodes(string encoding)
    {
        AssertDecodesTo(Json, Compress(encoding, Json), encoding);
    }

    [Theory]
    [MemberData(nameof(Encodings))]
    public void CompleteStreamDecodesAcrossSmallSegments(string encoding)
    {
        var compressed = Compress(encoding, Json);
        foreach (var size in new[] { 1, 7, 1000 })
        {
            var outcome = BodyDecoder.TryDecode(ByteSequences.Split(compressed, size), encoding, Cap, out var decoded, out var owner);
            using (owner)
            {
                Assert.Equal(DecodeOutcome.Ok, outcome);
                Assert.Equal(Json, decoded.ToArray());
            }
        }
    }

    [Theory]
    [MemberData(nameof(Encodings))]
    public void EmptyContentDecodesToNothing(string encoding)
    {
        // .NET writes no bytes at all for empty gzip and zlib content, so these are what gzip(1)
        // and zlib's compress() write.
        byte[] empty = encoding switch
        {
            "gzip" => [0x1F, 0x8B, 0x08, 0, 0, 0, 0, 0, 0, 0x03, 0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0],
            "deflate" => [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
            _ => Compress(encoding, []),
        };

        AssertDecodesTo([], empty, encoding);
    }

    [Theory]
    [MemberData(nameof(Encodings))]
    public void StreamCutAnywhereIsCorrupt(string encoding)
    {
        var compressed = Compress(encoding, Json);
        var cuts = new[] { 1, 2, 4, 8, 9, compressed.Length / 2, compressed.Length - 1 };
        foreach (var keep in cuts.Select(cut => compressed.Length - cut).Append(0).Append(3))
        {
            var outcome = BodyDecoder.TryDecode(new ReadOnlySequence<byte>(compressed[..keep]), encoding, Cap, out _, out var owner);

            Assert.True(outcome == DecodeOutcome.Corrupt, $"{encoding} cut to {keep} of {compressed.Length} bytes: {outcome}");
            Assert.Null(owner);
        }
    }

    [Theory]
    [MemberData(nameof(Encodings))]
    public void BytesAfterTheStreamAreCorrupt(string encoding)
    {
        var compressed = Compress(encoding, Json);
        // Eight or more zero bytes read as the trailer of an empty gzip member.
        foreach (var tail in new[] { "x"u8.ToArray(), "junk after the stream"u8.ToArray(), new byte[4], new byte[8], new byte[64] })
        {
            var outcome = BodyDecoder.TryDecode(new ReadOnlySequence<byte>([.. compressed, .. tail]), encoding, Cap, out _, out var owner);

            Assert.True(outcome == DecodeOutcome.Corrupt, $"{encoding} with {tail.Length} bytes after it: {outcome}");
            Assert.Null(owner);
        }
    }

    [Fact]
    public void GzipMembersDecodeInOrder()
    {
        var second = Encoding.UTF8.GetBytes(" second member");
        AssertDecodesTo([.. Json, .. second], [.. Compress("gzip", Json), .. Compress("gzip", second)], "gzip");
    }

    [Fact]
    public void GzipCutAndZeroPaddedIsCorrupt()
    {
        var compressed = Compress("gzip", Json);

        var outcome = BodyDecoder.TryDecode(new ReadOnlySequence<byte>([.. compressed[..(compressed.Length / 2)], .. new byte[32]]), "gzip", Cap, out _, out _);

        Assert.Equal(DecodeOutcome.Corrupt, outcome);
    }

    [Fact]
    public void GzipEndingInAnEmptyMemberDecodes()
    {
        byte[] empty = [0x1F, 0x8B, 0x08, 0, 0, 0, 0, 0, 0, 0x03, 0x03, 0x00, 0, 0, 0, 0, 0, 0, 0, 0];

        AssertDecodesTo(Json, [.. Compress("gzip", Json), .. empty], "gzip");
    }

    [Theory]
    [InlineData("1F8B0800000000000003010000FFFF0000000000000000")]
    [InlineData("1F8B08080000000000036E616D652E6A736F6E0003000000000000000000")]
    [InlineData("1F8B0802000000000003A77703000000000000000000")]
    [InlineData("1F8B08000000000000030300000000000000000000001F8B0800000000000003010000FFFF0000000000000000")]
    public void GzipEndingInAnyEmptyMemberDecodes(string emptyMembers)
    {
        // A stored empty block (as Go's compress/flate writes), a file name, a header checksum, and two empty members.
        AssertDecodesTo(Json, [.. Compress("gzip", Json), .. Convert.FromHexString(emptyMembers)], "gzip");
    }

    [Fact]
    public void GzipCutInsideZerosIsCorrupt()
    {
        // Stored blocks of zeros: cut inside them, the body ends in 8 zero bytes as an empty member's trailer does.
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.NoCompression))
        {
            gzip.Write(Json);
            gzip.Write(new byte[100_000]);
        }

        var compressed = output.ToArray();
        foreach (var cut in new[] { 100, 1_000, 50_000 })
        {
            var outcome = BodyDecoder.TryDecode(new ReadOnlySequence<byte>(compressed[..^cut]), "gzip", Cap, out _, out _);

            Assert.True(outcome == DecodeOutcome.Corrupt, $"cut {cut} bytes from the end: {outcome}");
        }
    }

    [Fact]
    public void GzipWithTheLastMemberCutIsCorrupt()
    {
        var first = Compress("gzip", Json);
        var second = Compress("gzip", Encoding.UTF8.GetBytes("second member"));

        var outcome = BodyDecoder.TryDecode(new ReadOnlySequence<byte>([.. first, .. second[..^4]]), "gzip", Cap, out _, out _);

        Assert.Equal(DecodeOutcome.Corrupt, outcome);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(5)]
    [InlineData(8)]
    public void WrongChecksumIsCorrupt(int fromEnd)
    {
        foreach (var encoding in new[] { "gzip", "deflate" })
        {
            var compressed = Compress(encoding, Json);
            compressed[^fromEnd] ^= 0x01;

            var outcome = BodyDecoder.TryDecode(new ReadOnlySequence<byte>(compressed), encoding, Cap, out _, out _);

            Assert.True(outcome == DecodeOutcome.Corrupt, $"{encoding} with byte -{fromEnd} flipped: {outcome}");
        }
    }

    [Theory]
    [MemberData(nameof(Encodings))]
    public void BombStopsAtCap(string encoding)
    {
        var compressed = Compress(encoding, new byte[50 * 1024 * 1024]);

        var outcome = BodyDecoder.TryDecode(new ReadOnlySequence<byte>(compressed), encoding, 1 << 20, out _, out var owner);

        Assert.Equal(DecodeOutcome.TooLarge, outcome);
        Assert.Null(owner);
    }

    [Fact]
    public void EncodingNamesAreCaseAndSpaceInsensitive()
    {
        AssertDecodesTo(Json, Compress("gzip", Json), " GZIP ");
        AssertDecodesTo(Json, Compress("gzip", Json), "x-gzip");
        AssertDecodesTo(Json, Json, "identity");
        AssertDecodesTo(Json, Json, null);
    }

    [Theory]
    [InlineData("gzip, gzip")]
    [InlineData("compress")]
    [InlineData("zstd")]
    public void UnknownEncodingIsSkipped(string encoding)
    {
        var outcome = BodyDecoder.TryDecode(new ReadOnlySequence<byte>([1, 2, 3]), encoding, 1 << 20, out _, out _);

        Assert.Equal(DecodeOutcome.UnsupportedEncoding, outcome);
    }

    [Fact]
    public void Adler32MatchesKnownValuesAndZlib()
    {
        Assert.Equal(1u, Adler32.Update(Adler32.Initial, []));
        Assert.Equal(0x11E60398u, Adler32.Update(Adler32.Initial, "Wikipedia"u8));

        // All 0xFF bytes make the sums grow fastest, so this crosses the block length at its worst case.
        var ones = new byte[100_000];
        ones.AsSpan().Fill(0xFF);
        var zlib = Compress("deflate", ones);
        var fromZlib = (uint)(zlib[^4] << 24 | zlib[^3] << 16 | zlib[^2] << 8 | zlib[^1]);

        Assert.Equal(fromZlib, Adler32.Update(Adler32.Initial, ones));
        Assert.Equal(fromZlib, Adler32.Update(Adler32.Update(Adler32.Initial, ones.AsSpan(0, 12_345)), ones.AsSpan(12_345)));
    }

    private static void AssertDecodesTo(byte[] expected, byte[] body, string? encoding)
    {
        var outcome = BodyDecoder.TryDecode(new ReadOnlySequence<byte>(body), encoding, Cap, out var decoded, out var owner);
        using (owner)
        {
            Assert.Equal(DecodeOutcome.Ok, outcome);
            Assert.Equal(expected, decoded.ToArray());
        }
    }

    private static byte[] Compress(string encoding, byte[] data)
    {
        using var output = new MemoryStream();
        using (Stream compressor = encoding switch
        {
            "gzip" => new GZipStream(output, CompressionLevel.Fastest),
            "deflate" => new ZLibStream(output, CompressionLevel.Fastest),
            "br" => new BrotliStream(output, CompressionLevel.Fastest),
            _ => throw new ArgumentOutOfRangeException(nameof(encoding)),
        })
        {
            compressor.Write(data);
        }

        return output.ToArray();
    }
}
