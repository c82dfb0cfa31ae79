using System.Text.Json;
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
        { "\"1969-12-31T23:59:59.4999999Z\"", -1 },
        { "\"1969-12-31T23:59:59.5000001Z\"", 0 },
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
        using var document = JsonDocument.Parse(json);

        var parsed = CreatedAtParser.TryParse(document.RootElement, out var seconds);

        Assert.Equal(expected is not null, parsed);
        if (expected is { } value)
        {
            Assert.Equal(value, seconds);
        }
    }
}
