using System.Globalization;
using System.Text.Json.Nodes;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.Conformance;

/// <summary>
/// Compares the end state of a case run with the case's <c>expect</c> object. Every failed
/// check becomes one message that starts with the case id and names the expect field.
/// </summary>
internal sealed partial class CaseChecks
{
    private static readonly string[] IdentityFields = ["external_id", "email", "id"];

    private readonly ConformanceCase testCase;
    private readonly CaseExpectations expect;
    private readonly IReadOnlyList<FakeEndUser> endUsers;
    private readonly FakeWootricServer wootric;
    private readonly IReadOnlyList<UpstreamExchange> upstreamExchanges;
    private readonly IReadOnlyList<ClientExchange> clientExchanges;
    private readonly List<string> failures = [];

    private CaseChecks(ConformanceCase testCase, FakeWootricServer wootric, RecordingUpstream upstream, IReadOnlyList<ClientExchange> clientExchanges)
    {
        this.testCase = testCase;
        expect = testCase.Expect;
        this.wootric = wootric;
        endUsers = wootric.EndUsers;
        upstreamExchanges = upstream.Exchanges;
        this.clientExchanges = clientExchanges;
    }

    /// <summary>Runs every check the case's <c>expect</c> object lists and returns the failures.</summary>
    public static IReadOnlyList<string> Run(ConformanceCase testCase, FakeWootricServer wootric, RecordingUpstream upstream, IReadOnlyList<ClientExchange> clientExchanges)
    {
        var checks = new CaseChecks(testCase, wootric, upstream, clientExchanges);
        checks.CheckEndUsers();
        checks.CheckAbsentEndUsers();
        checks.CheckEndUserCount();
        checks.CheckCreates();
        checks.CheckMaxWrites();
        checks.CheckPageViews();
        checks.CheckClientStatuses();
        checks.CheckUpstreamPaths();
        checks.CheckUpstreamUnchanged();
        checks.CheckViolations();
        return checks.failures;
    }

    private void Fail(string field, string message) => failures.Add($"{testCase.Id}: {field}: {message}");

    private void CheckEndUsers()
    {
        if (expect.EndUsers is null)
        {
            return;
        }

        for (var i = 0; i < expect.EndUsers.Count; i++)
        {
            var field = $"expect.end_users[{i}]";
            if (expect.EndUsers[i] is not JsonObject expected)
            {
                Fail(field, "must be an object of end-user fields.");
                continue;
            }

            var user = FindEndUser(expected);
            if (user is null)
            {
                Fail(field, $"no end user in Wootric has {DescribeIdentity(expected)}. Wootric has {DescribeEndUsers()}.");
                continue;
            }

            var actual = user.ToJson();
            foreach (var (name, value) in expected)
            {
                if (name == "properties")
                {
                    CheckProperties($"{field}.properties", value, user);
                    continue;
                }

                var expectedText = TextValues.ToText(value);
                var actualText = TextValues.ToText(actual[name]);
                if (!TextValues.AreEqual(expectedText, actualText))
                {
                    Fail($"{field}.{name}", $"expected {TextValues.Describe(expectedText)}, got {TextValues.Describe(actualText)} (end user {user.Id}).");
                }
            }
        }
    }

    /// <summary>Requires the stored properties to be exactly the expected ones. A null expected value means the key is absent.</summary>
    private void CheckProperties(string field, JsonNode? expectedNode, FakeEndUser user)
    {
        if (expectedNode is not JsonObject expected)
        {
            Fail(field, "must be an object of property names to values.");
            return;
        }

        foreach (var (key, value) in expected)
        {
            var expectedText = TextValues.ToText(value);
            var actualText = user.Properties.GetValueOrDefault(key);
            if (TextValues.AreEqual(expectedText, actualText))
            {
                continue;
            }

            var problem = actualText is null
                ? $"missing; expected {TextValues.Describe(expectedText)}"
                : $"expected {TextValues.Describe(expectedText)}, got {TextValues.Describe(actualText)}";
            Fail($"{field}.{key}", $"{problem} (end user {user.Id}).");
        }

        foreach (var (key, value) in user.Properties)
        {
            if (!expected.ContainsKey(key))
            {
                Fail($"{field}.{key}", $"unexpected property with value {TextValues.Describe(value)} (end user {user.Id}).");
            }
        }
    }

    private void CheckAbsentEndUsers()
    {
        if (expect.AbsentEndUsers is null)
        {
            return;
        }

        for (var i = 0; i < expect.AbsentEndUsers.Count; i++)
        {
            var field = $"expect.absent_end_users[{i}]";
            if (expect.AbsentEndUsers[i] is not JsonObject absent || !IdentityFields.Any(absent.ContainsKey))
            {
                Fail(field, "must be an object with external_id, email or id.");
                continue;
            }

            foreach (var name in IdentityFields)
            {
                if (TextValues.ToText(absent[name]) is { } value && FindEndUserBy(name, value) is { } user)
                {
                    Fail(field, $"end user {user.Id} exists with {name} '{value}', expected none.");
                }
            }
        }
    }

