#!/usr/bin/env bash
# Benchmarks of `ptrack load` (not tests: numbers go to bench/RESULTS.md and
# bench/HISTORY.md by hand).
#
# 1. Against the real stack: starts the broker (`ptrack broker`), the processor and the
#    collector (release builds) on a database of its own, then runs
#    `ptrack load --rps $RATE --duration $DURATION -c $STACK_CONNECTIONS --verify` and
#    prints the achieved rate, the latencies, what --verify found, and the generator's
#    own CPU use.
# 2. Against a trivial endpoint (nginx answering every POST with a fixed body, pinned
#    to CPU 0): `ptrack load --rps max` and `oha` (both pinned to CPU 1, same
#    connections, same duration, a body of the same size), and the ratio of their
#    request rates.
#
#   bench/load-vs-oha.sh                 both
#   bench/load-vs-oha.sh stack|rate|max  one of them (rate: the generator alone at $RATE
#                                        against nginx)
#   BUILD=0 bench/load-vs-oha.sh         use the release binaries already built
#
# Needs: PostgreSQL at $DATABASE_URL (`eval "$(scripts/test --start)"` starts one),
# nginx (`apt-get install nginx-light`), oha (`cargo install oha --locked`), jq, taskset
# and GNU time.
set -euo pipefail
cd "$(dirname "$0")/.."

WHAT="${1:-all}"
RATE="${RATE:-5000}"
DURATION="${DURATION:-60s}"
MAX_DURATION="${MAX_DURATION:-15s}"
CONNECTIONS="${CONNECTIONS:-50}"
# Against the stack: an open-model generator needs about rate × slowest answer
# connections (5,000/s × 50 ms = 250), or a slow answer delays the timetable.
STACK_CONNECTIONS="${STACK_CONNECTIONS:-250}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ptrack/target}"
BIN="$CARGO_TARGET_DIR/release"
OHA="${OHA:-$(command -v oha || echo /tmp/oha-install/bin/oha)}"
WORK="$(mktemp -d /tmp/ptrack-bench.XXXXXX)"

# shellcheck source=bench/lib.sh
. bench/lib.sh
trap cleanup EXIT
# "user sys elapsed" from GNU time, as the CPU share of one core.
cpu_share() { awk '{ printf "%.0f%% of one core (user %.1fs + sys %.1fs over %.1fs)", 100*($1+$2)/$3, $1, $2, $3 }' "$1"; }

if [ "${BUILD:-1}" = 1 ]; then
  step "cargo build --release (ptrack, collector, processor)"
  cargo build --release -q -p ptrack -p ptrack-collector -p ptrack-processor
fi

bench_stack() {
  step "starting the broker, processor and collector (logs in $WORK)"
  start_stack stack

  step "ptrack load --rps $RATE --duration $DURATION -c $STACK_CONNECTIONS --verify against the collector"
  /usr/bin/time -f '%U %S %e' -o "$WORK/load.time" \
    "$BIN/ptrack" load --target "http://127.0.0.1:$COLLECTOR_PORT" --rps "$RATE" \
    --duration "$DURATION" --seed 1 -c "$STACK_CONNECTIONS" --verify --database-url "$DB_URL" \
    --verify-timeout 300s --report "$WORK/stack.html" --json >"$WORK/stack.json" \
    || echo "(ptrack load exited with $?)"
  jq -r '"target \(.target_rps)/s  sent \(.sent_rps*10|round/10)/s (\(100*.sent_rps/.target_rps*100|round/100)% of target)  answered \(.answered_rps*10|round/10)/s",
         "requests \(.requests) ok \(.requests_ok) failed \(.requests_failed); events sent \(.events_sent) accepted \(.events_accepted)",
         "corrected ms p50 \(.latency_ms.corrected.p50) p99 \(.latency_ms.corrected.p99) p99.9 \(.latency_ms.corrected.p99_9) max \(.latency_ms.corrected.max)",
         "uncorrected ms p50 \(.latency_ms.uncorrected.p50) p99 \(.latency_ms.uncorrected.p99) max \(.latency_ms.uncorrected.max)",
         "behind schedule: max \(.behind_schedule.max_ms) ms, p99 \(.behind_schedule.p99_ms) ms, fell behind: \(.behind_schedule.fell_behind)",
         (if .verify then "verify: \(.verify.expected) accepted, \(.verify.found) stored, \(.verify.lost) lost, \(.verify.duplicated) duplicated; event→stored p50 \(.verify.end_to_end_ms.p50) ms p99 \(.verify.end_to_end_ms.p99) ms; received→stored p99 \(.verify.pipeline_ms.p99) ms" else "verify: -" end)' \
    "$WORK/stack.json"
  echo "ptrack load CPU (whole process, including the --verify wait): $(cpu_share "$WORK/load.time")"
  echo "report: $WORK/stack.html"
}

