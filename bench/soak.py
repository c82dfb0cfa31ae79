#!/usr/bin/env python3
"""Soak test: steady load through the gateway while a fake Wootric fails part of its calls.

Starts, all on 127.0.0.1 with ports chosen by the operating system: redis-server, a fake Wootric
(this script with --serve-wootric) that fails a configurable fraction of calls with 500, 429 or
no response until the gateway's request timeout, a fast upstream stub (this script with
--serve-upstream), and the gateway (Release build, Redis store). It then sends identify and page
batches at a fixed rate for --duration seconds, samples the gateway every --sample-interval
seconds, stops the load and waits for the backlog to drain.

Rules, each printed with its figures; the exit code is 1 when one fails:
  1. every proxied request got the upstream's 200;
  2. the delivery backlog returns to 0 within --drain-timeout seconds after the load stops;
  3. no dead letters (every injected failure is retryable);
  4. memory is flat: the median RSS of the last third of the load phase is at most
     --rss-growth percent above the median of the second third (the first third is warm-up).
The GC heap (dotnet_total_memory_bytes) is printed with the same medians but not judged, because a
heap sample depends on when the last collection ran.
"""

import argparse
import http.client
import http.server
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log(message):
    print(message, file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise SystemExit(f"nothing listened on 127.0.0.1:{port} within {timeout} s")


class QuietServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


class UpstreamHandler(http.server.BaseHTTPRequestHandler):
    """Responds to every request with Segment's 200 {"success":true} after reading the body."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        body = b'{"success":true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class WootricState:
    """End users of the fake Wootric, with email and external_id kept unique as Wootric does."""

    def __init__(self, failure_rate, hang_seconds, seed):
        self.lock = threading.Lock()
        self.users = {}
        self.by_external_id = {}
        self.by_email = {}
        self.next_id = 1
        self.failure_rate = failure_rate
        self.hang_seconds = hang_seconds
        self.random = random.Random(seed)
        self.counts = {"requests": 0, "500": 0, "429": 0, "hang": 0, "creates": 0, "updates": 0}

    def pick_fault(self):
        with self.lock:
            self.counts["requests"] += 1
            if self.random.random() >= self.failure_rate:
                return None
            fault = self.random.choice(["500", "429", "hang"])
            self.counts[fault] += 1
            return fault


class WootricHandler(http.server.BaseHTTPRequestHandler):
    """The part of Wootric's REST API the gateway uses: token, lookups, create, update, page views."""

    protocol_version = "HTTP/1.1"
    state = None

    def log_message(self, *args):
        pass

    def send_json(self, status, value, headers=()):
        body = json.dumps(value).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, text in headers:
            self.send_header(name, text)
        self.end_headers()
        self.wfile.write(body)

    def read_form(self):
        length = int(self.headers.get("Content-Length") or 0)
        text = self.rfile.read(length).decode()
        return dict(urllib.parse.parse_qsl(text, keep_blank_values=True))

    def handle_fault(self):
        if self.path.startswith("/oauth/"):
            return False
        fault = self.state.pick_fault()
        if fault == "500":
            self.send_json(500, {"error": "Internal Server Error"})
        elif fault == "429":
            reset = int(time.time()) + 1
            self.send_json(429, {"error": "Rate limit exceeded"}, [("X-Rate-Limit-Reset", str(reset))])
        elif fault == "hang":
            time.sleep(self.state.hang_seconds)
            self.close_connection = True
        return fault is not None

    def do_GET(self):
        if self.handle_fault():
            return
        parsed = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(parsed.query))
        state = self.state
        with state.lock:
            if parsed.path == "/v1/end_users" and "email" in query:
                user_id = state.by_email.get(query["email"].lower())
                self.send_json(200, [state.users[user_id]] if user_id else [])
                return
            parts = parsed.path.strip("/").split("/")
            if len(parts) == 3 and parts[:2] == ["v1", "end_users"]:
                key = urllib.parse.unquote(parts[2])
                if query.get("lookup_by_external_id") == "true":
                    user_id = state.by_external_id.get(key)
                else:
                    user_id = int(key) if key.isdigit() else None
                if user_id in state.users:
                    self.send_json(200, state.users[user_id])
                    return
        self.send_json(404, {"error": "Not Found"})

    def do_POST(self):
        if self.path == "/oauth/token":
            self.read_form()
            self.send_json(200, {"access_token": "soak-token", "token_type": "bearer", "expires_in": 7200})
            return
        form = self.read_form()
        if self.handle_fault():
            return
        state = self.state
        if self.path == "/v1/end_users":
            with state.lock:
                email = form.get("email", "").lower()
                external_id = form.get("external_id")
                if email in state.by_email or (external_id and external_id in state.by_external_id):
                    self.send_json(422, {"error": "email or external_id has already been taken"})
                    return
                user = {"id": state.next_id, "email": email, "external_id": external_id, "properties": {}}
                state.next_id += 1
                apply_form(user, form)
                state.users[user["id"]] = user
                state.by_email[email] = user["id"]
                if external_id:
                    state.by_external_id[external_id] = user["id"]
                state.counts["creates"] += 1
            self.send_json(201, user)
            return
        self.send_json(201, {"id": 1})

    def do_PUT(self):
        form = self.read_form()
        if self.handle_fault():
            return
        parts = self.path.strip("/").split("/")
        state = self.state
        with state.lock:
            user = state.users.get(int(parts[2])) if len(parts) == 3 and parts[2].isdigit() else None
            if user is None:
                self.send_json(404, {"error": "Not Found"})
                return
            apply_form(user, form)
            state.counts["updates"] += 1
        self.send_json(200, user)


