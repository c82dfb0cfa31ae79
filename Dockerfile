# syntax=docker/dockerfile:1
# Multi-stage build of the gateway. Build from the repository root:
#   docker build -t wootric-gateway .
# The runtime image holds no configuration or credentials: pass them as environment variables.

FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /source

# Restore first, from the project files only, so the restore layer is reused until they change.
COPY global.json Directory.Build.props Directory.Packages.props ./
COPY src/WootricGateway/WootricGateway.csproj src/WootricGateway/
RUN dotnet restore src/WootricGateway/WootricGateway.csproj --runtime linux-x64 -p:PublishReadyToRun=true

COPY src/ src/
# ReadyToRun: precompiled code, so a new pod serves near its steady rate within seconds
# (docs/benchmarks.md, "Cold start").
RUN dotnet publish src/WootricGateway/WootricGateway.csproj \
    --configuration Release --no-restore --output /app \
    --runtime linux-x64 --self-contained false -p:PublishReadyToRun=true

FROM mcr.microsoft.com/dotnet/aspnet:10.0 AS runtime
WORKDIR /app

# curl is only for the HEALTHCHECK; the aspnet image does not ship it.
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*

COPY --from=build /app ./

# The image's non-root "app" user (UID 1654). The gateway writes nothing to the root filesystem,
# so it runs with a read-only root; mount a writable /tmp for the runtime's diagnostics socket.
USER $APP_UID
# Tiered PGO off and no call-counting delay: with ReadyToRun this reached 80 % of its steady rate
# within 5 s on one core, against 20 s or more with the runtime's defaults. Steady throughput is
# about a tenth lower; set DOTNET_TieredPGO=1 where pods rarely start under load.
# A 16 MiB gen0 budget: the parser's short-lived objects then start a third as many collections, each
# of which pauses the proxy; peak RSS stayed within a few MB of the default (docs/benchmarks.md).
ENV ASPNETCORE_ENVIRONMENT=Production \
    DOTNET_NOLOGO=1 \
    DOTNET_TieredPGO=0 \
    DOTNET_TC_CallCountingDelayMs=0 \
    DOTNET_GCgen0size=0x1000000 \
    Kestrel__Endpoints__Proxy__Url=http://0.0.0.0:8080 \
    Kestrel__Endpoints__Management__Url=http://0.0.0.0:8081

# 8080: proxy listener (Segment traffic). 8081: management (/metrics, /healthz, /readyz, /admin).
EXPOSE 8080 8081

# NOTE: the check assumes the default management port 8081.
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["curl", "--fail", "--silent", "--output", "/dev/null", "http://127.0.0.1:8081/healthz"]

ENTRYPOINT ["dotnet", "WootricGateway.dll"]
