using System.Security.Cryptography;
using System.Text;

namespace WootricGateway.Management;

/// <summary>
/// Checks <c>Authorization: Bearer &lt;token&gt;</c> on the management listener when
/// <see cref="ManagementOptions.BearerToken"/> is set. Probe paths (<c>/healthz</c>, <c>/readyz</c>)
/// stay open because they reveal nothing and kubelet probes carry no secret.
/// </summary>
internal sealed class ManagementAuthentication
{
    private const string Scheme = "Bearer ";

    // Hashes of equal length are compared, so the comparison takes the same time whatever the token's length.
    private readonly byte[]? expectedHash;

    public ManagementAuthentication(string? bearerToken)
    {
        expectedHash = string.IsNullOrEmpty(bearerToken) ? null : SHA256.HashData(Encoding.UTF8.GetBytes(bearerToken));
    }

    /// <summary>True when a token is configured.</summary>
    public bool IsEnabled => expectedHash is not null;

    public static bool IsProbePath(PathString path) =>
        path.Equals("/healthz", StringComparison.Ordinal) || path.Equals("/readyz", StringComparison.Ordinal);

    /// <summary>Returns whether the request may use <paramref name="context"/>'s path.</summary>
    public bool IsAuthorized(HttpContext context)
    {
        if (expectedHash is null || IsProbePath(context.Request.Path))
        {
            return true;
        }

        var authorization = context.Request.Headers.Authorization;
        if (authorization.Count != 1 || authorization[0] is not { } value || !value.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var presentedHash = SHA256.HashData(Encoding.UTF8.GetBytes(value.AsSpan(Scheme.Length).Trim().ToString()));
        return CryptographicOperations.FixedTimeEquals(presentedHash, expectedHash);
    }

    /// <summary>Writes the 401 response: a <c>WWW-Authenticate</c> challenge and a JSON body without detail.</summary>
    public static Task WriteChallengeAsync(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = "Bearer realm=\"wootric-gateway-management\"";
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(
            """{"error":"unauthorized","message":"This management endpoint requires Authorization: Bearer <Management__BearerToken>."}""",
            context.RequestAborted);
    }
}
