#!/usr/bin/env python3
"""Cold start: how fast a freshly started gateway reaches its steady throughput.

For each variant, starts a new process and waits until its proxy port accepts connections. It then
drives the process with back-to-back one-second wrk runs (the same bodies and Lua script as run.py).
The table shows requests/s per second next to the steady rate measured at the end of the same run.
Only loopback addresses are used.

Variants (see VARIANTS): the default publish and a ReadyToRun publish, each with runtime tiering
settings; bare YARP is measured the same way for comparison.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run as bench  # noqa: E402  (shares ports, bodies and wrk handling with the main benchmark)

ROOT = bench.ROOT
PORT = 19120
MANAGEMENT_PORT = 19121
UPSTREAM_PORT = 19122


# name: (build, extra environment); build None is bare YARP.
VARIANTS = {
    "yarp": (None, {}),
    "default": ("default", {}),
    "default-nodelay": ("default", {"DOTNET_TC_CallCountingDelayMs": "0"}),
    "r2r": ("r2r", {}),
    "r2r-nodelay": ("r2r", {"DOTNET_TC_CallCountingDelayMs": "0"}),
    "r2r-nopgo": ("r2r", {"DOTNET_TieredPGO": "0"}),
    "r2r-nopgo-nodelay": ("r2r", {"DOTNET_TieredPGO": "0", "DOTNET_TC_CallCountingDelayMs": "0"}),
    "r2r-notiering": ("r2r", {"DOTNET_TieredCompilation": "0"}),
}


def publish(work, ready_to_run):
    output = os.path.join(work, "gateway-r2r" if ready_to_run else "gateway")
    command = ["dotnet", "publish", os.path.join(ROOT, "src", "WootricGateway"), "-c", "Release", "-o", output, "--nologo", "-v", "quiet"]
    if ready_to_run:
        command += ["-r", "linux-x64", "--self-contained", "false", "-p:PublishReadyToRun=true"]
    subprocess.run(command, check=True)
    return output


def measure(command, env, body, seconds, steady_seconds, cpus):
    process = bench.start(command, env=env, cpus=cpus)
    try:
        started = time.monotonic()
        bench.wait_for_port(PORT)
        ready = time.monotonic() - started
        series = []
        for _ in range(seconds):
            series.append(bench.run_wrk(PORT, body, 1, 32, 2, None)["rps"])
        steady = statistics.median(bench.run_wrk(PORT, body, steady_seconds, 32, 2, None)["rps"] for _ in range(2))
        return ready, series, steady
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=30, help="one-second samples after the first request (default 30)")
    parser.add_argument("--steady", type=int, default=5, help="length of each of the two steady-state runs at the end (default 5 s)")
    parser.add_argument("--body", default="batch-2kb", help="body name from run.py (default batch-2kb)")
    parser.add_argument("--variants", default="yarp,default,r2r,r2r-nopgo",
                        help="comma-separated subset of " + ",".join(VARIANTS) + " (default yarp,default,r2r,r2r-nopgo)")
    parser.add_argument("--pin", action="store_true", help="pin the measured process to CPU 1 (wrk and the upstream stay unpinned)")
    parser.add_argument("--output", help="also write the Markdown table to this file")
    args = parser.parse_args()

    for tool in ["wrk", "nginx", "dotnet"]:
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed")

    variants = args.variants.split(",")
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise SystemExit("unknown variants: " + ",".join(unknown))
    work = tempfile.mkdtemp(prefix="wootric-gateway-coldstart-")
    upstream = None
    try:
        for port in [PORT, MANAGEMENT_PORT, UPSTREAM_PORT]:
            bench.check_free(port)
        bench.log("publishing (Release)")
        builds = {}
        for build in sorted({VARIANTS[v][0] for v in variants} - {None}):
            builds[build] = publish(work, build == "r2r")
        if "yarp" in variants:
            subprocess.run(["dotnet", "publish", os.path.join(ROOT, "bench", "BareYarp"), "-c", "Release", "-o", os.path.join(work, "yarp"),
                            "--nologo", "-v", "quiet"], check=True)
        body = bench.make_bodies(work)[args.body]
        _, config = bench.nginx_config(work, "upstream", UPSTREAM_PORT,
                                       f"""server {{ listen 127.0.0.1:{UPSTREAM_PORT}; location / {{
                                              default_type application/json; return 200 '{{"success":true}}'; }} }}""", 1)
        upstream = bench.start(["nginx", "-c", config, "-g", "daemon off;"])
        bench.wait_for_port(UPSTREAM_PORT)
        upstream_url = f"http://127.0.0.1:{UPSTREAM_PORT}"
        cpus = "1" if args.pin else None

        rows = []
        for variant in variants:
            build, extra = VARIANTS[variant]
            if build is None:
                command = ["dotnet", os.path.join(work, "yarp", "BareYarp.dll"), "--urls", f"http://127.0.0.1:{PORT}"]
                env = dict(os.environ, BENCH_UPSTREAM=upstream_url)
            else:
                command = ["dotnet", os.path.join(builds[build], "WootricGateway.dll")]
                env = dict(os.environ,
                           Kestrel__Endpoints__Proxy__Url=f"http://127.0.0.1:{PORT}",
                           Kestrel__Endpoints__Management__Url=f"http://127.0.0.1:{MANAGEMENT_PORT}",
                           Upstream__Address=upstream_url,
                           Logging__LogLevel__Default="Warning")
                env.update(extra)
            bench.log(f"{variant}: starting")
            ready, series, steady = measure(command, env, body, args.seconds, args.steady, cpus)
            reached = next((index + 1 for index, rps in enumerate(series) if rps >= 0.8 * steady), None)
            rows.append((variant, ready, series, steady, reached))
            bench.log(f"  listening after {ready:.2f} s; steady {steady:.0f} req/s; 80 % reached in second {reached}")

        lines = [f"Body {args.body}, wrk -t2 -c32 in one-second runs from the first request; "
                 f"steady = median of two {args.steady} s runs after {args.seconds} s; {'proxy pinned to CPU 1' if args.pin else 'nothing pinned'}.",
                 "",
                 "| variant | listening after s | s1 | s2 | s3 | s4 | s5 | s10 | s20 | steady req/s | first second ≥ 80 % |",
                 "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for variant, ready, series, steady, reached in rows:
            picks = [series[i] / steady if i < len(series) else float("nan") for i in [0, 1, 2, 3, 4, 9, 19]]
            lines.append(f"| {variant} | {ready:.2f} | " + " | ".join(f"{p:.2f}" for p in picks)
                         + f" | {steady:.0f} | {reached if reached else '–'} |")
        table = "\n".join(lines) + "\n\nColumns s1…s20 are requests/s in that second as a share of steady.\n"
        print(table)
        if args.output:
            with open(args.output, "w") as handle:
                handle.write(table)
    finally:
        if upstream is not None:
            upstream.terminate()
            upstream.wait(timeout=15)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
