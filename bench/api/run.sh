#!/usr/bin/env bash
# Load test of `stepwise serve` on loopback: requests/s and p99 latency of
#   GET  /v1/runs/{run}                 (run status with counts)
#   POST /v1/campaigns/{id}/trigger     (a new run each time, executed in the background)
# Bounded: DURATION per phase (default 10s), CONNECTIONS (default 16), 2 threads; the
# server listens on 127.0.0.1 only and is stopped at the end. Needs wrk (Debian:
# apt-get install wrk) and curl. Fails if any request errors or answers non-2xx.
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10s}
CONNECTIONS=${CONNECTIONS:-16}
PORT=${PORT:-18080}
command -v wrk >/dev/null || { echo "bench: wrk is missing (apt-get install wrk)" >&2; exit 2; }

work=$(mktemp -d)
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null && wait "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

go build -o "$work/stepwise" ./cmd/stepwise
export STEPWISE_TOKEN="bench-$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"
base="http://127.0.0.1:$PORT"
"$work/stepwise" serve --addr "127.0.0.1:$PORT" --home "$work/home" --dir shared/api/testdata \
	--wait skip --trigger-interval 0 --no-scheduler --concurrency 2 >"$work/serve.out" 2>"$work/serve.log" &
server=$!
for _ in $(seq 100); do curl -fs -o /dev/null -H "Authorization: Bearer $STEPWISE_TOKEN" "$base/v1/audiences" && break; sleep 0.1; done

auth=(-H "Authorization: Bearer $STEPWISE_TOKEN" -H "Content-Type: application/json")
src=$(python3 -c 'import json,sys; print(json.dumps({"source": open("shared/api/testdata/flow.yaml").read()}))')
curl -fs "${auth[@]}" -d "$src" "$base/v1/campaigns" >/dev/null
curl -fs "${auth[@]}" -X POST "$base/v1/campaigns/flow-only/publish" >/dev/null
run=$(curl -fs "${auth[@]}" -d '{"params":{"region":"FR"}}' "$base/v1/campaigns/flow-only/trigger?wait=30s" |
	python3 -c 'import json,sys; r=json.load(sys.stdin); assert r["status"]=="succeeded", r; print(r["id"])')

report() { # name, wrk output
	local rps p99 non2xx errs
	rps=$(awk '/Requests\/sec/ {print $2}' <<<"$2")
	p99=$(awk '$1=="99%" {print $2}' <<<"$2")
	non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$2")
	errs=$(awk '/Socket errors/ {s=0; for (i=3;i<=NF;i++) if ($i ~ /^[0-9]+,?$/) s+=$i; print s}' <<<"$2")
	printf '%-28s %10s req/s   p99 %8s   errors %s   non-2xx %s\n' "$1" "$rps" "$p99" "${errs:-0}" "${non2xx:-0}"
	[ "${errs:-0}" = 0 ] && [ "${non2xx:-0}" = 0 ]
}

echo "stepwise serve on $base, $CONNECTIONS connections, $DURATION per phase, $(nproc) cores"
out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/api/status.lua "$base/v1/runs/$run")
ok=0
report "GET /v1/runs/{run}" "$out" || ok=1
out=$(wrk -t2 -c"$CONNECTIONS" -d"$DURATION" --latency -s bench/api/trigger.lua "$base/v1/campaigns/flow-only/trigger")
report "POST .../trigger" "$out" || ok=1
runs=$(curl -fs "${auth[@]}" "$base/v1/campaigns/flow-only/runs?limit=1" | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["runs"]))')
[ "$runs" = 1 ] || ok=1
exit $ok
