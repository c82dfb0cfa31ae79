namespace WootricGateway.Hosting;

/// <summary>General gateway settings, bound to the <c>Gateway</c> configuration section.</summary>
public sealed class GatewayOptions
{
    public const string SectionName = "Gateway";

    /// <summary>
    /// A path prefix clients put before the Segment paths (for example <c>/segment</c>), removed
    /// before forwarding and before the tap reads the path. Default: none.
    /// </summary>
    public string? PathPrefix { get; set; }

    /// <summary>
    /// How long a stopping gateway (SIGTERM) waits for in-flight proxied requests, the tap queue and
    /// running user syncs, all together, before it exits anyway. Default: 20 seconds, so it ends
    /// within Kubernetes' default 30 s grace period after the chart's 5 s preStop sleep.
    /// </summary>
    public TimeSpan ShutdownTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Whether socket completions continue on the socket threads instead of being queued to the thread pool
    /// (the runtime's inline socket completions). It saves a thread-pool hop per read and write. It suits the
    /// gateway because its request path only copies, forwards and queues captures, and waits on nothing but I/O.
    /// Default: true. See <see cref="WootricGateway.Hosting.InlineScheduling"/>.
    /// </summary>
    public bool InlineScheduling { get; set; } = true;

    /// <summary>The prefix with one leading slash and no trailing slash, or null when none is set.</summary>
    public string? NormalizedPathPrefix
    {
        get
        {
            var trimmed = PathPrefix?.Trim().Trim('/');
            return string.IsNullOrEmpty(trimmed) ? null : "/" + trimmed;
        }
    }
}
