using System.Diagnostics;

namespace WootricGateway.Tests.Fakes;

/// <summary>
/// Waits for a condition instead of a fixed time, so a test waits as long as a busy machine needs
/// and no longer than the condition takes.
/// </summary>
internal static class Poll
{
    private static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    /// <summary>Checks <paramref name="condition"/> every 50 ms until it is true, and returns false when it is still false after <paramref name="timeout"/>.</summary>
    public static Task<bool> UntilAsync(Func<bool> condition, TimeSpan timeout, CancellationToken cancellationToken) =>
        UntilAsync(_ => Task.FromResult(condition()), timeout, cancellationToken);

    /// <summary>Checks <paramref name="condition"/> every 50 ms until it is true, and returns false when it is still false after <paramref name="timeout"/>.</summary>
    public static async Task<bool> UntilAsync(Func<CancellationToken, Task<bool>> condition, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            if (await condition(cancellationToken))
            {
                return true;
            }

            if (waited.Elapsed >= timeout)
            {
                return false;
            }

            await Task.Delay(Interval, cancellationToken);
        }
    }
}
