"""Posterior marginals: P(atom | root) from one forward and one backward pass (the derivative of
log WMC with respect to the log labels), on the NumPy reference; and what the torch and JAX
backends differentiate to get the same (:class:`GradientProblem`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..backends import check_matrix
from ..circuit import Circuit
from ..evaluate import _ground, as_labelling
from ..labels import Labelling, slot_key
from ..layerize import Layered, _leaf_values, _reduce_block, layerize
from ..lowering import kernel, plan_leaves
from ..smooth import Variable, variable
from .variables import (
    InferenceError,
    VariableLabels,
    check_possible,
    combine_shares,
    root_index,
    variable_labels,
)


def _backward_block(block, buffer: np.ndarray, adjoint: np.ndarray) -> None:
    """Add the adjoints of ``block``'s inputs (d L / d child) to ``adjoint``, in place."""
    name = kernel(block.op, block.structure)
    parents = block.first + block.segments  # (E,) the parent of each input entry
    up = adjoint[parents]  # (E, B)
    child = buffer[block.inputs]
    if name in ("sum", "identity"):
        contribution = up
    elif name == "prod":
        contribution = up * _others_product(block, child)
    elif name == "logsumexp":
        top = buffer[parents]
        with np.errstate(invalid="ignore", over="ignore"):
            contribution = up * np.where(np.isfinite(top), np.exp(child - top), 0.0)
    elif name == "log":
        with np.errstate(divide="ignore", invalid="ignore"):
            contribution = np.where(child > 0, up / child, 0.0)
    elif name == "exp":
        contribution = up * buffer[parents]
    elif name == "complement":
        contribution = -up
    elif name == "log1mexp":
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            contribution = up * np.where(child < 0, -np.exp(child) / -np.expm1(child), 0.0)
    else:
        raise InferenceError(
            f"posterior marginals differentiate sums and products of probabilities or"
            f" log-probabilities, not the {name} of {block.op} in {block.structure}"
        )
    np.add.at(adjoint, block.inputs, contribution)


def _others_product(block, child: np.ndarray) -> np.ndarray:
    """For each input entry of a (x) block, the product of its siblings (no division, so that
    zeros are exact)."""
    index, mask = block.dense()
    position = np.full(index.shape, -1, dtype=np.int64)
    position[mask] = np.arange(len(block.inputs))
    columns = np.where(mask[..., None], child[position], 1.0)  # (size, W, B)
    left = np.cumprod(np.concatenate([np.ones_like(columns[:, :1]), columns[:, :-1]], 1), 1)
    shifted = np.concatenate([columns[:, 1:], np.ones_like(columns[:, :1])], 1)
    right = np.cumprod(shifted[:, ::-1], 1)[:, ::-1]  # the product of the later columns
    return (left * right)[mask]


def _root_structure(layered: Layered, r: int) -> bool:
    """Whether root ``r``'s value is a logarithm; an error unless it is a weighted count."""
    structure = layered.structure_of(int(layered.roots[r]))
    if structure not in ("prob", "real", "logprob"):
        raise InferenceError(
            f"root {layered.names[r]!r} is in the {structure} structure: posterior marginals"
            " need a weighted model count (prob, real or logprob)"
        )
    return structure == "logprob"


def forward_backward(
    layered: Layered, leaf_values: list[Any], width: int, r: int
) -> tuple[np.ndarray, np.ndarray]:
    """(values, adjoints), both (num_nodes, width): every node's value, and the derivative of
    log f (f: root ``r``'s value; f itself where it is a log-probability) with respect to it,
    block by block in reverse. A root of value 0 raises :class:`ImpossibleEvidenceError`."""
    log = _root_structure(layered, r)
    buffer = np.empty((layered.num_nodes, width), dtype=float)
    for i, v in enumerate(leaf_values):
        buffer[i] = np.broadcast_to(np.asarray(v, dtype=float), (width,))
    for block in layered.blocks():
        buffer[block.first : block.first + block.size] = _reduce_block(block, buffer[block.inputs])
    gid = int(layered.roots[r])
    check_possible(layered.names[r], buffer[gid], log)
    adjoint = np.zeros_like(buffer)
    adjoint[gid] = 1.0 if log else 1.0 / buffer[gid]
    for block in reversed(layered.blocks()):
        if block.structure == "bool" or not adjoint[block.first : block.first + block.size].any():
            continue  # no label below a Boolean block; nothing flows through zero adjoints
        _backward_block(block, buffer, adjoint)
    return buffer, adjoint


