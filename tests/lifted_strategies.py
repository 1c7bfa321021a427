"""Random lifted formulas (trees of binary relations: chains, stars) and their label tensors,
shared by the lifted-plan tests of nesy-ir, nesy-torch and nesy-jax."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import strategies as st

from nesy_ir import Var, aggregate, apply, atom, register_algebra, registry
from nesy_ir.lifted import SMOOTHMAX, smoothmax_algebra
from nesy_ir.nodes import Kind, Node
from nesy_ir.registry import get_algebra

#: Every structure with a lifting, the smooth maximum included.
STRUCTURES = [
    "prob",
    "real",
    "logprob",
    "maxprod",
    "godel",
    "bool",
    "product",
    "lukasiewicz",
    "smoothmax",
]


#: Smooth maxima at other temperatures than SMOOTHMAX's (0.1), by name.
TEMPERATURES = {"smoothmax_cool": 0.01, "smoothmax_warm": 1.0, "smoothmax_hot": 10.0}

#: The smooth maxima registered by :func:`smoothmax_registered`, the default first.
SMOOTHMAXES = ["smoothmax", *TEMPERATURES]

#: The fraction of the entries of a smooth maximum's random tensor that are -inf (truth 0).
MINUS_INF = 0.2


@pytest.fixture(scope="module", autouse=True)
def smoothmax_registered():  # import it into a test module to use it
    """SMOOTHMAX and the smooth maxima of TEMPERATURES registered for this module only (the
    global registry is restored after)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(registry, "_ALGEBRAS", dict(registry._ALGEBRAS))
        register_algebra(SMOOTHMAX)
        for name, temperature in TEMPERATURES.items():
            register_algebra(smoothmax_algebra(temperature, name))
        yield


def random_tensor(structure: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """Random labels of ``structure``'s carrier (continuous: no ties between maxima); those of
    a smooth maximum are log-truths (logs of scores in [0.05, 2]), a fraction MINUS_INF -inf."""
    if structure == "bool":
        return rng.integers(0, 2, shape).astype(bool)
    if structure == "logprob":
        return np.log(rng.uniform(0.05, 1.0, shape))
    if structure in SMOOTHMAXES:
        x = np.log(rng.uniform(0.05, 2.0, shape))
        return np.where(rng.uniform(size=shape) < MINUS_INF, -np.inf, x)
    if structure == "real":
        return rng.uniform(-2.0, 2.0, shape)
    return rng.uniform(0.0, 1.0, shape)


def agg_name(structure: str) -> str:
    return get_algebra(structure).aggregator_name("plus")


@st.composite
def tree_formulas(draw, structure: str, chain: bool | None = None):
    """(formula, sizes): binary atoms along a random tree of variables (a chain, a star, ...),
    some unary atoms, a random subset of variables aggregated, some inside products (nested),
    the others at the top."""
    n = draw(st.integers(1, 5))
    names = [f"V{i}" for i in range(n)]
    sizes = {v: draw(st.integers(1, 4)) for v in names}
    if chain is None:
        chain = draw(st.booleans())
    parent = {i: i - 1 if chain else draw(st.integers(0, i - 1)) for i in range(1, n)}
    unary = {i for i in range(n) if draw(st.booleans())}
    aggregated = {i for i in range(n) if draw(st.booleans())}
    inside = {i for i in aggregated if i > 0 and draw(st.booleans())}
    nullary = draw(st.booleans())
    agg = agg_name(structure)

    def domain(i: int) -> tuple:
        return tuple(range(sizes[names[i]]))

    def sub(i: int) -> Node | None:
        """The product of the atoms below variable i (None when there are none)."""
        parts = [atom(f"u{i}", (Var(names[i]),), structure)] if i in unary else []
        for c in (c for c, p in parent.items() if p == i):
            below = sub(c)
            edge = atom(f"e{c}", (Var(names[i]), Var(names[c])), structure)
            term = edge if below is None else apply("times", edge, below)
            if c in inside:
                term = aggregate(agg, names[c], domain(c), term)
            parts.append(term)
        return apply("times", *parts) if parts else None

    body = sub(0)
    if nullary or body is None:
        p = atom("p", (), structure)
        body = p if body is None else apply("times", body, p)
    for i in sorted(aggregated - inside, reverse=True):
        if names[i] in body.free:
            body = aggregate(agg, names[i], domain(i), body)
    return body, sizes


def tensors_for(formula: Node, sizes: dict, batch: int, seed: int) -> dict[str, np.ndarray]:
    """A random tensor for each predicate of ``formula``, shape (batch, sizes of its arguments)."""
    rng = np.random.default_rng(seed)
    shapes = {}
    for a in _atoms(formula):
        shapes[a.arg.predicate] = tuple(sizes[t.name] for t in a.arg.args)
    return {p: random_tensor(formula.structure, (batch, *s), rng) for p, s in shapes.items()}


def _atoms(node: Node):
    if node.kind is Kind.ATOM:
        yield node
    for c in node.children:
        yield from _atoms(c)
