# shellcheck shell=bash
# Grid Engine cell "viqnet": qmaster on the head host, one execd per execution host.

SGE_PACKAGES=(gridengine-common gridengine-client gridengine-master gridengine-exec gridengine-drmaa1.0 patchelf)
CELL_DIR="$SGE_ROOT/$SGE_CELL/common"
SPOOL=/var/spool/gridengine/$SGE_CELL
QMASTER_PIDFILE="$SPOOL/qmaster/qmaster.pid"
DEB_DRMAA=/usr/lib/gridengine-drmaa/lib/libdrmaa.so.1.0

execd_pidfile() { echo "/var/run/gridengine/$SGE_CELL-exec$1.pid"; }
on_head_ns() { ip netns exec "$NS_HEAD" "$@"; }

alive() { # pidfile program
  local pid
  pid="$(cat "$1" 2>/dev/null || true)"
  [[ "$pid" =~ ^[0-9]+$ ]] && [ "$(basename "$(readlink "/proc/$pid/exe" 2>/dev/null || true)")" = "$2" ]
}
qmaster_answers() { ns_exists "$NS_HEAD" && on_head_ns qconf -sh >/dev/null 2>&1; }

sge_install() {
  local missing p
  mapfile -t missing < <(missing_packages "${SGE_PACKAGES[@]}")
  if [ "${#missing[@]}" -gt 0 ]; then
    # the packages create the single-host cell "default" for this machine; answer their questions first
    for p in gridengine-common gridengine-client gridengine-master gridengine-exec; do
      printf '%s shared/gridengineconfig boolean true\n%s shared/gridenginecell string default\n%s shared/gridenginemaster string %s\n' \
        "$p" "$p" "$p" "$MACHINE" | debconf-set-selections
    done
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${SGE_PACKAGES[@]}" >/dev/null
  fi
  if [ ! -f "$VIQ_DRMAA" ]; then
    # the same jemalloc-free copy scripts/services/sge.sh writes (see there for why)
    mkdir -p "$(dirname "$VIQ_DRMAA")"
    cp "$DEB_DRMAA" "$VIQ_DRMAA.new"
    local needed
    needed="$(patchelf --print-needed "$VIQ_DRMAA.new" | grep '^libjemalloc' || true)"
    [ -z "$needed" ] || patchelf --remove-needed "$needed" "$VIQ_DRMAA.new"
    mv "$VIQ_DRMAA.new" "$VIQ_DRMAA"
    sha256sum "$DEB_DRMAA" | cut -d' ' -f1 >"$VIQ_DRMAA.source-sha256"
  fi
}

as_admin() { runuser -u sgeadmin -- env SGE_ROOT="$SGE_ROOT" SGE_CELL="$SGE_CELL" "$@"; }

