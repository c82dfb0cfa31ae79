using System.Buffers.Text;
using System.Text;

namespace WootricGateway.Segment;

/// <summary>Reads the Segment write key from an <c>Authorization: Basic</c> header.</summary>
public static class WriteKeys
{
    /// <summary>
    /// Returns the user part of <c>Basic base64(key:)</c>; the colon is optional, as Segment accepts
    /// both. Returns null for any other scheme or for invalid base64.
    /// </summary>
    public static string? FromAuthorization(string? authorization)
    {
        if (string.IsNullOrEmpty(authorization)
            || authorization.Length <= 6
            || !authorization.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var encoded = authorization.AsSpan(6).Trim();
        if (encoded.Length > 4096)
        {
            return null;
        }

        Span<byte> decoded = stackalloc byte[Base64.GetMaxDecodedFromUtf8Length(encoded.Length)];
        Span<byte> utf8 = stackalloc byte[encoded.Length];
        for (var i = 0; i < encoded.Length; i++)
        {
            if (encoded[i] > 127)
            {
                return null;
            }

            utf8[i] = (byte)encoded[i];
        }

        if (Base64.DecodeFromUtf8(utf8, decoded, out _, out var written) != System.Buffers.OperationStatus.Done)
        {
            return null;
        }

        var text = Encoding.UTF8.GetString(decoded[..written]);
        var colon = text.IndexOf(':', StringComparison.Ordinal);
        var key = colon >= 0 ? text[..colon] : text;
        return key.Length == 0 ? null : key;
    }
}
