using WootricGateway.Metrics;

namespace WootricGateway.Wootric;

/// <summary>
/// Stands in for Wootric when an account has no API credentials. It logs each call it would make at
/// Information, with operation and field names but never values. Every lookup misses and every
/// write succeeds, with negative ids.
/// </summary>
public sealed partial class DryRunWootricApi(GatewayMetrics metrics, ILogger<DryRunWootricApi> logger) : IWootricApi
{
    private long _lastId;

    public Task<WootricResult<WootricEndUser>> FindByExternalIdAsync(WootricAccount account, string externalId, CancellationToken cancellationToken) =>
        Task.FromResult(NotFound(account, "lookup_external_id"));

    public Task<WootricResult<WootricEndUser>> FindByEmailAsync(WootricAccount account, string email, CancellationToken cancellationToken) =>
        Task.FromResult(NotFound(account, "lookup_email"));

    public Task<WootricResult<WootricEndUser>> GetAsync(WootricAccount account, long id, CancellationToken cancellationToken) =>
        Task.FromResult(NotFound(account, "get"));

    public Task<WootricResult<WootricEndUser>> CreateAsync(WootricAccount account, EndUserWrite write, CancellationToken cancellationToken)
    {
        var id = -Interlocked.Increment(ref _lastId);
        Record(account, "create", write);
        return Task.FromResult(WootricResult.Ok(ToUser(id, write)));
    }

    public Task<WootricResult<WootricEndUser>> UpdateAsync(WootricAccount account, long id, EndUserWrite write, CancellationToken cancellationToken)
    {
        Record(account, "update", write);
        return Task.FromResult(WootricResult.Ok(ToUser(id, write)));
    }

    public Task<WootricResult<bool>> AddPageViewAsync(WootricAccount account, long id, string? url, long at, CancellationToken cancellationToken)
    {
        metrics.DryRunCalls.WithLabels("page_view").Inc();
        LogWouldSend(logger, "page_view", account.Name, "url, at");
        return Task.FromResult(WootricResult.Ok(true));
    }

    private WootricResult<WootricEndUser> NotFound(WootricAccount account, string operation)
    {
        metrics.DryRunCalls.WithLabels(operation).Inc();
        LogWouldSend(logger, operation, account.Name, "-");
        return new(WootricOutcome.NotFound, null, 404, null);
    }

    private void Record(WootricAccount account, string operation, EndUserWrite write)
    {
        metrics.DryRunCalls.WithLabels(operation).Inc();
        var fields = string.Join(", ", write.FieldNames());
        LogWouldSend(logger, operation, account.Name, fields);
    }

    private static WootricEndUser ToUser(long id, EndUserWrite write) => new(
        id,
        write.Email,
        write.ExternalId,
        write.PhoneNumber,
        write.ExternalCreatedAt,
        write.Properties ?? new Dictionary<string, string>());

    [LoggerMessage(EventId = 3101, Level = LogLevel.Information, Message = "Dry run: would send Wootric {Operation} for account {Account} (fields: {Fields})")]
    private static partial void LogWouldSend(ILogger logger, string operation, string account, string fields);
}
