using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Json.Schema;

namespace WootricGateway.Tests.Deployment;

/// <summary>The chart's values: keys the templates use, the JSON schema, and YAML lint.</summary>
public sealed partial class ChartValuesTests
{
    private static readonly string[] ExampleFiles =
    [
        "examples/standalone-external-redis.yaml",
        "examples/bundled-redis.yaml",
        "examples/sidecar.yaml",
    ];

    public static TheoryData<string> ExampleValuesFiles => new(ExampleFiles);

    [Fact]
    public void Templates_UseOnlyDefinedValues()
    {
        var values = YamlJson.ParseFile(Path.Combine(RepositoryFiles.ChartDirectory, "values.yaml"));
        var templates = Directory.EnumerateFiles(Path.Combine(RepositoryFiles.ChartDirectory, "templates"))
            .Where(path => path.EndsWith(".yaml", StringComparison.Ordinal) || path.EndsWith(".tpl", StringComparison.Ordinal) || path.EndsWith(".txt", StringComparison.Ordinal))
            .ToList();
        Assert.NotEmpty(templates);

        var checkedPaths = 0;
        foreach (var template in templates)
        {
            foreach (Match match in ValuesPathPattern().Matches(File.ReadAllText(template)))
            {
                var path = match.Groups["path"].Value.TrimStart('.');
                Assert.True(ContainsPath(values, path), $"{Path.GetFileName(template)} uses .Values.{path}, which values.yaml does not define.");
                checkedPaths++;
            }
        }

        // A broken pattern would match nothing and pass; the chart uses far more than 40 paths.
        Assert.True(checkedPaths > 40, $"Only {checkedPaths} .Values paths were found in the templates.");
    }

    [Fact]
    public void ValuesYaml_MatchesSchema()
    {
        var values = YamlJson.ParseFile(Path.Combine(RepositoryFiles.ChartDirectory, "values.yaml"));

        AssertValid(values, "values.yaml");
    }

    [Theory]
    [MemberData(nameof(ExampleValuesFiles))]
    public void ExampleValues_MatchSchema(string examplePath)
    {
        // Helm validates the merged values, so each example is merged over values.yaml first.
        var values = YamlJson.ParseFile(Path.Combine(RepositoryFiles.ChartDirectory, "values.yaml"));
        var example = YamlJson.ParseFile(Path.Combine(RepositoryFiles.ChartDirectory, examplePath));

        AssertValid(MergeValues(values, example), examplePath);
    }

    [Theory]
    [InlineData("""{"mode":"daemonset"}""", "mode")]
    [InlineData("""{"replicas":3}""", "unknown top-level key")]
    [InlineData("""{"redis":{"configuration":"redis:6379,password=hunter2"}}""", "password in the configuration string")]
    [InlineData("""{"ports":{"proxy":70000}}""", "port out of range")]
    [InlineData("""{"wootric":{"pageVisits":"Sometimes"}}""", "page visits mode")]
    [InlineData("""{"wootric":{"accountToken":"abc"}}""", "account token prefix")]
    [InlineData("""{"delivery":{"retryBaseDelay":"2s"}}""", "TimeSpan format")]
    [InlineData("""{"tap":{"maxJsonDepth":"deep"}}""", "integer setting")]
    [InlineData("""{"gateway":{"upstreamAddress":"api.segment.io"}}""", "upstream without scheme")]
    public void Schema_RejectsInvalidValues(string overrideJson, string problem)
    {
        var values = YamlJson.ParseFile(Path.Combine(RepositoryFiles.ChartDirectory, "values.yaml"));
        var merged = MergeValues(values, JsonNode.Parse(overrideJson)!);

        var result = Evaluate(merged);

        Assert.False(result.IsValid, $"values.schema.json accepted values with a bad {problem}: {overrideJson}");
    }

