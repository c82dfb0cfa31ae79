using System.Net;
using System.Net.Http.Headers;
using System.Text.Json.Nodes;

namespace WootricGateway.Tests.Fakes;

public sealed class FakeWootricServerTests : IDisposable
{
    private readonly CancellationTokenSource timeout = new(TimeSpan.FromSeconds(30));

    public void Dispose() => timeout.Dispose();

    [Fact]
    public async Task Token_WrongSecret_Returns401()
    {
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        using var client = CreateClient(wootric);

        using var response = await client.PostAsync(new Uri("/oauth/token", UriKind.Relative), Form(
            ("grant_type", "client_credentials"), ("client_id", wootric.ClientId), ("client_secret", "wrong-secret")), timeout.Token);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("invalid_client", (await ReadJsonAsync(response))["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task Token_TtlSetting_SetsExpiresIn()
    {
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        using var client = CreateClient(wootric);
        wootric.ApplyFaults(JsonNode.Parse("""{"token_ttl_s": 90}""")!);

        using var response = await client.PostAsync(new Uri("/oauth/token", UriKind.Relative), TokenForm(wootric), timeout.Token);
        var token = await ReadJsonAsync(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("bearer", token["token_type"]!.GetValue<string>());
        Assert.Equal(90, token["expires_in"]!.GetValue<long>());
    }

    [Fact]
    public async Task EndUsers_WithoutBearer_Return401()
    {
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        using var client = CreateClient(wootric);

        using var response = await client.GetAsync(new Uri("/v1/end_users?email=a%40example.test", UriKind.Relative), timeout.Token);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task RevokeTokens_RejectsIssuedTokensOnly()
    {
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        using var client = CreateClient(wootric);
        var oldToken = await GetTokenAsync(client, wootric);

        wootric.ApplyFaults(JsonNode.Parse("""{"revoke_tokens": true}""")!);
        using var rejected = await SendAsync(client, HttpMethod.Get, "/v1/end_users/1", oldToken);
        var newToken = await GetTokenAsync(client, wootric);
        using var accepted = await SendAsync(client, HttpMethod.Get, "/v1/end_users?email=x%40example.test", newToken);

        Assert.Equal(HttpStatusCode.Unauthorized, rejected.StatusCode);
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
    }

    [Fact]
    public async Task Create_DuplicateEmail_Returns422()
    {
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        using var client = CreateClient(wootric);
        wootric.Seed(700100001, new EndUserFields { Email = "ada@example.test", ExternalId = "user-1" });
        var token = await GetTokenAsync(client, wootric);

        using var response = await SendAsync(client, HttpMethod.Post, "/v1/end_users", token, ("email", "ADA@example.test"), ("external_id", "user-2"));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal("Validation failed: Email has already been taken", (await ReadJsonAsync(response))["error"]!.GetValue<string>());
        Assert.Equal(0, wootric.CreateCount);
        Assert.Equal(1, wootric.WriteCount);
        Assert.Single(wootric.EndUsers);
    }

    [Fact]
    public async Task Create_DuplicateExternalId_Returns422()
    {
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        using var client = CreateClient(wootric);
        wootric.Seed(700100001, new EndUserFields { Email = "ada@example.test", ExternalId = "user-1" });
        var token = await GetTokenAsync(client, wootric);

        using var response = await SendAsync(client, HttpMethod.Post, "/v1/end_users", token, ("email", "grace@example.test"), ("external_id", "user-1"));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal("Validation failed: External id has already been taken", (await ReadJsonAsync(response))["error"]!.GetValue<string>());
    }

    [Fact]
    public async Task Create_WithoutEmail_Returns422()
    {
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        using var client = CreateClient(wootric);
        var token = await GetTokenAsync(client, wootric);

        using var response = await SendAsync(client, HttpMethod.Post, "/v1/end_users", token, ("external_id", "user-1"), ("phone_number", "+15550100001"));

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Empty(wootric.EndUsers);
    }

    [Fact]
    public async Task Create_StoresFieldsAndNewId()
    {
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        using var client = CreateClient(wootric);
        wootric.Seed(700100001, new EndUserFields { Email = "old@example.test" });
        var token = await GetTokenAsync(client, wootric);

        using var response = await SendAsync(client, HttpMethod.Post, "/v1/end_users", token,
            ("email", "zoe@example.test"), ("external_id", "usér-1"), ("external_created_at", "1678786014"), ("properties[city]", "Zürich"));
        var created = await ReadJsonAsync(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.True(created["id"]!.GetValue<long>() > 700100001);
        Assert.Equal(1678786014, created["external_created_at"]!.GetValue<long>());
        Assert.Equal("Zürich", created["properties"]!["city"]!.GetValue<string>());
        Assert.Equal(1, wootric.CreateCount);
    }

    [Fact]
    public async Task Put_WithProperties_ReplacesHash()
    {
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        using var client = CreateClient(wootric);
        wootric.Seed(700100006, new EndUserFields
        {
            Email = "ada@example.test",
            PhoneNumber = "+15550100006",
            Properties = new Dictionary<string, string> { ["plan"] = "pro", ["region"] = "emea" },
        });
        var token = await GetTokenAsync(client, wootric);

        using var response = await SendAsync(client, HttpMethod.Put, "/v1/end_users/700100006", token, ("properties[seats]", "12"));
        var user = Assert.Single(wootric.EndUsers);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(new Dictionary<string, string> { ["seats"] = "12" }, user.Properties);
        Assert.Equal("+15550100006", user.PhoneNumber);
    }

    [Fact]
    public async Task Put_WithoutProperties_KeepsHash()
    {
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        using var client = CreateClient(wootric);
        wootric.Seed(700100008, new EndUserFields { Email = "grace@example.test", Properties = new Dictionary<string, string> { ["plan"] = "free" } });
        var token = await GetTokenAsync(client, wootric);

        using var response = await SendAsync(client, HttpMethod.Put, "/v1/end_users/700100008", token, ("email", "grace.new@example.test"));
        var user = Assert.Single(wootric.EndUsers);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("grace.new@example.test", user.Email);
        Assert.Equal(new Dictionary<string, string> { ["plan"] = "free" }, user.Properties);
    }

    [Fact]
    public async Task Lookups_FindByExternalIdEmailAndId()
    {
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        using var client = CreateClient(wootric);
        wootric.Seed(700200018, new EndUserFields { Email = "Radia.P@example.test", ExternalId = "usér/18" });
        var token = await GetTokenAsync(client, wootric);

        using var byExternalId = await SendAsync(client, HttpMethod.Get, "/v1/end_users/us%C3%A9r%2F18?lookup_by_external_id=true", token);
        using var byEmail = await SendAsync(client, HttpMethod.Get, "/v1/end_users/radia.p%40example.test?lookup_by_email=true", token);
        using var byId = await SendAsync(client, HttpMethod.Get, "/v1/end_users/700200018", token);
        using var listed = await SendAsync(client, HttpMethod.Get, "/v1/end_users?email=RADIA.P%40example.test", token);
        using var listedMiss = await SendAsync(client, HttpMethod.Get, "/v1/end_users?email=nobody%40example.test", token);

        Assert.Equal(700200018, (await ReadJsonAsync(byExternalId))["id"]!.GetValue<long>());
        Assert.Equal(700200018, (await ReadJsonAsync(byEmail))["id"]!.GetValue<long>());
        Assert.Equal(700200018, (await ReadJsonAsync(byId))["id"]!.GetValue<long>());
        Assert.Single((await ReadJsonAsync(listed)).AsArray());
        Assert.Empty((await ReadJsonAsync(listedMiss)).AsArray());
    }

    [Fact]
    public async Task Lookup_Miss_Returns404ErrorList()
    {
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        using var client = CreateClient(wootric);
        var token = await GetTokenAsync(client, wootric);

        using var response = await SendAsync(client, HttpMethod.Get, "/v1/end_users/user-404?lookup_by_external_id=true", token);
        var body = await ReadJsonAsync(response);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("error_list", body["type"]!.GetValue<string>());
        Assert.Equal("record_not_found", body["errors"]![0]!["status"]!.GetValue<string>());
    }

    [Fact]
    public async Task RateLimit_OverLimit_Returns429WithHeaders()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(1_714_564_800_200));
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token, time: clock);
        using var client = CreateClient(wootric);
        var token = await GetTokenAsync(client, wootric);
        wootric.ApplyFaults(JsonNode.Parse("""{"rate_limit_per_minute": 2, "rate_limit_window_s": 3}""")!);

        using var first = await SendAsync(client, HttpMethod.Get, "/v1/end_users?email=a%40example.test", token);
        using var second = await SendAsync(client, HttpMethod.Get, "/v1/end_users?email=a%40example.test", token);
        using var limited = await SendAsync(client, HttpMethod.Get, "/v1/end_users?email=a%40example.test", token);
        clock.Advance(TimeSpan.FromMilliseconds(3799));
        using var beforeReset = await SendAsync(client, HttpMethod.Get, "/v1/end_users?email=a%40example.test", token);
        clock.Advance(TimeSpan.FromMilliseconds(1));
        using var atReset = await SendAsync(client, HttpMethod.Get, "/v1/end_users?email=a%40example.test", token);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal("1", Header(first, "X-Rate-Limit-Remaining"));
        Assert.Equal(HttpStatusCode.OK, second.StatusCode);
        Assert.Equal((HttpStatusCode)429, limited.StatusCode);
        Assert.Equal("2", Header(limited, "X-Rate-Limit-Limit"));
        Assert.Equal("0", Header(limited, "X-Rate-Limit-Remaining"));
        Assert.Equal("1714564804", Header(limited, "X-Rate-Limit-Reset"));
        Assert.Equal((HttpStatusCode)429, beforeReset.StatusCode);
        Assert.Equal(HttpStatusCode.OK, atReset.StatusCode);
        Assert.Equal("1", Header(atReset, "X-Rate-Limit-Remaining"));
    }

    [Fact]
    public async Task Token_Expired_Returns401()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.FromUnixTimeSeconds(1_714_564_800));
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token, time: clock);
        using var client = CreateClient(wootric);
        var token = await GetTokenAsync(client, wootric);

        clock.Advance(FakeWootricTokens.DefaultLifetime - TimeSpan.FromSeconds(1));
        using var beforeExpiry = await SendAsync(client, HttpMethod.Get, "/v1/end_users?email=a%40example.test", token);
        clock.Advance(TimeSpan.FromSeconds(1));
        using var afterExpiry = await SendAsync(client, HttpMethod.Get, "/v1/end_users?email=a%40example.test", token);

        Assert.Equal(HttpStatusCode.OK, beforeExpiry.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, afterExpiry.StatusCode);
    }

