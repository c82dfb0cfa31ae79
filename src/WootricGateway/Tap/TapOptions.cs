using System.ComponentModel.DataAnnotations;

namespace WootricGateway.Tap;

/// <summary>Settings of the tap, bound to the <c>Tap</c> configuration section.</summary>
public sealed class TapOptions
{
    public const string SectionName = "Tap";

    /// <summary>Whether the tap reads traffic at all. Default: true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// The maximum request body size (as sent, before decompression) copied for parsing, in bytes; longer bodies
    /// are still forwarded whole but not tapped. Default: 1 MiB, twice Segment's 500 KB batch limit.
    /// </summary>
    [Range(1024, 64 * 1024 * 1024)]
    public long CaptureLimitBytes { get; set; } = 1024 * 1024;

    /// <summary>The most bytes a compressed body may expand to before it is skipped. Default: 8 MiB.</summary>
    [Range(1024, 256 * 1024 * 1024)]
    public long MaxDecodedBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>The most JSON nesting depth the parser reads; deeper bodies are skipped. Default: 64.</summary>
    [Range(4, 256)]
    public int MaxJsonDepth { get; set; } = 64;

    /// <summary>Captured bodies that may wait for the parser; more are dropped and counted. Default: 2048.</summary>
    [Range(1, 1_000_000)]
    public int QueueCapacity { get; set; } = 2048;

    /// <summary>
    /// The maximum memory (pooled buffer bytes) that captured bodies waiting for the parser may use; more
    /// are dropped and counted. Bounds the tap's memory however large the bodies are. Default: 8 MiB.
    /// </summary>
    [Range(64 * 1024, 4L * 1024 * 1024 * 1024)]
    public long QueueCapacityBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>
    /// The share of one CPU core the parser may spend decoding and parsing, averaged over about a second.
    /// When traffic needs more, the parser pauses, the queue fills and further captures are dropped and
    /// counted, so the tap never takes CPU from proxying beyond this budget. 0 disables the budget.
    /// Default: 0.5.
    /// </summary>
    [Range(0.0, 64.0)]
    public double ParserCpuShare { get; set; } = 0.5;

    /// <summary>
    /// How long the parser waits after working through a burst before it looks at the queue again, so that
    /// under load it wakes once per burst rather than once per request. Default: 2 ms; 0 disables it.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:00:01")]
    public TimeSpan ParserBatchDelay { get; set; } = TimeSpan.FromMilliseconds(2);

    /// <summary>
    /// The Linux nice value of the parser thread, 0 (the proxy's own priority) to 19 (lowest). While the
    /// CPU is free the parser runs at full speed within <see cref="ParserCpuShare"/>. When proxying needs
    /// every core, the kernel gives the proxy threads precedence, so the tap slows down (and drops and
    /// counts captures once its queue is full) rather than the proxy. Ignored on other systems. Default: 19.
    /// </summary>
    [Range(0, 19)]
    public int ParserNice { get; set; } = 19;

    /// <summary>Tap only requests to which the upstream responded with 2xx. Default: true.</summary>
    public bool OnlySuccessfulResponses { get; set; } = true;
}
