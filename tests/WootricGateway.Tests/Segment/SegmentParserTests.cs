using System.Buffers;
using System.Text;
using WootricGateway.Segment;
using WootricGateway.Wootric;

namespace WootricGateway.Tests.Segment;

public sealed class SegmentParserTests
{
    private static readonly DateTimeOffset ReceivedAt = new(2024, 5, 1, 12, 0, 0, TimeSpan.Zero);

    private static ParseResult Parse(string path, string body, string? headerWriteKey = null) =>
        SegmentParser.Parse(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(body)), SegmentRoutes.Classify(path), headerWriteKey, ReceivedAt);

    [Theory]
    [InlineData("/v1/identify", SegmentRouteKind.SingleEvent)]
    [InlineData("/v1/i", SegmentRouteKind.SingleEvent)]
    [InlineData("/v1/p", SegmentRouteKind.SingleEvent)]
    [InlineData("/v1/batch", SegmentRouteKind.Batch)]
    [InlineData("/v1/b", SegmentRouteKind.Batch)]
    [InlineData("/v1/import", SegmentRouteKind.Batch)]
    [InlineData("/v1/import/", SegmentRouteKind.Batch)]
    [InlineData("/v1/m", SegmentRouteKind.ClientMetrics)]
    [InlineData("/v1/batch/b", SegmentRouteKind.Other)]
    [InlineData("/v1/b/b", SegmentRouteKind.Other)]
    [InlineData("/v1/pixel/track", SegmentRouteKind.Other)]
    [InlineData("/V1/IDENTIFY", SegmentRouteKind.Other)]
    public void Classify_KnowsEveryPath(string path, SegmentRouteKind expected)
    {
        Assert.Equal(expected, SegmentRoutes.Classify(path).Kind);
    }

    [Theory]
    [InlineData("/segment/v1/i", "/segment", "/v1/i")]
    [InlineData("/segment/v1/i", "/segment/", "/v1/i")]
    [InlineData("/segments/v1/i", "/segment", "/segments/v1/i")]
    [InlineData("/v1/i", "/segment", "/v1/i")]
    public void RemovePrefix_OnlyWholeSegments(string path, string prefix, string expected)
    {
        var normalized = new WootricGateway.Hosting.GatewayOptions { PathPrefix = prefix }.NormalizedPathPrefix;

        Assert.Equal(expected, SegmentRoutes.RemovePrefix(path, normalized).ToString());
    }

    [Fact]
    public void Parse_SingleIdentifyInfersTypeFromPath()
    {
        var result = Parse("/v1/i", """{"userId":"u1","traits":{"email":"a@example.test"},"writeKey":"wk-body","messageId":"m1","timestamp":"2024-05-01T12:00:00Z"}""");

        Assert.Equal(BodyOutcome.Parsed, result.Outcome);
        var identify = Assert.IsType<IdentifyEvent>(Assert.Single(result.Batch!.Events));
        Assert.Equal("u1", identify.UserId);
        Assert.Equal("m1", identify.MessageId);
        Assert.Equal("wk-body", identify.WriteKey);
        Assert.Equal(ReceivedAt, identify.Timestamp);
        Assert.Equal("a@example.test", identify.Traits.Single(pair => pair.Key == "email").Value.GetString());
    }

    [Fact]
    public void Parse_HeaderWriteKeyWinsOverBody()
    {
        var result = Parse("/v1/identify", """{"userId":"u1","writeKey":"wk-body"}""", headerWriteKey: "wk-header");

        Assert.Equal("wk-header", result.Batch!.WriteKey);
    }

    [Fact]
    public void Parse_NumericUserIdBecomesText()
    {
        var result = Parse("/v1/identify", """{"userId":1016,"anonymousId":42}""");

        var identify = Assert.IsType<IdentifyEvent>(Assert.Single(result.Batch!.Events));
        Assert.Equal("1016", identify.UserId);
        Assert.Equal("42", identify.AnonymousId);
    }

    [Fact]
    public void Parse_BatchAppliesEnvelopeContextTraits()
    {
        var body = """
            {"context":{"traits":{"plan":"team","email":"envelope@example.test"}},
             "batch":[{"type":"identify","userId":"u1","traits":{"email":"alan@example.test"},
                       "context":{"traits":{"region":"emea"}}}]}
            """;

        var identify = Assert.IsType<IdentifyEvent>(Assert.Single(Parse("/v1/batch", body).Batch!.Events));
        var traits = identify.Traits.ToDictionary(pair => pair.Key, pair => pair.Value.GetString());

        Assert.Equal("alan@example.test", traits["email"]);
        Assert.Equal("team", traits["plan"]);
        Assert.Equal("emea", traits["region"]);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(40)]
    public void Parse_BatchTraitsRepeatedNameLastWins(int otherTraits)
    {
        var others = string.Concat(Enumerable.Range(0, otherTraits).Select(i => $",\"t{i}\":{i}"));
        var body = $$$"""
            {"batch":[{"type":"identify","userId":"u1","traits":{"plan":"free","email":"alan@example.test"{{{others}}},"plan":"team"}},
                      {"type":"identify","userId":"u2","traits":{"plan":"pro","email":"ida@example.test"{{{others}}}}}]}
            """;

        var events = Parse("/v1/batch", body).Batch!.Events.Cast<IdentifyEvent>().ToList();

        Assert.Equal(2, events.Count);
        Assert.Equal(["plan", "email", .. Enumerable.Range(0, otherTraits).Select(i => $"t{i}")], events[0].Traits.Select(pair => pair.Key));
        Assert.Equal("team", events[0].Traits[0].Value.GetString());
        Assert.Equal(["plan", "email", .. Enumerable.Range(0, otherTraits).Select(i => $"t{i}")], events[1].Traits.Select(pair => pair.Key));
        Assert.Equal("pro", events[1].Traits[0].Value.GetString());
    }

    /// <summary>
    /// The envelope's traits are listed once per batch: identifies without traits of their own share that
    /// list, so a large envelope is not read again for every event.
    /// </summary>
    [Fact]
    public void Parse_EnvelopeTraitsListedOnce()
    {
        var body = """
            {"batch":[{"type":"identify","userId":"u1"},{"type":"identify","userId":"u2"},{"type":"identify","userId":"u3","traits":{"plan":"pro"}}],
             "context":{"traits":{"plan":"free","plan":"team","email":"shared@example.test"}}}
            """;

        var events = Parse("/v1/batch", body).Batch!.Events.Cast<IdentifyEvent>().ToList();

        Assert.Same(events[0].Traits, events[1].Traits);
        Assert.Equal(["plan=team", "email=shared@example.test"], events[0].Traits.Select(pair => $"{pair.Key}={pair.Value}"));
        Assert.Equal(["email=shared@example.test", "plan=pro"], events[2].Traits.Select(pair => $"{pair.Key}={pair.Value}"));
    }

    /// <summary>
    /// The event's own traits come after the envelope's and its context's, so they win where the mapping
    /// turns two different names into one property key.
    /// </summary>
    [Theory]
    [InlineData("""{"batch":[{"type":"identify","userId":"u1","traits":{"a_b":"own","signup_date":"own"}}],"context":{"traits":{"a.b":"env","signup":"2024-01-01"}}}""")]
    [InlineData("""{"batch":[{"type":"identify","userId":"u1","traits":{"a_b":"own","signup_date":"own"},"context":{"traits":{"a.b":"ctx","signup":"2024-01-01"}}}]}""")]
    public void Parse_OwnTraitsWinAfterCleaning(string body)
    {
        var identify = Assert.IsType<IdentifyEvent>(Assert.Single(Parse("/v1/batch", body).Batch!.Events));

        var properties = EndUserMapping.MapIdentify(identify.Traits).Properties;

        Assert.Equal("own", properties["a_b"]);
        Assert.Equal("own", properties["signup_date"]);
    }

    /// <summary>
    /// Envelope traits are applied while their size times the number of identifies stays within the budget,
    /// and left out above it, so one request cannot make thousands of users carry a large shared value.
    /// </summary>
    [Theory]
    [InlineData(100, false)]
    [InlineData(1_000, true)]
    public void Parse_EnvelopeTraitsBudget(int identifies, bool ignored)
    {
        var bigValue = new string('x', 20_000);
        var items = string.Join(',', Enumerable.Range(0, identifies).Select(i => $$$"""{"type":"identify","userId":"u{{{i}}}","traits":{"plan":"pro"}}"""));
        var body = $$$$"""
            {"batch":[{{{{items}}}},{"type":"page","userId":"u0"}],
             "context":{"traits":{"notes":"{{{{bigValue}}}}","email":"shared@example.test"},"page":{"url":"https://a.test/env"}}}
            """;
        Assert.Equal(ignored, 20_000L * identifies > SegmentParser.MaxEnvelopeTraitsBytes);

        var result = Parse("/v1/batch", body);
        var events = result.Batch!.Events;

        Assert.Equal(ignored, result.EnvelopeTraitsIgnored);
        Assert.Equal(identifies + 1, events.Count);
        var expectedTraits = ignored ? new[] { "plan" } : ["notes", "email", "plan"];
        Assert.All(events.OfType<IdentifyEvent>(), identify => Assert.Equal(expectedTraits, identify.Traits.Select(pair => pair.Key)));

        // The envelope's page URL does not depend on the traits budget.
        Assert.Equal("https://a.test/env", Assert.IsType<PageEvent>(events[^1]).Url);
    }

    [Fact]
    public void Parse_ContextTraitsFallback()
    {
        var body = """{"type":"identify","userId":"u1","traits":{},"context":{"traits":{"email":"ida@example.test"}}}""";

        var identify = Assert.IsType<IdentifyEvent>(Assert.Single(Parse("/v1/i", body).Batch!.Events));

        Assert.Equal("ida@example.test", identify.Traits.Single().Value.GetString());
    }

    [Fact]
    public void Parse_PageUrlFromPropertiesThenContext()
    {
        var body = """
            {"batch":[
              {"type":"page","userId":"u1","properties":{"url":"https://a.test/one"},"context":{"page":{"url":"https://a.test/ctx"}}},
              {"type":"page","userId":"u1","context":{"page":{"url":"https://a.test/ctx"}}},
              {"type":"page","userId":"u1"}]}
            """;

        var pages = Parse("/v1/batch", body).Batch!.Events.Cast<PageEvent>().ToList();

        Assert.Equal("https://a.test/one", pages[0].Url);
        Assert.Equal("https://a.test/ctx", pages[1].Url);
        Assert.Null(pages[2].Url);
    }

    /// <summary>The values taken from context and properties follow JsonDocument's rules: objects only, the last repeated name wins.</summary>
    [Theory]
    [InlineData("/v1/batch")]
    [InlineData("/v1/p")]
    public void Parse_PageUrlScanFollowsDocumentRules(string path)
    {
        string[] items =
        [
            """{"type":"page","userId":"u1","properties":{"url":""},"context":{"page":{"url":"https://a.test/ctx"}}}""",
            """{"type":"page","userId":"u1","properties":{"url":7,"x":{"url":"https://a.test/nested"}},"context":{"page":{"url":"https://a.test/ctx"}}}""",
            """{"type":"page","userId":"u1","properties":{"url":"https://a.test/first","url":"https://a.test/last"}}""",
            """{"type":"page","userId":"u1","context":{"page":{"url":"https://a.test/one"},"page":{"path":"/two"}}}""",
            """{"type":"page","userId":"u1","context":{"page":"https://a.test/text"}}""",
            """{"type":"page","userId":"u1","properties":["url"],"context":[{"page":{"url":"https://a.test/array"}}]}""",
            """{"type":"page","userId":"u1","properties":{"url":"https://a.test/\u00e9t\u00e9"},"context":null}""",
        ];
        string?[] expected = ["https://a.test/ctx", "https://a.test/ctx", "https://a.test/last", null, null, null, "https://a.test/été"];

        var urls = path == "/v1/batch"
            ? Parse(path, "{\"batch\":[" + string.Join(',', items) + "]}").Batch!.Events.Cast<PageEvent>().Select(page => page.Url)
            : items.Select(item => Assert.IsType<PageEvent>(Assert.Single(Parse(path, item).Batch!.Events)).Url);

        Assert.Equal(expected, urls);
    }

    [Theory]
    [InlineData("/v1/batch")]
    [InlineData("/v1/i")]
    public void Parse_ContextTraitsScanFollowsDocumentRules(string path)
    {
        string[] items =
        [
            """{"type":"identify","userId":"u1","context":{"traits":{"plan":"first"},"traits":{"plan":"last"}}}""",
            """{"type":"identify","userId":"u1","context":{"traits":["plan"]},"traits":{"seats":3}}""",
            """{"type":"identify","userId":"u1","context":{"ip":"203.0.113.1","nested":{"traits":{"plan":"nested"}}},"traits":"text"}""",
            """{"type":"identify","userId":"u1","context":{"traits":{"plan":"context","seats":1}},"traits":{"seats":2}}""",
        ];
        string[] expected = ["plan=last", "seats=3", "", "plan=context,seats=2"];

        var events = path == "/v1/batch"
            ? Parse(path, "{\"batch\":[" + string.Join(',', items) + "]}").Batch!.Events.Cast<IdentifyEvent>()
            : items.Select(item => Assert.IsType<IdentifyEvent>(Assert.Single(Parse(path, item).Batch!.Events)));

        Assert.Equal(expected, events.Select(identify => string.Join(',', identify.Traits.Select(pair => $"{pair.Key}={pair.Value}"))));
    }

    /// <summary>
    /// Timestamps are read without a string where they fit a stack buffer, and the usual UTC form without the
    /// general parser. The result must be what parsing the text gives.
    /// </summary>
    [Theory]
    [InlineData("\"2024-05-01T12:00:00.123Z\"")]
    [InlineData("\"2024-05-01T12:00:00\"")]
    [InlineData("\"2024-05-01T14:00:00+02:00\"")]
    [InlineData("\"\\u0032024-05-01T12:00:00Z\"")]
    [InlineData("\"Wed, 01 May 2024 12:00:00 GMT\"")]
    [InlineData("\"2024-05-01T12:00:00.1234567Z                                                   \"")]
    [InlineData("\"2024-05-01T12:00:00.12345678901234567890123456789012345678901234567890Z\"")]
    [InlineData("\"2024-05-01T12:00:00Z\"")]
    [InlineData("\"2024-02-29T23:59:59.9999999Z\"")]
    [InlineData("\"2023-02-29T12:00:00Z\"")]
    [InlineData("\"2024-05-01T24:00:00Z\"")]
    [InlineData("\"2024-05-01T12:00:60Z\"")]
    [InlineData("\"0000-01-01T00:00:00Z\"")]
    [InlineData("\"2024-05-01T12:00:00.Z\"")]
    [InlineData("\"2024-05-01T12:00:00.12345678Z\"")]
    [InlineData("\"2024-05-01t12:00:00Z\"")]
    [InlineData("\"2024-05-01T12:00:00z\"")]
    [InlineData("\"+024-05-01T12:00:00Z\"")]
    [InlineData("\"2024-05-01T12:00:00.000+00:00\"")]
    [InlineData("\"2024-05-01T12:00:00.123456-05:00\"")]
    [InlineData("\"0001-01-01T00:00:00+01:00\"")]
    [InlineData("\"9999-12-31T23:59:59-01:00\"")]
    [InlineData("\"2024-05-01T12:00:00+14:30\"")]
    [InlineData("\"yesterday\"")]
    [InlineData("\"\"")]
    [InlineData("1714564800")]
    [InlineData("null")]
    public void Parse_TimestampMatchesParsingTheText(string json)
    {
        var text = System.Text.Json.JsonSerializer.Deserialize<object>(json) is System.Text.Json.JsonElement { ValueKind: System.Text.Json.JsonValueKind.String } element
            ? element.GetString()
            : null;
        DateTimeOffset? expected = text is not null && DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var parsed)
            ? parsed
            : null;
        var item = "{\"type\":\"identify\",\"userId\":\"u1\",\"timestamp\":" + json + "}";

        var single = Assert.Single(Parse("/v1/identify", item).Batch!.Events);
        var batched = Assert.Single(Parse("/v1/batch", "{\"batch\":[" + item + "]}").Batch!.Events);

        Assert.Equal(expected, single.Timestamp);
        Assert.Equal(expected, batched.Timestamp);
    }

    /// <summary>Where the ISO 8601 reader accepts a text, it gives the value and offset the general parser gives.</summary>
    [Fact]
    public void IsoTimestamp_MatchesGeneralParser()
    {
        var random = new Random(20261205);
        string[] zones = ["Z", "Z", "+00:00", "-00:00", "+02:00", "-05:00", "+05:30", "-12:45", "+14:00", "-14:00", "+14:01", "+15:00", "+02:60", "+0200", "z"];
        var accepted = 0;
        for (var i = 0; i < 20_000; i++)
        {
            var fraction = random.Next(3) switch { 0 => "", 1 => "." + random.Next(0, 1000).ToString("D3", System.Globalization.CultureInfo.InvariantCulture), _ => "." + new string('7', random.Next(0, 9)) };
            var year = random.Next(4) == 0 ? random.Next(0, 2) * 9998 + 1 : random.Next(0, 10000);
            var text = $"{year:D4}-{random.Next(0, 14):D2}-{random.Next(0, 33):D2}T{random.Next(0, 26):D2}:{random.Next(0, 61):D2}:{random.Next(0, 62):D2}{fraction}{zones[random.Next(zones.Length)]}";

            var general = DateTimeOffset.TryParse(text, System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.AssumeUniversal, out var expected);
            var fromChars = IsoTimestamp.TryParse(text.AsSpan(), out var charValue);
            if (IsoTimestamp.TryParse<byte>(Encoding.ASCII.GetBytes(text), out var value))
            {
                Assert.True(fromChars, text);
                Assert.Equal(value.Ticks, charValue.Ticks);
                Assert.Equal(value.Offset, charValue.Offset);
                accepted++;
                Assert.True(general, text);
                Assert.Equal(expected, value);
                Assert.Equal(expected.Offset, value.Offset);
            }
            else
            {
                Assert.False(fromChars, text);
            }
        }

        Assert.InRange(accepted, 1_000, 19_000);
    }

    [Theory]
    [InlineData("""{"type":null,"userId":"u1"}""", "page", null)]
    [InlineData("""{"type":"page","userId":"u1","writeKey":7}""", "page", null)]
    [InlineData("""{"userId":"u1","writeKey":"wk-body","writeKey":"wk-last"}""", "page", null)]
    [InlineData("""{"type":7,"userId":"u1"}""", null, "Page/invalid_type")]
    [InlineData("""{"type":"track","userId":"u1"}""", null, "Track/unsupported_type")]
    [InlineData("""{"type":"identify","userId":"u1"}""", "identify", null)]
    public void Parse_SingleCallTypeAndWriteKey(string body, string? emitted, string? skipped)
    {
        var result = Parse("/v1/p", body);

        Assert.Equal(BodyOutcome.Parsed, result.Outcome);
        Assert.Equal(emitted, result.Batch!.Events.SingleOrDefault() switch { PageEvent => "page", IdentifyEvent => "identify", _ => null });
        Assert.Equal(skipped, result.Skipped.SingleOrDefault() is { Reason: not null } entry ? $"{entry.Type}/{entry.Reason}" : null);
        Assert.Equal(body.Contains("wk-last", StringComparison.Ordinal) ? "wk-last" : null, result.Batch.WriteKey);
    }

    [Fact]
    public void Parse_CountsSkippedTypes()
    {
        var body = """
            {"batch":[{"type":"track","event":"x"},{"type":7},{"userId":"no-type"},"text",{"type":"screen"},{"type":"identify","userId":"u1"}]}
            """;

        var result = Parse("/v1/batch", body);

        Assert.Single(result.Batch!.Events);
        Assert.Equal(
            ["unsupported_type", "invalid_type", "missing_type", "not_an_object", "unsupported_type"],
            result.Skipped.Select(skipped => skipped.Reason));
    }

    [Fact]
    public void Parse_CountsEachSkippedTypeAndReasonOnce()
    {
        var body = """
            {"batch":[{"type":"track"},{"type":"identify","userId":"u1"},{"type":"track"},1,{"type":"screen"},{"type":"track"},2,{"type":"page","userId":"u1"}]}
            """;

        var result = Parse("/v1/batch", body);

        Assert.Equal(2, result.Batch!.Events.Count);
        Assert.Equal(
            [
                new SkippedEvents(SegmentEventType.Track, "unsupported_type", 3),
                new SkippedEvents(SegmentEventType.Other, "not_an_object", 2),
                new SkippedEvents(SegmentEventType.Screen, "unsupported_type", 1),
            ],
            result.Skipped);
    }

    [Theory]
    [InlineData("/v1/identify", "{\"userId\":", BodyOutcome.InvalidJson)]
    [InlineData("/v1/identify", "", BodyOutcome.InvalidJson)]
    [InlineData("/v1/identify", "[1,2]", BodyOutcome.NotAnObject)]
    [InlineData("/v1/batch", "{\"batch\":{}}", BodyOutcome.MissingBatch)]
    [InlineData("/v1/batch", "{}", BodyOutcome.MissingBatch)]
    [InlineData("/v1/i", "{\"trait\\ud800s\":{\"email\":\"a@example.test\"},\"userId\":\"u1\"}", BodyOutcome.UnpairedSurrogateEscape)]
    [InlineData("/v1/identify", "{\"userId\":\"u1\",\"writeKe\\udc00y\":\"wk\"}", BodyOutcome.UnpairedSurrogateEscape)]
    [InlineData("/v1/p", "[\"\\ud800\"]", BodyOutcome.UnpairedSurrogateEscape)]
    [InlineData("/v1/i", "{\"typ\\ud800e\":\"page\",\"userId\":7,\"n", BodyOutcome.InvalidJson)]
    [InlineData("/v1/batch", "{\"bat\\ud800ch\":[]}", BodyOutcome.UnpairedSurrogateEscape)]
    public void Parse_BadBodiesReportOutcome(string path, string body, BodyOutcome expected)
    {
        var result = Parse(path, body);

        Assert.Equal(expected, result.Outcome);
        Assert.Null(result.Batch);
    }

    [Fact]
    public void Parse_TooDeepJsonHasItsOwnOutcome()
    {
        var body = "{\"userId\":\"u1\",\"traits\":" + string.Concat(Enumerable.Repeat("{\"a\":", 100)) + "1" + new string('}', 100) + "}";
        var batch = "{\"batch\":[{\"type\":\"page\",\"userId\":\"u1\"},{\"type\":\"identify\"," + body[1..] + "]}";

        Assert.Equal(BodyOutcome.TooDeep, Parse("/v1/identify", body).Outcome);
        Assert.Equal(BodyOutcome.TooDeep, Parse("/v1/batch", batch).Outcome);

        // Exactly at the limit is still read, and a malformed body stays invalid JSON.
        var atLimit = "{\"userId\":\"u1\",\"traits\":" + string.Concat(Enumerable.Repeat("{\"a\":", 63)) + "1" + new string('}', 63) + "}";
        Assert.Equal(BodyOutcome.Parsed, Parse("/v1/identify", atLimit).Outcome);
        Assert.Equal(BodyOutcome.InvalidJson, Parse("/v1/identify", atLimit[..^1]).Outcome);
    }

    /// <summary>A depth limit above the reader's default of 64 also holds for values read on their own.</summary>
    [Theory]
    [InlineData("userId")]
    [InlineData("messageId")]
    [InlineData("name")]
    [InlineData("timestamp")]
    [InlineData("writeKey")]
    public void Parse_DeepValueWithinRaisedLimit(string field)
    {
        var deep = string.Concat(Enumerable.Repeat("[", 97)) + new string(']', 97);
        var single = "{\"userId\":\"u1\",\"" + field + "\":" + deep + ",\"properties\":{\"url\":" + deep + "},\"context\":{\"page\":{\"url\":" + deep + "}}}";
        var batch = "{\"batch\":[{\"type\":\"page\",\"userId\":\"u1\",\"name\":\"ok\"},{\"type\":\"page\"," + single[1..] + "]}";

        var singleResult = SegmentParser.Parse(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(single)), SegmentRoutes.Classify("/v1/p"), null, ReceivedAt, maxDepth: 200);
        var batchResult = SegmentParser.Parse(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(batch)), SegmentRoutes.Classify("/v1/batch"), null, ReceivedAt, maxDepth: 200);

        Assert.Equal(BodyOutcome.Parsed, singleResult.Outcome);
        Assert.Null(Assert.IsType<PageEvent>(Assert.Single(singleResult.Batch!.Events)).Url);
        Assert.Equal(BodyOutcome.Parsed, batchResult.Outcome);
        Assert.Equal(2, batchResult.Batch!.Events.Count);
    }

    [Fact]
    public void Parse_InvalidUtf8IsInvalidJson()
    {
        var bytes = new byte[] { (byte)'{', (byte)'"', 0xC3, 0x28, (byte)'"', (byte)':', (byte)'1', (byte)'}' };

        var result = SegmentParser.Parse(new ReadOnlySequence<byte>(bytes), SegmentRoutes.Classify("/v1/identify"), null, ReceivedAt);

        Assert.Equal(BodyOutcome.InvalidUtf8, result.Outcome);
    }

    [Fact]
    public void Parse_InvalidUtf8AcrossSegmentsIsDetected()
    {
        using var buffer = new PooledSegmentBuffer(1 << 20);
        var valid = Encoding.UTF8.GetBytes("{\"userId\":\"" + new string('é', 12_000) + "\"}");
        valid[20_000] = 0xFF;
        Assert.True(buffer.TryAppend(valid));

        var result = SegmentParser.Parse(buffer.ToSequence(), SegmentRoutes.Classify("/v1/identify"), null, ReceivedAt);

        Assert.Equal(BodyOutcome.InvalidUtf8, result.Outcome);
    }

    [Theory]
    [InlineData("Basic d2stdGVzdC0wMDAxOg==", "wk-test-0001")]
    [InlineData("Basic d2stdGVzdC0wMDAx", "wk-test-0001")]
    [InlineData("basic d2stdGVzdC0wMDAxOg==", "wk-test-0001")]
    [InlineData("Bearer abc", null)]
    [InlineData("Basic !!!", null)]
    [InlineData("Basic Og==", null)]
    [InlineData(null, null)]
    public void WriteKeys_FromBasicAuth(string? header, string? expected)
    {
        Assert.Equal(expected, WriteKeys.FromAuthorization(header));
    }
}
