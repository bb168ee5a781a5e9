#!/usr/bin/env bash
# A throwaway PostgreSQL server for dlprof's fleet-store tests, on a loopback port.
#   scripts/test-postgres.sh start DIR   initializes DIR, starts the server, prints its URL on stdout
#   scripts/test-postgres.sh stop DIR    stops it (DIR can then be removed)
# Installs Debian's postgresql when no server binaries are found. As root, the server runs as the
# `postgres` user (PostgreSQL refuses root); DIR is made theirs. The password is random, so the
# tests can check that it never shows in dlprof's output.
set -euo pipefail
cmd=${1:?start|stop}; dir=${2:?directory}

bindir=""
for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && bindir=$d; done
if [ -z "$bindir" ]; then
  SUDO=""; [ "$(id -u)" != 0 ] && SUDO="sudo"
  echo "test-postgres: installing postgresql" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends postgresql >/dev/null
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/initdb" ] && bindir=$d; done
fi
as_owner() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case "$cmd" in
  start)
    mkdir -p "$dir"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    chmod 700 "$dir"
    pw=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
    echo "$pw" > "$dir.pw"; [ "$(id -u)" = 0 ] && chown postgres: "$dir.pw"
    as_owner "$bindir/initdb" -D "$dir/data" -U dlprof --pwfile="$dir.pw" -A scram-sha-256 >/dev/null
    rm -f "$dir.pw"
    # A free loopback port: ask the kernel for one.
    port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
    as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/data/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=50" start >/dev/null
    PGPASSWORD=$pw "$bindir/createdb" -h 127.0.0.1 -p "$port" -U dlprof dlprof_test
    echo "postgres://dlprof:$pw@127.0.0.1:$port/dlprof_test"
    ;;
  stop)
    [ -d "$dir/data" ] && as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null || true
    ;;
  *) echo "usage: $0 start|stop DIR" >&2; exit 2 ;;
esac
