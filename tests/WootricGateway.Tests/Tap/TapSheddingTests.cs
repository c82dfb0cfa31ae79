using System.Net;
using System.Net.Http.Headers;
using System.Text;
using WootricGateway.Tests.BadInput;
using WootricGateway.Tests.Conformance;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.Tap;

/// <summary>
/// Tests for a full tap queue. A request without room is forwarded unchanged and counted as <c>queue_full</c>
/// without a copy of its body, and a request that fits is still tapped.
/// </summary>
public sealed class TapSheddingTests
{
    private const string CapturedBytesMetric = "wootric_gateway_tap_captured_bytes_total";

    [Fact]
    public async Task FullQueue_SkipsTheCopy()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);

        // The smallest queue the gateway accepts, so a 100 KB body never has room in it.
        await using var gateway = await GatewayUnderTest.StartAsync(
            new Dictionary<string, string?>
            {
                ["Upstream:Address"] = upstream.BaseAddress.ToString(),
                ["Tap:QueueCapacityBytes"] = "65536",
                ["Logging:Console:LogLevel:Default"] = "None",
            },
            timeout.Token);
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false, AutomaticDecompression = DecompressionMethods.None });

        var large = Batch(100_000);
        var small = Batch(2_000);
        var before = await ReadAsync(client, gateway, timeout.Token);
        foreach (var body in new[] { large, small })
        {
            using var response = await client.PostAsync(new Uri(gateway.ProxyAddress, "/v1/batch"), Content(body), timeout.Token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(body, upstream.Exchanges[^1].Body);
        }

        // The tap hands a capture over after the response, so wait until the small body's copy is counted.
        var after = await ReadAsync(client, gateway, timeout.Token);
        while (after.CapturedBytes - before.CapturedBytes < small.Length
            || after.Requests.GetValueOrDefault("queued") - before.Requests.GetValueOrDefault("queued") < 1)
        {
            await Task.Delay(25, timeout.Token);
            after = await ReadAsync(client, gateway, timeout.Token);
        }

        // Only the small body was copied. The large one was counted as queue_full before any copy.
        Assert.Equal(small.Length, after.CapturedBytes - before.CapturedBytes);
        Assert.Equal(1, after.Requests.GetValueOrDefault("queue_full") - before.Requests.GetValueOrDefault("queue_full"));
        Assert.Equal(1, after.Requests.GetValueOrDefault("queued") - before.Requests.GetValueOrDefault("queued"));
    }

    private static ByteArrayContent Content(byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return content;
    }

    /// <summary>A valid batch of one track event padded to about <paramref name="size"/> bytes.</summary>
    private static byte[] Batch(int size)
    {
        var prefix = """{"batch":[{"type":"track","event":"Padded","userId":"u-1","messageId":"m-shed-""" + size + "\",\"properties\":{\"pad\":\"";
        const string Suffix = "\"}}]}";
        return Encoding.UTF8.GetBytes(prefix + new string('x', Math.Max(0, size - prefix.Length - Suffix.Length)) + Suffix);
    }

    private static async Task<(Dictionary<string, double> Requests, double CapturedBytes)> ReadAsync(HttpClient client, GatewayUnderTest gateway, CancellationToken cancellationToken)
    {
        var text = await client.GetStringAsync(new Uri(gateway.ManagementAddress, "/metrics"), cancellationToken);
        return (MetricSamples.Read(text, BadInputGateway.TapRequestsMetric), GatewayUnderTest.SumSamples(text, CapturedBytesMetric) ?? 0);
    }
}
