using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text.Json;

namespace WootricGateway.Segment;

/// <summary>Why a whole body yielded no events.</summary>
public enum BodyOutcome
{
    Parsed,
    InvalidJson,
    NotAnObject,
    MissingBatch,
    InvalidUtf8,

    /// <summary>A <c>\uD800</c>–<c>\uDFFF</c> escape without its pair, which no .NET string read can decode.</summary>
    UnpairedSurrogateEscape,

    /// <summary>Objects and arrays nest deeper than the depth limit (<c>Tap__MaxJsonDepth</c>).</summary>
    TooDeep,
}

/// <summary>
/// How many events of one type the parser read but did not emit for one reason (a metric label).
/// A body has one entry per type and reason, in the order each pair was first met.
/// </summary>
public readonly record struct SkippedEvents(SegmentEventType Type, string Reason, int Count);

/// <summary>
/// The result of parsing one body. <paramref name="EnvelopeTraitsIgnored"/> is true for a batch whose envelope
/// <c>context.traits</c> were not applied because they exceed <see cref="SegmentParser.MaxEnvelopeTraitsBytes"/>.
/// </summary>
public sealed record ParseResult(BodyOutcome Outcome, TappedBatch? Batch, IReadOnlyList<SkippedEvents> Skipped, bool EnvelopeTraitsIgnored = false);

/// <summary>
/// Reads Segment Tracking API bodies (single events and batch envelopes) into typed identify and
/// page events. A pure function of its inputs: no I/O, no clock, no exceptions for bad input.
/// </summary>
public static class SegmentParser
{
    /// <summary>
    /// The maximum envelope <c>context.traits</c> text one batch may apply, counted as its length times
    /// the number of identifies. Each identify's user stores and sends those traits as its own, so a large
    /// shared value under thousands of identifies would turn one request of under 1 MiB into gigabytes of
    /// mapping, state and Wootric requests.
    /// </summary>
    public const long MaxEnvelopeTraitsBytes = 16L * 1024 * 1024;

    /// <summary>
    /// Parses <paramref name="body"/> (already decoded) for a request to <paramref name="route"/>.
    /// <paramref name="headerWriteKey"/> is the key from Basic auth, which wins over the body's.
    /// A body held in several segments is copied into one array rented from <paramref name="scratch"/>,
    /// or from the shared pool when it is null.
    /// </summary>
    public static ParseResult Parse(
        ReadOnlySequence<byte> body,
        SegmentRoute route,
        string? headerWriteKey,
        DateTimeOffset receivedAt,
        int maxDepth = 64,
        ArrayPool<byte>? scratch = null)
    {
        // System.Text.Json checks UTF-8 only when a string is read, so bad bytes would surface later as
        // an exception in the mapping. Checking the whole body first makes them a counted outcome.
        if (!IsValidUtf8(body))
        {
            return new ParseResult(BodyOutcome.InvalidUtf8, null, []);
        }

        if (body.Length > Array.MaxLength)
        {
            return new ParseResult(BodyOutcome.InvalidJson, null, []);
        }

        // The scanner needs the body in one span. A captured body is held in 16 KiB segments, so it
        // is copied into one pooled array, which the pool keeps for the next large body. The shared
        // pool gives such arrays back to the runtime when memory load is high.
        var pool = scratch ?? ArrayPool<byte>.Shared;
        byte[]? rented = null;
        var json = body.First;
        if (!body.IsSingleSegment)
        {
            rented = pool.Rent((int)body.Length);
            body.CopyTo(rented);
            json = rented.AsMemory(0, (int)body.Length);
        }

        try
        {
            // Building the reader's options first keeps the outcome for a depth limit it rejects (a negative one):
            // an ArgumentException, counted as invalid JSON.
            var depthLimit = EffectiveMaxDepth(new JsonReaderOptions { MaxDepth = maxDepth });
            var contiguous = new ReadOnlySequence<byte>(json);
            return route.Kind == SegmentRouteKind.Batch
                ? ParseBatch(contiguous, headerWriteKey, receivedAt, depthLimit)
                : ParseSingle(contiguous, route, headerWriteKey, receivedAt, depthLimit);
        }
        catch (JsonTooDeepException)
        {
            return new ParseResult(BodyOutcome.TooDeep, null, []);
        }
        catch (JsonException)
        {
            return new ParseResult(BodyOutcome.InvalidJson, null, []);
        }
        catch (ArgumentException)
        {
            // Raised for a MaxDepth the reader cannot take; the body is treated as unreadable.
            return new ParseResult(BodyOutcome.InvalidJson, null, []);
        }
        finally
        {
            if (rented is not null)
            {
                pool.Return(rented);
            }
        }
    }

