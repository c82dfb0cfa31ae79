namespace WootricGateway.Segment;

/// <summary>
/// The Adler-32 checksum (RFC 1950) that ends a zlib stream. System.IO.Hashing has no Adler-32,
/// and <see cref="System.IO.Compression.ZLibStream"/> checks it only when its input reaches it.
/// </summary>
internal static class Adler32
{
    /// <summary>The checksum of no bytes.</summary>
    public const uint Initial = 1;

    private const uint Modulus = 65521;

    // The largest number of bytes that can be summed before the 32-bit sums may overflow (zlib's NMAX).
    private const int BlockLength = 5552;

    /// <summary>Returns the checksum of the bytes <paramref name="checksum"/> covers followed by <paramref name="data"/>.</summary>
    public static uint Update(uint checksum, ReadOnlySpan<byte> data)
    {
        uint a = checksum & 0xFFFF, b = checksum >> 16;
        while (!data.IsEmpty)
        {
            var block = data.Length < BlockLength ? data : data[..BlockLength];
            foreach (var value in block)
            {
                a += value;
                b += a;
            }

            a %= Modulus;
            b %= Modulus;
            data = data[block.Length..];
        }

        return (b << 16) | a;
    }
}
