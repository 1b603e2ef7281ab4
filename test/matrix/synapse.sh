#!/usr/bin/env bash
# Start/stop a throwaway Synapse homeserver (Debian sid package, in a cached chroot) for the
# Matrix integration tests. See test/matrix/README.md.
#
#   bash test/matrix/synapse.sh start   # prints SYNAPSE_URL=... and SYNAPSE_SHARED_SECRET=...
#   bash test/matrix/synapse.sh stop
#
# Env: THREADLOOM_SYNAPSE_ROOT (chroot dir, default /var/cache/threadloom-synapse),
#      SYNAPSE_PORT (default: a random free port), DEBIAN_MIRROR (default: debootstrap's own).
# Needs root. Only ever listens on 127.0.0.1.
set -euo pipefail

ROOT="${THREADLOOM_SYNAPSE_ROOT:-/var/cache/threadloom-synapse}"
MIRROR="${DEBIAN_MIRROR:-}"
READY_MARKER="$ROOT/.threadloom-synapse-ready"
DATA_IN_CHROOT=/srv/tl-test
DATA="$ROOT$DATA_IN_CHROOT"
PIDFILE="$ROOT/synapse.pid"
ENVFILE="$ROOT/env"
LOGFILE="$DATA/synapse.log"
T0=$SECONDS

log() { printf '[synapse.sh +%ss] %s\n' "$((SECONDS - T0))" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap/chroot/mount)"
[[ $ROOT == /?* && $ROOT != *' '* && $(realpath -m "$ROOT") != / ]] \
  || die "THREADLOOM_SYNAPSE_ROOT must be an absolute path other than / (got '$ROOT')"