    /// <summary>The depth limit <see cref="Utf8JsonReader"/> applies for <paramref name="options"/> (0 means its default).</summary>
    private static int EffectiveMaxDepth(JsonReaderOptions options) => options.MaxDepth == 0 ? DefaultMaxDepth : options.MaxDepth;

    private const int DefaultMaxDepth = 64;

    /// <summary>
    /// Reads a single call in one forward pass, as a batch item is read, so that no document is built for
    /// the whole body. The path implies the type when the body has none.
    /// </summary>
    private static ParseResult ParseSingle(ReadOnlySequence<byte> body, SegmentRoute route, string? headerWriteKey, DateTimeOffset receivedAt, int maxDepth)
    {
        var json = body.FirstSpan;
        var scanner = new JsonScanner(json, maxDepth);

        // Throws on an empty body, and on one that does not start like a JSON value.
        var first = scanner.Peek();

        // Reading a property name that contains an unpaired surrogate escape would throw, so such a body is
        // only checked for well-formed JSON (which takes precedence), then skipped whole.
        if (!HasOnlyPairedSurrogateEscapes(body))
        {
            ScanToEnd(ref scanner);
            return new ParseResult(BodyOutcome.UnpairedSurrogateEscape, null, []);
        }

        if (first != (byte)'{')
        {
            ScanToEnd(ref scanner);
            return new ParseResult(BodyOutcome.NotAnObject, null, []);
        }

        // The whole body must be well-formed before anything is read from it, trailing bytes included.
        scanner.Open(1);
        var fields = ItemFields.Scan(ref scanner, json, depth: 1);
        scanner.ExpectEnd();

        var writeKey = headerWriteKey ?? fields.WriteKey.ReadString(json, maxDepth);
        var events = new List<SegmentEvent>(1);
        var skipped = new List<SkippedEvents>();
        Emit(in fields, json, maxDepth, route.ImpliedType, writeKey, events, skipped);
        return new ParseResult(BodyOutcome.Parsed, new TappedBatch(writeKey, events, receivedAt), skipped);
    }

    /// <summary>
    /// Reads a batch envelope in one forward pass of the scanner, one event at a time. An identify's
    /// traits object is copied out of the body, and its names are read. The envelope's <c>writeKey</c> and
    /// <c>context</c> may follow the batch, so they are applied to the events once the pass is done.
    /// </summary>
    private static ParseResult ParseBatch(ReadOnlySequence<byte> body, string? headerWriteKey, DateTimeOffset receivedAt, int maxDepth)
    {
        var json = body.FirstSpan;
        var scanner = new JsonScanner(json, maxDepth);
        if (scanner.Peek() != (byte)'{')
        {
            ScanToEnd(ref scanner);
            return HasOnlyPairedSurrogateEscapes(body)
                ? new ParseResult(BodyOutcome.NotAnObject, null, [])
                : new ParseResult(BodyOutcome.UnpairedSurrogateEscape, null, []);
        }

        // As for single events, but checked before the pass: its strings are read as events are parsed.
        if (!HasOnlyPairedSurrogateEscapes(body))
        {
            ScanToEnd(ref scanner);
            return new ParseResult(BodyOutcome.UnpairedSurrogateEscape, null, []);
        }

        var events = new List<SegmentEvent>();
        var skipped = new List<SkippedEvents>();
        var sawBatch = false;
        var batchIsArray = false;
        ValueRange bodyWriteKey = default;
        ValueRange envelope = default;
        scanner.Open(1);
        var firstMember = true;
        while (scanner.NextMember(ref firstMember, out var name))
        {
            // Duplicate names resolve as JsonDocument does: the last one wins.
            if (NameEquals(json, name, "batch"u8))
            {
                sawBatch = true;
                events.Clear();
                skipped.Clear();
                batchIsArray = scanner.Peek() == (byte)'[';
                if (batchIsArray)
                {
                    ReadBatchItems(ref scanner, json, maxDepth, headerWriteKey, events, skipped);
                }
                else
                {
                    scanner.SkipValue(1);
                }
            }
            else if (NameEquals(json, name, "writeKey"u8))
            {
                bodyWriteKey = ValueRange.Of(scanner.SkipValue(1));
            }
            else if (NameEquals(json, name, "context"u8))
            {
                envelope = ValueRange.Of(scanner.SkipValue(1));
            }
            else
            {
                scanner.SkipValue(1);
            }
        }

        // The whole body must be well-formed, as it would be for JsonDocument, trailing bytes included.
        scanner.ExpectEnd();
        if (!sawBatch || !batchIsArray)
        {
            return new ParseResult(BodyOutcome.MissingBatch, null, []);
        }

        var writeKey = headerWriteKey ?? bodyWriteKey.ReadString(json, maxDepth);
        var traitsApplied = ApplyEnvelope(events, json, maxDepth, envelope, headerWriteKey is null ? writeKey : null);
        return new ParseResult(BodyOutcome.Parsed, new TappedBatch(writeKey, events, receivedAt), skipped, EnvelopeTraitsIgnored: !traitsApplied);
    }

