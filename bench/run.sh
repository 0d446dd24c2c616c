#!/usr/bin/env bash
# Benchmark of the hot paths against a minimal axum server returning the same bytes.
#
#   bench/run.sh [--machines N] [--alerts N] [--duration SECONDS] [--connections N]
#                [--database-url postgres://...]
#
# Seeds a fresh embedded store (default 100,000 machines and 1,000,000 alerts, through `openmde
# import`, timed), then loads, each against the baseline in the same run, with a valid token
# and rate limits off:
#   - GET /api/alerts/{id}/machine over random existing alert ids;
#   - GET /api/alerts?$filter=severity eq 'High' and lastUpdateTime ge <day>&$top=100, the
#     day drawn from the last 30;
#   - GET /api/machines?$filter=computerDnsName eq '<name>' over random existing names.
# Both over plain HTTP on loopback, so TLS cost is left out of both. With --database-url, the
# same again on a fresh schema of that PostgreSQL database, in the same run. Needs wrk.
set -euo pipefail
cd "$(dirname "$0")/.."

machines=100000
alerts=1000000
duration=20
connections=32
database_url=""
while [ $# -gt 0 ]; do
    case "$1" in
        --machines) machines=$2; shift 2 ;;
        --alerts) alerts=$2; shift 2 ;;
        --duration) duration=$2; shift 2 ;;
        --connections) connections=$2; shift 2 ;;
        --database-url) database_url=$2; shift 2 ;;
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

# Starts openmde on a fresh store (arguments: extra options), imports the fleet (timed), and
# sets $server_pid and $token.
start_and_import() {
    rm -rf "$out/data"
    "$bin/openmde" --data-dir "$out/data" "$@" serve --no-demo --no-rate-limits \
        --listen 127.0.0.1:18443 --http-listen 127.0.0.1:18080 --no-admin >"$out/serve.log" 2>&1 &
    server_pid=$!
    pids+=("$server_pid")
    for _ in $(seq 100); do [ -f "$out/data/credentials.json" ] && break; sleep 0.1; done
    sleep 0.5

    echo "== import"
    local start end
    start=$(date +%s%N)
    "$bin/openmde" --data-dir "$out/data" "$@" import "$data/machines.json" "$data/alerts.json"
    end=$(date +%s%N)
    echo "import total: $(( (end - start) / 1000000 )) ms for $machines machines and $alerts alerts"
    # Let the kernel write the imported gigabytes out before the load, so that it measures reads.
    sync

    field() { python3 -c "import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])" "$out/data/credentials.json" "$1"; }
    local tenant
    tenant=$(field tenantId)
    token=$(curl -s "http://127.0.0.1:18080/$tenant/oauth2/v2.0/token" \
        -d grant_type=client_credentials -d "client_id=$(field clientId)" \
        --data-urlencode "client_secret=$(field clientSecret)" \
        -d scope=https://api.securitycenter.microsoft.com/.default |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
}

# The inputs of each scenario: existing DNS names, and the last 30 days.
python3 - "$data" <<'PY'
import datetime, json, sys
data = sys.argv[1]
machines = json.load(open(f"{data}/machines.json"))
machines = machines["value"] if isinstance(machines, dict) else machines
with open(f"{data}/dns-names.txt", "w") as out:
    out.writelines(f"{m['computerDnsName']}\n" for m in machines if m.get("computerDnsName"))
today = datetime.datetime.now(datetime.timezone.utc).date()
with open(f"{data}/recent-days.txt", "w") as out:
    out.writelines(f"{today - datetime.timedelta(days=d)}Z\n" for d in range(1, 31))
PY

scenario() {
    local name=$1 template=$2 lines=$3 port=$4
    local sample
    sample=$(head -n 1 "$lines")
    curl -sf -H "Authorization: Bearer $token" "http://127.0.0.1:18080${template/\{\}/$sample}" >"$out/body-$port.json"
    "$bin/openmde-bench-baseline" "127.0.0.1:$port" "$out/body-$port.json" &
    local baseline_pid=$!
    pids+=("$baseline_pid")
    sleep 0.5
    echo "== $name, $connections connections, ${duration}s ($(wc -c <"$out/body-$port.json") bytes)"
    local results=()
    for target in 18080 "$port"; do
        wrk -t2 -c"$connections" -d5s -s bench/random-paths.lua "http://127.0.0.1:$target" -- "$lines" "$token" "$template" >/dev/null
        results+=("$(wrk -t2 -c"$connections" -d"${duration}s" -s bench/random-paths.lua "http://127.0.0.1:$target" -- \
            "$lines" "$token" "$template" | grep '^RESULT')")
    done
    kill "$baseline_pid"
    echo "openmde ${results[0]#RESULT }"
    echo "baseline ${results[1]#RESULT }"
    rps() { sed -E 's/.*rps=([0-9.]+).*/\1/' <<<"$1"; }
    python3 -c "import sys; print(f'ratio openmde/baseline: {float(sys.argv[1]) / float(sys.argv[2]):.3f}')" \
        "$(rps "${results[0]}")" "$(rps "${results[1]}")"
}

alert_list="/api/alerts?\$filter=severity%20eq%20'High'%20and%20lastUpdateTime%20ge%20{}&\$top=100"
alert_list_name="GET /api/alerts?\$filter=severity eq 'High' and lastUpdateTime ge <day>&\$top=100"

echo "=== embedded store (SQLite)"
start_and_import
scenario "GET /api/alerts/{id}/machine" "/api/alerts/{}/machine" "$data/alert-ids.txt" 18081
scenario "$alert_list_name" "$alert_list" "$data/recent-days.txt" 18082
scenario "GET /api/machines?\$filter=computerDnsName eq '<name>'" \
    "/api/machines?\$filter=computerDnsName%20eq%20'{}'" "$data/dns-names.txt" 18083
kill "$server_pid"; wait "$server_pid" 2>/dev/null || true

if [ -n "$database_url" ]; then
    # Kept until the end of the run, for EXPLAIN; dropped then.
    schema="bench_$(date +%s)"
    psql -q "$database_url" -c "CREATE SCHEMA $schema"
    separator='?'; [[ "$database_url" == *\?* ]] && separator='&'
    echo "=== PostgreSQL (${database_url##*@}, schema $schema)"
    start_and_import --database-url "${database_url}${separator}options=-c%20search_path%3D$schema"
    scenario "GET /api/alerts/{id}/machine" "/api/alerts/{}/machine" "$data/alert-ids.txt" 18081
    scenario "$alert_list_name" "$alert_list" "$data/recent-days.txt" 18082
    kill "$server_pid"; wait "$server_pid" 2>/dev/null || true
    PGOPTIONS="-c client_min_messages=warning" psql -q "$database_url" -c "DROP SCHEMA $schema CASCADE"
fi
