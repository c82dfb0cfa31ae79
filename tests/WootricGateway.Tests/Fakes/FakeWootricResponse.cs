using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;

namespace WootricGateway.Tests.Fakes;

/// <summary>
/// A response the fake Wootric has decided on but not written yet, so a fault rule can replace it
/// after the request was processed.
/// </summary>
internal sealed record FakeWootricResponse(int Status, string? Body, string ContentType, IReadOnlyList<KeyValuePair<string, string>> Headers)
{
    public static FakeWootricResponse Json(int status, JsonNode body) =>
        new(status, body.ToJsonString(), "application/json; charset=utf-8", []);

    /// <summary>Creates the <c>error_list</c> body Wootric returns for a missing record.</summary>
    public static FakeWootricResponse NotFound() => Json(StatusCodes.Status404NotFound, new JsonObject
    {
        ["type"] = "error_list",
        ["errors"] = new JsonArray(new JsonObject
        {
            ["status"] = "record_not_found",
            ["message"] = "The record could not be found",
            ["field"] = null,
        }),
    });

    /// <summary>Creates the <c>{"error": "..."}</c> body Wootric uses for validation and other errors.</summary>
    public static FakeWootricResponse Error(int status, string message) =>
        Json(status, new JsonObject { ["error"] = message });

    /// <summary>Creates a response with a default body that names the status, for injected faults.</summary>
    public static FakeWootricResponse ForStatus(int status) =>
        Error(status, ReasonPhrases.GetReasonPhrase(status) is { Length: > 0 } phrase ? phrase : $"HTTP {status}");

    public FakeWootricResponse WithHeaders(IEnumerable<KeyValuePair<string, string>> headers) =>
        this with { Headers = [.. Headers, .. headers] };

    public bool IsSuccess => Status is >= 200 and < 300;
}
