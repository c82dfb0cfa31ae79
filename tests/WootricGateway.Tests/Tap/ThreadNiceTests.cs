using WootricGateway.Tap;

namespace WootricGateway.Tests.Tap;

public sealed class ThreadNiceTests
{
    [Fact]
    public void TryLower_ChangesCallingThreadOnly()
    {
        Assert.True(OperatingSystem.IsLinux(), "The gateway and its tests run on Linux, where nice values are per thread.");
        var before = ThreadNice.CurrentThreadNice();
        Assert.NotNull(before);

        // Raising the nice value is always allowed. Lowering it below the current one needs privilege.
        var target = Math.Min(Math.Max(before.Value + 1, 7), 19);
        var lowered = false;
        int? inside = null;
        var thread = new Thread(() =>
        {
            lowered = ThreadNice.TryLowerCurrentThread(target, out _);
            inside = ThreadNice.CurrentThreadNice();
        });
        thread.Start();
        thread.Join();

        Assert.True(lowered);
        Assert.Equal(target, inside);
        Assert.Equal(before, ThreadNice.CurrentThreadNice());
    }

    [Fact]
    public void TryLower_KeepsHigherNice()
    {
        Assert.True(OperatingSystem.IsLinux(), "The gateway and its tests run on Linux, where nice values are per thread.");
        var before = ThreadNice.CurrentThreadNice();
        Assert.NotNull(before);

        // The thread first runs at a higher nice value than requested, as under `nice -n 15`. Raising its own
        // value needs no privilege. Lowering it back to 10 would succeed under root and fail otherwise.
        var started = Math.Max(before.Value, 15);
        var raiseCallSucceeded = false;
        var lowerCallSucceeded = false;
        int? inside = null;
        var thread = new Thread(() =>
        {
            raiseCallSucceeded = ThreadNice.TryLowerCurrentThread(started, out _);
            lowerCallSucceeded = ThreadNice.TryLowerCurrentThread(10, out _);
            inside = ThreadNice.CurrentThreadNice();
        });
        thread.Start();
        thread.Join();

        Assert.True(raiseCallSucceeded);
        Assert.True(lowerCallSucceeded);
        Assert.Equal(started, inside);
    }

    [Fact]
    public async Task ParserThread_UsesConfiguredNice()
    {
        Assert.True(OperatingSystem.IsLinux(), "The gateway and its tests run on Linux, where nice values are per thread.");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        await using var gateway = await Conformance.GatewayUnderTest.StartAsync(
            new Dictionary<string, string?> { ["Upstream:Address"] = "http://127.0.0.1:9", ["Tap:ParserNice"] = "13" },
            timeout.Token);

        // The parser thread sets its own nice value once it runs, which on a busy machine can be a
        // while after the gateway's /healthz returns 200.
        var nices = new List<int>();
        var found = await Fakes.Poll.UntilAsync(
            () =>
            {
                nices = ReadParserNices();
                return nices.Contains(13);
            },
            TimeSpan.FromSeconds(60),
            timeout.Token);

        Assert.True(found, $"no thread named 'Tap parser' had nice 13 within 60 s; their nice values: [{string.Join(", ", nices)}]");
    }

    /// <summary>Returns the nice value of every thread of this process named <c>Tap parser</c>.</summary>
    private static List<int> ReadParserNices() =>
        [
            // In /proc/self/task/<tid>/stat the name is in parentheses, and nice is the 19th field.
            .. Directory.GetDirectories("/proc/self/task")
                .Select(ReadStatOrNull)
                .OfType<string>()
                .Where(stat => stat.Contains("(Tap parser)", StringComparison.Ordinal))
                .Select(stat => int.Parse(stat[(stat.LastIndexOf(')') + 2)..].Split(' ')[16], System.Globalization.CultureInfo.InvariantCulture)),
        ];

    /// <summary>Reads a thread's stat line, or null when the thread ended after the directory was listed.</summary>
    private static string? ReadStatOrNull(string taskDirectory)
    {
        try
        {
            return File.ReadAllText(Path.Combine(taskDirectory, "stat"));
        }
        catch (Exception exception) when (exception is DirectoryNotFoundException or FileNotFoundException)
        {
            return null;
        }
    }
}
