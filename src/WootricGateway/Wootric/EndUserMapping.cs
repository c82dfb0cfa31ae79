using System.Buffers;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using WootricGateway.Segment;

namespace WootricGateway.Wootric;

/// <summary>The changes one identify requests on a Wootric end user.</summary>
public sealed record IdentifyChange(
    string? Email,
    string? PhoneNumber,
    long? ExternalCreatedAt,
    IReadOnlyDictionary<string, string> Properties,
    bool CreatedAtDropped,
    int PropertiesDropped = 0);

/// <summary>
/// Maps Segment identify traits to Wootric end-user fields. Pure functions: the same traits always
/// give the same change.
/// </summary>
public static class EndUserMapping
{
    /// <summary>Property key for the time of the latest page visit (unix seconds).</summary>
    public const string LastSeenDateKey = "last_seen_date";

    /// <summary>Property key for the URL of the latest page visit.</summary>
    public const string LastPageUrlKey = "last_page_url";

    private const int MaxFlattenDepth = 8;

    /// <summary>
    /// The maximum length of a property name that is sent. Flattening repeats a parent's name in every child's name, so a long
    /// name over many members would otherwise cost its length once per member.
    /// NOTE: Wootric publishes no limit on property names, so this one is the gateway's own.
    /// </summary>
    public const int MaxPropertyKeyLength = 255;

    /// <summary>
    /// The maximum number of characters, names and values together, that one identify's properties may take: eight times
    /// Segment's 32 KB limit on one event, so that one request cannot make a user's stored state huge.
    /// </summary>
    public const int MaxPropertyCharacters = 256 * 1024;

    /// <summary>What <see cref="SanitizeKey"/> replaces with <c>_</c>.</summary>
    private static readonly SearchValues<char> ForbiddenKeyCharacters = SearchValues.Create("$.\0[]");

    /// <summary>Traits that are fields of their own, identities, or must never be sent as properties.</summary>
    private static readonly HashSet<string> ReservedTraits = new(StringComparer.Ordinal)
    {
        "email", "phone", "createdAt", "created_at", "created", "id", "userId", "anonymousId",
        "last_surveyed", "writeKey", "external_id", "external_created_at", "phone_number",
    };

    /// <summary>Maps the merged traits of an identify.</summary>
    public static IdentifyChange MapIdentify(IReadOnlyList<KeyValuePair<string, TraitValue>> traits)
    {
        string? email = null;
        string? phone = null;
        long? createdAt = null;
        var createdAtDropped = false;
        var properties = new PropertySet();

        foreach (var (key, value) in traits)
        {
            switch (key)
            {
                case "email":
                    // Only text can be an address. A number, a boolean or text with control characters (NUL,
                    // line breaks) is a client bug, and Wootric would reject the user's create with it.
                    if (value.ValueKind is JsonValueKind.String && NonBlank(value.GetString()) is { } address
                        && !address.AsSpan().ContainsAnyInRange('\0', '\u001F') && !address.Contains('\u007F'))
                    {
                        email = address;
                    }

                    continue;
                case "phone":
                    // Numbers are accepted because some clients store phone numbers as digits.
                    if (value.ValueKind is JsonValueKind.String or JsonValueKind.Number && NonBlank(ScalarText(value)) is { } number)
                    {
                        phone = number;
                    }

                    continue;
                case "createdAt" or "created_at" or "created":
                    if (value.ValueKind is JsonValueKind.Null)
                    {
                        continue;
                    }

                    if (CreatedAtParser.TryParse(value, out var seconds))
                    {
                        createdAt = seconds;
                    }
                    else
                    {
                        createdAtDropped = true;
                    }

                    continue;
            }

            // A trait without a name has no property key, and form encoding would read properties[] as a list.
            if (key.Length == 0 || ReservedTraits.Contains(key))
            {
                continue;
            }

            if (key.Length > MaxPropertyKeyLength)
            {
                properties.Drop();
                continue;
            }

            // A name that cleaning left as it was has passed the reserved check above already.
            var cleaned = SanitizeKey(key);
            AddProperty(properties, cleaned, value, depth: 0, checkReserved: !ReferenceEquals(cleaned, key));
        }

        return new IdentifyChange(email, phone, createdAt, properties.Values, createdAtDropped, properties.Dropped);
    }

