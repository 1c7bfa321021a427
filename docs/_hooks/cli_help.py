"""An MkDocs hook: the command-line page shows the installed ``nesy`` parser's own help.

``docs/cli.md`` holds the marker ``<!-- nesy help -->``; it is replaced by the ``--help`` text
of ``nesy`` and of every command and subcommand, so the page always matches the code. The nesy
packages must be installed where mkdocs runs (``bash dev.sh docs`` sees to it).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Iterator
from typing import Any

MARKER = "<!-- nesy help -->"


def _subcommands(parser: argparse.ArgumentParser) -> Iterator[argparse.ArgumentParser]:
    seen: set[int] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                if id(sub) not in seen:
                    seen.add(id(sub))
                    yield sub


def _sections(parser: argparse.ArgumentParser, level: int) -> Iterator[str]:
    yield f"{'#' * level} `{parser.prog}`\n\n```text\n{parser.format_help().rstrip()}\n```\n"
    for sub in _subcommands(parser):
        yield from _sections(sub, min(level + 1, 4))


def cli_reference() -> str:
    """The help of ``nesy`` and of each command, as Markdown sections."""
    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal width: fix it
    from nesy_ir.cli import build_parser

    parser = build_parser()
    parser.prog = "nesy"
    return "\n".join(_sections(parser, 2))


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if MARKER not in markdown:
        return markdown
    return markdown.replace(MARKER, cli_reference())
