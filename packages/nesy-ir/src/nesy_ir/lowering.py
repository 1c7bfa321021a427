"""What a backend needs to lower a layered circuit, as data: kernel names and the leaf plan.

Backends (nesy-torch, nesy-jax) own the code of each kernel; nesy-ir says which kernel every
operation of every structure is (:data:`KERNELS`, :data:`TRANSFORM_KERNELS`) and where every
leaf's value comes from (:func:`plan_leaves`). A user algebra or transformation becomes
lowerable by registering its kernels here, without editing any backend.

All values are floats in a backend: Booleans are 0.0 / 1.0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from .errors import NesyError
from .evaluate import _ground, as_labelling
from .labels import Labelling, slot_key
from .layerize import Layered
from .nodes import Kind
from .registry import get_algebra

# Kernel names. n-ary reductions over a node's children:
#   sum, prod, max, min, logsumexp, bounded_sum = min(1, sum x), luk_and = max(0, 1 - sum(1 - x)),
#   noisy_or = 1 - prod(1 - x)
# unary: complement = 1 - x, log1mexp = log(1 - exp x), identity, log, exp.
KERNELS: dict[str, dict[str, str]] = {
    "bool": {"plus": "max", "times": "min", "neg": "complement"},
    "prob": {"plus": "sum", "times": "prod", "neg": "complement"},
    "logprob": {"plus": "logsumexp", "times": "sum", "neg": "log1mexp"},
    "maxprod": {"plus": "max", "times": "prod", "neg": "complement"},
    "real": {"plus": "sum", "times": "prod", "neg": "complement"},
    "godel": {"plus": "max", "times": "min", "neg": "complement"},
    "lukasiewicz": {"plus": "bounded_sum", "times": "luk_and", "neg": "complement"},
    "product": {"plus": "noisy_or", "times": "prod", "neg": "complement"},
}

TRANSFORM_KERNELS: dict[tuple[str, str], str] = {
    ("bool", "prob"): "identity",
    ("bool", "real"): "identity",
    ("bool", "logprob"): "log",
    ("bool", "maxprod"): "identity",
    ("bool", "godel"): "identity",
    ("bool", "lukasiewicz"): "identity",
    ("bool", "product"): "identity",
    ("prob", "logprob"): "log",
    ("logprob", "prob"): "exp",
    ("prob", "real"): "identity",
}

REDUCTIONS = ("sum", "prod", "max", "min", "logsumexp", "bounded_sum", "luk_and", "noisy_or")
UNARY = ("complement", "log1mexp", "identity", "log", "exp")


def register_kernels(structure: str, plus: str, times: str, neg: str | None = None) -> None:
    """Declare the kernels of a user algebra's operations: names from :data:`REDUCTIONS` and
    :data:`UNARY`, or new names that each backend then provides (its ``register_kernel``); a
    backend without one says so when it lowers the circuit."""
    KERNELS[structure] = {"plus": plus, "times": times, **({"neg": neg} if neg else {})}


def register_transform_kernel(source: str, target: str, kernel: str) -> None:
    """Declare the (unary) kernel of a user transformation, as :func:`register_kernels` does."""
    TRANSFORM_KERNELS[(source, target)] = kernel


def kernel(op: str, structure: str) -> str:
    """The kernel name of a block's ``op`` ('plus', 'times', 'neg', 'transform:s->t')."""
    if op.startswith("transform:"):
        source, target = op.split(":", 1)[1].split("->")
        name = TRANSFORM_KERNELS.get((source, target))
        if name is None:
            raise NesyError(
                f"no backend kernel for the transformation {source}->{target}: declare one with"
                " nesy_ir.lowering.register_transform_kernel"
            )
        return name
    name = KERNELS.get(structure, {}).get(op)
    if name is None:
        raise NesyError(
            f"no backend kernel for {op} in the {structure} structure: declare one with"
            " nesy_ir.lowering.register_kernels"
        )
    return name


@dataclass(frozen=True)
class LeafPlan:
    """Where each leaf of a layered circuit gets its value.

    ``static`` (num_leaves,) holds the values known when lowering (constants, labels given as
    numbers); the leaves ``dynamic_leaf`` instead take, at every call, the label supplied under
    ``keys[dynamic_source]``, passed through the kernel ``dynamic_kernel`` ('identity' or the
    structure's negation kernel, for ``a[false]`` labelled by ``a``'s label).
    """

    static: np.ndarray
    keys: tuple[str, ...]
    dynamic_leaf: np.ndarray
    dynamic_source: np.ndarray
    dynamic_kernel: tuple[str, ...]

    def kernel_groups(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """(leaf ids, key indices) of the dynamic leaves by kernel."""
        kernels = np.asarray(self.dynamic_kernel, dtype=object)
        return {
            k: (self.dynamic_leaf[kernels == k], self.dynamic_source[kernels == k])
            for k in sorted(set(self.dynamic_kernel))
        }


def plan_leaves(
    layered: Layered,
    labels: Labelling | Mapping | None = None,
    dynamic: Iterable[str] = (),
    env: Mapping[str, Any] | None = None,
) -> LeafPlan:
    """The leaf plan of ``layered``: labels of ``dynamic`` keys are supplied at call time.

    A dynamic key is an atom's text key (``digit(img0,3)``); an atom ``a[false]`` with neither a
    dynamic key nor a label of its own takes the negation of ``a``'s dynamic label. Every other
    atom is labelled now by ``labels`` (scalars only: batched labels belong in the dynamic ones).
    """
    labelling = as_labelling(labels)
    keys = tuple(dict.fromkeys("".join(k.split()) for k in dynamic))
    index = {k: i for i, k in enumerate(keys)}
    static = np.zeros(len(layered.leaves), dtype=float)
    leaf, source, kernels = [], [], []
    for i, node in enumerate(layered.leaves):
        if node.kind is Kind.CONST:
            static[i] = float(np.asarray(node.arg))
            continue
        ground = _ground(node, dict(env or {}))
        a = ground.arg
        if node.structure == "bool" and isinstance(a.rvar, bool):
            static[i] = float(a.rvar)  # identity labelling of reified Boolean atoms
            continue
        rvalue = a.rvar if isinstance(a.rvar, bool) else None
        own, base = slot_key(a.predicate, a.args, rvalue), slot_key(a.predicate, a.args)
        if own in index or (base in index and not labelling.has_own_label(own)):
            leaf.append(i)
            source.append(index.get(own, index.get(base)))
            negate = own not in index and rvalue is False
            kernels.append(KERNELS.get(node.structure, {}).get("neg") if negate else "identity")
            if kernels[-1] is None:
                raise NesyError(f"{own}@{node.structure}: no negation kernel for the false label")
            continue
        value = labelling.label(ground)
        if value.ndim:
            raise NesyError(
                f"label of {own}@{node.structure} is batched: pass {base!r} as a dynamic label"
            )
        static[i] = float(value)
    return LeafPlan(static, keys, _ints(leaf), _ints(source), tuple(kernels))


def _ints(values: list[int]) -> np.ndarray:
    return np.asarray(values, dtype=np.int64)


def check_structures(layered: Layered) -> None:
    """Raise a clear error now if some block has no kernel (rather than at the first call)."""
    for block in layered.blocks():
        kernel(block.op, block.structure)
    for node in layered.leaves:
        get_algebra(node.structure)
