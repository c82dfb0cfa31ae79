using System.Text.Json.Nodes;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.Conformance;

/// <summary>
/// Checks run against the fakes directly: the client sends straight to the recording upstream,
/// which is what a perfect pass-through proxy would deliver.
/// </summary>
public sealed class CaseChecksTests : IDisposable
{
    private readonly CancellationTokenSource timeout = new(TimeSpan.FromSeconds(30));

    public void Dispose() => timeout.Dispose();

    [Fact]
    public async Task EndUsers_EachMismatchReported()
    {
        var testCase = LoadCase("""
            {"id": "checks-end-users", "requests": [{"path": "/v1/identify", "body": {}}],
             "expect": {"end_users": [{"external_id": "user-1", "email": "new@example.test", "phone_number": null,
                                       "properties": {"seats": 12, "plan": "pro"}}]}}
            """);
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        wootric.Seed(700000001, new EndUserFields
        {
            Email = "old@example.test",
            ExternalId = "user-1",
            Properties = new Dictionary<string, string> { ["seats"] = "12.0", ["region"] = "emea" },
        });

        var failures = CaseChecks.Run(testCase, wootric, upstream, []);

        Assert.Equal(3, failures.Count);
        Assert.Contains(failures, failure => failure.StartsWith("checks-end-users: expect.end_users[0].email: expected 'new@example.test', got 'old@example.test'", StringComparison.Ordinal));
        Assert.Contains(failures, failure => failure.StartsWith("checks-end-users: expect.end_users[0].properties.plan: missing", StringComparison.Ordinal));
        Assert.Contains(failures, failure => failure.StartsWith("checks-end-users: expect.end_users[0].properties.region: unexpected", StringComparison.Ordinal));
    }

    [Fact]
    public async Task EndUsers_MissingUserReported()
    {
        var testCase = LoadCase("""
            {"id": "checks-missing", "requests": [{"path": "/v1/identify", "body": {}}],
             "expect": {"end_users": [{"external_id": "user-9", "properties": {}}], "absent_end_users": [{"external_id": "user-1"}],
                        "end_user_count": 0, "creates": 0, "max_writes": 0}}
            """);
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        wootric.Seed(700000001, new EndUserFields { Email = "a@example.test", ExternalId = "user-1" });

        var failures = CaseChecks.Run(testCase, wootric, upstream, []);

        Assert.Equal(3, failures.Count);
        Assert.Contains(failures, failure => failure.StartsWith("checks-missing: expect.end_users[0]: no end user", StringComparison.Ordinal));
        Assert.Contains(failures, failure => failure.StartsWith("checks-missing: expect.absent_end_users[0]: end user 700000001 exists", StringComparison.Ordinal));
        Assert.Contains(failures, failure => failure.StartsWith("checks-missing: expect.end_user_count: expected 0, got 1", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Violations_FailUnlessAllowed()
    {
        var strict = LoadCase("""{"id": "checks-strict", "requests": [{"path": "/v1/i", "body": {}}], "expect": {}}""");
        var lenient = LoadCase("""{"id": "checks-lenient", "requests": [{"path": "/v1/i", "body": {}}], "expect": {"allow_violations": true}}""");
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = wootric.BaseAddress };
        using var tokenResponse = await client.PostAsync(new Uri("/oauth/token", UriKind.Relative), new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "client_credentials",
            ["client_id"] = wootric.ClientId,
            ["client_secret"] = wootric.ClientSecret,
        }), timeout.Token);
        var token = JsonNode.Parse(await tokenResponse.Content.ReadAsStringAsync(timeout.Token))!["access_token"]!.GetValue<string>();
        using var create = new HttpRequestMessage(HttpMethod.Post, new Uri("/v1/end_users", UriKind.Relative))
        {
            Content = new FormUrlEncodedContent(new Dictionary<string, string> { ["email"] = "a@example.test", ["properties[plan.tier]"] = "gold" }),
        };
        create.Headers.Authorization = new("Bearer", token);
        using var created = await client.SendAsync(create, timeout.Token);

        var strictFailures = CaseChecks.Run(strict, wootric, upstream, []);
        var lenientFailures = CaseChecks.Run(lenient, wootric, upstream, []);

        Assert.Contains("'plan.tier'", Assert.Single(strictFailures), StringComparison.Ordinal);
        Assert.Empty(lenientFailures);
    }

