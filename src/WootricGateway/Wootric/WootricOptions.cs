using System.ComponentModel.DataAnnotations;

namespace WootricGateway.Wootric;

/// <summary>How page events reach Wootric.</summary>
public enum PageVisitMode
{
    /// <summary><c>last_seen_date</c> and <c>last_page_url</c> properties on the end user.</summary>
    Properties,

    /// <summary><c>POST /v1/end_users/{id}/page_views</c> with <c>url</c> and <c>at</c>.</summary>
    PageViews,

    /// <summary>Page events are ignored.</summary>
    Off,
}

/// <summary>One Wootric account: credentials, hosts and the write keys whose traffic it receives.</summary>
public class WootricAccountOptions
{
    /// <summary>The account token (<c>NPS-…</c>, also <c>NPS_…</c>); an <c>NPS-EU-</c>/<c>NPS-AU-</c> prefix selects that region.</summary>
    public string? AccountToken { get; set; }

    /// <summary>API client id. Without it and <see cref="ClientSecret"/> the account runs dry: calls are logged, not sent.</summary>
    public string? ClientId { get; set; }

    /// <summary>API client secret; a secret, never logged.</summary>
    public string? ClientSecret { get; set; }

    /// <summary>Base of the REST API; end users live at <c>{ApiBaseUrl}/v1/end_users</c>. Default: per region.</summary>
    public string? ApiBaseUrl { get; set; }

    /// <summary>Base of the OAuth server; tokens come from <c>{AuthBaseUrl}/oauth/token</c>. Default: per region.</summary>
    public string? AuthBaseUrl { get; set; }

    /// <summary>Write keys whose events go to this account. Empty on the default account: all unmapped traffic.</summary>
    public List<string> WriteKeys { get; set; } = [];

    /// <summary>The most Wootric requests per minute for this account (all operations). Default: 90.</summary>
    [Range(1, 100_000)]
    public int RequestsPerMinute { get; set; } = 90;
}

/// <summary>Wootric settings, bound to the <c>Wootric</c> configuration section.</summary>
public sealed class WootricOptions : WootricAccountOptions
{
    public const string SectionName = "Wootric";

    /// <summary>How page events are applied. Default: <see cref="PageVisitMode.Properties"/>.</summary>
    public PageVisitMode PageVisits { get; set; } = PageVisitMode.Properties;

    /// <summary>Time limit for one Wootric request. Default: 15 seconds.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long before expiry a cached OAuth token is replaced. Default: 5 minutes.</summary>
    public TimeSpan TokenRefreshMargin { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Further accounts by name, each with the write keys whose traffic it receives.</summary>
    public Dictionary<string, WootricAccountOptions> Accounts { get; set; } = [];
}
