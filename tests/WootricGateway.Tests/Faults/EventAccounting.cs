using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using WootricGateway.Tests.Conformance;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.Faults;

/// <summary>One identify or page event that the upstream accepted (answered 2xx), read from the upstream's record.</summary>
internal sealed record AcceptedEvent(string Type, string MessageId, string UserId, IReadOnlyDictionary<string, string> Traits, long? Timestamp);

/// <summary>
/// What a gateway reports about the events it did not apply, read from <c>/metrics</c> and
/// <c>/admin/dead-letters</c>, and how many of its Wootric writes ended without a response (timed
/// out or failed on the connection), so that Wootric may have applied them although the gateway had to retry.
/// </summary>
internal sealed record GatewayCounts(double SkippedEvents, double DroppedEvents, IReadOnlyList<string> DeadLetterUsers, double UnansweredWrites = 0)
{
    private static readonly string[] WriteOperations = ["create", "update", "page_view"];
    private static readonly string[] UnansweredClasses = ["timeout", "network_error"];

    /// <summary>Reads the counters of one running gateway from its management listener.</summary>
    public static async Task<GatewayCounts> ReadAsync(Uri managementAddress, CancellationToken cancellationToken)
    {
        using var client = new HttpClient { BaseAddress = managementAddress, Timeout = TimeSpan.FromSeconds(30) };
        var exposition = await client.GetStringAsync(new Uri("/metrics", UriKind.Relative), cancellationToken);
        var skipped = 0.0;
        var dropped = 0.0;
        var unanswered = 0.0;
        foreach (var line in exposition.Split('\n'))
        {
            if (line.StartsWith("wootric_gateway_wootric_requests_total{", StringComparison.Ordinal)
                && WriteOperations.Any(operation => line.Contains($"operation=\"{operation}\"", StringComparison.Ordinal))
                && UnansweredClasses.Any(statusClass => line.Contains($"status_class=\"{statusClass}\"", StringComparison.Ordinal)))
            {
                unanswered += SampleValue(line);
            }

            if (line.StartsWith("wootric_gateway_tap_events_total{", StringComparison.Ordinal))
            {
                var value = SampleValue(line);
                if (line.Contains("outcome=\"skipped_", StringComparison.Ordinal))
                {
                    skipped += value;
                }
                else if (line.Contains("outcome=\"dropped_", StringComparison.Ordinal))
                {
                    dropped += value;
                }
            }

            // Captures lost before parsing hide an unknown number of events, so they count as drops.
            if (line.StartsWith("wootric_gateway_tap_requests_total{", StringComparison.Ordinal)
                && (line.Contains("outcome=\"queue_full\"", StringComparison.Ordinal) || line.Contains("outcome=\"sink_failed\"", StringComparison.Ordinal)))
            {
                dropped += SampleValue(line);
            }
        }

        var letters = JsonNode.Parse(await client.GetStringAsync(new Uri("/admin/dead-letters", UriKind.Relative), cancellationToken))!.AsArray();
        return new GatewayCounts(skipped, dropped, [.. letters.Select(letter => letter!["user"]!.GetValue<string>())], unanswered);
    }

    /// <summary>Reads the value of one Prometheus sample line, the number after its labels.</summary>
    private static double SampleValue(string line) =>
        double.Parse(line[(line.LastIndexOf('}') + 1)..].Trim(), CultureInfo.InvariantCulture);
}

/// <summary>
/// The buckets every accepted event fell into, every breach of the accounting rules, and how many
/// applied writes repeated an earlier one after an unanswered attempt.
/// </summary>
internal sealed record AccountingReport(int Accepted, int Applied, int Skipped, int DeadLettered, IReadOnlyList<string> Violations, int RepeatedWrites = 0)
{
    public override string ToString() =>
        $"{Accepted} accepted: {Applied} applied, {Skipped} skipped, {DeadLettered} dead-lettered"
        + (RepeatedWrites == 0 ? "" : $", {RepeatedWrites} writes repeated after an unanswered attempt")
        + (Violations.Count == 0 ? "" : "; violations:\n  " + string.Join("\n  ", Violations));
}

