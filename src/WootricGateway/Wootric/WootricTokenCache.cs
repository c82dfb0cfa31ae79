using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace WootricGateway.Wootric;

/// <summary>
/// OAuth <c>client_credentials</c> tokens, one per account, kept until shortly before they expire.
/// Concurrent callers share one token request.
/// </summary>
public sealed partial class WootricTokenCache(
    IHttpClientFactory httpClientFactory,
    IOptions<WootricOptions> options,
    TimeProvider timeProvider,
    ILogger<WootricTokenCache> logger)
{
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    /// <summary>Returns a valid token, requesting a new one when none is cached or it is about to expire.</summary>
    public async Task<WootricResult<string>> GetAsync(WootricAccount account, CancellationToken cancellationToken)
    {
        var entry = _entries.GetOrAdd(account.Name, _ => new Entry());
        var now = timeProvider.GetUtcNow();
        if (entry.Token is { } cached && entry.ExpiresAt > now)
        {
            return WootricResult.Ok<string>(cached);
        }

        await entry.Gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (entry.Token is { } refreshed && entry.ExpiresAt > timeProvider.GetUtcNow())
            {
                return WootricResult.Ok<string>(refreshed);
            }

            var result = await RequestAsync(account, cancellationToken).ConfigureAwait(false);
            if (result.IsSuccess)
            {
                entry.Token = result.Value.Token;
                entry.ExpiresAt = timeProvider.GetUtcNow() + result.Value.Lifetime - options.Value.TokenRefreshMargin;
                return WootricResult.Ok<string>(result.Value.Token);
            }

            return result.As<string>();
        }
        finally
        {
            entry.Gate.Release();
        }
    }

    /// <summary>Drops <paramref name="token"/> after Wootric rejected it with 401, unless a newer token replaced it.</summary>
    public void Invalidate(WootricAccount account, string token)
    {
        if (_entries.TryGetValue(account.Name, out var entry) && entry.Token == token)
        {
            entry.Token = null;
        }
    }

    private async Task<WootricResult<(string Token, TimeSpan Lifetime)>> RequestAsync(WootricAccount account, CancellationToken cancellationToken)
    {
        var uri = new Uri(account.AuthBaseUrl.AbsoluteUri.TrimEnd('/') + "/oauth/token");
        using var request = new HttpRequestMessage(HttpMethod.Post, uri)
        {
            Content = new FormUrlEncodedContent(
            [
                new("grant_type", "client_credentials"),
                new("client_id", account.ClientId ?? string.Empty),
                new("client_secret", account.ClientSecret ?? string.Empty),
            ]),
        };

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.RequestTimeout);
        try
        {
            using var response = await httpClientFactory.CreateClient(WootricHttpApi.HttpClientName).SendAsync(request, timeout.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                var body = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
                return ParseToken(body, status);
            }

            var message = await WootricHttpApi.ReadErrorMessageAsync(response, timeout.Token).ConfigureAwait(false);
            LogTokenRejected(logger, account.Name, status);
            return status switch
            {
                >= 500 or 408 or 429 => new(WootricOutcome.Transient, default, status, message),
                _ => new(WootricOutcome.AuthFailed, default, status, message),
            };
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new(WootricOutcome.Transient, default, 0, "The token request timed out.");
        }
        catch (HttpRequestException exception)
        {
            return new(WootricOutcome.Transient, default, 0, "The token request failed: " + exception.HttpRequestError);
        }
    }

    private static WootricResult<(string Token, TimeSpan Lifetime)> ParseToken(string body, int status)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || !root.TryGetProperty("access_token", out var tokenElement)
                || tokenElement.ValueKind != JsonValueKind.String
                || string.IsNullOrEmpty(tokenElement.GetString()))
            {
                return new(WootricOutcome.AuthFailed, default, status, "The token response had no access_token.");
            }

            var lifetime = root.TryGetProperty("expires_in", out var expires) && expires.TryGetInt32(out var seconds) && seconds > 0
                ? TimeSpan.FromSeconds(seconds)
                : TimeSpan.FromHours(2);
            return WootricResult.Ok<(string, TimeSpan)>((tokenElement.GetString()!, lifetime), status);
        }
        catch (JsonException)
        {
            return new(WootricOutcome.Transient, default, status, "The token response was not valid JSON.");
        }
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Wootric rejected the token request for account {Account} with status {StatusCode}")]
    private static partial void LogTokenRejected(ILogger logger, string account, int statusCode);

    private sealed class Entry
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);

        public string? Token { get; set; }

        public DateTimeOffset ExpiresAt { get; set; }
    }
}
