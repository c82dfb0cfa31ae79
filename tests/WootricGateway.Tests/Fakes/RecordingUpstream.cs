using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace WootricGateway.Tests.Fakes;

/// <summary>
/// The response the recording upstream sends: status, body, content type, extra headers and a
/// delay before responding. A null body sends no body and a null content type sends no Content-Type.
/// </summary>
internal sealed record UpstreamResponse(
    int Status,
    byte[]? Body,
    string? ContentType,
    IReadOnlyList<KeyValuePair<string, string>> Headers,
    TimeSpan Latency)
{
    private static readonly JsonSerializerOptions CompactJson = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>Closes the connection after reading the request, without a response (a TCP reset).</summary>
    public bool ResetConnection { get; init; }

    /// <summary>The Segment Tracking API's usual response: <c>200 {"success":true}</c> as JSON.</summary>
    public static UpstreamResponse Default { get; } = new(200, "{\"success\":true}"u8.ToArray(), "application/json", [], TimeSpan.Zero);

    /// <summary>
    /// Reads a case's <c>upstream</c> object: <c>status</c>, <c>body</c> (a JSON value sent
    /// compactly, a string sent as is, or null for none), <c>content_type</c>, <c>headers</c> and
    /// <c>latency_ms</c>. A missing field keeps the default, and a missing content type is
    /// <c>application/json</c> when there is a body.
    /// </summary>
    public static UpstreamResponse FromJson(JsonObject settings)
    {
        var response = Default;
        var contentTypeGiven = false;
        foreach (var (name, value) in settings)
        {
            switch (name)
            {
                case "status":
                    response = response with { Status = value!.GetValue<int>() };
                    break;
                case "body":
                    response = response with { Body = EncodeBody(value) };
                    break;
                case "content_type":
                    contentTypeGiven = true;
                    response = response with { ContentType = value?.GetValue<string>() };
                    break;
                case "headers":
                    var headers = value as JsonObject ?? throw new InvalidDataException("upstream.headers must be an object of header names to values.");
                    response = response with { Headers = [.. headers.Select(pair => new KeyValuePair<string, string>(pair.Key, pair.Value?.ToString() ?? ""))] };
                    break;
                case "latency_ms":
                    response = response with { Latency = TimeSpan.FromMilliseconds(value!.GetValue<int>()) };
                    break;
                default:
                    throw new InvalidDataException($"upstream has an unknown field '{name}'; known fields are status, body, content_type, headers, latency_ms.");
            }
        }

        if (!contentTypeGiven)
        {
            response = response with { ContentType = response.Body is null ? null : "application/json" };
        }

        return response;
    }

    private static byte[]? EncodeBody(JsonNode? body) => body switch
    {
        null => null,
        JsonValue value when value.GetValueKind() == JsonValueKind.String => Encoding.UTF8.GetBytes(value.GetValue<string>()),
        _ => Encoding.UTF8.GetBytes(body.ToJsonString(CompactJson)),
    };
}

/// <summary>One request the upstream received and the response it sent.</summary>
internal sealed record UpstreamExchange(
    string Method,
    string RawTarget,
    IReadOnlyList<KeyValuePair<string, string>> Headers,
    byte[] Body,
    UpstreamResponse Response)
{
    /// <summary>The path part of <see cref="RawTarget"/>, without the query.</summary>
    public string Path => RawTarget.Split('?', 2)[0];

    /// <summary>Returns every value of a header joined with ", ", or null when it was not received.</summary>
    public string? GetHeader(string name)
    {
        var values = Headers.Where(header => string.Equals(header.Key, name, StringComparison.OrdinalIgnoreCase)).Select(header => header.Value).ToList();
        return values.Count == 0 ? null : string.Join(", ", values);
    }
}

/// <summary>
/// An upstream on a real Kestrel listener on 127.0.0.1 that records every request (method, path
/// and query exactly as received, all headers, body bytes) and responds with
/// <see cref="Response"/>, which may change between requests. Thread-safe.
/// </summary>
internal sealed class RecordingUpstream : IAsyncDisposable
{
    private readonly WebApplication app;
    private readonly Lock gate = new();
    private readonly List<UpstreamExchange> exchanges = [];
    private readonly HashSet<UpstreamExchange> answered = new(ReferenceEqualityComparer.Instance);
    private UpstreamResponse response = UpstreamResponse.Default;
    private Func<HttpRequest, UpstreamResponse>? responder;

    private RecordingUpstream(WebApplication app)
    {
        this.app = app;
        app.Run(HandleAsync);
    }

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The response for requests that arrive from now on.</summary>
    public UpstreamResponse Response
    {
        get => Volatile.Read(ref response);
        set => Volatile.Write(ref response, value);
    }

    /// <summary>
    /// Chooses the response per request when set (a CORS answer for preflights, for example);
    /// <see cref="Response"/> is used when it is null.
    /// </summary>
    public Func<HttpRequest, UpstreamResponse>? Responder
    {
        get => Volatile.Read(ref responder);
        set => Volatile.Write(ref responder, value);
    }

    /// <summary>The requests received so far, in arrival order.</summary>
    public IReadOnlyList<UpstreamExchange> Exchanges
    {
        get
        {
            lock (gate)
            {
                return [.. exchanges];
            }
        }
    }

    /// <summary>
    /// Returns whether the response to <paramref name="exchange"/> was written in full. A request
    /// whose caller gave up during <see cref="UpstreamResponse.Latency"/>, or that was reset, was not.
    /// </summary>
    public bool WasAnswered(UpstreamExchange exchange)
    {
        lock (gate)
        {
            return answered.Contains(exchange);
        }
    }

    public static async Task<RecordingUpstream> StartAsync(CancellationToken cancellationToken)
    {
        var app = Loopback.CreateBuilder().Build();
        var upstream = new RecordingUpstream(app);
        await app.StartAsync(cancellationToken);
        upstream.BaseAddress = Loopback.GetBaseAddress(app);
        return upstream;
    }

    public ValueTask DisposeAsync() => Loopback.StopAsync(app);

    private async Task HandleAsync(HttpContext context)
    {
        var cancellationToken = context.RequestAborted;
        var request = context.Request;
        var current = Responder?.Invoke(request) ?? Response;

        using var body = new MemoryStream();
        await request.Body.CopyToAsync(body, cancellationToken);

        var rawTarget = context.Features.Get<IHttpRequestFeature>()?.RawTarget is { Length: > 0 } target
            ? target
            : request.Path + request.QueryString;
        var headers = request.Headers
            .SelectMany(header => header.Value.Select(value => new KeyValuePair<string, string>(header.Key, value ?? "")))
            .ToList();
        var exchange = new UpstreamExchange(request.Method, rawTarget, headers, body.ToArray(), current);
        lock (gate)
        {
            exchanges.Add(exchange);
        }

        if (current.Latency > TimeSpan.Zero)
        {
            await Task.Delay(current.Latency, cancellationToken);
        }

        if (current.ResetConnection)
        {
            context.Abort();
            return;
        }

        var response = context.Response;
        response.StatusCode = current.Status;
        foreach (var (name, value) in current.Headers)
        {
            response.Headers.Append(name, value);
        }

        if (current.ContentType is not null)
        {
            response.ContentType = current.ContentType;
        }

        if (current.Body is not null)
        {
            response.ContentLength = current.Body.Length;
            await response.Body.WriteAsync(current.Body, cancellationToken);
        }

        await response.CompleteAsync();
        lock (gate)
        {
            answered.Add(exchange);
        }
    }
}
