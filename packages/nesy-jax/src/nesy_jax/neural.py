"""Neural labelling in JAX: networks' outputs as the label matrix of a lowered circuit.

The same as :mod:`nesy_torch.neural`, as pure functions of a pytree of parameters
``{predicate: params}`` and the inputs ``{tensor name: array (B, ...)}``, so that everything
composes with ``jax.jit`` and ``jax.grad``. A network is ``apply(params, *inputs) -> (B, n)``
unnormalised scores (logits) over its predicate's domain, in the order of the domain; the
labelling normalises them (softmax, or log-softmax for ``logprob``). Which output column labels
which atom is :func:`nesy_ir.neural.neural_groups`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp

from nesy_ir.errors import NesyError
from nesy_ir.labels import slot_key
from nesy_ir.neural import GroundAtom, check_inputs, neural_groups

from .lowering import LoweredCircuit, lower

Network = Callable[..., jax.Array]  # apply(params, *inputs) -> (B, len(domain)) scores

#: How a network's scores become labels, by structure.
NORMALISERS = {"prob": jax.nn.softmax, "logprob": jax.nn.log_softmax}


class NeuralLabelling:
    """``(params, {tensor name: (B, ...)})`` -> ``(B, K)`` labels of the neural atoms, in
    ``keys`` order. ``atoms`` are ground neural atoms (a compiled program's ``neural``),
    ``networks`` maps each predicate to its apply function."""

    def __init__(
        self,
        atoms: Sequence[GroundAtom],
        networks: Mapping[str, Network],
        keys: Sequence[str],
        structure: str = "prob",
    ):
        if structure not in NORMALISERS:
            raise NesyError(f"neural labels in {structure!r}: use one of {sorted(NORMALISERS)}")
        self.normalise = NORMALISERS[structure]
        self.networks = dict(networks)
        self.groups = neural_groups(atoms, self.networks, keys)

    def __call__(self, params: Mapping[str, Any], inputs: Mapping[str, jax.Array]) -> jax.Array:
        check_inputs(self.groups, inputs)
        columns = [
            self.normalise(self.networks[p](params[p], *(inputs[t] for t in ts)), axis=-1)
            for p, ts in self.groups.calls
        ]
        return jnp.concatenate(columns, axis=1)[:, self.groups.order]


class NeuralCircuit:
    """Networks label the neural atoms, the circuit computes every query:
    ``model(params, inputs) -> (B, R)`` values of the queries (roots in :attr:`names` order).
    ``options`` go to :func:`nesy_jax.lower` (``dtype``, ``device``, ``jit``, ...)."""

    def __init__(self, program: Any, networks: Mapping[str, Network], **options: Any):
        keys = [slot_key(p, a) for p, a in program.neural]
        self.structure = program.semantics
        self.circuit: LoweredCircuit = lower(program.circuit, program.labelling, keys, **options)
        self.labelling = NeuralLabelling(
            program.neural, networks, self.circuit.keys, self.structure
        )
        self.names = self.circuit.names

    def __call__(self, params: Mapping[str, Any], inputs: Mapping[str, jax.Array]) -> jax.Array:
        return self.circuit.matrix(self.labelling(params, inputs))

    def log_values(self, params: Mapping[str, Any], inputs: Mapping[str, jax.Array]) -> jax.Array:
        """(B, R) log-values, floored at the dtype's tiny (a finite loss at probability 0)."""
        values = self(params, inputs)
        tiny = jnp.finfo(values.dtype).tiny
        if self.structure == "logprob":
            return jnp.maximum(values, jnp.log(tiny))
        return jnp.log(jnp.maximum(values, tiny))

    def nll(
        self, params: Mapping[str, Any], inputs: Mapping[str, jax.Array], target: jax.Array
    ) -> jax.Array:
        """Mean negative log-likelihood of the right query, ``target`` (B,) root indices."""
        logs = self.log_values(params, inputs)
        return -jnp.mean(jnp.take_along_axis(logs, jnp.asarray(target)[:, None], axis=1))

    def semantic_loss(
        self, params: Mapping[str, Any], inputs: Mapping[str, jax.Array], root: int | str = 0
    ) -> jax.Array:
        """Logic in the loss: mean ``-log`` of constraint ``root``'s value under the networks'
        own predictions (0 when they satisfy it surely); add it to a supervised loss."""
        index = self.names.index(root) if isinstance(root, str) else root
        return -jnp.mean(self.log_values(params, inputs)[:, index])
