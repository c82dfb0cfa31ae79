using System.Collections.Concurrent;
using System.Threading.RateLimiting;

namespace WootricGateway.Wootric;

/// <summary>
/// Spends each account's per-minute request budget: a sliding one-minute window, plus a pause until
/// Wootric's <c>X-Rate-Limit-Reset</c> after a 429.
/// </summary>
public sealed class AccountRateLimiter(TimeProvider timeProvider) : IDisposable
{
    private readonly ConcurrentDictionary<string, Budget> _budgets = new(StringComparer.Ordinal);

    /// <summary>Waits until <paramref name="account"/> may send one more request.</summary>
    public async ValueTask WaitAsync(WootricAccount account, CancellationToken cancellationToken)
    {
        var budget = _budgets.GetOrAdd(account.Name, _ => new Budget(account.RequestsPerMinute));
        var pausedFor = budget.PausedUntil - timeProvider.GetUtcNow();
        if (pausedFor > TimeSpan.Zero)
        {
            await Task.Delay(pausedFor, timeProvider, cancellationToken).ConfigureAwait(false);
        }

        using var lease = await budget.Limiter.AcquireAsync(1, cancellationToken).ConfigureAwait(false);
        if (!lease.IsAcquired)
        {
            throw new InvalidOperationException("The Wootric request queue is full; raise RequestsPerMinute or lower Delivery:Concurrency.");
        }
    }

    /// <summary>Stops requests for <paramref name="account"/> until <paramref name="until"/>.</summary>
    public void PauseUntil(WootricAccount account, DateTimeOffset until)
    {
        var budget = _budgets.GetOrAdd(account.Name, _ => new Budget(account.RequestsPerMinute));
        lock (budget)
        {
            if (until > budget.PausedUntil)
            {
                budget.PausedUntil = until;
            }
        }
    }

    public void Dispose()
    {
        foreach (var budget in _budgets.Values)
        {
            budget.Limiter.Dispose();
        }
    }

    private sealed class Budget(int requestsPerMinute)
    {
        public SlidingWindowRateLimiter Limiter { get; } = new(new SlidingWindowRateLimiterOptions
        {
            PermitLimit = requestsPerMinute,
            Window = TimeSpan.FromMinutes(1),
            SegmentsPerWindow = 12,
            QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
            QueueLimit = 100_000,
            AutoReplenishment = true,
        });

        public DateTimeOffset PausedUntil { get; set; }
    }
}
