using System.Globalization;
using System.IO.Compression;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;

namespace WootricGateway.Tests.Clients;

/// <summary>
/// A request in the form another language's Segment library sends it, read from
/// <c>tests/clients/captures/{name}.json</c> and its body file, with the end users the fake Wootric
/// must hold afterwards. Gzip bodies are compressed here from the stored JSON text.
/// </summary>
internal sealed record CapturedRequest(
    string Name,
    string Client,
    string Method,
    string Path,
    IReadOnlyList<KeyValuePair<string, string>> Headers,
    byte[] Body,
    bool Chunked,
    IReadOnlyList<ExpectedEndUser> EndUsers)
{
    private const int ChunkSize = 256;

    /// <summary>Returns the names of every capture in <c>tests/clients/captures</c>.</summary>
    public static IEnumerable<string> ListNames() =>
        Directory.EnumerateFiles(FindDirectory(), "*.json").Select(file => System.IO.Path.GetFileNameWithoutExtension(file)).Order(StringComparer.Ordinal);

    /// <summary>Reads one capture; a gzip capture must list <c>Content-Encoding: gzip</c> among its headers.</summary>
    public static CapturedRequest Load(string name)
    {
        var directory = FindDirectory();
        using var document = JsonDocument.Parse(File.ReadAllText(System.IO.Path.Combine(directory, name + ".json")));
        var root = document.RootElement;
        var request = root.GetProperty("request");
        var headers = request.GetProperty("headers").EnumerateArray()
            .Select(pair => new KeyValuePair<string, string>(pair[0].GetString()!, pair[1].GetString()!))
            .ToList();
        var body = File.ReadAllBytes(System.IO.Path.Combine(directory, request.GetProperty("body_file").GetString()!));
        var gzip = request.GetProperty("gzip").GetBoolean();
        var declaresGzip = headers.Any(header => header.Key.Equals("Content-Encoding", StringComparison.OrdinalIgnoreCase) && header.Value == "gzip");
        if (gzip != declaresGzip)
        {
            throw new InvalidDataException($"Capture {name}: \"gzip\": {gzip} does not match its Content-Encoding header.");
        }

        if (gzip)
        {
            body = Compress(body);
        }

        var endUsers = root.GetProperty("end_users").EnumerateArray().Select(user => new ExpectedEndUser(
            user.GetProperty("external_id").GetString(),
            user.GetProperty("email").GetString()!,
            user.GetProperty("external_created_at").GetString(),
            user.GetProperty("properties").EnumerateObject().ToDictionary(property => property.Name, property => property.Value.GetString()!))).ToList();

        return new CapturedRequest(
            name,
            root.GetProperty("client").GetString()!,
            request.GetProperty("method").GetString()!,
            request.GetProperty("path").GetString()!,
            headers,
            body,
            request.GetProperty("chunked").GetBoolean(),
            endUsers);
    }

    /// <summary>
    /// Sends the request over a new TCP connection to <paramref name="origin"/>, written by hand so
    /// the headers go out exactly as listed: <c>Host</c> first, then the capture's headers, then
    /// <c>Content-Length</c> or, for a chunked capture, <c>Transfer-Encoding: chunked</c> with the
    /// body in 256-byte chunks. Returns the response status and body.
    /// </summary>
    public async Task<(int Status, byte[] Body)> SendAsync(Uri origin, CancellationToken cancellationToken)
    {
        using var client = new TcpClient();
        await client.ConnectAsync(origin.Host, origin.Port, cancellationToken);
        var stream = client.GetStream();

        var head = new StringBuilder();
        head.Append(CultureInfo.InvariantCulture, $"{Method} {Path} HTTP/1.1\r\nHost: {origin.Authority}\r\n");
        foreach (var (name, value) in Headers)
        {
            head.Append(CultureInfo.InvariantCulture, $"{name}: {value}\r\n");
        }

        head.Append(Chunked ? "Transfer-Encoding: chunked\r\n\r\n" : string.Create(CultureInfo.InvariantCulture, $"Content-Length: {Body.Length}\r\n\r\n"));
        await stream.WriteAsync(Encoding.ASCII.GetBytes(head.ToString()), cancellationToken);
        if (Chunked)
        {
            for (var offset = 0; offset < Body.Length; offset += ChunkSize)
            {
                var length = Math.Min(ChunkSize, Body.Length - offset);
                await stream.WriteAsync(Encoding.ASCII.GetBytes($"{length:x}\r\n"), cancellationToken);
                await stream.WriteAsync(Body.AsMemory(offset, length), cancellationToken);
                await stream.WriteAsync("\r\n"u8.ToArray(), cancellationToken);
            }

            await stream.WriteAsync("0\r\n\r\n"u8.ToArray(), cancellationToken);
        }
        else
        {
            await stream.WriteAsync(Body, cancellationToken);
        }

        return await ReadResponseAsync(stream, cancellationToken);
    }

    private static async Task<(int Status, byte[] Body)> ReadResponseAsync(NetworkStream stream, CancellationToken cancellationToken)
    {
        var received = new List<byte>();
        var buffer = new byte[4096];
        int headEnd;
        while ((headEnd = IndexOf(received, "\r\n\r\n"u8)) < 0)
        {
            var read = await stream.ReadAsync(buffer, cancellationToken);
            if (read == 0)
            {
                throw new IOException("The gateway closed the connection before the response headers ended.");
            }

            received.AddRange(buffer.AsSpan(0, read));
        }

        var lines = Encoding.ASCII.GetString(received.GetRange(0, headEnd).ToArray()).Split("\r\n");
        var status = int.Parse(lines[0].Split(' ')[1], CultureInfo.InvariantCulture);
        var contentLength = lines.Skip(1)
            .Select(line => line.Split(':', 2))
            .Where(parts => parts[0].Trim().Equals("Content-Length", StringComparison.OrdinalIgnoreCase))
            .Select(parts => int.Parse(parts[1].Trim(), CultureInfo.InvariantCulture))
            .FirstOrDefault(-1);
        if (contentLength < 0)
        {
            throw new InvalidDataException($"The response has no Content-Length; the upstream fake always sends one. Head: {string.Join(" | ", lines)}");
        }

        var body = received.Skip(headEnd + 4).ToList();
        while (body.Count < contentLength)
        {
            var read = await stream.ReadAsync(buffer, cancellationToken);
            if (read == 0)
            {
                throw new IOException($"The gateway closed the connection after {body.Count} of {contentLength} body bytes.");
            }

            body.AddRange(buffer.AsSpan(0, read));
        }

        return (status, body.Take(contentLength).ToArray());
    }

    private static int IndexOf(List<byte> data, ReadOnlySpan<byte> pattern)
    {
        for (var i = 0; i + pattern.Length <= data.Count; i++)
        {
            var match = true;
            for (var j = 0; j < pattern.Length && match; j++)
            {
                match = data[i + j] == pattern[j];
            }

            if (match)
            {
                return i;
            }
        }

        return -1;
    }

    private static byte[] Compress(byte[] data)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Optimal, leaveOpen: true))
        {
            gzip.Write(data);
        }

        return output.ToArray();
    }

    private static string FindDirectory()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            var candidate = System.IO.Path.Combine(directory.FullName, "tests", "clients", "captures");
            if (Directory.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException($"tests/clients/captures was not found above {AppContext.BaseDirectory}.");
    }
}
