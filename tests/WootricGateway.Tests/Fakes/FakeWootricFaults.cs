using System.Text.Json;
using System.Text.Json.Nodes;

namespace WootricGateway.Tests.Fakes;

/// <summary>
/// A fault rule. The next <see cref="Count"/> requests that match the filters wait
/// <see cref="Latency"/> and then get <see cref="Status"/>. With <see cref="Apply"/> the request
/// is processed first and only its response is replaced. Without a status the request is only
/// delayed.
/// </summary>
internal sealed record FaultRule
{
    /// <summary>How many matching requests the rule affects. Null affects every matching request.</summary>
    public int? Count { get; init; }

    public int? Status { get; init; }

    public string? Method { get; init; }

    public string? Path { get; init; }

    public string? PathPrefix { get; init; }

    public TimeSpan Latency { get; init; }

    public bool Apply { get; init; }

    /// <summary>Closes the connection without a response (a TCP reset); with <see cref="Apply"/> after processing the request.</summary>
    public bool Reset { get; init; }

    /// <summary>The response body. Null sends <c>{"error": "&lt;reason phrase&gt;"}</c>.</summary>
    public JsonNode? Body { get; init; }

    public bool Matches(string method, string path) =>
        (Method is null || string.Equals(Method, method, StringComparison.OrdinalIgnoreCase))
        && (Path is null || string.Equals(Path, path, StringComparison.Ordinal))
        && (PathPrefix is null || path.StartsWith(PathPrefix, StringComparison.Ordinal));

    public FakeWootricResponse CreateResponse(int status) => Body switch
    {
        null => FakeWootricResponse.ForStatus(status),
        JsonValue value when value.GetValueKind() == JsonValueKind.String =>
            new FakeWootricResponse(status, value.GetValue<string>(), "text/plain; charset=utf-8", []),
        _ => FakeWootricResponse.Json(status, Body),
    };
}

/// <summary>
/// A change to the fake's fault settings, read from a case's <c>wootric_faults</c> value. Only the
/// fields present change. The <c>Has…</c> flags tell a field set to null from a missing one.
/// </summary>
internal sealed record FaultSettingsChange
{
    public IReadOnlyList<FaultRule>? Rules { get; init; }

    public TimeSpan? Latency { get; init; }

    public bool HasRateLimit { get; init; }

    /// <summary>Requests allowed per window, or null to turn rate limiting off.</summary>
    public int? RateLimitPerWindow { get; init; }

    public TimeSpan? RateLimitWindow { get; init; }

    public bool RevokeTokens { get; init; }

    public TimeSpan? TokenLifetime { get; init; }

    /// <summary>
    /// Parses <c>{"rules": [...], "latency_ms": …, "rate_limit_per_minute": …,
    /// "rate_limit_window_s": …, "revoke_tokens": …, "token_ttl_s": …}</c>, or a bare array of
    /// rules. Throws <see cref="InvalidDataException"/> naming an unknown or invalid field.
    /// </summary>
    public static FaultSettingsChange Parse(JsonNode node)
    {
        if (node is JsonArray bareRules)
        {
            return new FaultSettingsChange { Rules = ParseRules(bareRules) };
        }

        if (node is not JsonObject settings)
        {
            throw new InvalidDataException($"wootric_faults must be an object or an array of rules, not {node.GetValueKind()}.");
        }

        var change = new FaultSettingsChange();
        foreach (var (name, value) in settings)
        {
            change = name switch
            {
                "rules" => change with { Rules = ParseRules(value as JsonArray ?? throw Invalid(name, "an array of rules")) },
                "latency_ms" => change with { Latency = TimeSpan.FromMilliseconds(ReadInt(value, name, minimum: 0) ?? 0) },
                "rate_limit_per_minute" => change with { HasRateLimit = true, RateLimitPerWindow = ReadInt(value, name, minimum: 1) },
                "rate_limit_window_s" => change with { RateLimitWindow = TimeSpan.FromSeconds(ReadInt(value, name, minimum: 1) ?? 60) },
                "revoke_tokens" => change with { RevokeTokens = value?.GetValue<bool>() ?? false },
                "token_ttl_s" => change with { TokenLifetime = ReadInt(value, name, minimum: 1) is { } seconds ? TimeSpan.FromSeconds(seconds) : FakeWootricTokens.DefaultLifetime },
                _ => throw new InvalidDataException($"wootric_faults has an unknown field '{name}'; known fields are rules, latency_ms, rate_limit_per_minute, rate_limit_window_s, revoke_tokens, token_ttl_s."),
            };
        }

        return change;
    }

    private static List<FaultRule> ParseRules(JsonArray rules) =>
        [.. rules.Select((rule, index) => ParseRule(rule as JsonObject ?? throw Invalid($"rules[{index}]", "an object"), index))];

