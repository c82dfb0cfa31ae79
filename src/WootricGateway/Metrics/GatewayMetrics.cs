using Prometheus;

namespace WootricGateway.Metrics;

/// <summary>
/// Every metric the gateway exports. Names carry the <c>wootric_gateway_</c> prefix, base units and
/// <c>_total</c> on counters; label values come from small closed sets, never from request data.
/// </summary>
public sealed class GatewayMetrics
{
    public GatewayMetrics(CollectorRegistry registry)
    {
        Registry = registry;
        var factory = Prometheus.Metrics.WithCustomRegistry(registry);

        // Exemplars would read the current trace context on every increment; nothing here uses them.
        factory.ExemplarBehavior = ExemplarBehavior.NoExemplars();

        ProxyRequests = factory.CreateCounter(
            "wootric_gateway_proxy_requests_total",
            "Requests forwarded to the upstream, by route class and response status class.",
            "route", "status_class");
        ProxyDuration = factory.CreateHistogram(
            "wootric_gateway_proxy_request_duration_seconds",
            "Time from receiving a proxied request to finishing its response, by route class.",
            new HistogramConfiguration
            {
                LabelNames = ["route"],
                Buckets = Histogram.ExponentialBuckets(0.0005, 2, 16),
            });
        ProxyErrors = factory.CreateCounter(
            "wootric_gateway_proxy_errors_total",
            "Proxied requests that YARP could not complete, by forwarder error.",
            "error");

        TapRequests = factory.CreateCounter(
            "wootric_gateway_tap_requests_total",
            "Proxied requests seen by the tap, by outcome (queued, parsed, or the reason they were not).",
            "outcome");
        TapEvents = factory.CreateCounter(
            "wootric_gateway_tap_events_total",
            "Events read from tapped bodies, by type and outcome. The parser counts each event once, as parsed or skipped_<reason>; the sync counts a parsed identify or page again if it skips it (skipped_no_user_id, skipped_duplicate, ...) or drops it (dropped_redis_unavailable).",
            "type", "outcome");
        TapCapturedBytes = factory.CreateCounter(
            "wootric_gateway_tap_captured_bytes_total",
            "Request body bytes copied by the tap (before decompression).");
        TapParserPausedSeconds = factory.CreateCounter(
            "wootric_gateway_tap_parser_paused_seconds_total",
            "Time the tap parser rested to stay within Tap:ParserCpuShare; captures arriving meanwhile may be dropped as queue_full.");
        TapQueueDepth = factory.CreateGauge(
            "wootric_gateway_tap_queue_depth",
            "Captured bodies waiting for the background parser.");

        WootricRequests = factory.CreateCounter(
            "wootric_gateway_wootric_requests_total",
            "Requests sent to Wootric, by operation and response status class.",
            "operation", "status_class");
        WootricDuration = factory.CreateHistogram(
            "wootric_gateway_wootric_request_duration_seconds",
            "Duration of Wootric requests, by operation.",
            new HistogramConfiguration
            {
                LabelNames = ["operation"],
                Buckets = Histogram.ExponentialBuckets(0.005, 2, 14),
            });
        WootricCreates = factory.CreateCounter(
            "wootric_gateway_wootric_creates_total",
            "End users created in Wootric.");
        WootricUpdates = factory.CreateCounter(
            "wootric_gateway_wootric_updates_total",
            "End-user updates sent to Wootric.");
        UnchangedSkips = factory.CreateCounter(
            "wootric_gateway_updates_skipped_unchanged_total",
            "Syncs that sent nothing because Wootric already had the desired state.");
        IdCacheLookups = factory.CreateCounter(
            "wootric_gateway_id_cache_lookups_total",
            "End-user id cache lookups, by result (hit or miss).",
            "result");
        Retries = factory.CreateCounter(
            "wootric_gateway_delivery_retries_total",
            "User syncs scheduled again after a retryable failure, by reason.",
            "reason");
        DeadLetters = factory.CreateCounter(
            "wootric_gateway_dead_letters_total",
            "User syncs moved to the dead-letter store, by reason.",
            "reason");
        SyncSkips = factory.CreateCounter(
            "wootric_gateway_sync_skipped_total",
            "User syncs that could not write yet, by reason (missing_email, unknown_user).",
            "reason");
        DeliveryBacklog = factory.CreateGauge(
            "wootric_gateway_delivery_backlog",
            "Users waiting to be synced to Wootric, including those waiting for a retry; 0 when idle.");
        CreatedAtDropped = factory.CreateCounter(
            "wootric_gateway_created_at_dropped_total",
            "createdAt trait values that were not sent: unparseable, or not after 1970-01-01T00:00:00Z and before year 10000.");
        PropertiesDropped = factory.CreateCounter(
            "wootric_gateway_properties_dropped_total",
            "Identify trait properties not sent: a name longer than 255 characters after flattening, or past 256 KiB of names and values in one identify or stored for one user.");
        EnvelopeTraitsIgnored = factory.CreateCounter(
            "wootric_gateway_tap_envelope_traits_ignored_total",
            "Batches whose envelope context.traits were not applied to their identifies: the traits' size times the number of identifies exceeded 16 MiB.");
        RedisConnected = factory.CreateGauge(
            "wootric_gateway_redis_connected",
            "1 while the Redis connection is up, 0 while it is down; absent when Redis is not configured.",
            new GaugeConfiguration { SuppressInitialValue = true });
        OutageBufferDepth = factory.CreateGauge(
            "wootric_gateway_outage_buffer_depth",
            "Tapped requests held in memory while Redis is unreachable.");
        DryRunCalls = factory.CreateCounter(
            "wootric_gateway_dry_run_calls_total",
            "Wootric calls logged instead of sent because no credentials are configured, by operation.",
            "operation");
    }

