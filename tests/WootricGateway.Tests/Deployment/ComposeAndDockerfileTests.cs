using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace WootricGateway.Tests.Deployment;

/// <summary>docker-compose.yml, the env file examples and the Dockerfile, checked without a Docker engine.</summary>
public sealed partial class ComposeAndDockerfileTests
{
    [Fact]
    public void Compose_ReferencesExistingFiles()
    {
        var compose = YamlJson.ParseFile(RepositoryFiles.PathOf("docker-compose.yml"));
        var services = compose["services"]!.AsObject();
        Assert.Equal(["gateway", "grafana", "prometheus", "redis"], services.Select(service => service.Key).Order(StringComparer.Ordinal));

        var checkedReferences = 0;
        foreach (var (name, service) in services)
        {
            if (service!["build"] is JsonObject build)
            {
                var context = (string?)build["context"] ?? ".";
                Assert.True(Directory.Exists(RepositoryFiles.PathOf(context)), $"Service {name} builds from {context}, which does not exist.");
                var dockerfile = Path.Combine(context, (string?)build["dockerfile"] ?? "Dockerfile");
                Assert.True(File.Exists(RepositoryFiles.PathOf(dockerfile)), $"Service {name} builds with {dockerfile}, which does not exist.");
                checkedReferences++;
            }

            foreach (var envFile in (service["env_file"] as JsonArray ?? []).Select(entry => (string?)entry ?? ""))
            {
                // The real env file contains credentials, so only its example is committed.
                Assert.True(File.Exists(RepositoryFiles.PathOf(envFile + ".example")), $"Service {name} reads {envFile}, but {envFile}.example is not in the repository.");
                checkedReferences++;
            }

            foreach (var volume in (service["volumes"] as JsonArray ?? []).Select(entry => (string?)entry ?? ""))
            {
                var source = volume.Split(':')[0];
                if (source.StartsWith("./", StringComparison.Ordinal))
                {
                    Assert.True(
                        File.Exists(RepositoryFiles.PathOf(source)) || Directory.Exists(RepositoryFiles.PathOf(source)),
                        $"Service {name} mounts {source}, which does not exist.");
                    checkedReferences++;
                }
                else
                {
                    Assert.True(compose["volumes"]?[source] is not null || compose["volumes"]?.AsObject().ContainsKey(source) == true, $"Service {name} uses volume {source}, which is not declared under volumes.");
                }
            }
        }

        Assert.True(checkedReferences >= 6, $"Only {checkedReferences} file references were checked in docker-compose.yml.");
    }

    [Fact]
    public void Compose_GatewayMatchesPrometheusAndGrafana()
    {
        var compose = YamlJson.ParseFile(RepositoryFiles.PathOf("docker-compose.yml"));
        var gateway = compose["services"]!["gateway"]!;
        var ports = gateway["ports"]!.AsArray().Select(port => (string?)port ?? "").ToList();
        Assert.Contains(ports, port => port.EndsWith(":8080", StringComparison.Ordinal));
        Assert.Contains("127.0.0.1:8081:8081", ports);
        Assert.True((bool?)gateway["read_only"]);

        var redisCommand = string.Join(' ', compose["services"]!["redis"]!["command"]!.AsArray().Select(part => (string?)part));
        Assert.Contains("--appendonly yes", redisCommand, StringComparison.Ordinal);
        Assert.Contains("redis-data:/data", compose["services"]!["redis"]!["volumes"]!.AsArray().Select(volume => (string?)volume));

        var prometheus = YamlJson.ParseFile(RepositoryFiles.PathOf("config/prometheus/prometheus.yml"));
        var scrape = Assert.Single(prometheus["scrape_configs"]!.AsArray());
        Assert.Equal("/metrics", (string?)scrape!["metrics_path"]);
        Assert.Equal("gateway:8081", (string?)scrape["static_configs"]![0]!["targets"]![0]);

        var datasources = YamlJson.ParseFile(RepositoryFiles.PathOf("config/grafana/provisioning/datasources/prometheus.yml"));
        Assert.Equal("http://prometheus:9090", (string?)datasources["datasources"]![0]!["url"]);
        var providers = YamlJson.ParseFile(RepositoryFiles.PathOf("config/grafana/provisioning/dashboards/wootric-gateway.yml"));
        var dashboardPath = (string?)providers["providers"]![0]!["options"]!["path"];
        Assert.Contains($"./config/grafana/dashboards:{dashboardPath}:ro", compose["services"]!["grafana"]!["volumes"]!.AsArray().Select(volume => (string?)volume));
    }