def apply_form(user, form):
    for key, value in form.items():
        if key.startswith("properties[") and key.endswith("]"):
            user["properties"][key[len("properties["):-1]] = value
        elif key in ("phone_number", "external_created_at"):
            user[key] = value


def serve(handler, port):
    server = QuietServer(("127.0.0.1", port), handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    server.serve_forever()


def serve_wootric(port, failure_rate, hang_seconds, stats_file):
    WootricHandler.state = WootricState(failure_rate, hang_seconds, seed=port)

    def write_stats():
        while True:
            time.sleep(2)
            with WootricHandler.state.lock:
                text = json.dumps(WootricHandler.state.counts | {"users": len(WootricHandler.state.users)})
            with open(stats_file + ".tmp", "w") as handle:
                handle.write(text)
            os.replace(stats_file + ".tmp", stats_file)

    threading.Thread(target=write_stats, daemon=True).start()
    serve(WootricHandler, port)


def start(command, env=None, log_file=None):
    output = open(log_file, "wb") if log_file else subprocess.DEVNULL
    return subprocess.Popen(command, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True)


def read_metrics(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    values = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            try:
                values[name] = float(value)
            except ValueError:
                pass
    return values


def metric_sum(values, name):
    return sum(value for key, value in values.items() if key == name or key.startswith(name + "{"))


def read_json(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
        return json.loads(response.read())


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class LoadResult:
    def __init__(self):
        self.lock = threading.Lock()
        self.sent = 0
        self.failed = 0
        self.statuses = {}


def load_loop(port, rate, users, stop, result, worker, workers):
    """Sends batches at rate/workers per second from one thread; each batch has an identify and a page."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    rng = random.Random(worker)
    interval = workers / rate
    next_send = time.monotonic()
    sequence = 0
    while not stop.is_set():
        sequence += 1
        user = rng.randrange(users)
        now = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())
        batch = {"batch": [
            {"type": "identify", "messageId": f"soak-{worker}-{sequence}-i", "userId": f"soak-user-{user}", "timestamp": now,
             "traits": {"email": f"soak-user-{user}@example.test", "plan": rng.choice(["free", "team", "pro"]), "seats": rng.randrange(1, 50)}},
            {"type": "page", "messageId": f"soak-{worker}-{sequence}-p", "userId": f"soak-user-{user}", "timestamp": now,
             "properties": {"url": f"https://www.example.test/page/{rng.randrange(20)}"}},
        ], "writeKey": "soak-write-key"}
        body = json.dumps(batch).encode()
        status = None
        try:
            connection.request("POST", "/v1/batch", body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        with result.lock:
            result.sent += 1
            result.statuses[status] = result.statuses.get(status, 0) + 1
            if status != 200:
                result.failed += 1
        next_send += interval
        delay = next_send - time.monotonic()
        if delay > 0:
            stop.wait(delay)
        else:
            next_send = time.monotonic()
    connection.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=int, default=600, help="seconds of steady load (default 600)")
    parser.add_argument("--rate", type=float, default=20, help="batches per second sent through the proxy (default 20)")
    parser.add_argument("--users", type=int, default=2000, help="distinct users the batches name (default 2000)")
    parser.add_argument("--failure-rate", type=float, default=0.1, help="fraction of Wootric API calls that fail (default 0.1)")
    parser.add_argument("--sample-interval", type=float, default=5, help="seconds between samples (default 5)")
    parser.add_argument("--drain-timeout", type=int, default=120, help="seconds allowed for the backlog to reach 0 after the load (default 120)")
    parser.add_argument("--rss-growth", type=float, default=10, help="allowed RSS growth in percent, last third against second third (default 10)")
    parser.add_argument("--gateway-dir", help="a published gateway to run instead of building one")
    parser.add_argument("--samples-csv", help="write every sample to this CSV file")
    parser.add_argument("--serve-upstream", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--serve-wootric", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--hang-seconds", type=float, default=3, help=argparse.SUPPRESS)
    parser.add_argument("--stats-file", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.serve_upstream:
        serve(UpstreamHandler, args.serve_upstream)
        return 0
    if args.serve_wootric:
        serve_wootric(args.serve_wootric, args.failure_rate, args.hang_seconds, args.stats_file)
        return 0

    for tool in ["redis-server", "dotnet"]:
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed; on Debian: apt-get install -y redis-server (and the .NET 10 SDK)")

    work = tempfile.mkdtemp(prefix="wootric-gateway-soak-")
    ports = {name: free_port() for name in ["redis", "upstream", "wootric", "proxy", "management"]}
    processes = {}
    try:
        gateway_dir = args.gateway_dir
        if not gateway_dir:
            log("building the gateway (Release)")
            gateway_dir = os.path.join(work, "gateway")
            subprocess.run(["dotnet", "publish", os.path.join(ROOT, "src", "WootricGateway"), "-c", "Release", "-o", gateway_dir,
                            "--nologo", "-v", "quiet"], check=True)

        this = os.path.abspath(__file__)
        stats_file = os.path.join(work, "wootric-stats.json")
        processes["redis"] = start(["redis-server", "--port", str(ports["redis"]), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                    "--dir", work])
        processes["upstream"] = start([sys.executable, this, "--serve-upstream", str(ports["upstream"])])
        # The gateway's Wootric request timeout is 2 s below, so a hang of 3 s is a timeout.
        processes["wootric"] = start([sys.executable, this, "--serve-wootric", str(ports["wootric"]), "--failure-rate", str(args.failure_rate),
                                      "--hang-seconds", "3", "--stats-file", stats_file])
        for name in ["redis", "upstream", "wootric"]:
            wait_for_port(ports[name])

        wootric_url = f"http://127.0.0.1:{ports['wootric']}"
        env = dict(os.environ,
                   Kestrel__Endpoints__Proxy__Url=f"http://127.0.0.1:{ports['proxy']}",
                   Kestrel__Endpoints__Management__Url=f"http://127.0.0.1:{ports['management']}",
                   Upstream__Address=f"http://127.0.0.1:{ports['upstream']}",
                   Redis__Configuration=f"127.0.0.1:{ports['redis']}",
                   Wootric__AccountToken="NPS-soak0001",
                   Wootric__ClientId="soak-client",
                   Wootric__ClientSecret="soak-secret",
                   Wootric__ApiBaseUrl=wootric_url,
                   Wootric__AuthBaseUrl=wootric_url,
                   Wootric__RequestsPerMinute="60000",
                   Wootric__RequestTimeout="00:00:02",
                   Delivery__Concurrency="16",
                   Delivery__RetryBaseDelay="00:00:00.500",
                   Delivery__RetryMaxDelay="00:00:10",
                   Logging__LogLevel__Default="Warning")
        processes["gateway"] = start(["dotnet", os.path.join(gateway_dir, "WootricGateway.dll")], env=env,
                                     log_file=os.path.join(work, "gateway.log"))
        wait_for_port(ports["proxy"])
        wait_for_port(ports["management"])
        gateway_pid = processes["gateway"].pid

        log(f"load: {args.rate:g} batches/s (identify + page) over {args.users} users for {args.duration} s; "
            f"Wootric fails {args.failure_rate:.0%} of API calls (500, 429, timeout)")
        stop = threading.Event()
        result = LoadResult()
        workers = max(1, min(8, int(args.rate // 5) or 1))
        threads = [threading.Thread(target=load_loop, args=(ports["proxy"], args.rate, args.users, stop, result, worker, workers), daemon=True)
                   for worker in range(workers)]
        for thread in threads:
            thread.start()

        samples = []
        started = time.monotonic()

        def sample(phase):
            metrics = read_metrics(ports["management"])
            queue = read_json(ports["management"], "/admin/queue")
            row = {"t": round(time.monotonic() - started, 1), "phase": phase, "rss_mb": round(rss_mb(gateway_pid), 1),
                   "heap_mb": round(metric_sum(metrics, "dotnet_total_memory_bytes") / 2**20, 1),
                   "backlog": queue["backlog"], "dead_letters": queue["dead_letters"],
                   "tap_queue": metric_sum(metrics, "wootric_gateway_tap_queue_depth"),
                   "sent": result.sent, "failed": result.failed}
            samples.append(row)
            return row

        next_sample = started
        while time.monotonic() - started < args.duration:
            next_sample += args.sample_interval
            time.sleep(max(0, next_sample - time.monotonic()))
            row = sample("load")
            if len(samples) % max(1, int(60 / args.sample_interval)) == 0:
                log(f"  t={row['t']:.0f} s rss {row['rss_mb']} MB heap {row['heap_mb']} MB backlog {row['backlog']} "
                    f"dead letters {row['dead_letters']} sent {row['sent']} failed {row['failed']}")
        stop.set()
        for thread in threads:
            thread.join(timeout=35)

        drain_started = time.monotonic()
        drained = None
        while time.monotonic() - drain_started < args.drain_timeout:
            row = sample("drain")
            if row["backlog"] == 0 and row["tap_queue"] == 0:
                drained = time.monotonic() - drain_started
                break
            time.sleep(1)
        final = sample("after")

        wootric_stats = {}
        if os.path.exists(stats_file):
            with open(stats_file) as handle:
                wootric_stats = json.load(handle)

        load_samples = [row for row in samples if row["phase"] == "load"]
        third = len(load_samples) // 3
        second, last = load_samples[third:2 * third], load_samples[2 * third:]
        rss_second = statistics.median(row["rss_mb"] for row in second) if second else 0
        rss_last = statistics.median(row["rss_mb"] for row in last) if last else 0
        heap_second = statistics.median(row["heap_mb"] for row in second) if second else 0
        heap_last = statistics.median(row["heap_mb"] for row in last) if last else 0
        growth = (rss_last / rss_second - 1) * 100 if rss_second else 0
        backlog_max = max(row["backlog"] for row in load_samples) if load_samples else 0
        backlog_last_max = max(row["backlog"] for row in last) if last else 0

        rules = [
            ("every proxied request got 200", result.failed == 0, f"{result.sent} sent, {result.failed} not 200 ({result.statuses})"),
            (f"backlog 0 within {args.drain_timeout} s after the load", drained is not None,
             f"drained in {drained:.1f} s" if drained is not None else f"backlog {final['backlog']} after {args.drain_timeout} s"),
            ("no dead letters", final["dead_letters"] == 0, f"{final['dead_letters']} dead letters"),
            (f"RSS last third within {args.rss_growth:g} % of second third", growth <= args.rss_growth,
             f"median RSS {rss_second:.1f} MB -> {rss_last:.1f} MB ({growth:+.1f} %)"),
        ]
        print(f"soak: {args.duration} s at {args.rate:g} batches/s, {args.users} users, Wootric failure rate {args.failure_rate:g}, "
              f"{os.cpu_count()} CPUs (shared with other work)")
        print(f"fake Wootric: {json.dumps(wootric_stats)}")
        print(f"GC heap median: {heap_second:.1f} MB (second third) -> {heap_last:.1f} MB (last third); "
              f"max backlog under load {backlog_max} (last third {backlog_last_max}); final RSS {final['rss_mb']} MB")
        failed = False
        for name, passed, detail in rules:
            print(f"{'PASS' if passed else 'FAIL'} {name}: {detail}")
            failed |= not passed

        if args.samples_csv:
            with open(args.samples_csv, "w") as handle:
                columns = list(samples[0].keys())
                handle.write(",".join(columns) + "\n")
                for row in samples:
                    handle.write(",".join(str(row[column]) for column in columns) + "\n")
        return 1 if failed else 0
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
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
