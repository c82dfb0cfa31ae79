using System.Net;
using System.Text;
using System.Text.Json;
using WootricGateway.Tests.Conformance;
using WootricGateway.Tests.Fakes;
using WootricGateway.Tests.State;

namespace WootricGateway.Tests.Management;

/// <summary>The dead-letter API on the management listener, with each store.</summary>
public sealed class AdminApiTests(RedisServerFixture redis) : IClassFixture<RedisServerFixture>
{
    private const string DeadLettersMetric = "wootric_gateway_dead_letters_total";

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task DeadLetters_ListedMaskedAndRedriven(bool useRedis)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        await using var wootric = await FakeWootricServer.StartAsync(timeout.Token);
        var overrides = useRedis ? redis.IsolatedConfiguration() : [];
        overrides["Wootric:ClientSecret"] = "wrong-secret";
        await using var gateway = await GatewayUnderTest.StartAsync(CaseRunner.BuildConfiguration(wootric, upstream, overrides), timeout.Token);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };

        // An identify without userId is keyed by its email, which the API must mask.
        using var identify = await client.PostAsync(
            new Uri(gateway.ProxyAddress, "/v1/identify"),
            new StringContent("""{"type":"identify","messageId":"m-admin-1","traits":{"email":"secret.person@example.test"}}""", Encoding.UTF8, "application/json"),
            timeout.Token);
        Assert.Equal(HttpStatusCode.OK, identify.StatusCode);
        Task<SettleResult> SettleOnDeadLettersAsync(double count) => gateway.WaitUntilSettledAsync(
            wootric,
            async token => await gateway.ReadMetricSumAsync(DeadLettersMetric, token) >= count,
            timeout.Token);

        var settled = await SettleOnDeadLettersAsync(1);
        Assert.True(settled.IsSettled, settled.LastObservation);

        var listed = await client.GetStringAsync(new Uri(gateway.ManagementAddress, "/admin/dead-letters"), timeout.Token);
        Assert.DoesNotContain("secret.person", listed, StringComparison.Ordinal);
        Assert.DoesNotContain("wrong-secret", listed, StringComparison.Ordinal);
        using var letters = JsonDocument.Parse(listed);
        var letter = Assert.Single(letters.RootElement.EnumerateArray());
        Assert.Equal("auth_rejected", letter.GetProperty("reason").GetString());
        Assert.Equal(401, letter.GetProperty("status").GetInt32());
        Assert.Equal("e:s***@example.test", letter.GetProperty("user").GetString());

        var id = letter.GetProperty("id").GetString();
        using var redrive = await client.PostAsync(new Uri(gateway.ManagementAddress, $"/admin/dead-letters/{id}/redrive"), null, timeout.Token);
        Assert.Equal(HttpStatusCode.OK, redrive.StatusCode);
        using var missing = await client.PostAsync(new Uri(gateway.ManagementAddress, $"/admin/dead-letters/{id}/redrive"), null, timeout.Token);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        // The credentials are still wrong, so the redriven user comes back as a new dead letter.
        var again = await SettleOnDeadLettersAsync(2);
        Assert.True(again.IsSettled, again.LastObservation);
        var queue = await client.GetStringAsync(new Uri(gateway.ManagementAddress, "/admin/queue"), timeout.Token);
        using var summary = JsonDocument.Parse(queue);
        Assert.Equal(0, summary.RootElement.GetProperty("backlog").GetInt64());
        Assert.Equal(1, summary.RootElement.GetProperty("dead_letters").GetInt64());
    }
}
