#!/usr/bin/env python3
"""Loopback benchmark: WootricGateway against a bare YARP proxy, nginx and the upstream itself.

Builds the gateway and the bare YARP baseline, starts every target on 127.0.0.1, drives each with
wrk and bench/post.lua, and prints a Markdown table of medians with ratios against bare YARP and
nginx. Only loopback addresses are used. Every run is bounded by --duration.
"""

import argparse
import gzip
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# Ports on loopback; the script fails early if one is taken.
PORTS = {
    "upstream": 19100,
    "nginx": 19101,
    "yarp": 19102,
    "gateway-redis": 19103,
    "gateway-memory": 19104,
    "redis": 19105,
    "management-redis": 19113,
    "management-memory": 19114,
    "gateway-before": 19106,
    "management-before": 19115,
    "gateway-variant": 19107,
    "management-variant": 19116,
}

TARGETS = ["direct", "yarp", "nginx", "gateway-redis", "gateway-memory"]
LABELS = {
    "direct": "(a) direct to the upstream stub",
    "yarp": "(b) bare YARP, one catch-all route",
    "nginx": "(c) nginx reverse proxy",
    "gateway-redis": "(d) WootricGateway, tap on, Redis",
    "gateway-memory": "(e) WootricGateway, tap on, in memory",
    "gateway-before": "(f) WootricGateway at --baseline-ref, tap on, in memory",
    "gateway-variant": "(g) WootricGateway, tap on, in memory, with --variant-env",
}


def image_gc_environment():
    """Returns the DOTNET_GC* variables the Dockerfile sets, so the gateways run with the image's collector settings.

    The image's tiering settings (DOTNET_TieredPGO, DOTNET_TC_CallCountingDelayMs) are left out: they trade
    steady throughput for a fast start, and bench/coldstart.py measures them.
    """
    environment = {}
    with open(os.path.join(ROOT, "Dockerfile"), encoding="utf-8") as dockerfile:
        for line in dockerfile:
            for word in line.replace("\\", " ").split():
                name, _, value = word.partition("=")
                if name.startswith("DOTNET_GC") and value:
                    environment[name] = value
    return environment


def log(message):
    print(message, file=sys.stderr, flush=True)


