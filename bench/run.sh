#!/usr/bin/env bash
# Benchmark of the core endpoint against a minimal axum server returning the same bytes.
#
#   bench/run.sh [--machines N] [--alerts N] [--duration SECONDS] [--connections N]
#
# Seeds a fresh store (default 100,000 machines and 1,000,000 alerts, through `openmde
# import`, timed), then loads GET /api/alerts/{id}/machine over random existing ids with a
# valid token, rate limits off, and the baseline in the same run. Both over plain HTTP on
# loopback, so TLS cost is left out of both. Needs wrk (apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."

machines=100000
alerts=1000000
duration=20
connections=32
while [ $# -gt 0 ]; do
    case "$1" in
        --machines) machines=$2; shift 2 ;;
        --alerts) alerts=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --connections) connections=$2; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
command -v wrk >/dev/null || { echo "bench needs wrk (apt-get install wrk)" >&2; exit 2; }

cargo build --release --quiet -p openmde -p openmde-bench
bin=target/release
out=bench/out
rm -rf "$out/data"
mkdir -p "$out"

data="$out/fleet-$machines-$alerts"
if [ ! -f "$data/alerts.json" ]; then
    "$bin/openmde" generate --machines "$machines" --alerts "$alerts" --out "$data"
fi

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT

"$bin/openmde" --data-dir "$out/data" serve --no-demo --no-rate-limits \
    --listen 127.0.0.1:18443 --http-listen 127.0.0.1:18080 >"$out/serve.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do [ -f "$out/data/credentials.json" ] && break; sleep 0.1; done
sleep 0.5

echo "== import"
start=$(date +%s%N)
"$bin/openmde" --data-dir "$out/data" import "$data/machines.json" "$data/alerts.json"
end=$(date +%s%N)
echo "import total: $(( (end - start) / 1000000 )) ms for $machines machines and $alerts alerts"

field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$out/data/credentials.json" "$1"; }
tenant=$(field tenantId)
token=$(curl -s "http://127.0.0.1:18080/$tenant/oauth2/v2.0/token" \
    -d grant_type=client_credentials -d "client_id=$(field clientId)" \
    --data-urlencode "client_secret=$(field clientSecret)" \
    -d scope=https://api.securitycenter.microsoft.com/.default |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')

first=$(head -n 1 "$data/alert-ids.txt")
curl -s -H "Authorization: Bearer $token" "http://127.0.0.1:18080/api/alerts/$first/machine" >"$out/body.json"
"$bin/openmde-bench-baseline" 127.0.0.1:18081 "$out/body.json" &
pids+=($!)
sleep 0.5

run() {
    local name=$1 port=$2
    wrk -t2 -c"$connections" -d5s -s bench/random-ids.lua "http://127.0.0.1:$port" -- "$data/alert-ids.txt" "$token" >/dev/null
    wrk -t2 -c"$connections" -d"${duration}s" -s bench/random-ids.lua "http://127.0.0.1:$port" -- \
        "$data/alert-ids.txt" "$token" | grep '^RESULT' | sed "s/^RESULT/$name/"
}
echo "== GET /api/alerts/{id}/machine, $connections connections, ${duration}s"
openmde=$(run openmde 18080)
baseline=$(run baseline 18081)
echo "$openmde"
echo "$baseline"
rps() { sed -E 's/.*rps=([0-9.]+).*/\1/' <<<"$1"; }
python3 -c "import sys; print(f'ratio openmde/baseline: {float(sys.argv[1]) / float(sys.argv[2]):.3f}')" \
    "$(rps "$openmde")" "$(rps "$baseline")"