/// <summary>
/// The accounting check: after the system settled, every identify or page event that the upstream
/// accepted is in exactly one bucket, and Wootric saw no duplicate work.
/// </summary>
/// <remarks>
/// <para>Events are grouped by messageId. The first copy of a message is <b>applied</b> when Wootric
/// has an end user with its userId as external_id and, for an identify, every trait with the value of
/// the last accepted identify of that user that set it (later events win), or for a page a
/// <c>last_seen_date</c> at or after the page's timestamp. It is <b>dead-lettered</b> when its user
/// is in a gateway's dead letters. Every other event, including each further copy of a message, must
/// be <b>skipped</b>, and their number must equal the gateways' <c>skipped_*</c> event counters.</para>
/// <para>Rules: no event both applied and dead-lettered; no events dropped (full queue, failed sink,
/// Redis outage buffer full); one successful create at most per external_id, and no create request
/// at all for a user Wootric had before the test; and per end user, the writes Wootric applied
/// (processed with 2xx, whatever a fault then returned) are no more than the distinct accepted
/// messages for that user, so any further write is a retry of a write that failed.</para>
/// <para>One exception to the last rule: a write that Wootric applied but whose response the gateway
/// never read (its timeout passed first, or the connection broke) has an unknown outcome for the
/// gateway, which must retry it, and the retry is applied too. A further applied write is therefore
/// allowed when it repeats an earlier applied write of the same user exactly (method, path and
/// form), and all such repeats together are no more than the write attempts the gateways counted as
/// timed out or failed on the connection.</para>
/// </remarks>
internal static class EventAccounting
{
    private static readonly HashSet<string> TappedPaths = new(StringComparer.Ordinal)
    {
        "/v1/identify", "/v1/i", "/v1/page", "/v1/p", "/v1/batch", "/v1/b", "/v1/import",
    };

    /// <summary>Reads the identify and page events with a userId from every request the upstream answered in full with 2xx.</summary>
    public static IReadOnlyList<AcceptedEvent> ReadAcceptedEvents(RecordingUpstream upstream)
    {
        var events = new List<AcceptedEvent>();
        foreach (var exchange in upstream.Exchanges)
        {
            var path = exchange.Path;
            if (exchange.Method != "POST" || !upstream.WasAnswered(exchange) || exchange.Response.Status is < 200 or >= 300 || !TappedPaths.Contains(path))
            {
                continue;
            }

            var body = JsonNode.Parse(Encoding.UTF8.GetString(exchange.Body))!.AsObject();
            var items = body["batch"] is JsonArray batch ? batch.Select(item => item!.AsObject()) : [body];
            var pathType = path is "/v1/identify" or "/v1/i" ? "identify" : path is "/v1/page" or "/v1/p" ? "page" : null;
            foreach (var item in items)
            {
                var type = item["type"]?.GetValue<string>() ?? pathType;
                if (type is not ("identify" or "page") || item["userId"]?.ToString() is not { } userId)
                {
                    continue;
                }

                var traits = (item["traits"] as JsonObject ?? [])
                    .Where(pair => pair.Key != "email" && pair.Value is JsonValue)
                    .ToDictionary(pair => pair.Key, pair => pair.Value!.ToString(), StringComparer.Ordinal);
                long? timestamp = item["timestamp"]?.GetValue<string>() is { } text
                    ? DateTimeOffset.Parse(text, CultureInfo.InvariantCulture).ToUnixTimeSeconds()
                    : null;
                events.Add(new AcceptedEvent(type, item["messageId"]!.GetValue<string>(), userId, traits, timestamp));
            }
        }

        return events;
    }

    /// <summary>
    /// Runs the check against the upstream's record, the fake Wootric and the counters of every
    /// gateway that handled the traffic (each still running). <paramref name="seededUsers"/> are
    /// external ids that existed in Wootric before the test, so they must never be created.
    /// </summary>
    public static async Task<AccountingReport> CheckAsync(
        RecordingUpstream upstream,
        FakeWootricServer wootric,
        IEnumerable<Uri> managementAddresses,
        CancellationToken cancellationToken,
        IReadOnlyCollection<string>? seededUsers = null)
    {
        var counts = new List<GatewayCounts>();
        foreach (var address in managementAddresses)
        {
            counts.Add(await GatewayCounts.ReadAsync(address, cancellationToken));
        }

        return Check(ReadAcceptedEvents(upstream), wootric, counts, seededUsers ?? []);
    }

