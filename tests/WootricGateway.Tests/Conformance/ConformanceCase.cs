using System.Text.Json;
using System.Text.Json.Nodes;

namespace WootricGateway.Tests.Conformance;

/// <summary>
/// One conformance case file: Wootric's end users before, the requests a client sends through
/// the gateway, and the state expected once the gateway is idle.
/// </summary>
internal sealed record ConformanceCase(
    string Id,
    string FilePath,
    JsonArray WootricBefore,
    IReadOnlyList<KeyValuePair<string, string?>> Configuration,
    JsonObject? Upstream,
    JsonNode? WootricFaults,
    TimeSpan Timeout,
    TimeSpan SettleQuiet,
    IReadOnlyList<CaseRequest> Requests,
    CaseExpectations Expect)
{
    /// <summary>
    /// The case's limit for one wait for the gateway to settle when it sets no <c>timeout_s</c>. The
    /// runner waits at least <see cref="CaseRunner.GetSettleTimeout"/> allows.
    /// </summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

    /// <summary>How long Wootric must be quiet to count as settled when the case sets no <c>settle_quiet_ms</c>.</summary>
    public static readonly TimeSpan DefaultSettleQuiet = TimeSpan.FromMilliseconds(1500);

    /// <summary>
    /// Reads and validates a case file. Throws <see cref="InvalidDataException"/> naming the file
    /// and field when a field is unknown or has the wrong type, so a typo never passes silently.
    /// </summary>
    public static ConformanceCase Load(string filePath)
    {
        var fileName = Path.GetFileName(filePath);
        JsonObject root;
        try
        {
            root = JsonNode.Parse(File.ReadAllText(filePath)) as JsonObject
                ?? throw new InvalidDataException($"Case file {fileName} must contain a JSON object.");
        }
        catch (JsonException exception)
        {
            throw new InvalidDataException($"Case file {fileName} is not valid JSON: {exception.Message}", exception);
        }

        var reader = new CaseFieldReader(fileName);
        reader.RejectUnknownFields(root, "", ["id", "description", "notes", "source", "wootric_before", "config", "upstream", "wootric_faults", "timeout_s", "settle_quiet_ms", "requests", "expect"]);

        var id = reader.RequiredString(root, "id");
        if (id != Path.GetFileNameWithoutExtension(filePath))
        {
            throw new InvalidDataException($"Case file {fileName} has id '{id}'; the id must equal the file name without .json.");
        }

        var requests = reader.RequiredArray(root, "requests")
            .Select((request, index) => CaseRequest.Parse(reader, request as JsonObject ?? throw reader.Invalid($"requests[{index}]", "an object"), index))
            .ToList();

        return new ConformanceCase(
            id,
            filePath,
            reader.OptionalArray(root, "wootric_before") ?? [],
            ReadConfiguration(reader, root),
            reader.OptionalObject(root, "upstream"),
            root["wootric_faults"],
            reader.OptionalInt(root, "timeout_s") is { } seconds ? TimeSpan.FromSeconds(seconds) : DefaultTimeout,
            reader.OptionalInt(root, "settle_quiet_ms") is { } milliseconds ? TimeSpan.FromMilliseconds(milliseconds) : DefaultSettleQuiet,
            requests,
            CaseExpectations.Parse(reader, reader.OptionalObject(root, "expect") ?? throw reader.Invalid("expect", "an object")));
    }

    /// <summary>
    /// Converts <c>config</c> keys from the environment-variable form (<c>Wootric__PageVisits</c>)
    /// to configuration keys (<c>Wootric:PageVisits</c>). A null value unsets the key.
    /// </summary>
    private static List<KeyValuePair<string, string?>> ReadConfiguration(CaseFieldReader reader, JsonObject root)
    {
        var config = reader.OptionalObject(root, "config");
        if (config is null)
        {
            return [];
        }

        return [.. config.Select(pair => new KeyValuePair<string, string?>(
            pair.Key.Replace("__", ":", StringComparison.Ordinal),
            pair.Value is null ? null : TextValues.ToText(pair.Value)))];
    }
}

