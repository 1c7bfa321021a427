"""The KLay fast path: a circuit that is a smooth, decomposable NNF over literals, in a structure
that is one of KLay's semirings, evaluated by ``klaycircuits`` (import name ``klay``).

When the KLay path is required (``klay=True``, the ``klay`` backend) and the circuit is not
smooth, it is smoothed first (:func:`nesy_ir.smooth.smooth`); smoothing keeps the value of
circuits whose labels are normalised (a CNF's weighted model count with complemented weights),
and the check below refuses, with its reason, the circuits whose value it would change.

Every atom ``a`` becomes a KLay variable: ``a[true]`` and ``a`` its positive literal, ``a[false]``
its negative one; plus is OR, times is AND, the structure's one and zero are true and false.
Both literal weights are passed explicitly (x_pos, x_neg), so labels need not satisfy
``neg = 1 - pos``. KLay simplifies as Boolean logic (``true OR x`` becomes true) and 0.0.5
merges nodes by hash alone, so the path is taken only for smooth decomposable circuits, and a
check at lowering time compares KLay with the generic path on random labels: where they differ,
the generic path is used (or, with ``klay=True``, a NesyError says why).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from nesy_ir.circuit import Circuit
from nesy_ir.errors import NesyError
from nesy_ir.install import install_hint
from nesy_ir.labels import Labelling
from nesy_ir.layerize import Layered, layerize
from nesy_ir.lowering import plan_leaves
from nesy_ir.nodes import Kind
from nesy_ir.registry import get_algebra
from nesy_ir.smooth import is_smooth, smooth

from .kernels import UNARY
from .lowered import LoweredCircuit

#: nesy structure -> KLay semiring.
SEMIRINGS = {"prob": "real", "real": "real", "logprob": "log", "maxprod": "mpe", "godel": "godel"}
_INSTALL = install_hint("nesy-torch[klay]")


def _import_klay():
    try:
        import klay
    except ImportError:
        return None
    return klay


def why_not(layered: Layered) -> str | None:
    """Why the KLay path does not apply to ``layered`` (None when it applies, structurally)."""
    structures = {b.structure for b in layered.blocks()} | {n.structure for n in layered.leaves}
    if len(structures) != 1 or next(iter(structures)) not in SEMIRINGS:
        return f"KLay needs one structure of {sorted(SEMIRINGS)}, not {sorted(structures)}"
    structure = structures.pop()
    if any(b.role not in ("plus", "times") for b in layered.blocks()):
        return "KLay circuits have only plus (OR) and times (AND) nodes"
    algebra = get_algebra(structure)
    for node in layered.leaves:
        if node.kind is Kind.CONST and node.arg not in (algebra.zero, algebra.one):
            return f"KLay constants are true and false only, not {node}"
    if not len(layered.layers):
        return "KLay needs at least one internal node"
    return None


def _klay_circuit(klay, layered: Layered):
    """(KLay circuit, var of each leaf (0 for constants), sign of each leaf)."""
    circuit = klay.Circuit()
    variables: dict[str, int] = {}
    var = np.zeros(len(layered.leaves), dtype=np.int64)
    positive = np.ones(len(layered.leaves), dtype=bool)
    pointers = []
    one = get_algebra(layered.leaves[0].structure).one
    for i, node in enumerate(layered.leaves):
        if node.kind is Kind.CONST:
            pointers.append(circuit.true_node() if node.arg == one else circuit.false_node())
            continue
        a = node.arg
        var[i] = variables.setdefault(f"{a.predicate}{a.args}", len(variables) + 1)
        positive[i] = a.rvar is not False
        pointers.append(circuit.literal_node(int(var[i]) if positive[i] else -int(var[i])))
    for block in layered.blocks():
        make = circuit.or_node if block.role == "plus" else circuit.and_node
        bounds = np.searchsorted(block.segments, np.arange(block.size + 1))
        for j in range(block.size):
            pointers.append(make([pointers[c] for c in block.inputs[bounds[j] : bounds[j + 1]]]))
    roots = list(dict.fromkeys(layered.roots.tolist()))
    for r in roots:
        circuit.set_root(pointers[r])
    return circuit, var, positive, roots, len(variables)


class KlayModule(LoweredCircuit):
    """A circuit evaluated by KLay (batched with ``torch.vmap``), same interface as the generic
    :class:`~nesy_torch.module.CircuitModule`; built in float64 (``.to(dtype)`` converts it)."""

    def __init__(
        self,
        layered: Layered,
        labels: Labelling | Mapping | None,
        dynamic: Iterable[str],
        env: Mapping[str, Any] | None,
    ):
        klay = _import_klay()
        circuit, var, positive, roots, num_vars = _klay_circuit(klay, layered)
        check = klay.check_sdnnf(circuit)
        if not (check.is_smooth and check.is_decomposable):
            raise NesyError("KLay needs a smooth, decomposable circuit")
        plan = plan_leaves(layered, labels, dynamic, env)
        super().__init__(plan.keys, layered.names)
        semiring = SEMIRINGS[layered.leaves[0].structure]
        self.klay = circuit.to_torch_module(semiring=semiring)
        self.register_buffer("static", torch.as_tensor(plan.static, dtype=torch.float64)[:, None])
        self._dynamic = []
        for i, (name, (leaves, sources)) in enumerate(plan.kernel_groups().items()):
            self.register_buffer(f"dyn{i}l", torch.as_tensor(leaves))
            self.register_buffer(f"dyn{i}s", torch.as_tensor(sources))
            self._dynamic.append((UNARY[name], f"dyn{i}"))
        # literal weights: the leaf holding each variable's positive / negative literal
        pos_leaf = np.full(num_vars + 1, -1, dtype=np.int64)
        neg_leaf = np.full(num_vars + 1, -1, dtype=np.int64)
        literal = var > 0
        pos_leaf[var[literal & positive]] = np.flatnonzero(literal & positive)
        neg_leaf[var[literal & ~positive]] = np.flatnonzero(literal & ~positive)
        unused = pos_leaf < 0  # a literal never read: any finite weight will do
        pos_leaf[unused] = neg_leaf[unused]
        neg_leaf[neg_leaf < 0] = pos_leaf[neg_leaf < 0]
        self.register_buffer("pos", torch.as_tensor(pos_leaf[1:]))
        self.register_buffer("neg", torch.as_tensor(neg_leaf[1:]))
        position = {r: i for i, r in enumerate(roots)}
        self.register_buffer("roots", torch.as_tensor([position[r] for r in layered.roots]))
        self._batched = torch.vmap(self.klay, in_dims=(1, 1))  # (B, R): unbatched outputs too

    def _evaluate(self, x: Tensor) -> Tensor:
        leaves = self.static.expand(-1, x.shape[1])
        if self._dynamic:
            leaves = leaves.clone()
            for fn, name in self._dynamic:
                index = getattr(self, name + "l")
                leaves[index] = fn(x.index_select(0, getattr(self, name + "s")))
        out = self._batched(leaves.index_select(0, self.pos), leaves.index_select(0, self.neg))
        return out.t().index_select(0, self.roots)


def klay_module(
    layered: Layered,
    labels: Labelling | Mapping | None,
    dynamic: Iterable[str],
    dtype: torch.dtype,
    device: torch.device | str | None,
    env: Mapping[str, Any] | None,
    force: bool | None,
    circuit: Circuit | None = None,
) -> KlayModule | None:
    """The KLay module of ``layered``, or None where KLay does not apply and ``force`` is not
    True (then a NesyError says why). With ``force``, a ``circuit`` that is not smooth is
    smoothed first (its value is checked to be unchanged)."""
    problem = why_not(layered)
    if problem is None and _import_klay() is None:
        problem = f"klaycircuits is not installed: {_INSTALL}"
    module = None
    if problem is None:
        target = layered
        if force and circuit is not None and not is_smooth(circuit):
            target = layerize(smooth(circuit))
        try:
            module = KlayModule(target, labels, dynamic, env)
            problem = _disagreement(module, layered, labels, env)
        except NesyError as e:
            problem = str(e)
        if problem and target is not layered:
            problem += " (after smoothing it, as KLay needs: smoothing changes its value)"
    if problem is None:
        return module.to(device=device, dtype=dtype)
    if force:
        raise NesyError(f"the KLay path does not apply: {problem}")
    return None


def _disagreement(
    module: KlayModule, layered: Layered, labels, env: Mapping[str, Any] | None
) -> str | None:
    """Compare KLay with the generic path on random interior labels, in float64."""
    from .module import CircuitModule

    generic = CircuitModule(layered, labels, module.keys, dtype=torch.float64, env=env)
    carrier = get_algebra(layered.leaves[0].structure).carrier
    low, high = max(carrier.low, -3.0), min(carrier.high, 1.0)
    seed = torch.Generator().manual_seed(0)
    x = low + 0.05 + (high - low - 0.1) * torch.rand(3, len(module.keys), generator=seed)
    if not torch.allclose(
        module.matrix(x), generic.matrix(x), rtol=1e-9, atol=1e-12, equal_nan=True
    ):
        return "KLay's result differs from the generic path's on this circuit"
    return None
