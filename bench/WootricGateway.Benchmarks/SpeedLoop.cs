using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using WootricGateway.Segment;
using WootricGateway.Wootric;

namespace WootricGateway.Benchmarks;

/// <summary>
/// A plain timed loop over the parser or the identify mapping, for comparing two builds by running
/// them in turn for a few seconds each. On a shared machine whose speed drifts, that gave steadier
/// ratios than BenchmarkDotNet's short job.
/// </summary>
/// <remarks>
/// Usage: <c>loop parse|map [--body FILE] [--seconds N] [--rounds N]</c>. Without <c>--body</c> it uses
/// the 1,000-event batch of <see cref="ParserBenchmarks"/>. A body is read as a <c>/v1/batch</c>
/// request, already decoded.
/// </remarks>
public static class SpeedLoop
{
    public static int Run(string[] args)
    {
        if (args.Length < 2 || args[1] is not ("parse" or "map"))
        {
            Console.Error.WriteLine("usage: loop parse|map [--body FILE] [--seconds N] [--rounds N]");
            return 2;
        }

        var mode = args[1];
        var bodyPath = Option(args, "--body");
        var seconds = double.Parse(Option(args, "--seconds") ?? "3", CultureInfo.InvariantCulture);
        var rounds = int.Parse(Option(args, "--rounds") ?? "3", CultureInfo.InvariantCulture);
        var bytes = bodyPath is null ? ParserBenchmarks.BuildBatch(1000) : File.ReadAllBytes(bodyPath);
        var body = new ReadOnlySequence<byte>(bytes);
        var route = SegmentRoutes.Classify("/v1/batch");
        var parsed = SegmentParser.Parse(body, route, "wk", DateTimeOffset.UnixEpoch);
        if (parsed.Batch is null)
        {
            Console.Error.WriteLine($"the body does not parse as a batch ({parsed.Outcome}). Pass a decoded /v1/batch body");
            return 1;
        }

        var identifies = parsed.Batch.Events.OfType<IdentifyEvent>().ToList();
        if (mode == "map" && identifies.Count == 0)
        {
            Console.Error.WriteLine("the body has no identify to map. Pass a batch that has identify events");
            return 1;
        }

        // Two seconds of calls first, so that the timed rounds run optimized code.
        var warmUp = Stopwatch.StartNew();
        while (warmUp.Elapsed < TimeSpan.FromSeconds(2))
        {
            Once(mode, body, route, identifies);
        }

        Console.WriteLine($"{mode}: {bytes.Length:N0} bytes, {parsed.Batch.Events.Count:N0} identify and page events, {identifies.Count:N0} of them identifies");
        for (var round = 0; round < rounds; round++)
        {
            var allocatedBefore = GC.GetAllocatedBytesForCurrentThread();
            var watch = Stopwatch.StartNew();
            long calls = 0;
            while (watch.Elapsed.TotalSeconds < seconds)
            {
                Once(mode, body, route, identifies);
                calls++;
            }

            var elapsed = watch.Elapsed.TotalSeconds;
            var allocated = (GC.GetAllocatedBytesForCurrentThread() - allocatedBefore) / calls;
            Console.WriteLine(mode == "parse"
                ? $"round {round + 1}: {bytes.Length * calls / elapsed / 1e6:F0} MB/s, {allocated:N0} B allocated per parse"
                : $"round {round + 1}: {elapsed * 1e9 / (calls * identifies.Count):F0} ns and {allocated / identifies.Count:N0} B per identify");
        }

        return 0;
    }

    private static void Once(string mode, ReadOnlySequence<byte> body, SegmentRoute route, List<IdentifyEvent> identifies)
    {
        if (mode == "parse")
        {
            SegmentParser.Parse(body, route, "wk", DateTimeOffset.UnixEpoch);
            return;
        }

        foreach (var identify in identifies)
        {
            EndUserMapping.MapIdentify(identify.Traits);
        }
    }

    private static string? Option(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }
}
