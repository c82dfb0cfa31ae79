using System.Text.Json;
using WootricGateway.State;

namespace WootricGateway.Management;

/// <summary>
/// The operator API on the management listener: <c>GET /admin/dead-letters</c>,
/// <c>POST /admin/dead-letters/{id}/redrive</c>, <c>POST /admin/dead-letters/redrive</c> (all) and
/// <c>GET /admin/queue</c>. Emails in user keys are masked; no secret is ever part of a dead letter.
/// </summary>
internal static class AdminApi
{
    private const int MaxListed = 1000;

    public static IApplicationBuilder UseAdminApi(this IApplicationBuilder app) =>
        app.Map("/admin", admin => admin.Run(HandleOrReportOutageAsync));

    private static async Task HandleOrReportOutageAsync(HttpContext context)
    {
        try
        {
            await HandleAsync(context);
        }
        catch (Exception exception) when (State.Redis.RedisConnection.IsOutage(exception) && !context.Response.HasStarted)
        {
            // The dead letters and the queue live in Redis; while it is unreachable the response is a clear 503.
            context.Response.Clear();
            await WriteJsonAsync(context, StatusCodes.Status503ServiceUnavailable, new
            {
                error = "store_unavailable",
                message = "Redis is unreachable; the admin API needs it. Proxying is not affected.",
            });
        }
    }

    private static async Task HandleAsync(HttpContext context)
    {
        var services = context.RequestServices;
        var deadLetters = services.GetRequiredService<IDeadLetterStore>();
        var queue = services.GetRequiredService<IWorkQueue>();
        var path = context.Request.Path.Value ?? string.Empty;
        var method = context.Request.Method;
        var cancellationToken = context.RequestAborted;

        if (HttpMethods.IsGet(method) && path is "/dead-letters")
        {
            var letters = await deadLetters.ListAsync(MaxListed, cancellationToken);
            await WriteJsonAsync(context, StatusCodes.Status200OK, letters.Select(ToView));
            return;
        }

        if (HttpMethods.IsGet(method) && path is "/queue")
        {
            await WriteJsonAsync(context, StatusCodes.Status200OK, new
            {
                backlog = await queue.GetBacklogAsync(cancellationToken),
                dead_letters = await deadLetters.CountAsync(cancellationToken),
            });
            return;
        }

        if (HttpMethods.IsPost(method) && path is "/dead-letters/redrive")
        {
            var redriven = 0;
            foreach (var letter in await deadLetters.ListAsync(int.MaxValue, cancellationToken))
            {
                if (await deadLetters.TakeAsync(letter.Id, cancellationToken) is { } taken)
                {
                    await queue.EnqueueAsync(taken.User, cancellationToken);
                    redriven++;
                }
            }

            await WriteJsonAsync(context, StatusCodes.Status200OK, new { redriven });
            return;
        }

        if (HttpMethods.IsPost(method) && path.StartsWith("/dead-letters/", StringComparison.Ordinal) && path.EndsWith("/redrive", StringComparison.Ordinal))
        {
            var id = path["/dead-letters/".Length..^"/redrive".Length];
            if (await deadLetters.TakeAsync(id, cancellationToken) is not { } taken)
            {
                await WriteJsonAsync(context, StatusCodes.Status404NotFound, new { error = "not_found", message = $"No dead letter with id '{id}'." });
                return;
            }

            await queue.EnqueueAsync(taken.User, cancellationToken);
            await WriteJsonAsync(context, StatusCodes.Status200OK, new { redriven = 1 });
            return;
        }

        await WriteJsonAsync(context, StatusCodes.Status404NotFound, new { error = "not_found", message = "Unknown admin endpoint; see GET /admin/dead-letters, GET /admin/queue, POST /admin/dead-letters/redrive." });
    }

    private static object ToView(DeadLetter letter) => new
    {
        id = letter.Id,
        account = letter.User.Account,
        user = letter.User.MaskedKey,
        reason = letter.Reason,
        status = letter.StatusCode,
        message = letter.Message,
        attempts = letter.Attempts,
        at = letter.At,
    };

    private static Task WriteJsonAsync(HttpContext context, int statusCode, object body)
    {
        context.Response.StatusCode = statusCode;
        context.Response.ContentType = "application/json";
        return context.Response.WriteAsync(JsonSerializer.Serialize(body), context.RequestAborted);
    }
}
