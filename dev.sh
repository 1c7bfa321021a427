#!/usr/bin/env bash
# Development entry point.
#   bash dev.sh demo [args]          run `nesy demo` (the end-to-end IR demo)
#   bash dev.sh test [pytest args]   run the tests (pytest -n 2)
#   bash dev.sh wheels [DIR]         build every package's wheel into DIR (default dist/), so that
#                                    `pip install --find-links dist nesy-jax` (any subset) works
#   bash dev.sh docs [mkdocs args]   build the documentation site into site/ (mkdocs --strict)
# demo, test and docs create .venv when it is missing and (re)install the packages when a
# pyproject.toml or this script changed since the last install; otherwise they reuse .venv as it
# is (docs adds its pinned tools on first use: the CLI page is the installed `nesy`'s help).
# wheels needs only the venv's pip.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")"

PYTHON="${PYTHON:-python3}"
VENV=.venv
STAMP="$VENV/.nesy-installed"

# Every package, in dependency order (the wheels are built in this order).
PACKAGES=(nesy-ir nesy-compile nesy-torch nesy-jax nesy-models)
# The documentation tools, pinned: a strict build fails on new warnings of a newer release.
DOCS_TOOLS=(mkdocs==1.6.1 mkdocs-material==9.8.2 mkdocstrings==1.0.8 mkdocstrings-python==2.0.11
    griffelib==2.4.1)

usage() {
    echo "usage: bash dev.sh demo [args] | bash dev.sh test [pytest args]" \
        "| bash dev.sh wheels [DIR] | bash dev.sh docs [mkdocs build args]" >&2
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

# The wheelhouse: one pure-Python wheel per package, built with pip (hatchling in an isolated
# build environment). Older nesy wheels in DIR are removed first, so the folder holds one version.
wheels() {
    local out="${1:-dist}"
    [ $# -le 1 ] || usage
    mkdir -p "$out"
    rm -f "$out"/nesy_ir-*.whl "$out"/nesy_compile-*.whl "$out"/nesy_torch-*.whl \
        "$out"/nesy_jax-*.whl "$out"/nesy_models-*.whl
    local paths=() p
    for p in "${PACKAGES[@]}"; do paths+=("packages/$p"); done
    echo "dev.sh: building ${#paths[@]} wheels into $out/" >&2
    "$VENV/bin/python" -m pip wheel -q --no-deps --wheel-dir "$out" "${paths[@]}"
    ls -1 "$out"/nesy_*.whl
    echo "dev.sh: install with: pip install --find-links $out nesy-jax (or any package)" >&2
}

# The documentation site: mkdocs.yml at the root, pages from docs/, the API reference from the
# docstrings (mkdocstrings reads the sources), the CLI page from the parser. Warnings are errors.
docs() {
    local stamp="$VENV/.nesy-docs-installed"
    if [ ! -f "$stamp" ] || [ dev.sh -nt "$stamp" ]; then
        echo "dev.sh: installing the documentation tools" >&2
        "$VENV/bin/python" -m pip install -qq "${DOCS_TOOLS[@]}"
        touch "$stamp"
    fi
    # NO_MKDOCS_2_WARNING: Material for MkDocs prints a banner about its successor on every build.
    NO_MKDOCS_2_WARNING=1 exec "$VENV/bin/python" -m mkdocs build --strict --site-dir site "$@"
}

[ $# -ge 1 ] || usage
cmd="$1"
shift
case "$cmd" in
    demo | test | wheels | docs) ;;
    *) usage ;;
esac

[ -x "$VENV/bin/python" ] || make_venv

if [ "$cmd" != wheels ] && needs_install; then
    install
fi

case "$cmd" in
    demo) exec "$VENV/bin/nesy" demo "$@" ;;
    test) exec "$VENV/bin/python" -m pytest -n 2 "$@" ;;
    wheels) wheels "$@" ;;
    docs) docs "$@" ;;
esac
