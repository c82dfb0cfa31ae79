namespace WootricGateway.Proxy;

/// <summary>
/// Lets one log line through per interval and counts the lines it suppresses, so that a dead upstream under
/// load writes one line per interval rather than one per request. Safe to call from many threads.
/// </summary>
internal sealed class LogThrottle(TimeProvider time, TimeSpan interval)
{
    private long _nextUtcTicks = long.MinValue;
    private long _suppressed;

    /// <summary>
    /// Returns true when a line may be written now, with <paramref name="suppressed"/> set to the number of lines
    /// suppressed since the previous one. Returns false, and counts one more suppressed line, otherwise.
    /// </summary>
    public bool TryEnter(out long suppressed)
    {
        var now = time.GetUtcNow().UtcTicks;
        var next = Interlocked.Read(ref _nextUtcTicks);
        if (now >= next && Interlocked.CompareExchange(ref _nextUtcTicks, now + interval.Ticks, next) == next)
        {
            suppressed = Interlocked.Exchange(ref _suppressed, 0);
            return true;
        }

        Interlocked.Increment(ref _suppressed);
        suppressed = 0;
        return false;
    }
}
