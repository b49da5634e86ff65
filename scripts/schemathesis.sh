#!/usr/bin/env bash
# Schemathesis (the property-based OpenAPI fuzzer, from PyPI) in a virtualenv under
# .services/schemathesis/, for the API conformance suite (test/api/conformance.test.ts).
#
#   bash scripts/schemathesis.sh install   # create the venv and pip-install schemathesis (cached)
#   bash scripts/schemathesis.sh path      # print SCHEMATHESIS_BIN=<path to st> (one line)
#
# Env: SCHEMATHESIS_VERSION (default 4.32.5). Needs python3 with the venv module; on Debian the
# python3-venv package is installed with apt-get when it is missing.
# Only `path` writes to stdout; progress goes to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="${SCHEMATHESIS_VERSION:-4.32.5}"
VENV="$ROOT/.services/schemathesis/venv-$VERSION"
BIN="$VENV/bin/st"

log() { echo "[schemathesis.sh] $*" >&2; }
die() { log "error: $*"; exit 1; }

# shellcheck source=lib.sh
source "$ROOT/scripts/lib.sh"

ensure_python() {
  command -v python3 >/dev/null 2>&1 || apt_install python3
  # Debian splits venv (and ensurepip, which venv needs) into python3-venv.
  if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
    apt_install python3-venv
  fi
  python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || die "python3 has no working venv module"
}

install() {
  if [[ -x "$BIN" && -f "$VENV/.installed" ]]; then
    log "schemathesis $VERSION already installed in $VENV"
    return 0
  fi
  ensure_python
  rm -rf "$VENV"
  mkdir -p "$(dirname "$VENV")"
  log "creating a virtualenv in $VENV"
  python3 -m venv "$VENV" >&2 || die "python3 -m venv failed"
  log "installing schemathesis==$VERSION from PyPI"
  local i
  for i in 1 2 3; do
    if "$VENV/bin/python" -m pip install -q --disable-pip-version-check "schemathesis==$VERSION" >&2; then
      touch "$VENV/.installed"
      log "installed: $("$BIN" --version 2>/dev/null | head -n1)"
      return 0
    fi
    log "pip install failed (try $i of 3)"
    sleep $((i * 2))
  done
  die "could not install schemathesis==$VERSION"
}

case "${1:-}" in
  install) install ;;
  path)
    [[ -x "$BIN" ]] || die "schemathesis not installed: run 'bash scripts/schemathesis.sh install'"
    echo "SCHEMATHESIS_BIN=$BIN"
    ;;
  *)
    echo "usage: $0 install|path" >&2
    exit 2
    ;;
esac
