using System.Text;
using System.Text.Json.Nodes;

namespace WootricGateway.Tests.Deployment;

/// <summary>The chart rendered for each mode, with the resulting manifests checked field by field.</summary>
public sealed class ChartRenderTests
{
    private const string FullName = "wg-wootric-gateway";

    [Fact]
    public async Task Standalone_DefaultsRenderGatewayObjects()
    {
        var manifests = await ChartRenderer.RenderAsync(RepositoryFiles.ChartDirectory);

        Assert.Equal(
            ["ConfigMap", "Deployment", "PodDisruptionBudget", "Secret", "Service", "Service", "ServiceAccount"],
            manifests.Select(Kind).Order(StringComparer.Ordinal));

        var proxyService = Find(manifests, "Service", FullName);
        var proxyPort = Assert.Single(proxyService["spec"]!["ports"]!.AsArray());
        Assert.Equal("proxy", (string?)proxyPort!["targetPort"]);
        Assert.Equal(80, (long?)proxyPort["port"]);
        Assert.Equal("gateway", (string?)proxyService["spec"]!["selector"]!["app.kubernetes.io/component"]);

        var metricsService = Find(manifests, "Service", FullName + "-metrics");
        Assert.Equal("ClusterIP", (string?)metricsService["spec"]!["type"]);
        var metricsPort = Assert.Single(metricsService["spec"]!["ports"]!.AsArray());
        Assert.Equal("management", (string?)metricsPort!["targetPort"]);

        var deployment = Find(manifests, "Deployment", FullName);
        Assert.Equal(1, (long?)deployment["spec"]!["replicas"]);
        var pod = deployment["spec"]!["template"]!["spec"]!;
        Assert.True((bool?)pod["securityContext"]!["runAsNonRoot"]);
        Assert.False((bool?)pod["automountServiceAccountToken"]);
        Assert.StartsWith("ghcr.io/example/wootric-gateway:0.1.0", (string?)GatewayContainer(deployment)["image"], StringComparison.Ordinal);
        Assert.Contains(pod["volumes"]!.AsArray(), volume => (string?)volume!["name"] == "wootric-gateway-tmp" && volume["emptyDir"] is not null);
        AssertGatewayContainer(GatewayContainer(deployment), proxyPort: 8080, managementPort: 8081, configMapName: FullName, secretName: FullName);
        Assert.DoesNotContain(Env(GatewayContainer(deployment)), entry => (string?)entry["name"] == "Redis__Configuration");

        var annotations = deployment["spec"]!["template"]!["metadata"]!["annotations"]!;
        Assert.Matches("^[0-9a-f]{64}$", (string?)annotations["checksum/config"]);

        var data = Find(manifests, "ConfigMap", FullName)["data"]!.AsObject();
        Assert.Equal("http://0.0.0.0:8080", (string?)data["Kestrel__Endpoints__Proxy__Url"]);
        Assert.Equal("http://0.0.0.0:8081", (string?)data["Kestrel__Endpoints__Management__Url"]);
        Assert.Equal("https://api.segment.io", (string?)data["Upstream__Address"]);
        Assert.All(data, entry => Assert.IsType<string>((string?)entry.Value));

        var pdb = Find(manifests, "PodDisruptionBudget", FullName);
        Assert.Equal("gateway", (string?)pdb["spec"]!["selector"]!["matchLabels"]!["app.kubernetes.io/component"]);
    }

