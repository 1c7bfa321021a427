"""The README's and the tutorial's Python snippets run as written, under every installed backend.

A snippet that names a backend (``get_backend("torch")``) runs once per backend that loads here,
with only that name changed. A line ``EXPR  # => VALUE`` is checked: EXPR's value must equal
VALUE (a number, a list or a dict of them; any words after it are a comment), whatever the
backend's array type.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import numpy as np
import pytest

from nesy_ir.backends import available_backends
from nesy_ir.errors import NesyError

ROOT = Path(__file__).resolve().parents[1]
DOCS = [
    ROOT / "README.md",
    *sorted(ROOT.glob("packages/*/README.md")),
    ROOT / "docs" / "tutorial.md",
]
BACKEND = re.compile(r'get_backend\("(\w+)"\)')
CHECK = re.compile(r"\s# => (?P<value>.*)$")


def snippets(path: Path) -> list[tuple[str, str]]:
    """(id, code) of every ```python block of ``path``."""
    text = path.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    return [(f"{path.relative_to(ROOT)}[{i}]", code) for i, code in enumerate(blocks)]


def cases() -> list:
    out = []
    names = available_backends()
    for path in DOCS:
        if not path.exists():
            continue
        for ident, code in snippets(path):
            if BACKEND.search(code):
                out += [pytest.param(code, b, id=f"{ident}-{b}") for b in names]
            else:
                out.append(pytest.param(code, None, id=ident))
    return out


def as_plain(value):
    """Arrays of any backend (and dicts of them) as NumPy, for comparison; text as it is."""
    if isinstance(value, dict):
        return {k: as_plain(v) for k, v in value.items()}
    if isinstance(value, str):
        return value
    if hasattr(value, "detach"):
        value = value.detach().cpu()
    return np.asarray(value, dtype=float)


def literal_prefix(text: str):
    """The value of the longest prefix of ``text`` that is a Python literal."""
    for end in range(len(text), 0, -1):
        try:
            return ast.literal_eval(text[:end])
        except (ValueError, SyntaxError):
            continue
    raise ValueError(f"no value after '# =>' in {text!r}")


def run_snippet(code: str) -> int:
    """Execute ``code`` line by line as a module; check every ``# =>`` line; return the count."""
    namespace: dict = {"__name__": "__snippet__"}
    tree = ast.parse(code)
    lines = code.splitlines()
    checked = 0
    for node in tree.body:
        source = "\n".join(lines[node.lineno - 1 : node.end_lineno])
        match = CHECK.search(lines[node.end_lineno - 1]) if isinstance(node, ast.Expr) else None
        if match is None:
            exec(compile(ast.Module([node], []), "<snippet>", "exec"), namespace)
            continue
        got = as_plain(eval(compile(ast.Expression(node.value), "<snippet>", "eval"), namespace))
        wanted = as_plain(literal_prefix(match["value"].strip()))
        if isinstance(wanted, str):
            assert got == wanted, source
        elif isinstance(wanted, dict):
            assert got.keys() == wanted.keys(), source
            for k in wanted:
                np.testing.assert_allclose(got[k], wanted[k], rtol=1e-5, err_msg=source)
        else:
            np.testing.assert_allclose(got, wanted, rtol=1e-5, err_msg=source)
        checked += 1
    return checked


@pytest.mark.parametrize(("code", "backend"), cases())
def test_snippet_runs_as_written(code, backend):
    if backend is not None:
        code = BACKEND.sub(f'get_backend("{backend}")', code)
    try:
        checked = run_snippet(code)
    except NesyError as e:
        # KLay takes only the circuits that smoothing does not change: it must say so
        if backend != "klay":
            raise
        assert "KLay" in str(e)
        return
    assert checked, "every snippet states at least one result as `EXPR  # => VALUE`"