    [Fact]
    public async Task FaultRule_Apply_ProcessesThenFails()
    {
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        using var client = CreateClient(wootric);
        var token = await GetTokenAsync(client, wootric);
        wootric.ApplyFaults(JsonNode.Parse("""{"rules": [{"method": "POST", "path": "/v1/end_users", "status": 500, "apply": true, "count": 1}]}""")!);

        using var faulted = await SendAsync(client, HttpMethod.Post, "/v1/end_users", token, ("email", "a@example.test"));
        using var normal = await SendAsync(client, HttpMethod.Post, "/v1/end_users", token, ("email", "b@example.test"));

        Assert.Equal(HttpStatusCode.InternalServerError, faulted.StatusCode);
        Assert.Equal(HttpStatusCode.OK, normal.StatusCode);
        Assert.Equal(2, wootric.EndUsers.Count);
        Assert.Equal(2, wootric.CreateCount);
    }

    [Fact]
    public async Task FaultRule_BareArray_FailsTokenOnce()
    {
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        using var client = CreateClient(wootric);
        wootric.ApplyFaults(JsonNode.Parse("""[{"method": "POST", "path": "/oauth/token", "status": 503, "count": 1, "body": {"error": "temporarily_unavailable"}}]""")!);

        using var faulted = await client.PostAsync(new Uri("/oauth/token", UriKind.Relative), TokenForm(wootric), timeout.Token);
        using var recovered = await client.PostAsync(new Uri("/oauth/token", UriKind.Relative), TokenForm(wootric), timeout.Token);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, faulted.StatusCode);
        Assert.Equal("temporarily_unavailable", (await ReadJsonAsync(faulted))["error"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, recovered.StatusCode);
        Assert.Equal(1, wootric.TokensIssued);
    }

