using System.Buffers;
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
}

/// <summary>
/// How many events of one type the parser read but did not emit for one reason (a metric label).
/// A body has one entry per type and reason, in the order each pair was first met.
/// </summary>
public readonly record struct SkippedEvents(SegmentEventType Type, string Reason, int Count);

/// <summary>The result of parsing one body.</summary>
public sealed record ParseResult(BodyOutcome Outcome, TappedBatch? Batch, IReadOnlyList<SkippedEvents> Skipped);

/// <summary>
/// Reads Segment Tracking API bodies (single events and batch envelopes) into typed identify and
/// page events. A pure function of its inputs: no I/O, no clock, no exceptions for bad input.
/// </summary>
public static class SegmentParser
{
    /// <summary>
    /// Parses <paramref name="body"/> (already decoded) for a request to <paramref name="route"/>.
    /// <paramref name="headerWriteKey"/> is the key from Basic auth, which wins over the body's.
    /// </summary>
    public static ParseResult Parse(
        ReadOnlySequence<byte> body,
        SegmentRoute route,
        string? headerWriteKey,
        DateTimeOffset receivedAt,
        int maxDepth = 64)
    {
        // System.Text.Json checks UTF-8 only when a string is read, so bad bytes would surface later as
        // an exception in the mapping. Checking the whole body first makes them a counted outcome.
        if (!IsValidUtf8(body))
        {
            return new ParseResult(BodyOutcome.InvalidUtf8, null, []);
        }

        try
        {
            return route.Kind == SegmentRouteKind.Batch
                ? ParseBatch(body, headerWriteKey, receivedAt, maxDepth)
                : ParseSingle(body, route, headerWriteKey, receivedAt, maxDepth);
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
    }

    /// <summary>
    /// Reads a single call in one forward pass, as a batch item is read, so that no document is built for
    /// the whole body. The path implies the type when the body has none.
    /// </summary>
    private static ParseResult ParseSingle(ReadOnlySequence<byte> body, SegmentRoute route, string? headerWriteKey, DateTimeOffset receivedAt, int maxDepth)
    {
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = maxDepth });
        if (!reader.Read())
        {
            throw new JsonException("empty body");
        }

        // The reader throws on an unpaired surrogate escape as soon as it compares a property name, so such
        // a body is only checked for well-formed JSON (which takes precedence), then skipped whole.
        if (!HasOnlyPairedSurrogateEscapes(body))
        {
            ReadToEnd(ref reader);
            return new ParseResult(BodyOutcome.UnpairedSurrogateEscape, null, []);
        }

        var isObject = reader.TokenType == JsonTokenType.StartObject;
        var fields = isObject ? ItemFields.Read(ref reader) : default;

        // The whole body must be well-formed before anything is read from it, trailing bytes included.
        ReadToEnd(ref reader);
        if (!isObject)
        {
            return new ParseResult(BodyOutcome.NotAnObject, null, []);
        }

