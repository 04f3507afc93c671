#!/usr/bin/env bash
# Single-host Son of Grid Engine 8.1.9 (Debian 12 packages) for VIQ tests, CI and small installations:
# one qmaster, one execd, one queue and a DRMAA 1.0 library that Python can load next to GDAL.
#
#   sge.sh setup    install what is missing, configure, start both daemons, run a smoke job (idempotent)
#   sge.sh start    start the daemons of an already configured host (after stop, reboot or kill -9; a running
#                   execd is restarted when the qmaster was not running, see "start" below)
#   sge.sh stop     shut execd and qmaster down
#   sge.sh status   daemon pids and the queue
#   sge.sh env      print "export SGE_ROOT=… SGE_CELL=… DRMAA_LIBRARY_PATH=…" (for eval)
#
# Settings (environment): VIQ_SGE_QUEUE (default all.q), VIQ_SGE_SLOTS (default 4),
# VIQ_SGE_SMOKE=0 skips the smoke job. Needs root; never uses systemd or invoke-rc.d.
set -euo pipefail

export SGE_ROOT=/var/lib/gridengine
export SGE_CELL=default
QUEUE="${VIQ_SGE_QUEUE:-all.q}"
SLOTS="${VIQ_SGE_SLOTS:-4}"
CELL_DIR="$SGE_ROOT/$SGE_CELL/common"
SGE_BIN=/usr/lib/gridengine
QMASTER_PIDFILE=/var/spool/gridengine/qmaster/qmaster.pid
EXECD_PIDFILE=/var/run/gridengine/execd.pid
DEB_DRMAA=/usr/lib/gridengine-drmaa/lib/libdrmaa.so.1.0
# Debian links libdrmaa against jemalloc, whose static TLS block cannot be served to a dlopen()ed library
# ("cannot allocate memory in static TLS block"). libdrmaa only takes malloc/calloc/realloc/free from it,
# so a copy without that DT_NEEDED entry runs on glibc's allocator and coexists with rasterio's GDAL.
VIQ_DRMAA=/usr/local/lib/viq-sge/libdrmaa.so.1.0
PACKAGES=(gridengine-common gridengine-client gridengine-master gridengine-exec gridengine-drmaa1.0 patchelf)
HOST="$(hostname)"

say() { echo "sge.sh: $*" >&2; }
fail() { say "error: $*"; exit 1; }

# --- daemons ------------------------------------------------------------------------------------------
running_from() { # pidfile program: true when the pid in the file is a live process of that program
  local pid
  pid="$(cat "$1" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ "$(basename "$(readlink "/proc/$pid/exe" 2>/dev/null || true)")" = "$2" ]
}
qmaster_up() { running_from "$QMASTER_PIDFILE" sge_qmaster; }
execd_up() { running_from "$EXECD_PIDFILE" sge_execd; }
qmaster_answers() { qconf -sh >/dev/null 2>&1; }

poll() { # seconds what command...: retry the command every 0.3 s until it succeeds
  local limit=$(( SECONDS + $1 )) what="$2"
  shift 2
  while ! "$@" >/dev/null 2>&1; do
    (( SECONDS < limit )) || fail "gave up after ${limit}s waiting for $what"
    sleep 0.3
  done
}

queue_instance_ok() { # the execd has reported in: the queue instance is not in state u(nknown)
  qstat -f -q "$QUEUE@$HOST" 2>/dev/null | awk -v qi="$QUEUE@$HOST" '$1 == qi { found = 1; bad = ($6 ~ /[uE]/) }
    END { exit !(found && !bad) }'
}

qmaster_settled() { qmaster_answers || ! qmaster_up; }

start_qmaster() {
  mkdir -p /var/run/gridengine
  chown sgeadmin:sgeadmin /var/run/gridengine
  if qmaster_up && ! qmaster_answers; then
    # after qconf -km the qmaster takes 5-10 s (much longer on a loaded machine) to exit: let it finish first
    say "qmaster (pid $(cat "$QMASTER_PIDFILE")) does not answer; waiting until it answers or exits"
    poll 180 "the qmaster to answer or exit" qmaster_settled
  fi
  if qmaster_up; then
    say "qmaster already running (pid $(cat "$QMASTER_PIDFILE"))"
  else
    say "starting qmaster"
    /usr/sbin/sge_qmaster            # forks into the background and switches to sgeadmin
  fi
  poll 60 "qmaster to answer" qmaster_answers
}

