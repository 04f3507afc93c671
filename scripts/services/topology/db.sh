# shellcheck shell=bash
# The database host: a PostgreSQL 15 cluster with PostGIS listening on the LAN address only.
# TCP clients authenticate with a password (scram-sha-256); the Unix socket admits the postgres user only.

PG_BIN=/usr/lib/postgresql/15/bin
PG_DATA="$TOPO_DIR/pg/data"
PG_SOCK="$TOPO_DIR/pg/socket"
PG_LOG="$TOPO_DIR/pg/server.log"
PW_FILE="$TOPO_DIR/pg/viq.password"

as_pg() { runuser -u postgres -- "$@"; }
db_password() { cat "$PW_FILE" 2>/dev/null || echo "unset"; }
db_url() { echo "postgresql://viq:$(db_password)@$DB_ADDR:$DB_PORT/viq"; }
db_psql() { # db sql
  as_pg env PGOPTIONS="-c client_min_messages=warning" "$PG_BIN/psql" -h "$PG_SOCK" -p "$DB_PORT" -U postgres -d "$1" -v ON_ERROR_STOP=1 -qAt -c "$2"
}
db_running() { [ -S "$PG_SOCK/.s.PGSQL.$DB_PORT" ] && as_pg "$PG_BIN/pg_isready" -q -h "$PG_SOCK" -p "$DB_PORT"; }

db_install() {
  local missing
  mapfile -t missing < <(missing_packages postgresql-15 postgresql-15-postgis-3 postgresql-client-15)
  if [ "${#missing[@]}" -gt 0 ]; then
    say "installing ${missing[*]}"
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

db_init() {
  [ -f "$PG_DATA/PG_VERSION" ] && return 0
  say "creating the database cluster in $PG_DATA"
  mkdir -p "$TOPO_DIR/pg" "$PG_SOCK"
  chown postgres:postgres "$TOPO_DIR/pg" "$PG_SOCK"
  chmod 0700 "$TOPO_DIR/pg"
  if [ ! -s "$PW_FILE" ]; then
    (umask 077; head -c 18 /dev/urandom | base64 | tr '+/' 'xy' >"$PW_FILE")
  fi
  as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --auth-local=peer --auth-host=scram-sha-256 >/dev/null
  cat >"$PG_DATA/pg_hba.conf" <<HBA
# local socket: the postgres superuser only (administration by topology.sh)
local all postgres peer
# the LAN: every host, password (scram-sha-256) only
host  all all $NET_CIDR scram-sha-256
HBA
  chown postgres:postgres "$PG_DATA/pg_hba.conf"
}

db_start() {
  db_running && return 0
  ns_exists "$NS_DB" || fail "the database host namespace is missing (topology.sh up)"
  mkdir -p "$PG_SOCK" && chown postgres:postgres "$PG_SOCK"
  rm -f "$PG_DATA/postmaster.pid"   # left by a crash (db-stop): the process is gone with its namespace
  ip netns exec "$NS_DB" runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 \
    -o "-p $DB_PORT -k $PG_SOCK -c listen_addresses=$DB_ADDR -c password_encryption=scram-sha-256 -c max_connections=200" \
    start >/dev/null
  say "PostgreSQL on $DB_NAME ($DB_ADDR:$DB_PORT)"
}

db_up() {
  db_init
  db_start
  local pw
  pw="$(db_password)"
  if [ "$(db_psql postgres "SELECT count(*) FROM pg_roles WHERE rolname='viq'")" = 0 ]; then
    db_psql postgres "CREATE ROLE viq LOGIN CREATEDB PASSWORD '$pw'"
  fi
  if [ "$(db_psql postgres "SELECT count(*) FROM pg_database WHERE datname='viq'")" = 0 ]; then
    db_psql postgres "CREATE DATABASE viq OWNER viq"
  fi
  # PostGIS in the template too: fresh databases (restore targets, tests) have it from the start
  db_psql template1 "CREATE EXTENSION IF NOT EXISTS postgis"
  db_psql viq "CREATE EXTENSION IF NOT EXISTS postgis"
}

db_crash() {
  ns_kill_all "$NS_DB"
  say "database host killed"
}

db_down() {
  if db_running; then
    as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast stop >/dev/null 2>&1 || true
  fi
  ns_kill_all "$NS_DB" || true
}

db_status() {
  if db_running; then
    echo "database   up on $DB_ADDR:$DB_PORT ($(db_psql viq "SELECT postgis_lib_version()" 2>/dev/null || echo '?'))"
  else
    echo "database   down"
    return 1
  fi
}
