#!/usr/bin/env bash
# Debian's Chromium for the browser tests (tests/browser/, Playwright Python drives /usr/bin/chromium headless).
#   chromium.sh install   install the Debian package if /usr/bin/chromium is missing (no browser download by
#                         Playwright: `playwright install` is never run)
#   chromium.sh path      print the executable path
set -euo pipefail
BIN=/usr/bin/chromium

install() {
  if [ -x "$BIN" ]; then
    return 0
  fi
  echo "chromium.sh: installing chromium" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  apt-get install -y -q --no-install-recommends chromium >/dev/null
  [ -x "$BIN" ] || { echo "chromium.sh: $BIN still missing after install" >&2; exit 1; }
}

case "${1:-}" in
  install) install ;;
  path) echo "$BIN" ;;
  *) echo "usage: $0 install|path" >&2; exit 2 ;;
esac
