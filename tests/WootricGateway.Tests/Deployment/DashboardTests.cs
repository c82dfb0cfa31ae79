using System.Text;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using WootricGateway.Tests.Conformance;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.Deployment;

/// <summary>The Grafana dashboard: its JSON and every metric it queries, against a live gateway's <c>/metrics</c>.</summary>
public sealed partial class DashboardTests
{
    private const string DashboardPath = "config/grafana/dashboards/wootric-gateway.json";

    [Fact]
    public void Dashboard_ParsesWithQueriedPanels()
    {
        var dashboard = JsonNode.Parse(RepositoryFiles.ReadText(DashboardPath))!;

        Assert.Equal("wootric-gateway", (string?)dashboard["uid"]);
        var panels = dashboard["panels"]!.AsArray().Where(panel => (string?)panel!["type"] != "row").ToList();
        Assert.NotEmpty(panels);
        foreach (var panel in panels)
        {
            var targets = panel!["targets"]?.AsArray();
            Assert.True(targets is { Count: > 0 }, $"Panel '{panel["title"]}' has no query.");
            Assert.All(targets, target => Assert.Contains("wootric_gateway_", (string?)target!["expr"] ?? "", StringComparison.Ordinal));
        }

        // Every topic the dashboard is for has a panel that queries it.
        var queried = QueriedMetrics(dashboard);
        foreach (var metric in new[]
        {
            "wootric_gateway_proxy_requests_total",
            "wootric_gateway_proxy_request_duration_seconds_bucket",
            "wootric_gateway_tap_requests_total",
            "wootric_gateway_wootric_requests_total",
            "wootric_gateway_delivery_backlog",
            "wootric_gateway_dead_letters_total",
            "wootric_gateway_id_cache_lookups_total",
        })
        {
            Assert.Contains(metric, queried);
        }
    }

    [Fact]
    public async Task Dashboard_QueriesOnlyExportedMetrics()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        // Nothing listens on the upstream address, which still exercises the proxy's error path.
        var configuration = new Dictionary<string, string?>
        {
            ["Upstream:Address"] = Loopback.ClosedAddress().ToString(),
        };
        await using var gateway = await GatewayUnderTest.StartAsync(configuration, timeout.Token);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        using var identify = await client.PostAsync(
            new Uri(gateway.ProxyAddress, "/v1/identify"),
            new StringContent("""{"type":"identify","userId":"dashboard-user","traits":{"email":"dashboard@example.test"}}""", Encoding.UTF8, "application/json"),
            timeout.Token);
        var exposition = await client.GetStringAsync(new Uri(gateway.ManagementAddress, "/metrics"), timeout.Token);

        var exported = ExportedSeriesNames(exposition);
        Assert.Contains("wootric_gateway_proxy_requests_total", exported);

        var dashboard = JsonNode.Parse(RepositoryFiles.ReadText(DashboardPath))!;
        foreach (var metric in QueriedMetrics(dashboard))
        {
            Assert.True(exported.Contains(metric), $"The dashboard queries {metric}, which the gateway's /metrics does not export.");
        }
    }

    /// <summary>Returns the series names in a Prometheus text exposition, expanding histograms and summaries to their suffixes.</summary>
    private static HashSet<string> ExportedSeriesNames(string exposition)
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (Match match in TypeLinePattern().Matches(exposition))
        {
            var name = match.Groups["name"].Value;
            switch (match.Groups["type"].Value)
            {
                case "histogram":
                    names.UnionWith([name + "_bucket", name + "_sum", name + "_count"]);
                    break;
                case "summary":
                    names.UnionWith([name, name + "_sum", name + "_count"]);
                    break;
                default:
                    names.Add(name);
                    break;
            }
        }

        return names;
    }

    private static HashSet<string> QueriedMetrics(JsonNode dashboard)
    {
        var metrics = new HashSet<string>(StringComparer.Ordinal);
        var expressions = dashboard["panels"]!.AsArray()
            .SelectMany(panel => panel!["targets"]?.AsArray() ?? [])
            .Select(target => (string?)target!["expr"] ?? "")
            .Concat(dashboard["templating"]!["list"]!.AsArray().Select(variable => (string?)variable!["definition"] ?? ""));
        foreach (var expression in expressions)
        {
            metrics.UnionWith(MetricNamePattern().Matches(expression).Select(match => match.Value));
        }

        return metrics;
    }

    [GeneratedRegex(@"^# TYPE (?<name>\S+) (?<type>\S+)$", RegexOptions.Multiline)]
    private static partial Regex TypeLinePattern();

    [GeneratedRegex(@"\bwootric_gateway_[a-z0-9_]+")]
    private static partial Regex MetricNamePattern();
}
