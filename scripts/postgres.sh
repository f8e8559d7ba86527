#!/usr/bin/env bash
# A throwaway PostgreSQL for tests and local scale-out runs.
#
#   scripts/postgres.sh start    install (Debian) if needed, init, start; print the URL
#   scripts/postgres.sh url      print the URL of the running cluster (exit 1 if stopped)
#   scripts/postgres.sh status   say whether it runs
#   scripts/postgres.sh stop     stop it (the data stays under .cache/postgres)
#
# The cluster lives in .cache/postgres/ (git-ignored), listens on 127.0.0.1 only,
# on a free port from 55432 up, with a random password for the `postgres` role
# (scram-sha-256), and has a database named `taste2vec`. `start` is idempotent and
# safe to run concurrently: it reuses a running cluster. PostgreSQL refuses to run
# as root, so as root the server runs as the `postgres` system user that Debian's
# package creates; as any other user it runs as that user.
# Environment: T2V_PG_DIR overrides the state folder; T2V_PG_PORT the first port tried.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${T2V_PG_DIR:-$REPO/.cache/postgres}"
DB_NAME=taste2vec
FIRST_PORT="${T2V_PG_PORT:-55432}"

die() { echo "postgres.sh: error: $*" >&2; exit 1; }
note() { echo "postgres.sh: $*" >&2; }

find_bindir() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        [[ -x "$dir/pg_ctl" && -x "$dir/initdb" ]] && { echo "$dir"; return 0; }
    done
    if command -v pg_ctl >/dev/null && command -v initdb >/dev/null; then
        dirname "$(readlink -f "$(command -v pg_ctl)")"
        return 0
    fi
    return 1
}

install_postgres() {
    command -v apt-get >/dev/null || die "PostgreSQL is not installed and apt-get is missing: \
install the PostgreSQL server (pg_ctl, initdb) or set T2V_TEST_POSTGRES_URL"
    local sudo=()
    if [[ "$(id -u)" -ne 0 ]]; then
        command -v sudo >/dev/null && sudo -n true 2>/dev/null \
            || die "PostgreSQL is not installed; run: sudo apt-get install postgresql"
        sudo=(sudo -n)
    fi
    note "installing Debian's postgresql package (apt-get)..."
    "${sudo[@]}" apt-get update -qq >&2 \
        || die "apt-get update failed; install postgresql by hand or set T2V_TEST_POSTGRES_URL"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >&2 \
        || die "apt-get install postgresql failed; set T2V_TEST_POSTGRES_URL instead"
}

BIN="$(find_bindir || true)"
as_owner() { "$@"; }
if [[ "$(id -u)" -eq 0 ]]; then
    as_owner() { runuser -u postgres -- "$@"; }
fi

ensure_state_dir() {
    mkdir -p "$STATE"
    if [[ "$(id -u)" -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || die "no 'postgres' system user: PostgreSQL refuses to \
run as root. Reinstall Debian's postgresql package or run this script as a normal user"
        mkdir -p "$STATE/cluster"
        chown postgres:postgres "$STATE/cluster"
        chmod 700 "$STATE/cluster"
        as_owner test -w "$STATE/cluster" || die "the postgres user cannot write to \
$STATE/cluster (a parent folder is not world-searchable); set T2V_PG_DIR to another folder"
    else
        mkdir -p "$STATE/cluster"
        chmod 700 "$STATE/cluster"
    fi
}

DATA="$STATE/cluster/data"
LOG="$STATE/cluster/postgres.log"

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

is_running() {
    [[ -n "$BIN" && -f "$DATA/PG_VERSION" ]] || return 1
    as_owner "$BIN/pg_ctl" status -D "$DATA" >/dev/null 2>&1
}

password() { cat "$STATE/password"; }
port() { cat "$STATE/port"; }
url() { echo "postgresql+psycopg://postgres:$(password)@127.0.0.1:$(port)/$DB_NAME"; }

init_cluster() {
    local pw pwfile
    pw="$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')"
    (umask 077 && echo "$pw" >"$STATE/password")
    pwfile="$STATE/cluster/pwfile"
    (umask 077 && echo "$pw" >"$pwfile")
    [[ "$(id -u)" -eq 0 ]] && chown postgres:postgres "$pwfile"
    note "initialising a cluster in $DATA"
    as_owner "$BIN/initdb" -D "$DATA" -U postgres --pwfile="$pwfile" -E UTF8 --locale=C \
        --auth-host=scram-sha-256 --auth-local=scram-sha-256 >"$STATE/initdb.log" 2>&1 \
        || { rm -f "$pwfile"; cat "$STATE/initdb.log" >&2; die "initdb failed"; }
    rm -f "$pwfile"
    as_owner sh -c "cat >>'$DATA/postgresql.conf'" <<'EOF'
# taste2vec test cluster
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
EOF
}

psql_admin() {
    PGPASSWORD="$(password)" "$BIN/psql" -X -q -h 127.0.0.1 -p "$(port)" -U postgres \
        -d postgres -v ON_ERROR_STOP=1 "$@"
}

start() {
    if [[ -z "$BIN" ]]; then
        install_postgres
        BIN="$(find_bindir)" || die "postgresql installed but pg_ctl/initdb not found"
    fi
    ensure_state_dir
    exec 9>"$STATE/lock"
    flock -w 300 9 || die "timed out waiting for another postgres.sh start"
    if ! is_running; then
        [[ -f "$DATA/PG_VERSION" && -f "$STATE/password" ]] || { rm -rf "$DATA"; init_cluster; }
        local port_try="$FIRST_PORT" started=0 attempt
        [[ -f "$STATE/port" ]] && port_try="$(port)"
        for attempt in 1 2 3 4 5; do
            while port_in_use "$port_try"; do port_try=$((port_try + 1)); done
            echo "$port_try" >"$STATE/port"
            if as_owner "$BIN/pg_ctl" start -D "$DATA" -l "$LOG" -w -t 60 \
                -o "-p $port_try" >/dev/null 2>&1 9>&-; then  # 9>&-: the server must not keep our lock
                started=1
                break
            fi
            note "start on port $port_try failed (attempt $attempt); trying the next port"
            port_try=$((port_try + 1))
        done
        [[ "$started" -eq 1 ]] || { tail -n 20 "$LOG" >&2 || true; die "could not start; see $LOG"; }
    fi
    for _ in $(seq 1 50); do
        "$BIN/pg_isready" -q -h 127.0.0.1 -p "$(port)" && break
        sleep 0.2
    done
    if [[ -z "$(psql_admin -tAc "SELECT 1 FROM pg_database WHERE datname = '$DB_NAME'")" ]]; then
        psql_admin -c "CREATE DATABASE $DB_NAME"
    fi
    url
}

case "${1:-}" in
    start) start ;;
    url) is_running || die "not running; run: scripts/postgres.sh start"; url ;;
    status)
        if is_running; then echo "running on 127.0.0.1:$(port)"; else echo "stopped"; exit 1; fi ;;
    stop)
        if is_running; then as_owner "$BIN/pg_ctl" stop -D "$DATA" -m fast -w >/dev/null
            echo "stopped"; else echo "not running"; fi ;;
    *) echo "usage: $0 start|url|status|stop" >&2; exit 2 ;;
esac
