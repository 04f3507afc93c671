#!/usr/bin/env bash
# PostgreSQL 15 + PostGIS 3 for VIQ tests and small deployments, without systemd.
#   postgis.sh up      install the Debian packages if missing, start a throwaway cluster, create the database
#   postgis.sh down    stop the cluster
#   postgis.sh url     print the connection URL (postgresql://viq:viq@127.0.0.1:PORT/viq)
# Settings: VIQ_PG_DIR (cluster directory, default /var/tmp/viq-pg), VIQ_PG_PORT (default 55432).
set -euo pipefail
PG_DIR="${VIQ_PG_DIR:-/var/tmp/viq-pg}"
PG_PORT="${VIQ_PG_PORT:-55432}"
PG_BIN=/usr/lib/postgresql/15/bin
URL="postgresql://viq:viq@127.0.0.1:${PG_PORT}/viq"

as_postgres() { if [ "$(id -un)" = postgres ]; then "$@"; else runuser -u postgres -- "$@"; fi; }

install() {
  local missing=()
  for p in postgresql-15 postgresql-15-postgis-3 postgresql-client-15; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    echo "postgis.sh: installing ${missing[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

up() {
  install
  mkdir -p "$PG_DIR"
  chown postgres:postgres "$PG_DIR"
  if [ ! -f "$PG_DIR/data/PG_VERSION" ]; then
    as_postgres "$PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 >/dev/null
    # TCP connections authenticate with a password, as in production; the local socket trusts.
    cat > "$PG_DIR/data/pg_hba.conf" <<HBA
local all all trust
host all all 127.0.0.1/32 scram-sha-256
HBA
  fi
  if ! as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" status >/dev/null 2>&1; then
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" \
      -o "-p $PG_PORT -k $PG_DIR -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" -w start >/dev/null
  fi
  local psql=("$PG_BIN/psql" -h "$PG_DIR" -p "$PG_PORT" -U postgres -v ON_ERROR_STOP=1 -qAt)
  as_postgres "${psql[@]}" -d postgres -c "SELECT 1 FROM pg_roles WHERE rolname='viq'" | grep -q 1 \
    || as_postgres "${psql[@]}" -d postgres -c "CREATE ROLE viq LOGIN CREATEDB PASSWORD 'viq'"
  # tests drop their databases WITH (FORCE), which must end sessions still open on them
  as_postgres "${psql[@]}" -d postgres -c "SET client_min_messages = warning; GRANT pg_signal_backend TO viq" >/dev/null
  as_postgres "${psql[@]}" -d postgres -c "SELECT 1 FROM pg_database WHERE datname='viq'" | grep -q 1 \
    || as_postgres "${psql[@]}" -d postgres -c "CREATE DATABASE viq OWNER viq"
  as_postgres "${psql[@]}" -d viq -c "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS postgis"
  # template with PostGIS, so tests can create a fresh database per test module quickly
  as_postgres "${psql[@]}" -d template1 -c "SET client_min_messages = warning; CREATE EXTENSION IF NOT EXISTS postgis"
  echo "$URL"
}

down() {
  if [ -f "$PG_DIR/data/PG_VERSION" ]; then
    as_postgres "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast stop >/dev/null 2>&1 || true
  fi
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  url) echo "$URL" ;;
  *) echo "usage: $0 up|down|url" >&2; exit 2 ;;
esac
