using System.Diagnostics;
using WootricGateway.Tests.State;

namespace WootricGateway.Tests.Proxy;

/// <summary>
/// Starts the built WootricGateway.dll as a process with one bad setting, because the exit code and the
/// standard error output are what an operator reads.
/// </summary>
public sealed class InvalidConfigurationTests
{
    [Theory]
    [InlineData("Gateway__InlineScheduling", "maybe", "Gateway:InlineScheduling")]
    [InlineData("Tap__ParserNice", "abc", "Tap:ParserNice")]
    [InlineData("Tap__ParserNice", "99999999999", "Tap:ParserNice")]
    [InlineData("Tap__ParserNice", "25", "ParserNice")]
    [InlineData("Tap__QueueCapacity", "abc", "Tap:QueueCapacity")]
    [InlineData("Tap__ParserCpuShare", "half", "Tap:ParserCpuShare")]
    [InlineData("Delivery__Concurrency", "abc", "Delivery:Concurrency")]
    [InlineData("Redis__OutageBufferCapacity", "many", "Redis:OutageBufferCapacity")]
    [InlineData("Wootric__RequestsPerMinute", "fast", "Wootric:RequestsPerMinute")]
    public async Task BadValue_ExitsWithOneLine(string variable, string value, string expectedName)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var start = GatewayProcess.CreateStartInfo();
        start.Environment["Kestrel__Endpoints__Proxy__Url"] = "http://127.0.0.1:0";
        start.Environment["Kestrel__Endpoints__Management__Url"] = "http://127.0.0.1:0";
        start.Environment["Upstream__Address"] = "http://127.0.0.1:9";
        start.Environment[variable] = value;

        using var process = Process.Start(start) ?? throw new InvalidOperationException("dotnet WootricGateway.dll could not be started.");
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var errors = process.StandardError.ReadToEndAsync(timeout.Token);
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw;
        }

        var errorText = await errors;
        var allText = await output + errorText;
        Assert.True(process.ExitCode == 2, $"exit code {process.ExitCode}; output: {allText}");
        var lines = errorText.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("Invalid configuration: ", lines[0], StringComparison.Ordinal);
        Assert.Contains(expectedName, lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", allText, StringComparison.Ordinal);
    }
}
