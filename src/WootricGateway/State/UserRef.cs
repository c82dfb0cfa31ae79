namespace WootricGateway.State;

/// <summary>
/// Names one end user within one Wootric account: <c>u:{userId}</c>, or <c>e:{email}</c> (lower case)
/// for an identify that has an email but no userId. Work items, state and the id cache are keyed by it.
/// </summary>
public readonly record struct UserRef(string Account, string Key)
{
    public static UserRef ForUserId(string account, string userId) => new(account, "u:" + userId);

    public static UserRef ForEmail(string account, string email) => new(account, "e:" + email.Trim().ToLowerInvariant());

    /// <summary>True when the key is an email, which must be masked wherever it is shown.</summary>
    public bool IsEmailKey => Key.StartsWith("e:", StringComparison.Ordinal);

    /// <summary>
    /// The key for operators: a userId as is, an email masked to its first letter and domain. A userId
    /// with an '@' is masked the same way, because many apps use the email as the userId.
    /// </summary>
    public string MaskedKey => Key.Contains('@', StringComparison.Ordinal) ? Key[..2] + MaskEmail(Key[2..]) : Key;

    /// <summary>Masks an email as <c>a***@example.com</c>.</summary>
    public static string MaskEmail(string email)
    {
        var at = email.IndexOf('@', StringComparison.Ordinal);
        return at <= 0 ? "***" : email[0] + "***" + email[at..];
    }

    /// <summary>Prints the masked form, so a user reference in a log never shows an email.</summary>
    public override string ToString() => $"{Account}/{MaskedKey}";
}