        var writeKey = headerWriteKey ?? fields.WriteKey.ReadString(body, maxDepth);
        var events = new List<SegmentEvent>(1);
        var skipped = new List<SkippedEvents>();
        Emit(in fields, body, maxDepth, route.ImpliedType, writeKey, events, skipped);
        return new ParseResult(BodyOutcome.Parsed, new TappedBatch(writeKey, events, receivedAt), skipped);
    }

    /// <summary>
    /// Reads a batch envelope in one forward pass, one event at a time. Only traits objects are
    /// parsed, each into a small document of its own, so a 500 KB batch never needs a contiguous copy or
    /// a metadata table on the large-object heap. The envelope's <c>writeKey</c> and <c>context</c> may
    /// follow the batch, so they are applied to the events once the pass is done.
    /// </summary>
    private static ParseResult ParseBatch(ReadOnlySequence<byte> body, string? headerWriteKey, DateTimeOffset receivedAt, int maxDepth)
    {
        var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = maxDepth });
        if (!reader.Read())
        {
            throw new JsonException("empty body");
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            ReadToEnd(ref reader);
            return HasOnlyPairedSurrogateEscapes(body)
                ? new ParseResult(BodyOutcome.NotAnObject, null, [])
                : new ParseResult(BodyOutcome.UnpairedSurrogateEscape, null, []);
        }

        // As for single events, but checked before the pass: its strings are read as events are parsed.
        if (!HasOnlyPairedSurrogateEscapes(body))
        {
            ReadToEnd(ref reader);
            return new ParseResult(BodyOutcome.UnpairedSurrogateEscape, null, []);
        }

        var events = new List<SegmentEvent>();
        var skipped = new List<SkippedEvents>();
        var sawBatch = false;
        var batchIsArray = false;
        string? bodyWriteKey = null;
        ValueRange envelope = default;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            // Duplicate names resolve as JsonDocument does: the last one wins.
            if (reader.ValueTextEquals("batch"u8))
            {
                reader.Read();
                sawBatch = true;
                events.Clear();
                skipped.Clear();
                batchIsArray = reader.TokenType == JsonTokenType.StartArray;
                if (batchIsArray)
                {
                    ReadBatchItems(ref reader, body, maxDepth, headerWriteKey, events, skipped);
                }
                else
                {
                    reader.Skip();
                }
            }
            else if (reader.ValueTextEquals("writeKey"u8))
            {
                reader.Read();
                bodyWriteKey = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                reader.Skip();
            }
            else if (reader.ValueTextEquals("context"u8))
            {
                reader.Read();
                envelope = ValueRange.Skip(ref reader);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        // The whole body must be well-formed, as it would be for JsonDocument, trailing bytes included.
        ReadToEnd(ref reader);
        if (!sawBatch || !batchIsArray)
        {
            return new ParseResult(BodyOutcome.MissingBatch, null, []);
        }

        var writeKey = headerWriteKey ?? bodyWriteKey;
        ApplyEnvelope(events, body, maxDepth, envelope, headerWriteKey is null ? writeKey : null);
        return new ParseResult(BodyOutcome.Parsed, new TappedBatch(writeKey, events, receivedAt), skipped);
    }

    private static void ReadBatchItems(
        ref Utf8JsonReader reader,
        ReadOnlySequence<byte> body,
        int maxDepth,
        string? headerWriteKey,
        List<SegmentEvent> events,
        List<SkippedEvents> skipped)
    {
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                Skip(skipped, SegmentEventType.Other, "not_an_object");
                continue;
            }

            var fields = ItemFields.Read(ref reader);
            Emit(in fields, body, maxDepth, impliedType: null, headerWriteKey, events, skipped);
        }
    }

    /// <summary>
    /// Turns one event's fields into an identify or a page, or counts why it is skipped. Only here are
    /// strings read and traits parsed, so a track costs none. <c>context</c> and <c>properties</c> are
    /// never parsed whole: the few values wanted from them are found by a forward scan.
    /// </summary>
    private static void Emit(
        in ItemFields fields,
        ReadOnlySequence<byte> body,
        int maxDepth,
        SegmentEventType? impliedType,
        string? writeKey,
        List<SegmentEvent> events,
        List<SkippedEvents> skipped)
    {
        SegmentEventType type;
        if (fields.TypeToken is JsonTokenType.None or JsonTokenType.Null)
        {
            if (impliedType is not { } fromPath)
            {
                Skip(skipped, SegmentEventType.Other, "missing_type");
                return;
            }

            type = fromPath;
        }
        else if (fields.TypeToken != JsonTokenType.String)
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

        var userId = fields.UserId.ReadId(body, maxDepth);
        var anonymousId = fields.AnonymousId.ReadId(body, maxDepth);
        var messageId = fields.MessageId.ReadString(body, maxDepth);
        var timestamp = fields.Timestamp.ReadTimestamp(body, maxDepth);
        if (type == SegmentEventType.Identify)
        {
            var own = fields.Traits.ParseObject(body, maxDepth) ?? default;
            var contextTraits = fields.Context.Property(body, maxDepth, "traits"u8).ParseObject(body, maxDepth);
            events.Add(new IdentifyEvent
            {
                WriteKey = writeKey,
                MessageId = messageId,
                UserId = userId,
                AnonymousId = anonymousId,
                Timestamp = timestamp,
                Traits = contextTraits is { } shared ? MergeValues(shared, own) : ListValues(own),
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
            Url = NonEmpty(fields.Properties.Property(body, maxDepth, "url"u8).ReadString(body, maxDepth))
                ?? PageUrlOf(body, maxDepth, fields.Context),
            Name = fields.Name.ReadString(body, maxDepth),
        });
    }

    /// <summary>
    /// Where one event's fields lie in the body, read in a single pass of the reader. Only the type is
    /// read as it passes, and the rest is remembered by position. Duplicate names resolve as JsonDocument
    /// does: the last one wins.
    /// </summary>
    private struct ItemFields
    {
        public JsonTokenType TypeToken;
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

        /// <summary>Reads the object the reader is on (its start token) up to and including its end.</summary>
        public static ItemFields Read(ref Utf8JsonReader reader)
        {
            var fields = new ItemFields();
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var field = FieldOf(ref reader);
                reader.Read();
                if (field == Field.Type)
                {
                    fields.TypeToken = reader.TokenType;
                    fields.Type = reader.TokenType == JsonTokenType.String ? TypeOf(ref reader) : SegmentEventType.Other;
                    reader.Skip();
                }
                else if (field == Field.None)
                {
                    reader.Skip();
                }
                else
                {
                    fields.Set(field, ValueRange.Skip(ref reader));
                }
            }

            return fields;
        }

        private static Field FieldOf(ref Utf8JsonReader reader) =>
            reader.ValueTextEquals("type"u8) ? Field.Type
            : reader.ValueTextEquals("userId"u8) ? Field.UserId
            : reader.ValueTextEquals("anonymousId"u8) ? Field.AnonymousId
            : reader.ValueTextEquals("messageId"u8) ? Field.MessageId
            : reader.ValueTextEquals("timestamp"u8) ? Field.Timestamp
            : reader.ValueTextEquals("name"u8) ? Field.Name
            : reader.ValueTextEquals("traits"u8) ? Field.Traits
            : reader.ValueTextEquals("context"u8) ? Field.Context
            : reader.ValueTextEquals("properties"u8) ? Field.Properties
            : reader.ValueTextEquals("writeKey"u8) ? Field.WriteKey
            : Field.None;

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

    private static SegmentEventType TypeOf(ref Utf8JsonReader reader) =>
        reader.ValueTextEquals("identify"u8) ? SegmentEventType.Identify
        : reader.ValueTextEquals("page"u8) ? SegmentEventType.Page
        : reader.ValueTextEquals("track"u8) ? SegmentEventType.Track
        : reader.ValueTextEquals("screen"u8) ? SegmentEventType.Screen
        : reader.ValueTextEquals("group"u8) ? SegmentEventType.Group
        : reader.ValueTextEquals("alias"u8) ? SegmentEventType.Alias
        : SegmentEventType.Other;

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
    private readonly record struct ValueRange(long Start, long Length)
    {
        public static ValueRange Skip(ref Utf8JsonReader reader)
        {
            var start = reader.TokenStartIndex;
            reader.Skip();
            return new ValueRange(start, reader.BytesConsumed - start);
        }

        /// <summary>
        /// Parses the value, when it is an object, into a document of its own that needs no disposing
        /// (nothing is rented), so its elements can outlive the body. Returns null for any other value.
        /// </summary>
        public JsonElement? ParseObject(ReadOnlySequence<byte> body, int maxDepth)
        {
            if (Length == 0 || body.Slice(Start, 1).FirstSpan[0] != (byte)'{')
            {
                return null;
            }

            var reader = ReaderAtValue(body, maxDepth);
            return JsonElement.ParseValue(ref reader);
        }

        /// <summary>
        /// Returns where the value of property <paramref name="name"/> lies, when this value is an object that
        /// has one (the last, when the name repeats, as JsonDocument resolves it). Otherwise returns no range.
        /// </summary>
        public ValueRange Property(ReadOnlySequence<byte> body, int maxDepth, ReadOnlySpan<byte> name)
        {
            if (Length == 0)
            {
                return default;
            }

            var reader = ReaderAtValue(body, maxDepth);
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                return default;
            }

            ValueRange found = default;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var matches = reader.ValueTextEquals(name);
                reader.Read();
                if (matches)
                {
                    var value = Skip(ref reader);
                    found = new ValueRange(Start + value.Start, value.Length);
                }
                else
                {
                    reader.Skip();
                }
            }

            return found;
        }

        /// <summary>Reads the value as <see cref="StringOf"/> does; null when there was none.</summary>
        public string? ReadString(ReadOnlySequence<byte> body, int maxDepth)
        {
            if (Length == 0)
            {
                return null;
            }

            var reader = ReaderAtValue(body, maxDepth);
            return StringOf(ref reader);
        }

        /// <summary>Reads the value as <see cref="IdOf"/> does; null when there was none.</summary>
        public string? ReadId(ReadOnlySequence<byte> body, int maxDepth)
        {
            if (Length == 0)
            {
                return null;
            }

            var reader = ReaderAtValue(body, maxDepth);
            return IdOf(ref reader);
        }

        /// <summary>
        /// Reads a string value as <see cref="ParseTimestamp"/> would from its text, through a buffer on the
        /// stack rather than a string. Returns null when there was none, it is not a string, or it does not parse.
        /// </summary>
        public DateTimeOffset? ReadTimestamp(ReadOnlySequence<byte> body, int maxDepth)
        {
            if (Length == 0)
            {
                return null;
            }

            var reader = ReaderAtValue(body, maxDepth);
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
        /// Creates a reader over the value alone, positioned on its first token. It takes the body's depth
        /// limit, since a value that is skipped may be nested as deep as the body allows.
        /// </summary>
        private Utf8JsonReader ReaderAtValue(ReadOnlySequence<byte> body, int maxDepth)
        {
            var reader = new Utf8JsonReader(body.Slice(Start, Length), new JsonReaderOptions { MaxDepth = maxDepth });
            reader.Read();
            return reader;
        }
    }

    private static void ReadToEnd(ref Utf8JsonReader reader)
    {
        reader.Skip();
        while (reader.Read())
        {
        }
    }

    /// <summary>
    /// Applies what the envelope gives every event: its <c>context.traits</c> under each identify's own
    /// traits, its <c>context.page.url</c> to pages without a URL, and the body's write key.
    /// </summary>
    private static void ApplyEnvelope(List<SegmentEvent> events, ReadOnlySequence<byte> body, int maxDepth, ValueRange envelopeContext, string? bodyWriteKey)
    {
        // Parsed once into a document of their own, which every identify refers to.
        var envelopeTraits = envelopeContext.Property(body, maxDepth, "traits"u8).ParseObject(body, maxDepth);
        var envelopeUrl = PageUrlOf(body, maxDepth, envelopeContext);
        if (envelopeTraits is null && envelopeUrl is null && bodyWriteKey is null)
        {
            return;
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
    }

    /// <summary>Returns <paramref name="envelope"/>'s values overridden by the event's own traits.</summary>
    private static List<KeyValuePair<string, JsonElement>> UnderTraits(JsonElement envelope, IReadOnlyList<KeyValuePair<string, JsonElement>> own)
    {
        var merged = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        AddValues(merged, envelope);
        foreach (var (key, value) in own)
        {
            merged[key] = value;
        }

        return [.. merged];
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

    /// <summary>Returns the values of <paramref name="first"/> overridden by those of <paramref name="second"/>.</summary>
    private static List<KeyValuePair<string, JsonElement>> MergeValues(JsonElement first, JsonElement second)
    {
        var merged = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        AddValues(merged, first);
        AddValues(merged, second);
        return [.. merged];
    }

    /// <summary>
    /// Returns the values of one traits object in document order, as <see cref="MergeValues"/> would,
    /// without the dictionary that most identifies (one traits object, no repeated names) do not need.
    /// A repeated name, or more than 32 names, falls back to the dictionary, where the last value wins.
    /// </summary>
    private static List<KeyValuePair<string, JsonElement>> ListValues(JsonElement traits)
    {
        if (traits.ValueKind != JsonValueKind.Object)
        {
            return [];
        }

        var values = new List<KeyValuePair<string, JsonElement>>(traits.GetPropertyCount());
        foreach (var property in traits.EnumerateObject())
        {
            var name = property.Name;
            if (values.Count >= 32 || ContainsName(values, name))
            {
                return MergeValues(default, traits);
            }

            values.Add(new KeyValuePair<string, JsonElement>(name, property.Value));
        }

        return values;
    }

    private static bool ContainsName(List<KeyValuePair<string, JsonElement>> values, string name)
    {
        foreach (var value in values)
        {
            if (string.Equals(value.Key, name, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static void AddValues(Dictionary<string, JsonElement> merged, JsonElement traits)
    {
        if (traits.ValueKind != JsonValueKind.Object)
        {
            return;
        }

        foreach (var property in traits.EnumerateObject())
        {
            merged[property.Name] = property.Value;
        }
    }

    /// <summary>Returns <c>page.url</c> of the context object at <paramref name="context"/> when it is a non-empty string, else null.</summary>
    private static string? PageUrlOf(ReadOnlySequence<byte> body, int maxDepth, ValueRange context) =>
        NonEmpty(context.Property(body, maxDepth, "page"u8).Property(body, maxDepth, "url"u8).ReadString(body, maxDepth));

    private static string? NonEmpty(string? text) => string.IsNullOrEmpty(text) ? null : text;

    private static DateTimeOffset? ParseTimestamp(string? text) =>
        text is not null && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed)
            ? parsed
            : null;
}
