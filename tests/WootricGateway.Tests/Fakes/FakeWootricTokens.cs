using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace WootricGateway.Tests.Fakes;

/// <summary>
/// OAuth <c>client_credentials</c> tokens for one client id and secret, as Wootric's Doorkeeper
/// server issues them. Thread-safe.
/// </summary>
internal sealed class FakeWootricTokens(string clientId, string clientSecret, TimeProvider time)
{
    /// <summary>Wootric's documented token lifetime.</summary>
    public static readonly TimeSpan DefaultLifetime = TimeSpan.FromHours(2);

    private readonly Lock gate = new();
    private readonly Dictionary<string, DateTimeOffset> expiryByToken = new(StringComparer.Ordinal);
    private readonly List<string> issued = [];
    private TimeSpan lifetime = DefaultLifetime;
    private int issuedCount;

    /// <summary>Lifetime of tokens issued from now on, also sent as <c>expires_in</c>.</summary>
    public TimeSpan Lifetime
    {
        get
        {
            lock (gate)
            {
                return lifetime;
            }
        }
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(value, TimeSpan.Zero);
            lock (gate)
            {
                lifetime = value;
            }
        }
    }

    public int IssuedCount
    {
        get
        {
            lock (gate)
            {
                return issuedCount;
            }
        }
    }

    /// <summary>Every token issued so far, revoked or not, so tests can search outputs for them.</summary>
    public IReadOnlyList<string> IssuedTokens
    {
        get
        {
            lock (gate)
            {
                return [.. issued];
            }
        }
    }

    /// <summary>Handles <c>POST /oauth/token</c> with a form body.</summary>
    public FakeWootricResponse Issue(IReadOnlyDictionary<string, string> form)
    {
        if (form.GetValueOrDefault("grant_type") != "client_credentials")
        {
            return FakeWootricResponse.Json(StatusCodes.Status400BadRequest, new JsonObject
            {
                ["error"] = "unsupported_grant_type",
                ["error_description"] = "The authorization grant type is not supported by the authorization server.",
            });
        }

        if (form.GetValueOrDefault("client_id") != clientId || form.GetValueOrDefault("client_secret") != clientSecret)
        {
            return FakeWootricResponse.Json(StatusCodes.Status401Unauthorized, new JsonObject
            {
                ["error"] = "invalid_client",
                ["error_description"] = "Client authentication failed due to unknown client, no client authentication included, or unsupported authentication method.",
            });
        }

        var token = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var now = time.GetUtcNow();
        TimeSpan issuedLifetime;
        lock (gate)
        {
            issuedLifetime = lifetime;
            expiryByToken[token] = now + issuedLifetime;
            issued.Add(token);
            issuedCount++;
        }

        return FakeWootricResponse.Json(StatusCodes.Status200OK, new JsonObject
        {
            ["access_token"] = token,
            ["token_type"] = "bearer",
            ["expires_in"] = (long)issuedLifetime.TotalSeconds,
            ["scope"] = "public",
            ["created_at"] = now.ToUnixTimeSeconds(),
        });
    }

    /// <summary>Returns whether the token was issued, is not revoked and has not expired.</summary>
    public bool IsValid(string token)
    {
        lock (gate)
        {
            return expiryByToken.TryGetValue(token, out var expiry) && time.GetUtcNow() < expiry;
        }
    }

    /// <summary>Revokes every token issued so far. Tokens issued later work.</summary>
    public void RevokeAll()
    {
        lock (gate)
        {
            expiryByToken.Clear();
        }
    }
}
