"""Posterior marginals by autograd (EM-NeSy's exact E-step): the JAX versions of
:mod:`nesy_ir.inference`.

The share of the root's weighted model count in models where an atom is true is
``d log f / d log theta`` (``theta * d f / d theta / f``); ``jax.grad`` computes it on the
lowered circuit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from nesy_ir import Circuit, Labelling
from nesy_ir.inference import InferenceError, check_possible, gradient_problem, root_index

from .lowering import lower


def posterior_marginals(
    circuit: Circuit,
    labels: Labelling | Mapping | None = None,
    root: str | None = None,
    env: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """P(atom true | root) for every atom of ``circuit``, as :func:`nesy_ir.inference.
    posterior_marginals` computes it (NumPy arrays): by ``jax.grad`` of the root's log value
    with respect to the labels of every ``a[true]`` and ``a[false]`` slot, in float64 (x64 is
    switched on for the call)."""
    problem = gradient_problem(circuit, labels, root, env)
    with jax.enable_x64(True):
        lowered = lower(circuit, labels, problem.keys, env=env, dtype="float64", jit=False)
        values = {k: jnp.asarray(v, jnp.float64) for k, v in problem.values.items()}

        def loss(values: dict) -> Any:
            out = lowered(values)[problem.root]
            return jnp.sum(out if problem.log_root else jnp.log(out))

        problem.check(np.asarray(lowered(values)[problem.root]))
        if not values:
            return problem.marginals({})  # no variables: nothing to differentiate
        grads = jax.grad(loss)(values)
        return problem.marginals({k: np.asarray(g) for k, g in grads.items()})


def posterior_matrix(lowered: Any, x: Any, root: int | str = 0, log: bool = False) -> jax.Array:
    """``x * d log f_root / d x`` (B, K) for a lowered circuit and its (B, K) dynamic labels.

    For EM-NeSy's exact E-step, with the neural atoms' keys as the dynamic labels (the
    probabilities the networks give): column k is then P(atom k | root), since a choice's
    false alternative weighs one and is not a leaf. (For a probabilistic fact, the share of the
    branches that sum it out is missing: use :func:`posterior_marginals`.) ``x`` holds
    probabilities; ``log`` says the root's value is a log-probability; the dtype is the
    lowering's. A root of value 0 raises :class:`nesy_ir.inference.ImpossibleEvidenceError`
    (checked on concrete values only: under ``jax.jit`` it gives NaN instead).
    """
    r = root if isinstance(root, int) else root_index(tuple(lowered.names), root)
    if not 0 <= r < len(lowered.names):
        raise InferenceError(f"no root {root} among {len(lowered.names)} roots")
    x = jnp.asarray(x)

    def loss(x: jax.Array) -> jax.Array:
        value = lowered.matrix(x)[:, r]
        return jnp.sum(value if log else jnp.log(value))

    value = lowered.matrix(x)[:, r]
    if not isinstance(value, jax.core.Tracer):
        check_possible(lowered.names[r], np.asarray(value), log)
    return jax.lax.stop_gradient(x * jax.grad(loss)(x))


__all__ = ["posterior_marginals", "posterior_matrix"]
