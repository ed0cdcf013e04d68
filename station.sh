#!/usr/bin/env bash
# Installs whatever this checkout needs on a Debian/Ubuntu machine, then runs it.
#
#   ./station.sh start   install, then start the station on its embedded defaults
#                        (until the station window lands, this lists the commands)
#   ./station.sh test    install, then run the whole test suite
#   ./station.sh bench   install, then run the benchmarks (each figure beside its baseline)
#
# Idempotent: a second run installs nothing and starts at once.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$here/.venv"

# System libraries: the Python runtime's venv module, zbar for pyzbar, and what Qt links at run time.
runtime_debs=(python3-venv libzbar0 libegl1 libgl1 libxkbcommon0 libfontconfig1 libdbus-1-3 libxcb-cursor0)
# What the tests need beyond the runtime (none yet).
test_debs=()

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
