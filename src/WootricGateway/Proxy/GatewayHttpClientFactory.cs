using Yarp.ReverseProxy.Forwarder;

namespace WootricGateway.Proxy;

/// <summary>
/// The factory of the forwarder's client: YARP's defaults, the <c>Upstream</c> connection settings, no trace
/// headers of its own, and <see cref="SingleWriteRequestHandler"/> in front of the socket handler.
/// </summary>
internal sealed class GatewayHttpClientFactory(UpstreamOptions upstream) : ForwarderHttpClientFactory
{
    protected override void ConfigureHandler(ForwarderHttpClientContext context, SocketsHttpHandler handler)
    {
        base.ConfigureHandler(context, handler);
        handler.PooledConnectionLifetime = upstream.PooledConnectionLifetime > TimeSpan.Zero ? upstream.PooledConnectionLifetime : TimeSpan.FromMinutes(2);
        handler.ConnectTimeout = upstream.ConnectTimeout > TimeSpan.Zero ? upstream.ConnectTimeout : TimeSpan.FromSeconds(10);

        // Trace headers such as traceparent pass through as the client sent them.
        handler.ActivityHeadersPropagator = null;
    }

    protected override HttpMessageHandler WrapHandler(ForwarderHttpClientContext context, HttpMessageHandler handler) =>
        new SingleWriteRequestHandler(base.WrapHandler(context, handler));
}