cell_init() {
  # a cell of its own: bootstrap, names, spool database, global configuration (what init_cluster does for
  # the package's cell, with this cell's paths and the settings host-loss handling depends on)
  mkdir -p "$CELL_DIR" "$SPOOL/qmaster" "$SPOOL/execd" "$SPOOL/spooldb" /var/run/gridengine
  chown -R sgeadmin:sgeadmin "$SGE_ROOT/$SGE_CELL" "$SPOOL" /var/run/gridengine
  printf '%s\n' "$HEAD_NAME" >"$CELL_DIR/act_qmaster"
  printf '%s %s\n' "$HEAD_NAME" "$MACHINE" >"$CELL_DIR/host_aliases"
  printf 'SGE_ROOT=%s; export SGE_ROOT\nSGE_CELL=%s; export SGE_CELL\nSGE_QMASTER_PORT=%s; export SGE_QMASTER_PORT\nSGE_EXECD_PORT=%s; export SGE_EXECD_PORT\n' \
    "$SGE_ROOT" "$SGE_CELL" "$SGE_QMASTER_PORT" "$SGE_EXECD_PORT" >"$CELL_DIR/settings.sh"
  chown sgeadmin:sgeadmin "$CELL_DIR"/*
  [ -e "$SPOOL/spooldb/sge" ] && return 0
  say "creating Grid Engine cell $SGE_CELL"
  printf '%-24s%s\n' admin_user sgeadmin default_domain none ignore_fqdn false spooling_method berkeleydb \
    spooling_lib libspoolb spooling_params "$SPOOL/spooldb" binary_path /usr/sbin qmaster_spool_dir "$SPOOL/qmaster" \
    security_mode none listener_threads 2 worker_threads 2 scheduler_threads 1 >"$CELL_DIR/bootstrap.body"
  { echo "Version: 6.2"; cat "$CELL_DIR/bootstrap.body"; } >"$CELL_DIR/bootstrap"
  rm -f "$CELL_DIR/bootstrap.body"
  # global configuration: root may submit (CI runs as root); an execd silent for 15 s is unknown and its
  # jobs are rescheduled (or, not being re-runnable, removed) 5 s later; accounting written every second
  sed -E -e "s#^(execd_spool_dir[[:space:]]+).*#\\1$SPOOL/execd#" \
    -e 's/^(min_uid[[:space:]]+).*/\10/' -e 's/^(min_gid[[:space:]]+).*/\10/' \
    -e 's/^(load_report_time[[:space:]]+).*/\100:00:05/' -e 's/^(max_unheard[[:space:]]+).*/\100:00:15/' \
    -e 's/^(reschedule_unknown[[:space:]]+).*/\100:00:05/' \
    -e 's/^(qmaster_params[[:space:]]+).*/\1ENABLE_RESCHEDULE_KILL=1/' \
    -e 's/flush_time=[0-9:]+/flush_time=00:00:01/' \
    /usr/share/gridengine/default-configuration >"$SPOOL/global.conf"
  chown sgeadmin:sgeadmin "$CELL_DIR/bootstrap" "$SPOOL/global.conf"
  as_admin /usr/lib/gridengine/spoolinit berkeleydb libspoolb "$SPOOL/spooldb" init >/dev/null
  as_admin /usr/lib/gridengine/spooldefaults configuration "$SPOOL/global.conf" >/dev/null
  as_admin /usr/lib/gridengine/spooldefaults complexes /usr/share/gridengine/util/resources/centry >/dev/null
  as_admin /usr/lib/gridengine/spooldefaults usersets /usr/share/gridengine/util/resources/usersets >/dev/null
  as_admin /usr/lib/gridengine/spooldefaults managers sgeadmin >/dev/null
}

qmaster_stop() {
  local pid deadline=$(( SECONDS + 20 ))
  pid="$(cat "$QMASTER_PIDFILE" 2>/dev/null || true)"
  qmaster_answers && on_head_ns qconf -km >/dev/null 2>&1 || true
  while [ -n "$pid" ] && [ -e "/proc/$pid" ] && (( SECONDS < deadline )); do sleep 0.2; done
  [ -n "$pid" ] && [ -e "/proc/$pid" ] && kill -9 "$pid" 2>/dev/null || true
}

qmaster_start() {
  if alive "$QMASTER_PIDFILE" sge_qmaster \
     && ! cmp -s "/proc/$(cat "$QMASTER_PIDFILE")/root/etc/hosts" "/etc/netns/$NS_HEAD/hosts"; then
    # started before the host list changed: it resolves names through the old file (its own mount view)
    say "qmaster sees an outdated hosts file; restarting it"
    qmaster_stop
  fi
  if alive "$QMASTER_PIDFILE" sge_qmaster; then
    qmaster_answers && return 0
    say "qmaster $(cat "$QMASTER_PIDFILE") does not answer; restarting it"
    kill -9 "$(cat "$QMASTER_PIDFILE")" 2>/dev/null || true
    sleep 1
  fi
  say "starting qmaster on $HEAD_NAME"
  # its own UTS namespace, so that the qmaster calls itself "head" whatever the machine is called
  ip netns exec "$NS_HEAD" unshare --uts sh -c "hostname $HEAD_NAME && exec /usr/sbin/sge_qmaster"
  poll 60 "the qmaster to answer" qmaster_answers
}

