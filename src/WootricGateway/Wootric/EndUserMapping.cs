using System.Buffers;
using System.Globalization;
using System.Text.Json;
using WootricGateway.Segment;

namespace WootricGateway.Wootric;

/// <summary>The changes one identify requests on a Wootric end user.</summary>
public sealed record IdentifyChange(
    string? Email,
    string? PhoneNumber,
    long? ExternalCreatedAt,
    IReadOnlyDictionary<string, string> Properties,
    bool CreatedAtDropped);

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
        var properties = new Dictionary<string, string>(StringComparer.Ordinal);

        foreach (var (key, value) in traits)
        {
            switch (key)
            {
                case "email":
                    // Only text can be an address. A number or boolean here is a client bug, not an email.
                    if (value.ValueKind is JsonValueKind.String && NonBlank(value.GetString()) is { } address)
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

            AddProperty(properties, SanitizeKey(key), value, depth: 0);
        }

        return new IdentifyChange(email, phone, createdAt, properties, createdAtDropped);
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

    private static void AddProperty(Dictionary<string, string> properties, string key, TraitValue value, int depth)
    {
        switch (value.ValueKind)
        {
            case JsonValueKind.Null or JsonValueKind.Undefined:
                // A null trait deletes nothing in Wootric, so it is simply not sent.
                return;
            case JsonValueKind.Object when depth < MaxFlattenDepth:
                foreach (var (name, child) in value.EnumerateObject())
                {
                    AddProperty(properties, key + "_" + SanitizeKey(name), child, depth + 1);
                }

                return;
            case JsonValueKind.Array:
                properties[key] = JoinArray(value);
                return;
            case JsonValueKind.String:
                var text = value.GetString() ?? string.Empty;
                if (CreatedAtParser.TryParseIso(text, out var date))
                {
                    // Rounded as createdAt is, so a date sent both ways gives the same second.
                    var dateKey = key.EndsWith("_date", StringComparison.Ordinal) ? key : key + "_date";
                    properties[dateKey] = CreatedAtParser.RoundToSeconds(date).ToString(CultureInfo.InvariantCulture);
                    return;
                }

                properties[key] = text;
                return;
            default:
                properties[key] = ScalarText(value) ?? value.GetRawText();
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
}
