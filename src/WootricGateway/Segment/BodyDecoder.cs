using System.Buffers;
using System.IO.Compression;

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
public static class BodyDecoder
{
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

        Func<Stream, Stream>? open = encoding.ToLowerInvariant() switch
        {
            "gzip" or "x-gzip" => s => new GZipStream(s, CompressionMode.Decompress),
            "deflate" => s => new ZLibStream(s, CompressionMode.Decompress),
            "br" => s => new BrotliStream(s, CompressionMode.Decompress),
            _ => null,
        };
        if (open is null)
        {
            return DecodeOutcome.UnsupportedEncoding;
        }

        var buffer = new PooledSegmentBuffer(maxDecodedBytes);
        try
        {
            using var source = new SequenceReadStream(body);
            using var decoder = open(source);
            var chunk = ArrayPool<byte>.Shared.Rent(16 * 1024);
            try
            {
                int read;
                while ((read = decoder.Read(chunk, 0, chunk.Length)) > 0)
                {
                    if (!buffer.TryAppend(chunk.AsSpan(0, read)))
                    {
                        buffer.Dispose();
                        return DecodeOutcome.TooLarge;
                    }
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(chunk);
            }
        }
        catch (InvalidDataException)
        {
            buffer.Dispose();
            return DecodeOutcome.Corrupt;
        }
        catch (IOException)
        {
            buffer.Dispose();
            return DecodeOutcome.Corrupt;
        }
        catch (InvalidOperationException)
        {
            // BrotliStream (.NET 10) reports invalid input as "Decoder ran into invalid data" with this type.
            buffer.Dispose();
            return DecodeOutcome.Corrupt;
        }

        decoded = buffer.ToSequence();
        owner = buffer;
        return DecodeOutcome.Ok;
    }
}
