using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.IO.Hashing;

namespace WootricGateway.Segment;

/// <summary>Why a captured body could not be decoded.</summary>
public enum DecodeOutcome
{
    Ok,
    UnsupportedEncoding,
    Corrupt,
    TooLarge,
}

/// <summary>
/// Decodes the tap's copy of a request body according to <c>Content-Encoding</c> (gzip, deflate, br
/// or none), with a cap on the decoded size so a compression bomb costs at most that much memory.
/// </summary>
/// <remarks>
/// .NET's <see cref="GZipStream"/>, <see cref="ZLibStream"/> and <see cref="BrotliStream"/> end
/// quietly when their input runs out before the end of the compressed stream, and ignore bytes
/// after it. A cut or padded body would then be parsed as a prefix of what the client sent. So a
/// body counts as decoded only when its stream is complete. A gzip body's last member must end in
/// the CRC-32 and length of what it decoded to. A zlib body must end in the Adler-32 of the whole
/// output. A Brotli stream must reach its last block, with no bytes after it.
/// NOTE: gzip and zlib bodies are checked at their end only, because the decompressors do not say
/// where a stream stopped. A complete stream followed by other bytes that end like a trailer (a copy
/// of its own, or eight zero bytes after an empty member) therefore still decodes. What it decodes
/// to is the whole content of that stream.
/// </remarks>
public static class BodyDecoder
{
    private const int ChunkSize = 16 * 1024;

    /// <summary>
    /// Decodes <paramref name="body"/>. On <see cref="DecodeOutcome.Ok"/> the caller owns the returned
    /// buffer, which is <paramref name="body"/> itself when there is no encoding to undo.
    /// </summary>
    public static DecodeOutcome TryDecode(
        ReadOnlySequence<byte> body,
        string? contentEncoding,
        long maxDecodedBytes,
        out ReadOnlySequence<byte> decoded,
        out PooledSegmentBuffer? owner)
    {
        decoded = body;
        owner = null;

        var encoding = contentEncoding?.Trim();
        if (string.IsNullOrEmpty(encoding) || encoding.Equals("identity", StringComparison.OrdinalIgnoreCase))
        {
            return body.Length > maxDecodedBytes ? DecodeOutcome.TooLarge : DecodeOutcome.Ok;
        }

        var format = encoding.ToLowerInvariant() switch
        {
            "gzip" or "x-gzip" => Format.Gzip,
            "deflate" => Format.Zlib,
            "br" => Format.Brotli,
            _ => Format.None,
        };
        if (format == Format.None)
        {
            return DecodeOutcome.UnsupportedEncoding;
        }

        var buffer = new PooledSegmentBuffer(maxDecodedBytes);
        var outcome = format == Format.Brotli
            ? DecodeBrotli(body, buffer)
            : Inflate(body, format, buffer);
        if (outcome != DecodeOutcome.Ok)
        {
            buffer.Dispose();
            return outcome;
        }

        decoded = buffer.ToSequence();
        owner = buffer;
        return DecodeOutcome.Ok;
    }

    private enum Format
    {
        None,
        Gzip,
        Zlib,
        Brotli,
    }

    private static DecodeOutcome Inflate(ReadOnlySequence<byte> body, Format format, PooledSegmentBuffer output)
    {
        var chunk = ArrayPool<byte>.Shared.Rent(ChunkSize);
        try
        {
            using var source = new SequenceReadStream(body);
            using Stream decoder = format == Format.Gzip
                ? new GZipStream(source, CompressionMode.Decompress)
                : new ZLibStream(source, CompressionMode.Decompress);
            int read;
            while ((read = decoder.Read(chunk, 0, chunk.Length)) > 0)
            {
                if (!output.TryAppend(chunk.AsSpan(0, read)))
                {
                    return DecodeOutcome.TooLarge;
                }
            }
        }
        catch (InvalidDataException)
        {
            return DecodeOutcome.Corrupt;
        }
        catch (IOException)
        {
            return DecodeOutcome.Corrupt;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }

        var complete = format == Format.Gzip
            ? EndsWithGzipTrailer(body, output.ToSequence())
            : EndsWithAdler32(body, output.ToSequence());
        return complete ? DecodeOutcome.Ok : DecodeOutcome.Corrupt;
    }

    /// <summary>
    /// True when the body's last 8 bytes are a gzip trailer for the end of <paramref name="decoded"/>:
    /// the decoded size of the last member (modulo 2^32, which the decoded-size cap keeps exact)
    /// and the CRC-32 of that many final bytes. GZipStream checks the trailer of each earlier
    /// member as it reads past it, and throws on a mismatch.
    /// </summary>
    private static bool EndsWithGzipTrailer(ReadOnlySequence<byte> body, ReadOnlySequence<byte> decoded)
    {
        // A gzip member is at least a 10-byte header, a 2-byte empty deflate stream and the trailer.
        if (body.Length < 20)
        {
            return false;
        }

        Span<byte> trailer = stackalloc byte[8];
        body.Slice(body.Length - 8).CopyTo(trailer);
        var expectedCrc = BinaryPrimitives.ReadUInt32LittleEndian(trailer);
        var lastMemberLength = BinaryPrimitives.ReadUInt32LittleEndian(trailer[4..]);
        if (lastMemberLength > decoded.Length)
        {
            return false;
        }

        if (lastMemberLength == 0)
        {
            return expectedCrc == 0 && EndsWithEmptyMember(body, decoded);
        }

        var crc = new Crc32();
        foreach (var segment in decoded.Slice(decoded.Length - lastMemberLength))
        {
            crc.Append(segment.Span);
        }

        return crc.GetCurrentHashAsUInt32() == expectedCrc;
    }

