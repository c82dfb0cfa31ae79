using System.Buffers;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using WootricGateway.Segment;
using WootricGateway.Wootric;
using Xunit.Abstractions;

namespace WootricGateway.Tests.BadInput;

/// <summary>
/// Seeded random mutations of valid Segment bodies, through a running gateway and straight through
/// the decoder, parser and trait mapping. Set <c>WOOTRIC_GATEWAY_FUZZ_SEED</c> to replay a printed seed.
/// </summary>
public sealed class FuzzTests(BadInputGateway fixture, ITestOutputHelper output) : IClassFixture<BadInputGateway>
{
    private const string InputHeader = "X-Fuzz-Input";

    /// <summary>Outcomes the background parser records for a queued capture; one per queued request.</summary>
    private static readonly string[] WorkerOutcomes = Conformance.GatewayUnderTest.ParserOutcomes;

    private static int ChooseSeed()
    {
        var configured = Environment.GetEnvironmentVariable("WOOTRIC_GATEWAY_FUZZ_SEED");
        return int.TryParse(configured, NumberStyles.Integer, CultureInfo.InvariantCulture, out var seed) ? seed : Random.Shared.Next();
    }

    [Fact]
    public async Task Gateway_ForwardsMutatedBodiesUnchanged()
    {
        const int maxInputs = 2_000;

        // Sent whatever the time budget, so the counts checked below never rest on a handful of inputs.
        const int minInputs = 200;
        const int concurrency = 4;
        var timeBudget = TimeSpan.FromSeconds(20);
        var seed = ChooseSeed();
        output.WriteLine($"Fuzz seed {seed} (replay with WOOTRIC_GATEWAY_FUZZ_SEED={seed})");
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(180));
        var mutator = new SegmentBodyMutator(seed);
        var inputs = Enumerable.Range(0, maxInputs).Select(_ => mutator.Next()).ToList();
        var logMark = fixture.Gateway.Logs.TotalCount;
        var exchangesBefore = fixture.Upstream.Exchanges.Count;
        var before = await fixture.ReadTapCountersAsync(timeout.Token);
        var failures = new System.Collections.Concurrent.ConcurrentQueue<string>();
        var stopwatch = Stopwatch.StartNew();
        var next = -1;

        // When the time budget ends, each loop has taken one index it does not send, so the inputs
        // sent are recorded rather than derived from the last index taken.
        var sentIndices = new System.Collections.Concurrent.ConcurrentQueue<int>();

