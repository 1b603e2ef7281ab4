#!/usr/bin/env bash
# Start/stop a throwaway PostgreSQL 18 with pgvector (Debian sid packages, in a cached chroot) for
# tests that need a real PostgreSQL. See test/postgres/README.md.
#
#   bash test/postgres/postgres.sh start   # prints THREADLOOM_TEST_DATABASE_URL=postgres://...
#   bash test/postgres/postgres.sh stop
#   bash test/postgres/postgres.sh status  # exit 0 and the env lines if running, else exit 1
#
# Env: THREADLOOM_POSTGRES_ROOT (chroot dir, default /var/cache/threadloom-postgres),
#      POSTGRES_PORT (default: a random free port), DEBIAN_MIRROR (default: debootstrap's own).
# Needs root. Only ever listens on 127.0.0.1 (no Unix socket).
set -euo pipefail

ROOT="${THREADLOOM_POSTGRES_ROOT:-/var/cache/threadloom-postgres}"
MIRROR="${DEBIAN_MIRROR:-}"
PG_MAJOR=18
READY_MARKER="$ROOT/.threadloom-postgres-ready"
DATA_IN_CHROOT=/srv/tl-pg
DATA="$ROOT$DATA_IN_CHROOT"
PGDATA_IN_CHROOT=$DATA_IN_CHROOT/data
PIDFILE="$ROOT/postgres.pid"
ENVFILE="$ROOT/env"
LOGFILE="$DATA/postgres.log"
BIN_IN_CHROOT=/usr/lib/postgresql/$PG_MAJOR/bin
DB_NAME=threadloom_test
DB_USER=threadloom
T0=$SECONDS

