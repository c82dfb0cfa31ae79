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
