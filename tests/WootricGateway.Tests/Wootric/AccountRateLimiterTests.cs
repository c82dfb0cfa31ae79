using WootricGateway.Wootric;

namespace WootricGateway.Tests.Wootric;

public sealed class AccountRateLimiterTests
{
    private static WootricAccount Account(int requestsPerMinute) =>
        new("test", "NPS-test0001", "id", "secret", new Uri("http://127.0.0.1/api"), new Uri("http://127.0.0.1"), requestsPerMinute);

    [Fact]
    public async Task WaitAsync_HoldsUntilPauseEnds()
    {
        using var limiter = new AccountRateLimiter(TimeProvider.System);
        var account = Account(100);
        var pauseEnd = DateTimeOffset.UtcNow.AddMilliseconds(300);
        limiter.PauseUntil(account, pauseEnd);

        await limiter.WaitAsync(account, CancellationToken.None);

        // Compared with the end of the pause on the limiter's own clock, so a thread descheduled
        // before the wait cannot make a correct wait look short.
        var returnedAt = DateTimeOffset.UtcNow;
        Assert.True(returnedAt >= pauseEnd, $"returned {(pauseEnd - returnedAt).TotalMilliseconds:F0} ms before the pause ended");
    }

    [Fact]
    public async Task WaitAsync_PauseSpendsNoBudget()
    {
        using var limiter = new AccountRateLimiter(TimeProvider.System);
        var account = Account(2);
        limiter.PauseUntil(account, DateTimeOffset.UtcNow.AddMilliseconds(100));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        // Two requests fit the per-minute budget, so both pass once the pause is over.
        await limiter.WaitAsync(account, timeout.Token);
        await limiter.WaitAsync(account, timeout.Token);

        Assert.False(timeout.IsCancellationRequested);
    }

    [Fact]
    public async Task WaitAsync_BudgetExhaustedBlocks()
    {
        using var limiter = new AccountRateLimiter(TimeProvider.System);
        var account = Account(1);
        await limiter.WaitAsync(account, CancellationToken.None);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await limiter.WaitAsync(account, timeout.Token));
    }
}
