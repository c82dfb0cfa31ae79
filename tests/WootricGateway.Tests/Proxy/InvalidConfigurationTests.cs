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
    [InlineData("Upstream__Address", "ftp://127.0.0.1:9", "Upstream:Address")]
    [InlineData("Upstream__Address", "http://gateway-user:s3cret@127.0.0.1:9", "Upstream:Address contains a user name or password")]
    [InlineData("Upstream__Address", "http://127.0.0.1:9/segment?writeKey=wk-s3cret", "Upstream:Address contains a query string")]
    [InlineData("Upstream__Address", "http://127.0.0.1:9/segment#s3cret", "Upstream:Address contains a query string or a fragment")]
    [InlineData("Wootric__ApiBaseUrl", "https://user:s3cret@127.0.0.1:9", "Wootric:ApiBaseUrl")]
    [InlineData("Wootric__AuthBaseUrl", "https://127.0.0.1:9/?token=s3cret", "Wootric:AuthBaseUrl")]
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
        Assert.DoesNotContain("s3cret", allText, StringComparison.Ordinal);
    }
}
