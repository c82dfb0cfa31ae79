namespace WootricGateway.Hosting;

/// <summary>
/// The switch that runs socket completions on the socket event threads rather than queueing each of them to the
/// thread pool. A proxied request is a chain of small reads and writes on two sockets, and each hop to the pool adds
/// CPU time. docs/benchmarks.md has the measurements.
/// </summary>
/// <remarks>
/// The price is that nothing reached from a socket continuation may block or run long, because the
/// event thread serves every other connection meanwhile. The request path only copies, forwards and
/// hands captures to the tap queue. The tap parses on its own thread (see <c>TapWorker</c>).
/// Kestrel's own inline scheduling (<c>UnsafePreferInlineScheduling</c>) stays off, so each request still
/// starts on the thread pool. With both on, the gateway served the 17 KB gzip benchmark body at 0.82 × bare
/// YARP. With this switch alone it served 1.03 ×, and the small bodies did as well or better.
/// </remarks>
internal static class InlineScheduling
{
    /// <summary>The environment variable the runtime reads once, when the process makes its first asynchronous socket call.</summary>
    internal const string RuntimeVariable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>Turns on inline socket completions for the process, unless the variable is already set (an operator's explicit choice wins).</summary>
    public static void Enable()
    {
        if (Environment.GetEnvironmentVariable(RuntimeVariable) is null)
        {
            Environment.SetEnvironmentVariable(RuntimeVariable, "1");
        }
    }
}