    public CollectorRegistry Registry { get; }

    /// <summary><see cref="ProxyRequests"/> children by route and status class.</summary>
    internal ChildCache<Counter.Child> ProxyRequestsByLabels => field ??= new(values => ProxyRequests.WithLabels(values));

    /// <summary><see cref="ProxyDuration"/> children by route.</summary>
    internal ChildCache<Histogram.Child> ProxyDurationByRoute => field ??= new(values => ProxyDuration.WithLabels(values));

    /// <summary><see cref="TapRequests"/> children by outcome.</summary>
    internal ChildCache<Counter.Child> TapRequestsByOutcome => field ??= new(values => TapRequests.WithLabels(values));

    /// <summary><see cref="TapEvents"/> children by type and outcome.</summary>
    internal ChildCache<Counter.Child> TapEventsByLabels => field ??= new(values => TapEvents.WithLabels(values));

    public Counter ProxyRequests { get; }
    public Histogram ProxyDuration { get; }
    public Counter ProxyErrors { get; }

    public Counter TapRequests { get; }
    public Counter TapEvents { get; }
    public Counter TapCapturedBytes { get; }
    public Counter TapParserPausedSeconds { get; }
    public Gauge TapQueueDepth { get; }

    public Counter WootricRequests { get; }
    public Histogram WootricDuration { get; }
    public Counter WootricCreates { get; }
    public Counter WootricUpdates { get; }
    public Counter UnchangedSkips { get; }
    public Counter IdCacheLookups { get; }
    public Counter Retries { get; }
    public Counter DeadLetters { get; }
    public Counter SyncSkips { get; }
    public Gauge DeliveryBacklog { get; }
    public Counter CreatedAtDropped { get; }
    public Counter EnvelopeTraitsIgnored { get; }
    public Counter PropertiesDropped { get; }
    public Counter DryRunCalls { get; }
    public Gauge RedisConnected { get; }
    public Gauge OutageBufferDepth { get; }

    /// <summary>
    /// Returns the <c>tap_events_total</c> outcome label for a skip reason. The reasons the parser and the
    /// sink use map to constant strings, so counting a skip builds no string.
    /// </summary>
    public static string SkippedOutcome(string reason) => reason switch
    {
        "unsupported_type" => "skipped_unsupported_type",
        "not_an_object" => "skipped_not_an_object",
        "invalid_type" => "skipped_invalid_type",
        "missing_type" => "skipped_missing_type",
        "duplicate" => "skipped_duplicate",
        "page_visits_off" => "skipped_page_visits_off",
        "unmapped_write_key" => "skipped_unmapped_write_key",
        "no_user_id" => "skipped_no_user_id",
        "anonymous_page" => "skipped_anonymous_page",
        _ => "skipped_" + reason,
    };

    /// <summary>Returns "1xx" … "5xx" for an HTTP status code, or "none" when no response arrived.</summary>
    public static string StatusClass(int statusCode) => statusCode switch
    {
        >= 100 and < 200 => "1xx",
        >= 200 and < 300 => "2xx",
        >= 300 and < 400 => "3xx",
        >= 400 and < 500 => "4xx",
        >= 500 and < 600 => "5xx",
        _ => "none",
    };
}