    private static FaultRule ParseRule(JsonObject node, int index)
    {
        var rule = new FaultRule();
        foreach (var (name, value) in node)
        {
            var field = $"rules[{index}].{name}";
            rule = name switch
            {
                "count" => rule with { Count = ReadInt(value, field, minimum: 1) },
                "status" => rule with { Status = ReadInt(value, field, minimum: 100) },
                "method" => rule with { Method = value?.GetValue<string>() },
                "path" => rule with { Path = value?.GetValue<string>() },
                "path_prefix" => rule with { PathPrefix = value?.GetValue<string>() },
                "latency_ms" => rule with { Latency = TimeSpan.FromMilliseconds(ReadInt(value, field, minimum: 0) ?? 0) },
                "apply" => rule with { Apply = value?.GetValue<bool>() ?? false },
                "reset" => rule with { Reset = value?.GetValue<bool>() ?? false },
                "body" => rule with { Body = value?.DeepClone() },
                _ => throw new InvalidDataException($"wootric_faults {field} is unknown; known rule fields are count, status, method, path, path_prefix, latency_ms, apply, reset, body."),
            };
        }

        if (rule.Apply && rule.Status is null && !rule.Reset)
        {
            throw new InvalidDataException($"wootric_faults rules[{index}] sets apply without a status or reset; add the status to respond with.");
        }

        return rule;
    }

    private static int? ReadInt(JsonNode? value, string field, int minimum)
    {
        if (value is null)
        {
            return null;
        }

        var number = value.GetValue<int>();
        return number >= minimum ? number : throw Invalid(field, $"an integer of at least {minimum}");
    }

    private static InvalidDataException Invalid(string field, string expected) =>
        new($"wootric_faults {field} must be {expected}.");
}

/// <summary>The rate-limit state after a request: whether it was allowed, and the headers to send.</summary>
internal sealed record RateLimitDecision(bool Allowed, int Limit, int Remaining, long ResetUnixSeconds)
{
    public IEnumerable<KeyValuePair<string, string>> Headers =>
    [
        new("X-Rate-Limit-Limit", Limit.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        new("X-Rate-Limit-Remaining", Remaining.ToString(System.Globalization.CultureInfo.InvariantCulture)),
        new("X-Rate-Limit-Reset", ResetUnixSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture)),
    ];
}

/// <summary>The faults the fake injects: fault rules, a latency for every request and a rate limit. Thread-safe.</summary>
internal sealed class FakeWootricFaults(TimeProvider time)
{
    private readonly Lock gate = new();
    private readonly List<(FaultRule Rule, int? Remaining)> rules = [];
    private TimeSpan latency;
    private int? rateLimit;
    private TimeSpan rateLimitWindow = TimeSpan.FromMinutes(1);
    private DateTimeOffset? windowEnd;
    private int windowUsed;

    /// <summary>The delay before every request is processed.</summary>
    public TimeSpan Latency
    {
        get
        {
            lock (gate)
            {
                return latency;
            }
        }
    }

    /// <summary>Applies the fault fields of a change. The server applies the token fields.</summary>
    public void Apply(FaultSettingsChange change)
    {
        lock (gate)
        {
            if (change.Rules is { } newRules)
            {
                rules.Clear();
                rules.AddRange(newRules.Select(rule => (rule, rule.Count)));
            }

            if (change.Latency is { } newLatency)
            {
                latency = newLatency;
            }

            if (change.HasRateLimit)
            {
                rateLimit = change.RateLimitPerWindow;
            }

            if (change.RateLimitWindow is { } newWindow)
            {
                rateLimitWindow = newWindow;
            }

            if (change.HasRateLimit || change.RateLimitWindow is not null)
            {
                windowEnd = null;
                windowUsed = 0;
            }
        }
    }

    /// <summary>Returns the first rule that still has uses and matches the request, and uses it up once.</summary>
    public FaultRule? TakeMatchingRule(string method, string path)
    {
        lock (gate)
        {
            for (var i = 0; i < rules.Count; i++)
            {
                var (rule, remaining) = rules[i];
                if (remaining is 0 || !rule.Matches(method, path))
                {
                    continue;
                }

                rules[i] = (rule, remaining - 1);
                return rule;
            }

            return null;
        }
    }

    /// <summary>
    /// Counts one request against the rate limit, or returns null when no limit is set. Windows
    /// start at the first request after the previous window and end on a whole second, so
    /// <c>X-Rate-Limit-Reset</c> is exactly when requests are allowed again.
    /// </summary>
    public RateLimitDecision? ConsumeRateLimit()
    {
        lock (gate)
        {
            if (rateLimit is not { } limit)
            {
                return null;
            }

            var now = time.GetUtcNow();
            if (windowEnd is not { } end || now >= end)
            {
                var endMilliseconds = (now + rateLimitWindow).ToUnixTimeMilliseconds();
                end = DateTimeOffset.FromUnixTimeSeconds((endMilliseconds + 999) / 1000);
                windowEnd = end;
                windowUsed = 0;
            }

            var reset = end.ToUnixTimeSeconds();
            if (windowUsed >= limit)
            {
                return new RateLimitDecision(false, limit, 0, reset);
            }

            windowUsed++;
            return new RateLimitDecision(true, limit, limit - windowUsed, reset);
        }
    }
}
