using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace WootricGateway.Tests.Security;

/// <summary>
/// A logger provider that keeps everything a log sink could write: every level, the formatted
/// message, each structured value, every scope and the full exception text. Thread-safe.
/// </summary>
internal sealed class RecordingLoggerProvider : ILoggerProvider, ISupportExternalScope
{
    private readonly ConcurrentQueue<(LogLevel Level, string Text)> entries = new();
    private IExternalScopeProvider scopes = new LoggerExternalScopeProvider();

    public IReadOnlyList<(LogLevel Level, string Text)> Entries => [.. entries];

    public ILogger CreateLogger(string categoryName) => new RecordingLogger(this, categoryName);

    public void SetScopeProvider(IExternalScopeProvider scopeProvider) => scopes = scopeProvider;

    public void Dispose()
    {
    }

    private sealed class RecordingLogger(RecordingLoggerProvider owner, string categoryName) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => owner.scopes.Push(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var text = new System.Text.StringBuilder()
                .Append(logLevel).Append(' ').Append(categoryName).Append('[').Append(eventId.Id).Append("]: ")
                .Append(formatter(state, exception));
            if (state is IEnumerable<KeyValuePair<string, object?>> values)
            {
                foreach (var (key, value) in values)
                {
                    text.Append(" | ").Append(key).Append('=').Append(value);
                }
            }

            owner.scopes.ForEachScope((scope, builder) => builder.Append(" | scope: ").Append(scope), text);
            if (exception is not null)
            {
                text.Append(" | exception: ").Append(exception);
            }

            owner.entries.Enqueue((logLevel, text.ToString()));
        }
    }
}
