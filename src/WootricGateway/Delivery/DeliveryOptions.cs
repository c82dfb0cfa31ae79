using System.ComponentModel.DataAnnotations;

namespace WootricGateway.Delivery;

/// <summary>How user syncs are run and retried, bound to the <c>Delivery</c> configuration section.</summary>
public sealed class DeliveryOptions
{
    public const string SectionName = "Delivery";

    /// <summary>Users synced at the same time by this instance. Default: 4.</summary>
    [Range(1, 256)]
    public int Concurrency { get; set; } = 4;

    /// <summary>Failed attempts (5xx, timeouts, network errors) before a user's sync is dead-lettered. Default: 12.</summary>
    [Range(1, 1000)]
    public int MaxAttempts { get; set; } = 12;

    /// <summary>The first retry delay; each further attempt doubles it, with jitter. Default: 2 seconds.</summary>
    public TimeSpan RetryBaseDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>The longest retry delay. Default: 5 minutes.</summary>
    public TimeSpan RetryMaxDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// How long a user's lease lasts without renewal. A running sync renews it every third of this,
    /// so this is also how long a crashed replica blocks the user. Default: 30 seconds.
    /// </summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a page visit waits for its user to exist in Wootric before it is dropped. Default: 7 days.</summary>
    public TimeSpan PendingPageViewTtl { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Page visits kept per user while waiting (PageViews mode); older ones are dropped first. Default: 100.</summary>
    [Range(1, 10_000)]
    public int MaxPendingPageViews { get; set; } = 100;

    /// <summary>
    /// Without Redis: the most users whose state and Wootric id are kept in memory. Past it, the users
    /// seen longest ago with no work waiting are forgotten; if they come back they are looked up in
    /// Wootric again. Bounds memory against traffic with ever new users. Default: 100,000.
    /// </summary>
    [Range(100, 100_000_000)]
    public int MaxInMemoryUsers { get; set; } = 100_000;
}
