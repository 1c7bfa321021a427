"""The relations of the generated scene graphs: primitive ones that the boxes and categories
determine, and composed ones planted by hidden Horn rules over the primitives.

Boxes are ``(x0, y0, x1, y1)`` in pixels, ``x1`` and ``y1`` exclusive. For distinct objects s, o:

- ``left_of(s, o)``: s ends where o starts or before, and their rows overlap;
- ``above(s, o)``: s ends at least a pixel above o's top, and their columns overlap;
- ``on(s, o)``: s's bottom edge lies on o's top edge, and their columns overlap;
- ``inside(s, o)``: s's box lies strictly within o's box;
- ``near(s, o)``: the gap between the boxes is at most :data:`NEAR` of the canvas, and neither
  is on or inside the other (symmetric);
- ``riding(s, o)``: s is on o, s is a rider and o a vehicle (the categories allow it).

The composed relations follow from the :data:`PLANTED` rules alone (never of an object with
itself): through other objects, e.g. ``travel_on(X, Z) :- riding(X, Y), on(Y, Z).``, or in a
single step on the same pair, ``carries(X, Z) :- riding(Z, X).`` (:data:`SINGLE_STEP`).
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "CATEGORIES",
    "COMPOSED",
    "GROUNDS",
    "NEAR",
    "PLANTED",
    "PREDICATES",
    "PRIMITIVES",
    "RIDERS",
    "SINGLE_STEP",
    "VEHICLES",
    "ZERO_SHOT",
    "composed_truths",
    "primitive_truths",
    "rule_holds",
    "rule_text",
    "scene_truths",
]

CATEGORIES = ("triangle", "cross", "disc", "crate", "bar", "plank", "frame")
RIDERS = frozenset({"triangle", "cross"})
VEHICLES = frozenset({"disc", "crate"})
GROUNDS = frozenset({"bar", "plank"})

PRIMITIVES = ("left_of", "above", "on", "inside", "near", "riding")
COMPOSED = ("travel_on", "same_frame", "travel_in", "carries")
PREDICATES = PRIMITIVES + COMPOSED

#: The hidden Horn rules: head -> body atoms (predicate, inverse), chained X, Y, ..., Z.
PLANTED: dict[str, tuple[tuple[str, bool], ...]] = {
    "travel_on": (("riding", False), ("on", False)),
    "same_frame": (("inside", False), ("inside", True)),
    "travel_in": (("riding", False), ("on", False), ("inside", False)),
    "carries": (("riding", True),),
}

#: The composed relations whose rule is one atom on the same pair (no intermediate object).
SINGLE_STEP = tuple(head for head in COMPOSED if len(PLANTED[head]) == 1)

#: (subject category, object category) of composed triples never shown in training: the
#: zero-shot split's composed triples have exactly these (a cross travelling on a plank or in a
#: frame, a disc carrying a cross: no cross rides a disc in training).
ZERO_SHOT = frozenset({("cross", "plank"), ("cross", "frame"), ("disc", "cross")})

NEAR = 0.1  # the largest gap between near boxes, as a share of the canvas side


def rule_text(head: str, body: tuple[tuple[str, bool], ...]) -> str:
    """``head(X, Z) :- p(X, Y), q(Y, Z).``, an inverse atom with its arguments swapped."""
    names = ["X", *("Y", "W", "V")[: len(body) - 1], "Z"]
    atoms = [
        f"{p}({names[i + 1]}, {names[i]})" if inv else f"{p}({names[i]}, {names[i + 1]})"
        for i, (p, inv) in enumerate(body)
    ]
    return f"{head}({names[0]}, {names[-1]}) :- {', '.join(atoms)}."


def _overlap(a0: np.ndarray, a1: np.ndarray) -> np.ndarray:
    """Whether the intervals [a0_s, a1_s) and [a0_o, a1_o) overlap, (n, n)."""
    return np.minimum(a1[:, None], a1[None, :]) > np.maximum(a0[:, None], a0[None, :])


def primitive_truths(boxes: np.ndarray, categories: np.ndarray, canvas: int) -> np.ndarray:
    """The primitive relations of one scene, bool (len(PRIMITIVES), n, n), the diagonal false.
    ``categories`` are indices into :data:`CATEGORIES`."""
    b = np.asarray(boxes, dtype=np.int64).reshape(-1, 4)
    x0, y0, x1, y1 = b.T
    rows, columns = _overlap(y0, y1), _overlap(x0, x1)
    on = (y1[:, None] == y0[None, :]) & columns
    inside = (
        (x0[:, None] > x0[None, :])
        & (y0[:, None] > y0[None, :])
        & (x1[:, None] < x1[None, :])
        & (y1[:, None] < y1[None, :])
    )
    left_of = (x1[:, None] <= x0[None, :]) & rows
    above = (y1[:, None] < y0[None, :]) & columns
    gap_x = np.maximum(0, np.maximum(x0[None, :] - x1[:, None], x0[:, None] - x1[None, :]))
    gap_y = np.maximum(0, np.maximum(y0[None, :] - y1[:, None], y0[:, None] - y1[None, :]))
    touching = on | on.T | inside | inside.T
    near = (np.hypot(gap_x, gap_y) <= NEAR * canvas) & ~touching
    names = np.array(CATEGORIES)[np.asarray(categories, dtype=np.int64)]
    rider = np.isin(names, list(RIDERS))
    vehicle = np.isin(names, list(VEHICLES))
    riding = on & rider[:, None] & vehicle[None, :]
    truths = np.stack([left_of, above, on, inside, near, riding])
    truths[:, np.arange(len(b)), np.arange(len(b))] = False
    return truths


def rule_holds(body: tuple[tuple[str, bool], ...], truths: dict[str, np.ndarray]) -> np.ndarray:
    """The (s, o) pairs for which a chain body holds on 0/1 relations ``truths``, bool (n, n)."""
    n = next(iter(truths.values())).shape[0]
    holds = np.eye(n, dtype=np.int64)
    for predicate, inverse in body:
        step = truths[predicate]
        holds = holds @ (step.T if inverse else step).astype(np.int64)
    return holds > 0


def composed_truths(primitives: np.ndarray) -> np.ndarray:
    """The composed relations that the :data:`PLANTED` rules derive from ``primitives``
    (len(PRIMITIVES), n, n): bool (len(COMPOSED), n, n), the diagonal false."""
    truths = dict(zip(PRIMITIVES, primitives, strict=True))
    composed = np.stack([rule_holds(PLANTED[head], truths) for head in COMPOSED])
    n = primitives.shape[1]
    composed[:, np.arange(n), np.arange(n)] = False
    return composed


def scene_truths(boxes: np.ndarray, categories: np.ndarray, canvas: int) -> np.ndarray:
    """Every relation of :data:`PREDICATES` of one scene, bool (len(PREDICATES), n, n)."""
    primitives = primitive_truths(boxes, categories, canvas)
    return np.concatenate([primitives, composed_truths(primitives)])
