using System.IO.Compression;
using System.Text;
using System.Text.Json.Nodes;

namespace WootricGateway.Tests.Conformance;

public sealed class CaseFileTests
{
    [Fact]
    public void CaseDirectory_IsFound()
    {
        var directory = CaseDirectory.Locate();

        Assert.True(directory.IsFound, directory.DescribeNotFound());
        Assert.NotEmpty(directory.ListCaseIds());
    }

    [Fact]
    public void EveryCase_LoadsWithKnownFields()
    {
        var directory = CaseDirectory.Locate();
        Assert.True(directory.IsFound, directory.DescribeNotFound());

        var errors = new List<string>();
        foreach (var caseId in directory.ListCaseIds())
        {
            try
            {
                var testCase = ConformanceCase.Load(directory.GetCaseFile(caseId));
                Assert.NotEmpty(testCase.Requests);
                if (testCase.WootricFaults is { } faults)
                {
                    Fakes.FaultSettingsChange.Parse(faults);
                }

                foreach (var request in testCase.Requests)
                {
                    CaseRequestBuilder.EncodeBody(request);
                    if (request.WootricFaults is { } requestFaults)
                    {
                        Fakes.FaultSettingsChange.Parse(requestFaults);
                    }

                    if (request.Upstream is { } upstreamSettings)
                    {
                        Fakes.UpstreamResponse.FromJson(upstreamSettings);
                    }
                }
            }
            catch (InvalidDataException exception)
            {
                errors.Add($"{caseId}: {exception.Message}");
            }
        }

        Assert.True(errors.Count == 0, string.Join(Environment.NewLine, errors));
    }

    [Fact]
    public void Load_UnknownField_IsRejected()
    {
        var exception = Assert.Throws<InvalidDataException>(() => LoadCase("""{"id":"typo-case","requests":[{"path":"/v1/identify","bodyy":{}}],"expect":{}}""", "typo-case"));

        Assert.Contains("requests[0].bodyy", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ConfigKeys_UseColonsAndKeepNull()
    {
        var testCase = LoadCase("""{"id":"config-case","config":{"Wootric__PageVisits":"Off","Redis__Configuration":null},"requests":[{"path":"/v1/i"}],"expect":{}}""", "config-case");

        Assert.Contains(new KeyValuePair<string, string?>("Wootric:PageVisits", "Off"), testCase.Configuration);
        Assert.Contains(new KeyValuePair<string, string?>("Redis:Configuration", null), testCase.Configuration);
    }

    [Fact]
    public void EncodeBody_KeepsNonAsciiAndCompactJson()
    {
        var request = ParseRequest("""{"path":"/v1/identify","body":{"traits":{"name":"Zoë <b>"},"n":1}}""");

        var body = Encoding.UTF8.GetString(CaseRequestBuilder.EncodeBody(request)!);

        Assert.Equal("""{"traits":{"name":"Zoë <b>"},"n":1}""", body);
    }

    [Fact]
    public void EncodeBody_RawStringSentAsIs()
    {
        var request = ParseRequest("""{"path":"/v1/identify","body":"{not json"}""");

        var body = Encoding.UTF8.GetString(CaseRequestBuilder.EncodeBody(request)!);

        Assert.Equal("{not json", body);
    }

    [Fact]
    public void EncodeBody_PadsBatchToExactSize()
    {
        var request = ParseRequest("""{"path":"/v1/batch","pad_batch_to_bytes":100000,"body":{"batch":[{"type":"identify","userId":"u1"}]}}""");

        var body = CaseRequestBuilder.EncodeBody(request)!;
        var batch = JsonNode.Parse(body)!["batch"]!.AsArray();

        Assert.Equal(100_000, body.Length);
        Assert.Equal("identify", batch[0]!["type"]!.GetValue<string>());
        Assert.All(batch.Skip(1), item => Assert.Equal("track", item!["type"]!.GetValue<string>()));
    }

    [Fact]
    public void EncodeBody_GzipRoundTrips()
    {
        var request = ParseRequest("""{"path":"/v1/b","gzip":true,"body":{"batch":[]}}""");

        using var gzip = new GZipStream(new MemoryStream(CaseRequestBuilder.EncodeBody(request)!), CompressionMode.Decompress);
        using var reader = new StreamReader(gzip, Encoding.UTF8);

        Assert.Equal("""{"batch":[]}""", reader.ReadToEnd());
    }

    [Fact]
    public void Build_NullContentType_SendsNoContentType()
    {
        var request = ParseRequest("""{"path":"/v1/b","content_type":null,"gzip":true,"body":{"batch":[]}}""");

        var (message, sent) = CaseRequestBuilder.Build(request, 1, new Uri("http://127.0.0.1:1/"));
        using (message)
        {
            Assert.Null(message.Content!.Headers.ContentType);
            Assert.DoesNotContain(sent.Headers, header => header.Key == "Content-Type");
            Assert.Contains(new KeyValuePair<string, string>("Content-Encoding", "gzip"), sent.Headers);
        }
    }

    [Fact]
    public void Build_DefaultContentTypeAndHeaders()
    {
        var request = ParseRequest("""{"path":"/v1/batch?a=1","headers":{"User-Agent":"analytics-java/3.5.5","Authorization":"Basic d2s6"},"body":{}}""");

        var (message, sent) = CaseRequestBuilder.Build(request, 1, new Uri("http://127.0.0.1:1/"));
        using (message)
        {
            Assert.Equal("http://127.0.0.1:1/v1/batch?a=1", message.RequestUri!.ToString());
            Assert.Contains(new KeyValuePair<string, string>("Content-Type", "application/json"), sent.Headers);
            Assert.Contains(new KeyValuePair<string, string>("User-Agent", "analytics-java/3.5.5"), sent.Headers);
            Assert.Contains(new KeyValuePair<string, string>("Authorization", "Basic d2s6"), sent.Headers);
        }
    }

    private static CaseRequest ParseRequest(string json) =>
        CaseRequest.Parse(new CaseFieldReader("inline.json"), JsonNode.Parse(json)!.AsObject(), 0);

    private static ConformanceCase LoadCase(string json, string id)
    {
        var directory = Directory.CreateTempSubdirectory("wootric-gateway-case-");
        try
        {
            var path = Path.Combine(directory.FullName, id + ".json");
            File.WriteAllText(path, json);
            return ConformanceCase.Load(path);
        }
        finally
        {
            directory.Delete(recursive: true);
        }
    }
}