    /// <summary>Reads the items of the <c>batch</c> array the scanner is on, up to and including its end.</summary>
    private static void ReadBatchItems(
        ref JsonScanner scanner,
        ReadOnlySpan<byte> json,
        int maxDepth,
        string? headerWriteKey,
        List<SegmentEvent> events,
        List<SkippedEvents> skipped)
    {
        scanner.Open(2);
        var firstItem = true;
        while (scanner.NextElement(ref firstItem))
        {
            if (scanner.Peek() != (byte)'{')
            {
                scanner.SkipValue(2);
                Skip(skipped, SegmentEventType.Other, "not_an_object");
                continue;
            }

            scanner.Open(3);
            var fields = ItemFields.Scan(ref scanner, json, depth: 3);
            Emit(in fields, json, maxDepth, impliedType: null, headerWriteKey, events, skipped);
        }
    }

    /// <summary>Checks the rest of the body: one whole value, then nothing but whitespace.</summary>
    private static void ScanToEnd(ref JsonScanner scanner)
    {
        scanner.SkipValue(0);
        scanner.ExpectEnd();
    }

    /// <summary>
    /// Compares a property name with <paramref name="expected"/> as <see cref="Utf8JsonReader.ValueTextEquals(ReadOnlySpan{byte})"/>
    /// does: after decoding escapes. Names without escapes, nearly all of them, are compared byte for byte.
    /// </summary>
    private static bool NameEquals(ReadOnlySpan<byte> json, JsonName name, ReadOnlySpan<byte> expected)
    {
        if (!name.Escaped)
        {
            return json.Slice(name.Start, name.Length).SequenceEqual(expected);
        }

        // Decoding never makes a name longer, so one shorter than expected cannot match.
        if (name.Length < expected.Length)
        {
            return false;
        }

        var reader = new Utf8JsonReader(json.Slice(name.Start - 1, name.Length + 2));
        reader.Read();
        return reader.ValueTextEquals(expected);
    }

    /// <summary>
    /// Turns one event's fields into an identify or a page, or counts why it is skipped. Only here are
    /// strings read and traits copied, so a track costs none. <c>context</c> and <c>properties</c> are
    /// never parsed whole: the few values wanted from them are found by a forward scan.
    /// </summary>
    private static void Emit(
        in ItemFields fields,
        ReadOnlySpan<byte> json,
        int maxDepth,
        SegmentEventType? impliedType,
        string? writeKey,
        List<SegmentEvent> events,
        List<SkippedEvents> skipped)
    {
        SegmentEventType type;
        if (fields.TypeKind is JsonValueKind.Undefined or JsonValueKind.Null)
        {
            if (impliedType is not { } fromPath)
            {
                Skip(skipped, SegmentEventType.Other, "missing_type");
                return;
            }

            type = fromPath;
        }
        else if (fields.TypeKind != JsonValueKind.String)
        {
            Skip(skipped, impliedType ?? SegmentEventType.Other, "invalid_type");
            return;
        }
        else
        {
            type = fields.Type;
        }

        if (type is not (SegmentEventType.Identify or SegmentEventType.Page))
        {
            Skip(skipped, type, "unsupported_type");
            return;
        }

        var userId = fields.UserId.ReadId(json, maxDepth);
        var anonymousId = fields.AnonymousId.ReadId(json, maxDepth);
        var messageId = fields.MessageId.ReadString(json, maxDepth);
        var timestamp = fields.Timestamp.ReadTimestamp(json, maxDepth);
        if (type == SegmentEventType.Identify)
        {
            var own = fields.Traits.CopyObject(json) ?? default;
            var contextTraits = fields.Context.Property(json, maxDepth, "traits"u8).CopyObject(json);
            events.Add(new IdentifyEvent
            {
                WriteKey = writeKey,
                MessageId = messageId,
                UserId = userId,
                AnonymousId = anonymousId,
                Timestamp = timestamp,
                Traits = contextTraits is { } shared ? UnderTraits(ListValues(shared), ListValues(own)) : ListValues(own),
            });
            return;
        }

        events.Add(new PageEvent
        {
            WriteKey = writeKey,
            MessageId = messageId,
            UserId = userId,
            AnonymousId = anonymousId,
            Timestamp = timestamp,
            Url = NonEmpty(fields.Properties.Property(json, maxDepth, "url"u8).ReadString(json, maxDepth))
                ?? PageUrlOf(json, maxDepth, fields.Context),
            Name = fields.Name.ReadString(json, maxDepth),
        });
    }

