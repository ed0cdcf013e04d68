#!/usr/bin/env bash
# Installs whatever this checkout needs on a Debian/Ubuntu machine, then runs it.
#
#   ./station.sh start   install, then open the station window on its embedded defaults
#                        (the demo: simulated balance and camera, sample data, SQLite)
#   ./station.sh test    install, then run the whole test suite
#   ./station.sh bench   install, then run the benchmarks (each figure beside its baseline)
#
# Idempotent: a second run installs nothing and starts at once.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"

# System libraries: the Python runtime's venv module, zbar for pyzbar, tesseract (with its English
# model) to read a package's printed lot and expiry, the DejaVu fonts the simulated hood prints its
# labels in, and what Qt links at run time.
# Qt's X11 platform plugin (xcb) needs these at run time; the tests run offscreen without them.
runtime_debs=(python3-venv libzbar0 tesseract-ocr tesseract-ocr-eng fonts-dejavu-core
              libegl1 libgl1 libxkbcommon0 libxkbcommon-x11-0 libfontconfig1
              libdbus-1-3 libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
              libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-sync1 libxcb-xfixes0
              libxcb-xkb1)
# What the tests need beyond the runtime: a real PostgreSQL server.
test_debs=(postgresql)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'station.sh: %s\n' "$*" >&2; exit 1; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"
    elif command -v sudo >/dev/null 2>&1; then sudo "$@"
    else die "need root to run: $* (install sudo or run as root)"
    fi
}

install_debs() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    command -v apt-get >/dev/null 2>&1 || die "missing ${missing[*]} and no apt-get to install them"
    say "installing system packages: ${missing[*]}"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

pick_python() {
    local candidate
    for candidate in python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"; return 0
        fi
    done
    die "Python 3.11 or newer is required (apt-get install python3)"
}

ensure_venv() {
    local python stamp want
    python="$(pick_python)"
    if [ ! -x "$venv/bin/python" ]; then
        say "creating the virtual environment in .venv"
        "$python" -m venv "$venv" || die "could not create .venv with $python"
    fi
    # Reinstall only when the project's declared dependencies change.
    stamp="$venv/.installed"
    want="$(sha256sum "$here/pyproject.toml" | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        say "installing Python packages into .venv"
        "$venv/bin/python" -m pip install --quiet --upgrade pip
        "$venv/bin/python" -m pip install --quiet -e "$here[test]"
        echo "$want" > "$stamp"
    fi
}

as_postgres() {
    if command -v runuser >/dev/null 2>&1 && [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"
    else sudo -u postgres "$@"
    fi
}

# A real PostgreSQL for the tests: the one in STATION_TEST_PG_URL when it answers, else the
# local cluster (started if it is down, created if there is none) with two roles: an owner
# that migrates, and an application role that may only SELECT and INSERT.
ensure_postgres() {
    if [ -n "${STATION_TEST_PG_URL:-}" ] &&
       "$venv/bin/python" -c 'import os, psycopg; psycopg.connect(os.environ["STATION_TEST_PG_URL"], connect_timeout=3).close()' 2>/dev/null; then
        return 0
    fi
    command -v pg_lsclusters >/dev/null 2>&1 || die "PostgreSQL is not installed"
    local version cluster status
    read -r version cluster _ status _ < <(pg_lsclusters --no-header | head -n 1) || true
    if [ -z "${version:-}" ]; then
        version="$(ls /usr/lib/postgresql | sort -V | tail -n 1)"
        cluster=main
        say "creating PostgreSQL cluster $version/$cluster"
        as_root pg_createcluster "$version" "$cluster" >/dev/null
        status=down
    fi
    if [ "$status" != "online" ]; then
        say "starting PostgreSQL $version/$cluster"
        as_root pg_ctlcluster "$version" "$cluster" start
    fi
    local port
    port="$(pg_lsclusters --no-header | awk -v v="$version" -v c="$cluster" '$1==v && $2==c {print $3}')"
    as_postgres psql -q -p "$port" -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'station_owner') THEN
    CREATE ROLE station_owner LOGIN CREATEDB CREATEROLE PASSWORD 'station-owner-test';
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'station_app') THEN
    CREATE ROLE station_app LOGIN PASSWORD 'station-app-test';
  END IF;
END $$;
-- The tests drop their scratch databases WITH (FORCE), ending the app role's connections.
GRANT pg_signal_backend TO station_owner;
SQL
    export STATION_TEST_PG_URL="postgresql://station_owner:station-owner-test@127.0.0.1:$port/postgres"
    export STATION_TEST_PG_APP_ROLE="station_app:station-app-test"
}

cmd="${1:-start}"
[ $# -gt 0 ] && shift
case "$cmd" in
    start)
        install_debs "${runtime_debs[@]}"
        ensure_venv
        exec "$venv/bin/station" "$@"
        ;;
    test)
        install_debs "${runtime_debs[@]}" "${test_debs[@]}"
        ensure_venv
        ensure_postgres
        cd "$here"
        export QT_QPA_PLATFORM="${QT_QPA_PLATFORM:-offscreen}"
        exec "$venv/bin/python" -m pytest "$@"
        ;;
    bench)
        install_debs "${runtime_debs[@]}"
        ensure_venv
        cd "$here"
        exec "$venv/bin/python" -m benchmarks "$@"
        ;;
    *)
        die "unknown command '$cmd' (use: start, test, bench)"
        ;;
esac
