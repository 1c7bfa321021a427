"""Reading DIMACS CNF files, with the weights of the model counting competition.

Supported: ``c`` comment lines; one ``p cnf VARS CLAUSES`` header; clauses as literals ended by
``0`` (a clause may span lines, a line may hold several clauses); a ``%`` line ends the clauses
(SATLIB files). Literal weights as ``c p weight LIT W 0`` (MC 2021+) or ``w LIT W [0]`` (older);
a literal without a weight weighs 1.
"""

from __future__ import annotations

import math
from os import PathLike

from nesy_ir.errors import NesyError
from nesy_ir.textfile import read_text

from .cnf import CNF


class DimacsError(NesyError):
    """A malformed DIMACS file; the message names the file and line."""

    def __init__(self, message: str, source: str, line: int | None = None):
        self.source, self.line = source, line
        super().__init__(f"{source}:{line}: {message}" if line else f"{source}: {message}")


def _weight_line(tokens: list[str], err) -> tuple[int, float]:
    """(literal, weight) from the tokens after ``c p weight`` or ``w``."""
    if tokens[-1:] == ["0"] and len(tokens) == 3:
        tokens = tokens[:2]
    if len(tokens) != 2:
        raise err("bad weight line: expected a literal and a weight")
    try:
        lit, w = int(tokens[0]), float(tokens[1])
    except ValueError:
        raise err(
            f"bad weight {' '.join(tokens)!r}: expected an integer literal and a number"
        ) from None
    if lit == 0:
        raise err("bad weight: literal 0")
    if not math.isfinite(w):
        raise err(f"bad weight {tokens[1]!r}: not a finite number")
    return lit, w


def parse_dimacs(text: str, source: str = "<cnf>") -> CNF:
    """The :class:`CNF` in DIMACS ``text``; :class:`DimacsError` naming ``source`` and the line."""
    header: tuple[int, int, int] | None = None  # (vars, clauses, line)
    clauses: list[tuple[int, ...]] = []
    current: list[int] = []
    current_line = 0
    weights: dict[int, float] = {}
    weight_lines: dict[int, int] = {}

    for number, raw in enumerate(text.splitlines(), start=1):

        def err(message: str, number: int = number) -> DimacsError:
            return DimacsError(message, source, number)

        tokens = raw.split()
        if not tokens:
            continue
        if tokens[0] == "%":
            break
        if tokens[0].startswith("c"):
            if tokens[:3] == ["c", "p", "weight"]:
                lit, w = _weight_line(tokens[3:], err)
            else:
                continue
        elif tokens[0] == "w":
            lit, w = _weight_line(tokens[1:], err)
        elif tokens[0] == "p":
            if header is not None:
                raise err(f"duplicate header (the first is on line {header[2]})")
            if len(tokens) != 4 or tokens[1] != "cnf":
                raise err("bad header: expected 'p cnf VARIABLES CLAUSES'")
            try:
                nv, nc = int(tokens[2]), int(tokens[3])
            except ValueError:
                raise err("bad header: the counts must be integers") from None
            if nv < 0 or nc < 0:
                raise err("bad header: negative count")
            header = (nv, nc, number)
            continue
        else:
            if header is None:
                raise err("clause before the 'p cnf' header")
            for tok in tokens:
                try:
                    lit = int(tok)
                except ValueError:
                    raise err(f"bad literal {tok!r}") from None
                if lit == 0:
                    clauses.append(tuple(current))
                    current = []
                    continue
                if abs(lit) > header[0]:
                    raise err(
                        f"literal {lit} out of range: the header declares {header[0]} variables"
                    )
                if not current:
                    current_line = number
                current.append(lit)
            continue
        # a weight line
        if lit in weights:
            raise err(f"bad weight: literal {lit} already has a weight (line {weight_lines[lit]})")
        weights[lit], weight_lines[lit] = w, number

    if header is None:
        raise DimacsError("missing 'p cnf VARIABLES CLAUSES' header", source)
    nv, nc, header_line = header
    if current:
        raise DimacsError("unterminated last clause: it does not end with 0", source, current_line)
    if len(clauses) != nc:
        raise DimacsError(
            f"clause count mismatch: the header declares {nc} clauses, the file has {len(clauses)}",
            source,
            header_line,
        )
    for lit, line in weight_lines.items():
        if abs(lit) > nv:
            raise DimacsError(
                f"bad weight: literal {lit} out of range: the header declares {nv} variables",
                source,
                line,
            )
    return CNF(nv, tuple(clauses), weights)


def read_dimacs(path: str | PathLike) -> CNF:
    """The :class:`CNF` in the DIMACS file at ``path``."""
    try:
        text = read_text(path)  # not UTF-8: a NotTextError naming the file and the byte
    except OSError as e:
        raise DimacsError(f"cannot read: {e.strerror or e}", str(path)) from None
    return parse_dimacs(text, str(path))