/// <summary>One entry of a case's <c>requests</c>.</summary>
internal sealed record CaseRequest(
    int Index,
    string Path,
    string Method,
    IReadOnlyList<KeyValuePair<string, string>> Headers,
    JsonNode? Body,
    string? ContentType,
    bool Gzip,
    bool Chunked,
    int? PadBatchToBytes,
    int Repeat,
    bool SettleBefore,
    JsonObject? Upstream,
    JsonNode? WootricFaults)
{
    /// <summary>The Content-Type sent with a body when the case does not set <c>content_type</c>.</summary>
    public const string DefaultContentType = "application/json";

    /// <summary>A label such as <c>requests[0] (POST /v1/identify)</c> for failure messages.</summary>
    public string Label => $"requests[{Index}] ({Method} {Path})";

    public static CaseRequest Parse(CaseFieldReader reader, JsonObject request, int index)
    {
        var prefix = $"requests[{index}].";
        reader.RejectUnknownFields(request, prefix, ["path", "method", "headers", "body", "content_type", "gzip", "chunked", "pad_batch_to_bytes", "repeat", "settle_before", "upstream", "wootric_faults"]);

        var headers = reader.OptionalObject(request, "headers", prefix) is { } headerObject
            ? headerObject.Select(pair => new KeyValuePair<string, string>(pair.Key, TextValues.ToText(pair.Value) ?? "")).ToList()
            : [];

        // A missing content_type means the default, but an explicit null means no Content-Type at all.
        var contentType = request.TryGetPropertyValue("content_type", out var contentTypeNode)
            ? reader.NullableString(contentTypeNode, prefix + "content_type")
            : DefaultContentType;

        var repeat = reader.OptionalInt(request, "repeat", prefix) ?? 1;
        if (repeat < 1)
        {
            throw reader.Invalid(prefix + "repeat", "at least 1");
        }

        return new CaseRequest(
            index,
            reader.RequiredString(request, "path", prefix),
            reader.OptionalString(request, "method", prefix)?.ToUpperInvariant() ?? "POST",
            headers,
            request["body"]?.DeepClone(),
            contentType,
            reader.OptionalBool(request, "gzip", prefix),
            reader.OptionalBool(request, "chunked", prefix),
            reader.OptionalInt(request, "pad_batch_to_bytes", prefix),
            repeat,
            reader.OptionalBool(request, "settle_before", prefix),
            reader.OptionalObject(request, "upstream", prefix),
            request["wootric_faults"]);
    }
}

/// <summary>A case's <c>expect</c> object. A null member was not given and is not checked.</summary>
internal sealed record CaseExpectations(
    JsonArray? EndUsers,
    JsonArray? AbsentEndUsers,
    int? EndUserCount,
    int? Creates,
    int? MaxWrites,
    JsonArray? PageViews,
    IReadOnlyList<int>? ClientStatuses,
    IReadOnlyList<string>? UpstreamPaths,
    bool UpstreamUnchanged,
    bool AllowViolations)
{
    public static CaseExpectations Parse(CaseFieldReader reader, JsonObject expect)
    {
        const string prefix = "expect.";
        reader.RejectUnknownFields(expect, prefix, ["end_users", "absent_end_users", "end_user_count", "creates", "max_writes", "page_views", "client_statuses", "upstream_paths", "upstream_unchanged", "allow_violations"]);

        return new CaseExpectations(
            reader.OptionalArray(expect, "end_users", prefix),
            reader.OptionalArray(expect, "absent_end_users", prefix),
            reader.OptionalInt(expect, "end_user_count", prefix),
            reader.OptionalInt(expect, "creates", prefix),
            reader.OptionalInt(expect, "max_writes", prefix),
            reader.OptionalArray(expect, "page_views", prefix),
            reader.OptionalArray(expect, "client_statuses", prefix)?.Select(status => status!.GetValue<int>()).ToList(),
            reader.OptionalArray(expect, "upstream_paths", prefix)?.Select(path => path!.GetValue<string>()).ToList(),
            reader.OptionalBool(expect, "upstream_unchanged", prefix),
            reader.OptionalBool(expect, "allow_violations", prefix));
    }
}

/// <summary>Typed reads of case fields, with errors that name the case file and the field.</summary>
internal sealed class CaseFieldReader(string fileName)
{
    public void RejectUnknownFields(JsonObject node, string prefix, IReadOnlyCollection<string> knownFields)
    {
        foreach (var (name, _) in node)
        {
            if (!knownFields.Contains(name))
            {
                throw new InvalidDataException($"Case file {fileName}: unknown field '{prefix}{name}'; known fields here are {string.Join(", ", knownFields)}.");
            }
        }
    }

    public string RequiredString(JsonObject node, string name, string prefix = "") =>
        OptionalString(node, name, prefix) ?? throw Invalid(prefix + name, "a string");

    public string? OptionalString(JsonObject node, string name, string prefix = "") => NullableString(node[name], prefix + name);

    public string? NullableString(JsonNode? value, string field) => value switch
    {
        null => null,
        JsonValue text when text.GetValueKind() == JsonValueKind.String => text.GetValue<string>(),
        _ => throw Invalid(field, "a string or null"),
    };

    public int? OptionalInt(JsonObject node, string name, string prefix = "") => node[name] switch
    {
        null => null,
        JsonValue number when number.GetValueKind() == JsonValueKind.Number && number.TryGetValue<int>(out var value) => value,
        _ => throw Invalid(prefix + name, "an integer"),
    };

    public bool OptionalBool(JsonObject node, string name, string prefix = "") => node[name] switch
    {
        null => false,
        JsonValue flag when flag.GetValueKind() is JsonValueKind.True or JsonValueKind.False => flag.GetValue<bool>(),
        _ => throw Invalid(prefix + name, "true or false"),
    };

    public JsonObject? OptionalObject(JsonObject node, string name, string prefix = "") => node[name] switch
    {
        null => null,
        JsonObject value => value,
        _ => throw Invalid(prefix + name, "an object"),
    };

    public JsonArray? OptionalArray(JsonObject node, string name, string prefix = "") => node[name] switch
    {
        null => null,
        JsonArray value => value,
        _ => throw Invalid(prefix + name, "an array"),
    };

    public JsonArray RequiredArray(JsonObject node, string name) =>
        OptionalArray(node, name) ?? throw Invalid(name, "an array");

    public InvalidDataException Invalid(string field, string expected) =>
        new($"Case file {fileName}: field '{field}' must be {expected}.");
}
