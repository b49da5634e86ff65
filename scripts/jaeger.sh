#!/usr/bin/env bash
# A Jaeger v2 all-in-one (OTLP receiver + in-memory storage + query API) for tests and local runs,
# built from the Go module proxy with nothing but a Go toolchain.
#
#   bash scripts/jaeger.sh install   # build .services/jaeger/bin/jaeger-<version> (cached; 2nd run is instant)
#   export $(bash scripts/jaeger.sh start)  # prints JAEGER_OTLP_URL=http://127.0.0.1:<p> JAEGER_QUERY_URL=http://127.0.0.1:<q>
#   bash scripts/jaeger.sh status
#   bash scripts/jaeger.sh stop
#
# Env: JAEGER_OTLP_PORT (default 14318), JAEGER_QUERY_PORT (default 16686),
#      JAEGER_VERSION (default v1.75.0), JAEGER_START_TIMEOUT seconds (default 60).
# A plain `go install github.com/jaegertracing/jaeger/cmd/jaeger@v1.75.0` is refused because the
# module has `replace` directives, so the install builds it from a throwaway module that
# requires it as a tool (`go get -tool`), under .services/jaeger/build.
# Run files live under .services/jaeger/run-<otlp port>/ (config, pid, log; removed by stop).
# Only `start` writes to stdout (the URL line); progress goes to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="$ROOT/.services/jaeger"
VERSION="${JAEGER_VERSION:-v1.75.0}"
BIN="$BASE/bin/jaeger-${VERSION#v}"
BUILD="$BASE/build"
HOST="127.0.0.1"
OTLP_PORT="${JAEGER_OTLP_PORT:-14318}"
QUERY_PORT="${JAEGER_QUERY_PORT:-16686}"
RUN="$BASE/run-$OTLP_PORT"
PID_FILE="$RUN/jaeger.pid"
LOG_FILE="$RUN/jaeger.log"
TIMEOUT="${JAEGER_START_TIMEOUT:-60}"

log() { echo "[jaeger.sh] $*" >&2; }
die() { log "error: $*"; exit 1; }

# shellcheck source=lib.sh
source "$ROOT/scripts/lib.sh"

find_go() {
  if command -v go >/dev/null 2>&1; then return 0; fi
  if [[ -x /usr/local/go/bin/go ]]; then export PATH="/usr/local/go/bin:$PATH"; return 0; fi
  die "go is required to build Jaeger (Go 1.24+; https://go.dev/dl/)"
}

cmd_install() {
  if [[ -x "$BIN" ]]; then
    log "jaeger $VERSION already built: $BIN"
    return 0
  fi
  find_go
  mkdir -p "$BUILD" "$BASE/bin"
  cd "$BUILD"
  if [[ ! -f go.mod ]]; then
    go mod init tollgate.local/jaeger-build >&2
  fi
  log "fetching github.com/jaegertracing/jaeger/cmd/jaeger@$VERSION from the Go module proxy"
  go get -tool "github.com/jaegertracing/jaeger/cmd/jaeger@$VERSION" >&2
  log "building (this takes several minutes on a small machine)"
  local tmp="$BIN.tmp.$$"
  go build -trimpath -o "$tmp" github.com/jaegertracing/jaeger/cmd/jaeger >&2
  mv -f "$tmp" "$BIN"
  log "built $BIN"
}

http_ok() { curl -fsS -m 2 -o /dev/null "$1" 2>/dev/null; }

write_config() {
  cat >"$RUN/config.yaml" <<YAML
# Jaeger v2 all-in-one defaults (cmd/jaeger/internal/all-in-one.yaml) with the ports we need:
# OTLP/HTTP and the query API on $HOST, no OTLP/gRPC, in-memory storage.
service:
  extensions: [jaeger_storage, jaeger_query, healthcheckv2]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    resource:
      service.name: jaeger
    metrics:
      level: none
    logs:
      level: warn

extensions:
  healthcheckv2:
    use_v2: true
    http:
      endpoint: $HOST:$HEALTH_PORT
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: $HOST:$QUERY_PORT
    grpc:
      endpoint: $HOST:$QUERY_GRPC_PORT
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 100000

receivers:
  otlp:
    protocols:
      http:
        endpoint: $HOST:$OTLP_PORT

processors:
  batch:
    timeout: 200ms

exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
YAML
}