    [Fact]
    public async Task Standalone_ExternalRedisUsesExistingSecret()
    {
        var manifests = await ChartRenderer.RenderAsync(RepositoryFiles.ChartDirectory, ExamplePath("standalone-external-redis.yaml"));

        Assert.DoesNotContain(manifests, manifest => Kind(manifest) == "Secret");
        Assert.Contains(manifests, manifest => Kind(manifest) == "ServiceMonitor");

        var deployment = Find(manifests, "Deployment", FullName);
        Assert.Null(deployment["spec"]!["replicas"]);
        var container = GatewayContainer(deployment);
        AssertGatewayContainer(container, proxyPort: 8080, managementPort: 8081, configMapName: FullName, secretName: "wootric-gateway-credentials");

        // The password comes from the Secret, and Kubernetes only expands $(NAME) from earlier entries.
        var env = Env(container);
        var passwordIndex = env.FindIndex(entry => (string?)entry["name"] == "WOOTRIC_GATEWAY_REDIS_PASSWORD");
        var configurationIndex = env.FindIndex(entry => (string?)entry["name"] == "Redis__Configuration");
        Assert.True(passwordIndex >= 0, "The Redis password variable is missing.");
        Assert.True(configurationIndex > passwordIndex, "Redis__Configuration must come after the password variable it expands.");
        Assert.Equal("redis-password", (string?)env[passwordIndex]["valueFrom"]!["secretKeyRef"]!["key"]);
        Assert.Equal("wootric-gateway-credentials", (string?)env[passwordIndex]["valueFrom"]!["secretKeyRef"]!["name"]);
        Assert.Equal(
            "redis-master.data.svc:6379,ssl=false,abortConnect=false,password=$(WOOTRIC_GATEWAY_REDIS_PASSWORD)",
            (string?)env[configurationIndex]["value"]);
        Assert.Contains(env, entry => (string?)entry["name"] == "Wootric__Accounts__europe__ClientSecret");

        var data = Find(manifests, "ConfigMap", FullName)["data"]!.AsObject();
        Assert.Equal("NPS-0123abcd", (string?)data["Wootric__AccountToken"]);
        Assert.Equal("PageViews", (string?)data["Wootric__PageVisits"]);
        Assert.Equal("example-write-key", (string?)data["Wootric__WriteKeys__0"]);
        Assert.Equal("NPS-EU-0123abcd", (string?)data["Wootric__Accounts__europe__AccountToken"]);
        Assert.Equal("example-eu-write-key", (string?)data["Wootric__Accounts__europe__WriteKeys__0"]);
        Assert.DoesNotContain(data, entry => entry.Key.Contains("Secret", StringComparison.Ordinal) || entry.Key.StartsWith("Redis__Configuration", StringComparison.Ordinal));

        var hpa = Find(manifests, "HorizontalPodAutoscaler", FullName);
        Assert.Equal("autoscaling/v2", (string?)hpa["apiVersion"]);
        Assert.Equal("Deployment", (string?)hpa["spec"]!["scaleTargetRef"]!["kind"]);
        Assert.Equal(FullName, (string?)hpa["spec"]!["scaleTargetRef"]!["name"]);
        Assert.Equal(3, (long?)hpa["spec"]!["minReplicas"]);

        var monitor = Find(manifests, "ServiceMonitor", FullName);
        var endpoint = Assert.Single(monitor["spec"]!["endpoints"]!.AsArray());
        Assert.Equal("metrics", (string?)endpoint!["port"]);
        Assert.Equal("/metrics", (string?)endpoint["path"]);
        Assert.Equal("metrics", (string?)monitor["spec"]!["selector"]!["matchLabels"]!["app.kubernetes.io/component"]);
        Assert.Equal("prometheus", (string?)monitor["metadata"]!["labels"]!["release"]);
    }

