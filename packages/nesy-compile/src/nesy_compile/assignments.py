"""Queries whose formula is a disjunction of complete assignments: counted without an SDD.

Under the choice constraints (exactly one alternative of each annotated disjunction or neural
predicate holds), a conjunction of positive choice atoms and fact literals that names each of
its units (a choice, or a probabilistic fact) once is one assignment of those units, and two
different assignments of the same units exclude each other. A query whose formula is a
disjunction of such conjunctions, all over the same units, is therefore a d-DNNF already
(deterministic and decomposable): its weighted count is the sum over its assignments of the
products of their weights, with no knowledge compilation. MNIST addition's standard encoding is
such a program: each sum is a disjunction over the pairs of numbers that make it.

The assignments are read off the ground program (no Boolean formula is built), and the count is
built as a trie over the units in the order of their variables, sub-tries shared by content: the
circuit an SDD over a right vtree gives, where equal remainders share their node (for sums of
digits, the partial sums).
"""

from __future__ import annotations

from collections.abc import Generator, Iterable
from dataclasses import dataclass

from nesy_ir.nodes import Kind, Node
from nesy_ir.rewrite.wmc import WeightedCount

from .ground_program import GroundAtom, GroundProgram
from .progress import Meter

#: A formula is read as assignments while it has at most this many per ground rule body below
#: it (the disjunctive normal form of a formula can be exponentially larger: then an SDD).
MAX_TERMS_PER_BODY = 4
#: Assignments of more units are left to the SDD (the trie recurses once per unit).
MAX_UNITS = 200
_OPEN = object()  # an atom whose assignments are being read (met again: a cycle)


@dataclass(frozen=True)
class Assignments:
    """A formula as distinct assignments of the same units: ``units`` in ascending order (their
    ranks), and per assignment the literal of each unit (the index of the variable that holds,
    negated for a false fact)."""

    units: tuple[int, ...]
    terms: tuple[tuple[int, ...], ...]


def read_assignments(
    gp: GroundProgram,
    literal: dict[GroundAtom, tuple[int, int, bool]],
    queries: Iterable,
    meter: Meter | None = None,
) -> dict[GroundAtom, Assignments]:
    """The queries whose formula is a disjunction of distinct assignments of the same units.

    ``literal`` maps each probabilistic atom to (its unit's rank, its variable's index, whether
    it belongs to a choice). At most one pass over the rule bodies below the queries, each
    atom's assignments computed once; a query below a cycle, a negated choice or derived atom,
    or a formula past :data:`MAX_TERMS_PER_BODY` is left out (for the SDD). ``meter`` counts
    the queries.
    """
    memo: dict[GroundAtom, list | None | object] = {}
    out = {}
    for q in queries:
        if meter is not None:
            meter.step()
        terms = _terms(q, gp, literal, memo)
        if not terms:
            continue
        units = tuple(r for r, _ in terms[0])
        if len(units) > MAX_UNITS or any(tuple(r for r, _ in t) != units for t in terms):
            continue
        out[q] = Assignments(units, tuple(tuple(x for _, x in t) for t in terms))
    return out


def _terms(root, gp: GroundProgram, literal: dict, memo: dict) -> list | None:
    """The assignments of ``root``'s formula, as tuples of (unit rank, literal) sorted by rank;
    None where it is not a disjunction of assignments. Depth-first without recursion: each
    atom's reading is a generator that asks for the assignments of the atoms in its bodies and
    stops at the first that has none, so a formula is abandoned as soon as it fails."""
    if root in literal:
        rank, index, _ = literal[root]
        return [((rank, index),)]
    if root not in memo:
        memo[root] = _OPEN
        stack = [(root, _disjunction(gp.rules.get(root, ()), literal))]
        answer = None
        while stack:
            atom, reading = stack[-1]
            try:
                needed = reading.send(answer)
            except StopIteration as done:
                memo[atom] = answer = done.value
                stack.pop()
                continue
            answer = memo.get(needed)
            if needed not in memo:  # read it first; met again while open: a cycle
                memo[needed] = _OPEN
                stack.append((needed, _disjunction(gp.rules.get(needed, ()), literal)))
    return memo[root]


