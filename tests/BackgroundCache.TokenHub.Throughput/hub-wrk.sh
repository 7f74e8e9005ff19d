#!/usr/bin/env bash
# Token hub throughput against its floor, in one run: GET /tokens/{name} on the hub (API key, per-app authorization)
# and a bare Kestrel minimal-API endpoint returning a constant JSON of the same size, each driven by wrk for
# DURATION (default 10 s), alternated ROUNDS times (default 2). Needs wrk (apt-get install -y wrk).
set -euo pipefail
cd "$(dirname "$0")/../.."
DURATION=${DURATION:-10s}
ROUNDS=${ROUNDS:-2}
THREADS=${THREADS:-1}
CONNECTIONS=${CONNECTIONS:-32}
dotnet build tests/BackgroundCache.TokenHub.Throughput -c Release >/dev/null
log=$(mktemp)
dotnet tests/BackgroundCache.TokenHub.Throughput/bin/Release/net10.0/BackgroundCache.TokenHub.Throughput.dll >"$log" 2>&1 &
server=$!
trap 'kill $server 2>/dev/null; wait $server 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 1 100); do grep -q '^ready' "$log" && break; sleep 0.2; done
cat "$log"
wrk -t"$THREADS" -c"$CONNECTIONS" -d2s -H 'X-Api-Key: bench-key-0123456789abcdef' http://127.0.0.1:5180/tokens/demo >/dev/null # warm-up
wrk -t"$THREADS" -c"$CONNECTIONS" -d2s http://127.0.0.1:5181/tokens/demo >/dev/null
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round: hub"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H 'X-Api-Key: bench-key-0123456789abcdef' http://127.0.0.1:5180/tokens/demo
  echo "== round $round: bare Kestrel, same-size constant JSON"
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency http://127.0.0.1:5181/tokens/demo
done
