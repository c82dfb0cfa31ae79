using System.Globalization;
using WootricGateway.Segment;
using WootricGateway.Wootric;

namespace WootricGateway.Tests.Wootric;

public sealed class CreatedAtParserTests
{
    public static TheoryData<string, long?> Cases => new()
    {
        // ISO-8601 with milliseconds rounds to the nearest second.
        { "\"2023-03-14T09:26:53.989Z\"", 1678786014 },
        { "\"2023-03-14T09:26:53.400Z\"", 1678786013 },
        { "\"2023-03-14T09:26:53Z\"", 1678786013 },
        { "\"2023-03-14T11:26:53+02:00\"", 1678786013 },
        { "\"2023-03-14T09:26:53.123456+00:00\"", 1678786013 },
        { "\"2023-03-14T09:26:53.123456789Z\"", 1678786013 },
        // Seven fraction digits (.NET's "o" format) round on whole ticks, not on a double.
        { "\"2024-01-15T11:20:30.4999999+01:00\"", 1705314030 },
        { "\"2024-01-15T10:20:30.5000000Z\"", 1705314031 },
        { "\"1970-01-01T00:00:00.5000000Z\"", 1 },
        { "\"1970-01-01T00:00:01.4999999Z\"", 1 },
        // RFC 3339 allows lower-case t and z; padding is trimmed.
        { "\"2023-03-14t09:26:53.989z\"", 1678786014 },
        { "\" 2023-03-14T09:26:53Z \"", 1678786013 },
        // A sign-up time lies after the epoch and no later than 9999-12-31T23:59:59Z, however it rounds.
        { "\"1970-01-01T00:00:00.4999999Z\"", null },
        { "\"1969-12-31T23:59:59.5000001Z\"", null },
        { "\"1969-07-20\"", null },
        { "\"9999-12-31T23:59:59Z\"", 253402300799 },
        { "\"9999-12-31T23:59:59.4999999Z\"", 253402300799 },
        { "\"9999-12-31T23:59:59.5000000Z\"", null },
        { "253402300799000", 253402300799 },
        { "253402300799600", null },
        { "253402300799499", 253402300799 },
        { "\"" + new string(' ', 91) + "2024-06-01\"", 1717200000 },
        { "0", null },
        { "0.4", null },
        { "0.5", 1 },
        { "-1678786013", null },
        { "\"0\"", null },
        { "\"-1678786013\"", null },
        // No zone means UTC.
        { "\"2024-01-01T10:00:00\"", 1704103200 },
        { "\"2023-03-14\"", 1678752000 },
        { "\"Thu Mar 24 2016 17:46:45 GMT+0000 (UTC)\"", 1458841605 },
        { "\"Thu Mar 24 2016 19:46:45 GMT+0200 (Central European Summer Time)\"", 1458841605 },
        { "\"Thu, 24 Mar 2016 17:46:45 GMT\"", 1458841605 },
        { "1678786013", 1678786013 },
        { "1678786013989", 1678786014 },
        { "1678786013.5", 1678786014 },
        { "\"1678786013\"", 1678786013 },
        { "\"1420099200000\"", 1420099200 },
        { "\"sometime last spring\"", null },
        { "\"\"", null },
        { "true", null },
        { "{\"a\":1}", null },
        { "1e300", null },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void TryParse_ReadsEveryForm(string json, long? expected)
    {
        var parsed = CreatedAtParser.TryParse(TraitValue.Parse(json), out var seconds);

        Assert.Equal(expected is not null, parsed);
        if (expected is { } value)
        {
            Assert.Equal(value, seconds);
        }
    }
    /// <summary>
    /// The reader for the common form gives what the format list gives, for every text: the same
    /// result and the same instant in UTC.
    /// </summary>
    [Fact]
    public void TryParseIso_MatchesFormatList()
    {
        var random = new Random(20261205);
        string[] zones = ["Z", "Z", "", "+00:00", "-00:00", "+02:00", "-05:00", "+05:30", "-12:45", "+14:00", "-14:00", "+14:01", "+15:00", "+02:60", "+0200", "z", " "];
        string[] separators = ["T", "T", "T", " ", "t"];
        var common = 0;
        for (var i = 0; i < 20_000; i++)
        {
            var fraction = random.Next(3) switch
            {
                0 => "",
                1 => "." + random.Next(0, 1000).ToString("D3", CultureInfo.InvariantCulture),
                _ => "." + new string('7', random.Next(0, 10)),
            };
            var year = random.Next(4) == 0 ? random.Next(0, 2) * 9998 + 1 : random.Next(0, 10000);
            var text = $"{year:D4}-{random.Next(0, 14):D2}-{random.Next(0, 33):D2}{separators[random.Next(separators.Length)]}"
                + $"{random.Next(0, 26):D2}:{random.Next(0, 61):D2}:{random.Next(0, 62):D2}{fraction}{zones[random.Next(zones.Length)]}";

            var expected = CreatedAtParser.TryParseIsoFormats(text, out var expectedValue);
            Assert.Equal(expected, CreatedAtParser.TryParseIso(text, out var value));
            Assert.Equal(expectedValue.UtcTicks, value.UtcTicks);
            Assert.Equal(expectedValue.Offset, value.Offset);
            if (IsoTimestamp.TryParse(text.AsSpan(), out _))
            {
                common++;
            }
        }

        // The common form must occur often, or the comparison above tests little of it.
        Assert.InRange(common, 1_000, 19_000);
    }
}
