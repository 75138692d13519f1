#!/usr/bin/env bash
# What `ptrack tui` costs: its CPU (% of one core, from /proc/PID/stat utime+stime over
# the run) and peak memory (VmHWM) at the default refresh, drawing in a real terminal
# (tmux, 160x45) beside a stack under load; and the pipeline's throughput with and
# without it attached (the same `ptrack load` run twice: without the TUI, then with it).
#
#   bench/tui.sh                  release builds, then the measurement
#   BUILD=0 bench/tui.sh          the release binaries already built
#   BIN=target/debug BUILD=0 bench/tui.sh   other binaries (say so with the figures)
#
# Starts its own stack with bench/lib.sh (`ptrack broker`, the processor, the collector,
# a database of its own); the TUI reads the broker, PostgreSQL, the collector's and the
# processor's /metrics (no events-api in this stack: it says so and shows PostgreSQL's
# events). Needs PostgreSQL at $DATABASE_URL (`eval "$(scripts/test --start)"`), tmux,
# jq and getconf.
set -euo pipefail
cd "$(dirname "$0")/.."

RATE="${RATE:-2000}"
DURATION="${DURATION:-30}"   # seconds, each run
CONNECTIONS="${CONNECTIONS:-100}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ptrack/target}"
BIN="${BIN:-$CARGO_TARGET_DIR/release}"
WORK="$(mktemp -d /tmp/ptrack-bench-tui.XXXXXX)"
SOCKET="ptrack-bench-tui-$$"

# shellcheck source=bench/lib.sh
. bench/lib.sh
trap 'tmux -L "$SOCKET" kill-server 2>/dev/null || true; cleanup' EXIT

if [ "${BUILD:-1}" = 1 ]; then
  step "release builds"
  cargo build --release -p ptrack -p ptrack-collector -p ptrack-processor
fi

step "stack"
start_stack tui
PROCESSOR_ADDR="$(tr '\0' '\n' <"/proc/$PROCESSOR_PID/environ" | sed -n 's/^PROCESSOR_ADDR=//p')"
TARGET="http://127.0.0.1:$COLLECTOR_PORT/track"

# load: one fixed-rate run; prints "sent_rps p99_ms".
load() {
  "$BIN/ptrack" load --rps "$RATE" --duration "${DURATION}s" -c "$CONNECTIONS" --json \
    --target "$TARGET" --data-dir "$WORK" >"$WORK/$1.json" 2>"$WORK/$1.err"
  jq -r '"\(.sent_rps) \(.latency_ms.corrected.p99)"' "$WORK/$1.json"
}

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

step "load without the TUI: $RATE/s for ${DURATION}s"
read -r alone_rps alone_p99 < <(load alone)

step "load with the TUI attached"
tmux -L "$SOCKET" -f /dev/null new-session -d -x 160 -y 45 -s tui \
  "exec env -u DATABASE_URL '$BIN/ptrack' tui --data-dir '$WORK' \
     --brokers '$KAFKA_BROKERS' --topic '$KAFKA_TOPIC' --group ptrack-processor \
     --database-url '$DB_URL' --collector-url 'http://127.0.0.1:$COLLECTOR_PORT' \
     --processor-url 'http://$PROCESSOR_ADDR' 2>'$WORK/tui.err'"
TUI_PID="$(tmux -L "$SOCKET" display-message -p -t tui '#{pane_pid}')"
sleep 3   # connected and drawing
hz="$(getconf CLK_TCK)"
t0="$(date +%s.%N)"; c0="$(ticks "$TUI_PID")"
read -r with_rps with_p99 < <(load with-tui)
t1="$(date +%s.%N)"; c1="$(ticks "$TUI_PID")"
tmux -L "$SOCKET" capture-pane -p -t tui >"$WORK/tui-screen.txt"
hwm_kb="$(awk '/^VmHWM/ {print $2}' "/proc/$TUI_PID/status")"
cpu="$(echo "($c1 - $c0) / $hz / ($t1 - $t0) * 100" | bc -l)"
tmux -L "$SOCKET" send-keys -t tui q

step "figures ($BIN)"
printf 'ptrack tui (refresh 1s, 160x45, drawing): CPU %.1f%% of one core over %.0f s, peak RSS %.1f MiB\n' \
  "$cpu" "$(echo "$t1 - $t0" | bc -l)" "$(echo "$hwm_kb / 1024" | bc -l)"
printf 'pipeline at %s/s: without the TUI sent %.0f/s, corrected p99 %.1f ms; with it sent %.0f/s, corrected p99 %.1f ms\n' \
  "$RATE" "$alone_rps" "$alone_p99" "$with_rps" "$with_p99"
echo "the TUI's last screen: $WORK/tui-screen.txt"
