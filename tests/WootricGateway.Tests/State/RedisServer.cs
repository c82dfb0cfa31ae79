using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Testcontainers.Redis;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.State;

/// <summary>
/// A real Redis server for tests: the one at <c>REDIS_URL</c> when set, else a <c>redis-server</c>
/// from PATH started on a free loopback port, else a Testcontainers container when a Docker engine
/// is present. Nothing here is a fake.
/// </summary>
internal sealed class RedisServer : IAsyncDisposable
{
    private readonly Process? _process;
    private readonly RedisContainer? _container;
    private readonly string? _directory;
    private bool _appendOnly;
    private bool _cluster;

    private RedisServer(string configuration, Process? process, RedisContainer? container, string? directory, int port)
    {
        Configuration = configuration;
        _process = process;
        _container = container;
        _directory = directory;
        Port = port;
    }

    /// <summary>The StackExchange.Redis configuration string for this server.</summary>
    public string Configuration { get; }

    public int Port { get; }

    /// <summary>True when this object started the server itself, so it can stop and restart it.</summary>
    public bool IsOwned => _process is not null;

    /// <summary>
    /// Returns a Redis server: <c>REDIS_URL</c>, else an owned <c>redis-server</c> from PATH, else a
    /// container. <paramref name="appendOnly"/> makes an owned server write every command to its
    /// append-only file before replying (<c>appendfsync always</c>), so a kill loses nothing.
    /// </summary>
    public static async Task<RedisServer> StartAsync(bool requireOwned = false, bool appendOnly = false)
    {
        return await StartAsync(requireOwned, appendOnly, cluster: false);
    }

    /// <summary>
    /// Starts an owned <c>redis-server</c> as a one-node Redis Cluster that serves every slot, so clients
    /// talk to it in cluster mode and multi-key commands over several slots are rejected as on any cluster.
    /// </summary>
    public static async Task<RedisServer> StartClusterAsync()
    {
        return await StartAsync(requireOwned: true, appendOnly: false, cluster: true);
    }

    private static async Task<RedisServer> StartAsync(bool requireOwned, bool appendOnly, bool cluster)
    {
        if (!requireOwned && Environment.GetEnvironmentVariable("REDIS_URL") is { Length: > 0 } url)
        {
            var uri = new Uri(url);
            return new RedisServer($"{uri.Host}:{uri.Port}", null, null, null, uri.Port);
        }

        if (FindOnPath("redis-server") is { } executable)
        {
            var port = Loopback.PickFreePort();
            var directory = Directory.CreateTempSubdirectory("wootric-gateway-redis-").FullName;
            var server = new RedisServer($"127.0.0.1:{port}", StartProcess(executable, port, directory, appendOnly, cluster), null, directory, port) { _appendOnly = appendOnly, _cluster = cluster };
            await server.WaitUntilReadyAsync(TimeSpan.FromSeconds(15));
            if (cluster)
            {
                await server.AssignAllSlotsAsync(TimeSpan.FromSeconds(15));
            }

            return server;
        }

        if (!requireOwned && File.Exists("/var/run/docker.sock"))
        {
            var container = new RedisBuilder("redis:7.4").Build();
            await container.StartAsync();
            var address = container.GetConnectionString();
            return new RedisServer(address, null, container, null, int.Parse(address.Split(':')[^1], System.Globalization.CultureInfo.InvariantCulture));
        }

        throw new InvalidOperationException(
            "No Redis server is available: set REDIS_URL, install redis-server (apt-get install redis-server) or run a Docker engine.");
    }

    /// <summary>Stops an owned server at once, as a crash would (no save).</summary>
    public async Task StopAsync()
    {
        RequireOwned();
        if (!_process!.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    /// <summary>Starts an owned server again on the same port.</summary>
    public async Task<RedisServer> RestartAsync()
    {
        RequireOwned();
        var executable = FindOnPath("redis-server")!;
        var restarted = new RedisServer(Configuration, StartProcess(executable, Port, _directory!, _appendOnly, _cluster), null, _directory, Port) { _appendOnly = _appendOnly, _cluster = _cluster };
        await restarted.WaitUntilReadyAsync(TimeSpan.FromSeconds(15));
        return restarted;
    }

    public async ValueTask DisposeAsync()
    {
        if (_process is { HasExited: false })
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process?.Dispose();
        if (_container is not null)
        {
            await _container.DisposeAsync();
        }
    }

    private static Process StartProcess(string executable, int port, string directory, bool appendOnly, bool cluster)
    {
        var start = new ProcessStartInfo(executable)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = directory,
        };
        string[] persistence = appendOnly ? ["--appendonly", "yes", "--appendfsync", "always"] : ["--appendonly", "no"];
        string[] clustering = cluster ? ["--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf"] : [];
        foreach (var argument in new[] { "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--dir", directory }.Concat(persistence).Concat(clustering))
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start) ?? throw new InvalidOperationException($"{executable} could not be started.");
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Waits until the server replies to PING on its port.</summary>
    private async Task WaitUntilReadyAsync(TimeSpan timeout)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            try
            {
                if ((await SendAsync("PING")).StartsWith("+PONG", StringComparison.Ordinal))
                {
                    return;
                }
            }
            catch (SocketException)
            {
                // Not listening yet.
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"redis-server on port {Port} did not answer PING within {timeout.TotalSeconds} s.");
    }

    /// <summary>Gives the one node every slot and waits until it reports the cluster as ok.</summary>
    private async Task AssignAllSlotsAsync(TimeSpan timeout)
    {
        var assigned = await SendAsync("CLUSTER ADDSLOTSRANGE 0 16383");
        if (!assigned.StartsWith("+OK", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"redis-server on port {Port} rejected CLUSTER ADDSLOTSRANGE: {assigned.Trim()}");
        }

        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            if ((await SendAsync("CLUSTER INFO")).Contains("cluster_state:ok", StringComparison.Ordinal))
            {
                return;
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"The one-node cluster on port {Port} did not become ok within {timeout.TotalSeconds} s.");
    }

    /// <summary>Sends one inline command and returns the start of the reply.</summary>
    private async Task<string> SendAsync(string command)
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", Port);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes(command + "\r\n"));
        var buffer = new byte[4096];
        var read = await stream.ReadAsync(buffer);
        return Encoding.ASCII.GetString(buffer, 0, read);
    }

    private void RequireOwned()
    {
        if (!IsOwned)
        {
            throw new InvalidOperationException("Only a redis-server started by the test can be stopped or restarted.");
        }
    }

    private static string? FindOnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(directory => Path.Combine(directory, name))
            .FirstOrDefault(File.Exists);
}

/// <summary>One Redis server shared by a test class; each test keeps to its own key prefix.</summary>
public sealed class RedisServerFixture : IAsyncLifetime
{
    internal RedisServer Server { get; private set; } = null!;

    /// <summary>Gateway settings that select this Redis with a key prefix no other test uses.</summary>
    public Dictionary<string, string?> IsolatedConfiguration() => new()
    {
        ["Redis:Configuration"] = Server.Configuration,
        ["Redis:KeyPrefix"] = "t" + Guid.NewGuid().ToString("N")[..12],
        ["Redis:PollInterval"] = "00:00:00.020",
    };

    public async Task InitializeAsync() => Server = await RedisServer.StartAsync();

    public async Task DisposeAsync() => await Server.DisposeAsync();
}