    [Fact]
    public async Task Standalone_BundledRedisRendersStatefulSet()
    {
        var manifests = await ChartRenderer.RenderAsync(RepositoryFiles.ChartDirectory, ExamplePath("bundled-redis.yaml"));

        var redis = Find(manifests, "StatefulSet", FullName + "-redis");
        var claim = Assert.Single(redis["spec"]!["volumeClaimTemplates"]!.AsArray());
        Assert.Equal("2Gi", (string?)claim!["spec"]!["resources"]!["requests"]!["storage"]);
        var redisContainer = Assert.Single(redis["spec"]!["template"]!["spec"]!["containers"]!.AsArray());
        Assert.Contains("--appendonly", redisContainer!["args"]!.AsArray().Select(argument => (string?)argument));
        Assert.DoesNotContain("--requirepass", redisContainer["args"]!.AsArray().Select(argument => (string?)argument));

        var redisService = Find(manifests, "Service", FullName + "-redis");
        Assert.Equal("redis", (string?)redisService["spec"]!["selector"]!["app.kubernetes.io/component"]);
        var proxyService = Find(manifests, "Service", FullName);
        Assert.NotEqual(
            (string?)redis["spec"]!["template"]!["metadata"]!["labels"]!["app.kubernetes.io/component"],
            (string?)proxyService["spec"]!["selector"]!["app.kubernetes.io/component"]);

        var env = Env(GatewayContainer(Find(manifests, "Deployment", FullName)));
        Assert.Equal(FullName + "-redis:6379", (string?)env.Single(entry => (string?)entry["name"] == "Redis__Configuration")["value"]);

        // Helm reads numbers as float64, so a large whole number must not turn into 1.048576e+06.
        var data = Find(manifests, "ConfigMap", FullName)["data"]!.AsObject();
        Assert.Equal("1048576", (string?)data["Tap__CaptureLimitBytes"]);
        Assert.Equal("8", (string?)data["Delivery__Concurrency"]);
        Assert.Equal("00:02:00", (string?)data["Delivery__RetryMaxDelay"]);
    }

    [Fact]
    public async Task Standalone_PerformanceValuesRendered()
    {
        var values = Path.Combine(Path.GetTempPath(), $"wg-values-{Guid.NewGuid():N}.yaml");
        await File.WriteAllTextAsync(values, "gateway:\n  inlineScheduling: false\ntap:\n  queueCapacityBytes: 8388608\n  parserCpuShare: 0.25\n  parserNice: 15\n");
        try
        {
            var manifests = await ChartRenderer.RenderAsync(RepositoryFiles.ChartDirectory, values);

            var data = Find(manifests, "ConfigMap", FullName)["data"]!.AsObject();
            Assert.Equal("false", (string?)data["Gateway__InlineScheduling"]);
            Assert.Equal("8388608", (string?)data["Tap__QueueCapacityBytes"]);
            Assert.Equal("0.25", (string?)data["Tap__ParserCpuShare"]);
            Assert.Equal("15", (string?)data["Tap__ParserNice"]);
        }
        finally
        {
            File.Delete(values);
        }
    }

    [Fact]
    public async Task Standalone_BundledRedisPasswordInSecret()
    {
        using var values = TemporaryValues.Create("""
            redis:
              password: s3cret-value
              bundled:
                enabled: true
            wootric:
              clientId: the-client
              clientSecret: the-secret
            """);

        var manifests = await ChartRenderer.RenderAsync(RepositoryFiles.ChartDirectory, values.Path);

        var secret = Find(manifests, "Secret", FullName)["data"]!;
        Assert.Equal("s3cret-value", Decode(secret["redis-password"]));
        Assert.Equal("the-client", Decode(secret["wootric-client-id"]));
        Assert.Equal("the-secret", Decode(secret["wootric-client-secret"]));
        Assert.DoesNotContain(manifests, manifest => Kind(manifest) is "ConfigMap" && manifest.ToJsonString().Contains("s3cret-value", StringComparison.Ordinal));

        var redisContainer = Find(manifests, "StatefulSet", FullName + "-redis")["spec"]!["template"]!["spec"]!["containers"]![0]!;
        Assert.Contains("$(REDIS_PASSWORD)", redisContainer["args"]!.AsArray().Select(argument => (string?)argument));
        var gatewayEnv = Env(GatewayContainer(Find(manifests, "Deployment", FullName)));
        Assert.Equal(
            FullName + "-redis:6379,password=$(WOOTRIC_GATEWAY_REDIS_PASSWORD)",
            (string?)gatewayEnv.Single(entry => (string?)entry["name"] == "Redis__Configuration")["value"]);
    }