def _disjunction(bodies: list, literal: dict) -> Generator[GroundAtom, object, list | None]:
    """The assignments of a derived atom from those of its bodies' atoms, which it asks for
    (yields) one by one; None, as soon as one has none or there are too many."""
    limit = MAX_TERMS_PER_BODY * max(1, len(bodies))
    found: dict[tuple, None] = {}
    for body in bodies:
        terms: list = [()]
        for b, pos in body:
            if b in literal:
                rank, index, chosen = literal[b]
                if not pos and chosen:  # "not this alternative": several assignments
                    return None
                factor = [((rank, index if pos else -index),)]
            else:
                factor = None if not pos else (yield b)
                if factor is None or factor is _OPEN:
                    return None
            terms = [m for t in terms for u in factor if (m := _merge(t, u)) is not None]
            if len(terms) > limit:
                return None
        found.update(dict.fromkeys(terms))
        if len(found) > limit:
            return None
    return list(found)


def _merge(t: tuple, u: tuple) -> tuple | None:
    """The conjunction of two assignments; None where they give one unit two values."""
    if not t or not u or t[-1][0] < u[0][0]:
        return t + u
    if u[-1][0] < t[0][0]:
        return u + t
    values = dict(t)
    for r, x in u:
        if values.setdefault(r, x) != x:
            return None
    return tuple(sorted(values.items()))


class AssignmentCount:
    """Weighted counts of :class:`Assignments` by a :class:`WeightedCount`, as (value, its
    variables) like :meth:`WeightedCount.combine`: a trie over the units, each sub-trie (units
    left, assignments left) built once, so that queries share what they have in common.

    ``members`` gives each unit's variable indices and ``atoms`` each index's Boolean atom.
    """

    def __init__(self, counter: WeightedCount, members: dict[int, list[int]], atoms: list[Node]):
        self.counter, self.members, self.atoms = counter, members, atoms
        self._units: dict[tuple[int, int], tuple[Node, int]] = {}
        self._leaves: dict[int, tuple[Node, int]] = {}
        self._tries: dict[tuple, tuple[Node, int]] = {}
        self._one = (counter.neutral["times"], 0)

    def __call__(self, a: Assignments) -> tuple[Node, int]:
        return self._trie(a.units, a.terms)

    def _unit(self, rank: int, lit: int) -> tuple[Node, int]:
        """The weight of one unit's assignment: its variable that holds, the others false."""
        key = (rank, lit)
        if key not in self._units:
            leaves = [self._leaf(j if j == lit else -j) for j in self.members[rank]]
            self._units[key] = self.counter.combine("times", leaves)
        return self._units[key]

    def _leaf(self, lit: int) -> tuple[Node, int]:
        """The weight of one variable's literal (negative: the variable is false)."""
        if lit not in self._leaves:
            atom = self.atoms[abs(lit)]
            self._leaves[lit] = self.counter.leaf(
                atom if lit > 0 else Node(Kind.APPLY, "bool", "neg", (atom,))
            )
        return self._leaves[lit]

    def _trie(self, units: tuple[int, ...], terms) -> tuple[Node, int]:
        if not units:
            return self._one
        key = (units, frozenset(terms))
        if key not in self._tries:
            groups: dict[int, list] = {}
            for t in terms:
                groups.setdefault(t[0], []).append(t[1:])
            parts = [
                self.counter.combine(
                    "times", [self._unit(units[0], lit), self._trie(units[1:], rest)]
                )
                for lit, rest in sorted(groups.items())
            ]
            self._tries[key] = self.counter.combine("plus", parts)
        return self._tries[key]