    [Theory]
    [InlineData("config/gateway.env")]
    [InlineData("config/redis.env")]
    public async Task EnvFiles_IgnoredAndExamplesCommitted(string envFile)
    {
        var git = ExternalTool.Require("git", "git");

        var ignored = await ExternalTool.RunAsync(git, ["check-ignore", "--quiet", "--no-index", envFile], RepositoryFiles.Root);
        var example = await ExternalTool.RunAsync(git, ["check-ignore", "--quiet", "--no-index", envFile + ".example"], RepositoryFiles.Root);

        Assert.True(ignored.ExitCode == 0, $".gitignore must ignore {envFile}, which contains credentials: {ignored.Describe()}");
        Assert.True(example.ExitCode == 1, $"{envFile}.example must not be ignored: {example.Describe()}");
    }

    [Fact]
    public void GatewayEnvExample_UsesDocumentedKeys()
    {
        var readme = RepositoryFiles.ReadText("README.md");
        var keys = RepositoryFiles.ReadText("config/gateway.env.example")
            .Split('\n')
            .Select(line => line.Trim())
            .Where(line => line.Length > 0 && !line.StartsWith('#'))
            .Select(line => line.Split('=')[0])
            .ToList();

        Assert.NotEmpty(keys);
        foreach (var key in keys)
        {
            Assert.True(readme.Contains($"`{key}`", StringComparison.Ordinal), $"config/gateway.env.example sets {key}, which README.md's configuration table does not list.");
        }
    }

    [Fact]
    public void Dockerfile_NamesExistingStagesAndProjects()
    {
        var lines = JoinContinuations(RepositoryFiles.ReadText("Dockerfile"));

        var stages = lines
            .Select(line => FromPattern().Match(line))
            .Where(match => match.Success)
            .Select(match => match.Groups["stage"].Value)
            .ToList();
        Assert.Equal(["build", "runtime"], stages);

        var projects = 0;
        foreach (var line in lines)
        {
            var copyFrom = CopyFromPattern().Match(line);
            if (copyFrom.Success)
            {
                Assert.Contains(copyFrom.Groups["stage"].Value, stages);
                continue;
            }

            if (line.StartsWith("COPY ", StringComparison.Ordinal))
            {
                var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                foreach (var source in parts[1..^1])
                {
                    Assert.True(File.Exists(RepositoryFiles.PathOf(source)) || Directory.Exists(RepositoryFiles.PathOf(source)), $"The Dockerfile copies {source}, which does not exist.");
                }
            }

            foreach (Match project in ProjectPattern().Matches(line))
            {
                Assert.True(File.Exists(RepositoryFiles.PathOf(project.Value)), $"The Dockerfile names {project.Value}, which does not exist.");
                projects++;
            }
        }

        Assert.True(projects >= 2, "The Dockerfile should restore and publish src/WootricGateway/WootricGateway.csproj.");

        var csproj = RepositoryFiles.ReadText("src/WootricGateway/WootricGateway.csproj");
        var assemblyName = AssemblyNamePattern().Match(csproj).Groups["name"].Value;
        Assert.Contains($"ENTRYPOINT [\"dotnet\", \"{assemblyName}.dll\"]", lines);
    }

    [Fact]
    public void Dockerfile_RunsNonRootWithHealthcheck()
    {
        var lines = JoinContinuations(RepositoryFiles.ReadText("Dockerfile"));
        var runtime = lines.SkipWhile(line => !line.Contains("AS runtime", StringComparison.Ordinal)).ToList();

        Assert.Contains("USER $APP_UID", runtime);
        Assert.Contains("EXPOSE 8080 8081", runtime);
        var healthcheck = Assert.Single(runtime, line => line.StartsWith("HEALTHCHECK", StringComparison.Ordinal));
        Assert.Contains("http://127.0.0.1:8081/healthz", healthcheck, StringComparison.Ordinal);
        Assert.DoesNotContain(runtime, line => line.Contains("ClientSecret", StringComparison.Ordinal) || line.Contains("password", StringComparison.OrdinalIgnoreCase));
    }

    /// <summary>Returns the Dockerfile's instructions, one a line, with comments dropped and "\" continuations joined.</summary>
    private static List<string> JoinContinuations(string dockerfile)
    {
        var instructions = new List<string>();
        var current = "";
        foreach (var rawLine in dockerfile.Split('\n'))
        {
            var line = rawLine.Trim();
            if (line.StartsWith('#'))
            {
                continue;
            }

            if (line.EndsWith('\\'))
            {
                current += line[..^1].Trim() + " ";
                continue;
            }

            current += line;
            if (current.Length > 0)
            {
                instructions.Add(current);
            }

            current = "";
        }

        return instructions;
    }

    [GeneratedRegex(@"^FROM \S+ AS (?<stage>\S+)$")]
    private static partial Regex FromPattern();

    [GeneratedRegex(@"^COPY --from=(?<stage>\S+) ")]
    private static partial Regex CopyFromPattern();

    [GeneratedRegex(@"\bsrc/[\w./-]+\.csproj\b")]
    private static partial Regex ProjectPattern();

    [GeneratedRegex(@"<AssemblyName>(?<name>[^<]+)</AssemblyName>")]
    private static partial Regex AssemblyNamePattern();
}