    [Fact]
    public async Task Sidecar_RendersConfigurationOnly()
    {
        var manifests = await ChartRenderer.RenderAsync(RepositoryFiles.ChartDirectory, ExamplePath("sidecar.yaml"));

        var configMap = Assert.Single(manifests);
        Assert.Equal("ConfigMap", Kind(configMap));
        Assert.Equal("http://0.0.0.0:18080", (string?)configMap["data"]!["Kestrel__Endpoints__Proxy__Url"]);
        Assert.Equal("http://0.0.0.0:18081", (string?)configMap["data"]!["Kestrel__Endpoints__Management__Url"]);
    }

    [Fact]
    public async Task Sidecar_AppChartAddsGatewayContainer()
    {
        // An application chart that includes the named templates, as the sidecar example shows.
        var chart = Directory.CreateTempSubdirectory("wootric-gateway-app-chart-");
        try
        {
            var chartDirectory = Path.Combine(chart.FullName, "wootric-gateway");
            CopyDirectory(RepositoryFiles.ChartDirectory, chartDirectory);
            File.Copy(ExamplePath("sidecar-app-deployment.yaml"), Path.Combine(chartDirectory, "templates", "app-deployment.yaml"));

            var gatewayValues = ChartValuesTests.MergeValues(
                YamlJson.ParseFile(Path.Combine(RepositoryFiles.ChartDirectory, "values.yaml")),
                YamlJson.ParseFile(ExamplePath("sidecar.yaml")));
            var appValues = Path.Combine(chart.FullName, "app-values.json");
            await File.WriteAllTextAsync(appValues, new JsonObject { ["wootric-gateway"] = gatewayValues }.ToJsonString());

            var manifests = await ChartRenderer.RenderAsync(chartDirectory, ExamplePath("sidecar.yaml"), appValues);

            Assert.Equal(["ConfigMap", "Deployment"], manifests.Select(Kind).Order(StringComparer.Ordinal));
            var app = Find(manifests, "Deployment", "wg-app");
            var containers = app["spec"]!["template"]!["spec"]!["containers"]!.AsArray();
            Assert.Equal(["app", "wootric-gateway"], containers.Select(container => (string?)container!["name"]));
            Assert.Equal("http://localhost:18080", (string?)containers[0]!["env"]![0]!["value"]);
            var gateway = GatewayContainer(app);
            Assert.Equal("registry.example.com/wootric-gateway:0.1.0", (string?)gateway["image"]);
            AssertGatewayContainer(gateway, proxyPort: 18080, managementPort: 18081, configMapName: FullName, secretName: "app-wootric-credentials");
            Assert.Equal(FullName, (string?)Find(manifests, "ConfigMap", FullName)["metadata"]!["name"]);
            Assert.Contains(app["spec"]!["template"]!["spec"]!["volumes"]!.AsArray(), volume => (string?)volume!["name"] == "wootric-gateway-tmp");
        }
        finally
        {
            chart.Delete(recursive: true);
        }
    }

    [Theory]
    [InlineData("autoscaling:\n  enabled: true\n", "needs a shared Redis")]
    [InlineData("redis:\n  auth: true\n  configuration: redis:6379\n", "redis.password is required")]
    [InlineData("redis:\n  configuration: redis:6379\n  bundled:\n    enabled: true\n", "not both")]
    [InlineData("metrics:\n  service:\n    enabled: false\n  serviceMonitor:\n    enabled: true\n", "needs metrics.service.enabled")]
    [InlineData("gateway:\n  upstreamAddress: \"\"\n", "gateway.upstreamAddress is required")]
    public async Task Render_RejectsInconsistentValues(string valuesYaml, string expectedMessage)
    {
        using var values = TemporaryValues.Create(valuesYaml);

        var result = await ChartRenderer.TryRenderAsync(RepositoryFiles.ChartDirectory, values.Path);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(expectedMessage, result.Error, StringComparison.Ordinal);
    }

