using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;

namespace WootricGateway.Tests.Fakes;

/// <summary>The <c>/v1/end_users</c> routes of the fake Wootric.</summary>
internal sealed partial class FakeWootricServer
{
    private const int MaxPerPage = 50;

    private FakeWootricResponse RouteApiRequest(FakeWootricRequest request, WootricRequestRecord record)
    {
        if (request.NonFormBody is not null)
        {
            return FakeWootricResponse.Error(
                StatusCodes.Status400BadRequest,
                "The fake Wootric reads only form bodies. Send application/x-www-form-urlencoded with bracket keys such as properties[plan].");
        }

        var method = request.Method;
        return request.Segments switch
        {
            ["v1", "end_users"] when method == HttpMethods.Get => ListEndUsers(request.Query),
            ["v1", "end_users"] when method == HttpMethods.Post => CreateEndUser(request, record),
            ["v1", "end_users", "phone_number", var phoneNumber] when method == HttpMethods.Get => UserOrNotFound(endUsers.FindByPhoneNumber(phoneNumber)),
            ["v1", "end_users", var key] when method == HttpMethods.Get => GetEndUser(key, request.Query),
            ["v1", "end_users", var key] when method == HttpMethods.Put || method == HttpMethods.Patch => UpdateEndUser(key, request, record),
            ["v1", "end_users", var key] when method == HttpMethods.Delete => UserOrNotFound(endUsers.Delete(key)),
            ["v1", "end_users", var key, "page_views"] when method == HttpMethods.Post => CreatePageView(key, request),
            ["v1", "end_users", var key, "page_views"] when method == HttpMethods.Get => ListPageViews(key),
            _ => FakeWootricResponse.NotFound(),
        };
    }

    /// <summary>
    /// Handles <c>GET /v1/end_users/{key}</c>. The key is an external id with
    /// <c>lookup_by_external_id=true</c>, an email (ignoring case) with <c>lookup_by_email=true</c>,
    /// and otherwise a Wootric id.
    /// </summary>
    private FakeWootricResponse GetEndUser(string key, IQueryCollection query)
    {
        if (IsTrue(query["lookup_by_external_id"]))
        {
            return UserOrNotFound(endUsers.FindByExternalId(key));
        }

        if (IsTrue(query["lookup_by_email"]))
        {
            return UserOrNotFound(endUsers.FindByEmail(key));
        }

        return UserOrNotFound(TryParseId(key, out var id) ? endUsers.FindById(id) : null);
    }

    /// <summary>
    /// Handles <c>GET /v1/end_users</c>. With <c>email</c> it returns an array of zero or one users
    /// (matched ignoring case), and otherwise one page sorted by email.
    /// </summary>
    private FakeWootricResponse ListEndUsers(IQueryCollection query)
    {
        if (query.TryGetValue("email", out var email))
        {
            var match = endUsers.FindByEmail(email.ToString());
            return FakeWootricResponse.Json(StatusCodes.Status200OK, match is null ? new JsonArray() : new JsonArray(match.ToJson()));
        }

        var page = Math.Max(1, ReadInt(query["page"], 1));
        var perPage = Math.Clamp(ReadInt(query["per_page"], 25), 1, MaxPerPage);
        var users = endUsers.GetEndUsers()
            .OrderBy(user => user.Email, StringComparer.OrdinalIgnoreCase)
            .Skip((page - 1) * perPage)
            .Take(perPage)
            .Select(JsonNode (user) => user.ToJson());
        return FakeWootricResponse.Json(StatusCodes.Status200OK, new JsonArray([.. users]));
    }

    private FakeWootricResponse CreateEndUser(FakeWootricRequest request, WootricRequestRecord record)
    {
        var fields = ReadFields(request, record);
        var result = endUsers.Create(fields);
        if (result.User is null)
        {
            return FakeWootricResponse.Error(StatusCodes.Status422UnprocessableEntity, result.ValidationError!);
        }

        record.SetCreatedEndUserId(result.User.Id);

        // NOTE: the mobile SDKs accept only 200 from a create, so the fake returns 200, not 201.
        return FakeWootricResponse.Json(StatusCodes.Status200OK, result.User.ToJson());
    }

    private FakeWootricResponse UpdateEndUser(string key, FakeWootricRequest request, WootricRequestRecord record)
    {
        var fields = ReadFields(request, record);
        var result = TryParseId(key, out var id) ? endUsers.Update(id, fields) : null;
        return result switch
        {
            null => FakeWootricResponse.NotFound(),
            { User: null } => FakeWootricResponse.Error(StatusCodes.Status422UnprocessableEntity, result.ValidationError!),
            { User: { } user } => FakeWootricResponse.Json(StatusCodes.Status200OK, user.ToJson()),
        };
    }

    private FakeWootricResponse CreatePageView(string key, FakeWootricRequest request)
    {
        var pageView = TryParseId(key, out var id)
            ? endUsers.AddPageView(id, request.Form.GetValueOrDefault("url"), request.Form.GetValueOrDefault("at"))
            : null;
        return pageView is null
            ? FakeWootricResponse.NotFound()
            : FakeWootricResponse.Json(StatusCodes.Status200OK, pageView.ToJson());
    }

    private FakeWootricResponse ListPageViews(string key)
    {
        if (!TryParseId(key, out var id) || endUsers.FindById(id) is null)
        {
            return FakeWootricResponse.NotFound();
        }

        var pageViews = endUsers.GetPageViews(id).Select(JsonNode (pageView) => pageView.ToJson());
        return FakeWootricResponse.Json(StatusCodes.Status200OK, new JsonArray([.. pageViews]));
    }

    private EndUserFields ReadFields(FakeWootricRequest request, WootricRequestRecord record)
    {
        var violations = new List<string>();
        var fields = EndUserFields.FromForm(request.Form, violations);
        foreach (var violation in violations)
        {
            log.AddViolation(record, violation);
        }

        return fields;
    }

    private static FakeWootricResponse UserOrNotFound(FakeEndUser? user) =>
        user is null ? FakeWootricResponse.NotFound() : FakeWootricResponse.Json(StatusCodes.Status200OK, user.ToJson());

    private static bool TryParseId(string key, out long id) =>
        long.TryParse(key, NumberStyles.None, CultureInfo.InvariantCulture, out id);

    private static bool IsTrue(string? value) => string.Equals(value, "true", StringComparison.OrdinalIgnoreCase);

    private static int ReadInt(string? value, int fallback) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var number) ? number : fallback;
}
