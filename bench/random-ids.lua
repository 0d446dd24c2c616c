-- wrk script: GET /api/alerts/{id}/machine for random ids from a file, with a bearer token.
-- Arguments after "--": IDS_FILE TOKEN
local ids = {}
local token

function init(args)
  for line in io.lines(args[1]) do
    ids[#ids + 1] = line
  end
  token = args[2]
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
  local id = ids[math.random(#ids)]
  return wrk.format("GET", "/api/alerts/" .. id .. "/machine", { ["Authorization"] = "Bearer " .. token })
end

function done(summary, latency, requests)
  io.write(string.format("RESULT rps=%.1f p50_us=%d p99_us=%d requests=%d errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