log() { printf '[postgres.sh +%ss] %s\n' "$((SECONDS - T0))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap/chroot/mount)"
[[ $ROOT == /?* && $ROOT != *' '* && $(realpath -m "$ROOT") != / ]] \
  || die "THREADLOOM_POSTGRES_ROOT must be an absolute path other than / (got '$ROOT')"

# One start/stop at a time (two test runners starting it together must not both debootstrap).
mkdir -p "$(dirname "$ROOT")"
exec 9>"$ROOT.lock"
flock -w 600 9 || die "another postgres.sh held $ROOT.lock for 10 minutes"

running_pid() {
  # Prints the postmaster's pid if it is ours and alive, else nothing.
  [[ -f $PIDFILE ]] || return 0
  local pid
  pid=$(<"$PIDFILE")
  if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
    && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "$BIN_IN_CHROOT/postgres"; then
    echo "$pid"
  fi
}

unmount_proc() {
  if mountpoint -q "$ROOT/proc" 2>/dev/null; then
    umount "$ROOT/proc" || umount -l "$ROOT/proc"
  fi
}

# Runs a command in the chroot as the postgres user (PostgreSQL refuses to run as root).
as_postgres() {
  local ids
  ids=$(awk -F: '$1 == "postgres" { print $3 ":" $4 }' "$ROOT/etc/passwd")
  [[ $ids =~ ^[0-9]+:[0-9]+$ ]] || die "no postgres user in $ROOT/etc/passwd"
  chroot --userspec="$ids" "$ROOT" env -i LC_ALL=C.UTF-8 HOME=/tmp PATH="$BIN_IN_CHROOT:/usr/bin:/bin" "$@"
}

ensure_chroot() {
  if [[ -f $READY_MARKER ]]; then
    log "using cached chroot $ROOT"
    return
  fi
  if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap on the host"
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
  fi
  if [[ -e $ROOT ]]; then
    log "removing incomplete chroot $ROOT"
    unmount_proc
    mountpoint -q "$ROOT/proc" 2>/dev/null && die "$ROOT/proc still mounted"
    rm -rf --one-file-system "$ROOT"
  fi
  log "debootstrap --variant=minbase sid $ROOT (~30-45 s)"
  debootstrap --variant=minbase sid "$ROOT" ${MIRROR:+"$MIRROR"} >"$ROOT.debootstrap.log" 2>&1 \
    || { tail -n 30 "$ROOT.debootstrap.log" >&2; die "debootstrap failed (log: $ROOT.debootstrap.log)"; }
  rm -f "$ROOT.debootstrap.log"
  printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
  chmod 755 "$ROOT/usr/sbin/policy-rc.d"
  # postgresql-common would create a "main" cluster on install: we make our own per start.
  mkdir -p "$ROOT/etc/postgresql-common"
  echo 'create_main_cluster = false' >"$ROOT/etc/postgresql-common/createcluster.conf"
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
  mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
  log "apt-get install postgresql-$PG_MAJOR postgresql-$PG_MAJOR-pgvector in the chroot"
  chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 \
    apt-get -o Acquire::Check-Valid-Until=false update -qq >&2
  chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 \
    apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confold \
    "postgresql-$PG_MAJOR" "postgresql-$PG_MAJOR-pgvector" >"$ROOT/tmp/apt.log" 2>&1 \
    || { tail -n 30 "$ROOT/tmp/apt.log" >&2; unmount_proc; die "apt-get install postgresql failed"; }
  chroot "$ROOT" apt-get clean
  unmount_proc # PostgreSQL itself runs without /proc; nothing stays mounted between runs
  [[ -x $ROOT$BIN_IN_CHROOT/postgres ]] || die "no $BIN_IN_CHROOT/postgres after install"
  log "installed: $(chroot "$ROOT" "$BIN_IN_CHROOT/postgres" --version)," \
    "pgvector $(chroot "$ROOT" dpkg-query -W -f='${Version}' "postgresql-$PG_MAJOR-pgvector")"
  touch "$READY_MARKER"
  log "chroot ready"
}

free_port() {
  # A port nothing listens on now; postgres binding it is the real test (start retries).
  local port
  for _ in $(seq 1 50); do
    port=$((20000 + RANDOM % 40000))
    if ! grep -qi ":$(printf '%04X' "$port") " /proc/net/tcp /proc/net/tcp6 2>/dev/null; then
      echo "$port"
      return
    fi
  done
  die "no free port found"
}

psql_super() {
  # psql as the superuser over TCP (its password is in the data dir, readable by root only).
  local port=$1 db=$2
  shift 2
  as_postgres PGPASSWORD="$(cat "$DATA/superuser.pw" 2>/dev/null)" \
    psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$port" -U postgres -d "$db" "$@"
}

print_env() {
  cat "$ENVFILE"
}

# Checks a running server still answers and has pgvector; used by start when one is running.
healthy() {
  local port
  port=$(sed -n 's/^THREADLOOM_TEST_POSTGRES_PORT=//p' "$ENVFILE" 2>/dev/null)
  [[ $port =~ ^[0-9]+$ ]] || return 1
  [[ $(psql_super "$port" "$DB_NAME" -tA -c "SELECT extversion FROM pg_extension WHERE extname = 'vector'" 2>/dev/null) ]]
}

start_server() {
  local port=$1
  rm -f "$PIDFILE"
  # chroot execs postgres, so $! is the postmaster's pid. The server must not inherit fd 9 (the
  # lock): it would hold the lock for as long as it runs.
  local ids
  ids=$(awk -F: '$1 == "postgres" { print $3 ":" $4 }' "$ROOT/etc/passwd")
  setsid chroot --userspec="$ids" "$ROOT" env -i LC_ALL=C.UTF-8 HOME=/tmp \
    "$BIN_IN_CHROOT/postgres" -D "$PGDATA_IN_CHROOT" -p "$port" \
    </dev/null >>"$LOGFILE" 2>&1 9>&- &
  echo $! >"$PIDFILE"
}

do_start() {
  ensure_chroot
  if [[ -n $(running_pid) ]]; then
    if healthy; then
      log "PostgreSQL already running (pid $(<"$PIDFILE")): reusing it"
      print_env
      return
    fi
    log "PostgreSQL running but not healthy: restarting it"
    do_stop
  fi

  local password ids
  password=$(head -c 24 /dev/urandom | base64 | tr -d '=+/\n')
  rm -rf "$DATA"
  mkdir -p "$DATA"
  ids=$(awk -F: '$1 == "postgres" { print $3 ":" $4 }' "$ROOT/etc/passwd")
  chown "$ids" "$DATA"
  chmod 700 "$DATA"
  : >"$LOGFILE"
  chown "$ids" "$LOGFILE"

  head -c 24 /dev/urandom | base64 | tr -d '=+/\n' >"$DATA/superuser.pw"
  chown "$ids" "$DATA/superuser.pw"
  chmod 600 "$DATA/superuser.pw"

  log "initdb $PGDATA_IN_CHROOT"
  as_postgres initdb -D "$PGDATA_IN_CHROOT" -U postgres -E UTF8 --locale=C.UTF-8 \
    --pwfile="$DATA_IN_CHROOT/superuser.pw" \
    --auth-local=reject --auth-host=scram-sha-256 --no-sync >>"$LOGFILE" 2>&1 \
    || { tail -n 30 "$LOGFILE" >&2; die "initdb failed"; }
  # 127.0.0.1 only, no Unix socket, no durability (a test server), no /dev/shm needed.
  cat >>"$DATA/data/postgresql.conf" <<EOF

# threadloom test server (test/postgres/postgres.sh)
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
dynamic_shared_memory_type = mmap
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 200
shared_buffers = 128MB
log_min_messages = warning
log_min_error_statement = panic
EOF
  cat >"$DATA/data/pg_hba.conf" <<EOF
# TYPE  DATABASE  USER      ADDRESS       METHOD
host    all       all       127.0.0.1/32  scram-sha-256
EOF

  local port tries=0
  while :; do
    port="${POSTGRES_PORT:-$(free_port)}"
    [[ $port =~ ^[0-9]+$ ]] || die "bad port: $port"
    log "starting PostgreSQL on 127.0.0.1:$port (log: $LOGFILE)"
    start_server "$port"
    local deadline=$((SECONDS + 60)) up=0
    while ((SECONDS < deadline)); do
      if as_postgres pg_isready -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; then up=1; break; fi
      [[ -n $(running_pid) ]] || break
      sleep 0.1
    done
    ((up)) && break
    if [[ -z $(running_pid) ]] && grep -q 'could not bind' "$LOGFILE" && [[ -z ${POSTGRES_PORT:-} ]] && ((++tries < 5)); then
      log "port $port was taken, trying another"
      continue
    fi
    tail -n 40 "$LOGFILE" >&2 || true
    do_stop
    die "PostgreSQL did not start"
  done

  log "creating role $DB_USER, database $DB_NAME, extension vector"
  psql_super "$port" postgres <<EOF
CREATE ROLE $DB_USER LOGIN CREATEDB PASSWORD '$password';
CREATE DATABASE $DB_NAME OWNER $DB_USER;
EOF
  # in template1 too, so a database a test creates (CREATE DATABASE x) has it already
  psql_super "$port" template1 -c 'CREATE EXTENSION IF NOT EXISTS vector'
  psql_super "$port" "$DB_NAME" -c 'CREATE EXTENSION IF NOT EXISTS vector'
  local check
  check=$(psql_super "$port" "$DB_NAME" -tA -c \
    "SELECT current_setting('server_version') || ' / vector ' || extversion || ' / ' || ('[1,2,3]'::vector <-> '[1,2,4]'::vector)
       FROM pg_extension WHERE extname = 'vector'") || true
  if [[ $check != *' / vector '*' / 1' ]]; then
    tail -n 20 "$LOGFILE" >&2 || true
    do_stop
    die "CREATE EXTENSION vector check failed (got '$check')"
  fi
  log "PostgreSQL is up: $check (pid $(<"$PIDFILE"))"
  {
    printf 'THREADLOOM_TEST_DATABASE_URL=postgres://%s:%s@127.0.0.1:%s/%s\n' "$DB_USER" "$password" "$port" "$DB_NAME"
    printf 'THREADLOOM_TEST_POSTGRES_PORT=%s\n' "$port"
  } >"$ENVFILE"
  chmod 600 "$ENVFILE"
  print_env
}

do_stop() {
  local pid
  pid=$(running_pid)
  if [[ -n $pid ]]; then
    log "stopping PostgreSQL (pid $pid)"
    kill -INT "$pid" 2>/dev/null || true # fast shutdown: ends sessions, no waiting on clients
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "still alive after 10 s, sending SIGQUIT"
      kill -QUIT "$pid" 2>/dev/null || true
      sleep 1
    fi
  else
    log "PostgreSQL not running"
  fi
  rm -f "$PIDFILE" "$ENVFILE"
  rm -rf "$DATA"
  unmount_proc
}

do_status() {
  if [[ -n $(running_pid) ]] && healthy; then
    print_env
  else
    log "PostgreSQL not running"
    return 1
  fi
}

case "${1:-}" in
  start) do_start ;;
  stop) do_stop ;;
  status) do_status ;;
  *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