running_pid() {
  # Prints the pid of our Synapse if it is alive, else nothing.
  [[ -f $PIDFILE ]] || return 0
  local pid
  pid=$(<"$PIDFILE")
  if [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null \
    && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q 'synapse.app.homeserver'; then
    echo "$pid"
  fi
}

unmount_proc() {
  if mountpoint -q "$ROOT/proc" 2>/dev/null; then
    umount "$ROOT/proc" || umount -l "$ROOT/proc"
  fi
}

do_stop() {
  local pid
  pid=$(running_pid)
  if [[ -n $pid ]]; then
    log "stopping Synapse (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      log "still alive after 10 s, sending SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
    fi
  else
    log "Synapse not running"
  fi
  rm -f "$PIDFILE"
  unmount_proc
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
  mkdir -p "$(dirname "$ROOT")"
  log "debootstrap --variant=minbase sid $ROOT (~45 s)"
  debootstrap --variant=minbase sid "$ROOT" ${MIRROR:+"$MIRROR"} >"$ROOT.debootstrap.log" 2>&1 \
    || { tail -n 30 "$ROOT.debootstrap.log" >&2; die "debootstrap failed (log: $ROOT.debootstrap.log)"; }
  rm -f "$ROOT.debootstrap.log"
  printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
  chmod 755 "$ROOT/usr/sbin/policy-rc.d"
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true
  mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"
  log "apt-get install matrix-synapse in the chroot (~65 s)"
  chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 \
    apt-get -o Acquire::Check-Valid-Until=false update -qq >&2
  chroot "$ROOT" env DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 \
    apt-get install -y -qq --no-install-recommends matrix-synapse >"$ROOT/tmp/apt.log" 2>&1 \
    || { tail -n 30 "$ROOT/tmp/apt.log" >&2; die "apt-get install matrix-synapse failed"; }
  chroot "$ROOT" apt-get clean
  chroot "$ROOT" python3 -c 'import synapse; print("synapse", synapse.__version__)' >&2
  touch "$READY_MARKER"
  log "chroot ready"
}

free_port() {
  chroot "$ROOT" python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

write_config() {
  local port=$1 secret=$2
  rm -rf "$DATA"
  mkdir -p "$DATA/media"
  # ed25519 signing key: "<alg> <key id> <unpadded base64 seed>"
  printf 'ed25519 a_tl %s\n' "$(head -c 32 /dev/urandom | base64 | tr -d '=\n')" >"$DATA/signing.key"
  cat >"$DATA/homeserver.yaml" <<EOF
server_name: "localhost"
pid_file: $DATA_IN_CHROOT/homeserver.pid
report_stats: false
listeners:
  - port: $port
    bind_addresses: ['127.0.0.1']
    type: http
    tls: false
    x_forwarded: false
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: $DATA_IN_CHROOT/homeserver.db
media_store_path: $DATA_IN_CHROOT/media
signing_key_path: $DATA_IN_CHROOT/signing.key
registration_shared_secret: "$secret"
macaroon_secret_key: "$(head -c 24 /dev/urandom | base64 | tr -d '=+/\n')"
form_secret: "$(head -c 24 /dev/urandom | base64 | tr -d '=+/\n')"
enable_registration: false
trusted_key_servers: []
suppress_key_server_warning: true
federation_domain_whitelist: []
url_preview_enabled: false
presence:
  enabled: false
rc_message: {per_second: 1000, burst_count: 10000}
rc_registration: {per_second: 1000, burst_count: 10000}
rc_login:
  address: {per_second: 1000, burst_count: 10000}
  account: {per_second: 1000, burst_count: 10000}
  failed_attempts: {per_second: 1000, burst_count: 10000}
rc_joins:
  local: {per_second: 1000, burst_count: 10000}
  remote: {per_second: 1000, burst_count: 10000}
rc_invites:
  per_room: {per_second: 1000, burst_count: 10000}
  per_user: {per_second: 1000, burst_count: 10000}
  per_issuer: {per_second: 1000, burst_count: 10000}
rc_admin_redaction: {per_second: 1000, burst_count: 10000}
rc_key_requests: {per_second: 1000, burst_count: 10000}
rc_room_creation: {per_second: 1000, burst_count: 10000}
rc_media_create: {per_second: 1000, burst_count: 10000}
EOF
}

do_start() {
  ensure_chroot
  # Fresh server every time: stop a previous one first.
  if [[ -n $(running_pid) ]]; then do_stop; fi
  mountpoint -q "$ROOT/proc" || mount -t proc proc "$ROOT/proc"

  local port secret
  port="${SYNAPSE_PORT:-$(free_port)}"
  [[ $port =~ ^[0-9]+$ ]] || die "bad port: $port"
  secret=$(head -c 24 /dev/urandom | base64 | tr -d '=+/\n')
  write_config "$port" "$secret"

  log "starting Synapse on 127.0.0.1:$port (log: $LOGFILE)"
  # chroot execs python3, so $! is Synapse's pid.
  setsid chroot "$ROOT" env LC_ALL=C.UTF-8 HOME=/tmp \
    python3 -m synapse.app.homeserver -c "$DATA_IN_CHROOT/homeserver.yaml" \
    </dev/null >"$LOGFILE" 2>&1 &
  echo $! >"$PIDFILE"

  local url="http://127.0.0.1:$port" deadline=$((SECONDS + 60))
  until curl -fsS -o /dev/null --max-time 2 "$url/_matrix/client/versions" 2>/dev/null; do
    if [[ -z $(running_pid) ]]; then
      tail -n 40 "$LOGFILE" >&2 || true
      rm -f "$PIDFILE"
      unmount_proc
      die "Synapse exited during startup"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 40 "$LOGFILE" >&2 || true
      do_stop
      die "Synapse did not answer within 60 s"
    fi
    sleep 0.2
  done
  log "Synapse is up at $url (pid $(<"$PIDFILE"))"
  printf 'SYNAPSE_URL=%s\nSYNAPSE_SHARED_SECRET=%s\n' "$url" "$secret" | tee "$ENVFILE"
}

case "${1:-}" in
  start) do_start ;;
  stop) do_stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
