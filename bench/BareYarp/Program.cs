using Yarp.ReverseProxy.Configuration;

// A bare YARP proxy: one catch-all route to BENCH_UPSTREAM, nothing else, default settings.
var upstream = Environment.GetEnvironmentVariable("BENCH_UPSTREAM")
    ?? throw new InvalidOperationException("Set BENCH_UPSTREAM to the upstream base URL, for example http://127.0.0.1:19000.");

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.ClearProviders();
builder.Services.AddReverseProxy().LoadFromMemory(
    [new RouteConfig { RouteId = "all", ClusterId = "upstream", Match = new RouteMatch { Path = "{**catch-all}" } }],
    [new ClusterConfig { ClusterId = "upstream", Destinations = new Dictionary<string, DestinationConfig> { ["upstream"] = new() { Address = upstream } } }]);

var app = builder.Build();
app.MapReverseProxy();
app.Run();
