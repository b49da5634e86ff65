#!/usr/bin/env bash
# Debian's Chromium for page tests (driven by playwright-core with executablePath /usr/bin/chromium).
#   bash scripts/chromium.sh install
set -euo pipefail
case "${1:-}" in
  install)
    if command -v chromium >/dev/null 2>&1; then exit 0; fi
    if ! command -v apt-get >/dev/null 2>&1; then echo "[chromium.sh] apt-get missing: install Chromium by hand" >&2; exit 1; fi
    SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
    echo "[chromium.sh] installing Debian's chromium" >&2
    $SUDO apt-get install -y chromium >/dev/null 2>&1 || { $SUDO apt-get update >/dev/null 2>&1 && $SUDO apt-get install -y chromium >/dev/null; }
    command -v chromium >/dev/null 2>&1
    ;;
  *) echo "usage: $0 install" >&2; exit 2 ;;
esac
