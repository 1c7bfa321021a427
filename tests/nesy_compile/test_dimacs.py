"""The DIMACS reader: clauses, weights in both formats, and an error naming file and line for
every malformed input."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nesy_compile.cnf import CNF
from nesy_compile.dimacs import DimacsError, parse_dimacs, read_dimacs
from nesy_ir.errors import NesyError

WEIGHTED = """c a weighted CNF
c
p cnf 3 3
1 -2 0 2
 3 0
-1 -3
0
c p weight 1 0.25 0
c p weight -1 0.75 0
w 2 0.5
w -2 1.5 0
"""


def test_clauses_span_lines_and_weights_default_to_one():
    cnf = parse_dimacs(WEIGHTED)
    assert cnf == CNF(3, ((1, -2), (2, 3), (-1, -3)), {1: 0.25, -1: 0.75, 2: 0.5, -2: 1.5})
    assert cnf.weight(-1) == 0.75 and cnf.weight(3) == cnf.weight(-3) == 1.0


def test_satlib_percent_ends_the_clauses_and_empty_clause():
    cnf = parse_dimacs("p cnf 2 2\n1 2 0\n0\n%\n0\n")
    assert cnf.clauses == ((1, 2), ())


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("c nothing\n1 2 0\n", 2, "clause before the 'p cnf"),
        ("c nothing\n", None, "missing 'p cnf"),
        ("p cnf 2 1\np cnf 2 1\n1 0\n", 2, "duplicate header (the first is on line 1)"),
        ("p cnf 2 1 extra\n", 1, "bad header"),
        ("p dnf 2 1\n", 1, "bad header"),
        ("p cnf two 1\n", 1, "must be integers"),
        ("p cnf 2 1\n1 -3 0\n", 2, "literal -3 out of range"),
        ("p cnf 2 1\n1 x 0\n", 2, "bad literal 'x'"),
        ("p cnf 2 2\n1 0\n", 1, "the header declares 2 clauses, the file has 1"),
        ("p cnf 2 1\n1 0\n2 0\n", 1, "the header declares 1 clauses, the file has 2"),
        ("p cnf 2 1\n1 0\n2\n-1", 3, "unterminated last clause"),
        ("p cnf 2 1\n1 0\nc p weight 1 heavy 0\n", 3, "bad weight"),
        ("p cnf 2 1\n1 0\nc p weight 1 nan 0\n", 3, "not a finite number"),
        ("p cnf 2 1\n1 0\nc p weight 1\n", 3, "bad weight line"),
        ("p cnf 2 1\n1 0\nc p weight 3 0.5 0\n", 3, "literal 3 out of range"),
        ("p cnf 2 1\n1 0\nc p weight 0 0.5 0\n", 3, "literal 0"),
        ("p cnf 2 1\n1 0\nw 1 0.5\nc p weight 1 0.5 0\n", 4, "already has a weight (line 3)"),
    ],
)
def test_every_error_names_file_and_line(text, line, message):
    with pytest.raises(DimacsError) as info:
        parse_dimacs(text, "f.cnf")
    assert isinstance(info.value, NesyError)
    assert message in str(info.value)
    assert str(info.value).startswith(f"f.cnf:{line}: " if line else "f.cnf: ")
    assert info.value.line == line


def test_read_dimacs_names_the_path(tmp_path):
    path = tmp_path / "w.cnf"
    path.write_text(WEIGHTED)
    assert read_dimacs(path) == parse_dimacs(WEIGHTED)
    path.write_text("p cnf 1 1\n2 0\n")
    with pytest.raises(DimacsError, match=f"{path}:2: literal 2 out of range"):
        read_dimacs(path)
    with pytest.raises(DimacsError, match="cannot read"):
        read_dimacs(tmp_path / "missing.cnf")


@st.composite
def cnfs(draw) -> CNF:
    n = draw(st.integers(1, 8))
    lits = st.integers(1, n).flatmap(lambda v: st.sampled_from((v, -v)))
    clauses = draw(st.lists(st.lists(lits, max_size=4).map(tuple), max_size=6))
    weights = draw(st.dictionaries(lits, st.floats(-3, 3, allow_nan=False), max_size=2 * n))
    return CNF(n, tuple(clauses), weights)


def to_text(cnf: CNF, old_style: bool) -> str:
    lines = [f"p cnf {cnf.num_vars} {len(cnf.clauses)}"]
    lines += [" ".join(map(str, (*c, 0))) for c in cnf.clauses]
    fmt = "w {} {!r}" if old_style else "c p weight {} {!r} 0"
    lines += [fmt.format(lit, w) for lit, w in cnf.weights.items()]
    return "\n".join(lines) + "\n"


@given(cnfs(), st.booleans())
def test_written_cnfs_read_back(cnf, old_style):
    assert parse_dimacs(to_text(cnf, old_style)) == cnf
