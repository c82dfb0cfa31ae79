namespace WootricGateway.State;

/// <summary>Per-user state, shared by every replica when backed by Redis.</summary>
public interface IUserStateStore
{
    /// <summary>Returns a copy of the user's state, or null when nothing is stored.</summary>
    ValueTask<UserState?> GetAsync(UserRef user, CancellationToken cancellationToken);

    /// <summary>
    /// Applies <paramref name="mutate"/> atomically to the user's state (created empty when missing)
    /// and stores the result when it returns true. Returns whether anything was stored.
    /// </summary>
    ValueTask<bool> UpdateAsync(UserRef user, Func<UserState, bool> mutate, CancellationToken cancellationToken);
}

/// <summary>Wootric end-user ids by user, so a known user costs no lookup.</summary>
public interface IIdCache
{
    ValueTask<long?> GetAsync(UserRef user, CancellationToken cancellationToken);

    ValueTask SetAsync(UserRef user, long wootricId, CancellationToken cancellationToken);

    ValueTask RemoveAsync(UserRef user, CancellationToken cancellationToken);
}

/// <summary>Short exclusive leases, so one user is resolved and written by one worker at a time.</summary>
public interface ILeaseManager
{
    /// <summary>Takes the lease on <paramref name="resource"/>; returns its token, or null when another holder has it.</summary>
    ValueTask<string?> TryAcquireAsync(string resource, TimeSpan duration, CancellationToken cancellationToken);

    /// <summary>Extends the lease to <paramref name="duration"/> from now; returns false when <paramref name="token"/> no longer has it.</summary>
    ValueTask<bool> TryExtendAsync(string resource, string token, TimeSpan duration, CancellationToken cancellationToken);

    /// <summary>Releases the lease if <paramref name="token"/> still has it.</summary>
    ValueTask ReleaseAsync(string resource, string token, CancellationToken cancellationToken);
}

/// <summary>One user waiting to be synced, with the number of failed attempts so far.</summary>
public sealed record WorkItem(UserRef User, int Attempt, string? EntryId = null);

/// <summary>
/// Users waiting to be synced. Items name users, not events: enqueueing a user that is already
/// waiting adds nothing, and a user enqueued while in flight runs once more afterwards.
/// </summary>
public interface IWorkQueue
{
    /// <summary>
    /// True when queued and in-flight work outlives this process, so another replica or a restart
    /// runs it, as with the Redis stream. False for the in-memory queue, whose work ends with the process.
    /// </summary>
    bool IsDurable { get; }

    ValueTask EnqueueAsync(UserRef user, CancellationToken cancellationToken);

    /// <summary>Waits for the next user that is ready to run.</summary>
    ValueTask<WorkItem> DequeueAsync(CancellationToken cancellationToken);

    /// <summary>Marks the item done; runs it again if the user changed while it was in flight.</summary>
    ValueTask CompleteAsync(WorkItem item, CancellationToken cancellationToken);

    /// <summary>Runs the item again after <paramref name="delay"/>, counting an attempt when <paramref name="countAttempt"/>.</summary>
    ValueTask RetryAsync(WorkItem item, TimeSpan delay, bool countAttempt, CancellationToken cancellationToken);

    /// <summary>Users queued, in flight or waiting for a retry.</summary>
    ValueTask<long> GetBacklogAsync(CancellationToken cancellationToken);
}

/// <summary>A user sync that cannot succeed without an operator, with Wootric's reason.</summary>
public sealed record DeadLetter(
    string Id,
    UserRef User,
    string Reason,
    int StatusCode,
    string? Message,
    int Attempts,
    DateTimeOffset At);

/// <summary>Dead letters, kept until an operator redrives them.</summary>
public interface IDeadLetterStore
{
    ValueTask AddAsync(DeadLetter deadLetter, CancellationToken cancellationToken);

    ValueTask<IReadOnlyList<DeadLetter>> ListAsync(int max, CancellationToken cancellationToken);

    /// <summary>Removes and returns the dead letter with <paramref name="id"/>, or null when there is none.</summary>
    ValueTask<DeadLetter?> TakeAsync(string id, CancellationToken cancellationToken);

    ValueTask<long> CountAsync(CancellationToken cancellationToken);
}

/// <summary>Remembers message ids per scope for a while, so a re-sent event is applied once.</summary>
public interface IMessageDeduplicator
{
    /// <summary>
    /// Records several ids in order, in one round trip where the store allows; element <c>i</c> of the
    /// result is false when <c>ids[i]</c> was already seen (earlier in the list included).
    /// </summary>
    ValueTask<bool[]> TryMarkManyAsync(IReadOnlyList<(string Scope, string MessageId)> ids, CancellationToken cancellationToken);

    /// <summary>Forgets ids recorded by a call whose events could not be applied, so a retry applies them.</summary>
    ValueTask ForgetAsync(IReadOnlyList<(string Scope, string MessageId)> ids, CancellationToken cancellationToken);
}