def posterior_marginals(
    circuit: Circuit | Layered,
    labels: Labelling | Mapping | None = None,
    root: str | None = None,
    env: Mapping[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """P(atom true | root) for every atom of the circuit, by its key (``burglary``,
    ``digit(tensor(a),3)``): one forward and one backward pass in float64 (NumPy reference).

    ``root`` names the evidence (optional for a one-root circuit); its structure is prob, real
    or logprob, and the circuit's operations are sums and products (the prob <-> logprob
    transformations and negation are differentiated too, but below a negation the derivative
    is no share of models). Labels may be batched (B,): results are (B,), else 0-d arrays. A
    root of value 0 raises :class:`ImpossibleEvidenceError`. Atoms of the circuit that the root
    does not depend on get their prior (false, for choice alternatives); atoms that are no
    leaf of the circuit are not reported (a choice alternative that is no leaf is false in
    every model).
    """
    layered = circuit if isinstance(circuit, Layered) else layerize(circuit)
    labelling, env = as_labelling(labels), dict(env or {})
    r = root_index(layered.names, root)
    leaf_values, batch = _leaf_values(layered, labelling, env)
    buffer, adjoint = forward_backward(layered, leaf_values, batch or 1, r)
    shares: dict[str, np.ndarray] = {}
    for i, node in enumerate(layered.leaves):
        if variable(node) is None:
            continue
        a = _ground(node, env).arg
        key = slot_key(a.predicate, a.args, a.rvar)
        share = adjoint[i] if node.structure == "logprob" else adjoint[i] * buffer[i]
        shares[key] = shares.get(key, 0.0) + share
    leaves = list(layered.leaves)
    table = variable_labels(leaves, [buffer[i] for i in range(len(leaves))], labelling, env)
    out = combine_shares(table, shares)
    return {k: v if batch is not None else v[0] for k, v in out.items()}


def posterior_matrix(lowered: Any, x: Any, root: int | str = 0) -> np.ndarray:
    """``x * d log f_root / d x`` (B, K) for the NumPy backend's lowered circuit
    (:class:`nesy_ir.backends.ReferenceCircuit`) and its (B, K) dynamic labels, as
    ``nesy_torch.posterior_matrix`` and ``nesy_jax.posterior_matrix`` compute it by autograd.

    For EM-NeSy's exact E-step, with the neural atoms' keys as the dynamic labels (the
    probabilities the networks give): column k is then P(atom k | root), since a choice's
    false alternative weighs one and is no leaf. (A probabilistic fact's column lacks the
    share of the branches that sum it out: use :func:`posterior_marginals` for those.)
    """
    check_matrix(x, lowered.keys)
    x = np.asarray(x, dtype=float)
    layered = lowered.layered
    r = root if isinstance(root, int) else root_index(layered.names, root)
    labelling = lowered.labelling.with_values({k: x[:, i] for i, k in enumerate(lowered.keys)})
    leaf_values, _ = _leaf_values(layered, labelling, lowered.env)
    _, adjoint = forward_backward(layered, leaf_values, len(x), r)
    plan = plan_leaves(layered, lowered.labelling, lowered.keys, lowered.env)
    grad = np.zeros_like(x)
    for leaf, source, name in zip(
        plan.dynamic_leaf.tolist(), plan.dynamic_source.tolist(), plan.dynamic_kernel, strict=True
    ):
        grad[:, source] += adjoint[leaf] * _kernel_slope(name, x[:, source])
    return x * grad


def _kernel_slope(name: str, x: np.ndarray) -> np.ndarray:
    """The derivative of the leaf kernel ``name`` that derives a slot's label from a key's."""
    if name == "identity":
        return np.ones_like(x)
    if name == "complement":
        return -np.ones_like(x)
    if name == "log1mexp":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(x < 0, -np.exp(x) / -np.expm1(x), 0.0)
    raise InferenceError(f"posterior_matrix cannot differentiate the leaf kernel {name}")


@dataclass(frozen=True)
class GradientProblem:
    """Posterior marginals as a backend computes them, by autograd of the root's log value
    with respect to the labels of the variables' slots (``a[true]``, ``a[false]``).

    ``values`` are those labels as the leaves take them (log-probabilities for logprob
    leaves, whose keys are in ``log_keys``), broadcast to the batch; pass ``keys`` as the
    dynamic labels of the lowering. ``log_root``: the root's value is already a logarithm.
    :meth:`marginals` turns the gradients into P(atom | root).
    """

    root: str
    keys: tuple[str, ...]
    values: dict[str, np.ndarray]
    log_keys: frozenset[str]
    log_root: bool
    table: dict[Variable, VariableLabels]
    batch: int | None

    def marginals(self, grads: Mapping[str, Any]) -> dict[str, np.ndarray]:
        """P(atom | root) from ``d L / d value`` per key (None or absent: 0)."""
        shares = {}
        for k in self.keys:
            g = grads.get(k)
            g = np.zeros_like(self.values[k]) if g is None else np.asarray(g, dtype=float)
            shares[k] = g if k in self.log_keys else g * self.values[k]
        out = combine_shares(self.table, shares)
        return {k: v if self.batch is not None else v.reshape(-1)[0] for k, v in out.items()}

    def check(self, value: Any) -> None:
        """An :class:`ImpossibleEvidenceError` if the root's value is zero anywhere."""
        check_possible(self.root, np.asarray(value, dtype=float), self.log_root)


def gradient_problem(
    circuit: Circuit | Layered,
    labels: Labelling | Mapping | None = None,
    root: str | None = None,
    env: Mapping[str, Any] | None = None,
) -> GradientProblem:
    """The :class:`GradientProblem` of ``root`` (the backends' posterior marginals)."""
    layered = circuit if isinstance(circuit, Layered) else layerize(circuit)
    labelling, env = as_labelling(labels), dict(env or {})
    r = root_index(layered.names, root)
    log_root = _root_structure(layered, r)
    leaf_values, batch = _leaf_values(layered, labelling, env)
    width = batch or 1
    values: dict[str, np.ndarray] = {}
    homes: dict[str, str] = {}
    for node, value in zip(layered.leaves, leaf_values, strict=True):
        if variable(node) is None:
            continue
        a = _ground(node, env).arg
        key = slot_key(a.predicate, a.args, a.rvar)
        if homes.setdefault(key, node.structure) != node.structure:
            raise InferenceError(
                f"{key} labels leaves of {homes[key]} and {node.structure}: posterior marginals"
                " on a backend need one structure per slot"
            )
        values[key] = np.broadcast_to(np.asarray(value, dtype=float), (width,)).copy()
    leaves = list(layered.leaves)
    table = variable_labels(
        leaves,
        [np.broadcast_to(np.asarray(v, float), (width,)) for v in leaf_values],
        labelling,
        env,
    )
    if batch is None:
        values = {k: v[0] for k, v in values.items()}
    return GradientProblem(
        root=layered.names[r],
        keys=tuple(values),
        values=values,
        log_keys=frozenset(k for k, s in homes.items() if s == "logprob"),
        log_root=log_root,
        table=table,
        batch=batch,
    )
