using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace WootricGateway.Tests.Fakes;

public sealed class RecordingUpstreamTests : IDisposable
{
    private readonly CancellationTokenSource timeout = new(TimeSpan.FromSeconds(30));

    public void Dispose() => timeout.Dispose();

    [Fact]
    public async Task Records_RawTargetHeadersAndBody()
    {
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = upstream.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("/v1/batch?writekey=wk%2Ftest&source=test", UriKind.Relative))
        {
            Content = new ByteArrayContent([0x1f, 0x8b, 0x00, 0xff]),
        };
        request.Headers.TryAddWithoutValidation("X-Custom-Trace", "trace-1");

        using var response = await client.SendAsync(request, timeout.Token);
        var exchange = Assert.Single(upstream.Exchanges);

        Assert.Equal("POST", exchange.Method);
        Assert.Equal("/v1/batch?writekey=wk%2Ftest&source=test", exchange.RawTarget);
        Assert.Equal("/v1/batch", exchange.Path);
        Assert.Equal("trace-1", exchange.GetHeader("x-custom-trace"));
        Assert.Null(exchange.GetHeader("Content-Type"));
        Assert.Equal(new byte[] { 0x1f, 0x8b, 0x00, 0xff }, exchange.Body);
    }

    [Fact]
    public async Task Response_DefaultIsSuccessJson()
    {
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = upstream.BaseAddress };

        using var response = await client.PostAsync(new Uri("/v1/identify", UriKind.Relative), new StringContent("{}"), timeout.Token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("""{"success":true}""", await response.Content.ReadAsStringAsync(timeout.Token));
    }

    [Fact]
    public async Task Response_ChangesBetweenRequests()
    {
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        using var client = new HttpClient(new SocketsHttpHandler { UseProxy = false }) { BaseAddress = upstream.BaseAddress };
        using var before = await client.PostAsync(new Uri("/v1/i", UriKind.Relative), new StringContent("{}"), timeout.Token);

        upstream.Response = UpstreamResponse.FromJson(JsonNode.Parse("""
            {"status": 204, "body": null, "content_type": null, "headers": {"Access-Control-Allow-Origin": "https://www.example.test"}}
            """)!.AsObject());
        using var preflight = await client.SendAsync(new HttpRequestMessage(HttpMethod.Options, new Uri("/v1/i", UriKind.Relative)), timeout.Token);
        upstream.Response = UpstreamResponse.FromJson(JsonNode.Parse("""{"status": 404, "body": "404 page not found\n", "content_type": "text/plain"}""")!.AsObject());
        using var missing = await client.PostAsync(new Uri("/v1/b/b", UriKind.Relative), new StringContent("{}"), timeout.Token);

        Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, preflight.StatusCode);
        Assert.Equal("https://www.example.test", string.Join(",", preflight.Headers.GetValues("Access-Control-Allow-Origin")));
        Assert.Null(preflight.Content.Headers.ContentType);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("text/plain", missing.Content.Headers.ContentType?.MediaType);
        Assert.Equal("404 page not found\n", Encoding.UTF8.GetString(await missing.Content.ReadAsByteArrayAsync(timeout.Token)));
        Assert.Equal(3, upstream.Exchanges.Count);
    }
}