def make_bodies(directory):
    """Writes the three request bodies and returns {name: (file, path, content type, gzip)}."""
    context = {
        "library": {"name": "analytics-node-next", "version": "3.1.0"},
        "ip": "203.0.113.10",
        "userAgent": "Mozilla/5.0 (X11; Linux x86_64) ExampleBrowser/1.0",
        "page": {"path": "/pricing", "referrer": "", "search": "", "title": "Pricing", "url": "https://www.example.test/pricing"},
    }
    small_batch = {
        "batch": [
            {"type": "identify", "messageId": "bench-m-1-@@@@@@@@", "timestamp": "2024-05-01T12:00:00.000Z", "userId": "bench-user-1",
             "traits": {"email": "bench.user@example.test", "plan": "team", "seats": 12, "createdAt": "2023-03-14T09:26:53.989Z",
                        "company": {"name": "Example Labs", "size": 40}}, "context": context},
            {"type": "page", "messageId": "bench-m-2-@@@@@@@@", "timestamp": "2024-05-01T12:00:01.000Z", "userId": "bench-user-1",
             "name": "Pricing", "properties": {"url": "https://www.example.test/pricing", "title": "Pricing"}, "context": context},
            {"type": "track", "messageId": "bench-m-3-@@@@@@@@", "timestamp": "2024-05-01T12:00:02.000Z", "userId": "bench-user-1",
             "event": "Report Exported", "properties": {"format": "csv", "rows": 1200, "filter": "last-30-days"}, "context": context},
            {"type": "track", "messageId": "bench-m-4-@@@@@@@@", "timestamp": "2024-05-01T12:00:03.000Z", "userId": "bench-user-1",
             "event": "Seat Added", "properties": {"seats": 13, "role": "editor"}, "context": context},
        ],
        "sentAt": "2024-05-01T12:00:04.000Z",
    }
    small = json.dumps(small_batch, separators=(",", ":")).encode()
    while len(small) < 2048:
        small_batch["batch"][2]["properties"]["note"] = "x" * (2048 - len(small) + len(small_batch["batch"][2]["properties"].get("note", "")))
        small = json.dumps(small_batch, separators=(",", ":")).encode()

    page = {"type": "page", "messageId": "ajs-next-1714638600000-@@@@@@@@", "timestamp": "2024-05-02T08:30:00.000Z",
            "userId": "bench-user-2", "anonymousId": "anon-bench-2", "name": "Pricing",
            "properties": {"name": "Pricing", "path": "/pricing", "title": "Pricing", "url": "https://www.example.test/pricing"},
            "context": {"library": {"name": "analytics.js", "version": "npm:next-1.84.1"}, "locale": "en-US",
                        "page": {"path": "/pricing", "url": "https://www.example.test/pricing"}},
            "writeKey": "wk-bench-0001", "sentAt": "2024-05-02T08:30:01.000Z"}
    page_body = json.dumps(page, separators=(",", ":")).encode()
    page_body = page_body[:-1] + b',"_pad":"' + b"p" * max(0, 600 - len(page_body) - 10) + b'"}'

    # About 400 KB of JSON (close to Segment's 500 KB batch limit), sent gzip-compressed.
    rng = random.Random(7)
    events = []
    size = 0
    index = 0
    while size < 400 * 1024:
        event = {"type": "track" if index % 5 else "identify", "messageId": f"bench-big-{index}", "userId": f"bench-user-{index % 50}",
                 "timestamp": "2024-05-01T12:00:00.000Z", "event": "Item Viewed",
                 "properties": {"sku": f"SKU-{rng.randrange(10**6):06d}", "price": rng.randrange(100, 10000) / 100,
                                "tags": [rng.choice(["red", "blue", "green", "large", "sale"]) for _ in range(3)]},
                 "traits": {"email": f"bench{index % 50}@example.test", "plan": rng.choice(["free", "team", "pro"])},
                 "context": context}
        text = json.dumps(event, separators=(",", ":"))
        events.append(text)
        size += len(text) + 1
        index += 1
    big = ('{"batch":[' + ",".join(events) + '],"sentAt":"2024-05-01T12:00:04.000Z"}').encode()
    big_gzip = gzip.compress(big, compresslevel=6)

    bodies = {}
    for name, data, path, content_type, is_gzip in [
        ("batch-2kb", small, "/v1/batch", "application/json", False),
        ("page-600b", page_body, "/v1/p", "text/plain", False),
        ("batch-400kb-gzip", big_gzip, "/v1/batch", "application/json", True),
    ]:
        file = os.path.join(directory, name + ".body")
        with open(file, "wb") as handle:
            handle.write(data)
        bodies[name] = {"file": file, "path": path, "content_type": content_type, "gzip": is_gzip, "bytes": len(data),
                        "decoded_bytes": len(big) if is_gzip else len(data)}
    return bodies


def check_free(port):
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            raise SystemExit(f"port {port} on 127.0.0.1 is in use; stop what listens there and run again")


