namespace WootricGateway.Proxy;

/// <summary>
/// Lets one log line through per interval and counts the lines it holds back, so that a dead upstream under
/// load writes one line per interval rather than one per request. Safe to call from many threads.
/// </summary>
internal sealed class LogThrottle(TimeProvider time, TimeSpan interval)
{
    private long _nextUtcTicks = long.MinValue;
    private long _held;

    /// <summary>
    /// Returns true when a line may be written now, with <paramref name="held"/> set to the number of lines
    /// held back since the previous one. Returns false, and counts one more held line, otherwise.
    /// </summary>
    public bool TryEnter(out long held)
    {
        var now = time.GetUtcNow().UtcTicks;
        var next = Interlocked.Read(ref _nextUtcTicks);
        if (now >= next && Interlocked.CompareExchange(ref _nextUtcTicks, now + interval.Ticks, next) == next)
        {
            held = Interlocked.Exchange(ref _held, 0);
            return true;
        }

        Interlocked.Increment(ref _held);
        held = 0;
        return false;
    }
}
