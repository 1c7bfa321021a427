"""The ``nesy`` command: one entry point; installed packages add subcommands.

A package contributes through the ``nesy.commands`` entry-point group: each entry point names a
function ``register(subparsers)`` that adds its subcommands with ``set_defaults(run=...)``.
``nesy demo NAME`` runs a demo; packages add demos through the ``nesy.demos`` group the same way.
``nesy demo`` alone runs the first available of :data:`DEFAULT_DEMOS`.

Registering must stay cheap: ``nesy --help`` and ``nesy query`` build every package's parsers,
so a ``register`` function imports no torch, JAX, PySDD, matplotlib or scikit-learn; the
function a command runs imports them when it runs. A package whose registration fails to import
loses its commands (with a note on stderr), not the others'.
"""

from __future__ import annotations

import argparse
import re
import sys
import textwrap
from importlib.metadata import EntryPoints, PackageNotFoundError, entry_points, version

from .errors import NesyError

#: ``nesy demo`` without a name runs the first of these that is installed.
DEFAULT_DEMOS = ("mnist-addition", "alarm")
#: The packages ``nesy --version`` reports, in this order, when installed.
PACKAGES = ("nesy-ir", "nesy-compile", "nesy-torch", "nesy-jax", "nesy-models")
GROUPS = ("nesy.commands", "nesy.demos", "nesy.backends")


class HelpFormatter(argparse.HelpFormatter):
    """Keeps the line breaks of descriptions and epilogs (wrapping each long line) and shows
    every option's default (unless it is None or a flag's False/True, which say nothing)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n".join(self._fill_line(line, width, indent) for line in text.splitlines())

    @staticmethod
    def _fill_line(line: str, width: int, indent: str) -> str:
        """One line wrapped; a row of a two-column list ("  name  text") hangs under its text."""
        if len(indent) + len(line) <= width:
            return indent + line
        lead = line[: len(line) - len(line.lstrip())]
        row = re.match(r"\s+\S+\s{2,}", line)
        hang = indent + (" " * row.end() if row else lead)
        return textwrap.fill(
            line.strip(), width, initial_indent=indent + lead, subsequent_indent=hang
        )

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            "%(default)" in text
            or default is None
            or default is argparse.SUPPRESS
            or isinstance(default, bool)
            or not (action.option_strings or action.nargs in (argparse.OPTIONAL, "*"))
        ):
            return text
        return f"{text} (default: %(default)s)".lstrip()


class Parser(argparse.ArgumentParser):
    """An ArgumentParser with :class:`HelpFormatter`; subparsers are made of this class too,
    so every command's help shows its defaults."""

    def __init__(self, *args, formatter_class: type = HelpFormatter, **kwargs) -> None:
        super().__init__(*args, formatter_class=formatter_class, **kwargs)


def versions() -> dict[str, str]:
    """Package name -> version of the installed nesy packages (and of any other package that
    adds commands, demos or backends)."""
    names = dict.fromkeys(PACKAGES)
    eps = entry_points()
    for group in GROUPS:
        for ep in eps.select(group=group):
            if ep.dist is not None:
                names.setdefault(ep.dist.name)
    found = {}
    for name in names:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


class _Versions(argparse.Action):
    """``--version``: print :func:`versions` and exit."""

    def __init__(self, option_strings: list[str], dest: str = argparse.SUPPRESS, **kwargs):
        kwargs.setdefault("help", "print the installed nesy packages' versions and exit")
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        print("".join(f"{k} {v}\n" for k, v in versions().items()), end="")
        parser.exit()


def _register(eps: EntryPoints, group: str, target: argparse._SubParsersAction) -> None:
    """Let each entry point of ``group`` add its commands (or demos) to ``target``."""
    for ep in eps.select(group=group):
        if ep.value.startswith(__package__ + "."):  # ours are registered in build_parser
            continue
        try:
            ep.load()(target)
        except ImportError as e:  # a broken install costs that package's commands only
            package = ep.dist.name if ep.dist is not None else ep.value
            print(f"nesy: the commands of {package} are unavailable: {e}", file=sys.stderr)


def build_parser() -> argparse.ArgumentParser:
    """The ``nesy`` parser with every installed package's commands (imports nothing heavy)."""
    parser = Parser(
        prog="nesy",
        description="nesy: neurosymbolic AI on algebraic circuits (the DeepLog language).",
        epilog="Run 'nesy COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action=_Versions)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    from . import demo

    demos = demo.register(sub)
    eps = entry_points()  # one scan of the installed packages (each costs tens of ms)
    _register(eps, "nesy.commands", sub)
    _register(eps, "nesy.demos", demos)
    parser.set_defaults(demos=tuple(demos.choices))
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:  # a bare `nesy`: say what there is
        parser.print_help()
        return 0
    if args.command == "demo" and args.demo is None:
        args = parser.parse_args(["demo", next(d for d in DEFAULT_DEMOS if d in args.demos)])
    from .allocator import reuse_freed_memory  # here: `nesy --help` does not import ctypes

    reuse_freed_memory()  # the command's passes reuse freed memory (see nesy_ir.allocator)
    try:
        return int(args.run(args) or 0)
    except (NesyError, OSError) as e:  # bad input or an unreadable file: a message, no trace
        print(f"nesy {args.command}: {e}", file=sys.stderr)
        return 2
    except ImportError as e:  # e.g. `nesy train` without a working torch
        print(f"nesy {args.command}: a package it needs cannot be imported: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
