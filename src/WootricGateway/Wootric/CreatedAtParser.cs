using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using WootricGateway.Segment;

namespace WootricGateway.Wootric;

/// <summary>
/// Turns the date forms Segment clients send into unix seconds, rounded to the nearest second:
/// ISO-8601 with or without fraction or offset (no offset means UTC), date-only, JavaScript
/// <c>Date.toString()</c> and <c>toUTCString()</c> text, epoch seconds and epoch milliseconds (a value
/// of 10^11 or more is milliseconds). A sign-up time must fall after the epoch and before year 10000:
/// 0, a common placeholder for "unknown", would tell Wootric the user signed up in 1970.
/// </summary>
public static partial class CreatedAtParser
{
    private const double MillisecondsThreshold = 1e11;

    /// <summary>9999-12-31T23:59:59Z, the last second a <see cref="DateTimeOffset"/> holds.</summary>
    internal const long MaxUnixSeconds = 253_402_300_799;

    private static readonly string[] IsoFormats =
    [
        "yyyy-MM-dd",
        "yyyy-MM-ddTHH:mm",
        "yyyy-MM-ddTHH:mm:ss",
        "yyyy-MM-ddTHH:mm:ss.FFFFFFF",
        "yyyy-MM-ddTHH:mmK",
        "yyyy-MM-ddTHH:mm:ssK",
        "yyyy-MM-ddTHH:mm:ss.FFFFFFFK",
        "yyyy-MM-dd HH:mm:ss",
        "yyyy-MM-dd HH:mm:ss.FFFFFFF",
        "yyyy-MM-dd HH:mm:ssK",
        "yyyy-MM-dd HH:mm:ss.FFFFFFFK",
        "yyyy-MM-dd HH:mm:ss zzz",
    ];

    /// <summary>Parses a JSON string or number; returns false for anything else or an unparseable value.</summary>
    public static bool TryParse(TraitValue value, out long unixSeconds)
    {
        unixSeconds = 0;
        return value.ValueKind switch
        {
            JsonValueKind.Number => value.TryGetDouble(out var number) && TryFromNumber(number, out unixSeconds),
            JsonValueKind.String => TryParse(value.GetString(), out unixSeconds),
            _ => false,
        };
    }

    /// <summary>Parses date text or digits; returns false when the value is not a date.</summary>
    public static bool TryParse(string? text, out long unixSeconds)
    {
        unixSeconds = 0;
        text = text?.Trim();
        if (string.IsNullOrEmpty(text) || text.Length > 100)
        {
            return false;
        }

        if (NumericPattern().IsMatch(text))
        {
            return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
                && TryFromNumber(number, out unixSeconds);
        }

        if (TryParseIso(text, out var date) || TryParseJavaScriptText(text, out date))
        {
            unixSeconds = RoundToSeconds(date);
            return IsSignUpTime(unixSeconds);
        }

        return false;
    }

    /// <summary>
    /// Parses ISO-8601 text (full date first); used for the <c>_date</c> property rule, which must not
    /// take plain numbers or free text for dates.
    /// </summary>
    public static bool TryParseIso(string text, out DateTimeOffset value)
    {
        text = Normalize(text);

        // Nearly every date comes in the form clients write, which is read without the format list.
        if (IsoTimestamp.TryParse(text.AsSpan(), out var common))
        {
            value = common.ToUniversalTime();
            return true;
        }

        return TryParseNormalizedFormats(text, out value);
    }

    /// <summary>Parses ISO-8601 text against the format list alone: what <see cref="TryParseIso"/> gives for any text.</summary>
    internal static bool TryParseIsoFormats(string text, out DateTimeOffset value) =>
        TryParseNormalizedFormats(Normalize(text), out value);

