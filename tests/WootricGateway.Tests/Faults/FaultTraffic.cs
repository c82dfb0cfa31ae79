using System.Net;
using System.Text;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.Faults;

/// <summary>
/// The traffic every fault test sends: identifies for new users, one re-sent identify (a client
/// retry), an identify and a page for a user Wootric already has, and a page for a new user. From
/// the second round on, an identify for a second existing user that no earlier round resolved, so
/// a fault at that point hits its lookups.
/// </summary>
internal sealed class FaultTraffic(string prefix)
{
    public const string SeededUser = "seeded-user";
    public const string LateSeededUser = "seeded-late";

    /// <summary>External ids of the users that exist in Wootric before the traffic starts.</summary>
    public static readonly string[] SeededUsers = [SeededUser, LateSeededUser];

    private static readonly DateTimeOffset FirstTimestamp = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private int sequence;

    /// <summary>Copies sent with a messageId already sent, which the gateway must skip as duplicates.</summary>
    public int ResentCopies { get; private set; }

    /// <summary>Adds the users that must exist in Wootric before the traffic starts.</summary>
    public static void SeedWootric(FakeWootricServer wootric)
    {
        foreach (var user in SeededUsers)
        {
            wootric.Seed(null, new EndUserFields { ExternalId = user, Email = user + "@example.test" });
        }
    }

    /// <summary>
    /// Sends one round: <paramref name="newUsers"/> identifies for new users, a re-send of the first,
    /// an identify for the seeded user and a batch with pages for the seeded user and the first new
    /// user. Returns every response's status and body.
    /// </summary>
    public async Task<IReadOnlyList<(HttpStatusCode Status, string Body)>> SendRoundAsync(HttpClient client, Uri proxy, int newUsers, CancellationToken cancellationToken)
    {
        var round = Interlocked.Increment(ref sequence);
        var requests = new List<(string Path, string Body)>();
        for (var i = 0; i < newUsers; i++)
        {
            requests.Add(("/v1/identify", Identify($"{prefix}-{round}-{i}", $"{prefix}-m-{round}-{i}", "plan-" + round)));
        }

        requests.Add(requests[0]);
        ResentCopies++;
        requests.Add(("/v1/identify", Identify(SeededUser, $"{prefix}-seeded-{round}", "seeded-" + round)));
        if (round >= 2)
        {
            requests.Add(("/v1/identify", Identify(LateSeededUser, $"{prefix}-late-{round}", "late-" + round)));
        }

        var pageTime = FirstTimestamp.AddMinutes(round);
        requests.Add(("/v1/batch", $$"""
            {"batch":[{{Page(SeededUser, $"{prefix}-seeded-page-{round}", pageTime)}},{{Page($"{prefix}-{round}-0", $"{prefix}-page-{round}", pageTime)}}]}
            """));

        var sends = requests.Select(async request =>
        {
            using var content = new StringContent(request.Body, Encoding.UTF8, "application/json");
            using var response = await client.PostAsync(new Uri(proxy, request.Path), content, cancellationToken);
            return (response.StatusCode, await response.Content.ReadAsStringAsync(cancellationToken));
        });
        return await Task.WhenAll(sends);
    }

    private static string Identify(string userId, string messageId, string plan) =>
        $$$"""{"type":"identify","userId":"{{{userId}}}","messageId":"{{{messageId}}}","traits":{"email":"{{{userId}}}@example.test","plan":"{{{plan}}}"}}""";

    private static string Page(string userId, string messageId, DateTimeOffset timestamp) =>
        $$$"""{"type":"page","userId":"{{{userId}}}","messageId":"{{{messageId}}}","timestamp":"{{{timestamp:yyyy-MM-ddTHH:mm:ssZ}}}","properties":{"url":"https://www.example.test/{{{messageId}}}"}}""";
}
