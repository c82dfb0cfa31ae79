using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using WootricGateway.Tests.Conformance;
using WootricGateway.Tests.Fakes;
using Xunit.Abstractions;

namespace WootricGateway.Tests.Security;

/// <summary>
/// Runs a gateway with known secrets through normal traffic, Wootric 401, 429 and 500 faults and
/// dead letters, with every log level on, and searches every log entry, <c>/metrics</c> and every
/// management API output for the secrets and emails.
/// </summary>
public sealed class SecretLeakTests(ITestOutputHelper output)
{
    private const string WriteKey = "wk-LEAKTEST-3b9e51d0a7";
    private const string ClientSecret = "cs-LEAKTEST-7d41e0b2c9";
    private const string AccountToken = "NPS-LEAKTEST5c2e";
    private const string ManagementToken = "mt-LEAKTEST-0e6f2a9b41c8";

    private static readonly string[] Emails =
    [
        "Leak.Person1@Example.test",
        "leak.userid@example.test",
        "leak.emailonly@example.test",
        "leak.fault500@example.test",
        "leak.fault401@example.test",
        "leak.fault429@example.test",
        "leak.rejected@example.test",
        "leak.context@example.test",
    ];

    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    [Fact]
    public async Task SecretsAndEmails_NeverExposed()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(240));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token, clientSecret: ClientSecret);
        var logs = new RecordingLoggerProvider();
        var configuration = CaseRunner.BuildConfiguration(wootric, upstream, new Dictionary<string, string?>
        {
            ["Wootric:AccountToken"] = AccountToken,
            ["Wootric:WriteKeys:0"] = WriteKey,
            ["Delivery:MaxAttempts"] = "3",
            ["Management:BearerToken"] = ManagementToken,
            ["Logging:LogLevel:Default"] = "Trace",
            ["Logging:LogLevel:Microsoft.AspNetCore"] = "Trace",
            ["Logging:LogLevel:Microsoft.AspNetCore.DataProtection"] = "Trace",
            ["Logging:LogLevel:Yarp"] = "Trace",
            ["Logging:LogLevel:System.Net.Http"] = "Trace",
        });
        await using var gateway = await GatewayUnderTest.StartAsync(configuration, timeout.Token, services => services.AddSingleton<ILoggerProvider>(logs));
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var basicWithColon = Convert.ToBase64String(Encoding.UTF8.GetBytes(WriteKey + ":"));
        var basicWithoutColon = Convert.ToBase64String(Encoding.UTF8.GetBytes(WriteKey));
        var sent = 0;

        async Task SendAsync(string path, string json, string? basic)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(gateway.ProxyAddress, path)) { Content = Json(json) };
            if (basic is not null)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Basic", basic);
            }

            using var response = await client.SendAsync(request, timeout.Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            sent++;
        }

        // Every request carries an identify, so each one sent must reach the store before the next
        // fault is set. The work it causes then shows in the backlog until it is done.
        async Task SettleAsync()
        {
            var settled = await gateway.WaitUntilSettledAsync(
                wootric,
                TimeSpan.FromMilliseconds(700),
                TimeSpan.FromSeconds(60),
                async token => await gateway.ReadTapOutcomeAsync("handed_off", token) >= sent,
                timeout.Token);
            Assert.True(settled.IsSettled, settled.LastObservation);
        }

        // Normal traffic: the key in Basic auth (with and without the colon) and in the body, emails in traits and as a userId.
        await SendAsync("/v1/identify", $$$"""{"type":"identify","writeKey":"{{{WriteKey}}}","userId":"leak-user-1","traits":{"email":"{{{Emails[0]}}}","plan":"team"}}""", basicWithColon);
        await SendAsync("/v1/batch", $$$"""{"writeKey":"{{{WriteKey}}}","batch":[{"type":"identify","userId":"{{{Emails[1]}}}","traits":{"email":"{{{Emails[1]}}}"}},{"type":"page","userId":"leak-user-1","properties":{"url":"https://example.test/welcome"}}]}""", basicWithoutColon);
        await SendAsync("/v1/i", $$$"""{"type":"identify","writeKey":"{{{WriteKey}}}","context":{"traits":{"email":"{{{Emails[7]}}}"}},"traits":{"email":"{{{Emails[2]}}}"}}""", null);
        await SettleAsync();

        // Wootric 500s (retried), 401s (token refreshed once, then dead-lettered) and a 429 with a reset time.
        wootric.ApplyFaults(JsonNode.Parse("""{"rules":[{"path_prefix":"/v1/end_users","status":500,"count":2}]}""")!);
        await SendAsync("/v1/identify", $$$"""{"type":"identify","writeKey":"{{{WriteKey}}}","userId":"leak-user-500","traits":{"email":"{{{Emails[3]}}}"}}""", basicWithColon);
        await SettleAsync();
        wootric.ApplyFaults(JsonNode.Parse("""{"rules":[{"path_prefix":"/v1/end_users","status":401,"count":6}]}""")!);
        await SendAsync("/v1/identify", $$$"""{"type":"identify","writeKey":"{{{WriteKey}}}","userId":"leak-user-401","traits":{"email":"{{{Emails[4]}}}"}}""", basicWithColon);
        await SettleAsync();
        wootric.ApplyFaults(JsonNode.Parse("""{"rules":[],"rate_limit_per_minute":1,"rate_limit_window_s":1}""")!);
        await SendAsync("/v1/identify", $$$"""{"type":"identify","writeKey":"{{{WriteKey}}}","userId":"leak-user-429","traits":{"email":"{{{Emails[5]}}}"}}""", basicWithColon);
        await SettleAsync();

        // A rejection whose error text echoes the email: dead-lettered with the message kept for operators.
        wootric.ApplyFaults(JsonNode.Parse($$$"""{"rate_limit_per_minute":null,"rules":[{"path_prefix":"/v1/end_users","status":400,"count":20,"body":{"error":"Email {{{Emails[6]}}} is invalid"}}]}""")!);
        await SendAsync("/v1/identify", $$$"""{"type":"identify","writeKey":"{{{WriteKey}}}","userId":"leak-user-400","traits":{"email":"{{{Emails[6]}}}"}}""", basicWithColon);
        await SettleAsync();

        using var management = new HttpClient { BaseAddress = gateway.ManagementAddress, Timeout = TimeSpan.FromSeconds(10) };
        var outputs = new List<(string Source, string Text)>();
        async Task CollectAsync(HttpMethod method, string path, bool authorized)
        {
            using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
            if (authorized)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", ManagementToken);
            }

            using var response = await management.SendAsync(request, timeout.Token);
            outputs.Add(($"{method} {path} ({(int)response.StatusCode})", response.Headers + "\n" + response.Content.Headers + "\n" + await response.Content.ReadAsStringAsync(timeout.Token)));
        }

        await CollectAsync(HttpMethod.Get, "/admin/dead-letters", authorized: true);
        var deadLetters = JsonNode.Parse(outputs[^1].Text[outputs[^1].Text.IndexOf('[', StringComparison.Ordinal)..])!.AsArray();
        await CollectAsync(HttpMethod.Get, "/admin/queue", authorized: true);
        await CollectAsync(HttpMethod.Get, "/metrics", authorized: true);
        await CollectAsync(HttpMethod.Get, "/metrics", authorized: false);
        await CollectAsync(HttpMethod.Get, "/healthz", authorized: false);
        await CollectAsync(HttpMethod.Get, "/readyz", authorized: false);
        await CollectAsync(HttpMethod.Post, $"/admin/dead-letters/{deadLetters[0]!["id"]}/redrive", authorized: true);
        await CollectAsync(HttpMethod.Post, "/admin/dead-letters/no-such-id/redrive", authorized: true);
        await CollectAsync(HttpMethod.Post, "/admin/dead-letters/redrive", authorized: true);
        await CollectAsync(HttpMethod.Get, "/admin/unknown", authorized: true);
        await SettleAsync();
        await CollectAsync(HttpMethod.Get, "/admin/dead-letters", authorized: true);
        await CollectAsync(HttpMethod.Get, "/metrics", authorized: true);

        // The secrets really were in play: forwarded to the upstream and sent to Wootric, and every fault happened.
        Assert.Contains(upstream.Exchanges, exchange => exchange.GetHeader("Authorization") == "Basic " + basicWithColon);
        Assert.Contains(wootric.Requests, record => record.Form.GetValueOrDefault("client_secret") == ClientSecret);
        Assert.Contains(wootric.Requests, record => string.Equals(record.Form.GetValueOrDefault("email"), Emails[0], StringComparison.OrdinalIgnoreCase));
        Assert.NotEmpty(wootric.IssuedTokens);
        foreach (var status in new[] { 400, 401, 429, 500 })
        {
            Assert.Contains(wootric.Requests, record => record.Status == status);
        }

        Assert.True(deadLetters.Count >= 2, $"Expected the 401 and 400 users as dead letters, got {deadLetters.ToJsonString()}");
        var entries = logs.Entries;
        Assert.Contains(entries, entry => entry.Level == LogLevel.Debug);
        Assert.Contains(entries, entry => entry.Level == LogLevel.Trace);
        Assert.Contains(entries, entry => entry.Text.Contains("dead letters", StringComparison.Ordinal));
        output.WriteLine($"Searched {entries.Count} log entries and {outputs.Count} management responses.");

        var secrets = new List<(string Name, string Value)>
        {
            ("write key", WriteKey),
            ("Basic credentials with colon", basicWithColon),
            ("Basic credentials without colon", basicWithoutColon),
            ("Wootric client secret", ClientSecret),
            ("Wootric account token", AccountToken),
            ("management bearer token", ManagementToken),
        };
        secrets.AddRange(wootric.IssuedTokens.Select(token => ("Wootric access token", token)));
        foreach (var email in Emails)
        {
            secrets.Add(("email", email));
            secrets.Add(("URL-encoded email", Uri.EscapeDataString(email)));
            secrets.Add(("email local part", email[..email.IndexOf('@', StringComparison.Ordinal)]));
        }

        var sources = entries.Select(entry => ("log", entry.Text)).Concat(outputs).ToList();
        var leaks = new List<string>();
        foreach (var (name, value) in secrets)
        {
            foreach (var (source, text) in sources)
            {
                if (text.Contains(value, StringComparison.OrdinalIgnoreCase))
                {
                    leaks.Add($"{name} '{value}' in {source}: {text[..Math.Min(text.Length, 400)]}");
                }
            }
        }

        Assert.True(leaks.Count == 0, $"{leaks.Count} leaks:\n" + string.Join("\n", leaks.Distinct().Take(30)));
    }
}
