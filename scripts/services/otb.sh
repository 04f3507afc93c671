#!/usr/bin/env bash
# Orfeo Toolbox command-line applications (Debian 12 package otb-bin, OTB 8.1.1) for the viq-proc-otb adapter.
#
#   otb.sh install   install otb-bin when otbcli_BandMath is missing (idempotent; needs root or sudo)
#   otb.sh status    print the OTB version and the number of otbcli_* applications
#
# Debian 12 ships no OTB Python bindings; the adapter runs the otbcli_<App> launchers.
set -euo pipefail

say() { echo "otb.sh: $*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    say "error: need root or sudo to run: $*"; exit 1
  fi
}

status() {
  if ! command -v otbcli_BandMath >/dev/null 2>&1; then
    say "OTB is not installed (run: scripts/services/otb.sh install)"
    return 1
  fi
  local version count
  version="$(dpkg-query -W -f='${Version}' otb-bin 2>/dev/null || echo unknown)"
  count="$(compgen -c otbcli_ | sort -u | wc -l)"
  echo "otb-bin $version, $count otbcli_* applications"
}

install() {
  if command -v otbcli_BandMath >/dev/null 2>&1; then
    status
    return 0
  fi
  say "installing otb-bin (Debian package)"
  export DEBIAN_FRONTEND=noninteractive
  if ! as_root apt-get install -y -q --no-install-recommends otb-bin >/dev/null; then
    as_root apt-get update -q >/dev/null
    as_root apt-get install -y -q --no-install-recommends otb-bin >/dev/null
  fi
  status
}

case "${1:-}" in
  install) install ;;
  status) status ;;
  *) echo "usage: $0 install|status" >&2; exit 2 ;;
esac
