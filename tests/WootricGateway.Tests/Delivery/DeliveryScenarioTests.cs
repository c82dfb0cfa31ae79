using System.Net;
using System.Text.Json.Nodes;
using WootricGateway.Tests.Conformance;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.Delivery;

/// <summary>Bursts and outages through the running gateway, with the fake Wootric on loopback.</summary>
public sealed class DeliveryScenarioTests
{
    private static async Task<(RecordingUpstream Upstream, FakeWootricServer Wootric, GatewayUnderTest Gateway)> StartAsync(CancellationToken cancellationToken)
    {
        var upstream = await RecordingUpstream.StartAsync(cancellationToken);
        var wootric = await FakeWootricServer.StartAsync(cancellationToken);
        var gateway = await GatewayUnderTest.StartAsync(
            CaseRunner.BuildConfiguration(wootric, upstream, new Dictionary<string, string?>
            {
                ["Wootric:RequestsPerMinute"] = "6000",
                ["Delivery:MaxAttempts"] = "100",
            }),
            cancellationToken);
        return (upstream, wootric, gateway);
    }

    [Fact]
    public async Task ConcurrentIdentifies_CreateOnce()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var (upstream, wootric, gateway) = await StartAsync(timeout.Token);
        await using (upstream)
        await using (wootric)
        await using (gateway)
        {
            using var client = TestTraffic.CreateClient();
            var sends = Enumerable.Range(0, 200).Select(async i =>
            {
                using var response = await client.PostAsync(new Uri(gateway.ProxyAddress, "/v1/identify"), TestTraffic.Identify("burst-user", $"m-{i}", "plan-" + (i % 3)), timeout.Token);
                return response.StatusCode;
            });

            var statuses = await Task.WhenAll(sends);

            Assert.All(statuses, status => Assert.Equal(HttpStatusCode.OK, status));

            // Once every request reached the store and the user exists, a quiet window shows that no second create follows.
            var settled = await gateway.WaitUntilSettledAsync(
                wootric,
                async token => await gateway.ReadTapOutcomeAsync("handed_off", token) >= statuses.Length && wootric.CreateCount >= 1,
                timeout.Token);
            Assert.Equal(1, wootric.CreateCount);
            var user = Assert.Single(wootric.EndUsers);
            Assert.Equal("burst-user", user.ExternalId);
            Assert.True(settled.IsSettled, settled.LastObservation);
        }
    }

    [Fact]
    public async Task IdenticalIdentifies_WriteOnce()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        var (upstream, wootric, gateway) = await StartAsync(timeout.Token);
        await using (upstream)
        await using (wootric)
        await using (gateway)
        {
            var known = wootric.Seed(700900001, new EndUserFields { Email = "known-user@example.test", ExternalId = "known-user" });
            using var client = TestTraffic.CreateClient();

            for (var batch = 0; batch < 10; batch++)
            {
                var sends = Enumerable.Range(0, 100).Select(async i =>
                {
                    using var response = await client.PostAsync(new Uri(gateway.ProxyAddress, "/v1/identify"), TestTraffic.Identify("known-user", $"m-{batch}-{i}", "pro"), timeout.Token);
                    Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                });
                await Task.WhenAll(sends);
            }

            // Once all 1,000 requests reached the store and Wootric has the new plan, a quiet window shows that no second write follows.
            var settled = await gateway.WaitUntilSettledAsync(
                wootric,
                async token => await gateway.ReadTapOutcomeAsync("handed_off", token) >= 1000
                    && wootric.EndUsers.Single(user => user.Id == known.Id).Properties.GetValueOrDefault("plan") == "pro",
                timeout.Token);
            Assert.Equal(0, wootric.CreateCount);
            Assert.True(wootric.WriteCount <= 1, $"expected at most one write for 1,000 identical identifies, saw {wootric.WriteCount}");
            Assert.Equal("pro", Assert.Single(wootric.EndUsers, user => user.Id == known.Id).Properties["plan"]);
            Assert.True(settled.IsSettled, settled.LastObservation);
        }
    }

    [Fact]
    public async Task WootricOutage_EveryEventAppliedAfter()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(180));
        var (upstream, wootric, gateway) = await StartAsync(timeout.Token);
        await using (upstream)
        await using (wootric)
        await using (gateway)
        {
            using var client = TestTraffic.CreateClient();
            wootric.ApplyFaults(JsonNode.Parse("""{"rules":[{"path_prefix":"/v1/","status":503,"count":1000000}]}""")!);

            var outageEnds = DateTimeOffset.UtcNow.AddSeconds(30);
            var sent = 0;
            while (DateTimeOffset.UtcNow < outageEnds)
            {
                using var response = await client.PostAsync(new Uri(gateway.ProxyAddress, "/v1/identify"), TestTraffic.Identify($"outage-{sent}", $"m-{sent}", "trial"), timeout.Token);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                sent++;
                await Task.Delay(500, timeout.Token);
            }

            wootric.ApplyFaults(JsonNode.Parse("""{"rules":[]}""")!);

            var settled = await gateway.WaitUntilSettledAsync(
                wootric,
                () => wootric.CreateCount >= sent,
                timeout.Token);
            Assert.Equal(sent, wootric.CreateCount);
            Assert.Equal(sent, wootric.EndUsers.Count);
            Assert.Equal(sent, wootric.EndUsers.Select(user => user.ExternalId).Distinct().Count());
            Assert.True(settled.IsSettled, settled.LastObservation);
        }
    }
}
