using Microsoft.Extensions.Options;
using WootricGateway.Metrics;
using WootricGateway.State;
using WootricGateway.Wootric;

namespace WootricGateway.Delivery;

/// <summary>
/// Brings one Wootric end user in line with the gateway's desired state for it.
/// </summary>
/// <remarks>
/// Steps: (1) take the user's lease. (2) Resolve the Wootric id from the state, the id cache, a
/// lookup by external_id, then by email, and create only when both miss. (3) Compare the desired
/// state with what Wootric has and send one update with the differences; properties always go as
/// the full merged set. (4) Post waiting page views. Every Wootric failure becomes a <see cref="SyncResult"/>.
/// </remarks>
internal sealed partial class UserSynchronizer(
    IUserStateStore states,
    IIdCache idCache,
    ILeaseManager leases,
    WootricAccountRegistry accounts,
    WootricHttpApi httpApi,
    DryRunWootricApi dryRunApi,
    IOptions<WootricOptions> wootricOptions,
    IOptions<DeliveryOptions> deliveryOptions,
    GatewayMetrics metrics,
    TimeProvider timeProvider,
    ILogger<UserSynchronizer> logger)
{
    private readonly PageVisitMode _pageVisits = wootricOptions.Value.PageVisits;
    private readonly DeliveryOptions _delivery = deliveryOptions.Value;

    public async Task<SyncResult> SyncAsync(WorkItem item, CancellationToken cancellationToken)
    {
        var user = item.User;
        var state = await states.GetAsync(user, cancellationToken);
        if (state is null)
        {
            return SyncResult.Done;
        }

        var account = accounts.ByName(user.Account);
        if (account is null)
        {
            return SyncResult.DeadLettered("account_not_configured", 0, $"Wootric account '{user.Account}' is no longer configured.");
        }

        // 1. One worker per user, across replicas when leases live in Redis.
        var leaseKey = "lease:" + user.Account + ":" + user.Key;
        var leaseToken = await leases.TryAcquireAsync(leaseKey, _delivery.LeaseDuration, cancellationToken);
        if (leaseToken is null)
        {
            return new SyncResult(SyncOutcome.Retry, "lease_busy", RetryAfter: TimeSpan.FromMilliseconds(250), CountsAsAttempt: false);
        }

        using var renewal = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var renewing = RenewLeaseAsync(user, leaseKey, leaseToken, renewal.Token);
        try
        {
            IWootricApi api = account.IsDryRun ? dryRunApi : httpApi;
            var context = new SyncContext(user, account, api, state);

            // 2. Resolve.
            var resolved = await ResolveAsync(context, cancellationToken);
            if (resolved is { } stop)
            {
                return stop;
            }

            // 3. Update what differs.
            var updated = await UpdateAsync(context, cancellationToken);
            if (updated is { } updateStop)
            {
                return updateStop;
            }

            // 4. Page views (PageViews mode).
            return await PostPageViewsAsync(context, cancellationToken);
        }
        finally
        {
            await renewal.CancelAsync();
            await renewing;
            await leases.ReleaseAsync(leaseKey, leaseToken, CancellationToken.None);
        }
    }

    /// <summary>
    /// Extends the lease every third of its duration while the sync runs, so a long sync keeps it
    /// and a crashed replica's lease lapses after one duration.
    /// </summary>
    private async Task RenewLeaseAsync(UserRef user, string leaseKey, string leaseToken, CancellationToken cancellationToken)
    {
        var interval = _delivery.LeaseDuration / 3;
        try
        {
            while (true)
            {
                await Task.Delay(interval, timeProvider, cancellationToken);
                if (!await leases.TryExtendAsync(leaseKey, leaseToken, _delivery.LeaseDuration, cancellationToken))
                {
                    LogLeaseLost(logger, user);
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
            // The sync finished.
        }
        catch (Exception exception) when (State.Redis.RedisConnection.IsOutage(exception))
        {
            // The lease lapses on its own; the sync finishes or fails with the outage.
            LogLeaseLost(logger, user);
        }
    }

    /// <summary>Finds or creates the end user; sets the context's id and pushed state. Returns a result only to stop.</summary>
    private async Task<SyncResult?> ResolveAsync(SyncContext context, CancellationToken cancellationToken)
    {
        var state = context.State;
        var id = state.WootricId;
        if (id is null)
        {
            id = await idCache.GetAsync(context.User, cancellationToken);
            metrics.IdCacheLookups.WithLabels(id is null ? "miss" : "hit").Inc();
        }

        if (id is { } knownId && state.Pushed is null)
        {
            // Known id without a baseline (state lost or written by another tool): read what Wootric has.
            var current = await context.Api.GetAsync(context.Account, knownId, cancellationToken);
            if (current.Outcome == WootricOutcome.NotFound)
            {
                await idCache.RemoveAsync(context.User, cancellationToken);
                id = null;
            }
            else if (!current.IsSuccess)
            {
                return Failed(context, "get", current.As<bool>());
            }
            else
            {
                return await AdoptAsync(context, current.Value!, cancellationToken);
            }
        }

        if (id is { } cachedId)
        {
            context.WootricId = cachedId;
            context.Pushed = state.Pushed ?? new PushedState();
            return null;
        }

        WootricEndUser? found = null;
        if (state.ExternalId is { } externalId)
        {
            var byExternalId = await context.Api.FindByExternalIdAsync(context.Account, externalId, cancellationToken);
            if (byExternalId.IsSuccess)
            {
                found = byExternalId.Value;
            }
            else if (byExternalId.Outcome != WootricOutcome.NotFound)
            {
                return Failed(context, "lookup_external_id", byExternalId.As<bool>());
            }
        }

        if (found is null && state.Email is { } email)
        {
            var byEmail = await context.Api.FindByEmailAsync(context.Account, email, cancellationToken);
            if (byEmail.IsSuccess)
            {
                found = byEmail.Value;
            }
            else if (byEmail.Outcome != WootricOutcome.NotFound)
            {
                return Failed(context, "lookup_email", byEmail.As<bool>());
            }
        }

        if (found is not null)
        {
            return await AdoptAsync(context, found, cancellationToken);
        }

        if (state.Email is null)
        {
            // Wootric needs an email to create; the state waits for one (or for the user to appear).
            metrics.SyncSkips.WithLabels(state.LastSeenAt is not null || state.PageViews.Count > 0 ? "unknown_user" : "missing_email").Inc();
            return SyncResult.Parked("missing_email");
        }

        return await CreateAsync(context, cancellationToken);
    }

    private async Task<SyncResult?> CreateAsync(SyncContext context, CancellationToken cancellationToken)
    {
        var state = context.State;
        var properties = DesiredProperties(state, baseline: null);
        var write = new EndUserWrite(
            state.Email,
            state.ExternalId,
            state.PhoneNumber,
            state.ExternalCreatedAt,
            properties.Count > 0 ? properties : null);

        var created = await context.Api.CreateAsync(context.Account, write, cancellationToken);
        if (created.IsSuccess)
        {
            metrics.WootricCreates.Inc();
            LogCreated(logger, context.User, created.Value!.Id);
            var pushed = new PushedState
            {
                Email = write.Email,
                ExternalId = write.ExternalId,
                PhoneNumber = write.PhoneNumber,
                ExternalCreatedAt = write.ExternalCreatedAt,
                Properties = new Dictionary<string, string>(properties, StringComparer.Ordinal),
            };
            await RememberAsync(context, created.Value.Id, pushed, cancellationToken);
            return null;
        }

        if (created.Outcome == WootricOutcome.Conflict)
        {
            // The email or external id is taken: another writer created the user first. Resolve it instead.
            var byEmail = await context.Api.FindByEmailAsync(context.Account, state.Email!, cancellationToken);
            if (byEmail.IsSuccess)
            {
                return await AdoptAsync(context, byEmail.Value!, cancellationToken);
            }

            if (state.ExternalId is { } externalId)
            {
                var byExternalId = await context.Api.FindByExternalIdAsync(context.Account, externalId, cancellationToken);
                if (byExternalId.IsSuccess)
                {
                    return await AdoptAsync(context, byExternalId.Value!, cancellationToken);
                }
            }

            return SyncResult.DeadLettered("conflict", created.StatusCode, created.Message);
        }

        // A timed-out create may have happened: the retry starts with lookups, never a blind create.
        return Failed(context, "create", created.As<bool>());
    }

    private async Task<SyncResult?> AdoptAsync(SyncContext context, WootricEndUser found, CancellationToken cancellationToken)
    {
        var pushed = new PushedState
        {
            Email = found.Email,
            ExternalId = found.ExternalId,
            PhoneNumber = found.PhoneNumber,
            ExternalCreatedAt = found.ExternalCreatedAt,
            Properties = new Dictionary<string, string>(found.Properties, StringComparer.Ordinal),
        };
        await RememberAsync(context, found.Id, pushed, cancellationToken);
        return null;
    }

    private async Task RememberAsync(SyncContext context, long id, PushedState pushed, CancellationToken cancellationToken)
    {
        context.WootricId = id;
        context.Pushed = pushed;
        await idCache.SetAsync(context.User, id, cancellationToken);
        await states.UpdateAsync(
            context.User,
            stored =>
            {
                stored.WootricId = id;
                stored.Pushed = pushed.Clone();
                return true;
            },
            cancellationToken);
    }

    private async Task<SyncResult?> UpdateAsync(SyncContext context, CancellationToken cancellationToken)
    {
        var pushed = context.Pushed!;
        var state = context.State;
        var desiredProperties = DesiredProperties(state, pushed.Properties);

        var email = Changed(pushed.Email, state.Email);
        var phone = Changed(pushed.PhoneNumber, state.PhoneNumber);
        long? createdAt = state.ExternalCreatedAt is { } created && created != pushed.ExternalCreatedAt ? created : null;

        // Attach our external_id to a user found by email only when it has none; never overwrite another one.
        var externalId = string.IsNullOrEmpty(pushed.ExternalId) ? Changed(pushed.ExternalId, state.ExternalId) : null;
        var propertiesChanged = !SameProperties(desiredProperties, pushed.Properties);

        if (email is null && phone is null && createdAt is null && externalId is null && !propertiesChanged)
        {
            metrics.UnchangedSkips.Inc();
            return null;
        }

        var write = new EndUserWrite(email, externalId, phone, createdAt, propertiesChanged ? desiredProperties : null);
        var updated = await context.Api.UpdateAsync(context.Account, context.WootricId!.Value, write, cancellationToken);
        if (updated.Outcome == WootricOutcome.NotFound)
        {
            // The cached id points at a user deleted in Wootric: forget it and resolve again.
            await idCache.RemoveAsync(context.User, cancellationToken);
            await states.UpdateAsync(context.User, stored => { stored.WootricId = null; stored.Pushed = null; return true; }, cancellationToken);
            return new SyncResult(SyncOutcome.Retry, "stale_id", 404, updated.Message, TimeSpan.Zero);
        }

        if (!updated.IsSuccess)
        {
            return Failed(context, "update", updated.As<bool>());
        }

        metrics.WootricUpdates.Inc();
        var next = pushed.Clone();
        next.Email = email ?? next.Email;
        next.PhoneNumber = phone ?? next.PhoneNumber;
        next.ExternalCreatedAt = createdAt ?? next.ExternalCreatedAt;
        next.ExternalId = externalId ?? next.ExternalId;
        if (propertiesChanged)
        {
            next.Properties = new Dictionary<string, string>(desiredProperties, StringComparer.Ordinal);
        }

        context.Pushed = next;
        await states.UpdateAsync(context.User, stored => { stored.Pushed = next.Clone(); return true; }, cancellationToken);
        return null;
    }

    private async Task<SyncResult> PostPageViewsAsync(SyncContext context, CancellationToken cancellationToken)
    {
        if (_pageVisits != PageVisitMode.PageViews || context.State.PageViews.Count == 0)
        {
            return SyncResult.Done;
        }

        var expiredBefore = timeProvider.GetUtcNow() - _delivery.PendingPageViewTtl;
        foreach (var view in context.State.PageViews)
        {
            if (view.QueuedAt >= expiredBefore)
            {
                var posted = await context.Api.AddPageViewAsync(context.Account, context.WootricId!.Value, view.Url, view.At, cancellationToken);
                if (!posted.IsSuccess)
                {
                    return Failed(context, "page_view", posted);
                }
            }

            await states.UpdateAsync(context.User, stored => stored.PageViews.RemoveAll(pending => pending.Id == view.Id) > 0, cancellationToken);
        }

        return SyncResult.Done;
    }

    /// <summary>Stored properties overlaid with learned traits and, in Properties mode, the latest visit.</summary>
    private Dictionary<string, string> DesiredProperties(UserState state, IReadOnlyDictionary<string, string>? baseline)
    {
        var properties = baseline is null
            ? new Dictionary<string, string>(StringComparer.Ordinal)
            : new Dictionary<string, string>(baseline, StringComparer.Ordinal);
        foreach (var (key, value) in state.Properties)
        {
            properties[key] = value;
        }

        if (_pageVisits == PageVisitMode.Properties && state.LastSeenAt is { } lastSeen)
        {
            properties[EndUserMapping.LastSeenDateKey] = lastSeen.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (state.LastPageUrl is { } url)
            {
                properties[EndUserMapping.LastPageUrlKey] = url;
            }
        }

        return properties;
    }

    private SyncResult Failed(SyncContext context, string operation, WootricResult<bool> result)
    {
        LogCallFailed(logger, operation, context.User, result.Outcome, result.StatusCode, result.Message);
        return result.Outcome switch
        {
            WootricOutcome.Transient => new SyncResult(SyncOutcome.Retry, TransientReason(result.StatusCode), result.StatusCode, result.Message),
            WootricOutcome.RateLimited => new SyncResult(SyncOutcome.Retry, "rate_limited", result.StatusCode, result.Message, result.RetryAfter, CountsAsAttempt: false),
            WootricOutcome.AuthFailed => SyncResult.DeadLettered("auth_rejected", result.StatusCode, result.Message),
            WootricOutcome.Conflict => SyncResult.DeadLettered("conflict", result.StatusCode, result.Message),
            _ => SyncResult.DeadLettered("rejected", result.StatusCode, result.Message),
        };
    }

    /// <summary>The retry reason label: a 2xx here is an answer the gateway could not read.</summary>
    private static string TransientReason(int statusCode) => statusCode switch
    {
        >= 500 => "server_error",
        >= 200 and < 300 => "invalid_response",
        _ => "timeout_or_network",
    };

    private static string? Changed(string? current, string? desired) =>
        desired is not null && desired != current ? desired : null;

    private static bool SameProperties(Dictionary<string, string> desired, Dictionary<string, string> pushed)
    {
        if (desired.Count != pushed.Count)
        {
            return false;
        }

        foreach (var (key, value) in desired)
        {
            if (!pushed.TryGetValue(key, out var other) || other != value)
            {
                return false;
            }
        }

        return true;
    }

    [LoggerMessage(EventId = 2003, Level = LogLevel.Warning, Message = "Could not extend the lease on {User}; another worker may take the user over")]
    private static partial void LogLeaseLost(ILogger logger, UserRef user);

    [LoggerMessage(EventId = 2001, Level = LogLevel.Debug, Message = "Created Wootric end user {WootricId} for {User}")]
    private static partial void LogCreated(ILogger logger, UserRef user, long wootricId);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Warning, Message = "Wootric {Operation} for {User} failed: {Outcome}, status {StatusCode}: {WootricMessage}")]
    private static partial void LogCallFailed(ILogger logger, string operation, UserRef user, WootricOutcome outcome, int statusCode, string? wootricMessage);

    private sealed class SyncContext(UserRef user, WootricAccount account, IWootricApi api, UserState state)
    {
        public UserRef User { get; } = user;

        public WootricAccount Account { get; } = account;

        public IWootricApi Api { get; } = api;

        public UserState State { get; } = state;

        public long? WootricId { get; set; }

        public PushedState? Pushed { get; set; }
    }
}
