using Microsoft.AspNetCore.Http.Features;

namespace WootricGateway.Proxy;

/// <summary>
/// Responds with 413 before anything is sent upstream when a request declares a Content-Length above the
/// body size limit (<c>Kestrel:Limits:MaxRequestBodySize</c>). Kestrel enforces that limit only when
/// the body is read, by which time the forwarder has already sent the request's headers upstream.
/// </summary>
internal sealed class BodySizeGuardMiddleware(RequestDelegate next)
{
    public Task InvokeAsync(HttpContext context)
    {
        if (context.Request.ContentLength is { } length
            && context.Features.Get<IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize is { } limit
            && length > limit)
        {
            context.Response.StatusCode = StatusCodes.Status413PayloadTooLarge;
            context.Response.ContentType = "application/json";
            return context.Response.WriteAsync("""{"error":"payload_too_large","message":"The request body is larger than the gateway accepts."}""");
        }

        return next(context);
    }
}
