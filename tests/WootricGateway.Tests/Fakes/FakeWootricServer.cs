using System.Text;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;

namespace WootricGateway.Tests.Fakes;

/// <summary>
/// A fake Wootric REST API on a real Kestrel listener on 127.0.0.1: OAuth client_credentials
/// tokens, end users with Wootric's uniqueness and properties rules, page views, a rate limit and
/// injected faults. It records every request and every breach of Wootric's rules in them. Thread-safe.
/// </summary>
/// <remarks>
/// A request goes through these steps: it is recorded, waits the global latency, may take a fault
/// rule (which can respond instead of processing), then is authenticated, counted against the
/// rate limit and routed. Token requests (<c>POST /oauth/token</c>) skip the bearer check and
/// the rate limit.
/// </remarks>
internal sealed partial class FakeWootricServer : IAsyncDisposable
{
    public const string DefaultClientId = "fake-client-0001";
    public const string DefaultClientSecret = "fake-secret-0001";
    private const string TokenPath = "/oauth/token";

    private readonly WebApplication app;
    private readonly FakeWootricTokens tokens;
    private readonly FakeWootricFaults faults;
    private readonly FakeEndUserStore endUsers;
    private readonly FakeWootricRequestLog log;

    private FakeWootricServer(WebApplication app, TimeProvider time, string clientId, string clientSecret)
    {
        this.app = app;
        Time = time;
        ClientId = clientId;
        ClientSecret = clientSecret;
        tokens = new FakeWootricTokens(clientId, clientSecret, time);
        faults = new FakeWootricFaults(time);
        endUsers = new FakeEndUserStore(time);
        log = new FakeWootricRequestLog(time);
        app.Run(HandleAsync);
    }

    /// <summary>The scheme, host and port for both <c>/oauth/token</c> and <c>/v1/...</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    public string ClientId { get; }

    public string ClientSecret { get; }

    /// <summary>The clock for token expiry, rate-limit windows and <see cref="LastActivityTimestamp"/>.</summary>
    public TimeProvider Time { get; }

    public IReadOnlyList<FakeEndUser> EndUsers => endUsers.GetEndUsers();

    public IReadOnlyList<FakePageView> PageViews => endUsers.GetPageViews();

    public IReadOnlyList<WootricRequestRecord> Requests => log.GetRecords();

    /// <summary>Breaches of Wootric's rules seen in create and update requests, one message each.</summary>
    public IReadOnlyList<string> Violations => log.GetViolations();

    /// <summary>End users created by <c>POST /v1/end_users</c>, including creates whose response a fault rule replaced.</summary>
    public int CreateCount => Requests.Count(record => record.CreatedEndUserId is not null);

    /// <summary>POST, PUT, PATCH and DELETE requests under <c>/v1/</c>, whatever the response status.</summary>
    public int WriteCount => Requests.Count(record => record.IsWrite);

    public int TokensIssued => tokens.IssuedCount;

    /// <summary>Every access token issued so far, revoked or not.</summary>
    public IReadOnlyList<string> IssuedTokens => tokens.IssuedTokens;

    public int InFlightCount => log.InFlightCount;

    /// <summary>The <see cref="TimeProvider.GetTimestamp"/> value when a request last arrived or completed.</summary>
    public long LastActivityTimestamp => log.LastActivityTimestamp;

    /// <summary>Starts a fake that accepts <paramref name="clientId"/> and <paramref name="clientSecret"/>.</summary>
    public static async Task<FakeWootricServer> StartAsync(
        CancellationToken cancellationToken,
        string clientId = DefaultClientId,
        string clientSecret = DefaultClientSecret,
        TimeProvider? time = null)
    {
        var app = Loopback.CreateBuilder().Build();
        var server = new FakeWootricServer(app, time ?? TimeProvider.System, clientId, clientSecret);
        await app.StartAsync(cancellationToken);
        server.BaseAddress = Loopback.GetBaseAddress(app);
        return server;
    }

    /// <summary>Adds an end user that exists before the test, keeping <paramref name="id"/> when given.</summary>
    public FakeEndUser Seed(long? id, EndUserFields fields) => endUsers.Seed(id, fields);

    /// <summary>
    /// Changes the fault settings given in a case's <c>wootric_faults</c> value (an object, or a
    /// bare array of rules) and leaves the others as they are. <c>revoke_tokens</c> revokes
    /// every token issued so far.
    /// </summary>
    public void ApplyFaults(JsonNode faultSettings)
    {
        var change = FaultSettingsChange.Parse(faultSettings);
        faults.Apply(change);
        if (change.TokenLifetime is { } lifetime)
        {
            tokens.Lifetime = lifetime;
        }

        if (change.RevokeTokens)
        {
            tokens.RevokeAll();
        }
    }

    public void RevokeTokens() => tokens.RevokeAll();

    public ValueTask DisposeAsync() => Loopback.StopAsync(app);

