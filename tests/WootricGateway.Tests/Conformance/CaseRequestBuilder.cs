using System.IO.Compression;
using System.Net;
using System.Text;
using System.Text.Json.Nodes;

namespace WootricGateway.Tests.Conformance;

/// <summary>A request as the runner sent it: method, target, headers and body bytes.</summary>
internal sealed record SentRequest(
    CaseRequest Source,
    int Repetition,
    string Method,
    string Target,
    IReadOnlyList<KeyValuePair<string, string>> Headers,
    byte[] Body);

/// <summary>Builds the HTTP request for a case request, exactly as the case describes it.</summary>
internal static class CaseRequestBuilder
{
    /// <summary>Padding characters in each track event that <c>pad_batch_to_bytes</c> appends.</summary>
    public const int PaddingEventBytes = 30 * 1024;

    /// <summary>
    /// Creates the request message and the record of what it sends. The body is the case's JSON
    /// object serialized compactly in UTF-8 with non-ASCII kept as is, or its raw string. It is
    /// padded first, then gzipped, then sent in one piece or in two chunks without Content-Length.
    /// </summary>
    public static (HttpRequestMessage Message, SentRequest Sent) Build(CaseRequest request, int repetition, Uri proxyAddress)
    {
        var body = EncodeBody(request);
        var target = request.Path;
        var message = new HttpRequestMessage(new HttpMethod(request.Method), new Uri(proxyAddress, target))
        {
            Version = HttpVersion.Version11,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };

        if (body is not null)
        {
            message.Content = request.Chunked ? new TwoChunkContent(body) : new ByteArrayContent(body);

            // ByteArrayContent sets no Content-Type, but the removal makes "no Content-Type" certain.
            message.Content.Headers.Remove("Content-Type");
            if (request.ContentType is not null)
            {
                message.Content.Headers.TryAddWithoutValidation("Content-Type", request.ContentType);
            }

            if (request.Gzip && !request.Headers.Any(header => IsHeader(header, "Content-Encoding")))
            {
                message.Content.Headers.TryAddWithoutValidation("Content-Encoding", "gzip");
            }

            if (request.Chunked)
            {
                message.Headers.TransferEncodingChunked = true;
            }
        }

        foreach (var (name, value) in request.Headers)
        {
            AddHeader(message, name, value);
        }

        var sent = new SentRequest(request, repetition, request.Method, target, ListHeaders(message), body ?? []);
        return (message, sent);
    }

    /// <summary>Returns the body bytes to send, or null when the request has no body.</summary>
    public static byte[]? EncodeBody(CaseRequest request)
    {
        if (request.Body is null)
        {
            return null;
        }

        var body = request.PadBatchToBytes is { } targetBytes
            ? PadBatch(request, targetBytes)
            : Encoding.UTF8.GetBytes(TextValues.ToText(request.Body)!);
        return request.Gzip ? Gzip(body) : body;
    }

    /// <summary>
    /// Appends track events carrying <see cref="PaddingEventBytes"/> of padding to <c>body.batch</c>
    /// until the serialized body reaches <paramref name="targetBytes"/>. The last event's padding is
    /// shortened so the body is exactly that size, unless even an empty event would overshoot.
    /// </summary>
    private static byte[] PadBatch(CaseRequest request, int targetBytes)
    {
        if (request.Body!.DeepClone() is not JsonObject payload || payload["batch"] is not JsonArray batch)
        {
            throw new InvalidDataException($"{request.Label}: pad_batch_to_bytes needs a JSON object body with a batch array.");
        }

        for (var eventNumber = 1; Size(payload) < targetBytes; eventNumber++)
        {
            var padding = new JsonObject { ["padding"] = new string('x', PaddingEventBytes) };
            var paddingEvent = new JsonObject
            {
                ["type"] = "track",
                ["event"] = "Padding Event",
                ["messageId"] = $"padding-{eventNumber:D4}",
                ["anonymousId"] = "anon-padding",
                ["timestamp"] = "2024-05-01T12:00:00.000Z",
                ["properties"] = padding,
            };
            batch.Add(paddingEvent);

            var excess = Size(payload) - targetBytes;
            if (excess > 0)
            {
                if (excess > PaddingEventBytes)
                {
                    batch.Remove(paddingEvent);
                }
                else
                {
                    padding["padding"] = new string('x', PaddingEventBytes - excess);
                }

                break;
            }
        }

        return Encoding.UTF8.GetBytes(payload.ToJsonString(TextValues.CompactJson));

        static int Size(JsonObject json) => Encoding.UTF8.GetByteCount(json.ToJsonString(TextValues.CompactJson));
    }

    private static byte[] Gzip(byte[] body)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(body);
        }

        return output.ToArray();
    }

    /// <summary>Adds a case header as given, to the content headers when it is one (Content-Type and the like).</summary>
    private static void AddHeader(HttpRequestMessage message, string name, string value)
    {
        if (string.Equals(name, "Host", StringComparison.OrdinalIgnoreCase))
        {
            message.Headers.Host = value;
            return;
        }

        if (message.Headers.TryAddWithoutValidation(name, value))
        {
            return;
        }

        message.Content ??= new ByteArrayContent([]);
        message.Content.Headers.Remove(name);
        if (!message.Content.Headers.TryAddWithoutValidation(name, value))
        {
            throw new InvalidDataException($"The header '{name}: {value}' cannot be sent with HttpClient.");
        }
    }

    private static List<KeyValuePair<string, string>> ListHeaders(HttpRequestMessage message)
    {
        var headers = message.Headers.NonValidated
            .Select(header => new KeyValuePair<string, string>(header.Key, header.Value.ToString()))
            .ToList();
        if (message.Content is not null)
        {
            headers.AddRange(message.Content.Headers.NonValidated.Select(header => new KeyValuePair<string, string>(header.Key, header.Value.ToString())));
        }

        return headers;
    }

    private static bool IsHeader(KeyValuePair<string, string> header, string name) =>
        string.Equals(header.Key, name, StringComparison.OrdinalIgnoreCase);

    /// <summary>Sends a body as two chunks (flushed separately) and reports no length, so HttpClient uses chunked encoding.</summary>
    private sealed class TwoChunkContent(byte[] body) : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            var half = body.Length / 2;
            await stream.WriteAsync(body.AsMemory(0, half), cancellationToken);
            await stream.FlushAsync(cancellationToken);
            await stream.WriteAsync(body.AsMemory(half), cancellationToken);
        }

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }
}