apply_if_changed() { # show-args modify-option file
  local show=($1)
  if ! cmp -s <(on_head_ns qconf "${show[@]}") "$3"; then
    on_head_ns qconf "$2" "$3" >/dev/null 2>&1 || fail "qconf $2 $3 failed"
    say "updated: qconf ${show[*]}"
  fi
}

queue_key() { # the queue settings this script manages, from a queue file (continuation lines joined)
  sed -e ':a' -e '/\\$/{N;s/\\\n//;ba' -e '}' | awk '$1 == "slots" || $1 == "tmpdir" || $1 == "hostlist"' | tr -d ' \t'
}

cell_configure() {
  local tmp host i tmpdirs
  tmp="$(mktemp -d)"
  on_head_ns qconf -ssconf | sed -E -e 's/^(schedule_interval[[:space:]]+).*/\10:0:1/' \
    -e 's/^(flush_submit_sec[[:space:]]+).*/\11/' -e 's/^(flush_finish_sec[[:space:]]+).*/\11/' >"$tmp/sched"
  apply_if_changed "-ssconf" -Msconf "$tmp/sched"
  on_head_ns qconf -ss 2>/dev/null | grep -qx "$HEAD_NAME" || on_head_ns qconf -as "$HEAD_NAME" >/dev/null 2>&1
  for host in "${EXEC_NAMES[@]}"; do
    on_head_ns qconf -sh 2>/dev/null | grep -qx "$host" || on_head_ns qconf -ah "$host" >/dev/null 2>&1
    if ! on_head_ns qconf -se "$host" >/dev/null 2>&1; then
      printf '%-20s %s\n' hostname "$host" load_scaling NONE complex_values NONE user_lists NONE xuser_lists NONE \
        projects NONE xprojects NONE usage_scaling NONE report_variables NONE >"$tmp/exechost"
      on_head_ns qconf -Ae "$tmp/exechost" >/dev/null 2>&1 || fail "cannot add execution host $host"
    fi
    mkdir -p "$TOPO_DIR/tmp/$host"
  done
  printf 'group_name @viqhosts\nhostlist %s\n' "${EXEC_NAMES[*]}" >"$tmp/hostgroup"
  if on_head_ns qconf -shgrp @viqhosts >/dev/null 2>&1; then
    apply_if_changed "-shgrp @viqhosts" -Mhgrp "$tmp/hostgroup"
  else
    on_head_ns qconf -Ahgrp "$tmp/hostgroup" >/dev/null 2>&1 || fail "cannot add @viqhosts"
  fi
  # per-host TMPDIR: a lost host's orphaned run and its rerun elsewhere must not share one (same file system)
  tmpdirs="/tmp"
  for ((i = 1; i <= N_EXEC; i++)); do tmpdirs+=",[exec$i=$TOPO_DIR/tmp/exec$i]"; done
  {
    printf '%-20s %s\n' qname "$QUEUE" hostlist @viqhosts seq_no 0 load_thresholds NONE suspend_thresholds NONE \
      nsuspend 1 suspend_interval 00:05:00 priority 0 min_cpu_interval 00:05:00 processors UNDEFINED \
      qtype "BATCH INTERACTIVE" ckpt_list NONE pe_list NONE rerun FALSE slots "$SLOTS" tmpdir "$tmpdirs" \
      shell /bin/sh prolog NONE epilog NONE shell_start_mode posix_compliant starter_method NONE \
      suspend_method NONE resume_method NONE terminate_method NONE notify 00:00:60 owner_list NONE \
      user_lists NONE xuser_lists NONE subordinate_list NONE complex_values NONE projects NONE xprojects NONE \
      calendar NONE initial_state default
    for limit in rt cpu fsize data stack core rss vmem; do printf '%-20s INFINITY\n' "s_$limit" "h_$limit"; done
  } >"$tmp/queue"
  if on_head_ns qconf -sq "$QUEUE" >/dev/null 2>&1; then
    if [ "$(on_head_ns qconf -sq "$QUEUE" | queue_key)" != "$(queue_key <"$tmp/queue")" ]; then
      on_head_ns qconf -Mq "$tmp/queue" >/dev/null 2>&1 && say "queue $QUEUE updated"
    fi
  else
    on_head_ns qconf -Aq "$tmp/queue" >/dev/null 2>&1 && say "queue $QUEUE added ($SLOTS slots per host)"
  fi
  rm -rf "$tmp"
}

