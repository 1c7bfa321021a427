"""The lists that ``findall/3`` and ``all/3`` make from a goal's answers, world by world.

ProbLog reads ``findall(T, G, L)`` in possible-world semantics: in each world, L lists T for
every answer of G that holds there, in the order the answers were found. The grounder has the
goal's answers (complete, since G's predicates lie in a lower stratum); an answer that holds in
every world is always listed, and each of the ``k`` others may or may not be, so one goal
gives up to ``2^k`` lists, each with the literals that select it (the answers it lists, and
the negations of the answers it leaves out). ``all/3`` is the same without the empty list.

ProbLog's findall/3 lists one element per *proof* of an answer, not per answer; the two agree
when every answer has one proof, and a goal with an answer of several proofs is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator
from itertools import product

from .horn import closure

#: the most answers of one goal that are neither certain nor impossible (2^16 lists)
MAX_UNCERTAIN = 16

#: an atom -> its rule bodies, each a tuple of (atom, positive?)
Bodies = Callable[[Hashable], Iterable[tuple]]


def certain(roots: list, bodies: Bodies) -> set:
    """The atoms among those ``roots`` reach that hold in every world: the least model of
    their bodies with positive atoms only."""
    reached, todo = set(roots), list(roots)
    while todo:
        for body in bodies(todo.pop()):
            for atom, _ in body:
                if atom not in reached:
                    reached.add(atom)
                    todo.append(atom)
    return closure(
        (h, [a for a, _ in body]) for h in reached for body in bodies(h) if all(p for _, p in body)
    )


def proofs(atom: Hashable, bodies: Bodies, memo: dict, path: set) -> int:
    """How many proofs ``atom`` has, 0, 1 or 2 (for two or more): the sum over its bodies of
    the product over their positive atoms (a negated atom is one step of a proof, as in
    ProbLog's); a proof through a cycle counts as two. An atom without bodies (a fact, the
    atom of a choice) has one."""
    if atom in memo:
        return memo[atom]
    if atom in path:
        return 2
    path.add(atom)
    found, total = False, 0
    for body in bodies(atom):
        found, n = True, 1
        for b, pos in body:
            if pos:
                n = min(n * proofs(b, bodies, memo, path), 2)
        total = min(total + n, 2)
    path.discard(atom)
    memo[atom] = total if found else 1
    return memo[atom]


def selections(answers: list, sure: set) -> Iterator[tuple[list, list]]:
    """Each list the ``answers`` can make (the certain ones, ``sure``, always in), with the
    literals that select it; the answers' order is kept in every list."""
    open_ = [a for a in answers if a not in sure]
    for picks in product((True, False), repeat=len(open_)):
        chosen = dict(zip(open_, picks, strict=True))
        items = [a for a in answers if chosen.get(a, True)]
        yield items, list(chosen.items())
