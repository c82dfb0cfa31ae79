using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using WootricGateway.Tests.Conformance;
using WootricGateway.Tests.Fakes;
using WootricGateway.Tests.State;
using Xunit.Abstractions;

namespace WootricGateway.Tests.Performance;

/// <summary>
/// Replays 10,000 identify and page events, 95 % of which repeat known users with unchanged traits,
/// and counts every request the gateway sends to Wootric. The bound is a count of calls, not a
/// timing: at most 0.06 Wootric calls per event (RudderStack's destination makes at least two per
/// identify).
/// </summary>
public sealed class WootricCallReplayTests(RedisServerFixture redis, ITestOutputHelper output) : IClassFixture<RedisServerFixture>
{
    private const int KnownUsers = 1000;
    private const int ReplayEvents = 10_000;
    private const int ChangingEvents = ReplayEvents / 20;
    private const int BatchSize = 100;
    private const double MaxCallsPerEvent = 0.06;

    [Theory]
    [InlineData("memory")]
    [InlineData("redis")]
    public async Task Replay_StaysUnderCallBudget(string store)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(240));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        var overrides = new Dictionary<string, string?>
        {
            ["Wootric:RequestsPerMinute"] = "60000",
            ["Delivery:MaxAttempts"] = "100",
        };
        if (store == "redis")
        {
            foreach (var (key, value) in redis.IsolatedConfiguration())
            {
                overrides[key] = value;
            }
        }

        await using var gateway = await GatewayUnderTest.StartAsync(CaseRunner.BuildConfiguration(wootric, upstream, overrides), timeout.Token);
        using var client = TestTraffic.CreateClient();

        // Warm-up, not counted: every known user is identified once, so Wootric and the gateway know them.
        var plans = Enumerable.Range(0, KnownUsers).Select(user => "plan-" + (user % 4)).ToArray();
        var warmUp = Enumerable.Range(0, KnownUsers).Select(user => Identify(user, $"warm-{user}", plans[user]));
        await SendAsync(client, gateway, warmUp, timeout.Token);
        var warmSettled = await gateway.WaitUntilSettledAsync(
            wootric,
            () => wootric.CreateCount >= KnownUsers,
            timeout.Token);
        Assert.True(warmSettled.IsSettled, warmSettled.LastObservation);
        Assert.Equal(KnownUsers, wootric.CreateCount);
        var callsBefore = wootric.Requests.Count;

        // The replay: 9,500 events repeat known users unchanged (identifies with the same traits), 500 change
        // something (half a new plan, half a page visit with a later timestamp). A fixed seed keeps it repeatable.
        var random = new Random(20261204);
        var changing = new HashSet<int>(Enumerable.Range(0, ReplayEvents).OrderBy(_ => random.Next()).Take(ChangingEvents));
        var replay = new List<JsonObject>(ReplayEvents);
        var pageSecond = DateTimeOffset.Parse("2026-12-01T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture);
        for (var index = 0; index < ReplayEvents; index++)
        {
            var user = random.Next(KnownUsers);
            var messageId = $"replay-{index}";
            if (!changing.Contains(index))
            {
                replay.Add(Identify(user, messageId, plans[user]));
            }
            else if (index % 2 == 0)
            {
                plans[user] += "-next";
                replay.Add(Identify(user, messageId, plans[user]));
            }
            else
            {
                pageSecond = pageSecond.AddSeconds(1);
                replay.Add(Page(user, messageId, pageSecond));
            }
        }

        await SendAsync(client, gateway, replay, timeout.Token);

        // Calls are counted once every batch reached the store, every plan change is in Wootric and
        // a quiet window has passed, so no call still on its way is missed.
        var batches = (KnownUsers + ReplayEvents) / BatchSize;
        var settled = await gateway.WaitUntilSettledAsync(
            wootric,
            async token => await gateway.ReadTapOutcomeAsync("handed_off", token) >= batches && HasPlans(wootric, plans),
            timeout.Token);
        Assert.True(settled.IsSettled, settled.LastObservation);

        var calls = wootric.Requests.Count - callsBefore;
        var perEvent = calls / (double)ReplayEvents;
        output.WriteLine($"{store}: {calls} Wootric calls for {ReplayEvents} replayed events = {perEvent:0.0000} per event " +
            $"({wootric.Requests.Skip(callsBefore).Count(r => r.Method == "GET")} GET, {wootric.Requests.Skip(callsBefore).Count(r => r.IsWrite)} writes)");
        Assert.Equal(KnownUsers, wootric.CreateCount);
        Assert.True(perEvent <= MaxCallsPerEvent, $"{calls} Wootric calls for {ReplayEvents} events is {perEvent:0.0000} per event, above {MaxCallsPerEvent}");

        // Every change reached Wootric: the last plan of each user is what Wootric holds.
        var byExternalId = wootric.EndUsers.ToDictionary(user => user.ExternalId!);
        for (var user = 0; user < KnownUsers; user++)
        {
            Assert.Equal(plans[user], byExternalId[UserId(user)].Properties["plan"]);
        }
    }

    private static string UserId(int user) => $"replay-user-{user:0000}";

    /// <summary>Returns whether every known user is in Wootric with its expected plan.</summary>
    private static bool HasPlans(FakeWootricServer wootric, string[] plans)
    {
        var planByExternalId = wootric.EndUsers
            .Where(user => user.ExternalId is not null)
            .ToDictionary(user => user.ExternalId!, user => user.Properties.GetValueOrDefault("plan"));
        return Enumerable.Range(0, plans.Length).All(user => planByExternalId.GetValueOrDefault(UserId(user)) == plans[user]);
    }

    private static JsonObject Identify(int user, string messageId, string plan) => new()
    {
        ["type"] = "identify",
        ["userId"] = UserId(user),
        ["messageId"] = messageId,
        ["traits"] = new JsonObject { ["email"] = $"{UserId(user)}@example.test", ["plan"] = plan },
    };

    private static JsonObject Page(int user, string messageId, DateTimeOffset timestamp) => new()
    {
        ["type"] = "page",
        ["userId"] = UserId(user),
        ["messageId"] = messageId,
        ["timestamp"] = timestamp.ToString("yyyy-MM-ddTHH:mm:ssZ", System.Globalization.CultureInfo.InvariantCulture),
        ["properties"] = new JsonObject { ["url"] = $"https://app.example.test/page/{messageId}" },
    };

    private static async Task SendAsync(HttpClient client, GatewayUnderTest gateway, IEnumerable<JsonObject> events, CancellationToken cancellationToken)
    {
        // Batches go one after another, in order, as one server library instance would flush them.
        foreach (var chunk in events.Chunk(BatchSize))
        {
            var body = new JsonObject { ["batch"] = new JsonArray([.. chunk]), ["writeKey"] = "replay-write-key" };
            using var content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
            using var response = await client.PostAsync(new Uri(gateway.ProxyAddress, "/v1/batch"), content, cancellationToken);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }
}
