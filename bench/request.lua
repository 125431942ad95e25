-- The request wrk sends on every connection, and a JSON summary for bench/token_api.py.
-- BENCH_METHOD (GET or POST) and BENCH_AUTHORIZATION come from the environment, so the
-- service key never appears on a command line.
wrk.method = os.getenv("BENCH_METHOD") or "GET"
local authorization = os.getenv("BENCH_AUTHORIZATION") or ""
if authorization ~= "" then
   wrk.headers["Authorization"] = authorization
end
if wrk.method == "POST" then
   wrk.body = "" -- an empty body: Content-Length 0, the API's defaults
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "duration_us": %d, "connect_errors": %d, '
         .. '"read_errors": %d, "write_errors": %d, "non_2xx_3xx": %d, "timeouts": %d, '
         .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
      summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean))
end
