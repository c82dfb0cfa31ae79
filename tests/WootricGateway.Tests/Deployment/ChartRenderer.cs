using System.Text.Json.Nodes;

namespace WootricGateway.Tests.Deployment;

/// <summary>
/// Renders the Helm chart with <c>charts/tools/render</c>, a Go program using text/template and
/// Sprig from Debian's packaged sources, because no Helm binary can be installed on CI. The
/// program is built once per test run.
/// </summary>
internal static class ChartRenderer
{
    public const string DebianPackages = "golang-go golang-github-masterminds-sprig-dev golang-gopkg-yaml.v3-dev";

    /// <summary>GOPATH with Debian's Go library sources (golang-*-dev packages install there).</summary>
    private const string DebianGoPath = "/usr/share/gocode";

    private static readonly SemaphoreSlim BuildLock = new(1, 1);
    private static string? builtProgram;

    /// <summary>Renders <paramref name="chartDirectory"/> with the values files given, failing the test if rendering fails.</summary>
    public static async Task<IReadOnlyList<JsonObject>> RenderAsync(string chartDirectory, params string[] valuesFiles)
    {
        var result = await TryRenderAsync(chartDirectory, valuesFiles);
        Assert.True(result.ExitCode == 0, $"Rendering {chartDirectory} with [{string.Join(", ", valuesFiles)}] failed: {result.Describe()}");
        return ParseManifests(result.Output);
    }

    /// <summary>Renders and returns the raw result, for cases that must fail.</summary>
    public static async Task<ToolResult> TryRenderAsync(string chartDirectory, params string[] valuesFiles)
    {
        var program = await BuildAsync();
        var arguments = new List<string> { "-chart", chartDirectory, "-release", "wg", "-namespace", "analytics" };
        foreach (var file in valuesFiles)
        {
            arguments.Add("-f");
            arguments.Add(file);
        }

        return await ExternalTool.RunAsync(program, arguments, RepositoryFiles.Root);
    }

    /// <summary>Splits rendered output into manifests, failing on a document that is not a Kubernetes object.</summary>
    public static IReadOnlyList<JsonObject> ParseManifests(string output)
    {
        var manifests = new List<JsonObject>();
        foreach (var document in YamlJson.ParseAll(output, "the rendered chart"))
        {
            var manifest = Assert.IsType<JsonObject>(document);
            Assert.False(string.IsNullOrEmpty((string?)manifest["apiVersion"]), $"A rendered manifest has no apiVersion: {manifest.ToJsonString()}");
            Assert.False(string.IsNullOrEmpty((string?)manifest["kind"]), $"A rendered manifest has no kind: {manifest.ToJsonString()}");
            manifests.Add(manifest);
        }

        return manifests;
    }

    private static async Task<string> BuildAsync()
    {
        await BuildLock.WaitAsync();
        try
        {
            if (builtProgram is not null)
            {
                return builtProgram;
            }

            var go = ExternalTool.Require("go", DebianPackages);
            var sprig = Path.Combine(DebianGoPath, "src", "github.com", "Masterminds", "sprig");
            Assert.True(Directory.Exists(sprig), $"The Sprig sources are missing from {sprig}. Install them with: apt-get install -y {DebianPackages} (.ci/run does this).");

            var outputDirectory = Directory.CreateTempSubdirectory("wootric-gateway-render-");
            var program = Path.Combine(outputDirectory.FullName, "render");

            // GOPATH mode resolves imports from Debian's packaged sources, so nothing is downloaded.
            var environment = new Dictionary<string, string>
            {
                ["GO111MODULE"] = "off",
                ["GOPATH"] = DebianGoPath,
                ["GOFLAGS"] = "",
                ["GOCACHE"] = Path.Combine(Path.GetTempPath(), "wootric-gateway-gocache"),
            };
            var result = await ExternalTool.RunAsync(go, ["build", "-o", program, "."], RepositoryFiles.PathOf("charts/tools/render"), environment);
            Assert.True(result.ExitCode == 0, $"Building charts/tools/render failed (needs {DebianPackages}): {result.Describe()}");

            builtProgram = program;
            return program;
        }
        finally
        {
            BuildLock.Release();
        }
    }
}
