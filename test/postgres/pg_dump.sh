#!/usr/bin/env bash
# pg_dump 18 from the test PostgreSQL's chroot (see postgres.sh), for tests that back up the test
# server: this machine's Debian has an older pg_dump, which refuses a PostgreSQL 18 server. Point
# THREADLOOM_PG_DUMP (or backups.pgDump) at this file. Needs root (chroot).
#
# The chroot cannot see the host's files, so --file=X / -f X is taken out of the arguments: the
# dump goes to stdout and this script writes it to X (a custom-format dump on a pipe has no data
# offsets in its table of contents; pg_restore reads it all the same).
set -euo pipefail

ROOT="${THREADLOOM_POSTGRES_ROOT:-/var/cache/threadloom-postgres}"
BIN=/usr/lib/postgresql/18/bin/pg_dump
[[ -x $ROOT$BIN ]] || { echo "pg_dump.sh: no $BIN in $ROOT (run test/postgres/postgres.sh start first)" >&2; exit 127; }

args=()
out=
while (($#)); do
  case $1 in
    --file=*) out=${1#--file=} ;;
    -f | --file) out=${2:?"$1 needs a file"}; shift ;;
    -f?*) out=${1#-f} ;;
    *) args+=("$1") ;;
  esac
  shift
done

if [[ -n $out ]]; then
  exec chroot "$ROOT" env LC_ALL=C.UTF-8 "$BIN" "${args[@]}" >"$out"
fi
exec chroot "$ROOT" env LC_ALL=C.UTF-8 "$BIN" "${args[@]}"
