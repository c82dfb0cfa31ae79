using System.Diagnostics;

namespace WootricGateway.Tests.Deployment;

/// <summary>The result of running an external program.</summary>
internal sealed record ToolResult(int ExitCode, string Output, string Error)
{
    public string Describe() => $"exit code {ExitCode}{Environment.NewLine}stdout:{Environment.NewLine}{Output}{Environment.NewLine}stderr:{Environment.NewLine}{Error}";
}

/// <summary>
/// Runs the command-line tools the deployment checks need. A missing tool fails the test with the
/// Debian package to install, because a skipped check would pass silently on CI.
/// </summary>
internal static class ExternalTool
{
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(3);

    /// <summary>Returns the full path of <paramref name="program"/> on PATH, or fails the test naming <paramref name="debianPackages"/>.</summary>
    public static string Require(string program, string debianPackages)
    {
        var path = Environment.GetEnvironmentVariable("PATH") ?? "";
        foreach (var directory in path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(directory, program);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        Assert.Fail($"'{program}' was not found on PATH. Install it with: apt-get install -y {debianPackages} (.ci/run does this).");
        return "";
    }

    /// <summary>Runs <paramref name="program"/> and returns its exit code and output; fails the test after 3 minutes.</summary>
    public static async Task<ToolResult> RunAsync(
        string program,
        IEnumerable<string> arguments,
        string workingDirectory,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var startInfo = new ProcessStartInfo(program)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            startInfo.Environment[name] = value;
        }

        using var process = Process.Start(startInfo) ?? throw new InvalidOperationException($"Could not start {program}.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(RunTimeout);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{program} {string.Join(' ', startInfo.ArgumentList)} did not finish within {RunTimeout.TotalMinutes:F0} minutes.");
        }

        return new ToolResult(process.ExitCode, await output, await error);
    }
}
