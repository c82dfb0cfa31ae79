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
    /// <summary>
    /// The maximum number of characters, names and values together, that the properties learned from all of one
    /// user's identifies may take. Every update to Wootric sends the whole set, so new names must not grow it
    /// without end. The limit equals the one a single identify has.
    /// </summary>
    internal const int MaxUserPropertyCharacters = EndUserMapping.MaxPropertyCharacters;

    private readonly PageVisitMode _pageVisits = wootricOptions.Value.PageVisits;
    private readonly DeliveryOptions _delivery = deliveryOptions.Value;
    private readonly ScopeCache _scopes = new();

    public async ValueTask ConsumeAsync(TappedBatch batch, CancellationToken cancellationToken)
    {
        // Every event of a request carries the request's write key, so account and scope are per batch.
        var account = accounts.ForWriteKey(batch.WriteKey);
        if (account is null)
        {
            foreach (var tapped in batch.Events)
            {
                Skipped(tapped, "unmapped_write_key");
            }

            return;
        }

        var scope = _scopes.Get(account, batch.WriteKey);
        var candidates = new List<SegmentEvent>(batch.Events.Count);
        var ids = new List<(string Scope, string MessageId)>(batch.Events.Count);
        foreach (var tapped in batch.Events)
        {
            if (tapped is PageEvent && _pageVisits == PageVisitMode.Off)
            {
                Skipped(tapped, "page_visits_off");
                continue;
            }

            candidates.Add(tapped);
            if (tapped.MessageId is { } messageId)
            {
                ids.Add((scope, messageId));
            }
        }

        // Re-sent events are the common case under client retries, so they are dropped before any mapping.
        // The whole request's ids are recorded in one round trip.
        var fresh = await deduplicator.TryMarkManyAsync(ids, cancellationToken);

        // Each user's changes are applied in request order as one update, so a request with several events
        // for one user reads and writes that user's state once.
        var now = timeProvider.GetUtcNow();
        var changes = new Dictionary<UserRef, UserChanges>();
        var idIndex = 0;
        foreach (var tapped in candidates)
        {
            if (tapped.MessageId is not null && !fresh[idIndex++])
            {
                Skipped(tapped, "duplicate");
                continue;
            }

            var (user, mutate, reason) = Map(tapped, account, batch.ReceivedAt, now);
            if (reason is not null)
            {
                Skipped(tapped, reason);
                continue;
            }

            if (!changes.TryGetValue(user, out var userChanges))
            {
                changes[user] = userChanges = new UserChanges();
            }

            userChanges.Mutations.Add(mutate!);
            if (tapped.MessageId is { } messageId)
            {
                userChanges.MessageIds.Add((scope, messageId));
            }
        }

        var users = changes.Keys.ToArray();
        var updates = users.Select(user => states.UpdateAsync(user, state => ApplyAll(state, changes[user]), cancellationToken).AsTask()).ToArray();
        bool[] changed;
        try
        {
            changed = await Task.WhenAll(updates);
        }
        catch
        {
            // Users whose update succeeded keep their message ids, and a retry skips their events, so their
            // dropped properties are counted now.
            CountDroppedProperties(users.Where((_, index) => updates[index].IsCompletedSuccessfully).Select(user => changes[user]));

            // The ids of users whose update did not succeed are released, so the retry of this request (the
            // outage buffer applies it again) applies their events instead of skipping them as duplicates.
            var unapplied = users.Where((_, index) => !updates[index].IsCompletedSuccessfully).SelectMany(user => changes[user].MessageIds).ToList();
            await ForgetQuietlyAsync(unapplied);
            throw;
        }

        CountDroppedProperties(changes.Values);
        await Task.WhenAll(users.Where((_, index) => changed[index]).Select(user => queue.EnqueueAsync(user, cancellationToken).AsTask()));
    }

    /// <summary>One user's changes from one request, in order, with the message ids they came from.</summary>
    private sealed class UserChanges
    {
        public List<Func<UserState, UserChanges, bool>> Mutations { get; } = [];

        public List<(string Scope, string MessageId)> MessageIds { get; } = [];

        /// <summary>Properties the user's limit left out, in the last application of <see cref="Mutations"/>.</summary>
        public int PropertiesDropped { get; set; }
    }

    /// <summary>
    /// Applies one user's changes. After a conflicting write a store calls this again on the state it reads
    /// anew, so the dropped count is reset first and only the last application's count is kept.
    /// </summary>
    private static bool ApplyAll(UserState state, UserChanges changes)
    {
        changes.PropertiesDropped = 0;
        var updated = false;
        foreach (var mutate in changes.Mutations)
        {
            updated |= mutate(state, changes);
        }

        return updated;
    }

    private void CountDroppedProperties(IEnumerable<UserChanges> applied)
    {
        var dropped = applied.Sum(changes => changes.PropertiesDropped);
        if (dropped > 0)
        {
            metrics.PropertiesDropped.Inc(dropped);
        }
    }

    private async Task ForgetQuietlyAsync(List<(string Scope, string MessageId)> ids)
    {
        try
        {
            await deduplicator.ForgetAsync(ids, CancellationToken.None);
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            // Redis is most likely down; those ids stay recorded until the de-duplication window ends.
        }
    }

    private void Skipped(SegmentEvent tapped, string reason) =>
        metrics.TapEventsByLabels.Get(tapped is IdentifyEvent ? "identify" : "page", GatewayMetrics.SkippedOutcome(reason)).Inc();

    /// <summary>Maps one event to the user it changes and how; or returns the reason it is skipped.</summary>
    private (UserRef User, Func<UserState, UserChanges, bool>? Mutate, string? Reason) Map(
        SegmentEvent tapped,
        WootricAccount account,
        DateTimeOffset receivedAt,
        DateTimeOffset now)
    {
        switch (tapped)
        {
            case IdentifyEvent identify:
                var change = EndUserMapping.MapIdentify(identify.Traits);
                if (change.CreatedAtDropped)
                {
                    metrics.CreatedAtDropped.Inc();
                }

                if (change.PropertiesDropped > 0)
                {
                    metrics.PropertiesDropped.Inc(change.PropertiesDropped);
                }

                UserRef user;
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
                    return (default!, null, "no_user_id");
                }

                return (user, (state, changes) => ApplyIdentify(state, identify.UserId, change, now, changes), null);

            case PageEvent page:
                if (page.UserId is not { } pageUserId)
                {
                    return (default!, null, "anonymous_page");
                }

                var at = (page.Timestamp ?? receivedAt).ToUnixTimeSeconds();
                Func<UserState, UserChanges, bool> mutate = _pageVisits == PageVisitMode.PageViews
                    ? (state, _) => AddPageView(state, pageUserId, page, at, now)
                    : (state, _) => ApplyVisit(state, pageUserId, page.Url, at, now);
                return (UserRef.ForUserId(account.Name, pageUserId), mutate, null);

            default:
                return (default!, null, "unsupported_type");
        }
    }

    private static bool ApplyIdentify(UserState state, string? userId, IdentifyChange change, DateTimeOffset now, UserChanges changes)
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

        // The size of the stored set is summed only when a change would grow it.
        long? stored = null;
        foreach (var (key, value) in change.Properties)
        {
            var known = state.Properties.TryGetValue(key, out var current);
            if (known && current == value)
            {
                continue;
            }

            var growth = known ? value.Length - current!.Length : key.Length + value.Length;
            if (growth > 0)
            {
                stored ??= PropertyCharacters(state.Properties);
                if (stored + growth > MaxUserPropertyCharacters)
                {
                    changes.PropertiesDropped++;
                    continue;
                }
            }

            stored += growth;
            state.Properties[key] = value;
            updated = true;
        }

        if (updated)
        {
            state.UpdatedAt = now;
        }

        return updated;
    }

    private static long PropertyCharacters(Dictionary<string, string> properties)
    {
        long total = 0;
        foreach (var (key, value) in properties)
        {
            total += key.Length + value.Length;
        }

        return total;
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
