"""The ``nesy`` command: one entry point; installed packages add subcommands.

A package contributes through the ``nesy.commands`` entry-point group: each entry point names a
function ``register(subparsers)`` that adds its subcommands with ``set_defaults(run=...)``.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points

from .errors import NesyError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nesy", description="nesy: neurosymbolic AI on circuits")
    sub = parser.add_subparsers(dest="command", required=True)
    from . import demo

    demo.register(sub)
    for ep in entry_points(group="nesy.commands"):
        if ep.value.startswith(__package__ + "."):
            continue  # our own commands are registered above
        ep.load()(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except (NesyError, OSError) as e:  # bad input or an unreadable file: a message, no trace
        print(f"nesy {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