    private static bool TryParseNormalizedFormats(string text, out DateTimeOffset value)
    {
        value = default;
        if (text.Length < 10 || text.Length > 64 || !char.IsAsciiDigit(text[0]))
        {
            return false;
        }

        // .NET reads at most 7 fraction digits; Go sends up to 9, which add nothing at second precision.
        var trimmed = LongFractionPattern().Replace(text, "$1");
        return DateTimeOffset.TryParseExact(
            trimmed,
            IsoFormats,
            CultureInfo.InvariantCulture,
            DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal,
            out value);
    }

    private static bool TryFromNumber(double number, out long unixSeconds)
    {
        unixSeconds = 0;
        if (double.IsNaN(number) || double.IsInfinity(number))
        {
            return false;
        }

        // The range is checked after rounding, as for dates; the first check only keeps the cast in range.
        var seconds = Math.Abs(number) >= MillisecondsThreshold ? number / 1000 : number;
        if (Math.Abs(seconds) > MaxUnixSeconds + 1)
        {
            return false;
        }

        unixSeconds = (long)Math.Round(seconds, MidpointRounding.AwayFromZero);
        return IsSignUpTime(unixSeconds);
    }

    /// <summary>Checks that a sign-up time lies after the epoch and no later than year 9999, whatever form it came in.</summary>
    private static bool IsSignUpTime(long unixSeconds) => unixSeconds is > 0 and <= MaxUnixSeconds;

    /// <summary>
    /// Trims the text and upper-cases the <c>t</c> and <c>z</c> that RFC 3339 allows in lower case,
    /// because the formats and the common-form reader take only <c>T</c> and <c>Z</c>.
    /// </summary>
    private static string Normalize(string text)
    {
        // Only text that could be a date is copied: every string trait passes through here.
        var trimmed = text.Trim();
        return trimmed.Length < 10 || !char.IsAsciiDigit(trimmed[0]) || trimmed.AsSpan().IndexOfAny('t', 'z') < 0
            ? trimmed
            : trimmed.ToUpperInvariant();
    }

    /// <summary>Reads <c>Thu Mar 24 2016 17:46:45 GMT+0000 (UTC)</c> and <c>Thu, 24 Mar 2016 17:46:45 GMT</c>.</summary>
    private static bool TryParseJavaScriptText(string text, out DateTimeOffset value)
    {
        value = default;
        var match = JavaScriptDatePattern().Match(text);
        if (match.Success)
        {
            var composed = string.Create(
                CultureInfo.InvariantCulture,
                $"{match.Groups["month"].Value} {match.Groups["day"].Value} {match.Groups["year"].Value} {match.Groups["time"].Value} {match.Groups["offset"].Value.Insert(3, ":")}");
            return DateTimeOffset.TryParseExact(composed, "MMM d yyyy HH:mm:ss zzz", CultureInfo.InvariantCulture, DateTimeStyles.None, out value);
        }

        return DateTimeOffset.TryParseExact(text, "r", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out value);
    }

    /// <summary>
    /// Rounds to unix seconds, halves away from zero, in whole ticks: a double holds only
    /// about 16 digits, so <c>.4999999</c> of a second in 2024 would become <c>.5</c> and round up.
    /// </summary>
    public static long RoundToSeconds(DateTimeOffset value)
    {
        var ticks = value.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
        var seconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out var remainder);
        if (Math.Abs(remainder) * 2 >= TimeSpan.TicksPerSecond)
        {
            seconds += Math.Sign(remainder);
        }

        return seconds;
    }

    [GeneratedRegex(@"(\.\d{7})\d+", RegexOptions.CultureInvariant)]
    private static partial Regex LongFractionPattern();

    [GeneratedRegex(@"^[+-]?\d+(\.\d+)?$", RegexOptions.CultureInvariant)]
    private static partial Regex NumericPattern();

    [GeneratedRegex(
        @"^(?:[A-Za-z]{3},? )?(?<month>[A-Za-z]{3}) (?<day>\d{1,2}) (?<year>\d{4}) (?<time>\d{2}:\d{2}:\d{2}) GMT(?<offset>[+-]\d{4})(?: \(.*\))?$",
        RegexOptions.CultureInvariant)]
    private static partial Regex JavaScriptDatePattern();
}
