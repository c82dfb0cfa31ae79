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

    /// <summary>Tap only requests to which the upstream responded with 2xx. Default: true.</summary>
    public bool OnlySuccessfulResponses { get; set; } = true;
}