    /// <summary>
    /// Where one event's fields lie in the body, read in a single pass of the reader. Only the type is
    /// read as it passes, and the rest is remembered by position. Duplicate names resolve as JsonDocument
    /// does: the last one wins.
    /// </summary>
    private struct ItemFields
    {
        public JsonValueKind TypeKind;
        public SegmentEventType Type;
        public ValueRange UserId;
        public ValueRange AnonymousId;
        public ValueRange MessageId;
        public ValueRange Timestamp;
        public ValueRange Name;
        public ValueRange Traits;
        public ValueRange Context;
        public ValueRange Properties;
        public ValueRange WriteKey;

        /// <summary>The properties an event is read for; <see cref="None"/> for any other name.</summary>
        private enum Field
        {
            None,
            Type,
            UserId,
            AnonymousId,
            MessageId,
            Timestamp,
            Name,
            Traits,
            Context,
            Properties,
            WriteKey,
        }

        /// <summary>
        /// Reads the members of the object whose <c>{</c> the scanner has just consumed, up to and including
        /// its <c>}</c>. <paramref name="depth"/> is the object's own depth.
        /// </summary>
        public static ItemFields Scan(ref JsonScanner scanner, ReadOnlySpan<byte> json, int depth)
        {
            var fields = new ItemFields();
            var first = true;
            while (scanner.NextMember(ref first, out var name))
            {
                var field = FieldOf(json, name);
                if (field == Field.Type)
                {
                    fields.TypeKind = JsonScanner.KindOf(scanner.Peek());
                    if (fields.TypeKind == JsonValueKind.String)
                    {
                        fields.Type = TypeOf(json, scanner.ReadString());
                    }
                    else
                    {
                        fields.Type = SegmentEventType.Other;
                        scanner.SkipValue(depth);
                    }
                }
                else if (field == Field.None)
                {
                    scanner.SkipValue(depth);
                }
                else
                {
                    fields.Set(field, ValueRange.Of(scanner.SkipValue(depth)));
                }
            }

            return fields;
        }

        /// <summary>Maps a property name to the field it fills, checking the length first because most names match no field.</summary>
        private static Field FieldOf(ReadOnlySpan<byte> json, JsonName name)
        {
            if (name.Escaped)
            {
                return FieldOfEscaped(json, name);
            }

            var text = json.Slice(name.Start, name.Length);
            return text.Length switch
            {
                4 => text.SequenceEqual("type"u8) ? Field.Type : text.SequenceEqual("name"u8) ? Field.Name : Field.None,
                6 => text.SequenceEqual("userId"u8) ? Field.UserId : text.SequenceEqual("traits"u8) ? Field.Traits : Field.None,
                7 => text.SequenceEqual("context"u8) ? Field.Context : Field.None,
                8 => text.SequenceEqual("writeKey"u8) ? Field.WriteKey : Field.None,
                9 => text.SequenceEqual("messageId"u8) ? Field.MessageId : text.SequenceEqual("timestamp"u8) ? Field.Timestamp : Field.None,
                10 => text.SequenceEqual("properties"u8) ? Field.Properties : Field.None,
                11 => text.SequenceEqual("anonymousId"u8) ? Field.AnonymousId : Field.None,
                _ => Field.None,
            };
        }

        private static Field FieldOfEscaped(ReadOnlySpan<byte> json, JsonName name) => Lookup(json, name, FieldNames, Field.None);

