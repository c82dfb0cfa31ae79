using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace WootricGateway.Tests.Fakes;

/// <summary>Helpers for servers that tests start on 127.0.0.1 only.</summary>
internal static class Loopback
{
    /// <summary>
    /// Returns a TCP port that was free on 127.0.0.1 a moment ago. Another process can take it
    /// before the caller binds it, so callers retry when the bind fails.
    /// </summary>
    public static int PickFreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        return port;
    }

    /// <summary>
    /// Returns an HTTP address on which connections are refused at once: a port on 127.0.0.3, which
    /// Linux routes to the loopback interface and no server in the tests binds (they bind 127.0.0.1).
    /// A port merely free on 127.0.0.1 can be taken by another test's server in the meantime.
    /// </summary>
    public static Uri ClosedAddress() => new($"http://127.0.0.3:{PickFreePort()}/");

    /// <summary>
    /// Creates a builder for a minimal Kestrel app that listens on 127.0.0.1 with a port chosen by
    /// the operating system and accepts request bodies of any size and headers up to 1 MiB. The empty builder reads no
    /// configuration files or environment variables, so no other address is bound, and it writes
    /// no logs.
    /// </summary>
    public static WebApplicationBuilder CreateBuilder()
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions
        {
            EnvironmentName = Environments.Production,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(IPAddress.Loopback, 0);
            kestrel.Limits.MaxRequestBodySize = null;

            // Above the gateway's header limits, so a fake never rejects what the gateway forwards.
            kestrel.Limits.MaxRequestHeadersTotalSize = 1024 * 1024;
            kestrel.Limits.MaxRequestLineSize = 1024 * 1024;
        });
        return builder;
    }

    /// <summary>Returns the address a started app listens on, with the port the system assigned.</summary>
    public static Uri GetBaseAddress(WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses;
        var address = addresses?.FirstOrDefault()
            ?? throw new InvalidOperationException("The loopback server reported no listening address; start it before reading the address.");
        return new Uri(address);
    }

    /// <summary>Stops <paramref name="app"/> (waiting at most 10 seconds for requests to finish) and disposes it.</summary>
    public static async ValueTask StopAsync(WebApplication app)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await app.StopAsync(timeout.Token);
        await app.DisposeAsync();
    }
}
