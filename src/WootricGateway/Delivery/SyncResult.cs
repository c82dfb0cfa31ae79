namespace WootricGateway.Delivery;

/// <summary>What the delivery loop does with a user after one sync.</summary>
internal enum SyncOutcome
{
    /// <summary>Wootric matches the desired state (or nothing was owed).</summary>
    Done,

    /// <summary>Nothing can be written until more events arrive (no email for an unknown user); not a backlog item.</summary>
    Parked,

    /// <summary>Try again after a delay.</summary>
    Retry,

    /// <summary>Retrying cannot help: move to the dead-letter store.</summary>
    DeadLetter,
}

/// <summary>The result of one user sync, with the reason as a metric label and Wootric's status and message.</summary>
internal readonly record struct SyncResult(
    SyncOutcome Outcome,
    string? Reason = null,
    int StatusCode = 0,
    string? Message = null,
    TimeSpan? RetryAfter = null,
    bool CountsAsAttempt = true)
{
    public static readonly SyncResult Done = new(SyncOutcome.Done);

    public static SyncResult Parked(string reason) => new(SyncOutcome.Parked, reason);

    public static SyncResult DeadLettered(string reason, int statusCode, string? message) =>
        new(SyncOutcome.DeadLetter, reason, statusCode, message);
}
