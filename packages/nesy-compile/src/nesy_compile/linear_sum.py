"""Knowledge compilation of linear sums of categorical atoms, without grounding their proofs.

The events ``sum_k c_k X_k = z`` over independent categorical variables X_k (each an annotated
disjunction or neural predicate: exactly one of its atoms ``p(t_k, v)`` holds) compile to a
multi-valued decision diagram: one node per (variable, partial sum), each the disjunction over
the variable's values v of (the node for the partial sum minus c_k v) and ``p(t_k, v)``. It is
smooth, decomposable (the variables are distinct) and deterministic (the values exclude each
other), so the probabilistic circuit computes each event's probability; with max and min it
computes the Goedel value of the disjunction of all proofs, since max and min distribute.

Its size is the number of distinct partial sums times the values, where grounding enumerates
every proof. MNIST addition in the standard encoding (DeepLog's Listing 2: the sum of the two
numbers built from their digits) has 10^(2N) proofs, 10^8 at N = 4; as the linear sum
``sum_i 10^(N-1-i) (a_i + b_i)`` it is a circuit of about 6 * 10^N nodes (62,597 at N = 4).
Other t-norms do not distribute over the disjunction, so their value depends on the formula's
shape, which this compiler does not keep: they are refused.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from nesy_ir import Circuit, Labelling, apply, atom
from nesy_ir.errors import NesyError
from nesy_ir.nodes import Node
from nesy_ir.terms import Term

from .ground_program import GroundAtom, atom_text
from .translate import CompiledProgram

#: The semantics under which the diagram computes the value of the disjunction of all proofs.
SEMANTICS = ("prob", "godel")


@dataclass(frozen=True)
class Summand:
    """``coefficient * X`` where X is the value v of the atom ``predicate(term, v)`` that holds."""

    predicate: str
    term: Term
    values: tuple[int, ...]
    coefficient: int


def compile_linear_sum(
    summands: Sequence[Summand],
    query: Callable[[int], GroundAtom],
    semantics: str = "prob",
) -> CompiledProgram:
    """One circuit with a root ``query(z)`` for each reachable total z (ascending): the value
    of ``sum_k coefficient_k X_k = z`` under ``semantics``.

    Summands with the same coefficient are summed first, then the sums are taken largest
    coefficient first, which keeps the partial sums few when the coefficients are place values.
    """
    if semantics not in SEMANTICS:
        raise NesyError(
            f"the linear-sum compiler gives the value of a sum under {' or '.join(SEMANTICS)}"
            f" semantics, not {semantics!r}: under other t-norms it depends on the formula's"
            " shape, which this compiler does not keep"
        )
    if not summands:
        raise NesyError("a linear sum needs at least one summand")
    for s in summands:
        if not s.values or len(set(s.values)) != len(s.values):
            raise NesyError(
                f"summand {s.predicate}({s.term}, V): its values {s.values} must be distinct"
                " and at least one"
            )
    terms = [s.term for s in summands]
    if len(set(terms)) != len(terms):
        raise NesyError("each term must appear in one summand only (its variable once)")
    start = time.perf_counter()
    rvalue = True if semantics == "prob" else None
    by_coefficient: dict[int, list[dict[int, Node]]] = {}
    for s in summands:
        leaves = {v: atom(s.predicate, (s.term, v), semantics, rvalue) for v in s.values}
        by_coefficient.setdefault(s.coefficient, []).append(leaves)
    # the summands of one coefficient are added first: their sum has fewer values than their
    # combinations (19 for two digits, not 100), which keeps the outer diagram small
    groups = [(c, _diagram([(1, g) for g in by_coefficient[c]])) for c in by_coefficient]
    layer = _diagram(sorted(groups, key=lambda g: -abs(g[0])))
    totals = sorted(layer)
    queries = [query(z) for z in totals]
    circuit = Circuit([layer[z] for z in totals], [atom_text(q) for q in queries])
    neural = [(s.predicate, (s.term, v)) for s in summands for v in s.values]
    stats = {"compiler": "linear-sum", "compile_s": time.perf_counter() - start}
    stats.update({f"circuit_{k}": v for k, v in circuit.stats().items()})
    return CompiledProgram(queries, circuit, Labelling(), semantics, neural, stats)


def _diagram(variables: Sequence[tuple[int, dict[int, Node]]]) -> dict[int, Node]:
    """The node of each reachable total of ``sum_k c_k X_k``, X_k's values given by disjoint
    nodes (``{value: node}``), in the order given."""
    layer: dict[int, Node | None] = {0: None}  # partial sum -> its node (None: the empty sum)
    for coefficient, values in variables:
        ways: dict[int, list[Node]] = {}
        for total, node in layer.items():
            for v, leaf in values.items():
                ways.setdefault(total + coefficient * v, []).append(
                    leaf if node is None else apply("times", node, leaf)
                )
        layer = {t: w[0] if len(w) == 1 else apply("plus", *w) for t, w in ways.items()}
    return layer