    /// <summary>
    /// Returns whether the check passes now. A settle wait uses it as the state to reach before its
    /// quiet window, so the window starts only once every accepted event is accounted for.
    /// </summary>
    public static async Task<bool> PassesAsync(
        RecordingUpstream upstream,
        FakeWootricServer wootric,
        IEnumerable<Uri> managementAddresses,
        CancellationToken cancellationToken,
        IReadOnlyCollection<string>? seededUsers = null) =>
        (await CheckAsync(upstream, wootric, managementAddresses, cancellationToken, seededUsers)).Violations.Count == 0;

    /// <summary>
    /// Waits until the check passes against <paramref name="gateway"/> and the gateway has then been
    /// quiet for <paramref name="quiet"/>, and returns the wait's result with the check's report.
    /// </summary>
    public static async Task<(SettleResult Settled, AccountingReport Report)> SettleAsync(
        GatewayUnderTest gateway,
        RecordingUpstream upstream,
        FakeWootricServer wootric,
        TimeSpan quiet,
        TimeSpan timeout,
        CancellationToken cancellationToken,
        IReadOnlyCollection<string>? seededUsers = null)
    {
        var settled = await gateway.WaitUntilSettledAsync(
            wootric,
            quiet,
            timeout,
            token => PassesAsync(upstream, wootric, [gateway.ManagementAddress], token, seededUsers),
            cancellationToken);
        var report = await CheckAsync(upstream, wootric, [gateway.ManagementAddress], cancellationToken, seededUsers);
        return (settled, report);
    }

    internal static AccountingReport Check(
        IReadOnlyList<AcceptedEvent> accepted,
        FakeWootricServer wootric,
        IReadOnlyList<GatewayCounts> counts,
        IReadOnlyCollection<string> seededUsers)
    {
        var violations = new List<string>();
        var endUsers = wootric.EndUsers;
        var byExternalId = endUsers.Where(user => user.ExternalId is not null).ToDictionary(user => user.ExternalId!, StringComparer.Ordinal);
        var deadLettered = counts.SelectMany(count => count.DeadLetterUsers).ToHashSet(StringComparer.Ordinal);

        // The value each trait must have in Wootric: the last accepted identify of the user that set it.
        var expectedTraits = new Dictionary<(string User, string Trait), string>();
        foreach (var identify in accepted.Where(tapped => tapped.Type == "identify"))
        {
            foreach (var (trait, value) in identify.Traits)
            {
                expectedTraits[(identify.UserId, trait)] = value;
            }
        }

        int applied = 0, letters = 0, unaccounted = 0;
        foreach (var copies in accepted.GroupBy(tapped => tapped.MessageId))
        {
            var first = copies.First();
            unaccounted += copies.Count() - 1;
            var isApplied = byExternalId.TryGetValue(first.UserId, out var endUser) && IsApplied(first, endUser, expectedTraits);
            var isDeadLettered = deadLettered.Contains("u:" + first.UserId);
            if (isApplied && isDeadLettered)
            {
                violations.Add($"message {first.MessageId} for {first.UserId} is both applied and dead-lettered");
            }

            if (isApplied)
            {
                applied++;
            }
            else if (isDeadLettered)
            {
                letters++;
            }
            else
            {
                unaccounted++;
            }
        }

        var skippedCounted = counts.Sum(count => count.SkippedEvents);
        if (skippedCounted != unaccounted)
        {
            violations.Add($"{unaccounted} accepted events are neither applied nor dead-lettered, but the gateways counted {skippedCounted} skipped events");
        }

        var dropped = counts.Sum(count => count.DroppedEvents);
        if (dropped > 0)
        {
            violations.Add($"the gateways dropped {dropped} events or captures");
        }

        var repeated = CheckWrites(accepted, wootric, endUsers, seededUsers, counts.Sum(count => count.UnansweredWrites), violations);
        violations.AddRange(wootric.Violations.Select(violation => "fake Wootric: " + violation));
        return new AccountingReport(accepted.Count, applied, unaccounted, letters, violations, repeated);
    }

