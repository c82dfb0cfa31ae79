using WootricGateway.Proxy;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.Proxy;

public sealed class LogThrottleTests
{
    [Fact]
    public void TryEnter_OneLinePerInterval()
    {
        var clock = new ManualTimeProvider(new DateTimeOffset(2026, 12, 5, 12, 0, 0, TimeSpan.Zero));
        var throttle = new LogThrottle(clock, TimeSpan.FromSeconds(10));

        Assert.True(throttle.TryEnter(out var suppressed));
        Assert.Equal(0, suppressed);
        for (var i = 0; i < 3; i++)
        {
            Assert.False(throttle.TryEnter(out _));
        }

        clock.Advance(TimeSpan.FromSeconds(9.9));
        Assert.False(throttle.TryEnter(out _));

        clock.Advance(TimeSpan.FromSeconds(0.1));
        Assert.True(throttle.TryEnter(out suppressed));
        Assert.Equal(4, suppressed);

        Assert.False(throttle.TryEnter(out _));
        clock.Advance(TimeSpan.FromMinutes(5));
        Assert.True(throttle.TryEnter(out suppressed));
        Assert.Equal(1, suppressed);
    }

    [Fact]
    public void TryEnter_OneWinnerAcrossThreads()
    {
        var clock = new ManualTimeProvider(new DateTimeOffset(2026, 12, 5, 12, 0, 0, TimeSpan.Zero));
        var throttle = new LogThrottle(clock, TimeSpan.FromSeconds(10));
        var entered = 0;

        Parallel.For(0, 10_000, _ =>
        {
            if (throttle.TryEnter(out _))
            {
                Interlocked.Increment(ref entered);
            }
        });

        Assert.Equal(1, entered);
        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.True(throttle.TryEnter(out var suppressed));
        Assert.Equal(9_999, suppressed);
    }
}
