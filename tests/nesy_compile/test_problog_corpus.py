"""A corpus of small ProbLog programs, each answered by ProbLog and by ``nesy query``.

Every ``problog_corpus/*.pl`` (but not ``*.inc.pl``, files that other programs consult) exercises
one construct of the ProbLog language, named on its first line (``% construct: ...``):

- a normal program must get from ``nesy query --json`` the same query atoms as from ProbLog, each
  probability equal to 1e-9 absolute. A failure starts with what happened: ``REFUSED-BY-US``
  (``nesy query`` gave an error), ``WRONG`` (both answers shown), ``HANGS-OURS``, or
  ``PROBLOG-FAILS`` (ProbLog itself errs: a bug of the corpus, not of ours);
- a ``refuse_*.pl`` program lies outside our semantics (or ProbLog's): ``nesy query`` must exit
  with status 2 and a message on stderr that names a line of the program, print no answers, and
  stop within ``REFUSE_TIMEOUT_S``.

Both systems run in a subprocess with a timeout, so that a program that does not terminate (in
either) costs a bounded time. Atom names are compared after removing the spaces outside quotes
and writing floats with 12 significant digits (ProbLog writes ``3.333333333333333``, Python
``3.3333333333333335``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

CORPUS = Path(__file__).parent / "problog_corpus"
PROGRAMS = sorted(p for p in CORPUS.glob("*.pl") if not p.name.endswith(".inc.pl"))
NORMAL = [p for p in PROGRAMS if not p.name.startswith("refuse_")]
REFUSE = [p for p in PROGRAMS if p.name.startswith("refuse_")]

TIMEOUT_S = 60
REFUSE_TIMEOUT_S = 60
TOLERANCE = 1e-9

#: Single-threaded children: the machine is shared.
ENV = {
    **os.environ,
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "PYTHONHASHSEED": "0",
}

#: Runs ProbLog on the file argv[1]; prints {atom: probability} as JSON, or an error line.
PROBLOG = """\
import json, sys
from problog import get_evaluatable
from problog.program import PrologFile
try:
    result = get_evaluatable().create_from(PrologFile(sys.argv[1])).evaluate()
except Exception as e:
    print(json.dumps({"error": f"{type(e).__name__}: {e}"}))
else:
    print(json.dumps({"values": {str(k): float(v) for k, v in result.items()}}))