    private static bool IsApplied(AcceptedEvent tapped, FakeEndUser endUser, Dictionary<(string User, string Trait), string> expectedTraits)
    {
        if (tapped.Type == "page")
        {
            return tapped.Timestamp is not { } at
                || (endUser.Properties.TryGetValue("last_seen_date", out var seen) && long.Parse(seen, CultureInfo.InvariantCulture) >= at);
        }

        return tapped.Traits.Keys.All(trait =>
            endUser.Properties.TryGetValue(trait, out var value) && value == expectedTraits[(tapped.UserId, trait)]);
    }

    /// <summary>Checks creates and applied writes per end user; returns how many writes were allowed as repeats after an unanswered attempt.</summary>
    private static int CheckWrites(
        IReadOnlyList<AcceptedEvent> accepted,
        FakeWootricServer wootric,
        IReadOnlyList<FakeEndUser> endUsers,
        IReadOnlyCollection<string> seededUsers,
        double unansweredWrites,
        List<string> violations)
    {
        var externalIdById = endUsers.ToDictionary(user => user.Id, user => user.ExternalId);
        var messagesByUser = accepted.GroupBy(tapped => tapped.UserId).ToDictionary(group => group.Key, group => group.Select(tapped => tapped.MessageId).Distinct().Count());
        var appliedWrites = new Dictionary<string, List<WootricRequestRecord>>(StringComparer.Ordinal);
        var creates = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var request in wootric.Requests.Where(request => request.IsWrite))
        {
            string? externalId;
            if (request.Method == "POST" && request.Path == "/v1/end_users")
            {
                externalId = request.Form.GetValueOrDefault("external_id");
                if (request.CreatedEndUserId is not null && externalId is not null)
                {
                    creates[externalId] = creates.GetValueOrDefault(externalId) + 1;
                }

                // Lookups find a user that existed before the test, so a create for one means a
                // failed lookup was read as a miss.
                if (externalId is not null && seededUsers.Contains(externalId))
                {
                    violations.Add($"a create was sent for {externalId}, which existed before the test: {request}");
                }
            }
            else
            {
                var segments = request.Path.Split('/', StringSplitOptions.RemoveEmptyEntries);
                externalId = segments.Length >= 3 && long.TryParse(segments[2], CultureInfo.InvariantCulture, out var id)
                    ? externalIdById.GetValueOrDefault(id)
                    : null;
            }

            if (externalId is not null && request.ProcessedStatus is >= 200 and < 300)
            {
                if (!appliedWrites.TryGetValue(externalId, out var writes))
                {
                    appliedWrites[externalId] = writes = [];
                }

                writes.Add(request);
            }
        }

        foreach (var (externalId, count) in creates)
        {
            if (count > 1 || seededUsers.Contains(externalId))
            {
                violations.Add($"end user {externalId} was created {count} times{(seededUsers.Contains(externalId) ? " although it existed before" : "")}");
            }
        }

        var repeated = 0;
        foreach (var (externalId, writes) in appliedWrites)
        {
            var messages = messagesByUser.GetValueOrDefault(externalId);
            var excess = writes.Count - messages;
            if (excess <= 0)
            {
                continue;
            }

            var repeats = writes.Where((write, index) => writes.Take(index).Any(earlier => IsSameWrite(earlier, write))).Count();
            if (repeats < excess)
            {
                violations.Add($"end user {externalId} got {writes.Count} applied writes for {messages} distinct accepted messages, "
                    + $"{repeats} of them repeating an earlier write: {string.Join("; ", writes)}");
            }
            else
            {
                repeated += excess;
            }
        }

        if (repeated > unansweredWrites)
        {
            violations.Add($"{repeated} applied writes repeated an earlier one, but the gateways counted only {unansweredWrites} write attempts without an answer");
        }

        return repeated;
    }

    private static bool IsSameWrite(WootricRequestRecord first, WootricRequestRecord second) =>
        first.Method == second.Method
        && first.Path == second.Path
        && first.Form.Count == second.Form.Count
        && first.Form.All(pair => second.Form.TryGetValue(pair.Key, out var value) && value == pair.Value);
}
