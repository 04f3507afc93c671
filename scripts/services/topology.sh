#!/usr/bin/env bash
# A distributed VIQ installation on one machine: every "host" is a network namespace on a private LAN.
#
#   viq-lan    the switch: bridge viqlan0, one veth port per host (no address, nothing runs here)
#   viq-head   10.78.0.1   "head"   Grid Engine qmaster (cell viqnet), the VIQ daemon and API, all clients
#   viq-db     10.78.0.20  "db"     PostgreSQL 15 + PostGIS on 10.78.0.20:5432, password (scram) auth
#   viq-execN  10.78.0.1N  "execN"  one Grid Engine execd each (N = 1..VIQ_TOPO_EXEC_HOSTS)
#
# Storage is shared the way NFS would share it: all namespaces see the same file system.
#
#   topology.sh up            install what is missing, create the namespaces, start every daemon (idempotent)
#   topology.sh down          stop everything and remove the namespaces (idempotent)
#   topology.sh status        hosts, daemons, queue instances, database
#   topology.sh env           "export …" settings for processes on the head host (for eval)
#   topology.sh run CMD…      run CMD on the head host with those settings
#   topology.sh kill-exec N   crash execution host N: SIGKILL every process in its namespace
#   topology.sh start-exec N  start execution host N's execd again
#   topology.sh db-stop       crash the database host (SIGKILL every process in viq-db)
#   topology.sh db-start      start the database again (crash recovery)
#
# Coexists with scripts/services/sge.sh (cell "default", ports 6444/6445 in the root namespace) and
# scripts/services/postgis.sh (127.0.0.1:55432): this cell is "viqnet" on ports 6454/6455, its spool is
# /var/spool/gridengine/viqnet and its state lives in VIQ_TOPO_DIR. Root only; never uses systemd.
#
# Settings: VIQ_TOPO_EXEC_HOSTS (default 2, at most 8), VIQ_TOPO_SLOTS (slots per execution host, default 2),
# VIQ_TOPO_DIR (default /var/tmp/viq-topology).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=topology/common.sh
source "$HERE/topology/common.sh"
# shellcheck source=topology/net.sh
source "$HERE/topology/net.sh"
# shellcheck source=topology/sge.sh
source "$HERE/topology/sge.sh"
# shellcheck source=topology/db.sh
source "$HERE/topology/db.sh"

usage() {
  sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
  exit 2
}

cmd_up() {
  need_root
  local t0=$SECONDS
  sge_install
  db_install
  net_up
  db_up
  sge_up
  say "up in $(( SECONDS - t0 )) s: head $HEAD_ADDR, db $DB_ADDR, execution hosts ${EXEC_NAMES[*]}"
}

cmd_down() {
  need_root
  local t0=$SECONDS
  sge_down
  db_down
  net_down
  say "down in $(( SECONDS - t0 )) s"
}

cmd_status() {
  local ns rc=0
  for ns in "$NS_LAN" "$NS_HEAD" "$NS_DB" "${EXEC_NS[@]}"; do
    if ns_exists "$ns"; then
      printf '%-10s up   %s process(es)\n' "$ns" "$(ip netns pids "$ns" 2>/dev/null | wc -l)"
    else
      printf '%-10s down\n' "$ns"
      rc=1
    fi
  done
  db_status || rc=1
  sge_status || rc=1
  return "$rc"
}

case "${1:-}" in
  up) cmd_up ;;
  down) cmd_down ;;
  status) cmd_status ;;
  env) head_env ;;
  run)
    shift
    [ "$#" -gt 0 ] || usage
    on_head "$@"
    ;;
  kill-exec) need_root; exec_kill "${2:?host number}" ;;
  start-exec) need_root; exec_start "${2:?host number}" ;;
  db-stop) need_root; db_crash ;;
  db-start) need_root; db_start ;;
  *) usage ;;
esac
