namespace WootricGateway.Wootric;

/// <summary>A configured Wootric account with its resolved hosts.</summary>
public sealed record WootricAccount(
    string Name,
    string? AccountToken,
    string? ClientId,
    string? ClientSecret,
    Uri ApiBaseUrl,
    Uri AuthBaseUrl,
    int RequestsPerMinute)
{
    /// <summary>True when no API credentials are configured: calls are logged instead of sent.</summary>
    public bool IsDryRun => string.IsNullOrEmpty(ClientId) || string.IsNullOrEmpty(ClientSecret);

    /// <summary>Omits the credentials, so an account never prints a secret.</summary>
    public override string ToString() => $"WootricAccount {{ Name = {Name}, ApiBaseUrl = {ApiBaseUrl}, DryRun = {IsDryRun} }}";
}

/// <summary>Default Wootric hosts by region; the account token's prefix picks the region.</summary>
public static class WootricRegions
{
    /// <summary>Returns <c>com</c>, <c>eu</c> or <c>au</c> for an account token.</summary>
    public static string TopLevelDomain(string? accountToken)
    {
        var token = accountToken?.Trim().Replace('_', '-').ToUpperInvariant() ?? string.Empty;
        if (token.StartsWith("NPS-EU-", StringComparison.Ordinal))
        {
            return "eu";
        }

        return token.StartsWith("NPS-AU-", StringComparison.Ordinal) ? "au" : "com";
    }

    /// <summary>The REST API base for the token's region, for example <c>https://app.wootric.eu/api</c>.</summary>
    public static Uri DefaultApiBase(string? accountToken) => new($"https://app.wootric.{TopLevelDomain(accountToken)}/api");

    /// <summary>The OAuth base for the token's region, for example <c>https://app.wootric.eu</c>.</summary>
    public static Uri DefaultAuthBase(string? accountToken) => new($"https://app.wootric.{TopLevelDomain(accountToken)}");
}
