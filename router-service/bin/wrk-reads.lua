-- wrk script for RouterBench: single-key GETs through the router, as pgbench sends SELECTs to a
-- PostgreSQL standby (a load generator in C, so the client's own CPU does not take the router's).
-- Arguments after `--`: <keys> <consistency> <session token>...
-- Each request reads a random key of bench/0..keys-1 with the next session token in turn, so the
-- 16 sessions of the JVM clients keep their pinning. Prints one line RouterBench parses.
local keys, level, tokens, n = 1000, "session", {}, 0
local threads = 0

-- Runs once per wrk thread before it starts: a seed of its own, so threads read different keys.
function setup(thread)
  threads = threads + 1
  thread:set("seed", threads)
end

function init(args)
  keys = tonumber(args[1])
  level = args[2]
  for i = 3, #args do tokens[#tokens + 1] = args[i] end
  math.randomseed(os.time() * 100 + seed)
end

function request()
  n = n + 1
  return wrk.format("GET", "/v1/kv/bench/" .. math.random(0, keys - 1),
    { ["Tandem-Consistency"] = level, ["Tandem-Session"] = tokens[n % #tokens + 1] })
end

function done(summary, latency, requests)
  local errors = summary.errors.status + summary.errors.connect + summary.errors.read
      + summary.errors.write + summary.errors.timeout
  io.write(string.format("wrk-result requests=%d seconds=%.3f p50us=%d p99us=%d p999us=%d errors=%d\n",
    summary.requests, summary.duration / 1e6, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9), errors))
end
