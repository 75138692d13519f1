#!/usr/bin/env bash
# What `ptrack tui` costs: its CPU (% of one core, from /proc/PID/stat utime+stime over
# the run) and peak memory (VmHWM) at the default refresh, drawing in a real terminal
# (tmux, 160x45) beside a stack under load; and what it adds to the pipeline: the same
# `ptrack load` run without and with the TUI attached, in PAIRS alternating pairs, each
# run giving the sent rate, the corrected p99 and the CPU seconds the pipeline (broker,
# collector, processor) spent on it.
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

RATE="${RATE:-500}"   # requests/s; a rate the bench stack holds on 2 cores
DURATION="${DURATION:-30}"   # seconds, each run
PAIRS="${PAIRS:-3}"         # runs without and with the TUI, in turns
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

# load: one fixed-rate run; prints "sent_rps p99_ms pipeline_cpu_s", the last being the CPU
# seconds the broker, collector and processor spent during the run.
load() {
  local c0 c1
  c0="$(pipeline_ticks)"
  "$BIN/ptrack" load --rps "$RATE" --duration "${DURATION}s" -c "$CONNECTIONS" --json \
    --target "$TARGET" --data-dir "$WORK" >"$WORK/$1.json" 2>"$WORK/$1.err"
  sleep 2   # the processor drains what the last second sent
  c1="$(pipeline_ticks)"
  jq -r --arg cpu "$(echo "($c1 - $c0) / $hz" | bc -l)" \
    '"\(.sent_rps) \(.latency_ms.corrected.p99) \($cpu)"' "$WORK/$1.json"
}

ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
pipeline_ticks() { echo $(( $(ticks "$BROKER_PID") + $(ticks "$COLLECTOR_PID") + $(ticks "$PROCESSOR_PID") )); }
hz="$(getconf CLK_TCK)"

start_tui() {
  tmux -L "$SOCKET" -f /dev/null new-session -d -x 160 -y 45 -s tui \
    "exec env -u DATABASE_URL '$BIN/ptrack' tui --data-dir '$WORK' \
       --brokers '$KAFKA_BROKERS' --topic '$KAFKA_TOPIC' --group ptrack-processor \
       --database-url '$DB_URL' --collector-url 'http://127.0.0.1:$COLLECTOR_PORT' \
       --processor-url 'http://$PROCESSOR_ADDR' 2>'$WORK/tui.err'"
  TUI_PID="$(tmux -L "$SOCKET" display-message -p -t tui '#{pane_pid}')"
  sleep 3   # connected and drawing
}

stop_tui() {
  tmux -L "$SOCKET" send-keys -t tui q
  while kill -0 "$TUI_PID" 2>/dev/null; do sleep 0.2; done
}

# PAIRS pairs of runs, alone then with the TUI, in turns, so that the machine's drift
# falls on both sides alike.
results=()
for pair in $(seq 1 "$PAIRS"); do
  step "pair $pair/$PAIRS: load without the TUI, $RATE/s for ${DURATION}s"
  read -r a_rps a_p99 a_cpu < <(load "alone-$pair")
  step "pair $pair/$PAIRS: load with the TUI attached"
  start_tui
  t0="$(date +%s.%N)"; c0="$(ticks "$TUI_PID")"
  read -r w_rps w_p99 w_cpu < <(load "with-$pair")
  t1="$(date +%s.%N)"; c1="$(ticks "$TUI_PID")"
  tmux -L "$SOCKET" capture-pane -p -t tui >"$WORK/tui-screen.txt"
  hwm_kb="$(awk '/^VmHWM/ {print $2}' "/proc/$TUI_PID/status")"
  cpu="$(echo "($c1 - $c0) / $hz / ($t1 - $t0) * 100" | bc -l)"
  stop_tui
  results+=("$(printf '%d  %8.0f %9.1f %8.2f   %8.0f %9.1f %8.2f   %5.1f %%  %5.1f MiB' \
    "$pair" "$a_rps" "$a_p99" "$a_cpu" "$w_rps" "$w_p99" "$w_cpu" "$cpu" "$(echo "$hwm_kb / 1024" | bc -l)")")
done

step "figures ($BIN, $RATE requests/s for ${DURATION}s a run)"
echo "             without the TUI               |          with the TUI attached        |  the TUI itself"
echo "pair  sent/s   p99 ms  pipeline CPU s | sent/s   p99 ms  pipeline CPU s | CPU (1 core)  peak RSS"
printf '%s\n' "${results[@]}"
echo "(p99: corrected for coordinated omission; pipeline CPU: broker + collector + processor, user + system)"
echo "the TUI's last screen: $WORK/tui-screen.txt"