    private async Task HandleAsync(HttpContext context)
    {
        var cancellationToken = context.RequestAborted;
        var request = await FakeWootricRequest.ReadAsync(context, cancellationToken);
        var record = log.Begin(request.Method, request.Path, request.RawTarget, request.Form, request.NonFormBody);
        var status = 0;
        try
        {
            await DelayAsync(faults.Latency, cancellationToken);

            var rule = faults.TakeMatchingRule(request.Method, request.Path);
            if (rule is not null)
            {
                await DelayAsync(rule.Latency, cancellationToken);
            }

            if (rule is { Reset: true })
            {
                if (rule.Apply)
                {
                    Process(request, record);
                }

                context.Abort();
                return;
            }

            FakeWootricResponse response;
            if (rule?.Status is { } faultStatus && !rule.Apply)
            {
                response = rule.CreateResponse(faultStatus);
            }
            else
            {
                response = Process(request, record);
                if (rule?.Status is { } appliedFaultStatus)
                {
                    response = rule.CreateResponse(appliedFaultStatus);
                }
            }

            status = response.Status;
            await WriteAsync(context.Response, response, cancellationToken);
        }
        finally
        {
            log.End(record, status);
        }
    }

    private FakeWootricResponse Process(FakeWootricRequest request, WootricRequestRecord record)
    {
        var response = AuthorizeAndRoute(request, record);
        record.SetProcessedStatus(response.Status);
        return response;
    }

    private FakeWootricResponse AuthorizeAndRoute(FakeWootricRequest request, WootricRequestRecord record)
    {
        if (request.Path == TokenPath)
        {
            return request.Method == HttpMethods.Post
                ? tokens.Issue(request.Form)
                : FakeWootricResponse.ForStatus(StatusCodes.Status405MethodNotAllowed);
        }

        if (request.Segments is not ["v1", ..])
        {
            return FakeWootricResponse.NotFound();
        }

        if (!IsAuthorized(request.Authorization))
        {
            return FakeWootricResponse.Json(StatusCodes.Status401Unauthorized, new JsonObject
            {
                ["error"] = "invalid_token",
                ["error_description"] = "The access token is invalid",
            }).WithHeaders([new("WWW-Authenticate", "Bearer realm=\"Doorkeeper\", error=\"invalid_token\"")]);
        }

        var rateLimit = faults.ConsumeRateLimit();
        if (rateLimit is { Allowed: false })
        {
            return FakeWootricResponse.Error(StatusCodes.Status429TooManyRequests, "Rate limit exceeded").WithHeaders(rateLimit.Headers);
        }

        var response = RouteApiRequest(request, record);
        return rateLimit is null ? response : response.WithHeaders(rateLimit.Headers);
    }

    /// <summary>
    /// Returns whether <c>Authorization: Bearer &lt;token&gt;</c> carries a valid token. The discouraged
    /// <c>?access_token=</c> query form is rejected.
    /// </summary>
    private bool IsAuthorized(string? authorization)
    {
        const string scheme = "Bearer ";
        return authorization is not null
            && authorization.StartsWith(scheme, StringComparison.OrdinalIgnoreCase)
            && tokens.IsValid(authorization[scheme.Length..].Trim());
    }

    private static async Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken)
    {
        if (delay > TimeSpan.Zero)
        {
            await Task.Delay(delay, cancellationToken);
        }
    }

    private static async Task WriteAsync(HttpResponse response, FakeWootricResponse fakeResponse, CancellationToken cancellationToken)
    {
        response.StatusCode = fakeResponse.Status;
        foreach (var (name, value) in fakeResponse.Headers)
        {
            response.Headers.Append(name, value);
        }

        if (fakeResponse.Body is null)
        {
            return;
        }

        var body = Encoding.UTF8.GetBytes(fakeResponse.Body);
        response.ContentType = fakeResponse.ContentType;
        response.ContentLength = body.Length;
        await response.Body.WriteAsync(body, cancellationToken);
    }
}

/// <summary>A request to the fake Wootric, read once: decoded path segments, query, form body and bearer header.</summary>
internal sealed record FakeWootricRequest(
    string Method,
    string Path,
    IReadOnlyList<string> Segments,
    string RawTarget,
    IQueryCollection Query,
    IReadOnlyDictionary<string, string> Form,
    string? NonFormBody,
    string? Authorization)
{
    public static async Task<FakeWootricRequest> ReadAsync(HttpContext context, CancellationToken cancellationToken)
    {
        var request = context.Request;
        var rawTarget = context.Features.Get<IHttpRequestFeature>()?.RawTarget is { Length: > 0 } target
            ? target
            : request.Path + request.QueryString;

        // Segments come from the raw target so an encoded '/' (%2F) inside an id or email stays
        // part of its segment.
        var rawPath = rawTarget.Split('?', 2)[0];
        string[] segments = [.. rawPath.Split('/', StringSplitOptions.RemoveEmptyEntries).Select(Uri.UnescapeDataString)];

        var form = new Dictionary<string, string>(StringComparer.Ordinal);
        string? nonFormBody = null;
        if (request.HasFormContentType)
        {
            var fields = await request.ReadFormAsync(cancellationToken);
            foreach (var (name, values) in fields)
            {
                form[name] = values.LastOrDefault() ?? "";
            }
        }
        else
        {
            using var reader = new StreamReader(request.Body, Encoding.UTF8);
            var text = await reader.ReadToEndAsync(cancellationToken);
            nonFormBody = text.Length == 0 ? null : text;
        }

        return new FakeWootricRequest(
            request.Method,
            request.Path.Value ?? "/",
            segments,
            rawTarget,
            request.Query,
            form,
            nonFormBody,
            request.Headers.Authorization.LastOrDefault());
    }
}
