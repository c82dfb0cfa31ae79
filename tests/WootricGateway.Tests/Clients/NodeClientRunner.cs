using System.Diagnostics;
using System.Text.Json;

namespace WootricGateway.Tests.Clients;

/// <summary>Runs a script from <c>tests/clients</c> with Node.js and returns what it printed.</summary>
internal static class NodeClientRunner
{
    /// <summary>Finds <c>tests/clients</c> by walking up from the test binaries; fails when npm ci was not run.</summary>
    public static string FindClientsDirectory()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = Path.Combine(directory.FullName, "tests", "clients");
            if (File.Exists(Path.Combine(candidate, "package.json")))
            {
                Assert.True(
                    Directory.Exists(Path.Combine(candidate, "node_modules")),
                    $"The client libraries are not installed: run 'npm ci' in {candidate} (./build.sh test does it).");
                return candidate;
            }
        }

        Assert.Fail($"tests/clients/package.json was not found above {AppContext.BaseDirectory}.");
        return string.Empty;
    }

    /// <summary>Runs <c>node {script} {arguments}</c>; fails the test on a non-zero exit or after <paramref name="timeout"/>.</summary>
    public static async Task<JsonDocument> RunAsync(string script, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var directory = FindClientsDirectory();
        var start = new ProcessStartInfo("node")
        {
            WorkingDirectory = directory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(script);
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException("node could not be started; is Node.js on PATH?");
        var output = process.StandardOutput.ReadToEndAsync();
        var errors = process.StandardError.ReadToEndAsync();
        using var cancellation = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancellation.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"node {script} did not finish within {timeout.TotalSeconds} s. stderr: {await errors}");
        }

        var stdout = await output;
        Assert.True(process.ExitCode == 0, $"node {script} exited with {process.ExitCode}. stderr: {await errors}");
        var lastLine = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        Assert.False(string.IsNullOrEmpty(lastLine), $"node {script} printed nothing. stderr: {await errors}");
        return JsonDocument.Parse(lastLine!);
    }
}