        async Task SendLoopAsync()
        {
            int index;
            while ((index = Interlocked.Increment(ref next)) < inputs.Count && (index < minInputs || stopwatch.Elapsed < timeBudget))
            {
                sentIndices.Enqueue(index);
                var input = inputs[index];
                List<KeyValuePair<string, string>> headers = [new(InputHeader, index.ToString(CultureInfo.InvariantCulture))];
                if (input.ContentEncoding is { } encoding)
                {
                    headers.Add(new("Content-Encoding", encoding));
                }

                using var request = RawRequests.Build(HttpMethod.Post, new Uri(fixture.Gateway.ProxyAddress, input.Path), input.Body, chunked: index % 5 == 0, headers);
                using var response = await fixture.Client.SendAsync(request, timeout.Token);
                var body = await response.Content.ReadAsStringAsync(timeout.Token);
                if (response.StatusCode != HttpStatusCode.OK || body != "{\"success\":true}")
                {
                    failures.Enqueue($"input {index} ({input.Description}): client got {(int)response.StatusCode} {body}");
                }
            }
        }

        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => SendLoopAsync()));
        var sent = sentIndices.Count;
        output.WriteLine($"Sent {sent} inputs in {stopwatch.Elapsed.TotalSeconds:F1} s");

        var exchanges = fixture.Upstream.Exchanges.Skip(exchangesBefore).ToDictionary(exchange => int.Parse(exchange.GetHeader(InputHeader)!, CultureInfo.InvariantCulture));
        foreach (var index in sentIndices.Order())
        {
            var input = inputs[index];
            if (!exchanges.TryGetValue(index, out var exchange))
            {
                failures.Enqueue($"input {index} ({input.Description}): the upstream never received it");
                continue;
            }

            if (!exchange.Body.AsSpan().SequenceEqual(input.Body) || exchange.Path != input.Path || exchange.GetHeader("Content-Encoding") != input.ContentEncoding)
            {
                failures.Enqueue($"input {index} ({input.Description}): the upstream received different bytes, path or Content-Encoding");
            }
        }

        Assert.True(failures.IsEmpty, $"Seed {seed}:\n" + string.Join('\n', failures.Take(20)));
        Assert.Equal(sent, exchanges.Count);

        // Every queued capture ends in exactly one parser outcome; wait for the parser to drain.
        Dictionary<string, double> delta = [];
        var drainDeadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (DateTime.UtcNow < drainDeadline)
        {
            delta = MetricSamples.Delta(before.Requests, (await fixture.ReadTapCountersAsync(timeout.Token)).Requests);
            if (delta.GetValueOrDefault("queued") == WorkerOutcomes.Sum(outcome => delta.GetValueOrDefault(outcome)))
            {
                break;
            }

            await Task.Delay(100, timeout.Token);
        }

        var summary = string.Join(", ", delta.OrderBy(pair => pair.Key).Select(pair => $"{pair.Key}={pair.Value}"));
        output.WriteLine($"Tap outcomes: {summary}");
        Assert.True(delta.GetValueOrDefault("queued") == WorkerOutcomes.Sum(outcome => delta.GetValueOrDefault(outcome)), $"Seed {seed}: queued captures without a parser outcome: {summary}");
        Assert.True(delta.GetValueOrDefault("sink_failed") == 0, $"Seed {seed}: the tap failed on an input: {summary}");
        Assert.True(delta.GetValueOrDefault("handed_off") <= delta.GetValueOrDefault("parsed"), summary);
        Assert.True(delta.GetValueOrDefault("parsed") > 0, $"Seed {seed}: no mutated body parsed, so the mutations are too destructive: {summary}");
        Assert.True(delta.GetValueOrDefault("invalid_json") > 0, $"Seed {seed}: no mutated body was invalid JSON, so the mutations are too mild: {summary}");
        Assert.Equal(HttpStatusCode.OK, await fixture.GetHealthAsync(timeout.Token));
        Assert.Empty(BadInputGateway.FailureLines(fixture.LogLinesSince(logMark)));
    }

    [Fact]
    public void Parser_NeverThrowsOnMutatedBodies()
    {
        const int maxInputs = 50_000;

        // Run whatever the time budget, so a slow machine tests no fewer inputs than this.
        const int minInputs = 1_000;
        var timeBudget = TimeSpan.FromSeconds(20);
        var seed = ChooseSeed();
        output.WriteLine($"Fuzz seed {seed} (replay with WOOTRIC_GATEWAY_FUZZ_SEED={seed})");
        var mutator = new SegmentBodyMutator(seed);
        var splitter = new Random(seed);
        var outcomes = new Dictionary<string, int>(StringComparer.Ordinal);
        var stopwatch = Stopwatch.StartNew();
        var count = 0;

        for (; count < maxInputs && (count < minInputs || stopwatch.Elapsed < timeBudget); count++)
        {
            var input = mutator.Next();
            string outcome;
            try
            {
                outcome = DecodeParseAndMap(input, splitter);
            }
            catch (Exception exception)
            {
                Assert.Fail($"Seed {seed}, input {count} ({input.Description}, path {input.Path}, encoding {input.ContentEncoding ?? "none"}) threw {exception}\nBody (base64): {Convert.ToBase64String(input.Body)}");
                throw;
            }

            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        }

        output.WriteLine($"{count} inputs in {stopwatch.Elapsed.TotalSeconds:F1} s: " + string.Join(", ", outcomes.OrderBy(pair => pair.Key).Select(pair => $"{pair.Key}={pair.Value}")));
        Assert.True(outcomes.GetValueOrDefault(nameof(BodyOutcome.Parsed)) > 0, "No mutated body parsed; the mutations are too destructive to test the parser.");
    }

    /// <summary>Runs an input through what the tap worker and the sync do with it; returns the outcome name.</summary>
    private static string DecodeParseAndMap(MutatedInput input, Random splitter)
    {
        using var captured = new PooledSegmentBuffer(1024 * 1024);
        var offset = 0;
        while (offset < input.Body.Length)
        {
            var length = Math.Min(input.Body.Length - offset, 1 + splitter.Next(512));
            if (!captured.TryAppend(input.Body.AsSpan(offset, length)))
            {
                return "over_capture_limit";
            }

            offset += length;
        }

        var decodeOutcome = BodyDecoder.TryDecode(captured.ToSequence(), input.ContentEncoding, 8 * 1024 * 1024, out var decoded, out var owner);
        using (owner)
        {
            if (decodeOutcome != DecodeOutcome.Ok)
            {
                return decodeOutcome.ToString();
            }

            var result = SegmentParser.Parse(decoded, SegmentRoutes.Classify(input.Path), null, DateTimeOffset.UnixEpoch);
            foreach (var tapped in result.Batch?.Events ?? [])
            {
                if (tapped is IdentifyEvent identify)
                {
                    var change = EndUserMapping.MapIdentify(identify.Traits);
                    _ = change.Properties.Count;
                }
                else if (tapped is PageEvent page)
                {
                    _ = (page.Url?.Length, page.Name?.Length);
                }
            }

            return result.Outcome.ToString();
        }
    }
}
