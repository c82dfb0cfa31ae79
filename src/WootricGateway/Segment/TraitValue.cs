using System.Buffers.Text;
using System.Text;
using System.Text.Json;

namespace WootricGateway.Segment;

/// <summary>
/// One value of an identify's traits, kept as its UTF-8 JSON text. Its members return what
/// <see cref="JsonElement"/>'s return for the same text (kind, strings, numbers, raw text, members and
/// elements), but no document is built: the parser copies a traits object's bytes once, and the
/// mapping reads each value once.
/// </summary>
/// <remarks>
/// The text is JSON that the parser has already checked, so reads here find no errors in it.
/// <c>default</c> is the undefined value, as for <see cref="JsonElement"/>.
/// </remarks>
public readonly struct TraitValue
{
    /// <summary>The depth limit for <see cref="Parse(string)"/>, which checks text it has not seen.</summary>
    private const int ParseMaxDepth = 64;

    private readonly byte[]? _utf8;
    private readonly int _start;
    private readonly int _length;

    /// <summary>A value that lies at <paramref name="start"/> in <paramref name="utf8"/>, which must contain well-formed JSON there.</summary>
    internal TraitValue(byte[] utf8, int start, int length)
    {
        _utf8 = utf8;
        _start = start;
        _length = length;
    }

    /// <summary>The kind of the value, read from its first byte.</summary>
    public JsonValueKind ValueKind => _utf8 is null ? JsonValueKind.Undefined : JsonScanner.KindOf(_utf8[_start]);

    private ReadOnlySpan<byte> Raw => _utf8.AsSpan(_start, _length);

    /// <summary>
    /// Checks <paramref name="json"/> as one well-formed JSON value (at most 64 levels deep) and
    /// keeps a copy of it. Throws <see cref="JsonException"/> otherwise.
    /// </summary>
    public static TraitValue Parse(string json)
    {
        var utf8 = Encoding.UTF8.GetBytes(json);
        var scanner = new JsonScanner(utf8, ParseMaxDepth);
        var (start, length) = scanner.SkipValue(0);
        scanner.ExpectEnd();
        return new TraitValue(utf8, start, length);
    }

    /// <summary>Copies the value at <paramref name="start"/> in <paramref name="json"/>, so it can outlive that buffer.</summary>
    internal static TraitValue CopyOf(ReadOnlySpan<byte> json, int start, int length) =>
        new(json.Slice(start, length).ToArray(), 0, length);

    /// <summary>
    /// Returns the text of a string, or null for a JSON null. Throws <see cref="InvalidOperationException"/>
    /// for any other kind, as <see cref="JsonElement.GetString"/> does.
    /// </summary>
    public string? GetString() => ValueKind switch
    {
        JsonValueKind.String => DecodeString(_utf8!, _start + 1, _length - 2),
        JsonValueKind.Null => null,
        var kind => throw WrongKind(JsonValueKind.String, kind),
    };

    /// <summary>Reads a number that is a whole <see cref="long"/>, as <see cref="JsonElement.TryGetInt64"/> does.</summary>
    public bool TryGetInt64(out long value)
    {
        RequireNumber();
        if (Utf8Parser.TryParse(Raw, out value, out var consumed) && consumed == _length)
        {
            return true;
        }

        // The parser stops at a fraction or an exponent and keeps the digits before it, but JsonElement sets 0.
        value = 0;
        return false;
    }

    /// <summary>Reads a number as a <see cref="double"/>, as <see cref="JsonElement.TryGetDouble"/> does.</summary>
    public bool TryGetDouble(out double value)
    {
        RequireNumber();
        var reader = new Utf8JsonReader(Raw);
        reader.Read();
        return reader.TryGetDouble(out value);
    }

    /// <summary>Returns the value's JSON text exactly as it was sent, or an empty string for the undefined value.</summary>
    public string GetRawText() => _utf8 is null ? string.Empty : Encoding.UTF8.GetString(Raw);

    /// <summary>
    /// Returns the members of an object in the order they were sent, repeated names included, with names
    /// decoded. Throws <see cref="InvalidOperationException"/> for any other kind.
    /// </summary>
    public List<KeyValuePair<string, TraitValue>> EnumerateObject()
    {
        if (ValueKind != JsonValueKind.Object)
        {
            throw WrongKind(JsonValueKind.Object, ValueKind);
        }

        var members = new List<KeyValuePair<string, TraitValue>>();
        var scanner = new JsonScanner(Raw, int.MaxValue);
        scanner.Open(1);
        var first = true;
        while (scanner.NextMember(ref first, out var name))
        {
            var (start, length) = scanner.SkipValue(1);
            var text = name.Escaped
                ? DecodeEscapedString(_utf8!, _start + name.Start, name.Length)
                : Encoding.UTF8.GetString(_utf8!, _start + name.Start, name.Length);
            members.Add(new KeyValuePair<string, TraitValue>(text, new TraitValue(_utf8!, _start + start, length)));
        }

        return members;
    }

    /// <summary>
    /// Returns the elements of an array in order, read one at a time as the loop goes, so a long array costs no
    /// list. Throws <see cref="InvalidOperationException"/> for any other kind.
    /// </summary>
    public ArrayEnumerator EnumerateArray()
    {
        if (ValueKind != JsonValueKind.Array)
        {
            throw WrongKind(JsonValueKind.Array, ValueKind);
        }

        return new ArrayEnumerator(_utf8!, _start, _length);
    }

    /// <summary>An enumerator over the elements of an array value, for a <c>foreach</c> loop.</summary>
    public ref struct ArrayEnumerator
    {
        private readonly byte[] _utf8;
        private readonly int _start;
        private JsonScanner _scanner;
        private bool _first;

        internal ArrayEnumerator(byte[] utf8, int start, int length)
        {
            _utf8 = utf8;
            _start = start;
            _scanner = new JsonScanner(utf8.AsSpan(start, length), int.MaxValue);
            _scanner.Open(1);
            _first = true;
        }

        /// <summary>The element the enumerator is on.</summary>
        public TraitValue Current { get; private set; }

        public readonly ArrayEnumerator GetEnumerator() => this;

        /// <summary>Moves to the next element. Returns false after the last one.</summary>
        public bool MoveNext()
        {
            if (!_scanner.NextElement(ref _first))
            {
                return false;
            }

            var (start, length) = _scanner.SkipValue(1);
            Current = new TraitValue(_utf8, _start + start, length);
            return true;
        }
    }

    /// <summary>Returns the text <see cref="JsonElement.ToString"/> gives for the same value.</summary>
    public override string ToString() => ValueKind switch
    {
        JsonValueKind.Undefined or JsonValueKind.Null => string.Empty,
        JsonValueKind.String => GetString()!,
        JsonValueKind.True => bool.TrueString,
        JsonValueKind.False => bool.FalseString,
        _ => GetRawText(),
    };

    /// <summary>Decodes string content (between the quotes) that has no escapes from its bytes, else through the reader.</summary>
    private static string DecodeString(byte[] utf8, int start, int length) =>
        utf8.AsSpan(start, length).Contains((byte)'\\')
            ? DecodeEscapedString(utf8, start, length)
            : Encoding.UTF8.GetString(utf8, start, length);

    private static string DecodeEscapedString(byte[] utf8, int start, int length)
    {
        // The quotes around the content make it a JSON string the reader can decode.
        var reader = new Utf8JsonReader(utf8.AsSpan(start - 1, length + 2));
        reader.Read();
        return reader.GetString()!;
    }

    private void RequireNumber()
    {
        if (ValueKind != JsonValueKind.Number)
        {
            throw WrongKind(JsonValueKind.Number, ValueKind);
        }
    }

    private static InvalidOperationException WrongKind(JsonValueKind expected, JsonValueKind actual) =>
        new($"The operation requires a value of kind {expected}, but the value is {actual}.");
}
