#!/usr/bin/env bash
# The pipeline's speed and memory targets, measured in one run (not tests; figures go to the
# table in bench/RESULTS.md and the session in bench/HISTORY.md, by hand):
#
# 1. end to end: `ptrack load --rps $E2E_RPS --events-per-request 10 --duration $E2E_DURATION
#    --verify` through collector → broker → processor → PostgreSQL; zero loss expected.
#    CPU per process over the run (from /proc: utime+stime) names the bottleneck.
# 2. collector latency: `ptrack load --rps $LAT_RPS --events-per-request 10` (p99 target
#    < 10 ms), peak RSS (VmHWM) of the collector (< 64 MiB) and processor (< 128 MiB).
# 3. the processor against a raw COPY of the same rows (bench/src/bin/insert_vs_copy.rs).
# 4. the collector alone with the broker: `ptrack load --rps $COL_RPS --events-per-request 10
#    --duration $COL_DURATION` with no processor and no database work competing for the
#    cores (p99 target < 10 ms at 5,000 requests/s; collector RSS); then the processor is
#    started, drains the backlog at its full rate (its peak RSS), and every accepted event
#    is counted in PostgreSQL.
#
#   bench/pipeline.sh [e2e|latency|copy|collector|all]
#
# Needs PostgreSQL at $DATABASE_URL (`eval "$(scripts/test --start)"` starts one), jq.
# Runs the release binaries in $BIN ($CARGO_TARGET_DIR/release by default; point it at a
# directory holding another build to compare two builds in turns).
set -euo pipefail
cd "$(dirname "$0")/.."

WHAT="${1:-all}"
E2E_RPS="${E2E_RPS:-2000}"
E2E_DURATION="${E2E_DURATION:-60s}"
LAT_RPS="${LAT_RPS:-5000}"
LAT_DURATION="${LAT_DURATION:-60s}"
COL_RPS="${COL_RPS:-5000}"
COL_DURATION="${COL_DURATION:-30s}"
COPY_ROWS="${COPY_ROWS:-200000}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ptrack/target}"
BIN="${BIN:-$CARGO_TARGET_DIR/release}"
WORK="$(mktemp -d /tmp/ptrack-pipeline.XXXXXX)"
: "${DATABASE_URL:?set DATABASE_URL, e.g. eval \"\$(scripts/test --start)\"}"
# shellcheck source=bench/lib.sh
. bench/lib.sh
trap cleanup EXIT
# CPU seconds (user+sys) a process has used so far.
cpu_secs() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%.2f", ($14 + $15) / hz }' "/proc/$1/stat" 2>/dev/null || echo 0; }
# CPU seconds of every PostgreSQL backend of our server (children of the postmaster).
pg_cpu_secs() {
  local total=0 pid
  for pid in $(pgrep -f "postgres" || true); do total=$(echo "$total + $(cpu_secs "$pid")" | bc); done
  echo "$total"
}
# The collector's latencies from a `ptrack load --json` report, as two lines (a jq def).
LATENCY_JQ='def latency:
  "collector latency ms (corrected): p50 \(.latency_ms.corrected.p50) p90 \(.latency_ms.corrected.p90) p99 \(.latency_ms.corrected.p99) p99.9 \(.latency_ms.corrected.p99_9) max \(.latency_ms.corrected.max)",
  "uncorrected ms: p50 \(.latency_ms.uncorrected.p50) p99 \(.latency_ms.uncorrected.p99)";'
