#!/usr/bin/env bash
# Development entry point.
#   bash dev.sh demo [args]          run `nesy demo` (the end-to-end IR demo)
#   bash dev.sh test [pytest args]   run the tests (pytest -n 2)
# Both create .venv when it is missing and (re)install the packages when a pyproject.toml or this
# script changed since the last install; otherwise they reuse .venv as it is.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

PYTHON="${PYTHON:-python3}"
VENV=.venv
STAMP="$VENV/.nesy-installed"

usage() {
    echo "usage: bash dev.sh demo [args] | bash dev.sh test [pytest args]" >&2
    exit 2
}

make_venv() {
    if ! command -v "$PYTHON" >/dev/null 2>&1; then
        echo "dev.sh: $PYTHON not found; nesy needs Python >= 3.11 (set PYTHON=/path/to/python3.11)" >&2
        exit 1
    fi
    if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
        echo "dev.sh: $PYTHON is Python $("$PYTHON" -c 'import platform; print(platform.python_version())');" \
            "nesy needs >= 3.11 (set PYTHON=/path/to/python3.11)" >&2
        exit 1
    fi
    echo "dev.sh: creating $VENV with $PYTHON" >&2
    "$PYTHON" -m venv "$VENV"
}

needs_install() {
    [ -f "$STAMP" ] || return 0
    local f
    for f in pyproject.toml dev.sh packages/*/pyproject.toml; do
        [ "$f" -nt "$STAMP" ] && return 0
    done
    return 1
}

install() {
    local pip=("$VENV/bin/python" -m pip install -qq)
    local start=$SECONDS
    # torch first and pinned: the local CPU wheel. Unpinned, pip may pull a CUDA build (GBs).
    echo "dev.sh: installing torch==2.13.0" >&2
    "${pip[@]}" torch==2.13.0
    echo "dev.sh: installing the nesy packages (editable) and the test tools" >&2
    "${pip[@]}" torch==2.13.0 \
        -e "packages/nesy-ir[graph]" \
        -e packages/nesy-compile \
        -e "packages/nesy-torch[klay]" \
        -e packages/nesy-jax \
        -e "packages/nesy-models[jax]" \
        pytest hypothesis ruff pytest-xdist problog
    touch "$STAMP"
    echo "dev.sh: installed in $((SECONDS - start)) s" >&2
}

[ $# -ge 1 ] || usage
cmd="$1"
shift
case "$cmd" in
    demo | test) ;;
    *) usage ;;
esac

[ -x "$VENV/bin/python" ] || make_venv
needs_install && install

case "$cmd" in
    demo) exec "$VENV/bin/nesy" demo "$@" ;;
    test) exec "$VENV/bin/python" -m pytest -n 2 "$@" ;;
esac
