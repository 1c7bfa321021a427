"""A generated family-tree knowledge graph: the embedded default of :func:`.kg.load_kg`.

A few families, each founded by a married couple, over some generations: every couple has one to
three children, and a child who is not in the last generation marries, most of the time, someone
from outside (who has no parents in the graph). Everything random is a function of ``seed``.

Every triple ``r(X, Y)`` reads "X is the r of Y". The *base* relations are the facts the tree is
made of: ``father``, ``mother``, ``husband``, ``wife``. The *derived* relations are computed from
them, so rules such as these hold exactly on all triples (train, valid and test together):

- ``parent(X, Y) :- father(X, Y)`` and ``parent(X, Y) :- mother(X, Y)``
- ``child(X, Y) :- parent(Y, X)``
- ``son`` / ``daughter``: a child who is male / female
- ``sibling(X, Y)``: X and Y (different) have the same parents; ``brother`` / ``sister``
  by X's gender
- ``grandparent(X, Z) :- parent(X, Y), parent(Y, Z)``; ``grandfather`` / ``grandmother``
- ``grandchild(X, Z) :- grandparent(Z, X)``; ``grandson`` / ``granddaughter``
- ``uncle(X, Z) :- brother(X, Y), parent(Y, Z)``; ``aunt`` with ``sister`` (blood relatives only:
  the husband of an aunt is no uncle here)
- ``nephew`` / ``niece``: X has Z as uncle or aunt, and X is male / female
- ``cousin(X, Z) :- parent(Y, X), sibling(Y, W), parent(W, Z)``
- ``spouse(X, Y) :- husband(X, Y)`` and ``spouse(X, Y) :- wife(X, Y)``

The split: every base triple is in train (so every person and every base fact is known), and the
derived triples of each relation are shuffled and cut 80 / 10 / 10 into train / valid / test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .errors import DataError

Triple = tuple[str, str, str]

BASE_RELATIONS = ("father", "mother", "husband", "wife")
DERIVED_RELATIONS = (
    "parent",
    "child",
    "son",
    "daughter",
    "sibling",
    "brother",
    "sister",
    "grandparent",
    "grandfather",
    "grandmother",
    "grandchild",
    "grandson",
    "granddaughter",
    "uncle",
    "aunt",
    "nephew",
    "niece",
    "cousin",
    "spouse",
)
SURNAMES = ("adams", "baker", "clark", "davis", "evans", "fisher", "green", "harris")
MARRIAGE_RATE = 0.8  # the chance that a child not of the last generation marries
HELD_OUT = 0.1  # the share of each derived relation in valid, and again in test


@dataclass(frozen=True)
class Person:
    """One person of the tree: parents are None for founders and for people who married in."""

    name: str
    male: bool
    father: str | None = None
    mother: str | None = None


def family_people(
    seed: int = 0, families: int = 4, generations: int = 4
) -> tuple[list[Person], list[tuple[str, str]]]:
    """The people of the tree and its couples (husband, wife), drawn from ``seed``."""
    if not 1 <= families <= len(SURNAMES):
        raise DataError(f"families must be in 1..{len(SURNAMES)}, got {families}")
    if generations < 1:
        raise DataError(f"generations must be at least 1, got {generations}")
    rng = np.random.default_rng(seed)
    people: list[Person] = []
    couples: list[tuple[str, str]] = []
    for surname in SURNAMES[:families]:
        first = len(people)

        def new(male: bool, father: str | None = None, mother: str | None = None) -> Person:
            name = f"{surname}_{len(people) - first:02d}"  # noqa: B023 (used at once)
            people.append(Person(name, male, father, mother))
            return people[-1]

        husband, wife = new(True), new(False)
        current = [(husband.name, wife.name)]
        couples.extend(current)
        for generation in range(1, generations):
            married = []
            for father, mother in current:
                for _ in range(int(rng.integers(1, 4))):
                    child = new(bool(rng.random() < 0.5), father, mother)
                    if generation < generations - 1 and rng.random() < MARRIAGE_RATE:
                        partner = new(not child.male)
                        married.append(
                            (child.name, partner.name) if child.male else (partner.name, child.name)
                        )
            couples.extend(married)
            current = married
    return people, couples


def base_triples(people: list[Person], couples: list[tuple[str, str]]) -> list[Triple]:
    """The facts the tree is made of: father, mother, husband, wife."""
    triples: list[Triple] = []
    for person in people:
        if person.father is not None and person.mother is not None:
            triples.append((person.father, "father", person.name))
            triples.append((person.mother, "mother", person.name))
    for husband, wife in couples:
        triples.append((husband, "husband", wife))
        triples.append((wife, "wife", husband))
    return triples


def derived_triples(people: list[Person], couples: list[tuple[str, str]]) -> list[Triple]:
    """Every derived triple (see the module docstring), computed from parents and couples."""
    male = {p.name: p.male for p in people}
    parents = {p.name: [p.father, p.mother] for p in people if p.father is not None}
    children: dict[str, list[str]] = {}
    for child, pair in parents.items():
        for parent in pair:
            children.setdefault(parent, []).append(child)
    siblings = {
        name: [other for other in children[pair[0]] if other != name]
        for name, pair in parents.items()
    }
    triples: set[Triple] = set()

    def by_gender(x: str, relation: str, y: str, if_male: str, if_female: str) -> None:
        triples.add((x, relation, y))
        triples.add((x, if_male if male[x] else if_female, y))

    for x, pair in parents.items():
        for p in pair:
            triples.add((p, "parent", x))
            by_gender(x, "child", p, "son", "daughter")
            for g in parents.get(p, []):
                by_gender(g, "grandparent", x, "grandfather", "grandmother")
                by_gender(x, "grandchild", g, "grandson", "granddaughter")
            for s in siblings.get(p, []):
                triples.add((s, "uncle" if male[s] else "aunt", x))
                triples.add((x, "nephew" if male[x] else "niece", s))
                for cousin in children.get(s, []):
                    triples.add((x, "cousin", cousin))
        for s in siblings[x]:
            by_gender(s, "sibling", x, "brother", "sister")
    for husband, wife in couples:
        triples.add((husband, "spouse", wife))
        triples.add((wife, "spouse", husband))
    return sorted(triples)


def family_tree_splits(
    seed: int = 0, families: int = 4, generations: int = 4
) -> dict[str, list[Triple]]:
    """The family tree's triples as train / valid / test (see the module docstring)."""
    people, couples = family_people(seed, families, generations)
    rng = np.random.default_rng([seed, 1])  # the split's own stream, apart from the tree's
    splits: dict[str, list[Triple]] = {
        "train": base_triples(people, couples),
        "valid": [],
        "test": [],
    }
    derived = derived_triples(people, couples)
    for relation in DERIVED_RELATIONS:
        group = [t for t in derived if t[1] == relation]
        order = rng.permutation(len(group))
        held = int(len(group) * HELD_OUT)
        splits["valid"] += [group[i] for i in order[:held]]
        splits["test"] += [group[i] for i in order[held : 2 * held]]
        splits["train"] += [group[i] for i in order[2 * held :]]
    return splits
