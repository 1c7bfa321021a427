"""The least model of definite clauses, in time linear in their size (Dowling and Gallier):
each clause counts the atoms of its body not derived yet, and an atom derived wakes only the
clauses it occurs in. The grounder asks it which atoms hold in every world and which can
hold at all."""

from __future__ import annotations

from collections.abc import Hashable, Iterable


def closure(clauses: Iterable[tuple[Hashable, Iterable[Hashable]]]) -> set:
    """The atoms derivable from ``clauses``, each a (head, body atoms) pair; a clause with an
    empty body is a fact."""
    heads: list[Hashable] = []
    missing: list[int] = []
    waiting: dict[Hashable, list[int]] = {}
    ready: list[Hashable] = []
    for i, (head, body) in enumerate(clauses):
        atoms = set(body)
        heads.append(head)
        missing.append(len(atoms))
        for a in atoms:
            waiting.setdefault(a, []).append(i)
        if not atoms:
            ready.append(head)
    out: set = set()
    while ready:
        atom = ready.pop()
        if atom in out:
            continue
        out.add(atom)
        for i in waiting.get(atom, ()):
            missing[i] -= 1
            if missing[i] == 0:
                ready.append(heads[i])
    return out
