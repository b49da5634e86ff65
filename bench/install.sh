#!/usr/bin/env bash
# Installs what `make bench` compares against, idempotently, outside the project's dependencies:
#   wrk (Debian package), Portkey's gateway (npm, into .services/bench/portkey),
#   LiteLLM's proxy (PyPI, in a virtualenv at .services/bench/litellm).
# Versions: PORTKEY_VERSION / LITELLM_VERSION (default: latest). Each part that fails is reported
# and skipped (the harness then marks that setup as not installed) instead of stopping the run.
set -uo pipefail
cd "$(dirname "$0")/.."
log() { echo "[bench-install] $*" >&2; }
die() { log "$*"; exit 1; }
source scripts/lib.sh
DIR=.services/bench
mkdir -p "$DIR"

command -v wrk >/dev/null 2>&1 || apt_install wrk || log "wrk install failed"

if [ ! -f "$DIR/portkey/node_modules/@portkey-ai/gateway/build/start-server.js" ]; then
  log "installing @portkey-ai/gateway${PORTKEY_VERSION:+@$PORTKEY_VERSION} into $DIR/portkey"
  npm install --prefix "$DIR/portkey" --no-save --no-audit --no-fund --ignore-scripts "@portkey-ai/gateway${PORTKEY_VERSION:+@$PORTKEY_VERSION}" >&2 || log "portkey install failed"
fi

if [ ! -x "$DIR/litellm/bin/litellm" ]; then
  log "installing litellm[proxy]${LITELLM_VERSION:+==$LITELLM_VERSION} into $DIR/litellm"
  PY=$(command -v python3 || true)
  if [ -z "$PY" ]; then log "python3 missing: LiteLLM skipped"; else
    "$PY" -m venv "$DIR/litellm" >&2 && "$DIR/litellm/bin/pip" install -q "litellm[proxy]${LITELLM_VERSION:+==$LITELLM_VERSION}" >&2 || log "litellm install failed"
  fi
fi
exit 0
