"""Neural labelling in JAX: networks' outputs as the label matrix of a lowered circuit.

A neural predicate ``nn(net, [X], Y, [d1..dm]) :: digit(X, Y)`` has one ground atom per tensor
input and value, e.g. ``digit(tensor(a0),3)``. The network ``net`` applied to the input ``a0``
gives a distribution over ``d1..dm``; the atom's label is its entry for ``3``. Everything here
is a pure function of a pytree of parameters ``{net name: params}`` and the inputs
``{tensor name: array (B, ...)}``, so it composes with ``jax.jit`` and ``jax.grad``.

Networks return labels in the circuit's structure: a softmax for ``prob``, a log-softmax for
``logprob``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nesy_ir.errors import NesyError
from nesy_ir.labels import slot_key
from nesy_ir.terms import TensorConst

from .lowering import LoweredCircuit, lower

Network = Callable[..., jax.Array]  # apply_fn(params, *inputs) -> (B, len(domain)) labels
GroundAtom = tuple[str, tuple]  # (predicate, args), as nesy_compile grounds them


@dataclass(frozen=True)
class NeuralPredicate:
    """A predicate labelled by network ``net`` with outputs over ``domain`` (in its order)."""

    net: str
    domain: tuple


@dataclass(frozen=True)
class NeuralLabelling:
    """How to build the (B, K) label matrix of ``keys`` from networks' outputs.

    ``calls`` are the distinct (net, input names) applications; their outputs are concatenated
    along axis 1, and key ``k`` reads column ``columns[k]``.
    """

    keys: tuple[str, ...]
    calls: tuple[tuple[str, tuple[str, ...]], ...]
    columns: np.ndarray
    networks: Mapping[str, Network]

    @classmethod
    def from_atoms(
        cls,
        keys: Sequence[str],
        atoms: Iterable[GroundAtom],
        predicates: Mapping[str, NeuralPredicate],
        networks: Mapping[str, Network],
    ) -> NeuralLabelling:
        """Labels for ``keys`` (a lowered circuit's), each of which must be one of ``atoms``."""
        offsets: dict[tuple[str, tuple[str, ...]], int] = {}
        width = 0
        where: dict[str, int] = {}
        for predicate, args in atoms:
            spec = predicates.get(predicate)
            if spec is None:
                raise NesyError(f"neural atom {slot_key(predicate, args)}: no NeuralPredicate")
            if spec.net not in networks:
                raise NesyError(f"{predicate}: no network {spec.net!r} (have {sorted(networks)})")
            inputs = tuple(a.name for a in args if isinstance(a, TensorConst))
            outputs = [a for a in args if not isinstance(a, TensorConst)]
            key = slot_key(predicate, args)
            if len(outputs) != 1 or outputs[0] not in spec.domain:
                raise NesyError(f"neural atom {key}: expected one output value in {spec.domain}")
            call = (spec.net, inputs)
            if call not in offsets:
                offsets[call] = width
                width += len(spec.domain)
            where[key] = offsets[call] + spec.domain.index(outputs[0])
        missing = [k for k in keys if k not in where]
        if missing:
            raise NesyError(f"the dynamic labels {missing[:5]} are not neural atoms")
        columns = np.asarray([where[k] for k in keys], dtype=np.int32)
        return cls(tuple(keys), tuple(offsets), columns, dict(networks))

    def __call__(self, params: Mapping[str, Any], inputs: Mapping[str, jax.Array]) -> jax.Array:
        """The (B, K) label matrix: every network applied once per distinct input."""
        missing = sorted({n for _, names in self.calls for n in names} - set(inputs))
        if missing:
            raise NesyError(f"no input tensors {missing}")
        outputs = [
            self.networks[net](params[net], *(inputs[n] for n in names))
            for net, names in self.calls
        ]
        return jnp.concatenate(outputs, axis=1)[:, self.columns]


@dataclass(frozen=True)
class NeuralCircuit:
    """Logic in the architecture (query values, NLL) or in the loss (semantic loss) in one call.

    ``log_space`` says the circuit's values are log-probabilities (``logprob``).
    """

    circuit: LoweredCircuit
    labels: NeuralLabelling
    log_space: bool = False

    @classmethod
    def from_program(
        cls,
        program: Any,
        predicates: Mapping[str, NeuralPredicate],
        networks: Mapping[str, Network],
        **options: Any,
    ) -> NeuralCircuit:
        """From a compiled program (``.circuit``, ``.labelling``, ``.neural``, ``.semantics``,
        as ``nesy_compile.compile_program`` returns): its neural atoms are the dynamic labels."""
        keys = [slot_key(p, args) for p, args in program.neural]
        lowered = lower(program.circuit, program.labelling, keys, **options)
        labels = NeuralLabelling.from_atoms(lowered.keys, program.neural, predicates, networks)
        return cls(lowered, labels, program.semantics == "logprob")

    @property
    def names(self) -> tuple[str, ...]:
        """The root (query) names, in the order of the value columns."""
        return self.circuit.names

    def __call__(self, params: Mapping[str, Any], inputs: Mapping[str, jax.Array]) -> jax.Array:
        """(B, R): every query's value on the inputs."""
        return self.circuit.matrix(self.labels(params, inputs))

    def log_values(self, params: Mapping[str, Any], inputs: Mapping[str, jax.Array]) -> jax.Array:
        """(B, R) log-values, floored at the dtype's tiny (a finite loss at probability 0)."""
        values = self(params, inputs)
        if self.log_space:
            return jnp.maximum(values, jnp.log(jnp.finfo(values.dtype).tiny))
        return jnp.log(jnp.maximum(values, jnp.finfo(values.dtype).tiny))

    def nll(
        self, params: Mapping[str, Any], inputs: Mapping[str, jax.Array], targets: jax.Array
    ) -> jax.Array:
        """Mean negative log-likelihood of the true query ``targets`` (B,) (root indices)."""
        logs = self.log_values(params, inputs)
        return -jnp.mean(jnp.take_along_axis(logs, jnp.asarray(targets)[:, None], axis=1))

    def semantic_loss(
        self, params: Mapping[str, Any], inputs: Mapping[str, jax.Array], root: int = 0
    ) -> jax.Array:
        """Mean of -log(value of constraint ``root``): a term to add to another loss."""
        return -jnp.mean(self.log_values(params, inputs)[:, root])
