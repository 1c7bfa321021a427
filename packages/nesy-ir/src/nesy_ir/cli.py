"""The ``nesy`` command: one entry point; installed packages add subcommands.

A package contributes through the ``nesy.commands`` entry-point group: each entry point names a
function ``register(subparsers)`` that adds its subcommands with ``set_defaults(run=...)``.
``nesy demo NAME`` runs a demo; packages add demos through the ``nesy.demos`` group the same way.
``nesy demo`` alone runs the first available of :data:`DEFAULT_DEMOS`.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points

from .errors import NesyError

#: ``nesy demo`` without a name runs the first of these that is installed.
DEFAULT_DEMOS = ("mnist-addition", "alarm")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nesy", description="nesy: neurosymbolic AI on circuits")
    sub = parser.add_subparsers(dest="command", required=True)
    from . import demo

    demos = demo.register(sub)
    for group, target in (("nesy.commands", sub), ("nesy.demos", demos)):
        for ep in entry_points(group=group):
            if not ep.value.startswith(__package__ + "."):  # ours are registered above
                ep.load()(target)
    parser.set_defaults(demos=tuple(demos.choices))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "demo" and args.demo is None:
        args = parser.parse_args(["demo", next(d for d in DEFAULT_DEMOS if d in args.demos)])
    try:
        return int(args.run(args) or 0)
    except (NesyError, OSError) as e:  # bad input or an unreadable file: a message, no trace
        print(f"nesy {args.command}: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
