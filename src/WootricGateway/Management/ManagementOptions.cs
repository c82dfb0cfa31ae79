using System.ComponentModel.DataAnnotations;

namespace WootricGateway.Management;

/// <summary>Settings of the management listener, bound to the <c>Management</c> configuration section.</summary>
public sealed class ManagementOptions : IValidatableObject
{
    public const string SectionName = "Management";

    /// <summary>The shortest bearer token accepted, so a placeholder such as "changeme" fails at startup.</summary>
    public const int MinimumBearerTokenLength = 16;

    /// <summary>
    /// A token that <c>/metrics</c> and <c>/admin/…</c> require as <c>Authorization: Bearer &lt;token&gt;</c>.
    /// <c>/healthz</c> and <c>/readyz</c> stay open for probes. Default: none, so every management
    /// path is open to any client that can reach the listener.
    /// </summary>
    public string? BearerToken { get; set; }

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (BearerToken is { } token && token.Length > 0 && (token.Trim().Length < MinimumBearerTokenLength || token.Trim() != token))
        {
            yield return new ValidationResult(
                $"Management:BearerToken must be at least {MinimumBearerTokenLength} characters without leading or trailing spaces; generate one with 'openssl rand -hex 32'.",
                [nameof(BearerToken)]);
        }
    }
}