start_execd() {
  if execd_up; then
    say "execd already running (pid $(cat "$EXECD_PIDFILE"))"
  else
    say "starting execd"
    SGE_EXECD_PIDFILE="$EXECD_PIDFILE" /usr/sbin/sge_execd
  fi
  poll 60 "execd to register queue $QUEUE@$HOST" queue_instance_ok
}

stop_daemons() {
  local pids=() pid deadline
  qmaster_up && pids+=("$(cat "$QMASTER_PIDFILE")")
  execd_up && pids+=("$(cat "$EXECD_PIDFILE")")
  if qmaster_answers; then
    qconf -ke all >/dev/null 2>&1 || true
    qconf -km >/dev/null 2>&1 || true
  else
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  fi
  # the qmaster takes 5-10 s to write its state and exit; escalate only after that
  for signal in none TERM KILL; do
    deadline=$(( SECONDS + 25 ))
    for pid in "${pids[@]}"; do
      while [ -e "/proc/$pid" ] && (( SECONDS < deadline )); do sleep 0.3; done
    done
    local alive=()
    for pid in "${pids[@]}"; do [ -e "/proc/$pid" ] && alive+=("$pid"); done
    [ "${#alive[@]}" -eq 0 ] && break
    [ "$signal" = none ] && continue
    say "sending $signal to ${alive[*]}"
    kill "-$signal" "${alive[@]}" 2>/dev/null || true
  done
  rm -f "$EXECD_PIDFILE"
  say "stopped"
}

# --- installation -------------------------------------------------------------------------------------
install_packages() {
  local missing=() p
  for p in "${PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -eq 0 ]; then
    return
  fi
  # every gridengine package asks the same shared debconf questions: answer them before apt does
  for p in gridengine-common gridengine-client gridengine-master gridengine-exec; do
    printf '%s shared/gridengineconfig boolean true\n%s shared/gridenginecell string %s\n%s shared/gridenginemaster string %s\n' \
      "$p" "$p" "$SGE_CELL" "$p" "$HOST" | debconf-set-selections
  done
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q >/dev/null
  # the postinst scripts may or may not start daemons (policy-rc.d, systemd): we (re)start them ourselves
  apt-get install -y -q "${PACKAGES[@]}" >/dev/null
}

patched_drmaa() {
  local sum
  sum="$(sha256sum "$DEB_DRMAA" | cut -d' ' -f1)"
  if [ -f "$VIQ_DRMAA" ] && [ "$(cat "$VIQ_DRMAA.source-sha256" 2>/dev/null || true)" = "$sum" ]; then
    return
  fi
  mkdir -p "$(dirname "$VIQ_DRMAA")"
  cp "$DEB_DRMAA" "$VIQ_DRMAA.new"
  if patchelf --print-needed "$VIQ_DRMAA.new" | grep -q '^libjemalloc'; then
    patchelf --remove-needed "$(patchelf --print-needed "$VIQ_DRMAA.new" | grep '^libjemalloc')" "$VIQ_DRMAA.new"
  fi
  chmod 0644 "$VIQ_DRMAA.new"
  mv "$VIQ_DRMAA.new" "$VIQ_DRMAA"
  echo "$sum" >"$VIQ_DRMAA.source-sha256"
  say "wrote $VIQ_DRMAA (Debian libdrmaa without libjemalloc)"
}

# --- configuration ------------------------------------------------------------------------------------
write_if_changed() { # file content: replace the file only when the content differs
  if [ "$(cat "$1" 2>/dev/null || true)" != "$2" ]; then
    printf '%s\n' "$2" >"$1"
    chown sgeadmin:sgeadmin "$1"
    return 0
  fi
  return 1
}

