namespace WootricGateway.State;

/// <summary>
/// The gateway's record of one end user: the desired state merged from every event, what
/// Wootric has (as last read or written), and visits waiting to be sent.
/// </summary>
public sealed class UserState
{
    public string? ExternalId { get; set; }

    public string? Email { get; set; }

    public string? PhoneNumber { get; set; }

    public long? ExternalCreatedAt { get; set; }

    /// <summary>Custom properties learned from identify traits, already flattened and sanitized.</summary>
    public Dictionary<string, string> Properties { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Unix seconds of the latest page visit (Properties mode).</summary>
    public long? LastSeenAt { get; set; }

    public string? LastPageUrl { get; set; }

    /// <summary>Page visits waiting to be posted (PageViews mode).</summary>
    public List<PendingPageView> PageViews { get; set; } = [];

    /// <summary>Wootric's end-user id once resolved.</summary>
    public long? WootricId { get; set; }

    /// <summary>What Wootric has for this user, as last read or written; null until resolved.</summary>
    public PushedState? Pushed { get; set; }

    /// <summary>When an event last changed this state.</summary>
    public DateTimeOffset UpdatedAt { get; set; }

    public UserState Clone() => new()
    {
        ExternalId = ExternalId,
        Email = Email,
        PhoneNumber = PhoneNumber,
        ExternalCreatedAt = ExternalCreatedAt,
        Properties = new Dictionary<string, string>(Properties, StringComparer.Ordinal),
        LastSeenAt = LastSeenAt,
        LastPageUrl = LastPageUrl,
        PageViews = [.. PageViews],
        WootricId = WootricId,
        Pushed = Pushed?.Clone(),
        UpdatedAt = UpdatedAt,
    };
}

/// <summary>The end-user fields Wootric holds, as last read from or written to it.</summary>
public sealed class PushedState
{
    public string? Email { get; set; }

    public string? ExternalId { get; set; }

    public string? PhoneNumber { get; set; }

    public long? ExternalCreatedAt { get; set; }

    public Dictionary<string, string> Properties { get; set; } = new(StringComparer.Ordinal);

    public PushedState Clone() => new()
    {
        Email = Email,
        ExternalId = ExternalId,
        PhoneNumber = PhoneNumber,
        ExternalCreatedAt = ExternalCreatedAt,
        Properties = new Dictionary<string, string>(Properties, StringComparer.Ordinal),
    };
}

/// <summary>A page visit waiting to be posted: an id for removal, the URL and the visit time.</summary>
public sealed record PendingPageView(string Id, string? Url, long At, DateTimeOffset QueuedAt);
