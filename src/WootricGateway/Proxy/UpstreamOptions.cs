using System.ComponentModel.DataAnnotations;

namespace WootricGateway.Proxy;

/// <summary>Where and how traffic is forwarded, bound to the <c>Upstream</c> configuration section.</summary>
public sealed class UpstreamOptions : IValidatableObject
{
    public const string SectionName = "Upstream";

    /// <summary>The Segment-compatible endpoint every request goes to. Default: <c>https://api.segment.io</c>.</summary>
    public string Address { get; set; } = "https://api.segment.io";

    /// <summary>
    /// How long a pooled upstream connection is reused before it is replaced, so DNS changes are
    /// followed (Segment's addresses change). Default: 2 minutes.
    /// </summary>
    public TimeSpan PooledConnectionLifetime { get; set; } = TimeSpan.FromMinutes(2);

    /// <summary>How long to wait for a TCP (and TLS) connection to the upstream. Default: 10 seconds.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long a forwarded request may go without any progress before the gateway responds with 504.
    /// Default: 60 seconds.
    /// </summary>
    public TimeSpan ActivityTimeout { get; set; } = TimeSpan.FromSeconds(60);

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        // The address is not repeated in these messages, because it may contain a password or a write key.
        if (!Uri.TryCreate(Address, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            yield return new ValidationResult(
                "Upstream:Address is not an absolute http or https URL. Set it to the ingestion endpoint, for example https://api.segment.io.",
                [nameof(Address)]);
        }
        else
        {
            if (uri.UserInfo.Length > 0)
            {
                yield return new ValidationResult(
                    "Upstream:Address contains a user name or password, which the proxy never sends because it forwards each client's own Authorization header. Remove them from the address.",
                    [nameof(Address)]);
            }

            if (uri.Query.Length > 0 || uri.Fragment.Length > 0)
            {
                yield return new ValidationResult(
                    "Upstream:Address contains a query string or a fragment, and each request's path would be appended after it. Remove it from the address.",
                    [nameof(Address)]);
            }
        }

        if (PooledConnectionLifetime <= TimeSpan.Zero)
        {
            yield return new ValidationResult("Upstream:PooledConnectionLifetime must be positive so DNS changes are followed.", [nameof(PooledConnectionLifetime)]);
        }

        if (ConnectTimeout <= TimeSpan.Zero || ActivityTimeout <= TimeSpan.Zero)
        {
            yield return new ValidationResult("Upstream:ConnectTimeout and Upstream:ActivityTimeout must be positive.", [nameof(ConnectTimeout)]);
        }
    }
}