        /// <summary>The names <see cref="FieldOf"/> maps, for names that must be decoded before they are compared.</summary>
        private static readonly (byte[] Name, Field Field)[] FieldNames =
        [
            ("type"u8.ToArray(), Field.Type),
            ("userId"u8.ToArray(), Field.UserId),
            ("anonymousId"u8.ToArray(), Field.AnonymousId),
            ("messageId"u8.ToArray(), Field.MessageId),
            ("timestamp"u8.ToArray(), Field.Timestamp),
            ("name"u8.ToArray(), Field.Name),
            ("traits"u8.ToArray(), Field.Traits),
            ("context"u8.ToArray(), Field.Context),
            ("properties"u8.ToArray(), Field.Properties),
            ("writeKey"u8.ToArray(), Field.WriteKey),
        ];

        /// <summary>Remembers where a value lies. A repeated name replaces the earlier one.</summary>
        private void Set(Field field, ValueRange value)
        {
            switch (field)
            {
                case Field.UserId:
                    UserId = value;
                    break;
                case Field.AnonymousId:
                    AnonymousId = value;
                    break;
                case Field.MessageId:
                    MessageId = value;
                    break;
                case Field.Timestamp:
                    Timestamp = value;
                    break;
                case Field.Name:
                    Name = value;
                    break;
                case Field.Traits:
                    Traits = value;
                    break;
                case Field.Context:
                    Context = value;
                    break;
                case Field.Properties:
                    Properties = value;
                    break;
                case Field.WriteKey:
                    WriteKey = value;
                    break;
            }
        }
    }

    /// <summary>
    /// Counts one skipped event. Most of a batch is skipped (tracks), so the pairs are counted rather than
    /// listed: a 500 KB batch needs a handful of entries instead of one per event.
    /// </summary>
    private static void Skip(List<SkippedEvents> skipped, SegmentEventType type, string reason)
    {
        for (var i = 0; i < skipped.Count; i++)
        {
            var entry = skipped[i];
            if (entry.Type == type && string.Equals(entry.Reason, reason, StringComparison.Ordinal))
            {
                skipped[i] = entry with { Count = entry.Count + 1 };
                return;
            }
        }

        skipped.Add(new SkippedEvents(type, reason, 1));
    }

    /// <summary>Reads an event's <c>type</c> from its string content.</summary>
    private static SegmentEventType TypeOf(ReadOnlySpan<byte> json, JsonName value) => Lookup(json, value, TypeNames, SegmentEventType.Other);

    private static readonly (byte[] Name, SegmentEventType Type)[] TypeNames =
    [
        ("identify"u8.ToArray(), SegmentEventType.Identify),
        ("page"u8.ToArray(), SegmentEventType.Page),
        ("track"u8.ToArray(), SegmentEventType.Track),
        ("screen"u8.ToArray(), SegmentEventType.Screen),
        ("group"u8.ToArray(), SegmentEventType.Group),
        ("alias"u8.ToArray(), SegmentEventType.Alias),
    ];

    /// <summary>Returns the entry of <paramref name="table"/> whose name equals the string at <paramref name="text"/>, else <paramref name="none"/>.</summary>
    private static T Lookup<T>(ReadOnlySpan<byte> json, JsonName text, (byte[] Name, T Value)[] table, T none)
    {
        foreach (var (name, value) in table)
        {
            if (NameEquals(json, text, name))
            {
                return value;
            }
        }

        return none;
    }

    private static string? StringOf(ref Utf8JsonReader reader)
    {
        var text = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
        reader.Skip();
        return text;
    }

    /// <summary>Reads an id that may be a string or a number; numbers keep their decimal text.</summary>
    private static string? IdOf(ref Utf8JsonReader reader)
    {
        string? text = null;
        if (reader.TokenType == JsonTokenType.String)
        {
            text = reader.GetString();
        }
        else if (reader.TokenType == JsonTokenType.Number)
        {
            text = reader.TryGetInt64(out var whole)
                ? whole.ToString(CultureInfo.InvariantCulture)
                : System.Text.Encoding.UTF8.GetString(reader.HasValueSequence ? reader.ValueSequence.ToArray() : reader.ValueSpan);
        }

        reader.Skip();
        return string.IsNullOrWhiteSpace(text) ? null : text;
    }

    /// <summary>Timestamps longer than this many characters are read through a string.</summary>
    private const int MaxTimestampChars = 64;