    [Fact]
    public async Task Violations_FlagKeysNestingAndCreatedAt()
    {
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        using var client = CreateClient(wootric);
        var token = await GetTokenAsync(client, wootric);

        using var response = await SendAsync(client, HttpMethod.Post, "/v1/end_users", token,
            ("email", "a@example.test"),
            ("external_created_at", "1678786013.5"),
            ("properties[plan.tier]", "gold"),
            ("properties[$ltv]", "120"),
            ("properties[company][name]", "Acme"),
            ("properties[plan_ok]", "fine"));
        var violations = wootric.Violations;

        Assert.Equal(4, violations.Count);
        Assert.Contains(violations, violation => violation.Contains("'plan.tier'", StringComparison.Ordinal));
        Assert.Contains(violations, violation => violation.Contains("'$ltv'", StringComparison.Ordinal));
        Assert.Contains(violations, violation => violation.Contains("nested", StringComparison.Ordinal));
        Assert.Contains(violations, violation => violation.Contains("1678786013.5", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PageViews_StoredForKnownUser()
    {
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        using var client = CreateClient(wootric);
        wootric.Seed(700200015, new EndUserFields { Email = "donald@example.test" });
        var token = await GetTokenAsync(client, wootric);

        using var stored = await SendAsync(client, HttpMethod.Post, "/v1/end_users/700200015/page_views", token, ("url", "https://app.example.test/reports"), ("at", "1714564800"));
        using var unknown = await SendAsync(client, HttpMethod.Post, "/v1/end_users/1/page_views", token, ("url", "https://app.example.test/"));
        var pageView = Assert.Single(wootric.PageViews);

        Assert.Equal(HttpStatusCode.OK, stored.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal(700200015, pageView.EndUserId);
        Assert.Equal("1714564800", pageView.At);
        Assert.Equal(2, wootric.WriteCount);
    }

    private static HttpClient CreateClient(FakeWootricServer wootric) =>
        new(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = wootric.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

    private static FormUrlEncodedContent Form(params (string Name, string Value)[] fields) =>
        new(fields.Select(field => new KeyValuePair<string, string>(field.Name, field.Value)));

    private static FormUrlEncodedContent TokenForm(FakeWootricServer wootric) =>
        Form(("grant_type", "client_credentials"), ("client_id", wootric.ClientId), ("client_secret", wootric.ClientSecret));

    private async Task<string> GetTokenAsync(HttpClient client, FakeWootricServer wootric)
    {
        using var response = await client.PostAsync(new Uri("/oauth/token", UriKind.Relative), TokenForm(wootric), timeout.Token);
        response.EnsureSuccessStatusCode();
        return (await ReadJsonAsync(response))["access_token"]!.GetValue<string>();
    }

    private async Task<HttpResponseMessage> SendAsync(HttpClient client, HttpMethod method, string target, string token, params (string Name, string Value)[] form)
    {
        using var request = new HttpRequestMessage(method, new Uri(target, UriKind.Relative));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        if (form.Length > 0)
        {
            request.Content = Form(form);
        }

        return await client.SendAsync(request, timeout.Token);
    }

    private async Task<JsonNode> ReadJsonAsync(HttpResponseMessage response) =>
        JsonNode.Parse(await response.Content.ReadAsStringAsync(timeout.Token))!;

    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(", ", values) : "";
}
