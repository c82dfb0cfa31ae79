using Microsoft.Extensions.Options;
using StackExchange.Redis;
using WootricGateway.Metrics;

namespace WootricGateway.State.Redis;

/// <summary>
/// The process's one <see cref="ConnectionMultiplexer"/>. It connects in the background and keeps
/// reconnecting, so the gateway starts and proxies while Redis is down. Every command goes through
/// <see cref="RunAsync{T}"/>, which bounds it by <see cref="RedisOptions.OperationTimeout"/> and the
/// caller's cancellation.
/// </summary>
public sealed partial class RedisConnection : IAsyncDisposable
{
    private readonly RedisOptions _options;
    private readonly GatewayMetrics _metrics;
    private readonly ILogger<RedisConnection> _logger;
    private readonly Lazy<Task<ConnectionMultiplexer>> _multiplexer;
    private int _connected = -1;

    public RedisConnection(IOptions<RedisOptions> options, GatewayMetrics metrics, ILogger<RedisConnection> logger)
    {
        _options = options.Value;
        _metrics = metrics;

        // Present from the start in Redis mode (absent in memory mode), down until the first connect succeeds.
        _metrics.RedisConnected.Set(0);
        _logger = logger;
        _multiplexer = new Lazy<Task<ConnectionMultiplexer>>(ConnectAsync);
        Keys = new RedisKeys(_options.KeyPrefix);
    }

    public RedisKeys Keys { get; }

    /// <summary>True while the multiplexer has a live connection; false before the first one and during outages.</summary>
    public bool IsConnected => _multiplexer.IsValueCreated && _multiplexer.Value.IsCompletedSuccessfully && _multiplexer.Value.Result.IsConnected;

    /// <summary>Raised when the connection comes back after an outage.</summary>
    public event Action? Restored;

    /// <summary>Starts connecting, so the first tapped event does not pay for it.</summary>
    public Task WarmUpAsync() => _multiplexer.Value;

    /// <summary>Runs one Redis command against the database, bounded by the operation timeout and <paramref name="cancellationToken"/>.</summary>
    public async Task<T> RunAsync<T>(Func<IDatabase, Task<T>> command, CancellationToken cancellationToken)
    {
        var multiplexer = await _multiplexer.Value.WaitAsync(_options.OperationTimeout, cancellationToken).ConfigureAwait(false);
        return await command(multiplexer.GetDatabase()).WaitAsync(_options.OperationTimeout, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs one Redis command that returns nothing; see <see cref="RunAsync{T}"/>.</summary>
    public Task RunAsync(Func<IDatabase, Task> command, CancellationToken cancellationToken) =>
        RunAsync<bool>(
            async database =>
            {
                await command(database).ConfigureAwait(false);
                return true;
            },
            cancellationToken);

    /// <summary>True for the exceptions a Redis outage or a slow Redis raises.</summary>
    public static bool IsOutage(Exception exception) =>
        exception is RedisConnectionException or RedisTimeoutException or TimeoutException
            || (exception is RedisServerException server && server.Message.StartsWith("LOADING", StringComparison.Ordinal));

    public async ValueTask DisposeAsync()
    {
        if (_multiplexer.IsValueCreated && _multiplexer.Value.IsCompletedSuccessfully)
        {
            await _multiplexer.Value.Result.DisposeAsync().ConfigureAwait(false);
        }
    }

    private async Task<ConnectionMultiplexer> ConnectAsync()
    {
        var configuration = ConfigurationOptions.Parse(_options.Configuration!);
        configuration.AbortOnConnectFail = false;
        configuration.ClientName ??= "wootric-gateway";
        var multiplexer = await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false);
        multiplexer.ConnectionFailed += (_, args) => ReportState(false, args.Exception);
        multiplexer.ConnectionRestored += (_, _) => ReportState(true, null);
        ReportState(multiplexer.IsConnected, null);
        return multiplexer;
    }

    /// <summary>Logs a change of connection state once, not once per command, and sets the gauge.</summary>
    private void ReportState(bool connected, Exception? exception)
    {
        var previous = Interlocked.Exchange(ref _connected, connected ? 1 : 0);
        _metrics.RedisConnected.Set(connected ? 1 : 0);
        if (previous == (connected ? 1 : 0))
        {
            return;
        }

        if (connected)
        {
            LogConnected(_logger);
            Restored?.Invoke();
        }
        else
        {
            LogLost(_logger, exception?.GetType().Name ?? "unknown");
        }
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Information, Message = "Redis connected")]
    private static partial void LogConnected(ILogger logger);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Warning, Message = "Redis connection lost ({Error}); proxying continues and tapped events are buffered in memory until it returns")]
    private static partial void LogLost(ILogger logger, string error);
}
