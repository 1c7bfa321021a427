"""Neural labelling: networks label the neural atoms of a compiled program.

A neural predicate ``nn(net, [X], Y, [y1, ..., yn]) :: digit(X, Y)`` grounds to atoms
``digit(tensor(a0), y)``; :class:`NeuralLabelling` applies the network registered for ``digit``
to the input tensor named ``a0`` and spreads its normalised output over those atoms, giving the
``(B, K)`` label matrix of a lowered circuit. Networks return unnormalised scores (logits) over
the domain, in the order of the domain; the labelling normalises them (softmax, or log-softmax
for ``logprob``).

Logic in the architecture: :class:`NeuralCircuit` is network + circuit, mapping inputs to the
queries' values, trained with :meth:`NeuralCircuit.nll` of the right query. Logic in the loss:
:func:`semantic_loss` is ``-log`` of a constraint's value for the network's own predictions,
added to any supervised loss.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from nesy_ir.errors import NesyError
from nesy_ir.terms import TensorConst

from .module import lower

#: How a network's scores become labels, by structure.
NORMALISERS = {"prob": torch.softmax, "logprob": torch.log_softmax}


def _text(predicate: str, args: tuple) -> str:
    return predicate + (f"({','.join(str(a) for a in args)})" if args else "")


class NeuralLabelling(nn.Module):
    """``{tensor name: (B, ...)}`` -> ``(B, K)`` labels of the neural atoms, in ``keys`` order.

    ``atoms`` are ground neural atoms ``(predicate, (tensor args..., value))`` (a compiled
    program's ``neural``), ``networks`` maps each predicate to its ``nn.Module``; atoms with the
    same predicate and tensor arguments form one group, its values the network's output columns
    in order of first appearance.
    """

    def __init__(
        self,
        atoms: Sequence[tuple[str, tuple]],
        networks: Mapping[str, nn.Module],
        keys: Sequence[str],
        structure: str = "prob",
    ):
        super().__init__()
        if structure not in NORMALISERS:
            raise NesyError(f"neural labels in {structure!r}: use one of {sorted(NORMALISERS)}")
        self.normalise = NORMALISERS[structure]
        self.networks = nn.ModuleDict(dict(networks))
        groups: dict[tuple[str, tuple[str, ...]], list[str]] = {}
        for predicate, args in atoms:
            tensors = tuple(a.name for a in args[:-1] if isinstance(a, TensorConst))
            if predicate not in self.networks:
                raise NesyError(f"no network for the neural predicate {predicate!r}")
            groups.setdefault((predicate, tensors), []).append(_text(predicate, args))
        position = {k: i for i, k in enumerate(keys)}
        self.groups = []
        order = []
        for (predicate, tensors), texts in groups.items():
            missing = [t for t in texts if t not in position]
            if missing:
                raise NesyError(f"the circuit has no dynamic label for the neural atoms {missing}")
            self.groups.append((predicate, tensors))
            order.extend(position[t] for t in texts)
        if sorted(order) != list(range(len(keys))):
            extra = [k for i, k in enumerate(keys) if i not in set(order)]
            raise NesyError(f"dynamic labels {extra} are not neural atoms: label them statically")
        self.register_buffer("order", torch.argsort(torch.as_tensor(order, dtype=torch.long)))
        self.tensors = sorted({t for _, ts in self.groups for t in ts})

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        missing = [t for t in self.tensors if t not in inputs]
        if missing:
            raise NesyError(f"no input tensor for {missing} (expected {self.tensors})")
        columns = [
            self.normalise(self.networks[p](*(inputs[t] for t in ts)), dim=-1)
            for p, ts in self.groups
        ]
        return torch.cat(columns, dim=1).index_select(1, self.order)


class NeuralCircuit(nn.Module):
    """Logic in the architecture: networks label the neural atoms, the circuit computes every
    query; ``forward(inputs) -> (B, R)`` values of the queries (roots in ``names`` order)."""

    def __init__(self, program: Any, networks: Mapping[str, nn.Module], **options: Any):
        super().__init__()
        keys = [_text(p, a) for p, a in program.neural]
        self.structure = program.semantics
        self.circuit = lower(program.circuit, program.labelling, keys, **options)
        self.labelling = NeuralLabelling(
            program.neural, networks, self.circuit.keys, self.structure
        )
        self.names = self.circuit.names

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        return self.circuit.matrix(self.labelling(inputs))

    def nll(self, inputs: Mapping[str, Tensor], target: Tensor) -> Tensor:
        """Mean negative log-likelihood of the right query, ``target`` (B,) root indices."""
        values = self(inputs).gather(1, target[:, None])[:, 0]
        return -(values if self.structure == "logprob" else torch.log(values)).mean()


def semantic_loss(
    model: NeuralCircuit, inputs: Mapping[str, Tensor], root: int | str = 0
) -> Tensor:
    """Logic in the loss: mean ``-log`` of constraint ``root``'s value under the networks' own
    predictions (0 when they satisfy it surely); add it to a supervised loss."""
    index = model.names.index(root) if isinstance(root, str) else root
    value = model(inputs)[:, index]
    return -(value if model.structure == "logprob" else torch.log(value)).mean()