    /// <summary>Where a value lies in the body, so it can be parsed later only if it is needed.</summary>
    private readonly record struct ValueRange(int Start, int Length)
    {
        public static ValueRange Of((int Start, int Length) span) => new(span.Start, span.Length);

        /// <summary>
        /// Copies the value, when it is an object, so that it can outlive the body. Returns null for any
        /// other value.
        /// </summary>
        public TraitValue? CopyObject(ReadOnlySpan<byte> json) =>
            Length == 0 || json[Start] != (byte)'{' ? null : TraitValue.CopyOf(json, Start, Length);

        /// <summary>
        /// Returns where the value of property <paramref name="name"/> lies, when this value is an object that
        /// has one (the last, when the name repeats, as JsonDocument resolves it). Otherwise returns no range.
        /// </summary>
        public ValueRange Property(ReadOnlySpan<byte> json, int maxDepth, ReadOnlySpan<byte> name)
        {
            if (Length == 0)
            {
                return default;
            }

            // The body has been checked whole, so this scan of a part of it finds no error.
            var value = json.Slice(Start, Length);
            var scanner = new JsonScanner(value, maxDepth);
            if (scanner.Peek() != (byte)'{')
            {
                return default;
            }

            scanner.Open(1);
            ValueRange found = default;
            var first = true;
            while (scanner.NextMember(ref first, out var member))
            {
                var (start, length) = scanner.SkipValue(1);
                if (NameEquals(value, member, name))
                {
                    found = new ValueRange(Start + start, length);
                }
            }

            return found;
        }

        /// <summary>Reads the value as <see cref="StringOf"/> does; null when there was none.</summary>
        public string? ReadString(ReadOnlySpan<byte> json, int maxDepth)
        {
            if (Length == 0)
            {
                return null;
            }

            if (TryReadPlainString(json, out var plain))
            {
                return plain;
            }

            var reader = ReaderAtValue(json, maxDepth);
            return StringOf(ref reader);
        }

        /// <summary>Reads the value as <see cref="IdOf"/> does; null when there was none.</summary>
        public string? ReadId(ReadOnlySpan<byte> json, int maxDepth)
        {
            if (Length == 0)
            {
                return null;
            }

            if (TryReadPlainString(json, out var plain))
            {
                return string.IsNullOrWhiteSpace(plain) ? null : plain;
            }

            var reader = ReaderAtValue(json, maxDepth);
            return IdOf(ref reader);
        }

        /// <summary>
        /// Reads a string value as <see cref="ParseTimestamp"/> would from its text, through a buffer on the
        /// stack rather than a string. Returns null when there was none, it is not a string, or it does not parse.
        /// </summary>
        public DateTimeOffset? ReadTimestamp(ReadOnlySpan<byte> json, int maxDepth)
        {
            if (Length == 0)
            {
                return null;
            }

            // Most clients write one ISO 8601 form, which is read without the general parser.
            var raw = json.Slice(Start, Length);
            if (raw.Length > 2 && raw[0] == (byte)'"' && IsoTimestamp.TryParse(raw[1..^1], out var iso))
            {
                return iso;
            }

            var reader = ReaderAtValue(json, maxDepth);
            if (reader.TokenType != JsonTokenType.String)
            {
                return null;
            }

            // A string never has more characters than its escaped UTF-8 bytes.
            var escapedLength = reader.HasValueSequence ? reader.ValueSequence.Length : reader.ValueSpan.Length;
            if (escapedLength > MaxTimestampChars)
            {
                return ParseTimestamp(reader.GetString());
            }

            Span<char> text = stackalloc char[MaxTimestampChars];
            var written = reader.CopyString(text);
            return DateTimeOffset.TryParse(text[..written], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed)
                ? parsed
                : null;
        }

        /// <summary>
        /// Reads a string value without escapes by decoding its bytes, which are valid UTF-8 because the
        /// whole body was checked. Returns false for any other value.
        /// </summary>
        private bool TryReadPlainString(ReadOnlySpan<byte> json, [NotNullWhen(true)] out string? text)
        {
            var value = json.Slice(Start, Length);
            if (value.Length < 2 || value[0] != (byte)'"' || value.Contains((byte)'\\'))
            {
                text = null;
                return false;
            }

            text = System.Text.Encoding.UTF8.GetString(value[1..^1]);
            return true;
        }

        /// <summary>
        /// Creates a reader over the value alone, positioned on its first token. It takes the body's depth
        /// limit, since a value that is skipped may be nested as deep as the body allows.
        /// </summary>
        private Utf8JsonReader ReaderAtValue(ReadOnlySpan<byte> json, int maxDepth)
        {
            var reader = new Utf8JsonReader(json.Slice(Start, Length), new JsonReaderOptions { MaxDepth = maxDepth });
            reader.Read();
            return reader;
        }
    }