    [Fact]
    public async Task YamlFiles_LintClean()
    {
        var yamllint = ExternalTool.Require("yamllint", "yamllint");
        var renderedDirectory = Directory.CreateTempSubdirectory("wootric-gateway-lint-");
        try
        {
            var files = new List<string>
            {
                "charts/wootric-gateway/Chart.yaml",
                "charts/wootric-gateway/values.yaml",
                "docker-compose.yml",
                "config/prometheus/prometheus.yml",
                "config/grafana/provisioning/datasources/prometheus.yml",
                "config/grafana/provisioning/dashboards/wootric-gateway.yml",
            };
            files.AddRange(ExampleFiles.Select(example => "charts/wootric-gateway/" + example));

            // Templates are not YAML until rendered, so the rendered output of each mode is linted.
            foreach (var example in ExampleFiles.Prepend(""))
            {
                var valuesFiles = example == "" ? Array.Empty<string>() : [Path.Combine(RepositoryFiles.ChartDirectory, example)];
                var rendered = await ChartRenderer.TryRenderAsync(RepositoryFiles.ChartDirectory, valuesFiles);
                Assert.True(rendered.ExitCode == 0, $"Rendering with '{example}' failed: {rendered.Describe()}");
                var name = example == "" ? "defaults" : Path.GetFileNameWithoutExtension(example);
                var path = Path.Combine(renderedDirectory.FullName, $"rendered-{name}.yaml");
                await File.WriteAllTextAsync(path, rendered.Output);
                files.Add(path);
            }

            var arguments = new List<string> { "--strict", "--config-file", RepositoryFiles.PathOf(".yamllint.yaml") };
            arguments.AddRange(files);
            var result = await ExternalTool.RunAsync(yamllint, arguments, RepositoryFiles.Root);

            Assert.True(result.ExitCode == 0, $"yamllint reported problems: {result.Describe()}");
        }
        finally
        {
            renderedDirectory.Delete(recursive: true);
        }
    }

    /// <summary>Merges <paramref name="overrides"/> into a copy of <paramref name="values"/> as Helm merges values files.</summary>
    internal static JsonNode MergeValues(JsonNode values, JsonNode overrides)
    {
        var result = values.DeepClone();
        if (result is not JsonObject target || overrides is not JsonObject source)
        {
            return overrides.DeepClone();
        }

        foreach (var (key, value) in source)
        {
            if (value is null)
            {
                target.Remove(key);
            }
            else if (target[key] is JsonObject existing && value is JsonObject)
            {
                target[key] = MergeValues(existing, value);
            }
            else
            {
                target[key] = value.DeepClone();
            }
        }

        return target;
    }

    private static EvaluationResults Evaluate(JsonNode values)
    {
        var schema = JsonSchema.FromText(File.ReadAllText(Path.Combine(RepositoryFiles.ChartDirectory, "values.schema.json")));
        using var document = JsonDocument.Parse(values.ToJsonString());
        return schema.Evaluate(document.RootElement, new EvaluationOptions { OutputFormat = OutputFormat.List });
    }

    private static void AssertValid(JsonNode values, string source)
    {
        var result = Evaluate(values);
        var errors = (result.Details ?? [])
            .Where(detail => detail.Errors is not null)
            .SelectMany(detail => detail.Errors!.Select(error => $"{detail.InstanceLocation}: {error.Value}"));

        Assert.True(result.IsValid, $"{source} does not match values.schema.json:{Environment.NewLine}{string.Join(Environment.NewLine, errors)}");
    }

    private static bool ContainsPath(JsonNode root, string dottedPath)
    {
        JsonNode? node = root;
        foreach (var key in dottedPath.Split('.'))
        {
            if (node is not JsonObject map || !map.ContainsKey(key))
            {
                return false;
            }

            node = map[key];
        }

        return true;
    }

    [GeneratedRegex(@"\.Values(?<path>(\.[A-Za-z_][A-Za-z0-9_]*)+)")]
    private static partial Regex ValuesPathPattern();
}
