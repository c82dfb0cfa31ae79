using System.Text.RegularExpressions;

namespace WootricGateway.Tests.Fakes;

/// <summary>
/// The end-user fields of a create or update request. A null field was not sent. Properties is
/// null when no <c>properties[...]</c> field was sent, which on update keeps the stored hash.
/// </summary>
internal sealed partial record EndUserFields
{
    private const string PropertiesPrefix = "properties[";

    public string? Email { get; init; }

    public string? ExternalId { get; init; }

    public string? PhoneNumber { get; init; }

    /// <summary>Unix seconds as text.</summary>
    public string? ExternalCreatedAt { get; init; }

    public string? LastSurveyed { get; init; }

    public IReadOnlyDictionary<string, string>? Properties { get; init; }

    /// <summary>
    /// Reads the fields from a form body with bracket keys (<c>properties[plan]=pro</c>) and adds a
    /// message to <paramref name="violations"/> for every breach of Wootric's rules: a property key
    /// containing <c>$</c>, <c>.</c> or NUL, a nested property value (<c>properties[a][b]</c>), or an
    /// <c>external_created_at</c> that is not integer seconds.
    /// </summary>
    public static EndUserFields FromForm(IReadOnlyDictionary<string, string> form, ICollection<string> violations)
    {
        Dictionary<string, string>? properties = null;
        foreach (var (name, value) in form)
        {
            if (!name.StartsWith(PropertiesPrefix, StringComparison.Ordinal) || !name.EndsWith(']'))
            {
                continue;
            }

            var key = name[PropertiesPrefix.Length..^1];
            if (key.Contains("][", StringComparison.Ordinal))
            {
                violations.Add($"form field '{name}' is a nested property value; Wootric properties must be flat");
            }
            else if (key.IndexOfAny(['$', '.', '\0']) >= 0)
            {
                violations.Add($"property key '{key.Replace("\0", "\\0", StringComparison.Ordinal)}' contains '$', '.' or NUL, which Wootric forbids");
            }

            properties ??= new Dictionary<string, string>(StringComparer.Ordinal);
            properties[key] = value;
        }

        var externalCreatedAt = form.GetValueOrDefault("external_created_at");
        if (externalCreatedAt is not null && !IntegerPattern().IsMatch(externalCreatedAt))
        {
            violations.Add($"external_created_at '{externalCreatedAt}' is not integer unix seconds");
        }

        return new EndUserFields
        {
            Email = form.GetValueOrDefault("email"),
            ExternalId = form.GetValueOrDefault("external_id"),
            PhoneNumber = form.GetValueOrDefault("phone_number"),
            ExternalCreatedAt = externalCreatedAt,
            LastSurveyed = form.GetValueOrDefault("last_surveyed"),
            Properties = properties,
        };
    }

    [GeneratedRegex(@"^-?[0-9]+$")]
    private static partial Regex IntegerPattern();
}
