using System.Diagnostics;

namespace WootricGateway.Tap;

/// <summary>
/// Keeps the parser's CPU use at or below a share of one core: time spent parsing is charged against
/// an allowance that refills at <c>share</c> seconds per second, with a small burst on top. When the
/// charge runs past the burst, <see cref="RequiredPause"/> returns how long to rest.
/// </summary>
internal sealed class ParserBudget
{
    /// <summary>Parsing time allowed ahead of the average, so short bursts run at full speed.</summary>
    public static readonly TimeSpan Burst = TimeSpan.FromMilliseconds(100);

    private readonly double _share;
    private readonly Func<long> _timestamp;
    private long _last;
    private double _debtSeconds;

    /// <param name="share">Cores the parser may use on average, greater than 0.</param>
    /// <param name="timestamp">The clock, in <see cref="Stopwatch"/> ticks; tests pass their own.</param>
    public ParserBudget(double share, Func<long>? timestamp = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(share);
        _share = share;
        _timestamp = timestamp ?? Stopwatch.GetTimestamp;
        _last = _timestamp();
    }

    /// <summary>Records <paramref name="spent"/> of parsing.</summary>
    public void Charge(TimeSpan spent)
    {
        Refill();
        _debtSeconds += spent.TotalSeconds;
    }

    /// <summary>How long to pause so the average stays within the share; zero when within budget.</summary>
    public TimeSpan RequiredPause()
    {
        Refill();
        var excess = _debtSeconds - Burst.TotalSeconds;
        return excess > 0 ? TimeSpan.FromSeconds(excess / _share) : TimeSpan.Zero;
    }

    private void Refill()
    {
        var now = _timestamp();
        var elapsed = (now - _last) / (double)Stopwatch.Frequency;
        _last = now;
        _debtSeconds = Math.Max(0, _debtSeconds - (elapsed * _share));
    }
}
