using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using WootricGateway.Tests.Conformance;
using WootricGateway.Tests.Fakes;

namespace WootricGateway.Tests.Proxy;

/// <summary>
/// Checks on the Activity that ASP.NET Core hosting starts per request: none with the gateway's
/// defaults, as for a bare proxy without logging, and one when an operator enables the category.
/// </summary>
public sealed class HostingDiagnosticsTests
{
    [Theory]
    [InlineData(null, false)]
    [InlineData("Warning", true)]
    public async Task ProxiedRequest_ActivityOnlyWhenCategoryEnabled(string? hostingDiagnosticsLevel, bool activityExpected)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var upstream = await RecordingUpstream.StartAsync(timeout.Token);
        var configuration = new Dictionary<string, string?> { ["Upstream:Address"] = upstream.BaseAddress.ToString() };
        if (hostingDiagnosticsLevel is not null)
        {
            configuration["Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics"] = hostingDiagnosticsLevel;
        }

        var probe = new ActivityProbe();
        await using var gateway = await GatewayUnderTest.StartAsync(configuration, timeout.Token, services => services.AddSingleton<IStartupFilter>(probe));
        using var client = TestTraffic.CreateClient();

        using var response = await client.PostAsync(new Uri(gateway.ProxyAddress, "/v1/t"), new StringContent("{\"userId\":\"u1\",\"event\":\"e\"}"), timeout.Token);

        Assert.True(response.IsSuccessStatusCode, $"status {(int)response.StatusCode}");
        Assert.Single(upstream.Exchanges);
        Assert.Equal(1, probe.Requests);
        Assert.Equal(activityExpected, probe.SawActivity);
    }

    /// <summary>A startup filter whose middleware runs first and notes whether hosting started an Activity.</summary>
    private sealed class ActivityProbe : IStartupFilter
    {
        private int requests;
        private int withActivity;

        public int Requests => Volatile.Read(ref requests);

        public bool SawActivity => Volatile.Read(ref withActivity) > 0;

        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use(async (context, nextMiddleware) =>
            {
                if (context.Request.Path.StartsWithSegments("/v1"))
                {
                    Interlocked.Increment(ref requests);
                    if (Activity.Current is not null)
                    {
                        Interlocked.Increment(ref withActivity);
                    }
                }

                await nextMiddleware(context);
            });
            next(app);
        };
    }
}
