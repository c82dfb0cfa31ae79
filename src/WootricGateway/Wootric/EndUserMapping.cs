using System.Globalization;
using System.Text;
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
                    email = ScalarText(value) is { Length: > 0 } text ? text.Trim() : email;
                    continue;
                case "phone":
                    phone = ScalarText(value) is { Length: > 0 } phoneText ? phoneText.Trim() : phone;
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

            if (ReservedTraits.Contains(key))
            {
                continue;
            }

            AddProperty(properties, SanitizeKey(key), value, depth: 0);
        }

        return new IdentifyChange(email, phone, createdAt, properties, createdAtDropped);
    }

    /// <summary>Replaces the characters Wootric forbids in property keys (<c>$</c>, <c>.</c>, NUL) with <c>_</c>.</summary>
    public static string SanitizeKey(string key)
    {
        if (key.AsSpan().IndexOfAny("$.\0") < 0)
        {
            return key;
        }

        var builder = new StringBuilder(key);
        builder.Replace('$', '_').Replace('.', '_').Replace('\0', '_');
        return builder.ToString();
    }

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
                    var dateKey = key.EndsWith("_date", StringComparison.Ordinal) ? key : key + "_date";
                    properties[dateKey] = date.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
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
