using Microsoft.Extensions.Options;

namespace WootricGateway.Wootric;

/// <summary>
/// The configured accounts and the write-key routing between them. A write key listed by an account
/// goes to that account. Any other key (or none) goes to the default account, unless the default
/// account lists write keys of its own: then the event is unmapped.
/// </summary>
public sealed class WootricAccountRegistry
{
    public const string DefaultAccountName = "default";

    private readonly Dictionary<string, WootricAccount> _byName = new(StringComparer.Ordinal);
    private readonly Dictionary<string, WootricAccount> _byWriteKey = new(StringComparer.Ordinal);
    private readonly WootricAccount? _fallback;

    public WootricAccountRegistry(IOptions<WootricOptions> options)
    {
        var root = options.Value;
        var hasNamedAccounts = root.Accounts.Count > 0;
        var rootConfigured = !string.IsNullOrEmpty(root.AccountToken) || !string.IsNullOrEmpty(root.ClientId) || root.WriteKeys.Count > 0;

        if (!hasNamedAccounts || rootConfigured)
        {
            var account = Resolve(DefaultAccountName, root);
            Add(account, root.WriteKeys);
            if (root.WriteKeys.Count == 0)
            {
                _fallback = account;
            }
        }

        foreach (var (name, accountOptions) in root.Accounts)
        {
            Add(Resolve(name, accountOptions), accountOptions.WriteKeys);
        }
    }

    public IReadOnlyCollection<WootricAccount> Accounts => _byName.Values;

    /// <summary>Returns the account for a write key, or null when the key is not routed anywhere.</summary>
    public WootricAccount? ForWriteKey(string? writeKey) =>
        writeKey is not null && _byWriteKey.TryGetValue(writeKey, out var account) ? account : _fallback;

    /// <summary>Returns the account with <paramref name="name"/>, or null when it is no longer configured.</summary>
    public WootricAccount? ByName(string name) => _byName.GetValueOrDefault(name);

    private void Add(WootricAccount account, IEnumerable<string> writeKeys)
    {
        _byName[account.Name] = account;
        foreach (var key in writeKeys)
        {
            if (!string.IsNullOrEmpty(key))
            {
                _byWriteKey[key] = account;
            }
        }
    }

    private static WootricAccount Resolve(string name, WootricAccountOptions options) => new(
        name,
        options.AccountToken,
        options.ClientId,
        options.ClientSecret,
        WithoutTrailingSlash(options.ApiBaseUrl) ?? WootricRegions.DefaultApiBase(options.AccountToken),
        WithoutTrailingSlash(options.AuthBaseUrl) ?? WootricRegions.DefaultAuthBase(options.AccountToken),
        options.RequestsPerMinute);

    private static Uri? WithoutTrailingSlash(string? url) =>
        string.IsNullOrWhiteSpace(url) ? null : new Uri(url.Trim().TrimEnd('/'), UriKind.Absolute);
}
