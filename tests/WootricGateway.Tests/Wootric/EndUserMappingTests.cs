using WootricGateway.Segment;
using WootricGateway.Wootric;

namespace WootricGateway.Tests.Wootric;

public sealed class EndUserMappingTests
{
    private static IdentifyChange Map(string traitsJson) =>
        EndUserMapping.MapIdentify(TraitValue.Parse(traitsJson).EnumerateObject());

    [Fact]
    public void MapIdentify_SplitsReservedFields()
    {
        var change = Map("""{"email":"ada@example.test","phone":"+15550100001","createdAt":"2023-03-14T09:26:53.989Z","plan":"pro"}""");

        Assert.Equal("ada@example.test", change.Email);
        Assert.Equal("+15550100001", change.PhoneNumber);
        Assert.Equal(1678786014, change.ExternalCreatedAt);
        Assert.Equal(new Dictionary<string, string> { ["plan"] = "pro" }, change.Properties);
        Assert.False(change.CreatedAtDropped);
    }

    public static TheoryData<string, string, string?> PropertyCases => new()
    {
        { """{"beta":true}""", "beta", "true" },
        { """{"churned":false}""", "churned", "false" },
        { """{"seats":0}""", "seats", "0" },
        { """{"mrr_amount":49.5}""", "mrr_amount", "49.5" },
        { """{"nickname":""}""", "nickname", "" },
        { """{"tags":["alpha","beta"]}""", "tags", "alpha,beta" },
        { """{"flags":[true,false]}""", "flags", "true,false" },
        { """{"company":{"name":"Acme","size":50}}""", "company_name", "Acme" },
        { """{"company":{"name":"Acme","size":50}}""", "company_size", "50" },
        { """{"a":{"b":{"c":"deep"}}}""", "a_b_c", "deep" },
        { """{"trial_ends_at":"2024-06-01T00:00:00Z"}""", "trial_ends_at_date", "1717200000" },
        { """{"renewal_date":"2024-06-01"}""", "renewal_date", "1717200000" },
        { """{"plan.tier":"gold"}""", "plan_tier", "gold" },
        { """{"$ltv":120}""", "_ltv", "120" },
        { """{"items":[{"id":1}]}""", "items", """[{"id":1}]""" },
        { """{"manager":null}""", "manager", null },
        { """{"last_surveyed":1700000000}""", "last_surveyed", null },
        { """{"id":"user-1","userId":"user-1","anonymousId":"a-1"}""", "id", null },
        { """{"created_at":"2022-11-05T16:45:10Z"}""", "created_at", null },

        // Brackets would read as nesting in properties[...] form keys.
        { """{"a[b]":"x"}""", "a_b_", "x" },
        { """{"o":{"[k]":1}}""", "o__k_", "1" },

        // A date trait is recognised as createdAt is: trimmed, RFC 3339's lower-case t and z, rounded.
        { """{"renewal":" 2024-06-01 "}""", "renewal_date", "1717200000" },
        { """{"trial_ends_at":"2024-06-01t00:00:00z"}""", "trial_ends_at_date", "1717200000" },
        { """{"seen":"2024-06-01T00:00:00.600Z"}""", "seen_date", "1717200001" },
        { """{"seen":"2024-06-01T00:00:00.400Z"}""", "seen_date", "1717200000" },
        { """{"born":"1969-07-20"}""", "born_date", "-14256000" },
        { """{"motto":"trust the test"}""", "motto", "trust the test" },

        // A date that rounds past 9999-12-31T23:59:59Z stays text, as createdAt would drop it.
        { """{"d":"9999-12-31T23:59:59.6Z"}""", "d", "9999-12-31T23:59:59.6Z" },
        { """{"d":"9999-12-31T23:59:59.4Z"}""", "d_date", "253402300799" },

        // Names that cleaning or flattening turns into a field or a never-sent name are left out too.
        { """{"last.surveyed":1700000000}""", "last_surveyed", null },
        { """{"last":{"surveyed":1}}""", "last_surveyed", null },
        { """{"external$created$at":1}""", "external_created_at", null },
        { """{"phone.number":"555"}""", "phone_number", null },
        { """{"external":{"id":"x"}}""", "external_id", null },
        { """{"company":{"id":7}}""", "company_id", "7" },
    };