    /// <summary>
    /// Applies what the envelope gives every event: its <c>context.traits</c> under each identify's own
    /// traits, its <c>context.page.url</c> to pages without a URL, and the body's write key. Returns false
    /// when the traits were left out because they exceed <see cref="MaxEnvelopeTraitsBytes"/>.
    /// </summary>
    private static bool ApplyEnvelope(List<SegmentEvent> events, ReadOnlySpan<byte> json, int maxDepth, ValueRange envelopeContext, string? bodyWriteKey)
    {
        var traitsRange = envelopeContext.Property(json, maxDepth, "traits"u8);
        var identifies = events.Count(tapped => tapped is IdentifyEvent);

        // Only an object is ever applied, so only an object can be over the budget.
        var isObject = traitsRange.Length > 0 && json[traitsRange.Start] == (byte)'{';
        var withinBudget = !isObject || (long)traitsRange.Length * identifies <= MaxEnvelopeTraitsBytes;

        // Copied and listed once. Every identify refers to the list, so a large envelope is not read
        // again for each event.
        var envelopeTraits = withinBudget && identifies > 0 && traitsRange.CopyObject(json) is { } copied
            ? ListValues(copied)
            : null;
        var envelopeUrl = PageUrlOf(json, maxDepth, envelopeContext);
        if (envelopeTraits is null && envelopeUrl is null && bodyWriteKey is null)
        {
            return withinBudget;
        }

        for (var i = 0; i < events.Count; i++)
        {
            events[i] = events[i] switch
            {
                IdentifyEvent identify => identify with
                {
                    WriteKey = bodyWriteKey ?? identify.WriteKey,
                    Traits = envelopeTraits is { } traits ? UnderTraits(traits, identify.Traits) : identify.Traits,
                },
                PageEvent page => page with
                {
                    WriteKey = bodyWriteKey ?? page.WriteKey,
                    Url = page.Url ?? envelopeUrl,
                },
                var other => other,
            };
        }

        return withinBudget;
    }

    /// <summary>
    /// Returns <paramref name="shared"/> (the envelope's or the event's <c>context.traits</c>) overridden by
    /// the event's own traits. An identify without traits of its own gets <paramref name="shared"/> itself,
    /// which nothing changes after parsing, so every identify of a batch can refer to one envelope list.
    /// </summary>
    private static List<KeyValuePair<string, TraitValue>> UnderTraits(
        List<KeyValuePair<string, TraitValue>> shared,
        IReadOnlyList<KeyValuePair<string, TraitValue>> own)
    {
        if (own.Count == 0)
        {
            return shared;
        }

        // The event's own values come last, so they also win over shared names that differ from theirs
        // but become the same property key once the mapping has cleaned and flattened them.
        var ownNames = new HashSet<string>(own.Count, StringComparer.Ordinal);
        foreach (var (key, _) in own)
        {
            ownNames.Add(key);
        }

        var merged = new List<KeyValuePair<string, TraitValue>>(shared.Count + own.Count);
        foreach (var pair in shared)
        {
            if (!ownNames.Contains(pair.Key))
            {
                merged.Add(pair);
            }
        }

        merged.AddRange(own);
        return merged;
    }

    /// <summary>
    /// Checks that <paramref name="body"/> is well-formed UTF-8, segment by segment with the vectorized
    /// check, carrying a character split across a segment boundary over to the next segment.
    /// </summary>
    internal static bool IsValidUtf8(ReadOnlySequence<byte> body)
    {
        if (body.IsSingleSegment)
        {
            return System.Text.Unicode.Utf8.IsValid(body.FirstSpan);
        }

        Span<byte> carry = stackalloc byte[4];
        var carried = 0;
        foreach (var segment in body)
        {
            var bytes = segment.Span;
            if (carried > 0)
            {
                var needed = SequenceLength(carry[0]);
                var take = Math.Min(needed - carried, bytes.Length);
                bytes[..take].CopyTo(carry[carried..]);
                carried += take;
                bytes = bytes[take..];
                if (carried < needed)
                {
                    continue;
                }

                if (!System.Text.Unicode.Utf8.IsValid(carry[..carried]))
                {
                    return false;
                }

                carried = 0;
            }

            var tail = IncompleteTailLength(bytes);
            if (!System.Text.Unicode.Utf8.IsValid(bytes[..^tail]))
            {
                return false;
            }

            bytes[^tail..].CopyTo(carry);
            carried = tail;
        }

        return carried == 0;
    }

