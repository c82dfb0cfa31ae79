using System.Diagnostics;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.State;

/// <summary>
/// The gateway as a separate operating-system process (the built WootricGateway.dll), so a test can
/// kill it with SIGKILL, which an in-process host cannot simulate.
/// </summary>
internal sealed class GatewayProcess : IDisposable
{
    /// <summary>How long a started process may take to return 200 on <c>/healthz</c>. It compiles its code first, which takes seconds on a busy machine.</summary>
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly Process _process;
    private readonly System.Collections.Concurrent.ConcurrentQueue<string> _output = new();

    private GatewayProcess(Process process, Uri proxyAddress, Uri managementAddress)
    {
        _process = process;
        ProxyAddress = proxyAddress;
        ManagementAddress = managementAddress;
    }

    public Uri ProxyAddress { get; }

    public Uri ManagementAddress { get; }

    /// <summary>Returns the value of one sample from <c>/metrics</c>, for example <c>name{label="x"}</c>; 0 when absent.</summary>
    public async Task<double> ReadMetricAsync(string sample, CancellationToken cancellationToken)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var exposition = await client.GetStringAsync(new Uri(ManagementAddress, "/metrics"), cancellationToken);
        var line = exposition.Split('\n').FirstOrDefault(text => text.StartsWith(sample + " ", StringComparison.Ordinal));
        return line is null ? 0 : double.Parse(line[(sample.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>Creates the start information for <c>dotnet WootricGateway.dll</c> from the test output folder, with both output streams redirected.</summary>
    public static ProcessStartInfo CreateStartInfo()
    {
        var start = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = AppContext.BaseDirectory,
        };
        start.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "WootricGateway.dll"));
        return start;
    }

    /// <summary>Starts <c>dotnet WootricGateway.dll</c> with <paramref name="configuration"/> as environment variables and waits for <c>/healthz</c>.</summary>
    public static async Task<GatewayProcess> StartAsync(IReadOnlyDictionary<string, string?> configuration, CancellationToken cancellationToken)
    {
        var proxyAddress = new Uri($"http://127.0.0.1:{Loopback.PickFreePort()}/");
        var managementAddress = new Uri($"http://127.0.0.1:{Loopback.PickFreePort()}/");
        var start = CreateStartInfo();
        foreach (var (key, value) in configuration)
        {
            start.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        start.Environment["Kestrel__Endpoints__Proxy__Url"] = proxyAddress.GetLeftPart(UriPartial.Authority);
        start.Environment["Kestrel__Endpoints__Management__Url"] = managementAddress.GetLeftPart(UriPartial.Authority);

        var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet WootricGateway.dll could not be started.");
        var gateway = new GatewayProcess(process, proxyAddress, managementAddress);
        process.OutputDataReceived += (_, line) => gateway.Record(line.Data);
        process.ErrorDataReceived += (_, line) => gateway.Record(line.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var waited = Stopwatch.StartNew();
        while (waited.Elapsed < StartTimeout)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Assert.False(process.HasExited, $"the gateway process exited with {(process.HasExited ? process.ExitCode : 0)} while starting");
            try
            {
                using var response = await client.GetAsync(new Uri(managementAddress, "/healthz"), cancellationToken);
                if (response.IsSuccessStatusCode)
                {
                    return gateway;
                }
            }
            catch (HttpRequestException)
            {
                // Not listening yet.
            }
            catch (TaskCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                // Listening, but too busy starting to respond within the client's timeout.
            }

            await Task.Delay(100, cancellationToken);
        }

        gateway.Kill();
        throw new TimeoutException($"The gateway process did not return 200 on /healthz within {StartTimeout.TotalSeconds:F0} s.");
    }

    /// <summary>The last lines the process wrote to standard output and error, for failure messages.</summary>
    public string Output => string.Join('\n', _output);

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Sends SIGTERM, the signal a container runtime sends to stop a process gracefully.</summary>
    public void Terminate()
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })
            ?? throw new InvalidOperationException("kill could not be started.");
        kill.WaitForExit(5_000);
    }

    /// <summary>Waits for the process to exit; returns false when it still runs after <paramref name="timeout"/>.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            await _process.WaitForExitAsync(limit.Token);
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return false;
        }
    }

    private void Record(string? line)
    {
        if (line is null)
        {
            return;
        }

        _output.Enqueue(line);
        while (_output.Count > 200 && _output.TryDequeue(out _))
        {
        }
    }

    /// <summary>Kills the process with SIGKILL: no shutdown, no flush, no acknowledgement.</summary>
    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
    }
}
