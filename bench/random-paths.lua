-- wrk script: GET a path made from a template, "{}" replaced by a random line of a file, with a
-- bearer token. Arguments after "--": LINES_FILE TOKEN TEMPLATE
-- (TEMPLATE already percent-encoded, e.g. "/api/alerts/{}/machine").
local lines = {}
local token, head, tail

function init(args)
  for line in io.lines(args[1]) do
    lines[#lines + 1] = line
  end
  token = args[2]
  local at = string.find(args[3], "{}", 1, true)
  head, tail = string.sub(args[3], 1, at - 1), string.sub(args[3], at + 2)
  math.randomseed(os.time() + math.floor(os.clock() * 1000000))
end

function request()
  local path = head .. lines[math.random(#lines)] .. tail
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. token })
end

function done(summary, latency, requests)
  io.write(string.format("RESULT rps=%.1f p50_us=%d p99_us=%d requests=%d errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50), latency:percentile(99),
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status))
end