# cpu_row NAME BEFORE AFTER WALL: the CPU seconds NAME used between two readings, and
# their share of the wall time.
cpu_row() { awk -v n="$1" -v a="$2" -v b="$3" -v w="$4" 'BEGIN { printf "  %-11s %6.1f s  %5.0f%%\n", n, b - a, 100 * (b - a) / w }'; }
peak_rss_mib() { awk '/VmHWM/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }

step "cargo build --release (ptrack, collector, processor, bench)"
cargo build --release -q -p ptrack -p ptrack-collector -p ptrack-processor -p ptrack-bench

run_load() { # name rps duration
  local name=$1 before_b before_c before_p before_pg after_b after_c after_p after_pg
  before_b=$(cpu_secs "$BROKER_PID"); before_c=$(cpu_secs "$COLLECTOR_PID")
  before_p=$(cpu_secs "$PROCESSOR_PID"); before_pg=$(pg_cpu_secs)
  /usr/bin/time -f '%U %S %e' -o "$WORK/$name.time" \
    "$BIN/ptrack" load --target "http://127.0.0.1:$COLLECTOR_PORT" --rps "$2" --duration "$3" \
    --events-per-request 10 --seed 7 --verify --database-url "$DB_URL" --verify-timeout 300s \
    --json >"$WORK/$name.json" || echo "(ptrack load exited with $?)"
  after_b=$(cpu_secs "$BROKER_PID"); after_c=$(cpu_secs "$COLLECTOR_PID")
  after_p=$(cpu_secs "$PROCESSOR_PID"); after_pg=$(pg_cpu_secs)
  local wall; wall=$(awk '{print $3}' "$WORK/$name.time")
  jq -r "$LATENCY_JQ"'"target \(.target_rps) req/s, sent \(.sent_rps|floor) req/s = \(.sent_rps*10|floor) events/s; accepted \(.events_accepted) of \(.events_sent) events",
         latency,
         (if .verify then "verify: \(.verify.expected) accepted, \(.verify.found) stored, \(.verify.lost) lost, \(.verify.duplicated) duplicated; received→stored p99 \(.verify.pipeline_ms.p99) ms" else "verify: -" end)' \
    "$WORK/$name.json"
  echo "CPU over the run and the drain ($wall s wall, 2 cores = 200%):"
  cpu_row broker "$before_b" "$after_b" "$wall"
  cpu_row collector "$before_c" "$after_c" "$wall"
  cpu_row processor "$before_p" "$after_p" "$wall"
  cpu_row postgres "$before_pg" "$after_pg" "$wall"
  cpu_row "ptrack load" 0 "$(awk '{ print $1 + $2 }' "$WORK/$name.time")" "$wall"
  echo "peak RSS: collector $(peak_rss_mib "$COLLECTOR_PID") MiB, processor $(peak_rss_mib "$PROCESSOR_PID") MiB"
}

if [ "$WHAT" = e2e ] || [ "$WHAT" = all ]; then
  step "end to end: $E2E_RPS requests/s of 10 events for $E2E_DURATION, --verify"
  start_stack e2e
  run_load e2e "$E2E_RPS" "$E2E_DURATION"
  for pid in "$COLLECTOR_PID" "$PROCESSOR_PID" "$BROKER_PID"; do kill "$pid"; done
fi
if [ "$WHAT" = latency ] || [ "$WHAT" = all ]; then
  step "collector: $LAT_RPS requests/s of 10 events for $LAT_DURATION"
  start_stack latency
  run_load latency "$LAT_RPS" "$LAT_DURATION"
  for pid in "$COLLECTOR_PID" "$PROCESSOR_PID" "$BROKER_PID"; do kill "$pid"; done
fi
if [ "$WHAT" = copy ] || [ "$WHAT" = all ]; then
  step "processor vs raw COPY, $COPY_ROWS rows"
  "$BIN/insert_vs_copy" "$COPY_ROWS"
fi
if [ "$WHAT" = collector ] || [ "$WHAT" = all ]; then
  step "collector and broker alone: $COL_RPS requests/s of 10 events for $COL_DURATION"
  NO_PROCESSOR=1 start_stack collector
  before_b=$(cpu_secs "$BROKER_PID"); before_c=$(cpu_secs "$COLLECTOR_PID")
  /usr/bin/time -f '%U %S %e' -o "$WORK/collector.time" \
    "$BIN/ptrack" load --target "http://127.0.0.1:$COLLECTOR_PORT" --rps "$COL_RPS" \
    --duration "$COL_DURATION" --events-per-request 10 --seed 7 --json >"$WORK/collector.json" \
    || echo "(ptrack load exited with $?)"
  after_b=$(cpu_secs "$BROKER_PID"); after_c=$(cpu_secs "$COLLECTOR_PID")
  jq -r "$LATENCY_JQ"'"target \(.target_rps) req/s, sent \(.sent_rps|floor) req/s = \(.sent_rps*10|floor) events/s; accepted \(.events_accepted) of \(.events_sent) events; behind schedule max \(.behind_schedule.max_ms) ms",
         latency' \
    "$WORK/collector.json"
  wall=$(awk '{print $3}' "$WORK/collector.time")
  echo "CPU over the run ($wall s wall, 2 cores = 200%):"
  cpu_row broker "$before_b" "$after_b" "$wall"
  cpu_row collector "$before_c" "$after_c" "$wall"
  cpu_row "ptrack load" 0 "$(awk '{ print $1 + $2 }' "$WORK/collector.time")" "$wall"
  echo "peak RSS: collector $(peak_rss_mib "$COLLECTOR_PID") MiB"

  accepted=$(jq .events_accepted "$WORK/collector.json")
  step "the processor drains the $accepted accepted events"
  start_processor collector
  started=$(date +%s.%N); stored=0
  for _ in $(seq 1 600); do
    stored=$("$PSQL" "$DB_URL" -Atc "SELECT count(*) FROM user_events" 2>/dev/null || echo 0)
    [ "$stored" -ge "$accepted" ] && break
    sleep 1
  done
  drained=$(echo "$(date +%s.%N) - $started" | bc)
  awk -v n="$stored" -v t="$drained" 'BEGIN { printf "stored %d events in %.1f s = %.0f events/s\n", n, t, n / t }'
  echo "lost: $((accepted - stored)) (event_id is the primary key: none stored twice)"
  echo "peak RSS: processor $(peak_rss_mib "$PROCESSOR_PID") MiB (draining at its full rate)"
  for pid in "$COLLECTOR_PID" "$PROCESSOR_PID" "$BROKER_PID"; do kill "$pid"; done
fi
echo "logs and JSON reports: $WORK"
