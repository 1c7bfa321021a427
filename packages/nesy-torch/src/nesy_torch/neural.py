"""Neural labelling: networks label the neural atoms of a compiled program.

A neural predicate ``nn(net, [X], Y, [y1, ..., yn]) :: digit(X, Y)`` grounds to atoms
``digit(tensor(a0), y)``; :class:`NeuralLabelling` applies the network registered for ``digit``
to the input tensor named ``a0`` and spreads its normalised output over those atoms (see
:mod:`nesy_ir.neural`), giving the ``(B, K)`` label matrix of a lowered circuit. Networks return
unnormalised scores (logits) over the domain, in the order of the domain; the labelling
normalises them (softmax, or log-softmax for ``logprob``).

Logic in the architecture: :class:`NeuralCircuit` is networks + circuit, mapping inputs to the
queries' values, trained with :meth:`NeuralCircuit.nll` of the right query. Logic in the loss:
:meth:`NeuralCircuit.semantic_loss` is ``-log`` of a constraint's value for the networks' own
predictions, added to any supervised loss. :mod:`nesy_jax.neural` is the same in JAX.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from nesy_ir.errors import NesyError
from nesy_ir.labels import slot_key
from nesy_ir.neural import GroundAtom, check_inputs, neural_groups

from .lowered import LoweredCircuit
from .module import lower

#: How a network's scores become labels, by structure.
NORMALISERS = {"prob": torch.softmax, "logprob": torch.log_softmax}


class NeuralLabelling(nn.Module):
    """``{tensor name: (B, ...)}`` -> ``(B, K)`` labels of the neural atoms, in ``keys`` order.

    ``atoms`` are ground neural atoms (a compiled program's ``neural``), ``networks`` maps each
    predicate to its ``nn.Module``.
    """

    def __init__(
        self,
        atoms: Sequence[GroundAtom],
        networks: Mapping[str, nn.Module],
        keys: Sequence[str],
        structure: str = "prob",
    ):
        super().__init__()
        if structure not in NORMALISERS:
            raise NesyError(f"neural labels in {structure!r}: use one of {sorted(NORMALISERS)}")
        self.normalise = NORMALISERS[structure]
        self.networks = nn.ModuleDict(dict(networks))
        self.groups = neural_groups(atoms, self.networks.keys(), keys)
        self.register_buffer("order", torch.as_tensor(self.groups.order))

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        check_inputs(self.groups, inputs)
        columns = [
            self.normalise(self.networks[p](*(inputs[t] for t in ts)), dim=-1)
            for p, ts in self.groups.calls
        ]
        return torch.cat(columns, dim=1).index_select(1, self.order)


class NeuralCircuit(nn.Module):
    """Networks label the neural atoms, the circuit computes every query:
    ``forward(inputs) -> (B, R)`` values of the queries (roots in :attr:`names` order).
    ``options`` go to :func:`nesy_torch.lower` (``dtype``, ``device``, ``klay``, ...)."""

    def __init__(self, program: Any, networks: Mapping[str, nn.Module], **options: Any):
        super().__init__()
        keys = [slot_key(p, a) for p, a in program.neural]
        self.structure = program.semantics
        self.circuit: LoweredCircuit = lower(program.circuit, program.labelling, keys, **options)
        self.labelling = NeuralLabelling(
            program.neural, networks, self.circuit.keys, self.structure
        )
        self.names = self.circuit.names

    def forward(self, inputs: Mapping[str, Tensor]) -> Tensor:
        return self.circuit.matrix(self.labelling(inputs))

    def log_values(self, inputs: Mapping[str, Tensor]) -> Tensor:
        """(B, R) log-values, floored at the dtype's tiny (a finite loss at probability 0)."""
        values = self(inputs)
        tiny = torch.finfo(values.dtype).tiny
        if self.structure == "logprob":
            return values.clamp_min(torch.log(torch.tensor(tiny, dtype=values.dtype)))
        return torch.log(values.clamp_min(tiny))

    def nll(self, inputs: Mapping[str, Tensor], target: Tensor) -> Tensor:
        """Mean negative log-likelihood of the right query, ``target`` (B,) root indices."""
        target = torch.as_tensor(target, dtype=torch.long)
        return -self.log_values(inputs).gather(1, target[:, None]).mean()

    def semantic_loss(self, inputs: Mapping[str, Tensor], root: int | str = 0) -> Tensor:
        """Logic in the loss: mean ``-log`` of constraint ``root``'s value under the networks'
        own predictions (0 when they satisfy it surely); add it to a supervised loss."""
        index = self.names.index(root) if isinstance(root, str) else root
        return -self.log_values(inputs)[:, index].mean()