# A port nothing answers on right now (no dependency beyond bash's /dev/tcp).
free_port() {
  local p i
  for ((i = 0; i < 100; i++)); do
    p=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/$HOST/$p") 2>/dev/null; then echo "$p"; return 0; fi
  done
  die "no free port found"
}

urls() { echo "JAEGER_OTLP_URL=http://$HOST:$OTLP_PORT JAEGER_QUERY_URL=http://$HOST:$QUERY_PORT"; }

cmd_start() {
  [[ -x "$BIN" ]] || die "jaeger not built: run 'scripts/jaeger.sh install' first"
  local pid
  if pid="$(read_pid)" && pid_alive "$pid" && http_ok "http://$HOST:$QUERY_PORT/api/services"; then
    log "already running (pid $pid)"
    urls
    return 0
  fi
  if http_ok "http://$HOST:$QUERY_PORT/"; then
    die "port $QUERY_PORT already answers HTTP but is not ours; pick another JAEGER_QUERY_PORT"
  fi
  rm -rf "$RUN"
  mkdir -p "$RUN"
  HEALTH_PORT="${JAEGER_HEALTH_PORT:-$(free_port)}"
  QUERY_GRPC_PORT="${JAEGER_QUERY_GRPC_PORT:-$(free_port)}"
  write_config
  nohup "$BIN" --config "$RUN/config.yaml" >"$LOG_FILE" 2>&1 </dev/null &
  echo $! >"$PID_FILE"
  pid="$(read_pid)"
  local deadline=$((SECONDS + TIMEOUT))
  # Ready when the query API answers and the OTLP receiver accepts a (empty) trace export.
  # Any transient error (refused, reset, 5xx) just retries until the deadline.
  until http_ok "http://$HOST:$QUERY_PORT/api/services" &&
    curl -fsS -m 2 -o /dev/null -H 'content-type: application/json' -d '{"resourceSpans":[]}' \
      "http://$HOST:$OTLP_PORT/v1/traces" 2>/dev/null; do
    if ! pid_alive "$pid"; then
      tail -n 30 "$LOG_FILE" >&2 || true
      rm -rf "$RUN"
      die "jaeger exited during start"
    fi
    if [[ "$SECONDS" -ge "$deadline" ]]; then
      log "not ready after ${TIMEOUT}s; last log lines:"
      tail -n 30 "$LOG_FILE" >&2 || true
      cmd_stop || true
      exit 1
    fi
    sleep 0.2
  done
  log "started (pid $pid, dir $RUN)"
  urls
}

cmd_stop() {
  local pid=""
  pid="$(read_pid)" || pid=""
  if [[ -n "$pid" ]] && pid_alive "$pid"; then
    kill "$pid" 2>/dev/null || true
    if ! wait_dead "$pid" 100; then
      log "pid $pid ignored SIGTERM; sending SIGKILL"
      kill -9 "$pid" 2>/dev/null || true
      wait_dead "$pid" 30 || true
    fi
  fi
  rm -rf "$RUN"
  log "stopped (otlp port $OTLP_PORT)"
}

cmd_status() {
  local pid=""
  pid="$(read_pid)" || pid=""
  if [[ -n "$pid" ]] && pid_alive "$pid" && http_ok "http://$HOST:$QUERY_PORT/api/services"; then
    echo "running: $(urls) (pid $pid, dir $RUN)"
    return 0
  fi
  if [[ -n "$pid" ]] && pid_alive "$pid"; then
    echo "unresponsive: pid $pid alive but the query API on $HOST:$QUERY_PORT does not answer"
  else
    echo "stopped"
  fi
  return 1
}

case "${1:-}" in
  install) cmd_install ;;
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 {install|start|stop|status}   (ports: JAEGER_OTLP_PORT, JAEGER_QUERY_PORT)" >&2; exit 2 ;;
esac