start_nginx() {
  command -v nginx >/dev/null || { echo "nginx is missing: apt-get install nginx-light" >&2; exit 1; }
  port="$(free_port)"
  mkdir -p "$WORK/nginx"
  cat >"$WORK/nginx/nginx.conf" <<EOF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx;
  proxy_temp_path $WORK/nginx; fastcgi_temp_path $WORK/nginx;
  uwsgi_temp_path $WORK/nginx; scgi_temp_path $WORK/nginx;
  keepalive_requests 100000000;
  server {
    listen 127.0.0.1:$port;
    location / { default_type application/json; return 200 '{"accepted":1,"rejected":[]}'; }
  }
}
EOF
  step "trivial endpoint: nginx on 127.0.0.1:$port (CPU 0)"
  taskset -c 0 nginx -c "$WORK/nginx/nginx.conf" -e "$WORK/nginx/error.log" &
  PIDS+=($!)
  wait_port "$port"
}

# The generator alone at $RATE for $DURATION against nginx: does it hold the rate, and
# at what CPU cost?
bench_rate() {
  start_nginx
  step "ptrack load --rps $RATE --duration $DURATION against nginx (generator alone)"
  /usr/bin/time -f '%U %S %e' -o "$WORK/rate.time" "$BIN/ptrack" load \
    --target "http://127.0.0.1:$port/track" --rps "$RATE" --duration "$DURATION" --seed 1 \
    --json >"$WORK/rate.json"
  jq -r '"target \(.target_rps)/s  sent \(.sent_rps*10|round/10)/s  answered \(.answered_rps*10|round/10)/s over \(.duration_s)s; behind max \(.behind_schedule.max_ms) ms p99 \(.behind_schedule.p99_ms) ms; corrected p99 \(.latency_ms.corrected.p99) ms"' "$WORK/rate.json"
  echo "ptrack load CPU: $(cpu_share "$WORK/rate.time")"
}

bench_max() {
  [ -x "$OHA" ] || { echo "oha is missing: cargo install oha --locked (or set OHA)" >&2; exit 1; }
  start_nginx
  # A body like ptrack's batches: 4 events of the session model (about 2 kB).
  python3 - "$WORK/body.json" <<'EOF'
import json, sys, uuid, time
event = {"event_id": str(uuid.uuid4()), "event_type": "HOVER_ENTER", "location_type": "COMPONENT",
         "component_name": "AddToCartButton", "page_path": "/products/42", "page_title": "Product 42 - Shop",
         "timestamp": int(time.time() * 1000), "dom_info": {"tag": "BUTTON", "id": "add-to-cart",
         "className": "btn btn-success", "text": "Add to cart"},
         "user_metadata": {"userAgent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
                           "language": "en-US", "screen": {"width": 1920, "height": 1080}, "source": "ptrack-load"},
         "session_id": str(uuid.uuid4()), "anonymous_id": str(uuid.uuid4())}
json.dump({"events": [event] * 4, "appName": "ptrack-load", "appVersion": "0.1.0"}, open(sys.argv[1], "w"))
EOF
  local ptrack_rps oha_rps
  for round in 1 2; do
    step "round $round: oha -z $MAX_DURATION -c $CONNECTIONS (CPU 1)"
    /usr/bin/time -f '%U %S %e' -o "$WORK/oha.time" taskset -c 1 "$OHA" --no-tui \
      --output-format json -z "$MAX_DURATION" -c "$CONNECTIONS" -m POST \
      -T application/json -D "$WORK/body.json" "http://127.0.0.1:$port/track" >"$WORK/oha.json"
    oha_rps="$(jq '.summary.requestsPerSec' "$WORK/oha.json")"
    echo "oha: $(jq -r '"\(.summary.requestsPerSec|round) req/s, success rate \(.summary.successRate), p50 \(.latencyPercentiles.p50*1000) ms, p99 \(.latencyPercentiles.p99*1000) ms"' "$WORK/oha.json"); CPU $(cpu_share "$WORK/oha.time")"

    step "round $round: ptrack load --rps max --duration $MAX_DURATION -c $CONNECTIONS (CPU 1)"
    /usr/bin/time -f '%U %S %e' -o "$WORK/ptrack.time" taskset -c 1 "$BIN/ptrack" load \
      --target "http://127.0.0.1:$port/track" --rps max --duration "$MAX_DURATION" \
      -c "$CONNECTIONS" --seed 1 --json >"$WORK/ptrack.json"
    ptrack_rps="$(jq '.answered_rps' "$WORK/ptrack.json")"
    echo "ptrack load: $(jq -r '"\(.answered_rps|round) req/s, \(.requests_failed) failed, p50 \(.latency_ms.uncorrected.p50) ms, p99 \(.latency_ms.uncorrected.p99) ms"' "$WORK/ptrack.json"); CPU $(cpu_share "$WORK/ptrack.time")"
    python3 -c "print(f'ratio ptrack/oha: {$ptrack_rps / $oha_rps:.2f}')"
  done
}

case "$WHAT" in
  stack) bench_stack ;;
  rate) bench_rate ;;
  max) bench_max ;;
  all) bench_stack; bench_rate; bench_max ;;
  *) echo "usage: $0 [all|stack|rate|max]" >&2; exit 2 ;;
esac