    /// <summary>
    /// Decides a body whose last 8 bytes are zero: the trailer of an empty member, which zero padding
    /// after a stream, cut or whole, also reads as. GZipStream checks a member's trailer before it
    /// starts the next member, so the body is complete when an empty member starts right after the
    /// trailer of the member that produced the end of <paramref name="decoded"/> (other empty members
    /// may lie between them). That trailer is searched for backwards, among the last
    /// <see cref="EmptyMemberSearchBytes"/> bytes, at each gzip header.
    /// </summary>
    /// <remarks>
    /// NOTE: an empty last member whose header fields (name, comment, extra data) are longer than the
    /// search window is counted as corrupt.
    /// </remarks>
    private static bool EndsWithEmptyMember(ReadOnlySequence<byte> body, ReadOnlySequence<byte> decoded)
    {
        ReadOnlySpan<byte> magic = [0x1F, 0x8B, 0x08];
        if (decoded.Length == 0)
        {
            // The only members are empty, and GZipStream read them without an error.
            Span<byte> start = stackalloc byte[3];
            body.Slice(0, 3).CopyTo(start);
            return start.SequenceEqual(magic);
        }

        var windowLength = (int)Math.Min(body.Length, EmptyMemberSearchBytes);
        var window = ArrayPool<byte>.Shared.Rent(windowLength);
        try
        {
            body.Slice(body.Length - windowLength).CopyTo(window);
            var tail = window.AsSpan(0, windowLength);

            // The last member is at least a 10-byte header, 2 bytes of deflate data and the trailer,
            // and a header that follows a member has that member's 8-byte trailer before it.
            var searchEnd = windowLength - 20 + magic.Length;
            var checksums = 0;
            while (searchEnd > 8 + magic.Length)
            {
                var found = tail[8..searchEnd].LastIndexOf(magic);
                if (found < 0)
                {
                    return false;
                }

                var header = found + 8;
                searchEnd = header + magic.Length - 1;
                var crc = BinaryPrimitives.ReadUInt32LittleEndian(tail[(header - 8)..]);
                var size = BinaryPrimitives.ReadUInt32LittleEndian(tail[(header - 4)..]);
                if (size == 0 || size > decoded.Length)
                {
                    // An earlier empty member, or bytes that only look like a header: search on.
                    continue;
                }

                // Each candidate costs a checksum over its size, so a crafted body gets a few tries only.
                if (++checksums > 8)
                {
                    return false;
                }

                var sum = new Crc32();
                foreach (var segment in decoded.Slice(decoded.Length - size))
                {
                    sum.Append(segment.Span);
                }

                if (sum.GetCurrentHashAsUInt32() == crc)
                {
                    return true;
                }
            }

            return false;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(window);
        }
    }

    /// <summary>How far back from the end of a body the member before an empty last member is looked for.</summary>
    private const int EmptyMemberSearchBytes = 64 * 1024;

    /// <summary>True when the body ends in the big-endian Adler-32 of all of <paramref name="decoded"/>.</summary>
    private static bool EndsWithAdler32(ReadOnlySequence<byte> body, ReadOnlySequence<byte> decoded)
    {
        // A zlib stream is at least a 2-byte header, a 2-byte empty deflate stream and the checksum.
        if (body.Length < 8)
        {
            return false;
        }

        Span<byte> trailer = stackalloc byte[4];
        body.Slice(body.Length - 4).CopyTo(trailer);
        var adler = Adler32.Initial;
        foreach (var segment in decoded)
        {
            adler = Adler32.Update(adler, segment.Span);
        }

        return adler == BinaryPrimitives.ReadUInt32BigEndian(trailer);
    }

    private static DecodeOutcome DecodeBrotli(ReadOnlySequence<byte> body, PooledSegmentBuffer output)
    {
        var chunk = ArrayPool<byte>.Shared.Rent(ChunkSize);
        using var decoder = new BrotliDecoder();
        try
        {
            var finished = false;
            foreach (var segment in body)
            {
                var input = segment.Span;
                if (finished)
                {
                    if (!input.IsEmpty)
                    {
                        return DecodeOutcome.Corrupt; // bytes after the end of the stream
                    }

                    continue;
                }

                while (true)
                {
                    var status = decoder.Decompress(input, chunk, out var consumed, out var written);
                    if (!output.TryAppend(chunk.AsSpan(0, written)))
                    {
                        return DecodeOutcome.TooLarge;
                    }

                    input = input[consumed..];
                    if (status == OperationStatus.InvalidData)
                    {
                        return DecodeOutcome.Corrupt;
                    }

                    if (status == OperationStatus.Done)
                    {
                        if (!input.IsEmpty)
                        {
                            return DecodeOutcome.Corrupt;
                        }

                        finished = true;
                        break;
                    }

                    if (status == OperationStatus.NeedMoreData)
                    {
                        if (input.IsEmpty)
                        {
                            break; // on to the next segment
                        }

                        if (consumed + written == 0)
                        {
                            // The decoder takes all the input it is given; one that stops taking
                            // it would otherwise loop here, so the body counts as undecodable.
                            return DecodeOutcome.Corrupt;
                        }
                    }
                }
            }

            // Input that runs out before the stream's last block is a truncated body.
            return finished ? DecodeOutcome.Ok : DecodeOutcome.Corrupt;
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(chunk);
        }
    }
}
