# shellcheck shell=bash
# Names, addresses and small helpers shared by the topology scripts (sourced by ../topology.sh).

TOPO_DIR="${VIQ_TOPO_DIR:-/var/tmp/viq-topology}"
N_EXEC="${VIQ_TOPO_EXEC_HOSTS:-2}"
SLOTS="${VIQ_TOPO_SLOTS:-2}"
[[ "$N_EXEC" =~ ^[1-8]$ ]] || { echo "topology.sh: VIQ_TOPO_EXEC_HOSTS must be 1..8" >&2; exit 2; }

NET_PREFIX=10.78.0
NET_CIDR="$NET_PREFIX.0/24"
NS_LAN=viq-lan
BRIDGE=viqlan0
NS_HEAD=viq-head
NS_DB=viq-db
HEAD_NAME=head
DB_NAME=db
HEAD_ADDR="$NET_PREFIX.1"
DB_ADDR="$NET_PREFIX.20"
DB_PORT=5432
EXEC_NS=()
EXEC_NAMES=()
for ((i = 1; i <= N_EXEC; i++)); do
  EXEC_NS+=("viq-exec$i")
  EXEC_NAMES+=("exec$i")
done
exec_addr() { echo "$NET_PREFIX.$(( 10 + $1 ))"; }

# Grid Engine cell of the topology (the single-host cell "default" is left alone)
export SGE_ROOT=/var/lib/gridengine
export SGE_CELL=viqnet
export SGE_QMASTER_PORT=6454
export SGE_EXECD_PORT=6455
QUEUE=viq.q
VIQ_DRMAA=/usr/local/lib/viq-sge/libdrmaa.so.1.0
# The machine's own name: clients on the head host run without a UTS namespace of their own and so
# call themselves by it; the head's hosts file and host_aliases make it another name of "head".
MACHINE="$(hostname)"

say() { echo "topology.sh: $*" >&2; }
fail() { say "error: $*"; exit 1; }
need_root() { [ "$(id -u)" = 0 ] || fail "needs root (network namespaces, daemons)"; }

poll() { # seconds what command...: retry every 0.3 s until the command succeeds
  local secs="$1" limit=$(( SECONDS + $1 )) what="$2"
  shift 2
  until "$@" >/dev/null 2>&1; do
    (( SECONDS < limit )) || fail "gave up after ${secs}s waiting for $what"
    sleep 0.3
  done
}

ns_exists() { [ -e "/run/netns/$1" ]; }

ns_kill_all() { # ns: SIGKILL every process of a namespace and wait until none is left
  local pids deadline=$(( SECONDS + 15 ))
  ns_exists "$1" || return 0
  while pids="$(ip netns pids "$1" 2>/dev/null)" && [ -n "$pids" ]; do
    # shellcheck disable=SC2086
    kill -9 $pids 2>/dev/null || true
    (( SECONDS < deadline )) || { say "processes left in $1: $pids"; return 1; }
    sleep 0.2
  done
}

missing_packages() { # package...: print those not installed
  local p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || echo "$p"
  done
}

head_env() {
  # settings for a process on the head host (valid inside namespace viq-head only)
  echo "# VIQ on the distributed test topology: valid inside network namespace $NS_HEAD (topology.sh run …)"
  echo "export SGE_ROOT=$SGE_ROOT SGE_CELL=$SGE_CELL SGE_QMASTER_PORT=$SGE_QMASTER_PORT SGE_EXECD_PORT=$SGE_EXECD_PORT"
  echo "export DRMAA_LIBRARY_PATH=$VIQ_DRMAA"
  echo "export VIQ_EXECUTOR=drmaa VIQ_DRMAA_QUEUE=$QUEUE"
  echo "export VIQ_DATABASE_URL=$(db_url)"
  echo "export VIQ_TOPOLOGY_NETNS=$NS_HEAD VIQ_TOPOLOGY_EXEC_HOSTS=$(IFS=,; echo "${EXEC_NAMES[*]}")"
}

on_head() { # command...: run on the head host with the head's settings
  ns_exists "$NS_HEAD" || fail "the topology is down (topology.sh up)"
  eval "$(head_env)"
  exec ip netns exec "$NS_HEAD" "$@"
}
