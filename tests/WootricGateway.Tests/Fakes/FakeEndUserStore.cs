using System.Globalization;
using System.Text.Json.Nodes;

namespace WootricGateway.Tests.Fakes;

/// <summary>
/// An end user as the fake Wootric stores it. Scalar fields hold the text that arrived in the form
/// body, so checks see exactly what the client sent.
/// </summary>
internal sealed record FakeEndUser(
    long Id,
    string? Email,
    string? ExternalId,
    string? PhoneNumber,
    string? ExternalCreatedAt,
    string? LastSurveyed,
    IReadOnlyDictionary<string, string> Properties,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt)
{
    /// <summary>Renders the user the way Wootric's API returns it.</summary>
    public JsonObject ToJson()
    {
        var properties = new JsonObject();
        foreach (var (key, value) in Properties.OrderBy(pair => pair.Key, StringComparer.Ordinal))
        {
            properties[key] = value;
        }

        // Wootric returns external_created_at as an integer. Text that is not an integer stays text,
        // so a check can show what was sent.
        JsonNode? externalCreatedAt = long.TryParse(ExternalCreatedAt, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var seconds)
            ? JsonValue.Create(seconds)
            : ExternalCreatedAt;

        return new JsonObject
        {
            ["id"] = Id,
            ["created_at"] = FormatTimestamp(CreatedAt),
            ["updated_at"] = FormatTimestamp(UpdatedAt),
            ["email"] = Email,
            ["last_surveyed"] = LastSurveyed,
            ["external_created_at"] = externalCreatedAt,
            ["last_seen_at"] = null,
            ["properties"] = properties,
            ["phone_number"] = PhoneNumber,
            ["external_id"] = ExternalId,
            ["last_response"] = null,
            ["settings"] = new JsonObject
            {
                ["email_nps"] = true,
                ["mobile_nps"] = true,
                ["web_nps"] = true,
                ["force_mobile_survey"] = false,
                ["force_web_survey"] = false,
                ["surveys_disabled_by_end_user"] = false,
            },
        };
    }

    /// <summary>Formats a time like Wootric's real payloads, for example <c>2019-10-11 01:56:32 +0000</c>.</summary>
    public static string FormatTimestamp(DateTimeOffset time) =>
        time.ToUniversalTime().ToString("yyyy-MM-dd HH:mm:ss '+0000'", CultureInfo.InvariantCulture);
}

/// <summary>A page view stored by <c>POST /v1/end_users/{id}/page_views</c>, with <c>Url</c> and <c>At</c> as the text sent.</summary>
internal sealed record FakePageView(long Id, long EndUserId, string? Url, string? At, DateTimeOffset CreatedAt)
{
    public JsonObject ToJson() => new()
    {
        ["id"] = Id,
        ["end_user_id"] = EndUserId,
        ["url"] = Url,
        ["at"] = At,
        ["created_at"] = FakeEndUser.FormatTimestamp(CreatedAt),
        ["updated_at"] = FakeEndUser.FormatTimestamp(CreatedAt),
    };
}

/// <summary>The outcome of a create or update: the stored user, or Wootric's validation message.</summary>
internal sealed record EndUserWriteResult(FakeEndUser? User, string? ValidationError);

/// <summary>
/// Wootric's end users and page views, with its uniqueness rules: email is unique ignoring case,
/// external_id is unique as sent. Thread-safe.
/// </summary>
internal sealed class FakeEndUserStore(TimeProvider time)
{
    /// <summary>Ids the store assigns start here, far from the ids the cases seed.</summary>
    private const long FirstAssignedId = 900_000_001;

    private readonly Lock gate = new();
    private readonly Dictionary<long, FakeEndUser> users = [];
    private readonly List<FakePageView> pageViews = [];
    private long nextUserId = FirstAssignedId;
    private long nextPageViewId = 1;

    public IReadOnlyList<FakeEndUser> GetEndUsers()
    {
        lock (gate)
        {
            return [.. users.Values.OrderBy(user => user.Id)];
        }
    }

    public IReadOnlyList<FakePageView> GetPageViews()
    {
        lock (gate)
        {
            return [.. pageViews];
        }
    }

    /// <summary>
    /// Adds an end user that exists before the test starts, keeping <paramref name="id"/> when
    /// given. Throws when the seed breaks a uniqueness rule, because the test data is then wrong.
    /// </summary>
    public FakeEndUser Seed(long? id, EndUserFields fields)
    {
        lock (gate)
        {
            var assignedId = id ?? nextUserId++;
            if (users.ContainsKey(assignedId))
            {
                throw new ArgumentException($"Seeded end user id {assignedId} is used twice.", nameof(id));
            }

            if (FindConflict(fields, exceptId: null) is { } conflict)
            {
                throw new ArgumentException($"Seeded end user {assignedId} is invalid: {conflict}.", nameof(fields));
            }

            nextUserId = Math.Max(nextUserId, assignedId + 1);
            return Insert(assignedId, fields);
        }
    }