"""


def construct(path: Path) -> str:
    """What ``path`` exercises: its first line without ``% construct:``."""
    first = path.read_text(encoding="utf-8").partition("\n")[0]
    return first.removeprefix("%").strip().removeprefix("construct:").strip()


#: A quoted atom or a string (kept as it is); in split(), the group keeps the quoted pieces.
QUOTED = re.compile(r"""('(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")""")


def _float_text(match: re.Match) -> str:
    text = f"{float(match[0]):.12g}"
    return text if re.search(r"[.eEn]", text) else text + ".0"


def normalize(atom: str) -> str:
    """``atom`` without spaces outside quotes, its floats with 12 significant digits."""
    out = []
    for piece in QUOTED.split(atom):
        if piece[:1] in ("'", '"'):
            out.append(piece)
        else:
            piece = re.sub(r"\s+", "", piece)
            out.append(re.sub(r"(?<![\w.])-?\d+\.\d+(?:[eE][-+]?\d+)?", _float_text, piece))
    return "".join(out)


def _unbound(atom: str) -> bool:
    """Whether ``atom`` (normalized) has a variable outside quotes: ProbLog lists a query with
    variables and no grounding as itself, with probability 0."""
    bare = QUOTED.sub("q", atom)
    return re.search(r"[(,\[|][A-Z_]", bare) is not None


def _run(args: list[str], timeout: int) -> subprocess.CompletedProcess | None:
    """The finished process, or None when it ran past ``timeout`` seconds (it is killed)."""
    try:
        return subprocess.run(
            args, capture_output=True, text=True, timeout=timeout, env=ENV, cwd=CORPUS
        )
    except subprocess.TimeoutExpired:
        return None


def problog(path: Path) -> dict[str, float]:
    pytest.importorskip("problog")
    done = _run([sys.executable, "-c", PROBLOG, str(path)], TIMEOUT_S)
    if done is None:
        pytest.fail(f"PROBLOG-FAILS: {path.name}: ProbLog ran past {TIMEOUT_S} s")
    if done.returncode != 0 or not done.stdout.strip():
        pytest.fail(f"PROBLOG-FAILS: {path.name}: exit {done.returncode}: {done.stderr[-2000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if "error" in result:
        pytest.fail(f"PROBLOG-FAILS: {path.name}: {result['error']}")
    values = {normalize(k): v for k, v in result["values"].items()}
    return {k: v for k, v in values.items() if not (v == 0.0 and _unbound(k))}


def nesy_query(path: Path, timeout: int) -> subprocess.CompletedProcess | None:
    """``nesy query FILE --json`` through ``nesy_ir.cli.main``, in a subprocess."""
    return _run([sys.executable, "-m", "nesy_ir.cli", "query", str(path), "--json"], timeout)


def _message(stderr: str) -> str:
    lines = [line for line in stderr.strip().splitlines() if line.strip()]
    return " | ".join(lines[-3:])[:600] if lines else "(no message)"


@pytest.mark.parametrize("path", NORMAL, ids=lambda p: p.stem)
def test_same_answers_as_problog(path: Path) -> None:
    expected = problog(path)
    done = nesy_query(path, TIMEOUT_S)
    what = f"{path.name} [{construct(path)}]"
    if done is None:
        pytest.fail(f"HANGS-OURS: {what}: nesy query ran past {TIMEOUT_S} s; problog={expected}")
    if done.returncode != 0:
        pytest.fail(f"REFUSED-BY-US: {what}: {_message(done.stderr)}; problog={expected}")
    printed = json.loads(done.stdout)["values"]
    got = {normalize(k): v for k, v in printed.items()}
    wrong = set(got) != set(expected) or any(
        abs(got[k] - p) > TOLERANCE for k, p in expected.items()
    )
    if wrong:  # ours as printed (not normalized), so that a misprinted atom shows
        pytest.fail(
            f"WRONG: {what}:\n  ours    = {dict(sorted(printed.items()))}\n"
            f"  problog = {dict(sorted(expected.items()))}"
        )


#: A location in a message: ``file.pl:LINE:COL`` (or ``line LINE``).
LOCATION = re.compile(r"\.pl:\d+(?::\d+)?|\bline \d+")


@pytest.mark.parametrize("path", REFUSE, ids=[p.stem for p in REFUSE])
def test_refused(path: Path) -> None:
    done = nesy_query(path, REFUSE_TIMEOUT_S)
    what = f"{path.name} [{construct(path)}]"
    if done is None:
        pytest.fail(f"HANGS-OURS: {what}: nesy query ran past {REFUSE_TIMEOUT_S} s")
    assert done.stdout.strip() == "", f"ANSWERED: {what}: printed answers:\n{done.stdout}"
    assert done.returncode == 2, (
        f"NOT-REFUSED: {what}: exit {done.returncode} (want 2, a NesyError):"
        f" {_message(done.stderr)}"
    )
    assert "Traceback" not in done.stderr, f"CRASHED: {what}: {done.stderr[-2000:]}"
    assert LOCATION.search(done.stderr), f"NO-LOCATION: {what}: {_message(done.stderr)}"


def test_corpus_is_complete() -> None:
    """Every program names its construct; consulted files exist beside their programs."""
    assert len(NORMAL) >= 35 and len(REFUSE) >= 5
    for path in PROGRAMS:
        assert construct(path) and path.read_text().startswith("% construct:"), path.name
        for name in re.findall(r"consult\('([^']+)'\)", path.read_text()):
            assert (CORPUS / name).is_file() and name.endswith(".inc.pl"), (path.name, name)