    [Fact]
    public async Task UpstreamUnchanged_DirectRequestsPass()
    {
        var testCase = LoadCase("""
            {"id": "checks-direct", "requests": [
               {"path": "/v1/batch?writekey=wk&x=%2F", "headers": {"User-Agent": "analytics-java/3.5.5", "X-Custom-Trace": "t-1"}, "body": {"batch": [{"traits": {"name": "Zoë"}}]}},
               {"path": "/v1/b", "content_type": null, "gzip": true, "chunked": true, "body": {"batch": []}},
               {"path": "/v1/i", "method": "OPTIONS", "upstream": {"status": 204, "body": null, "headers": {"Access-Control-Max-Age": "86400"}}}],
             "expect": {"upstream_unchanged": true, "client_statuses": [200, 200, 204], "upstream_paths": ["/v1/batch", "/v1/b", "/v1/i"]}}
            """);
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);

        var exchanges = await SendDirectAsync(testCase, upstream);
        var failures = CaseChecks.Run(testCase, wootric, upstream, exchanges);

        Assert.Empty(failures);
    }

    [Fact]
    public async Task UpstreamUnchanged_ChangesReported()
    {
        var testCase = LoadCase("""
            {"id": "checks-changed", "requests": [{"path": "/v1/identify", "headers": {"X-Custom-Trace": "t-1"}, "body": {"userId": "u1"}}],
             "expect": {"upstream_unchanged": true, "client_statuses": [202]}}
            """);
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        var exchange = Assert.Single(await SendDirectAsync(testCase, upstream));

        // Pretend the client sent other bytes and no trace header, and got another body back.
        var tampered = exchange with
        {
            Request = exchange.Request with
            {
                Body = "{}"u8.ToArray(),
                Headers = [.. exchange.Request.Headers.Where(header => header.Key != "X-Custom-Trace")],
            },
            Body = "{\"success\":false}"u8.ToArray(),
        };
        var failures = CaseChecks.Run(testCase, wootric, upstream, [tampered]);

        Assert.Equal(4, failures.Count);
        Assert.Contains(failures, failure => failure.Contains(": body: expected 2 bytes, got 15", StringComparison.Ordinal));
        Assert.Contains(failures, failure => failure.Contains("request header X-Custom-Trace: the upstream received 't-1', which the client did not send", StringComparison.Ordinal));
        Assert.Contains(failures, failure => failure.Contains("response body:", StringComparison.Ordinal));
        Assert.Contains(failures, failure => failure.StartsWith("checks-changed: expect.client_statuses[0]: expected 202, got 200", StringComparison.Ordinal));
    }

    private async Task<List<ClientExchange>> SendDirectAsync(ConformanceCase testCase, RecordingUpstream upstream)
    {
        using var client = CaseRunner.CreateClient();
        var exchanges = new List<ClientExchange>();
        foreach (var request in testCase.Requests)
        {
            if (request.Upstream is { } upstreamSettings)
            {
                upstream.Response = UpstreamResponse.FromJson(upstreamSettings);
            }

            exchanges.Add(await CaseRunner.SendAsync(client, request, 1, upstream.BaseAddress, timeout.Token));
        }

        return exchanges;
    }

    private static ConformanceCase LoadCase(string json)
    {
        var id = JsonNode.Parse(json)!["id"]!.GetValue<string>();
        var directory = Directory.CreateTempSubdirectory("wootric-gateway-case-");
        try
        {
            var path = Path.Combine(directory.FullName, id + ".json");
            File.WriteAllText(path, json);
            return ConformanceCase.Load(path);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