    private void CheckEndUserCount()
    {
        if (expect.EndUserCount is { } expected && endUsers.Count != expected)
        {
            Fail("expect.end_user_count", $"expected {expected}, got {endUsers.Count}: {DescribeEndUsers()}.");
        }
    }

    private void CheckCreates()
    {
        if (expect.Creates is not { } expected || wootric.CreateCount == expected)
        {
            return;
        }

        var creates = wootric.Requests.Where(request => request.Method == "POST" && request.Path == "/v1/end_users").ToList();
        Fail("expect.creates", $"expected {expected} created end user(s), got {wootric.CreateCount}; POST /v1/end_users requests: {DescribeRequests(creates)}.");
    }

    private void CheckMaxWrites()
    {
        if (expect.MaxWrites is not { } maximum)
        {
            return;
        }

        var writes = wootric.Requests.Where(request => request.IsWrite).ToList();
        if (writes.Count > maximum)
        {
            Fail("expect.max_writes", $"expected at most {maximum} write(s) to Wootric, got {writes.Count}: {DescribeRequests(writes)}.");
        }
    }

    /// <summary>Requires the stored page views to be exactly the expected multiset, compared on the fields each expected entry lists.</summary>
    private void CheckPageViews()
    {
        if (expect.PageViews is null)
        {
            return;
        }

        var remaining = wootric.PageViews.Select(DescribePageView).ToList();
        for (var i = 0; i < expect.PageViews.Count; i++)
        {
            var field = $"expect.page_views[{i}]";
            if (expect.PageViews[i] is not JsonObject expected)
            {
                Fail(field, "must be an object of page-view fields.");
                continue;
            }

            var match = remaining.FindIndex(actual => expected.All(pair => TextValues.AreEqual(TextValues.ToText(pair.Value), TextValues.ToText(actual[pair.Key]))));
            if (match < 0)
            {
                Fail(field, $"no stored page view matches {expected.ToJsonString(TextValues.CompactJson)}; unmatched page views: {DescribeJsonList(remaining)}.");
                continue;
            }

            remaining.RemoveAt(match);
        }

        foreach (var extra in remaining)
        {
            Fail("expect.page_views", $"unexpected page view {extra.ToJsonString(TextValues.CompactJson)}.");
        }
    }

    private void CheckViolations()
    {
        if (expect.AllowViolations)
        {
            return;
        }

        foreach (var violation in wootric.Violations)
        {
            Fail("Wootric rules (set expect.allow_violations to accept)", violation);
        }
    }

    /// <summary>Finds the user by external_id, else by email ignoring case, else by id, using the fields the expectation lists.</summary>
    private FakeEndUser? FindEndUser(JsonObject expected)
    {
        foreach (var name in IdentityFields)
        {
            if (TextValues.ToText(expected[name]) is { } value && FindEndUserBy(name, value) is { } user)
            {
                return user;
            }
        }

        return null;
    }

    private FakeEndUser? FindEndUserBy(string field, string value) => field switch
    {
        "external_id" => endUsers.FirstOrDefault(user => string.Equals(user.ExternalId, value, StringComparison.Ordinal)),
        "email" => endUsers.FirstOrDefault(user => string.Equals(user.Email, value, StringComparison.OrdinalIgnoreCase)),
        "id" => endUsers.FirstOrDefault(user => TextValues.AreEqual(value, user.Id.ToString(CultureInfo.InvariantCulture))),
        _ => throw new ArgumentOutOfRangeException(nameof(field), field, "Not an identity field."),
    };

    /// <summary>Projects a page view onto the fields an expectation may list, including its user's external_id and email.</summary>
    private JsonObject DescribePageView(FakePageView pageView)
    {
        var user = endUsers.FirstOrDefault(candidate => candidate.Id == pageView.EndUserId);
        var description = pageView.ToJson();
        description["external_id"] = user?.ExternalId;
        description["email"] = user?.Email;
        return description;
    }

    private static string DescribeIdentity(JsonObject expected)
    {
        var parts = IdentityFields
            .Where(name => TextValues.ToText(expected[name]) is not null)
            .Select(name => $"{name} '{TextValues.ToText(expected[name])}'");
        var text = string.Join(" or ", parts);
        return text.Length == 0 ? "(no external_id, email or id listed)" : text;
    }

    private string DescribeEndUsers() =>
        endUsers.Count == 0
            ? "no end users"
            : string.Join("; ", endUsers.Select(user => $"id {user.Id} external_id {TextValues.Describe(user.ExternalId)} email {TextValues.Describe(user.Email)}"));

    private static string DescribeRequests(List<WootricRequestRecord> requests) =>
        requests.Count == 0 ? "none" : string.Join("; ", requests.Select(request => request.ToString()));

    private static string DescribeJsonList(List<JsonObject> items) =>
        items.Count == 0 ? "none" : string.Join(", ", items.Select(item => item.ToJsonString(TextValues.CompactJson)));
}
