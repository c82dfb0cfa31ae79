using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;

namespace WootricGateway.Tests.Conformance;

/// <summary>
/// A logger provider that keeps the most recent log lines of one gateway, so a failed case can
/// show what the gateway logged. Thread-safe.
/// </summary>
internal sealed class CapturedLogs : ILoggerProvider
{
    /// <summary>Maximum lines kept. The oldest lines are dropped first.</summary>
    public const int Capacity = 2000;

    private readonly ConcurrentQueue<string> lines = new();
    private int totalCount;

    public int TotalCount => Volatile.Read(ref totalCount);

    public ILogger CreateLogger(string categoryName) => new CapturingLogger(this, categoryName);

    /// <summary>Returns up to <paramref name="count"/> of the most recent lines, oldest first.</summary>
    public IReadOnlyList<string> Tail(int count)
    {
        var snapshot = lines.ToArray();
        return snapshot[Math.Max(0, snapshot.Length - count)..];
    }

    public void Dispose()
    {
    }

    private void Add(string line)
    {
        lines.Enqueue(line);
        Interlocked.Increment(ref totalCount);
        while (lines.Count > Capacity && lines.TryDequeue(out _))
        {
        }
    }

    private sealed class CapturingLogger(CapturedLogs owner, string categoryName) : ILogger
    {
        /// <summary>
        /// Categories that log a line per HTTP request (the runner polls /metrics every 100 ms, and
        /// the fake Wootric lists its requests itself), so only their warnings and errors are kept.
        /// </summary>
        private static readonly string[] PerRequestCategoryPrefixes = ["Microsoft.AspNetCore.Hosting.Diagnostics", "System.Net.Http.HttpClient."];

        private readonly bool isPerRequestCategory = PerRequestCategoryPrefixes.Any(prefix => categoryName.StartsWith(prefix, StringComparison.Ordinal));

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) =>
            logLevel != LogLevel.None && (logLevel >= LogLevel.Warning || !isPerRequestCategory);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            var time = DateTimeOffset.UtcNow.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture);
            var error = exception is null ? "" : $" [{exception.GetType().Name}: {exception.Message}]";
            owner.Add($"{time} {logLevel} {categoryName}: {formatter(state, exception)}{error}");
        }
    }
}
