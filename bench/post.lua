-- wrk script: POSTs one prepared body to one path and prints a machine-readable result line.
-- Environment: BENCH_BODY (file), BENCH_PATH, BENCH_CONTENT_TYPE (empty for none), BENCH_GZIP (1 or 0).
local file = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
wrk.body = file:read("*a")
file:close()
wrk.method = "POST"
wrk.path = os.getenv("BENCH_PATH")
wrk.headers["Authorization"] = "Basic d2stYmVuY2gtMDAwMTo="
local contentType = os.getenv("BENCH_CONTENT_TYPE")
if contentType ~= nil and contentType ~= "" then
  wrk.headers["Content-Type"] = contentType
end
if os.getenv("BENCH_GZIP") == "1" then
  wrk.headers["Content-Encoding"] = "gzip"
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), errors))
end
