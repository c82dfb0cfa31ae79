using Microsoft.Extensions.Options;
using WootricGateway.State;
using WootricGateway.State.InMemory;
using WootricGateway.State.Redis;
using WootricGateway.Tap;
using WootricGateway.Wootric;

namespace WootricGateway.Delivery;

/// <summary>Registers the Wootric sync: accounts, the API client, state, the work queue and the workers.</summary>
internal static class DeliveryServiceCollectionExtensions
{
    public static IServiceCollection AddWootricSync(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<WootricOptions>()
            .Bind(configuration.GetSection(WootricOptions.SectionName))
            .ValidateDataAnnotations()
            .Validate(ValidateUrls, "Wootric:ApiBaseUrl and Wootric:AuthBaseUrl (and those of every account) must be absolute http or https URLs without a user name, password, query or fragment.")
            .ValidateOnStart();
        services.AddOptions<DeliveryOptions>()
            .Bind(configuration.GetSection(DeliveryOptions.SectionName))
            .ValidateDataAnnotations()
            .Validate(options => options.RetryBaseDelay > TimeSpan.Zero && options.RetryMaxDelay >= options.RetryBaseDelay && options.LeaseDuration > TimeSpan.Zero,
                "Delivery:RetryBaseDelay and Delivery:LeaseDuration must be positive and Delivery:RetryMaxDelay at least RetryBaseDelay.")
            .ValidateOnStart();

        // IHttpClientFactory's loggers write each request URL, and Wootric lookups put the userId (often
        // an email) in the path, so they are removed. WootricHttpApi counts and logs each call itself.
        services.AddHttpClient(WootricHttpApi.HttpClientName, client => client.Timeout = Timeout.InfiniteTimeSpan)
            .RemoveAllLoggers()
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler
            {
                PooledConnectionLifetime = TimeSpan.FromMinutes(5),
                ConnectTimeout = TimeSpan.FromSeconds(10),
                AllowAutoRedirect = false,
                UseCookies = false,
            });

        services.AddSingleton<WootricAccountRegistry>();
        services.AddSingleton<AccountRateLimiter>();
        services.AddSingleton<WootricTokenCache>();
        services.AddSingleton<WootricHttpApi>();
        services.AddSingleton<DryRunWootricApi>();

        services.AddSingleton<UserSynchronizer>();
        services.AddSingleton<UserSyncSink>();

        // The stores before the worker, so at shutdown the worker stops first and the Redis work
        // queue can hand back what the worker did not start.
        services.AddStateStores(configuration);
        services.AddHostedService<DeliveryWorker>();
        services.AddHostedService<DeliveryStartupReport>();
        return services;
    }

    /// <summary>Registers the Redis stores when <c>Redis:Configuration</c> is set, else the in-memory ones.</summary>
    private static void AddStateStores(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<RedisOptions>()
            .Bind(configuration.GetSection(RedisOptions.SectionName))
            .ValidateDataAnnotations()
            .Validate(
                options => options.OperationTimeout > TimeSpan.Zero && options.ClaimIdleTimeout > TimeSpan.Zero && options.PollInterval > TimeSpan.Zero
                    && options.IdCacheTtl > TimeSpan.Zero && options.StateTtl > TimeSpan.Zero && options.DeduplicationWindow > TimeSpan.Zero,
                "Redis:OperationTimeout, ClaimIdleTimeout, PollInterval, IdCacheTtl, StateTtl and DeduplicationWindow must be positive.")
            .ValidateOnStart();

        var redis = configuration.GetSection(RedisOptions.SectionName).Get<RedisOptions>() ?? new RedisOptions();
        if (!redis.IsEnabled)
        {
            services.AddSingleton<IUserStateStore, InMemoryUserStateStore>();
            services.AddSingleton<InMemoryIdCache>();
            services.AddSingleton<IIdCache>(provider => provider.GetRequiredService<InMemoryIdCache>());
            services.AddSingleton<ILeaseManager, InMemoryLeaseManager>();
            services.AddSingleton<InMemoryWorkQueue>();
            services.AddSingleton<IWorkQueue>(provider => provider.GetRequiredService<InMemoryWorkQueue>());
            services.AddSingleton<IDeadLetterStore, InMemoryDeadLetterStore>();
            services.AddSingleton<IMessageDeduplicator, InMemoryMessageDeduplicator>();
            services.AddSingleton<ITapEventSink>(provider => provider.GetRequiredService<UserSyncSink>());
            return;
        }

        services.AddSingleton<RedisConnection>();
        services.AddSingleton<IUserStateStore, RedisUserStateStore>();
        services.AddSingleton<IIdCache, RedisIdCache>();
        services.AddSingleton<ILeaseManager, RedisLeaseManager>();
        services.AddSingleton<IDeadLetterStore, RedisDeadLetterStore>();
        services.AddSingleton<IMessageDeduplicator, RedisMessageDeduplicator>();
        services.AddSingleton<RedisWorkQueue>();
        services.AddSingleton<IWorkQueue>(provider => provider.GetRequiredService<RedisWorkQueue>());
        services.AddHostedService(provider => provider.GetRequiredService<RedisWorkQueue>());
        services.AddSingleton<OutageBufferingSink>();
        services.AddSingleton<ITapEventSink>(provider => provider.GetRequiredService<OutageBufferingSink>());
        services.AddHostedService(provider => provider.GetRequiredService<OutageBufferingSink>());
    }

    private static bool ValidateUrls(WootricOptions options) =>
        options.Accounts.Values.Prepend(options).All(account => IsHttpUrl(account.ApiBaseUrl) && IsHttpUrl(account.AuthBaseUrl));

    // A user name, password or query would be dropped or mangled when paths are appended, and the
    // API address is logged at startup.
    private static bool IsHttpUrl(string? url) =>
        string.IsNullOrWhiteSpace(url)
        || (Uri.TryCreate(url, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
            && uri.UserInfo.Length == 0 && uri.Query.Length == 0 && uri.Fragment.Length == 0);
}

/// <summary>Logs, once at start, where state lives and which accounts run dry.</summary>
internal sealed partial class DeliveryStartupReport(
    WootricAccountRegistry accounts,
    IUserStateStore stateStore,
    IOptions<WootricOptions> options,
    ILogger<DeliveryStartupReport> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (stateStore is InMemoryUserStateStore)
        {
            LogInMemory(logger);
        }
        else
        {
            LogRedis(logger);
        }

        foreach (var account in accounts.Accounts)
        {
            if (account.IsDryRun)
            {
                LogDryRun(logger, account.Name);
            }
            else
            {
                LogAccount(logger, account.Name, account.ApiBaseUrl, options.Value.PageVisits);
            }
        }

        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 2201, Level = LogLevel.Warning, Message = "User state, the id cache and the work queue are kept in memory: they are not durable and not shared between instances. Set Redis__Configuration for production.")]
    private static partial void LogInMemory(ILogger logger);

    [LoggerMessage(EventId = 2204, Level = LogLevel.Information, Message = "User state, the id cache and the work queue are kept in Redis")]
    private static partial void LogRedis(ILogger logger);

    [LoggerMessage(EventId = 2202, Level = LogLevel.Warning, Message = "Wootric account {Account} has no ClientId/ClientSecret: dry run, calls are logged and not sent")]
    private static partial void LogDryRun(ILogger logger, string account);

    [LoggerMessage(EventId = 2203, Level = LogLevel.Information, Message = "Wootric account {Account} syncs to {ApiBaseUrl} (page visits: {PageVisits})")]
    private static partial void LogAccount(ILogger logger, string account, Uri apiBaseUrl, PageVisitMode pageVisits);
}
