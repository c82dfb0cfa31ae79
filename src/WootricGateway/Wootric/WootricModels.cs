namespace WootricGateway.Wootric;

/// <summary>An end user as Wootric returns it; property values as text, as Wootric's form API takes them.</summary>
public sealed record WootricEndUser(
    long Id,
    string? Email,
    string? ExternalId,
    string? PhoneNumber,
    long? ExternalCreatedAt,
    IReadOnlyDictionary<string, string> Properties);

/// <summary>
/// The fields of a create or update. Null fields are not sent; <see cref="Properties"/> null leaves
/// Wootric's stored hash alone, while a value replaces it, so it must be the full merged set.
/// </summary>
public sealed record EndUserWrite(
    string? Email = null,
    string? ExternalId = null,
    string? PhoneNumber = null,
    long? ExternalCreatedAt = null,
    IReadOnlyDictionary<string, string>? Properties = null)
{
    /// <summary>Names of the fields this write sends, for logs that must not show values.</summary>
    public IEnumerable<string> FieldNames()
    {
        if (Email is not null)
        {
            yield return "email";
        }

        if (ExternalId is not null)
        {
            yield return "external_id";
        }

        if (PhoneNumber is not null)
        {
            yield return "phone_number";
        }

        if (ExternalCreatedAt is not null)
        {
            yield return "external_created_at";
        }

        if (Properties is not null)
        {
            yield return "properties";
        }
    }
}

/// <summary>How a Wootric request ended, as the delivery loop needs to react to it.</summary>
public enum WootricOutcome
{
    /// <summary>2xx; for lookups a found user.</summary>
    Success,

    /// <summary>A lookup that found nothing.</summary>
    NotFound,

    /// <summary>422: a create or update rejected because an email or external id is already taken.</summary>
    Conflict,

    /// <summary>5xx, a timeout or a network error: worth retrying later.</summary>
    Transient,

    /// <summary>429 that outlasted the waits the client makes itself.</summary>
    RateLimited,

    /// <summary>The credentials were rejected (token request or a 401 after one refresh).</summary>
    AuthFailed,

    /// <summary>Any other 4xx: retrying cannot help.</summary>
    Rejected,
}

/// <summary>The result of one Wootric operation.</summary>
public readonly record struct WootricResult<T>(WootricOutcome Outcome, T? Value, int StatusCode, string? Message, TimeSpan? RetryAfter = null)
{
    public bool IsSuccess => Outcome == WootricOutcome.Success;

    /// <summary>Carries a failure over to a result of another value type.</summary>
    public WootricResult<TOther> As<TOther>() => new(Outcome, default, StatusCode, Message, RetryAfter);
}

/// <summary>The Wootric operations the delivery loop uses.</summary>
public interface IWootricApi
{
    Task<WootricResult<WootricEndUser>> FindByExternalIdAsync(WootricAccount account, string externalId, CancellationToken cancellationToken);

    Task<WootricResult<WootricEndUser>> FindByEmailAsync(WootricAccount account, string email, CancellationToken cancellationToken);

    Task<WootricResult<WootricEndUser>> GetAsync(WootricAccount account, long id, CancellationToken cancellationToken);

    Task<WootricResult<WootricEndUser>> CreateAsync(WootricAccount account, EndUserWrite write, CancellationToken cancellationToken);

    Task<WootricResult<WootricEndUser>> UpdateAsync(WootricAccount account, long id, EndUserWrite write, CancellationToken cancellationToken);

    Task<WootricResult<bool>> AddPageViewAsync(WootricAccount account, long id, string? url, long at, CancellationToken cancellationToken);
}

/// <summary>Factory for successful <see cref="WootricResult{T}"/> values.</summary>
public static class WootricResult
{
    public static WootricResult<T> Ok<T>(T value, int statusCode = 200) => new(WootricOutcome.Success, value, statusCode, null);
}
