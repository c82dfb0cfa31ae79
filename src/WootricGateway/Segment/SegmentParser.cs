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

/// <summary>An event the parser read but did not emit, with the reason (a metric label).</summary>
public readonly record struct SkippedEvent(SegmentEventType Type, string Reason);

/// <summary>The result of parsing one body.</summary>
public sealed record ParseResult(BodyOutcome Outcome, TappedBatch? Batch, IReadOnlyList<SkippedEvent> Skipped);

/// <summary>
/// Reads Segment Tracking API bodies (single events and batch envelopes) into typed identify and
/// page events. A pure function of its inputs: no I/O, no clock, no exceptions for bad input.
/// </summary>
public static class SegmentParser
{
    private static readonly System.Text.UTF8Encoding StrictUtf8 = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

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

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = maxDepth });
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

        using (document)
        {
            // JsonElement.GetString throws on an unpaired surrogate escape, and strings are read here and
            // again when traits are mapped, so such a body is skipped whole before any string is read.
            if (!HasOnlyPairedSurrogateEscapes(body))
            {
                return new ParseResult(BodyOutcome.UnpairedSurrogateEscape, null, []);
            }

            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return new ParseResult(BodyOutcome.NotAnObject, null, []);
            }

            var writeKey = headerWriteKey ?? GetString(root, "writeKey");
            var events = new List<SegmentEvent>();
            var skipped = new List<SkippedEvent>();

            if (route.Kind == SegmentRouteKind.Batch)
            {
                if (!root.TryGetProperty("batch", out var batch) || batch.ValueKind != JsonValueKind.Array)
                {
                    return new ParseResult(BodyOutcome.MissingBatch, null, []);
                }

                root.TryGetProperty("context", out var envelopeContext);

                // Cloned once per batch: every identify in it refers to these values after the document is disposed.
                var envelopeTraits = TraitsOf(envelopeContext)?.Clone() ?? default;
                foreach (var item in batch.EnumerateArray())
                {
                    ReadEvent(item, impliedType: null, envelopeContext, envelopeTraits, writeKey, events, skipped);
                }
            }
            else
            {
                ReadEvent(root, route.ImpliedType, default, default, writeKey, events, skipped);
            }

            return new ParseResult(BodyOutcome.Parsed, new TappedBatch(writeKey, events, receivedAt), skipped);
        }
    }

    private static bool IsValidUtf8(ReadOnlySequence<byte> body)
    {
        if (body.IsSingleSegment)
        {
            return System.Text.Unicode.Utf8.IsValid(body.FirstSpan);
        }

        var decoder = StrictUtf8.GetDecoder();
        Span<char> chars = stackalloc char[1024];
        try
        {
            foreach (var segment in body)
            {
                var bytes = segment.Span;
                while (!bytes.IsEmpty)
                {
                    decoder.Convert(bytes, chars, flush: false, out var used, out _, out _);
                    bytes = bytes[used..];
                }
            }

            decoder.Convert([], chars, flush: true, out _, out _, out _);
            return true;
        }
        catch (System.Text.DecoderFallbackException)
        {
            return false;
        }
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

    private static void ReadEvent(
        JsonElement item,
        SegmentEventType? impliedType,
        JsonElement envelopeContext,
        JsonElement envelopeTraits,
        string? writeKey,
        List<SegmentEvent> events,
        List<SkippedEvent> skipped)
    {
        if (item.ValueKind != JsonValueKind.Object)
        {
            skipped.Add(new SkippedEvent(SegmentEventType.Other, "not_an_object"));
            return;
        }

        SegmentEventType type;
        if (item.TryGetProperty("type", out var typeElement) && typeElement.ValueKind != JsonValueKind.Null)
        {
            if (typeElement.ValueKind != JsonValueKind.String)
            {
                skipped.Add(new SkippedEvent(impliedType ?? SegmentEventType.Other, "invalid_type"));
                return;
            }

            type = SegmentEventTypes.FromName(typeElement.GetString());
        }
        else if (impliedType is { } fromPath)
        {
            type = fromPath;
        }
        else
        {
            skipped.Add(new SkippedEvent(SegmentEventType.Other, "missing_type"));
            return;
        }

        if (type is not (SegmentEventType.Identify or SegmentEventType.Page))
        {
            skipped.Add(new SkippedEvent(type, "unsupported_type"));
            return;
        }

        item.TryGetProperty("context", out var context);
        var userId = GetId(item, "userId");
        var anonymousId = GetId(item, "anonymousId");
        var messageId = GetString(item, "messageId");
        var timestamp = GetTimestamp(item, "timestamp");

        if (type == SegmentEventType.Identify)
        {
            events.Add(new IdentifyEvent
            {
                WriteKey = writeKey,
                MessageId = messageId,
                UserId = userId,
                AnonymousId = anonymousId,
                Timestamp = timestamp,
                Traits = MergeTraits(item, context, envelopeTraits),
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
            Url = GetPageUrl(item, context, envelopeContext),
            Name = GetString(item, "name"),
        });
    }

    /// <summary>
    /// Merges envelope <c>context.traits</c>, event <c>context.traits</c> and <c>traits</c>; later wins.
    /// Each traits object is cloned once, so the values outlive the pooled document without a clone each.
    /// </summary>
    private static List<KeyValuePair<string, JsonElement>> MergeTraits(
        JsonElement item,
        JsonElement context,
        JsonElement envelopeTraits)
    {
        var merged = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        AddValues(merged, envelopeTraits);
        AddValues(merged, TraitsOf(context)?.Clone() ?? default);
        AddValues(merged, TraitsOf(item)?.Clone() ?? default);
        return [.. merged];
    }

    /// <summary>Returns the <c>traits</c> object of <paramref name="owner"/>, or null when it has none.</summary>
    private static JsonElement? TraitsOf(JsonElement owner) =>
        owner.ValueKind == JsonValueKind.Object
            && owner.TryGetProperty("traits", out var traits)
            && traits.ValueKind == JsonValueKind.Object
            ? traits
            : null;

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

    private static string? GetPageUrl(JsonElement item, JsonElement context, JsonElement envelopeContext)
    {
        if (item.TryGetProperty("properties", out var properties)
            && properties.ValueKind == JsonValueKind.Object
            && GetString(properties, "url") is { Length: > 0 } url)
        {
            return url;
        }

        foreach (var candidate in (ReadOnlySpan<JsonElement>)[context, envelopeContext])
        {
            if (candidate.ValueKind == JsonValueKind.Object
                && candidate.TryGetProperty("page", out var page)
                && page.ValueKind == JsonValueKind.Object
                && GetString(page, "url") is { Length: > 0 } contextUrl)
            {
                return contextUrl;
            }
        }

        return null;
    }

    private static string? GetString(JsonElement owner, string name) =>
        owner.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;

    /// <summary>Reads an id that may be a string or a number; numbers keep their decimal text.</summary>
    private static string? GetId(JsonElement owner, string name)
    {
        if (!owner.TryGetProperty(name, out var value))
        {
            return null;
        }

        var text = value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Number => NumberText(value),
            _ => null,
        };
        return string.IsNullOrWhiteSpace(text) ? null : text;
    }

    private static string NumberText(JsonElement number) =>
        number.TryGetInt64(out var whole) ? whole.ToString(CultureInfo.InvariantCulture) : number.GetRawText();

    private static DateTimeOffset? GetTimestamp(JsonElement owner, string name)
    {
        var text = GetString(owner, name);
        return text is not null
            && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed)
            ? parsed
            : null;
    }
}
