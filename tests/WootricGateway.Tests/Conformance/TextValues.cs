using System.Globalization;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace WootricGateway.Tests.Conformance;

/// <summary>
/// Compares values as text, because Wootric's form bodies carry strings: <c>12</c>, <c>"12"</c>
/// and <c>12.0</c> are equal, <c>true</c> equals <c>"true"</c>, but <c>1678786013.5</c> does not
/// equal <c>1678786014</c>. Null stands for an absent value.
/// </summary>
internal static partial class TextValues
{
    /// <summary>Compact JSON that keeps non-ASCII characters as they are.</summary>
    public static readonly JsonSerializerOptions CompactJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>
    /// Returns a JSON value as text: a string as itself, a number or boolean as its JSON text, an
    /// object or array as compact JSON, and null as null.
    /// </summary>
    public static string? ToText(JsonNode? node) => node switch
    {
        null => null,
        JsonValue value when value.GetValueKind() == JsonValueKind.String => value.GetValue<string>(),
        _ => node.ToJsonString(CompactJson),
    };

    /// <summary>
    /// Returns whether two texts are equal. Two texts in JSON number syntax compare as numbers.
    /// Anything else compares character by character, so <c>+1555</c> never equals <c>1555</c>.
    /// </summary>
    public static bool AreEqual(string? expected, string? actual)
    {
        if (expected is null || actual is null)
        {
            return expected is null && actual is null;
        }

        if (string.Equals(expected, actual, StringComparison.Ordinal))
        {
            return true;
        }

        if (!JsonNumberPattern().IsMatch(expected) || !JsonNumberPattern().IsMatch(actual))
        {
            return false;
        }

        if (decimal.TryParse(expected, NumberStyles.Float, CultureInfo.InvariantCulture, out var expectedNumber)
            && decimal.TryParse(actual, NumberStyles.Float, CultureInfo.InvariantCulture, out var actualNumber))
        {
            return expectedNumber == actualNumber;
        }

        // Beyond decimal's range: double is exact enough to tell such numbers apart here.
        return double.Parse(expected, CultureInfo.InvariantCulture) == double.Parse(actual, CultureInfo.InvariantCulture);
    }

    /// <summary>Returns the text quoted for a failure message, or "absent" for null.</summary>
    public static string Describe(string? text) => text is null ? "absent" : $"'{text}'";

    [GeneratedRegex(@"^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$")]
    private static partial Regex JsonNumberPattern();
}