    /// <summary>The length a UTF-8 sequence starting with <paramref name="lead"/> claims; 1 for bytes that start none.</summary>
    private static int SequenceLength(byte lead) => lead switch
    {
        >= 0xF0 and < 0xF8 => 4,
        >= 0xE0 and < 0xF0 => 3,
        >= 0xC0 and < 0xE0 => 2,
        _ => 1,
    };

    /// <summary>How many bytes at the end of <paramref name="bytes"/> start a character the span cuts off.</summary>
    private static int IncompleteTailLength(ReadOnlySpan<byte> bytes)
    {
        for (var back = 1; back <= Math.Min(3, bytes.Length); back++)
        {
            var value = bytes[^back];
            if ((value & 0xC0) == 0x80)
            {
                continue;
            }

            return value >= 0xC0 && SequenceLength(value) > back ? back : 0;
        }

        return 0;
    }

    /// <summary>
    /// Returns false when a <c>\u</c> escape of a high surrogate is not followed directly by one of a low
    /// surrogate, or a low one appears alone. Only valid JSON reaches this, so every backslash starts an escape.
    /// </summary>
    internal static bool HasOnlyPairedSurrogateEscapes(ReadOnlySequence<byte> body)
    {
        var reader = new SequenceReader<byte>(body);
        long highEnd = -1;
        Span<byte> hex = stackalloc byte[4];
        while (reader.TryAdvanceTo((byte)'\\', advancePastDelimiter: true))
        {
            var adjacentToHigh = highEnd >= 0 && reader.Consumed - 1 == highEnd;
            if (highEnd >= 0 && !adjacentToHigh)
            {
                return false;
            }

            highEnd = -1;
            if (!reader.TryRead(out var kind))
            {
                return true;
            }

            if (kind != (byte)'u')
            {
                if (adjacentToHigh)
                {
                    return false;
                }

                continue;
            }

            if (!reader.TryCopyTo(hex) || !TryParseHex(hex, out var code))
            {
                return true;
            }

            reader.Advance(4);
            var isHigh = code is >= 0xD800 and <= 0xDBFF;
            var isLow = code is >= 0xDC00 and <= 0xDFFF;
            if (adjacentToHigh != isLow)
            {
                return false;
            }

            if (isHigh)
            {
                highEnd = reader.Consumed;
            }
        }

        return highEnd < 0;
    }

    private static bool TryParseHex(ReadOnlySpan<byte> hex, out int value)
    {
        value = 0;
        foreach (var digit in hex)
        {
            var nibble = digit switch
            {
                >= (byte)'0' and <= (byte)'9' => digit - '0',
                >= (byte)'a' and <= (byte)'f' => digit - 'a' + 10,
                >= (byte)'A' and <= (byte)'F' => digit - 'A' + 10,
                _ => -1,
            };
            if (nibble < 0)
            {
                return false;
            }

            value = (value << 4) | nibble;
        }

        return true;
    }


    /// <summary>
    /// Returns the values of one traits object in document order, without the dictionary that most
    /// identifies (no repeated names) do not need. A repeated name, or more than 32 names, falls back to
    /// the dictionary, where the name keeps its first position and takes its last value.
    /// </summary>
    private static List<KeyValuePair<string, TraitValue>> ListValues(TraitValue traits)
    {
        if (traits.ValueKind != JsonValueKind.Object)
        {
            return [];
        }

        var values = traits.EnumerateObject();
        if (values.Count <= 32 && !HasRepeatedName(values))
        {
            return values;
        }

        var merged = new Dictionary<string, TraitValue>(values.Count, StringComparer.Ordinal);
        foreach (var (name, value) in values)
        {
            merged[name] = value;
        }

        return [.. merged];
    }

    private static bool HasRepeatedName(List<KeyValuePair<string, TraitValue>> values)
    {
        for (var i = 1; i < values.Count; i++)
        {
            for (var j = 0; j < i; j++)
            {
                if (string.Equals(values[i].Key, values[j].Key, StringComparison.Ordinal))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>Returns <c>page.url</c> of the context object at <paramref name="context"/> when it is a non-empty string, else null.</summary>
    private static string? PageUrlOf(ReadOnlySpan<byte> json, int maxDepth, ValueRange context) =>
        NonEmpty(context.Property(json, maxDepth, "page"u8).Property(json, maxDepth, "url"u8).ReadString(json, maxDepth));

    private static string? NonEmpty(string? text) => string.IsNullOrEmpty(text) ? null : text;

    private static DateTimeOffset? ParseTimestamp(string? text) =>
        text is not null && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed)
            ? parsed
            : null;
}