host_names() {
  # Grid Engine compares the name a client gives with the name the qmaster resolves from its address.
  # When hostname → 127.0.0.1 → "localhost", every client is refused; host_aliases declares that all
  # those names are this one host.
  local addr forward reverse extra=()
  addr="$(getent ahostsv4 "$HOST" | awk 'NR == 1 { print $1 }')"
  [ -n "$addr" ] || fail "host name $HOST does not resolve; add it to /etc/hosts"
  forward="$("$SGE_BIN/gethostbyname" -name "$HOST" 2>/dev/null || true)"
  reverse="$("$SGE_BIN/gethostbyaddr" -name "$addr" 2>/dev/null || true)"
  for n in $forward $reverse; do
    if [ "$n" != "$HOST" ] && [[ " ${extra[*]-} " != *" $n "* ]]; then extra+=("$n"); fi
  done
  if [ "${#extra[@]}" -gt 0 ] && write_if_changed "$CELL_DIR/host_aliases" "$HOST ${extra[*]}"; then
    say "host_aliases: $HOST ${extra[*]}"
  fi
  if [ "$(cat "$CELL_DIR/act_qmaster" 2>/dev/null || true)" != "$HOST" ]; then
    # a qmaster started before the aliases existed (e.g. by a postinst) has the wrong view of its name
    if qmaster_up && ! qmaster_answers; then
      say "qmaster runs under a wrong host name; restarting it"
      stop_daemons
    fi
    write_if_changed "$CELL_DIR/act_qmaster" "$HOST" || true
  fi
}

apply_if_changed() { # show-option modify-option name file: load a configuration only if it changed
  if ! cmp -s <(qconf "$1" ${3:+"$3"}) "$4"; then
    qconf "$2" "$4" >/dev/null || fail "qconf $2 $4 failed"
    return 0
  fi
  return 1
}

configure() {
  local tmp
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' RETURN
  # global: root may run jobs (CI runs as root; default min_uid/min_gid are 1000); accounting every second
  mkdir "$tmp/conf"
  qconf -sconf global | sed -E \
    -e 's/^(min_uid[[:space:]]+).*/\10/' -e 's/^(min_gid[[:space:]]+).*/\10/' \
    -e 's/flush_time=[0-9:]+/flush_time=00:00:01/' >"$tmp/conf/global"   # the file name is the config name
  apply_if_changed -sconf -Mconf global "$tmp/conf/global" && say "global configuration updated"
  # scheduler: a cycle every second, and straight after submits and job ends
  qconf -ssconf | sed -E \
    -e 's/^(schedule_interval[[:space:]]+).*/\10:0:1/' \
    -e 's/^(flush_submit_sec[[:space:]]+).*/\11/' -e 's/^(flush_finish_sec[[:space:]]+).*/\11/' >"$tmp/sched"
  apply_if_changed -ssconf -Msconf "" "$tmp/sched" && say "scheduler configuration updated"

  qconf -sh 2>/dev/null | grep -qx "$HOST" || qconf -ah "$HOST" >/dev/null
  qconf -ss 2>/dev/null | grep -qx "$HOST" || qconf -as "$HOST" >/dev/null
  if ! qconf -se "$HOST" >/dev/null 2>&1; then
    printf '%-20s %s\n' hostname "$HOST" load_scaling NONE complex_values NONE user_lists NONE xuser_lists NONE \
      projects NONE xprojects NONE usage_scaling NONE report_variables NONE >"$tmp/exechost"
    qconf -Ae "$tmp/exechost" >/dev/null && say "execution host $HOST added"
  fi
  if ! qconf -shgrp @allhosts >/dev/null 2>&1; then
    printf 'group_name @allhosts\nhostlist %s\n' "$HOST" >"$tmp/hostgroup"
    qconf -Ahgrp "$tmp/hostgroup" >/dev/null && say "host group @allhosts added"
  elif ! qconf -shgrp_resolved @allhosts | tr ' ' '\n' | grep -qx "$HOST"; then
    qconf -aattr hostgroup hostlist "$HOST" @allhosts >/dev/null
  fi

  if qconf -sq "$QUEUE" >/dev/null 2>&1; then
    local current
    current="$(qconf -sq "$QUEUE" | awk '$1 == "slots" { print $2 }')"
    if [ "$current" != "$SLOTS" ]; then
      qconf -mattr queue slots "$SLOTS" "$QUEUE" >/dev/null && say "queue $QUEUE: slots $current -> $SLOTS"
    fi
  else
    # a complete queue: the stock template lists PEs that do not exist (pe_list make smp mpi) and load
    # thresholds that put a busy 2-core CI machine into alarm state
    {
      printf '%-20s %s\n' qname "$QUEUE" hostlist @allhosts seq_no 0 load_thresholds NONE \
        suspend_thresholds NONE nsuspend 1 suspend_interval 00:05:00 priority 0 min_cpu_interval 00:05:00 \
        processors UNDEFINED qtype "BATCH INTERACTIVE" ckpt_list NONE pe_list NONE rerun FALSE slots "$SLOTS" \
        tmpdir /tmp shell /bin/sh prolog NONE epilog NONE shell_start_mode posix_compliant starter_method NONE \
        suspend_method NONE resume_method NONE terminate_method NONE notify 00:00:60 owner_list NONE \
        user_lists NONE xuser_lists NONE subordinate_list NONE complex_values NONE projects NONE xprojects NONE \
        calendar NONE initial_state default
      for limit in rt cpu fsize data stack core rss vmem; do
        printf '%-20s INFINITY\n' "s_$limit" "h_$limit"
      done
    } >"$tmp/queue"
    qconf -Aq "$tmp/queue" >/dev/null && say "queue $QUEUE added with $SLOTS slots"
  fi
}

