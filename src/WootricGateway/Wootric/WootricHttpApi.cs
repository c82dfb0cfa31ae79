using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Options;
using WootricGateway.Metrics;

namespace WootricGateway.Wootric;

/// <summary>
/// Wootric's REST API over HTTP: form-encoded bodies, a Bearer token refreshed once on 401, the
/// account's request budget, and waits on 429 until <c>X-Rate-Limit-Reset</c>. Failures come back
/// as <see cref="WootricOutcome"/> values; only cancellation throws.
/// </summary>
public sealed partial class WootricHttpApi(
    IHttpClientFactory httpClientFactory,
    WootricTokenCache tokens,
    AccountRateLimiter rateLimiter,
    IOptions<WootricOptions> options,
    GatewayMetrics metrics,
    TimeProvider timeProvider,
    ILogger<WootricHttpApi> logger) : IWootricApi
{
    /// <summary>The name of the <see cref="IHttpClientFactory"/> client used for every Wootric call.</summary>
    public const string HttpClientName = "wootric";

    /// <summary>How many 429 waits one request makes before it returns <see cref="WootricOutcome.RateLimited"/>.</summary>
    private const int MaxRateLimitWaits = 3;

    /// <summary>The longest single 429 wait made inside a request; longer ones are left to the delivery loop.</summary>
    private static readonly TimeSpan MaxInlineRateLimitWait = TimeSpan.FromSeconds(65);

    public Task<WootricResult<WootricEndUser>> FindByExternalIdAsync(WootricAccount account, string externalId, CancellationToken cancellationToken) =>
        SendForUserAsync(account, "lookup_external_id", HttpMethod.Get, $"/v1/end_users/{Uri.EscapeDataString(externalId)}?lookup_by_external_id=true", null, notFoundIsResult: true, cancellationToken);

    public async Task<WootricResult<WootricEndUser>> FindByEmailAsync(WootricAccount account, string email, CancellationToken cancellationToken)
    {
        // The list filter returns an array of zero or one user; it avoids putting an email in the path.
        var result = await SendAsync(account, "lookup_email", HttpMethod.Get, $"/v1/end_users?email={Uri.EscapeDataString(email)}", null, cancellationToken).ConfigureAwait(false);
        if (!result.IsSuccess)
        {
            return result.Outcome == WootricOutcome.Rejected && result.StatusCode == 404
                ? new(WootricOutcome.NotFound, null, 404, null)
                : result.As<WootricEndUser>();
        }

        var user = ParseUser(result.Value);
        if (user is not null)
        {
            return WootricResult.Ok<WootricEndUser>(user);
        }

        return IsEmptyAnswer(result.Value)
            ? new(WootricOutcome.NotFound, null, result.StatusCode, null)
            : new(WootricOutcome.Transient, null, result.StatusCode, "Wootric's answer to the email lookup was not a list of end users.");
    }

    public Task<WootricResult<WootricEndUser>> GetAsync(WootricAccount account, long id, CancellationToken cancellationToken) =>
        SendForUserAsync(account, "get", HttpMethod.Get, $"/v1/end_users/{id.ToString(CultureInfo.InvariantCulture)}", null, notFoundIsResult: true, cancellationToken);

    public Task<WootricResult<WootricEndUser>> CreateAsync(WootricAccount account, EndUserWrite write, CancellationToken cancellationToken) =>
        SendForUserAsync(account, "create", HttpMethod.Post, "/v1/end_users", ToForm(write), notFoundIsResult: false, cancellationToken);

    public Task<WootricResult<WootricEndUser>> UpdateAsync(WootricAccount account, long id, EndUserWrite write, CancellationToken cancellationToken) =>
        SendForUserAsync(account, "update", HttpMethod.Put, $"/v1/end_users/{id.ToString(CultureInfo.InvariantCulture)}", ToForm(write), notFoundIsResult: true, cancellationToken);

    public async Task<WootricResult<bool>> AddPageViewAsync(WootricAccount account, long id, string? url, long at, CancellationToken cancellationToken)
    {
        var form = new List<KeyValuePair<string, string>> { new("at", at.ToString(CultureInfo.InvariantCulture)) };
        if (url is not null)
        {
            form.Add(new("url", url));
        }

        var result = await SendAsync(account, "page_view", HttpMethod.Post, $"/v1/end_users/{id.ToString(CultureInfo.InvariantCulture)}/page_views", form, cancellationToken).ConfigureAwait(false);
        return result.IsSuccess ? WootricResult.Ok<bool>(true, result.StatusCode) : result.As<bool>();
    }

    /// <summary>Returns Wootric's error text from a failed response, with emails masked and length capped.</summary>
    internal static async Task<string?> ReadErrorMessageAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        string body;
        try
        {
            body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException)
        {
            return null;
        }

        var message = ExtractMessage(body) ?? body;
        message = EmailPattern().Replace(message, "***@***");
        return message.Length > 300 ? message[..300] : message;
    }

    private async Task<WootricResult<WootricEndUser>> SendForUserAsync(
        WootricAccount account,
        string operation,
        HttpMethod method,
        string pathAndQuery,
        List<KeyValuePair<string, string>>? form,
        bool notFoundIsResult,
        CancellationToken cancellationToken)
    {
        var result = await SendAsync(account, operation, method, pathAndQuery, form, cancellationToken).ConfigureAwait(false);
        if (!result.IsSuccess)
        {
            if (notFoundIsResult && result.Outcome == WootricOutcome.Rejected && result.StatusCode == 404)
            {
                return new(WootricOutcome.NotFound, null, 404, result.Message);
            }

            return result.As<WootricEndUser>();
        }

        var user = ParseUser(result.Value);
        if (user is null)
        {
            // Some Wootric lookups return 200 with an empty body (or an empty list) for a miss. Any
            // other body without a user (an HTML error page, truncated JSON) is a failed call: read
            // as a miss, it would make the sync create a user that may exist.
            return method == HttpMethod.Get && IsEmptyAnswer(result.Value)
                ? new(WootricOutcome.NotFound, null, result.StatusCode, null)
                : new(WootricOutcome.Transient, null, result.StatusCode, "Wootric's answer had no end-user id.");
        }

        return WootricResult.Ok<WootricEndUser>(user, result.StatusCode);
    }

    /// <summary>
    /// Sends one request: token, budget, timeout; one new token on 401; waits on 429. Returns the
    /// response body on success.
    /// </summary>
    private async Task<WootricResult<string>> SendAsync(
        WootricAccount account,
        string operation,
        HttpMethod method,
        string pathAndQuery,
        List<KeyValuePair<string, string>>? form,
        CancellationToken cancellationToken)
    {
        var uri = new Uri(account.ApiBaseUrl.AbsoluteUri.TrimEnd('/') + pathAndQuery);
        var refreshedToken = false;
        var rateLimitWaits = 0;

        while (true)
        {
            var token = await tokens.GetAsync(account, cancellationToken).ConfigureAwait(false);
            if (!token.IsSuccess)
            {
                return token.As<string>();
            }

            await rateLimiter.WaitAsync(account, cancellationToken).ConfigureAwait(false);
            var attempt = await SendOnceAsync(operation, method, uri, form, token.Value!, cancellationToken).ConfigureAwait(false);

            if (attempt.StatusCode == (int)HttpStatusCode.Unauthorized && !refreshedToken)
            {
                tokens.Invalidate(account, token.Value!);
                refreshedToken = true;
                LogTokenRefreshed(logger, account.Name, operation);
                continue;
            }

            if (attempt.StatusCode == (int)HttpStatusCode.TooManyRequests)
            {
                var wait = attempt.RetryAfter ?? TimeSpan.FromSeconds(60);
                rateLimiter.PauseUntil(account, timeProvider.GetUtcNow() + wait);
                if (++rateLimitWaits > MaxRateLimitWaits || wait > MaxInlineRateLimitWait)
                {
                    return attempt with { Outcome = WootricOutcome.RateLimited };
                }

                LogRateLimited(logger, account.Name, operation, wait.TotalSeconds);
                continue;
            }

            return attempt;
        }
    }

    private async Task<WootricResult<string>> SendOnceAsync(
        string operation,
        HttpMethod method,
        Uri uri,
        List<KeyValuePair<string, string>>? form,
        string token,
        CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, uri);
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", token);
        request.Headers.Accept.ParseAdd("application/json");
        if (form is not null)
        {
            request.Content = new FormUrlEncodedContent(form);
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.RequestTimeout);
        var started = Stopwatch.GetTimestamp();
        var statusClass = "none";
        try
        {
            using var response = await httpClientFactory.CreateClient(WootricHttpApi.HttpClientName).SendAsync(request, HttpCompletionOption.ResponseContentRead, timeout.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            statusClass = GatewayMetrics.StatusClass(status);

            if (response.IsSuccessStatusCode)
            {
                var body = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
                return WootricResult.Ok<string>(body, status);
            }

            var message = await ReadErrorMessageAsync(response, timeout.Token).ConfigureAwait(false);
            var outcome = status switch
            {
                401 => WootricOutcome.AuthFailed,
                422 => WootricOutcome.Conflict,
                408 or 429 or >= 500 => WootricOutcome.Transient,
                _ => WootricOutcome.Rejected,
            };
            return new WootricResult<string>(outcome, null, status, message, ReadRateLimitReset(response));
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            statusClass = "timeout";
            return new(WootricOutcome.Transient, null, 0, $"The {operation} request timed out.");
        }
        catch (HttpRequestException exception)
        {
            statusClass = "network_error";
            return new(WootricOutcome.Transient, null, 0, $"The {operation} request failed: {exception.HttpRequestError}.");
        }
        finally
        {
            metrics.WootricRequests.WithLabels(operation, statusClass).Inc();
            metrics.WootricDuration.WithLabels(operation).Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
    }

    /// <summary>Reads <c>X-Rate-Limit-Reset</c> (unix seconds), else <c>Retry-After</c> (seconds), as a wait from now.</summary>
    private TimeSpan? ReadRateLimitReset(HttpResponseMessage response)
    {
        if (response.Headers.TryGetValues("X-Rate-Limit-Reset", out var values)
            && long.TryParse(values.FirstOrDefault(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var resetAt))
        {
            var wait = DateTimeOffset.FromUnixTimeSeconds(resetAt) - timeProvider.GetUtcNow();
            return wait > TimeSpan.Zero ? wait + TimeSpan.FromMilliseconds(100) : TimeSpan.FromMilliseconds(100);
        }

        return response.Headers.RetryAfter?.Delta;
    }

    private static List<KeyValuePair<string, string>> ToForm(EndUserWrite write)
    {
        var form = new List<KeyValuePair<string, string>>();
        if (write.Email is not null)
        {
            form.Add(new("email", write.Email));
        }

        if (write.ExternalId is not null)
        {
            form.Add(new("external_id", write.ExternalId));
        }

        if (write.PhoneNumber is not null)
        {
            form.Add(new("phone_number", write.PhoneNumber));
        }

        if (write.ExternalCreatedAt is { } createdAt)
        {
            form.Add(new("external_created_at", createdAt.ToString(CultureInfo.InvariantCulture)));
        }

        if (write.Properties is not null)
        {
            foreach (var (key, value) in write.Properties.OrderBy(pair => pair.Key, StringComparer.Ordinal))
            {
                form.Add(new($"properties[{key}]", value));
            }
        }

        return form;
    }

    /// <summary>Returns whether a 200 body means "no such user": empty, <c>null</c> or an empty JSON array.</summary>
    private static bool IsEmptyAnswer(string? body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return true;
        }

        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            return root.ValueKind == JsonValueKind.Null || (root.ValueKind == JsonValueKind.Array && root.GetArrayLength() == 0);
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>Reads one end user from a body that is a user object or a list of users (the first one).</summary>
    private static WootricEndUser? ParseUser(string? body)
    {
        if (string.IsNullOrWhiteSpace(body))
        {
            return null;
        }

        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Array)
            {
                foreach (var item in root.EnumerateArray())
                {
                    return ReadUser(item);
                }

                return null;
            }

            return ReadUser(root);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static WootricEndUser? ReadUser(JsonElement user)
    {
        if (user.ValueKind != JsonValueKind.Object
            || !user.TryGetProperty("id", out var idElement)
            || !TryReadLong(idElement, out var id))
        {
            return null;
        }

        var properties = new Dictionary<string, string>(StringComparer.Ordinal);
        if (user.TryGetProperty("properties", out var stored) && stored.ValueKind == JsonValueKind.Object)
        {
            foreach (var property in stored.EnumerateObject())
            {
                var text = property.Value.ValueKind switch
                {
                    JsonValueKind.String => property.Value.GetString(),
                    JsonValueKind.Null or JsonValueKind.Undefined => null,
                    JsonValueKind.True => "true",
                    JsonValueKind.False => "false",
                    _ => property.Value.GetRawText(),
                };
                if (text is not null)
                {
                    properties[property.Name] = text;
                }
            }
        }

        long? createdAt = user.TryGetProperty("external_created_at", out var created) && TryReadLong(created, out var seconds) ? seconds : null;
        return new WootricEndUser(id, ReadText(user, "email"), ReadText(user, "external_id"), ReadText(user, "phone_number"), createdAt, properties);
    }

    private static string? ReadText(JsonElement owner, string name) =>
        owner.TryGetProperty(name, out var value) ? value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Number => value.GetRawText(),
            _ => null,
        } : null;

    private static bool TryReadLong(JsonElement value, out long number)
    {
        number = 0;
        return value.ValueKind switch
        {
            JsonValueKind.Number => value.TryGetInt64(out number),
            JsonValueKind.String => long.TryParse(value.GetString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out number),
            _ => false,
        };
    }

    private static string? ExtractMessage(string body)
    {
        try
        {
            using var document = JsonDocument.Parse(body);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            if (root.TryGetProperty("error", out var error) && error.ValueKind == JsonValueKind.String)
            {
                return error.GetString();
            }

            if (root.TryGetProperty("errors", out var errors) && errors.ValueKind == JsonValueKind.Array)
            {
                return string.Join("; ", errors.EnumerateArray()
                    .Select(item => item.ValueKind == JsonValueKind.Object && item.TryGetProperty("message", out var text) ? text.GetString() : null)
                    .Where(text => !string.IsNullOrEmpty(text)));
            }

            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    [GeneratedRegex(@"[^\s@""']+@[^\s@""']+", RegexOptions.CultureInvariant)]
    private static partial Regex EmailPattern();

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "Wootric rejected {Operation} for account {Account} with 401; requesting a new token once")]
    private static partial void LogTokenRefreshed(ILogger logger, string account, string operation);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "Wootric rate limit reached for account {Account} on {Operation}; waiting {WaitSeconds:F1} s")]
    private static partial void LogRateLimited(ILogger logger, string account, string operation, double waitSeconds);
}
