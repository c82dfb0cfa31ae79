using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using WootricGateway.Hosting;

namespace WootricGateway.Tests.Proxy;

public sealed class InlineSchedulingTests
{
    [Theory]
    [InlineData(null, true)]
    [InlineData("true", true)]
    [InlineData("false", false)]
    public async Task Setting_LeavesKestrelSchedulingAlone(string? setting, bool inline)
    {
        var configuration = new Dictionary<string, string?>();
        if (setting is not null)
        {
            configuration["Gateway:InlineScheduling"] = setting;
        }

        await using var app = GatewayApplication.Build([], new GatewayBuildOptions
        {
            Configuration = configuration,
            MetricsRegistry = Prometheus.Metrics.NewCustomRegistry(),
        });

        // Kestrel's inline scheduling cost the 17 KB gzip benchmark body a fifth of its throughput, so it stays off.
        var transport = app.Services.GetRequiredService<IOptions<SocketTransportOptions>>().Value;
        Assert.False(transport.UnsafePreferInlineScheduling);
        if (inline)
        {
            // Set by the first gateway built in this process unless the environment already chose a value.
            Assert.NotNull(Environment.GetEnvironmentVariable(InlineScheduling.RuntimeVariable));
        }
    }

    [Fact]
    public void NotABoolean_FailsConfiguration()
    {
        var error = Assert.Throws<InvalidOperationException>(() => GatewayApplication.Build([], new GatewayBuildOptions
        {
            Configuration = new Dictionary<string, string?> { ["Gateway:InlineScheduling"] = "sometimes" },
            MetricsRegistry = Prometheus.Metrics.NewCustomRegistry(),
        }));
        Assert.IsType<FormatException>(error.InnerException);
    }
}