    private static void AssertGatewayContainer(JsonNode container, int proxyPort, int managementPort, string configMapName, string secretName)
    {
        var ports = container["ports"]!.AsArray();
        Assert.Equal(proxyPort, (long?)ports.Single(port => (string?)port!["name"] == "proxy")!["containerPort"]);
        Assert.Equal(managementPort, (long?)ports.Single(port => (string?)port!["name"] == "management")!["containerPort"]);

        Assert.Equal("/healthz", (string?)container["livenessProbe"]!["httpGet"]!["path"]);
        Assert.Equal("management", (string?)container["livenessProbe"]!["httpGet"]!["port"]);
        Assert.Equal("/readyz", (string?)container["readinessProbe"]!["httpGet"]!["path"]);
        Assert.Equal("management", (string?)container["readinessProbe"]!["httpGet"]!["port"]);
        Assert.Equal("management", (string?)container["startupProbe"]!["httpGet"]!["port"]);

        Assert.True((bool?)container["securityContext"]!["readOnlyRootFilesystem"]);
        Assert.False((bool?)container["securityContext"]!["allowPrivilegeEscalation"]);
        Assert.NotNull(container["resources"]!["requests"]);
        Assert.NotNull(container["resources"]!["limits"]);
        Assert.Contains(container["volumeMounts"]!.AsArray(), mount => (string?)mount!["mountPath"] == "/tmp");

        Assert.Equal(configMapName, (string?)container["envFrom"]![0]!["configMapRef"]!["name"]);
        var env = Env(container);
        foreach (var name in new[] { "Wootric__ClientId", "Wootric__ClientSecret" })
        {
            var reference = env.Single(entry => (string?)entry["name"] == name)["valueFrom"]!["secretKeyRef"]!;
            Assert.Equal(secretName, (string?)reference["name"]);
        }
    }

    private static List<JsonNode> Env(JsonNode container) =>
        [.. container["env"]!.AsArray().Select(entry => entry!)];

    private static JsonNode GatewayContainer(JsonObject workload) =>
        workload["spec"]!["template"]!["spec"]!["containers"]!.AsArray().Single(container => (string?)container!["name"] == "wootric-gateway")!;

    private static string Kind(JsonObject manifest) => (string?)manifest["kind"] ?? "";

    private static JsonObject Find(IReadOnlyList<JsonObject> manifests, string kind, string name)
    {
        var match = manifests.FirstOrDefault(manifest => Kind(manifest) == kind && (string?)manifest["metadata"]!["name"] == name);
        Assert.True(match is not null, $"No {kind} named {name} was rendered; got {string.Join(", ", manifests.Select(manifest => $"{Kind(manifest)}/{manifest["metadata"]!["name"]}"))}.");
        return match;
    }

    private static string Decode(JsonNode? base64) => Encoding.UTF8.GetString(Convert.FromBase64String((string?)base64 ?? ""));

    private static string ExamplePath(string fileName) => Path.Combine(RepositoryFiles.ChartDirectory, "examples", fileName);

    private static void CopyDirectory(string source, string destination)
    {
        foreach (var directory in Directory.EnumerateDirectories(source, "*", SearchOption.AllDirectories))
        {
            Directory.CreateDirectory(directory.Replace(source, destination, StringComparison.Ordinal));
        }

        Directory.CreateDirectory(destination);
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            File.Copy(file, file.Replace(source, destination, StringComparison.Ordinal));
        }
    }

    /// <summary>A values file in the temporary folder, deleted on dispose.</summary>
    private sealed class TemporaryValues : IDisposable
    {
        private TemporaryValues(string path) => Path = path;

        public string Path { get; }

        public static TemporaryValues Create(string yaml)
        {
            var path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"wootric-gateway-values-{Guid.NewGuid():N}.yaml");
            File.WriteAllText(path, yaml);
            return new TemporaryValues(path);
        }

        public void Dispose() => File.Delete(Path);
    }
}
