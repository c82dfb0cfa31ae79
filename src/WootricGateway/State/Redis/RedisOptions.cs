using System.ComponentModel.DataAnnotations;

namespace WootricGateway.State.Redis;

/// <summary>Redis settings, bound to the <c>Redis</c> configuration section.</summary>
public sealed class RedisOptions
{
    public const string SectionName = "Redis";

    /// <summary>
    /// A StackExchange.Redis configuration string (for example <c>redis:6379,password=…</c>). Empty
    /// keeps every store in process memory. Default: empty.
    /// </summary>
    public string? Configuration { get; set; }

    /// <summary>Prefix of every key the gateway writes, so several gateways can share one Redis. Default: <c>wg</c>.</summary>
    [RegularExpression("^[A-Za-z0-9_.-]{1,64}$")]
    public string KeyPrefix { get; set; } = "wg";

    /// <summary>Time limit for one Redis command as the gateway waits for it. Default: 2 seconds.</summary>
    public TimeSpan OperationTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How long a cached Wootric end-user id lives without use. Default: 30 days.</summary>
    public TimeSpan IdCacheTtl { get; set; } = TimeSpan.FromDays(30);

    /// <summary>How long a user's state lives after its last change. Default: 90 days.</summary>
    public TimeSpan StateTtl { get; set; } = TimeSpan.FromDays(90);

    /// <summary>How long a messageId is remembered for de-duplication. Default: 24 hours.</summary>
    public TimeSpan DeduplicationWindow { get; set; } = TimeSpan.FromHours(24);

    /// <summary>
    /// How long a delivered work item may stay unacknowledged before another replica claims it,
    /// for example after a crash. Must exceed the slowest sync. Default: 3 minutes.
    /// </summary>
    public TimeSpan ClaimIdleTimeout { get; set; } = TimeSpan.FromMinutes(3);

    /// <summary>How often an idle replica polls the work stream. Default: 100 milliseconds.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// Tapped requests kept in memory while Redis is unreachable, applied when it returns; more are
    /// dropped and counted. Default: 10,000.
    /// </summary>
    [Range(0, 10_000_000)]
    public int OutageBufferCapacity { get; set; } = 10_000;

    /// <summary>This replica's consumer name in the stream's consumer group. Default: host name and process id.</summary>
    public string? ConsumerName { get; set; }

    public bool IsEnabled => !string.IsNullOrWhiteSpace(Configuration);
}