    [Theory]
    [MemberData(nameof(PropertyCases))]
    public void MapIdentify_FlattensProperties(string traitsJson, string key, string? expected)
    {
        var change = Map(traitsJson);

        if (expected is null)
        {
            Assert.False(change.Properties.ContainsKey(key), $"'{key}' must not be sent as a property");
        }
        else
        {
            Assert.Equal(expected, change.Properties[key]);
        }

        Assert.All(change.Properties.Keys, name => Assert.DoesNotContain(name, c => c is '$' or '.' or '\0' or '[' or ']'));
    }

    [Fact]
    public void MapIdentify_DropsUnparseableCreatedAt()
    {
        var change = Map("""{"email":"f@example.test","createdAt":"sometime last spring"}""");

        Assert.Null(change.ExternalCreatedAt);
        Assert.True(change.CreatedAtDropped);
        Assert.Empty(change.Properties);
    }

    [Fact]
    public void MapIdentify_NumericPhoneBecomesText()
    {
        var change = Map("""{"phone":15550100002}""");

        Assert.Equal("15550100002", change.PhoneNumber);
        Assert.Null(change.Email);
    }

    [Fact]
    public void MapIdentify_SkipsTraitWithoutName()
    {
        var change = Map("""{"":"x","plan":"pro"}""");

        Assert.Equal(new Dictionary<string, string> { ["plan"] = "pro" }, change.Properties);
    }

    [Theory]
    [InlineData("""{"email":true}""")]
    [InlineData("""{"email":42}""")]
    [InlineData("""{"email":["a@example.test"]}""")]
    [InlineData("""{"email":"   "}""")]
    [InlineData("""{"email":"\u0000"}""")]
    [InlineData("""{"email":"a@example.test\nb@example.test"}""")]
    [InlineData("""{"email":"a\u007F@example.test"}""")]
    public void MapIdentify_IgnoresEmailThatIsNotText(string traitsJson)
    {
        var change = Map(traitsJson);

        Assert.Null(change.Email);
        Assert.Empty(change.Properties);
    }

    [Fact]
    public void MapIdentify_EmailTrimmedBlankIgnored()
    {
        Assert.Equal("ada@example.test", Map("""{"email":" ada@example.test "}""").Email);
        Assert.Equal("ada@example.test", Map("""{"email":"ada@example.test","email":" "}""").Email);
    }

    [Theory]
    [InlineData("""{"phone":true}""")]
    [InlineData("""{"phone":" "}""")]
    [InlineData("""{"phone":{"home":"1"}}""")]
    public void MapIdentify_IgnoresPhoneThatIsNotTextOrNumber(string traitsJson)
    {
        Assert.Null(Map(traitsJson).PhoneNumber);
    }

    [Fact]
    public void MapIdentify_DropsOverlongNames()
    {
        var longName = new string('n', EndUserMapping.MaxPropertyKeyLength + 1);
        var prefix = new string('p', 200);
        var change = Map($$"""{"{{longName}}":"x","{{prefix}}":{"{{new string('m', 60)}}":1,"b":2},"ok":"y"}""");

        Assert.Equal(2, change.PropertiesDropped);
        Assert.Equal(new Dictionary<string, string> { [prefix + "_b"] = "2", ["ok"] = "y" }, change.Properties);
    }

    /// <summary>A long parent name over many members costs its length once, not once per member.</summary>
    [Fact]
    public void MapIdentify_LongParentNameDroppedOnce()
    {
        var members = string.Join(',', Enumerable.Range(0, 3_000).Select(i => $"\"{i}\":1"));
        var change = Map($$"""{"{{new string('n', 100_000)}}":{{{members}}},"plan":"pro"}""");

        Assert.Equal(1, change.PropertiesDropped);
        Assert.Equal(new Dictionary<string, string> { ["plan"] = "pro" }, change.Properties);
    }

    [Fact]
    public void MapIdentify_PropertiesWithinSizeLimit()
    {
        var value = new string('v', 1_000);
        var traits = string.Join(',', Enumerable.Range(0, 300).Select(i => $$"""
            "t{{i:D3}}":"{{value}}"
            """));
        var change = Map("{" + traits + ",\"small\":\"s\"}");

        var characters = change.Properties.Sum(pair => pair.Key.Length + pair.Value.Length);
        Assert.InRange(characters, EndUserMapping.MaxPropertyCharacters - 1_004, EndUserMapping.MaxPropertyCharacters);
        Assert.Equal(301 - change.Properties.Count, change.PropertiesDropped);
        Assert.Equal("s", change.Properties["small"]);
        Assert.Equal(value, change.Properties["t000"]);
    }
}