    /// <summary>Stores a new user with <paramref name="id"/>; the caller holds the lock and has checked for conflicts.</summary>
    private FakeEndUser Insert(long id, EndUserFields fields)
    {
        var now = time.GetUtcNow();
        var user = new FakeEndUser(
            id,
            fields.Email,
            fields.ExternalId,
            fields.PhoneNumber,
            fields.ExternalCreatedAt,
            fields.LastSurveyed,
            fields.Properties ?? new Dictionary<string, string>(),
            now,
            now);
        users.Add(id, user);
        return user;
    }

    public FakeEndUser? FindById(long id)
    {
        lock (gate)
        {
            return users.GetValueOrDefault(id);
        }
    }

    public FakeEndUser? FindByEmail(string email)
    {
        lock (gate)
        {
            return users.Values.FirstOrDefault(user => string.Equals(user.Email, email, StringComparison.OrdinalIgnoreCase));
        }
    }

    public FakeEndUser? FindByExternalId(string externalId)
    {
        lock (gate)
        {
            return users.Values.FirstOrDefault(user => string.Equals(user.ExternalId, externalId, StringComparison.Ordinal));
        }
    }

    public FakeEndUser? FindByPhoneNumber(string phoneNumber)
    {
        lock (gate)
        {
            return users.Values.FirstOrDefault(user => string.Equals(user.PhoneNumber, phoneNumber, StringComparison.Ordinal));
        }
    }

    /// <summary>Creates a user. Wootric requires an email, and email and external_id must be unused.</summary>
    public EndUserWriteResult Create(EndUserFields fields)
    {
        lock (gate)
        {
            if (string.IsNullOrEmpty(fields.Email))
            {
                return new EndUserWriteResult(null, "Validation failed: Email can't be blank");
            }

            if (FindConflict(fields, exceptId: null) is { } conflict)
            {
                return new EndUserWriteResult(null, "Validation failed: " + conflict);
            }

            return new EndUserWriteResult(Insert(nextUserId++, fields), null);
        }
    }

    /// <summary>
    /// Updates the fields that were sent. Any <c>properties[...]</c> field replaces the whole stored
    /// properties hash, and without one the stored hash is kept. Returns null when the id is unknown.
    /// </summary>
    public EndUserWriteResult? Update(long id, EndUserFields fields)
    {
        lock (gate)
        {
            if (!users.TryGetValue(id, out var user))
            {
                return null;
            }

            if (fields.Email is { Length: 0 })
            {
                return new EndUserWriteResult(null, "Validation failed: Email can't be blank");
            }

            if (FindConflict(fields, exceptId: id) is { } conflict)
            {
                return new EndUserWriteResult(null, "Validation failed: " + conflict);
            }

            var updated = user with
            {
                Email = fields.Email ?? user.Email,
                ExternalId = fields.ExternalId ?? user.ExternalId,
                PhoneNumber = fields.PhoneNumber ?? user.PhoneNumber,
                ExternalCreatedAt = fields.ExternalCreatedAt ?? user.ExternalCreatedAt,
                LastSurveyed = fields.LastSurveyed ?? user.LastSurveyed,
                Properties = fields.Properties ?? user.Properties,
                UpdatedAt = time.GetUtcNow(),
            };
            users[id] = updated;
            return new EndUserWriteResult(updated, null);
        }
    }

    /// <summary>Removes a user by id, or by email when the key is not a number, and returns it.</summary>
    public FakeEndUser? Delete(string idOrEmail)
    {
        lock (gate)
        {
            var user = long.TryParse(idOrEmail, NumberStyles.None, CultureInfo.InvariantCulture, out var id)
                ? users.GetValueOrDefault(id)
                : users.Values.FirstOrDefault(candidate => string.Equals(candidate.Email, idOrEmail, StringComparison.OrdinalIgnoreCase));
            if (user is not null)
            {
                users.Remove(user.Id);
            }

            return user;
        }
    }

    /// <summary>Stores a page view for an existing user, or returns null when the user id is unknown.</summary>
    public FakePageView? AddPageView(long endUserId, string? url, string? at)
    {
        lock (gate)
        {
            if (!users.ContainsKey(endUserId))
            {
                return null;
            }

            var pageView = new FakePageView(nextPageViewId++, endUserId, url, at, time.GetUtcNow());
            pageViews.Add(pageView);
            return pageView;
        }
    }

    public IReadOnlyList<FakePageView> GetPageViews(long endUserId)
    {
        lock (gate)
        {
            return [.. pageViews.Where(pageView => pageView.EndUserId == endUserId)];
        }
    }

    /// <summary>Returns Rails-style messages for an email or external_id already used by another user.</summary>
    private string? FindConflict(EndUserFields fields, long? exceptId)
    {
        var messages = new List<string>();
        if (fields.Email is { } email && users.Values.Any(user => user.Id != exceptId && string.Equals(user.Email, email, StringComparison.OrdinalIgnoreCase)))
        {
            messages.Add("Email has already been taken");
        }

        if (fields.ExternalId is { } externalId && users.Values.Any(user => user.Id != exceptId && string.Equals(user.ExternalId, externalId, StringComparison.Ordinal)))
        {
            messages.Add("External id has already been taken");
        }

        return messages.Count == 0 ? null : string.Join(", ", messages);
    }
}
