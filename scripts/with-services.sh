#!/usr/bin/env bash
# Run a command with a real Redis, a real Kafka, a real ClickHouse server and a real Jaeger started for it
# (installed first when missing, together with Debian's Chromium for page tests),
# each on a free port with its data in a temp dir; all are stopped when the command ends.
#
#   bash scripts/with-services.sh bun test
#
# If a service cannot be installed or started, the command still runs without its URL: under
# CI=true the tests that need it then fail loudly (never a silent skip).
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
# Bun installed by the Makefile into .tools/ (a fresh machine has no global bun): the service
# scripts use it too (e.g. the Kafka warm-up client).
if [[ -x "$ROOT/.tools/node_modules/.bin/bun" ]]; then export PATH="$ROOT/.tools/node_modules/.bin:$PATH"; fi

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

REDIS_PORT="$(free_port)"
KAFKA_PORT="$(free_port)"
KAFKA_CONTROLLER_PORT="$(free_port)"
CLICKHOUSE_HTTP_PORT="$(free_port)" # HTTP only: scripts/clickhouse.sh opens no TCP/interserver port unless asked
JAEGER_OTLP_PORT="$(free_port)"
JAEGER_QUERY_PORT="$(free_port)"
export REDIS_PORT KAFKA_PORT KAFKA_CONTROLLER_PORT CLICKHOUSE_HTTP_PORT JAEGER_OTLP_PORT JAEGER_QUERY_PORT

cleanup() {
  bash scripts/jaeger.sh stop >/dev/null 2>&1 || true
  bash scripts/clickhouse.sh stop >/dev/null 2>&1 || true
  bash scripts/kafka.sh stop >/dev/null 2>&1 || true
  bash scripts/redis.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT INT TERM

t0=$SECONDS
if bash scripts/chromium.sh install; then
  echo "[services] chromium at /usr/bin/chromium ($((SECONDS - t0)) s)" >&2
else
  echo "[services] WARNING: Chromium could not be installed; page tests will fail" >&2
fi

# Schemathesis (API conformance suite) in a virtualenv under .services/.
t0=$SECONDS
if bash scripts/schemathesis.sh install && out="$(bash scripts/schemathesis.sh path)"; then
  export "$out"
  echo "[services] schemathesis ready ($((SECONDS - t0)) s)" >&2
else
  echo "[services] WARNING: Schemathesis could not be installed; the conformance suite will fail" >&2
fi

# promtool (Prometheus rule checker, built from the Go module proxy; cached under .services/).
t0=$SECONDS
if bash scripts/promtool.sh install && out="$(bash scripts/promtool.sh path)"; then
  export "$out"
  echo "[services] promtool ready ($((SECONDS - t0)) s)" >&2
else
  echo "[services] WARNING: promtool could not be built; the Prometheus rules test will fail" >&2
fi

# The semantic cache's built-in embedder model (fetched once, checksum-pinned, under .services/).
t0=$SECONDS
if bash scripts/embedder-model.sh install && out="$(bash scripts/embedder-model.sh path)"; then
  export "$out"
  echo "[services] embedder model ready ($((SECONDS - t0)) s)" >&2
else
  echo "[services] WARNING: the embedder model could not be installed; the local-embedder tests will fail" >&2
fi

# Install and start one service with its script; export the URL line it prints.
start_service() { # name, script
  local t0=$SECONDS out
  if bash "scripts/$2" install >&2 && out="$(bash "scripts/$2" start)"; then
    eval "export $out"
    echo "[services] $1 ready: $out ($((SECONDS - t0)) s)" >&2
  else
    echo "[services] WARNING: $1 could not be started; tests that need it will fail" >&2
  fi
}
start_service redis redis.sh
start_service kafka kafka.sh
start_service clickhouse clickhouse.sh
start_service jaeger jaeger.sh

"$@"
