using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Text.Json;

namespace WootricGateway.Segment;

/// <summary>
/// A forward-only pass over UTF-8 JSON that checks it is well-formed and reports where names and
/// values lie, without producing tokens. It accepts what <see cref="Utf8JsonReader"/> accepts with
/// default options (no comments, no trailing commas) and the same depth limit, and throws
/// <see cref="JsonException"/> where the reader would. It does not check UTF-8; the parser checks
/// the whole body before the pass.
/// </summary>
/// <remarks>
/// The tap's parser skips most of a batch (tracks, contexts, properties). The reader spends most of
/// its time there building tokens that are never read; this pass only moves past them.
/// </remarks>
internal ref struct JsonScanner
{
    /// <summary>Bytes that end a run of plain string content: the quote, the backslash and the control characters.</summary>
    private static readonly SearchValues<byte> StringStops = SearchValues.Create(
        [(byte)'"', (byte)'\\', 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31]);

    private readonly ReadOnlySpan<byte> _json;
    private readonly int _maxDepth;
    private int _position;

    public JsonScanner(ReadOnlySpan<byte> json, int maxDepth)
    {
        _json = json;
        _maxDepth = maxDepth;
    }

    /// <summary>Skips whitespace and returns the next byte without consuming it; throws at the end of the input.</summary>
    public byte Peek()
    {
        // Compact JSON has no whitespace between tokens, so the common case is one comparison.
        if ((uint)_position < (uint)_json.Length && _json[_position] > (byte)' ')
        {
            return _json[_position];
        }

        SkipWhitespace();
        if (_position >= _json.Length)
        {
            ThrowInvalid();
        }

        return _json[_position];
    }

    /// <summary>Returns the kind of a well-formed value from its first byte.</summary>
    public static JsonValueKind KindOf(byte first) => first switch
    {
        (byte)'"' => JsonValueKind.String,
        (byte)'{' => JsonValueKind.Object,
        (byte)'[' => JsonValueKind.Array,
        (byte)'t' => JsonValueKind.True,
        (byte)'f' => JsonValueKind.False,
        (byte)'n' => JsonValueKind.Null,
        _ => JsonValueKind.Number,
    };

    /// <summary>Skips whitespace and throws unless the input ends there.</summary>
    public void ExpectEnd()
    {
        SkipWhitespace();
        if (_position != _json.Length)
        {
            ThrowInvalid();
        }
    }

    /// <summary>
    /// Consumes the <c>{</c> or <c>[</c> the scanner is on, which opens container number
    /// <paramref name="depth"/> (1 for the outermost).
    /// </summary>
    public void Open(int depth)
    {
        if (depth > _maxDepth)
        {
            ThrowTooDeep(_maxDepth);
        }

        _position++;
    }

    /// <summary>
    /// Moves to the next member of the object the scanner is in and reads its name up to the colon.
    /// Returns false, after consuming the <c>}</c>, when the object ends. <paramref name="first"/>
    /// tracks whether a comma must come first; pass true for a new object.
    /// </summary>
    public bool NextMember(ref bool first, out JsonName name)
    {
        if (Peek() == (byte)'}')
        {
            _position++;
            name = default;
            return false;
        }

        if (!first)
        {
            Expect((byte)',');
        }

        first = false;
        name = ReadName();
        return true;
    }

    /// <summary>
    /// Moves to the next element of the array the scanner is in. Returns false, after consuming the
    /// <c>]</c>, when the array ends. <paramref name="first"/> works as in <see cref="NextMember"/>.
    /// </summary>
    public bool NextElement(ref bool first)
    {
        if (Peek() == (byte)']')
        {
            _position++;
            return false;
        }

        if (!first)
        {
            Expect((byte)',');
            SkipWhitespace();
        }

        first = false;
        return true;
    }

    /// <summary>
    /// Reads the string value the scanner is on and returns its content (between the quotes, still
    /// escaped) and whether it has escapes.
    /// </summary>
    public JsonName ReadString()
    {
        SkipWhitespace();
        if (_position >= _json.Length || _json[_position] != (byte)'"')
        {
            ThrowInvalid();
        }

        var start = _position + 1;
        var escaped = ScanString();
        return new JsonName(start, _position - 1 - start, escaped);
    }

    /// <summary>
    /// Skips the value the scanner is on, nested containers included, and returns where it lies.
    /// <paramref name="depth"/> is the number of containers around the value.
    /// </summary>
    public (int Start, int Length) SkipValue(int depth)
    {
        SkipWhitespace();
        var start = _position;

        // The containers opened inside this value, innermost last: a set bit is an object. Nesting
        // deeper than 64 inside one value spills into an array.
        ulong kinds = 0;
        var open = 0;
        bool[]? deepKinds = null;
        var expectValue = true;
        while (true)
        {
            if (expectValue)
            {
                var value = Peek();
                switch (value)
                {
                    case (byte)'{':
                    case (byte)'[':
                        var isObject = value == (byte)'{';
                        Open(depth + open + 1);
                        if (open < 64)
                        {
                            kinds = isObject ? kinds | (1UL << open) : kinds & ~(1UL << open);
                        }
                        else
                        {
                            // Grown as the nesting goes, so a huge depth limit costs nothing up front.
                            if (deepKinds is null || open >= deepKinds.Length)
                            {
                                Array.Resize(ref deepKinds, Math.Max(128, open * 2));
                            }

                            deepKinds[open] = isObject;
                        }

                        open++;
                        var close = isObject ? (byte)'}' : (byte)']';
                        if (Peek() == close)
                        {
                            _position++;
                            open--;
                            expectValue = false;
                        }
                        else if (isObject)
                        {
                            ReadName();
                        }

                        continue;
                    case (byte)'"':
                        ScanString();
                        break;
                    case (byte)'t':
                        ScanLiteral("true"u8);
                        break;
                    case (byte)'f':
                        ScanLiteral("false"u8);
                        break;
                    case (byte)'n':
                        ScanLiteral("null"u8);
                        break;
                    default:
                        ScanNumber();
                        break;
                }

                expectValue = false;
                continue;
            }

            if (open == 0)
            {
                return (start, _position - start);
            }

            var inObject = open <= 64 ? (kinds & (1UL << (open - 1))) != 0 : deepKinds![open - 1];
            var next = Peek();
            if (next == (byte)',')
            {
                _position++;
                if (inObject)
                {
                    ReadName();
                }

                expectValue = true;
            }
            else if (next == (inObject ? (byte)'}' : (byte)']'))
            {
                _position++;
                open--;
            }
            else
            {
                ThrowInvalid();
            }
        }
    }

    /// <summary>Reads a member name, the colon after it and any whitespace before the value.</summary>
    private JsonName ReadName()
    {
        var name = ReadString();
        Expect((byte)':');
        SkipWhitespace();
        return name;
    }

    private void Expect(byte expected)
    {
        if (Peek() != expected)
        {
            ThrowInvalid();
        }

        _position++;
    }

    private void SkipWhitespace()
    {
        var json = _json;
        var position = _position;
        while (position < json.Length && json[position] is (byte)' ' or (byte)'\n' or (byte)'\r' or (byte)'\t')
        {
            position++;
        }

        _position = position;
    }

    /// <summary>Consumes the string that starts at the current quote; returns whether it has escapes.</summary>
    private bool ScanString()
    {
        var json = _json;
        var position = _position + 1;
        var escaped = false;
        while (true)
        {
            position = FindStringStop(json, position);

            var value = json[position];
            if (value == (byte)'"')
            {
                _position = position + 1;
                return escaped;
            }

            if (value != (byte)'\\' || position + 1 >= json.Length)
            {
                ThrowInvalid();
            }

            escaped = true;
            switch (json[position + 1])
            {
                case (byte)'"' or (byte)'\\' or (byte)'/' or (byte)'b' or (byte)'f' or (byte)'n' or (byte)'r' or (byte)'t':
                    position += 2;
                    break;
                case (byte)'u':
                    if (position + 6 > json.Length || !IsHex(json[position + 2]) || !IsHex(json[position + 3])
                        || !IsHex(json[position + 4]) || !IsHex(json[position + 5]))
                    {
                        ThrowInvalid();
                    }

                    position += 6;
                    break;
                default:
                    ThrowInvalid();
                    break;
            }
        }
    }

    private void ScanLiteral(ReadOnlySpan<byte> literal)
    {
        if (!_json[_position..].StartsWith(literal))
        {
            ThrowInvalid();
        }

        _position += literal.Length;
    }

    /// <summary>
    /// Consumes a number by JSON's grammar. What may follow it is checked by the caller, which accepts
    /// only whitespace, a comma, a closing bracket or the end of the input.
    /// </summary>
    private void ScanNumber()
    {
        var json = _json;
        var position = _position;
        if (json[position] == (byte)'-')
        {
            position++;
        }

        if (position >= json.Length || !char.IsAsciiDigit((char)json[position]))
        {
            ThrowInvalid();
        }

        if (json[position] == (byte)'0')
        {
            position++;
        }
        else
        {
            position = SkipDigits(json, position);
        }

        if (position < json.Length && json[position] == (byte)'.')
        {
            position = RequireDigits(json, position + 1);
        }

        if (position < json.Length && (json[position] | 0x20) == (byte)'e')
        {
            position++;
            if (position < json.Length && json[position] is (byte)'+' or (byte)'-')
            {
                position++;
            }

            position = RequireDigits(json, position);
        }

        _position = position;
    }

    private static int RequireDigits(ReadOnlySpan<byte> json, int position)
    {
        if (position >= json.Length || !char.IsAsciiDigit((char)json[position]))
        {
            ThrowInvalid();
        }

        return SkipDigits(json, position);
    }

    private static int SkipDigits(ReadOnlySpan<byte> json, int position)
    {
        while (position < json.Length && char.IsAsciiDigit((char)json[position]))
        {
            position++;
        }

        return position;
    }

    /// <summary>
    /// Returns the offset of the first quote, backslash or control character at or after
    /// <paramref name="position"/>. Most strings in events are short, so 16 bytes are tested at a
    /// time rather than through a general search, which costs more to set up than such a string.
    /// </summary>
    private static int FindStringStop(ReadOnlySpan<byte> json, int position)
    {
        if (Vector128.IsHardwareAccelerated)
        {
            ref var start = ref MemoryMarshal.GetReference(json);
            var quote = Vector128.Create((byte)'"');
            var backslash = Vector128.Create((byte)'\\');
            var space = Vector128.Create((byte)' ');
            while (position + Vector128<byte>.Count <= json.Length)
            {
                var block = Vector128.LoadUnsafe(ref start, (nuint)position);
                var stops = Vector128.Equals(block, quote) | Vector128.Equals(block, backslash) | Vector128.LessThan(block, space);
                var bits = stops.ExtractMostSignificantBits();
                if (bits != 0)
                {
                    return position + BitOperations.TrailingZeroCount(bits);
                }

                position += Vector128<byte>.Count;
            }
        }

        var stop = json[position..].IndexOfAny(StringStops);
        if (stop < 0)
        {
            ThrowInvalid();
        }

        return position + stop;
    }

    private static bool IsHex(byte value) => char.IsAsciiHexDigit((char)value);

    [DoesNotReturn]
    private static void ThrowInvalid() => throw new JsonException("The body is not well-formed JSON.");

    [DoesNotReturn]
    private static void ThrowTooDeep(int maxDepth) => throw new JsonTooDeepException(maxDepth);
}

/// <summary>Thrown when containers nest deeper than the scanner's limit, so that the parser can report that outcome.</summary>
public sealed class JsonTooDeepException(int maxDepth)
    : JsonException($"The JSON nests deeper than the limit of {maxDepth} containers.");

/// <summary>Where a string's content lies (between its quotes), and whether it has escapes to decode.</summary>
internal readonly record struct JsonName(int Start, int Length, bool Escaped);
