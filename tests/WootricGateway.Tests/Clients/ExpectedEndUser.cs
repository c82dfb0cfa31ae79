using WootricGateway.Tests.Conformance;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.Clients;

/// <summary>An end user a client test expects the fake Wootric to hold once the gateway is idle.</summary>
internal sealed record ExpectedEndUser(string? ExternalId, string Email, string? ExternalCreatedAt, IReadOnlyDictionary<string, string> Properties)
{
    /// <summary>
    /// Returns whether the fake Wootric contains exactly <paramref name="expected"/> (matched by email)
    /// with the expected external id, <c>external_created_at</c> and properties. A settle wait uses it
    /// as the state to reach before its quiet window; <see cref="AssertEndUsers"/> checks the rest.
    /// </summary>
    public static bool AreInWootric(FakeWootricServer wootric, params ExpectedEndUser[] expected)
    {
        var users = wootric.EndUsers;
        return users.Count == expected.Length && expected.All(want => IsMatch(users.Where(candidate => candidate.Email == want.Email).ToList(), want));
    }

    /// <summary>Waits until Wootric contains <paramref name="expected"/> and the gateway has then been quiet for a second.</summary>
    public static Task<SettleResult> SettleAsync(GatewayUnderTest gateway, FakeWootricServer wootric, CancellationToken cancellationToken, params ExpectedEndUser[] expected) =>
        gateway.WaitUntilSettledAsync(wootric, () => AreInWootric(wootric, expected), cancellationToken);

    private static bool IsMatch(List<FakeEndUser> candidates, ExpectedEndUser want) =>
        candidates is [var user]
        && user.ExternalId == want.ExternalId
        && user.ExternalCreatedAt == want.ExternalCreatedAt
        && user.Properties.Count == want.Properties.Count
        && want.Properties.All(pair => user.Properties.TryGetValue(pair.Key, out var value) && value == pair.Value);

    /// <summary>
    /// Checks that the fake Wootric contains exactly <paramref name="expected"/> (matched by email), each
    /// created once, never with <c>last_surveyed</c>, and that no request broke Wootric's API rules.
    /// </summary>
    public static void AssertEndUsers(FakeWootricServer wootric, params ExpectedEndUser[] expected)
    {
        var users = wootric.EndUsers;
        Assert.True(
            users.Count == expected.Length,
            $"expected {expected.Length} end user(s), Wootric has {users.Count}: {string.Join(", ", users.Select(user => user.Email))}");
        foreach (var want in expected)
        {
            var user = users.SingleOrDefault(candidate => candidate.Email == want.Email);
            Assert.True(user is not null, $"no end user with email {want.Email}");
            Assert.Equal(want.ExternalId, user.ExternalId);
            Assert.Equal(want.ExternalCreatedAt, user.ExternalCreatedAt);
            Assert.Null(user.LastSurveyed);
            Assert.Equal(
                want.Properties.OrderBy(pair => pair.Key, StringComparer.Ordinal).ToList(),
                user.Properties.OrderBy(pair => pair.Key, StringComparer.Ordinal).ToList());
        }

        Assert.Equal(expected.Length, wootric.CreateCount);
        Assert.Empty(wootric.Violations);
    }
}