    /// <summary>
    /// Replaces the characters Wootric forbids in property keys (<c>$</c>, <c>.</c>, NUL) with <c>_</c>, and
    /// the brackets that form encoding reads as nesting: <c>properties[a[b]]</c> would not reach Wootric as
    /// the key <c>a[b]</c>.
    /// </summary>
    public static string SanitizeKey(string key)
    {
        if (key.AsSpan().IndexOfAny(ForbiddenKeyCharacters) < 0)
        {
            return key;
        }

        return string.Create(key.Length, key, static (destination, source) =>
        {
            source.AsSpan().CopyTo(destination);
            destination.ReplaceAny(ForbiddenKeyCharacters, '_');
        });
    }

    /// <summary>The trimmed text, or null when nothing is left.</summary>
    private static string? NonBlank(string? text) => string.IsNullOrWhiteSpace(text) ? null : text.Trim();

    private static void AddProperty(PropertySet properties, string key, TraitValue value, int depth, bool checkReserved = true)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Null or JsonValueKind.Undefined:
                // A null trait deletes nothing in Wootric, so it is simply not sent.
                return;
            case JsonValueKind.Object when depth < MaxFlattenDepth:
                foreach (var (name, child) in value.EnumerateObject())
                {
                    // Checked before the name is built, and the member's whole subtree is dropped as one.
                    if (key.Length + 1 + name.Length > MaxPropertyKeyLength)
                    {
                        properties.Drop();
                        continue;
                    }

                    AddProperty(properties, key + "_" + SanitizeKey(name), child, depth + 1);
                }

                return;
            case JsonValueKind.Array:
                properties.Add(key, JoinArray(value), checkReserved);
                return;
            case JsonValueKind.String:
                var text = value.GetString() ?? string.Empty;

                // Rounded as createdAt is, so a date sent both ways gives the same second. A date that
                // rounds past year 9999 stays text, as createdAt would drop it.
                if (CreatedAtParser.TryParseIso(text, out var date) && CreatedAtParser.RoundToSeconds(date) is var seconds
                    && seconds <= CreatedAtParser.MaxUnixSeconds)
                {
                    var dateKey = key.EndsWith("_date", StringComparison.Ordinal) ? key : key + "_date";
                    properties.Add(dateKey, seconds.ToString(CultureInfo.InvariantCulture), checkReserved: false);
                    return;
                }

                properties.Add(key, text, checkReserved);
                return;
            default:
                properties.Add(key, ScalarText(value) ?? value.GetRawText(), checkReserved);
                return;
        }
    }

    /// <summary>Joins an array of scalars with commas; an array holding objects or arrays becomes compact JSON text.</summary>
    private static string JoinArray(TraitValue array)
    {
        var parts = new List<string>();
        foreach (var item in array.EnumerateArray())
        {
            if (item.ValueKind is JsonValueKind.Object or JsonValueKind.Array)
            {
                return array.GetRawText();
            }

            if (ScalarText(item) is { } text)
            {
                parts.Add(text);
            }
        }

        return string.Join(',', parts);
    }

    /// <summary>Returns the text of a string, number or boolean; null for anything else.</summary>
    private static string? ScalarText(TraitValue value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number => value.TryGetInt64(out var whole) ? whole.ToString(CultureInfo.InvariantCulture) : value.GetRawText(),
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        _ => null,
    };

    /// <summary>
    /// One identify's properties under the name and size limits, with the number of properties dropped.
    /// Names that are fields or never sent are also left out once cleaning and flattening have made them
    /// (<c>last.surveyed</c> or <c>{"last":{"surveyed":…}}</c> both give <c>last_surveyed</c>).
    /// </summary>
    private sealed class PropertySet
    {
        private int _characters;

        public Dictionary<string, string> Values { get; } = new(StringComparer.Ordinal);

        public int Dropped { get; private set; }

        public void Drop() => Dropped++;

        /// <summary>
        /// Adds or replaces one property. <paramref name="checkReserved"/> is false only for a name that
        /// cannot be reserved: one already checked, or one ending in <c>_date</c>.
        /// </summary>
        public void Add(string key, string value, bool checkReserved)
        {
            if (checkReserved && ReservedTraits.Contains(key))
            {
                return;
            }

            if (key.Length > MaxPropertyKeyLength)
            {
                Dropped++;
                return;
            }

            // A repeated name replaces its value, which gives back the characters of the one it replaces.
            ref var slot = ref CollectionsMarshal.GetValueRefOrAddDefault(Values, key, out var exists);
            var characters = _characters + key.Length + value.Length - (exists ? key.Length + slot!.Length : 0);
            if (characters > MaxPropertyCharacters)
            {
                Dropped++;
                if (!exists)
                {
                    Values.Remove(key);
                }

                return;
            }

            _characters = characters;
            slot = value;
        }
    }
}
