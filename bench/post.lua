-- wrk script: POSTs one prepared body to one path and prints a machine-readable result line.
-- Environment: BENCH_BODY (file), BENCH_PATH, BENCH_CONTENT_TYPE (empty for none), BENCH_GZIP (1 or 0),
-- and optionally BENCH_DELAY_MS: each connection waits that long after a response before its next
-- request, which paces the load below saturation.
-- Every "@@@@@@@@" in the body is replaced per request by eight hex digits unique to this run (thread
-- and counter), so messageIds differ from request to request as they do in real traffic.
local file = assert(io.open(os.getenv("BENCH_BODY"), "rb"))
local template = file:read("*a")
file:close()
local path = os.getenv("BENCH_PATH")
local headers = { ["Authorization"] = "Basic d2stYmVuY2gtMDAwMTo=" }
local contentType = os.getenv("BENCH_CONTENT_TYPE")
if contentType ~= nil and contentType ~= "" then
  headers["Content-Type"] = contentType
end
if os.getenv("BENCH_GZIP") == "1" then
  headers["Content-Encoding"] = "gzip"
end
local varies = string.find(template, "@@@@@@@@", 1, true) ~= nil

local pause = tonumber(os.getenv("BENCH_DELAY_MS") or "0") or 0
if pause > 0 then
  function delay()
    return pause
  end
end

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("thread_number", threads)
end

local counter = 0
local fixed = nil
function request()
  if not varies then
    if fixed == nil then
      fixed = wrk.format("POST", path, headers, template)
    end
    return fixed
  end
  counter = counter + 1
  local id = string.format("%02x%06x", (thread_number or 0) % 256, counter % 16777216)
  local body = string.gsub(template, "@@@@@@@@", id)
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), errors))
end