queue_instance_ok() { # host: its queue instance exists and is not in state u(nknown)/E(rror)
  on_head_ns qstat -f -q "$QUEUE@$1" 2>/dev/null | awk -v qi="$QUEUE@$1" '$1 == qi { found = 1; bad = ($6 ~ /[uE]/) }
    END { exit !(found && !bad) }'
}

exec_start() { # N
  local n="$1" pidfile
  [ "$n" -ge 1 ] && [ "$n" -le "$N_EXEC" ] || fail "no execution host $n (VIQ_TOPO_EXEC_HOSTS=$N_EXEC)"
  pidfile="$(execd_pidfile "$n")"
  if ! alive "$pidfile" sge_execd; then
    ip netns exec "viq-exec$n" unshare --uts env SGE_EXECD_PIDFILE="$pidfile" \
      sh -c "hostname exec$n && exec /usr/sbin/sge_execd"
  fi
  poll 90 "exec$n to report to the qmaster" queue_instance_ok "exec$n"
}

exec_kill() { # N: a host crash, every process of the namespace at once
  [ "$1" -ge 1 ] && [ "$1" -le "$N_EXEC" ] || fail "no execution host $1"
  ns_kill_all "viq-exec$1"
  rm -f "$(execd_pidfile "$1")"
  say "exec$1 killed"
}

sge_up() {
  local i
  cell_init
  qmaster_start
  cell_configure
  for ((i = 1; i <= N_EXEC; i++)); do exec_start "$i"; done
  # smoke: one job on each host, all at once
  local pids=() rc=0
  for ((i = 1; i <= N_EXEC; i++)); do
    (cd /tmp && on_head_ns qsub -sync y -b y -o /dev/null -e /dev/null -q "$QUEUE@exec$i" -N viq-topo-smoke \
      /bin/true >/dev/null 2>&1) &
    pids+=($!)
  done
  for i in "${!pids[@]}"; do wait "${pids[$i]}" || { say "smoke job on exec$(( i + 1 )) failed"; rc=1; }; done
  [ "$rc" = 0 ] || fail "smoke jobs failed"
  say "Grid Engine cell $SGE_CELL: qmaster on $HEAD_NAME, ${#EXEC_NAMES[@]} execution host(s) x $SLOTS slots"
}

sge_down() {
  local pids=() pid i deadline
  alive "$QMASTER_PIDFILE" sge_qmaster && pids+=("$(cat "$QMASTER_PIDFILE")")
  if qmaster_answers; then
    # jobs left spooled would come back as failures at the next start
    on_head_ns qdel -f -u '*' >/dev/null 2>&1 || true
    on_head_ns qconf -ke all >/dev/null 2>&1 || true
    on_head_ns qconf -km >/dev/null 2>&1 || true
  elif [ "${#pids[@]}" -gt 0 ]; then
    kill -TERM "${pids[@]}" 2>/dev/null || true
  fi
  deadline=$(( SECONDS + 20 ))   # the qmaster writes its state for 5-10 s before it exits
  for pid in "${pids[@]}"; do
    while [ -e "/proc/$pid" ] && (( SECONDS < deadline )); do sleep 0.2; done
    [ -e "/proc/$pid" ] && { say "qmaster $pid still running; killing it"; kill -9 "$pid" 2>/dev/null || true; }
  done
  for ((i = 1; i <= 8; i++)); do rm -f "$(execd_pidfile "$i")"; done
  return 0
}

sge_status() {
  if ! qmaster_answers; then
    echo "qmaster    not answering"
    return 1
  fi
  echo "qmaster    pid $(cat "$QMASTER_PIDFILE") on $HEAD_NAME:$SGE_QMASTER_PORT (cell $SGE_CELL)"
  on_head_ns qstat -f -q "$QUEUE" | grep "^$QUEUE@" || true
  local n
  n="$(on_head_ns qstat -u '*' | tail -n +3 | wc -l)"
  echo "jobs       $n queued or running"
}