def wait_for_port(port, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing listened on 127.0.0.1:{port} within {timeout} s")


def nginx_config(directory, name, port, body, workers):
    prefix = os.path.join(directory, name)
    os.makedirs(os.path.join(prefix, "logs"), exist_ok=True)
    config = os.path.join(prefix, "nginx.conf")
    user = "user root;" if os.geteuid() == 0 else ""
    with open(config, "w") as handle:
        handle.write(f"""{user}
worker_processes {workers};
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  client_max_body_size 10m;
  client_body_buffer_size 1m;
  keepalive_requests 1000000;
  {body}
}}
""")
    return prefix, config


def start(command, env=None, cpus=None):
    if cpus:
        command = ["taskset", "-c", cpus] + command
    return subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def process_tree(pid):
    pids = [pid]
    try:
        children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    except FileNotFoundError:
        children = []
    for child in children:
        pids.extend(process_tree(int(child)))
    return pids


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (FileNotFoundError, ProcessLookupError):
            pass
    return total / CLOCK_TICKS


def cpu_by_thread(pids):
    """CPU seconds of every thread of the processes, summed by thread name with digits folded ("Worker #")."""
    totals = {}
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except FileNotFoundError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/comm") as handle:
                    name = re.sub(r"\d+", "#", handle.read().strip())
                with open(f"/proc/{pid}/task/{tid}/stat") as handle:
                    fields = handle.read().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue
            totals[name] = totals.get(name, 0) + (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return totals


def peak_rss_mb(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as handle:
                for line in handle:
                    if line.startswith("VmHWM:"):
                        total += int(line.split()[1])
        except FileNotFoundError:
            pass
    return total / 1024


def run_wrk(port, body, duration, connections, threads, cpus, delay_ms=0):
    env = dict(os.environ, BENCH_BODY=body["file"], BENCH_PATH=body["path"], BENCH_CONTENT_TYPE=body["content_type"],
               BENCH_GZIP="1" if body["gzip"] else "0", BENCH_DELAY_MS=str(delay_ms))
    command = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s", "--latency",
               "-s", os.path.join(ROOT, "bench", "post.lua"), f"http://127.0.0.1:{port}"]
    if cpus:
        command = ["taskset", "-c", cpus] + command
    output = subprocess.run(command, env=env, capture_output=True, text=True, timeout=duration + 60).stdout
    for line in output.splitlines():
        if line.startswith("RESULT "):
            values = dict(part.split("=") for part in line.split()[1:])
            seconds = int(values["duration_us"]) / 1e6
            return {"rps": int(values["requests"]) / seconds, "requests": int(values["requests"]),
                    "p50_ms": int(values["p50_us"]) / 1000, "p99_ms": int(values["p99_us"]) / 1000, "errors": int(values["errors"])}
    raise SystemExit("wrk printed no RESULT line:\n" + output)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured wrk run (default 10)")
    parser.add_argument("--warmup", type=int, default=20, help="seconds of warm-up per target and body before measuring (default 20)")
    parser.add_argument("--rounds", type=int, default=5, help="measured runs per target and body; the table shows medians (default 5)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    parser.add_argument("--pin", action="store_true", help="pin proxies to CPU 1 and wrk plus the upstream stub to CPU 0")
    parser.add_argument("--targets", default=",".join(TARGETS), help="comma-separated subset of " + ",".join(TARGETS))
    parser.add_argument("--bodies", default="batch-2kb,page-600b,batch-400kb-gzip", help="comma-separated subset of the bodies")
    parser.add_argument("--output", help="also write the Markdown table to this file")
    parser.add_argument("--baseline-ref", help="also measure the gateway built from this git commit (in memory), for before/after figures")
    parser.add_argument("--paced-delay-ms", type=int, default=10,
                        help="after the saturated runs, measure latency again with each connection waiting this many ms between "
                             "requests, a load below saturation that is about the same for every target; 0 skips it (default 10)")
    parser.add_argument("--parser-cpu", type=int, default=0, metavar="N",
                        help="instead of the wrk runs, send each gateway N requests of every body one at a time, so the tap parses "
                             "all of them, and print the CPU time its parser thread spent per capture (after --parser-warmup seconds "
                             "of the same requests)")
    parser.add_argument("--parser-warmup", type=float, default=30, metavar="SECONDS",
                        help="with --parser-cpu, seconds of requests sent one at a time before each measurement, so that tiered "
                             "compilation has finished with the parser's code (default 30)")
    parser.add_argument("--variant-env", action="append", default=[], metavar="NAME=VALUE",
                        help="also measure target (g), the gateway in memory with this setting added (for example "
                             "Tap__ParserCpuShare=0.05); repeat for several settings")
    args = parser.parse_args()
    variant_env = {}
    for setting in args.variant_env:
        name, separator, value = setting.partition("=")
        if not separator or not name:
            raise SystemExit(f"--variant-env takes NAME=VALUE, not {setting!r}")
        variant_env[name] = value

    for tool in ["wrk", "nginx", "redis-server", "dotnet"]:
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed; on Debian: apt-get install -y wrk nginx redis-server (and the .NET 10 SDK)")

    targets = args.targets.split(",")
    if args.baseline_ref:
        targets.append("gateway-before")
        LABELS["gateway-before"] = f"(f) WootricGateway at {args.baseline_ref}, tap on, in memory"
    if variant_env:
        targets.append("gateway-variant")
        LABELS["gateway-variant"] = "(g) WootricGateway, tap on, in memory, " + ", ".join(f"{k}={v}" for k, v in variant_env.items())
    gc_environment = image_gc_environment()
    log("gateways run with the image's collector settings: " + (", ".join(f"{k}={v}" for k, v in gc_environment.items()) or "none"))
    work = tempfile.mkdtemp(prefix="wootric-gateway-bench-")
    baseline_tree = None
    processes = {}
    try:
        for port in PORTS.values():
            check_free(port)
        log("building the gateway and the bare YARP proxy (Release)")
        subprocess.run(["dotnet", "publish", os.path.join(ROOT, "src", "WootricGateway"), "-c", "Release", "-o", os.path.join(work, "gateway"),
                        "--nologo", "-v", "quiet"], check=True)
        subprocess.run(["dotnet", "publish", os.path.join(ROOT, "bench", "BareYarp"), "-c", "Release", "-o", os.path.join(work, "yarp"),
                        "--nologo", "-v", "quiet"], check=True)
        if args.baseline_ref:
            baseline_tree = os.path.join(work, "baseline-source")
            subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", baseline_tree, args.baseline_ref], check=True,
                           capture_output=True)
            subprocess.run(["dotnet", "publish", os.path.join(baseline_tree, "src", "WootricGateway"), "-c", "Release",
                            "-o", os.path.join(work, "gateway-before"), "--nologo", "-v", "quiet"], check=True)
        bodies = make_bodies(work)

        proxy_cpus = "1" if args.pin else None
        load_cpus = "0" if args.pin else None
        _, upstream_config = nginx_config(work, "upstream", PORTS["upstream"],
                                          f"""server {{ listen 127.0.0.1:{PORTS['upstream']}; location / {{
                                                 default_type application/json; return 200 '{{"success":true}}'; }} }}""", 1)
        processes["direct"] = start(["nginx", "-c", upstream_config, "-g", "daemon off;"], cpus=load_cpus)
        _, proxy_config = nginx_config(work, "nginx", PORTS["nginx"],
                                       f"""upstream segment {{ server 127.0.0.1:{PORTS['upstream']}; keepalive 64; }}
                                           server {{ listen 127.0.0.1:{PORTS['nginx']}; location / {{
                                             proxy_pass http://segment; proxy_http_version 1.1; proxy_set_header Connection "";
                                             proxy_request_buffering off; }} }}""", "auto")
        if "nginx" in targets:
            processes["nginx"] = start(["nginx", "-c", proxy_config, "-g", "daemon off;"], cpus=proxy_cpus)
        if "gateway-redis" in targets:
            processes["redis"] = start(["redis-server", "--port", str(PORTS["redis"]), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                        "--dir", work], cpus=load_cpus)
        upstream_url = f"http://127.0.0.1:{PORTS['upstream']}"
        if "yarp" in targets:
            processes["yarp"] = start(["dotnet", os.path.join(work, "yarp", "BareYarp.dll"), "--urls", f"http://127.0.0.1:{PORTS['yarp']}"],
                                      env=dict(os.environ, BENCH_UPSTREAM=upstream_url), cpus=proxy_cpus)
        for name, redis in [("gateway-redis", True), ("gateway-memory", False), ("gateway-before", False), ("gateway-variant", False)]:
            if name not in targets:
                continue
            build = "gateway-before" if name == "gateway-before" else "gateway"
            env = dict(os.environ,
                       Kestrel__Endpoints__Proxy__Url=f"http://127.0.0.1:{PORTS[name]}",
                       Kestrel__Endpoints__Management__Url=f"http://127.0.0.1:{PORTS['management-' + name.split('-')[1]]}",
                       Upstream__Address=upstream_url,
                       Logging__LogLevel__Default="Warning",
                       **gc_environment)
            if redis:
                env["Redis__Configuration"] = f"127.0.0.1:{PORTS['redis']}"
            if name == "gateway-variant":
                env.update(variant_env)
            processes[name] = start(["dotnet", os.path.join(work, build, "WootricGateway.dll")], env=env, cpus=proxy_cpus)

        for name in ["direct"] + [t for t in targets if t != "direct"]:
            wait_for_port(PORTS["upstream" if name == "direct" else name])

        if args.parser_cpu > 0:
            gateways = [t for t in targets if t.startswith("gateway-")]
            table = parser_cpu_table(gateways, {name: bodies[name] for name in args.bodies.split(",")}, processes, args.parser_cpu,
                                     args.parser_warmup)
            print(table)
            if args.output:
                with open(args.output, "w") as handle:
                    handle.write(table)
            return

        results = {}
        paced = {}
        served = {}

        def measure(target, body, duration, delay_ms=0):
            """Runs wrk against one target and counts what it served, warm-up included, for the per-request GC figures."""
            result = run_wrk(PORTS["upstream" if target == "direct" else target], body, duration, args.connections, args.threads,
                             load_cpus, delay_ms)
            served[target] = served.get(target, 0) + result["requests"]
            return result

        for body_name in args.bodies.split(","):
            body = bodies[body_name]
            log(f"body {body_name} ({body['bytes']} bytes on the wire): warm-up {args.warmup} s per target")
            for target in targets:
                measure(target, body, args.warmup)
            for round_index in range(args.rounds):
                for target in rotated(targets, round_index):
                    pids = process_tree(processes[target].pid) if target != "direct" else []
                    before = cpu_seconds(pids)
                    threads_before = cpu_by_thread(pids)
                    result = measure(target, body, args.duration)
                    result["cpu_us"] = (cpu_seconds(pids) - before) * 1e6 / result["requests"] if pids and result["requests"] else None
                    if pids and result["requests"]:
                        threads_after = cpu_by_thread(pids)
                        result["threads_us"] = {name: (seconds - threads_before.get(name, 0)) * 1e6 / result["requests"]
                                                for name, seconds in threads_after.items()}
                    results.setdefault((body_name, target), []).append(result)
                    log(f"  round {round_index + 1} {target}: {result['rps']:.0f} req/s, p50 {result['p50_ms']:.2f} ms, errors {result['errors']}")
            if args.paced_delay_ms > 0:
                for round_index in range(args.rounds):
                    for target in rotated(targets, round_index):
                        result = measure(target, body, args.duration, args.paced_delay_ms)
                        paced.setdefault((body_name, target), []).append(result)
                        log(f"  paced round {round_index + 1} {target}: {result['rps']:.0f} req/s, p50 {result['p50_ms']:.2f} ms, "
                            f"p99 {result['p99_ms']:.2f} ms")

        rss = {target: peak_rss_mb(process_tree(processes[target].pid)) for target in targets if target != "direct"}
        table = render(results, bodies, args, targets, rss)
        if paced:
            table += render_paced(paced, args, targets)
        table += thread_summary(results, args, targets)
        table += tap_outcomes(targets)
        table += gc_summary(targets, served)
        print(table)
        if args.output:
            with open(args.output, "w") as handle:
                handle.write(table)
    finally:
        for process in processes.values():
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
        for process in processes.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        if baseline_tree is not None:
            subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", baseline_tree], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


def parser_thread_ns(pid):
    """CPU time in nanoseconds of the gateway's "Tap parser" thread, from /proc/PID/task/TID/schedstat."""
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as handle:
                if handle.read().strip() != "Tap parser":
                    continue
            with open(f"/proc/{pid}/task/{tid}/schedstat") as handle:
                return int(handle.read().split()[0])
        except OSError:
            continue
    raise SystemExit(f"no 'Tap parser' thread in process {pid}")


def post_sequentially(port, body, count, first_id, seconds=None):
    """POSTs the body count times over one keep-alive connection, each with its own messageIds, as post.lua does.
    With seconds, keeps going until that much time has passed instead. Returns the number of requests sent."""
    import http.client
    with open(body["file"], "rb") as handle:
        template = handle.read()
    headers = {"Authorization": "Basic d2stYmVuY2gtMDAwMTo=", "Content-Type": body["content_type"]}
    if body["gzip"]:
        headers["Content-Encoding"] = "gzip"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    deadline = time.monotonic() + seconds if seconds is not None else None
    index = first_id
    try:
        while (index < first_id + count) if deadline is None else (time.monotonic() < deadline):
            payload = template.replace(b"@@@@@@@@", f"{index:08x}".encode()) if not body["gzip"] else template
            connection.request("POST", body["path"], body=payload, headers=headers)
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise SystemExit(f"the gateway on port {port} returned HTTP {response.status} for {body['path']}; expected 200")
            index += 1
    finally:
        connection.close()
    return index - first_id


def parsed_count(target):
    text, error = gateway_metrics(target)
    if text is None:
        raise SystemExit(f"reading the metrics of {target} failed: {error}")
    return metric_sums(text, 'wootric_gateway_tap_requests_total{outcome="parsed"}').get(None, 0)


def wait_until_parsed(target, timeout=60):
    """Waits until the gateway's parsed count stays the same for a second, so its queue is empty."""
    deadline = time.time() + timeout
    last = parsed_count(target)
    while time.time() < deadline:
        time.sleep(1)
        current = parsed_count(target)
        if current == last:
            return
        last = current


def parser_cpu_table(gateways, bodies, processes, count, warmup_seconds):
    """Measures the parser thread's CPU per parsed capture, with requests sent one at a time so none is dropped."""
    lines = [f"Tap parser thread CPU per parsed capture: {count} requests sent one at a time, after {warmup_seconds:g} s of "
             "the same requests to warm up.", "",
             "| body | target | parsed | parser CPU µs/capture |", "| --- | --- | ---: | ---: |"]
    next_id = 0
    for body_name, body in bodies.items():
        for target in gateways:
            pid = processes[target].pid
            next_id += post_sequentially(PORTS[target], body, count, next_id, seconds=warmup_seconds)
            wait_until_parsed(target)
            parsed_before, cpu_before = parsed_count(target), parser_thread_ns(pid)
            post_sequentially(PORTS[target], body, count, next_id)
            next_id += count
            wait_until_parsed(target)
            parsed = parsed_count(target) - parsed_before
            cpu_us = (parser_thread_ns(pid) - cpu_before) / 1000
            per_capture = f"{cpu_us / parsed:.0f}" if parsed else "–"
            lines.append(f"| {body_name} | {LABELS[target]} | {parsed:.0f} | {per_capture} |")
            log(f"  {body_name} {target}: {parsed:.0f} parsed, {per_capture} µs of parser CPU per capture")
    return "\n".join(lines) + "\n"


def thread_summary(results, args, targets):
    """Lists, for each body and target, the CPU per request of each thread name (medians over the rounds)."""
    lines = ["", "CPU per request by thread, µs (medians over the rounds; threads under 0.5 µs left out):", ""]
    for body_name in args.bodies.split(","):
        for target in targets:
            runs = [run["threads_us"] for run in results.get((body_name, target), []) if "threads_us" in run]
            if not runs:
                continue
            names = {name for run in runs for name in run}
            medians = {name: statistics.median(run.get(name, 0) for run in runs) for name in names}
            listed = sorted(((value, name) for name, value in medians.items() if value >= 0.5), reverse=True)
            lines.append(f"- {body_name}, {LABELS[target]}: " + ", ".join(f"{name} {value:.1f}" for value, name in listed))
    return "\n".join(lines) + "\n"


def gateway_metrics(target):
    """Returns a gateway's /metrics text, or the error that kept it from being read."""
    import urllib.request
    port = PORTS["management-" + target.split("-")[1]]
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
            return response.read().decode(), None
    except OSError as error:
        return None, error


def metric_sums(text, prefix, label=None):
    """Sums the samples whose line starts with prefix, by the value of label when one is given."""
    sums = {}
    for line in text.splitlines():
        if line.startswith(prefix):
            key = line.split(f'{label}="', 1)[1].split('"', 1)[0] if label else None
            sums[key] = sums.get(key, 0) + float(line.rsplit(" ", 1)[1])
    return sums


def tap_outcomes(targets):
    """Reads each gateway's tap counters, so the table shows whether the tap kept up or dropped captures."""
    lines = ["", "Tap outcomes over the whole run (wootric_gateway_tap_requests_total by outcome):", ""]
    for target in targets:
        if not target.startswith("gateway-"):
            continue
        text, error = gateway_metrics(target)
        if text is None:
            lines.append(f"- {LABELS[target]}: metrics unavailable ({error})")
            continue
        counts = metric_sums(text, "wootric_gateway_tap_requests_total{", "outcome")
        summary = ", ".join(f"{name} {value:.0f}" for name, value in sorted(counts.items()))
        lines.append(f"- {LABELS[target]}: {summary}")
    return "\n".join(lines) + "\n"


def gc_summary(targets, served):
    """Summarizes each gateway's garbage collection over the whole run from the runtime's counters on /metrics:
    bytes allocated per request served (warm-up included), collections of each generation, and their pauses."""
    lines = ["", "Garbage collection over the whole run (system_runtime_dotnet_gc_* on each gateway's /metrics):", ""]
    for target in targets:
        if not target.startswith("gateway-"):
            continue
        text, error = gateway_metrics(target)
        if text is None or not served.get(target):
            lines.append(f"- {LABELS[target]}: metrics unavailable ({error})")
            continue
        allocated = sum(metric_sums(text, "system_runtime_dotnet_gc_heap_total_allocated").values())
        collections = metric_sums(text, "system_runtime_dotnet_gc_collections{", "gc_heap_generation")
        pause = sum(metric_sums(text, "system_runtime_dotnet_gc_pause_time").values())
        requests = served[target]
        lines.append(f"- {LABELS[target]}: {allocated / requests / 1024:.1f} KB allocated per request over {requests} requests; "
                     f"collections gen0 {collections.get('gen0', 0):.0f}, gen1 {collections.get('gen1', 0):.0f}, "
                     f"gen2 {collections.get('gen2', 0):.0f}; pauses {pause:.2f} s in all, {pause * 1e6 / requests:.1f} µs per request")
    return "\n".join(lines) + "\n"


def rotated(targets, round_index):
    """Returns the targets starting at a different one each round, so no target always runs first."""
    shift = round_index % len(targets)
    return targets[shift:] + targets[:shift]


def ratio(medians, target, baseline, key):
    """Formats target's median over baseline's for one key, or a dash when the baseline was not measured."""
    if baseline not in medians or not medians[baseline][key]:
        return "–"
    return f"{medians[target][key] / medians[baseline][key]:.2f}"


def summarize(runs):
    """Medians of one target's runs on one body, with the errors summed; CPU only where it was measured."""
    cpu = [run["cpu_us"] for run in runs if run.get("cpu_us") is not None]
    return {
        "rps": statistics.median(run["rps"] for run in runs),
        "p50": statistics.median(run["p50_ms"] for run in runs),
        "p99": statistics.median(run["p99_ms"] for run in runs),
        "cpu": statistics.median(cpu) if cpu else None,
        "errors": sum(run["errors"] for run in runs),
    }


def render(results, bodies, args, targets, rss):
    lines = [f"wrk -t{args.threads} -c{args.connections}, {args.rounds} runs of {args.duration} s after {args.warmup} s warm-up, "
             f"medians; {'proxies pinned to CPU 1' if args.pin else 'nothing pinned'}.", ""]
    lines.append("| body | target | req/s | p50 ms | p99 ms | CPU µs/req | × bare YARP | × nginx | errors |")
    lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for body_name in args.bodies.split(","):
        medians = {target: summarize(results[(body_name, target)]) for target in targets}
        for target in targets:
            row = medians[target]
            versus_yarp = ratio(medians, target, "yarp", "rps")
            versus_nginx = ratio(medians, target, "nginx", "rps")
            cpu = f"{row['cpu']:.0f}" if row["cpu"] is not None else "–"
            lines.append(f"| {body_name} | {LABELS[target]} | {row['rps']:.0f} | {row['p50']:.2f} | {row['p99']:.2f} | {cpu} | "
                         f"{versus_yarp} | {versus_nginx} | {row['errors']} |")
    lines.append("")
    lines.append("Peak RSS (VmHWM, MB): " + ", ".join(f"{LABELS[t]}: {rss[t]:.0f}" for t in targets if t in rss))
    return "\n".join(lines) + "\n"


def render_paced(paced, args, targets):
    """Latency at a load below saturation. Under saturation a closed-loop client's mean latency is its
    connection count divided by the throughput, so p50 there reflects throughput and queueing order."""
    lines = ["", f"Latency at a paced load: each of the {args.connections} connections waits {args.paced_delay_ms} ms after "
                 f"every response, medians of {args.rounds} runs of {args.duration} s.", ""]
    lines.append("| body | target | req/s | p50 ms | p99 ms | p50 × bare YARP | p99 × bare YARP |")
    lines.append("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for body_name in args.bodies.split(","):
        medians = {target: summarize(paced[(body_name, target)]) for target in targets}
        for target in targets:
            row = medians[target]
            p50_ratio = ratio(medians, target, "yarp", "p50")
            p99_ratio = ratio(medians, target, "yarp", "p99")
            lines.append(f"| {body_name} | {LABELS[target]} | {row['rps']:.0f} | {row['p50']:.2f} | {row['p99']:.2f} | "
                         f"{p50_ratio} | {p99_ratio} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
