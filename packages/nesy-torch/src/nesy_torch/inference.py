"""Posterior marginals by autograd (EM-NeSy's exact E-step): the torch versions of
:mod:`nesy_ir.inference`.

The share of the root's weighted model count in models where an atom is true is
``d log f / d log theta`` (``theta * d f / d theta / f``); torch computes it by differentiating
the lowered circuit, in float64 here, equal to the NumPy reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from nesy_ir import Circuit, Labelling
from nesy_ir.inference import InferenceError, check_possible, gradient_problem, root_index

from .module import lower


def posterior_marginals(
    circuit: Circuit,
    labels: Labelling | Mapping | None = None,
    root: str | None = None,
    env: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """P(atom true | root) for every atom of ``circuit``, as :func:`nesy_ir.inference.
    posterior_marginals` computes it (NumPy arrays, float64): by ``torch.autograd.grad`` of the
    root's log value with respect to the labels of every ``a[true]`` and ``a[false]`` slot."""
    problem = gradient_problem(circuit, labels, root, env)
    lowered = lower(circuit, labels, problem.keys, env=env, dtype=torch.float64, klay=False)
    inputs = {
        k: torch.tensor(v, dtype=torch.float64, requires_grad=True)
        for k, v in problem.values.items()
    }
    value = lowered(inputs)[problem.root]
    problem.check(value.detach().cpu().numpy())
    if not inputs:
        return problem.marginals({})  # no variables: nothing to differentiate
    loss = value if problem.log_root else torch.log(value)
    grads = torch.autograd.grad(loss.sum(), list(inputs.values()), allow_unused=True)
    return problem.marginals(
        {
            k: None if g is None else g.detach().cpu().numpy()
            for k, g in zip(inputs, grads, strict=True)
        }
    )


def posterior_matrix(lowered: Any, x: Any, root: int | str = 0, log: bool = False) -> Tensor:
    """``x * d log f_root / d x`` (B, K) for a lowered circuit and its (B, K) dynamic labels.

    For EM-NeSy's exact E-step, with the neural atoms' keys as the dynamic labels (the
    probabilities the networks give): column k is then P(atom k | root), since a choice's
    false alternative weighs one and is not a leaf. (For a probabilistic fact, the share of the
    branches that sum it out is missing: use :func:`posterior_marginals`.) ``x`` holds
    probabilities; ``log`` says the root's value is a log-probability. The result is detached
    (a target, not a path for gradients); a root of value 0 raises
    :class:`nesy_ir.inference.ImpossibleEvidenceError`.
    """
    r = root if isinstance(root, int) else root_index(tuple(lowered.names), root)
    if not 0 <= r < len(lowered.names):
        raise InferenceError(f"no root {root} among {len(lowered.names)} roots")
    x = torch.as_tensor(x).detach().clone().requires_grad_(True)
    value = lowered.matrix(x)[:, r]
    check_possible(lowered.names[r], value.detach().cpu().numpy(), log)
    loss = value if log else torch.log(value)
    (grad,) = torch.autograd.grad(loss.sum(), [x])
    return (x * grad).detach()


__all__ = ["posterior_marginals", "posterior_matrix"]
