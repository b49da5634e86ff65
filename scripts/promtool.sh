#!/usr/bin/env bash
# Prometheus' promtool (rule and config checker), built from the Go module proxy with nothing but
# a Go toolchain, the way scripts/jaeger.sh builds Jaeger. Used by test/deploy/prometheus-rules.test.ts.
#
#   bash scripts/promtool.sh install   # build .services/promtool/bin/promtool-<version> (cached)
#   bash scripts/promtool.sh path      # prints PROMTOOL=<binary> (after install)
#
# Env: PROMTOOL_VERSION (default v0.316.0, the Go module version of Prometheus 3.x' promtool).
# Built from a throwaway module that requires it as a tool (`go get -tool`), under
# .services/promtool/build, like Jaeger (the prometheus module has replace-free deps, but its
# size makes the first build take minutes on a small machine).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="$ROOT/.services/promtool"
VERSION="${PROMTOOL_VERSION:-v0.316.0}"
BIN="$BASE/bin/promtool-${VERSION#v}"
BUILD="$BASE/build"

log() { echo "[promtool.sh] $*" >&2; }
die() { log "error: $*"; exit 1; }

find_go() {
  if command -v go >/dev/null 2>&1; then return 0; fi
  if [[ -x /usr/local/go/bin/go ]]; then export PATH="/usr/local/go/bin:$PATH"; return 0; fi
  die "go is required to build promtool (Go 1.24+; https://go.dev/dl/)"
}

cmd_install() {
  if [[ -x "$BIN" ]]; then
    log "promtool $VERSION already built: $BIN"
    return 0
  fi
  find_go
  mkdir -p "$BUILD" "$BASE/bin"
  cd "$BUILD"
  if [[ ! -f go.mod ]]; then
    go mod init tollgate.local/promtool-build >&2
  fi
  log "fetching github.com/prometheus/prometheus/cmd/promtool@$VERSION from the Go module proxy"
  go get -tool "github.com/prometheus/prometheus/cmd/promtool@$VERSION" >&2
  log "building (this takes several minutes on a small machine)"
  local tmp="$BIN.tmp.$$"
  go build -trimpath -o "$tmp" github.com/prometheus/prometheus/cmd/promtool >&2
  mv -f "$tmp" "$BIN"
  log "built $BIN"
}

cmd_path() {
  [[ -x "$BIN" ]] || die "promtool not built: run bash scripts/promtool.sh install"
  echo "PROMTOOL=$BIN"
}

case "${1:-}" in
  install) cmd_install ;;
  path) cmd_path ;;
  *) echo "usage: $0 install|path" >&2; exit 2 ;;
esac
