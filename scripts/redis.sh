#!/usr/bin/env bash
# Start/stop a throwaway Redis for tests and local runs (no persistence).
#
#   scripts/redis.sh install   install Debian's redis-server if it is missing (idempotent)
#   scripts/redis.sh start     start redis-server on 127.0.0.1:$REDIS_PORT (default 16379),
#                              wait for PONG, print REDIS_URL=redis://127.0.0.1:<port>
#   scripts/redis.sh stop      shut it down (SHUTDOWN NOSAVE, then kill by pid) and remove its run dir
#   scripts/redis.sh status    report whether it runs (exit 0 when it answers PING, 1 otherwise)
#
# Typical use:  bash scripts/redis.sh install && eval "$(bash scripts/redis.sh start)"
# Run files live under .services/redis/run-<port>/ (data dir, pid file, log).
# Only `REDIS_URL=...` goes to stdout; progress and errors go to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PORT="${REDIS_PORT:-16379}"
HOST="127.0.0.1"
RUN_DIR="$ROOT/.services/redis/run-$PORT"
PID_FILE="$RUN_DIR/redis.pid"
LOG_FILE="$RUN_DIR/redis.log"
START_TIMEOUT_S="${REDIS_START_TIMEOUT_S:-20}"

log() { echo "redis.sh: $*" >&2; }
die() { log "error: $*"; exit 1; }

# shellcheck source=lib.sh
source "$ROOT/scripts/lib.sh"

# Bounded: something that accepts connections but never answers must not hang us.
# Any answer but PONG (connection refused, LOADING, a timeout) is transient until the deadline;
# LAST_PROBE keeps the last one, for the message when we give up.
LAST_PROBE="no probe yet"
ping_ok() {
  local out
  out="$(timeout 1 redis-cli -h "$HOST" -p "$PORT" ping 2>&1 || echo "(exit $?)")"
  [ "$out" = "PONG" ] && return 0
  LAST_PROBE="redis-cli PING: $(echo "$out" | tr '\n' ' ' | cut -c1-200)"
  return 1
}

cmd_install() {
  if command -v redis-server >/dev/null 2>&1 && command -v redis-cli >/dev/null 2>&1; then
    log "redis-server already installed: $(redis-server --version | head -n1)"
    return 0
  fi
  apt_install redis-server
  # The Debian package may start a system service on :6379; we never use it, so leave it alone.
  command -v redis-server >/dev/null 2>&1 || die "redis-server still missing after install"
  log "installed: $(redis-server --version | head -n1)"
}

cmd_start() {
  command -v redis-server >/dev/null 2>&1 || die "redis-server not found: run 'scripts/redis.sh install' first"
  command -v redis-cli >/dev/null 2>&1 || die "redis-cli not found: run 'scripts/redis.sh install' first"

  local pid
  if pid="$(read_pid)" && pid_alive "$pid" && ping_ok; then
    log "already running on $HOST:$PORT (pid $pid)"
    echo "REDIS_URL=redis://$HOST:$PORT"
    return 0
  fi
  if ping_ok; then
    die "port $PORT already answers PING but is not ours (no live pid in $PID_FILE); pick another REDIS_PORT"
  fi

  rm -rf "$RUN_DIR"
  mkdir -p "$RUN_DIR/data"
  # Relative to the server's cwd would be fragile: pass absolute paths.
  if ! redis-server \
      --bind "$HOST" --port "$PORT" --protected-mode yes \
      --daemonize yes --pidfile "$PID_FILE" --logfile "$LOG_FILE" --dir "$RUN_DIR/data" \
      --save "" --appendonly no >&2; then
    [ -f "$LOG_FILE" ] && tail -n 20 "$LOG_FILE" >&2 || true
    die "redis-server failed to start on port $PORT"
  fi

  local deadline=$((SECONDS + START_TIMEOUT_S))
  until ping_ok; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "no PONG from $HOST:$PORT after ${START_TIMEOUT_S}s (last probe: $LAST_PROBE); last log lines:"
      [ -f "$LOG_FILE" ] && tail -n 20 "$LOG_FILE" >&2 || true
      cmd_stop || true
      exit 1
    fi
    if [ -f "$LOG_FILE" ] && grep -qE 'Failed listening|Could not create server TCP|Fatal error|FATAL CONFIG' "$LOG_FILE"; then
      # Daemonized, so the parent exited 0; the child logged why it died.
      tail -n 20 "$LOG_FILE" >&2
      rm -rf "$RUN_DIR"
      die "redis-server exited on port $PORT"
    fi
    sleep 0.1
  done
  log "started on $HOST:$PORT (pid $(read_pid || echo '?'), dir $RUN_DIR)"
  echo "REDIS_URL=redis://$HOST:$PORT"
}

cmd_stop() {
  local pid=""
  pid="$(read_pid)" || pid=""
  if command -v redis-cli >/dev/null 2>&1 && ping_ok; then
    if [ -n "$pid" ] && pid_alive "$pid"; then
      redis-cli -h "$HOST" -p "$PORT" shutdown nosave >/dev/null 2>&1 || true
    else
      log "port $PORT answers but no pid file of ours: not shutting down someone else's Redis"
    fi
  fi
  if [ -n "$pid" ]; then
    if ! wait_dead "$pid" 50; then
      log "pid $pid still alive after SHUTDOWN; sending SIGTERM"
      kill "$pid" 2>/dev/null || true
      wait_dead "$pid" 30 || true
    fi
    if pid_alive "$pid"; then
      log "pid $pid ignored SIGTERM; sending SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  rm -rf "$RUN_DIR"
  log "stopped (port $PORT)"
}

cmd_status() {
  local pid=""
  pid="$(read_pid)" || pid=""
  if command -v redis-cli >/dev/null 2>&1 && ping_ok; then
    if [ -n "$pid" ] && pid_alive "$pid"; then
      echo "running: redis://$HOST:$PORT (pid $pid, dir $RUN_DIR)"
    else
      echo "running: redis://$HOST:$PORT (not started by this script)"
    fi
    return 0
  fi
  if [ -n "$pid" ] && pid_alive "$pid"; then
    echo "unresponsive: pid $pid alive but no PONG on $HOST:$PORT"
  else
    echo "stopped: nothing answers on $HOST:$PORT"
  fi
  return 1
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 {install|start|stop|status}   (port: REDIS_PORT, default 16379)" >&2; exit 2 ;;
esac
