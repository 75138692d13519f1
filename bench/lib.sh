# Helpers the bench scripts share; sourced, not run, from the repository's root.
# Expects $WORK (the run's folder) and $BIN (the release binaries).

PSQL="${PG_BIN:-/usr/lib/postgresql/15/bin}/psql"
PIDS=()
DBS=()

step() { printf '\n==> %s\n' "$*"; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Waits up to 30 s for something to listen on 127.0.0.1:$1, else stops the script.
wait_port() {
  for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "nothing listens on port $1 after 30 s; see the logs in $WORK" >&2
  exit 1
}

# Stops what was started, drops the databases made, and deletes the broker's SQLite files
# (every message, about 1.5 kB an event); logs and reports stay in $WORK.
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  for db in "${DBS[@]}"; do "$PSQL" "$DATABASE_URL" -qc "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1 || true; done
  rm -f "$WORK"/*-broker.db*
}

# start_stack NAME: a database of its own at $DATABASE_URL's server, then `ptrack broker`,
# the processor and the collector (logs in $WORK/NAME-*.log), ready and with the topic
# made. Sets DB_URL, COLLECTOR_PORT, BROKER_PID, PROCESSOR_PID and COLLECTOR_PID.
# With NO_PROCESSOR=1 the processor is not started (start_processor NAME does it later).
start_stack() {
  : "${DATABASE_URL:?set DATABASE_URL, e.g. eval \"\$(scripts/test --start)\"}"
  local db="ptrack_bench_$$_$1"
  "$PSQL" "$DATABASE_URL" -qc "CREATE DATABASE $db" >/dev/null
  DBS+=("$db")
  DB_URL="${DATABASE_URL%/*}/$db"
  local kafka
  kafka="$(free_port)"; COLLECTOR_PORT="$(free_port)"
  "$BIN/ptrack" broker --addr "127.0.0.1:$kafka" --data "$WORK/$1-broker.db" >"$WORK/$1-broker.log" 2>&1 &
  BROKER_PID=$!; PIDS+=($!)
  wait_port "$kafka"
  export KAFKA_BROKERS="127.0.0.1:$kafka" KAFKA_TOPIC="bench-events"
  [ "${NO_PROCESSOR:-0}" = 1 ] || start_processor "$1"
  COLLECTOR_ADDR="127.0.0.1:$COLLECTOR_PORT" "$BIN/ptrack-collector" >"$WORK/$1-collector.log" 2>&1 &
  COLLECTOR_PID=$!; PIDS+=($!)
  wait_port "$COLLECTOR_PORT"
  # The topic exists once the collector is ready.
  for _ in $(seq 1 100); do curl -fs "http://127.0.0.1:$COLLECTOR_PORT/ready" >/dev/null && break; sleep 0.1; done
}

# start_processor NAME: the processor, against the broker and database of start_stack
# NAME, ready. Sets PROCESSOR_PID.
start_processor() {
  local port
  port="$(free_port)"
  DATABASE_URL="$DB_URL" PROCESSOR_ADDR="127.0.0.1:$port" "$BIN/ptrack-processor" >"$WORK/$1-processor.log" 2>&1 &
  PROCESSOR_PID=$!; PIDS+=($!)
  wait_port "$port"
}
