using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;

namespace WootricGateway.Hosting;

/// <summary>
/// The switch that runs socket completions and Kestrel's request processing on the socket event threads
/// rather than queueing each of them to the thread pool. A proxied request is a chain of small reads and writes on
/// two sockets, and each hop to the pool adds CPU time. docs/benchmarks.md has the measurements.
/// </summary>
/// <remarks>
/// The price is that nothing reached from a socket continuation may block or run long, because the
/// event thread serves every other connection meanwhile. The request path only copies, forwards and
/// hands captures to the tap queue. The tap parses on its own thread (see <c>TapWorker</c>).
/// </remarks>
internal static class InlineScheduling
{
    /// <summary>The environment variable the runtime reads once, when the process makes its first asynchronous socket call.</summary>
    internal const string RuntimeVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>
    /// Turns on inline completions for the process, unless the variable is already set (an operator's
    /// explicit choice wins), and inline scheduling for Kestrel.
    /// </summary>
    public static void Enable(IServiceCollection services)
    {
        if (Environment.GetEnvironmentVariable(RuntimeVariable) is null)
        {
            Environment.SetEnvironmentVariable(RuntimeVariable, "1");
        }

        services.Configure<SocketTransportOptions>(options => options.UnsafePreferInlineScheduling = true);
    }
}
