using System.IO.Hashing;
using System.Text;
using Microsoft.Extensions.Options;
using WootricGateway.Metrics;
using WootricGateway.Segment;
using WootricGateway.State;
using WootricGateway.Tap;
using WootricGateway.Wootric;

namespace WootricGateway.Delivery;

/// <summary>
/// Applies tapped events to user state and queues each changed user once per request, so a burst
/// for one user becomes one sync. Re-sent messages (same messageId and write key) are skipped.
/// </summary>
internal sealed class UserSyncSink(
    WootricAccountRegistry accounts,
    IUserStateStore states,
    IWorkQueue queue,
    IMessageDeduplicator deduplicator,
    IOptions<WootricOptions> wootricOptions,
    IOptions<DeliveryOptions> deliveryOptions,
    GatewayMetrics metrics,
    TimeProvider timeProvider) : ITapEventSink
{
    private readonly PageVisitMode _pageVisits = wootricOptions.Value.PageVisits;
    private readonly DeliveryOptions _delivery = deliveryOptions.Value;
    private readonly ScopeCache _scopes = new();

    public async ValueTask ConsumeAsync(TappedBatch batch, CancellationToken cancellationToken)
    {
        // Every event of a request carries the request's write key, so account and scope are per batch.
        var account = accounts.ForWriteKey(batch.WriteKey);
        var scope = account is null ? null : _scopes.Get(account, batch.WriteKey);
        var changed = new HashSet<UserRef>();
        foreach (var tapped in batch.Events)
        {
            var type = tapped is IdentifyEvent ? "identify" : "page";
            var reason = account is null
                ? "unmapped_write_key"
                : await ApplyAsync(tapped, account, scope!, batch.ReceivedAt, changed, cancellationToken);
            if (reason is not null)
            {
                metrics.TapEvents.WithLabels(type, "skipped_" + reason).Inc();
            }
        }

        foreach (var user in changed)
        {
            await queue.EnqueueAsync(user, cancellationToken);
        }
    }

    /// <summary>Applies one event; returns the skip reason, or null when it was applied (changed or not).</summary>
    private async ValueTask<string?> ApplyAsync(
        SegmentEvent tapped,
        WootricAccount account,
        string scope,
        DateTimeOffset receivedAt,
        HashSet<UserRef> changed,
        CancellationToken cancellationToken)
    {
        if (tapped is PageEvent && _pageVisits == PageVisitMode.Off)
        {
            return "page_visits_off";
        }

        // Re-sent events are the common case under client retries, so they are dropped before any mapping.
        if (tapped.MessageId is { } messageId && !await deduplicator.TryMarkAsync(scope, messageId, cancellationToken))
        {
            return "duplicate";
        }

        UserRef user;
        Func<UserState, bool> mutate;
        var now = timeProvider.GetUtcNow();
        switch (tapped)
        {
            case IdentifyEvent identify:
                var change = EndUserMapping.MapIdentify(identify.Traits);
                if (change.CreatedAtDropped)
                {
                    metrics.CreatedAtDropped.Inc();
                }

                if (identify.UserId is { } userId)
                {
                    user = UserRef.ForUserId(account.Name, userId);
                }
                else if (change.Email is { } email)
                {
                    user = UserRef.ForEmail(account.Name, email);
                }
                else
                {
                    return "no_user_id";
                }

                mutate = state => ApplyIdentify(state, identify.UserId, change, now);
                break;

            case PageEvent page:
                if (page.UserId is not { } pageUserId)
                {
                    return "anonymous_page";
                }

                user = UserRef.ForUserId(account.Name, pageUserId);
                var at = (page.Timestamp ?? receivedAt).ToUnixTimeSeconds();
                mutate = _pageVisits == PageVisitMode.PageViews
                    ? state => AddPageView(state, pageUserId, page, at, now)
                    : state => ApplyVisit(state, pageUserId, page.Url, at, now);
                break;

            default:
                return "unsupported_type";
        }

        if (await states.UpdateAsync(user, mutate, cancellationToken))
        {
            changed.Add(user);
        }

        return null;
    }

    private static bool ApplyIdentify(UserState state, string? userId, IdentifyChange change, DateTimeOffset now)
    {
        var updated = false;
        updated |= Set(state.ExternalId, userId, value => state.ExternalId = value);
        updated |= Set(state.Email, change.Email, value => state.Email = value);
        updated |= Set(state.PhoneNumber, change.PhoneNumber, value => state.PhoneNumber = value);
        if (change.ExternalCreatedAt is { } createdAt && state.ExternalCreatedAt != createdAt)
        {
            state.ExternalCreatedAt = createdAt;
            updated = true;
        }

        foreach (var (key, value) in change.Properties)
        {
            if (!state.Properties.TryGetValue(key, out var current) || current != value)
            {
                state.Properties[key] = value;
                updated = true;
            }
        }

        if (updated)
        {
            state.UpdatedAt = now;
        }

        return updated;
    }

    private static bool ApplyVisit(UserState state, string userId, string? url, long at, DateTimeOffset now)
    {
        // The latest visit wins, whatever order the events arrive in.
        if (state.LastSeenAt is { } seen && seen > at)
        {
            return Set(state.ExternalId, userId, value => state.ExternalId = value);
        }

        var updated = Set(state.ExternalId, userId, value => state.ExternalId = value);
        if (state.LastSeenAt != at || (url is not null && state.LastPageUrl != url))
        {
            state.LastSeenAt = at;
            state.LastPageUrl = url ?? state.LastPageUrl;
            updated = true;
        }

        if (updated)
        {
            state.UpdatedAt = now;
        }

        return updated;
    }

    private bool AddPageView(UserState state, string userId, PageEvent page, long at, DateTimeOffset now)
    {
        Set(state.ExternalId, userId, value => state.ExternalId = value);
        state.PageViews.Add(new PendingPageView(Guid.NewGuid().ToString("N"), page.Url, at, now));
        if (state.PageViews.Count > _delivery.MaxPendingPageViews)
        {
            state.PageViews.RemoveRange(0, state.PageViews.Count - _delivery.MaxPendingPageViews);
        }

        state.UpdatedAt = now;
        return true;
    }

    private static bool Set(string? current, string? incoming, Action<string> assign)
    {
        if (incoming is null || incoming == current)
        {
            return false;
        }

        assign(incoming);
        return true;
    }

    /// <summary>
    /// Remembers the scope of each (account, write key) pair, since every request would otherwise hash its
    /// write key again. Bounded, so a stream of made-up write keys cannot grow it.
    /// </summary>
    private sealed class ScopeCache
    {
        private const int Capacity = 1024;
        private readonly System.Collections.Concurrent.ConcurrentDictionary<(string Account, string WriteKey), string> _scopes = new();
        private int _count;

        public string Get(WootricAccount account, string? writeKey)
        {
            if (writeKey is null)
            {
                return DeduplicationScope(account, null);
            }

            if (_scopes.TryGetValue((account.Name, writeKey), out var cached))
            {
                return cached;
            }

            var scope = DeduplicationScope(account, writeKey);
            if (Volatile.Read(ref _count) < Capacity && _scopes.TryAdd((account.Name, writeKey), scope))
            {
                Interlocked.Increment(ref _count);
            }

            return scope;
        }
    }

    /// <summary>
    /// Scopes message ids by account and write key. The key is hashed so the deduplication store
    /// (Redis, when configured) never stores a write key.
    /// </summary>
    private static string DeduplicationScope(WootricAccount account, string? writeKey)
    {
        if (writeKey is null)
        {
            return account.Name + ":-";
        }

        var hash = XxHash64.HashToUInt64(Encoding.UTF8.GetBytes(writeKey));
        return account.Name + ":" + hash.ToString("x16", System.Globalization.CultureInfo.InvariantCulture);
    }
}
