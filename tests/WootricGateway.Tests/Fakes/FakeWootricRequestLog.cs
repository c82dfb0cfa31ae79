namespace WootricGateway.Tests.Fakes;

/// <summary>One request the fake Wootric received, in arrival order.</summary>
internal sealed class WootricRequestRecord(
    long sequence,
    string method,
    string path,
    string rawTarget,
    IReadOnlyDictionary<string, string> form,
    string? nonFormBody,
    DateTimeOffset receivedAt)
{
    private volatile int status;
    private volatile int processedStatus;
    private long createdEndUserId;
    private long endedAtTicks;

    public long Sequence { get; } = sequence;

    public string Method { get; } = method;

    /// <summary>The decoded path, without the query.</summary>
    public string Path { get; } = path;

    /// <summary>Path and query exactly as they arrived on the request line.</summary>
    public string RawTarget { get; } = rawTarget;

    /// <summary>The form body fields. When a field repeats, the last value wins.</summary>
    public IReadOnlyDictionary<string, string> Form { get; } = form;

    /// <summary>A body that was not a form, as text, or null when there was none.</summary>
    public string? NonFormBody { get; } = nonFormBody;

    public DateTimeOffset ReceivedAt { get; } = receivedAt;

    /// <summary>When the handler finished (response written, or the client gone), or null while in progress.</summary>
    public DateTimeOffset? EndedAt
    {
        get
        {
            var ticks = Interlocked.Read(ref endedAtTicks);
            return ticks == 0 ? null : new DateTimeOffset(ticks, TimeSpan.Zero);
        }
    }

    /// <summary>The status sent back, or null while the request is in progress or after it was aborted.</summary>
    public int? Status => status == 0 ? null : status;

    /// <summary>
    /// The status the fake's own processing gave the request, or null when no fault let it through
    /// to processing. It differs from <see cref="Status"/> when a fault rule applied the request and
    /// then responded with something else or broke the connection: a 2xx here means the write took effect.
    /// </summary>
    public int? ProcessedStatus => processedStatus == 0 ? null : processedStatus;

    /// <summary>The id of the end user this request created, if it created one.</summary>
    public long? CreatedEndUserId
    {
        get
        {
            var id = Interlocked.Read(ref createdEndUserId);
            return id == 0 ? null : id;
        }
    }

    /// <summary>Whether this is a write under <c>/v1/</c>: POST, PUT, PATCH or DELETE, whatever the response status.</summary>
    public bool IsWrite =>
        Path.StartsWith("/v1/", StringComparison.Ordinal)
        && Method is "POST" or "PUT" or "PATCH" or "DELETE";

    public void SetStatus(int value) => status = value;

    public void SetProcessedStatus(int value) => processedStatus = value;

    public void SetEndedAt(DateTimeOffset value) => Interlocked.Exchange(ref endedAtTicks, value.UtcTicks);

    public void SetCreatedEndUserId(long id) => Interlocked.Exchange(ref createdEndUserId, id);

    /// <summary>Returns a one-line summary with the form fields, for failure messages.</summary>
    public override string ToString()
    {
        var form = Form.Count == 0 ? "" : " " + string.Join("&", Form.Select(pair => $"{pair.Key}={pair.Value}"));
        var body = NonFormBody is null ? "" : $" body: {NonFormBody}";
        var took = EndedAt is { } ended ? $" in {(ended - ReceivedAt).TotalMilliseconds:F0} ms" : "";
        return $"#{Sequence} {ReceivedAt:HH:mm:ss.fff} {Method} {RawTarget} -> {Status?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "no response"}{took}{form}{body}";
    }
}

/// <summary>
/// Every request the fake Wootric received, the rule violations it saw, and when it was last
/// busy, so a runner can wait until the gateway has gone quiet. Thread-safe.
/// </summary>
internal sealed class FakeWootricRequestLog(TimeProvider time)
{
    private readonly Lock gate = new();
    private readonly List<WootricRequestRecord> records = [];
    private readonly List<string> violations = [];
    private int inFlightCount;
    private long lastActivityTimestamp = time.GetTimestamp();

    public int InFlightCount
    {
        get
        {
            lock (gate)
            {
                return inFlightCount;
            }
        }
    }

    /// <summary>The <see cref="TimeProvider.GetTimestamp"/> value when a request last arrived or completed.</summary>
    public long LastActivityTimestamp
    {
        get
        {
            lock (gate)
            {
                return lastActivityTimestamp;
            }
        }
    }

    public IReadOnlyList<WootricRequestRecord> GetRecords()
    {
        lock (gate)
        {
            return [.. records];
        }
    }

    public IReadOnlyList<string> GetViolations()
    {
        lock (gate)
        {
            return [.. violations];
        }
    }

    public WootricRequestRecord Begin(string method, string path, string rawTarget, IReadOnlyDictionary<string, string> form, string? nonFormBody)
    {
        lock (gate)
        {
            var record = new WootricRequestRecord(records.Count + 1, method, path, rawTarget, form, nonFormBody, time.GetUtcNow());
            records.Add(record);
            inFlightCount++;
            lastActivityTimestamp = time.GetTimestamp();
            return record;
        }
    }

    public void End(WootricRequestRecord record, int status)
    {
        record.SetEndedAt(time.GetUtcNow());
        record.SetStatus(status);
        lock (gate)
        {
            inFlightCount--;
            lastActivityTimestamp = time.GetTimestamp();
        }
    }

    public void AddViolation(WootricRequestRecord record, string violation)
    {
        lock (gate)
        {
            violations.Add($"{record.Method} {record.RawTarget} (request #{record.Sequence}): {violation}");
        }
    }
}
