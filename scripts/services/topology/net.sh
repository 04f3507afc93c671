# shellcheck shell=bash
# The private LAN: one switch namespace with a bridge, one veth per host; nothing in the root namespace.

write_name_files() { # ns: /etc/netns/<ns>/ is bind-mounted over /etc by "ip netns exec"
  local dir="/etc/netns/$1" i
  mkdir -p "$dir"
  {
    echo "127.0.0.1 localhost"
    echo "$HEAD_ADDR $HEAD_NAME $MACHINE"
    echo "$DB_ADDR $DB_NAME"
    for ((i = 1; i <= N_EXEC; i++)); do echo "$(exec_addr "$i") exec$i"; done
  } >"$dir/hosts.new"
  # rewritten in place: running daemons see /etc/hosts through a bind mount of this very inode
  cmp -s "$dir/hosts.new" "$dir/hosts" || cat "$dir/hosts.new" >"$dir/hosts"
  rm -f "$dir/hosts.new"
  # names come from the hosts file only: no DNS inside the LAN
  printf 'passwd: files\ngroup: files\nshadow: files\nhosts: files\n' >"$dir/nsswitch.conf"
  echo "nameserver 127.0.0.1" >"$dir/resolv.conf"
}

attach_host() { # ns address: namespace with lo up and eth0 = port of the switch
  local ns="$1" addr="$2" port="p-${1#viq-}"
  if ! ns_exists "$ns"; then
    ip netns add "$ns"
  fi
  ip -n "$ns" link set lo up
  if ! ip -n "$ns" link show eth0 >/dev/null 2>&1; then
    ip -n "$NS_LAN" link del "$port" 2>/dev/null || true   # a port left from a half-removed host
    ip -n "$NS_LAN" link add "$port" type veth peer name eth0 netns "$ns"
  fi
  ip -n "$NS_LAN" link set "$port" master "$BRIDGE" up
  ip -n "$ns" addr replace "$addr/24" dev eth0
  ip -n "$ns" link set eth0 up
  write_name_files "$ns"
}

reachable() { # ns address
  local out
  out="$(ip netns exec "$1" timeout 3 bash -c "echo >/dev/tcp/$2/9" 2>&1 || true)"
  [[ "$out" == *refused* ]]
}

net_up() {
  net_prune
  ns_exists "$NS_LAN" || ip netns add "$NS_LAN"
  ip -n "$NS_LAN" link show "$BRIDGE" >/dev/null 2>&1 || ip -n "$NS_LAN" link add "$BRIDGE" type bridge forward_delay 0 stp_state 0
  ip -n "$NS_LAN" link set "$BRIDGE" up
  attach_host "$NS_HEAD" "$HEAD_ADDR"
  attach_host "$NS_DB" "$DB_ADDR"
  local i
  for ((i = 1; i <= N_EXEC; i++)); do attach_host "viq-exec$i" "$(exec_addr "$i")"; done
  # a connection to a closed port is refused only when the address is reachable
  for ((i = 1; i <= N_EXEC; i++)); do
    poll 30 "exec$i to reach the head" reachable "viq-exec$i" "$HEAD_ADDR"
  done
  poll 30 "the head to reach the database host" reachable "$NS_HEAD" "$DB_ADDR"
  say "network $NET_CIDR: ${HEAD_NAME}=$HEAD_ADDR ${DB_NAME}=$DB_ADDR $(for ((i = 1; i <= N_EXEC; i++)); do printf 'exec%s=%s ' "$i" "$(exec_addr "$i")"; done)"
}

net_prune() {
  # execution hosts beyond VIQ_TOPO_EXEC_HOSTS (left by an earlier "up" with more): crash and remove them
  local ns n
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^viq-exec[0-9]+$' || true); do
    n="${ns#viq-exec}"
    if [ "$n" -gt "$N_EXEC" ]; then
      ns_kill_all "$ns" || true
      ip -n "$NS_LAN" link del "p-exec$n" 2>/dev/null || true
      ip netns del "$ns"
      rm -rf "/etc/netns/$ns"
      say "removed execution host exec$n"
    fi
  done
}

net_down() {
  local ns
  # every host this script may ever have made (VIQ_TOPO_EXEC_HOSTS may differ between up and down)
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E '^viq-(head|db|exec[0-9]+|lan)$' || true); do
    ns_kill_all "$ns" || true
    ip netns del "$ns"
    rm -rf "/etc/netns/$ns"
  done
}
