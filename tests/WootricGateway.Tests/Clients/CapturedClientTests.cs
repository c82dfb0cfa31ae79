using System.Globalization;
using WootricGateway.Tests.Conformance;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.Clients;

/// <summary>
/// Requests in the form the Python, Go, Java, Ruby, .NET and mobile Segment libraries send them
/// (<c>tests/clients/captures</c>), each played through a gateway to a recording upstream and the
/// fake Wootric.
/// </summary>
public sealed class CapturedClientTests
{
    public static TheoryData<string> CaptureNames => [.. CapturedRequest.ListNames()];

    [Fact]
    public void Captures_CoverEveryLanguage()
    {
        var clients = CapturedRequest.ListNames().Select(name => CapturedRequest.Load(name).Client).ToList();
        foreach (var expected in new[] { "analytics-python", "analytics-go", "analytics-java", "analytics-ruby", "Analytics.NET (classic)", "Analytics-CSharp", "analytics-kotlin (Android)" })
        {
            Assert.Contains(expected, clients);
        }
    }

    [Theory]
    [MemberData(nameof(CaptureNames))]
    public async Task Capture_ForwardedUnchangedAndTapped(string name)
    {
        var capture = CapturedRequest.Load(name);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var cancellationToken = timeout.Token;
        await using var upstream = await RecordingUpstream.StartAsync(cancellationToken);
        await using var wootric = await FakeWootricServer.StartAsync(cancellationToken);
        await using var gateway = await GatewayUnderTest.StartAsync(CaseRunner.BuildConfiguration(wootric, upstream), cancellationToken);

        var (status, body) = await capture.SendAsync(gateway.ProxyAddress, cancellationToken);

        // The client got the upstream's response, and the upstream got the capture byte for byte,
        // with the client's framing: Content-Length, or chunked with no length.
        Assert.Equal(200, status);
        Assert.Equal(UpstreamResponse.Default.Body, body);
        var framing = capture.Chunked
            ? new KeyValuePair<string, string>("Transfer-Encoding", "chunked")
            : new KeyValuePair<string, string>("Content-Length", capture.Body.Length.ToString(CultureInfo.InvariantCulture));
        var sent = new ClientRequest(capture.Method, capture.Path, [.. capture.Headers, framing], capture.Body, status);
        var (_, received) = Assert.Single(ForwardingAssert.AssertForwardedUnchanged([sent], upstream.Exchanges));
        if (capture.Chunked)
        {
            Assert.Null(received.GetHeader("Content-Length"));
        }

        ExpectedEndUser[] expected = [.. capture.EndUsers];
        var settled = await ExpectedEndUser.SettleAsync(gateway, wootric, cancellationToken, expected);
        ExpectedEndUser.AssertEndUsers(wootric, expected);
        Assert.True(settled.IsSettled, settled.LastObservation);
    }
}
