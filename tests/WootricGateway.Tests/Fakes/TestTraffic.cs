using System.Text;

namespace WootricGateway.Tests.Fakes;

/// <summary>Client-side helpers for tests that send identify traffic through a gateway.</summary>
internal static class TestTraffic
{
    /// <summary>Returns a client allowed enough connections for bursts of concurrent requests.</summary>
    public static HttpClient CreateClient() => new(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>Returns a single identify body with an email derived from the user id.</summary>
    public static StringContent Identify(string userId, string messageId, string plan = "team") => new(
        $$$"""{"type":"identify","userId":"{{{userId}}}","messageId":"{{{messageId}}}","traits":{"email":"{{{userId}}}@example.test","plan":"{{{plan}}}"}}""",
        Encoding.UTF8,
        "application/json");
}
