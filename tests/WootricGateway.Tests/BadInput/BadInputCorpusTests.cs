using System.Net;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.BadInput;

/// <summary>
/// Sends every case of the checked-in bad-input corpus through one gateway: each is forwarded
/// unchanged, the client gets the upstream's response, the tap counts the expected outcome, and
/// the gateway stays healthy without logging an error.
/// </summary>
public sealed class BadInputCorpusTests(BadInputGateway fixture) : IClassFixture<BadInputGateway>
{
    public static TheoryData<string> CaseIds() => [.. BadInputCorpus.Cases.Select(testCase => testCase.Id)];

    [Theory]
    [MemberData(nameof(CaseIds))]
    public async Task Case_ForwardedUnchangedAndCounted(string id)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var testCase = BadInputCorpus.Find(id);
        var body = BadInputCorpus.ReadBody(testCase);
        var headers = testCase.Headers
            .Concat(testCase.PaddedHeaders.Select(pair => KeyValuePair.Create(pair.Key, new string('h', pair.Value))))
            .ToList();
        fixture.Upstream.Response = UpstreamResponse.Default with { Status = testCase.UpstreamStatus };
        var exchangesBefore = fixture.Upstream.Exchanges.Count;
        var logMark = fixture.Gateway.Logs.TotalCount;
        var before = await fixture.ReadTapCountersAsync(timeout.Token);

        using var request = RawRequests.Build(new HttpMethod(testCase.Method), new Uri(fixture.Gateway.ProxyAddress, testCase.Path), body, testCase.Chunked, headers);
        using var response = await fixture.Client.SendAsync(request, timeout.Token);
        var responseBody = await response.Content.ReadAsByteArrayAsync(timeout.Token);

        var exchanges = fixture.Upstream.Exchanges.Skip(exchangesBefore).ToList();
        if (testCase.ExpectStatus is { } ownStatus)
        {
            Assert.Equal(ownStatus, (int)response.StatusCode);
            Assert.Empty(exchanges);
        }
        else
        {
            Assert.Equal(testCase.UpstreamStatus, (int)response.StatusCode);
            Assert.Equal(UpstreamResponse.Default.Body, responseBody);
            var exchange = Assert.Single(exchanges);
            Assert.Equal(testCase.Method, exchange.Method);
            Assert.Equal(testCase.Path, exchange.RawTarget);
            Assert.Equal(body, exchange.Body);
            foreach (var (name, value) in headers)
            {
                Assert.Equal(value, exchange.GetHeader(name));
            }

            Assert.Equal(testCase.Chunked ? null : body.Length.ToString(System.Globalization.CultureInfo.InvariantCulture), exchange.GetHeader("Content-Length"));
        }

        var delta = await fixture.WaitForTapAsync(before, testCase.Tap, testCase.TapEvents, TimeSpan.FromSeconds(45), timeout.Token);
        Assert.Equal(testCase.Tap.OrderBy(pair => pair.Key), delta.Requests.OrderBy(pair => pair.Key));
        foreach (var (label, expected) in testCase.TapEvents)
        {
            Assert.True(expected == delta.Events.GetValueOrDefault(label), $"{BadInputGateway.TapEventsMetric} {label}: expected +{expected}, got +{delta.Events.GetValueOrDefault(label)}.");
        }

        Assert.Equal(HttpStatusCode.OK, await fixture.GetHealthAsync(timeout.Token));
        Assert.Empty(BadInputGateway.FailureLines(fixture.LogLinesSince(logMark)));
    }

    [Fact]
    public void Manifest_UsesEveryCorpusFile()
    {
        var files = Directory.GetFiles(BadInputCorpus.Directory).Select(Path.GetFileName).Where(name => name != "manifest.json").ToHashSet();
        var used = BadInputCorpus.Cases.Select(testCase => testCase.Body).OfType<string>().ToHashSet();

        Assert.Empty(files.Except(used));
        Assert.Empty(used.Except(files));
        Assert.Equal(BadInputCorpus.Cases.Count, BadInputCorpus.Cases.Select(testCase => testCase.Id).Distinct().Count());
        Assert.All(BadInputCorpus.Cases, testCase => Assert.False(string.IsNullOrWhiteSpace(testCase.Why), testCase.Id));
    }

    [Fact]
    public void Generators_ProduceTheDescribedBodies()
    {
        Assert.True(BadInputCorpus.Generate("gzip-bomb").Length < 100_000);
        Assert.True(BadInputCorpus.Generate("brotli-bomb").Length < 100_000);
        Assert.Equal(1_500_000, BadInputCorpus.Generate("batch-1500000-bytes").Length);
        var batch = System.Text.Json.JsonDocument.Parse(BadInputCorpus.Generate("batch-10000-events"));
        Assert.Equal(10_000, batch.RootElement.GetProperty("batch").GetArrayLength());
        Assert.True(BadInputCorpus.Generate("batch-10000-events").Length < 1024 * 1024, "The 10,000-event batch must fit the default capture limit.");
    }
}
