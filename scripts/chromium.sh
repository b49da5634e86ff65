#!/usr/bin/env bash
# Debian's Chromium for page tests (driven by playwright-core with executablePath /usr/bin/chromium).
#   bash scripts/chromium.sh install
# Installs it with apt-get when missing (apt_install waits for the dpkg lock and refreshes the
# index once), then probes that it runs (`chromium --headless --dump-dom about:blank`), retrying
# until CHROMIUM_START_TIMEOUT_S (default 60) whatever the transient failure; when it gives up it
# says what the last probe answered.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TIMEOUT="${CHROMIUM_START_TIMEOUT_S:-60}"

log() { echo "[chromium.sh] $*" >&2; }
die() { log "error: $*"; exit 1; }

# shellcheck source=lib.sh
source "$ROOT/scripts/lib.sh"

LAST_PROBE="no probe yet"
probe() {
  local out
  if out="$(timeout 20 chromium --headless --no-sandbox --disable-gpu --dump-dom about:blank 2>&1)" && [[ "$out" == *"<html"* ]]; then return 0; fi
  LAST_PROBE="chromium --headless --dump-dom about:blank: $(echo "$out" | tail -n 2 | tr '\n' ' ' | cut -c1-200)"
  return 1
}

case "${1:-}" in
  install)
    if ! command -v chromium >/dev/null 2>&1; then
      command -v apt-get >/dev/null 2>&1 || die "apt-get missing: install Chromium by hand"
      apt_install chromium
    fi
    command -v chromium >/dev/null 2>&1 || die "chromium still missing after apt-get"
    deadline=$((SECONDS + TIMEOUT))
    until probe; do
      ((SECONDS < deadline)) || die "chromium does not run after ${TIMEOUT}s (last probe: $LAST_PROBE)"
      sleep 1
    done
    ;;
  *) echo "usage: $0 install" >&2; exit 2 ;;
esac