smoke() {
  [ "${VIQ_SGE_SMOKE:-1}" = 0 ] && return 0
  local out
  out="$(cd /tmp && qsub -sync y -b y -o /dev/null -e /dev/null -q "$QUEUE" -N viq-sge-smoke /bin/true 2>&1)" \
    || fail "smoke job failed: $out"
  [[ "$out" == *"exited with exit code 0"* ]] || fail "smoke job: $out"
  python3 -c "import ctypes, sys; ctypes.CDLL(sys.argv[1], mode=ctypes.RTLD_GLOBAL)" "$VIQ_DRMAA" \
    || fail "$VIQ_DRMAA cannot be loaded"
  say "smoke job and libdrmaa load ok"
}

need_root() { [ "$(id -u)" = 0 ] || fail "$1 needs root"; }

case "${1:-}" in
  setup)
    need_root setup
    install_packages
    host_names
    start_qmaster
    configure
    start_execd
    patched_drmaa
    smoke
    ;;
  start)
    need_root start
    host_names
    qmaster_was_up=0
    qmaster_answers && qmaster_was_up=1
    start_qmaster
    if [ "$qmaster_was_up" = 0 ] && execd_up; then
      # SGE 8.1.9: an execd that outlived its qmaster never re-sends the exit reports of jobs that ended during
      # the outage (they stay "r" for ever). Restarting it (qconf -ke leaves the jobs running) makes it report
      # them from its spool, with their accounting.
      say "qmaster restarted under a running execd: restarting execd so it reports jobs that ended meanwhile"
      qconf -ke "$HOST" >/dev/null 2>&1 || kill -TERM "$(cat "$EXECD_PIDFILE")"
      poll 30 "execd to stop" bash -c "! kill -0 $(cat "$EXECD_PIDFILE") 2>/dev/null"
    fi
    start_execd
    ;;
  stop)
    need_root stop
    stop_daemons
    ;;
  status)
    if qmaster_up; then echo "qmaster: running, pid $(cat "$QMASTER_PIDFILE")"; else echo "qmaster: stopped"; fi
    if execd_up; then echo "execd: running, pid $(cat "$EXECD_PIDFILE")"; else echo "execd: stopped"; fi
    if qmaster_answers; then qstat -f -q "$QUEUE"; fi
    ;;
  env)
    echo "export SGE_ROOT=$SGE_ROOT SGE_CELL=$SGE_CELL DRMAA_LIBRARY_PATH=$VIQ_DRMAA"
    ;;
  *)
    echo "usage: $0 setup|start|stop|status|env" >&2
    exit 2
    ;;
esac
