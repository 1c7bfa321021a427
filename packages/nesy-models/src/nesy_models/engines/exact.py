"""The exact engine: posterior marginals from the compiled circuit, by one backward pass.

P(y | x) is a multilinear polynomial of the labels theta of the neural atoms, so the posterior of
atom (p, c) is theta_pc * d log P(y | x) / d theta_pc (Fisher's identity: the gradient of the log
evidence with respect to a log label). So the E-step is the gradient that backpropagation
through the circuit would take, stopped at the labels. A task whose answer has several groups
(the carry encoding's digits) is conditioned on its whole answer, the task's ``joint`` query; a
group scored by a root's complement (Sudoku's "invalid") is scored by Z - root, Z = prod_p
sum_c theta_pc (= 1), which keeps the polynomial multilinear and homogeneous.
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from nesy_compile.ground_program import atom_text

from ..tasks import Readout, Task
from .posterior import EngineError, Posterior, with_prior_where


def exact(
    task: Task,
    probs: torch.Tensor,
    targets: torch.Tensor,
    *,
    samples: int = 0,
    generator: torch.Generator | None = None,
) -> Posterior:
    """Posterior marginals (B, P, C) of the symbols given the answers (B, G), exactly."""
    groups = task.groups(task.compiled("prob"))
    if len(groups) > 1:
        if task.joint is None:
            raise EngineError(
                f"the exact engine needs task {task.name}'s whole answer as one query (its"
                f" 'joint'), as its answer has {len(groups)} groups; engines bp or abc may serve it"
            )
        joint = task.joint_task()
        values = np.asarray(_readout(joint).groups[0].values)
        encoded = task.joint.encode(targets.cpu().numpy())
        index = np.minimum(np.searchsorted(values, encoded), len(values) - 1)
        known = torch.as_tensor(values[index] == encoded, device=probs.device)
        targets = torch.as_tensor(index, device=probs.device)[:, None]
        task = joint
    else:
        known = torch.ones(len(probs), dtype=torch.bool, device=probs.device)
    readout = _readout(task)
    circuit = _circuit(task, probs.dtype, probs.device)
    index = lambda name: torch.as_tensor(getattr(readout, name), device=probs.device)  # noqa: E731
    with torch.enable_grad():
        theta = probs.detach().clone().requires_grad_(True)
        roots = circuit.matrix(theta.flatten(1)[:, index("label_index")])
        scores = roots[:, index("value_root")]
        norm = theta.sum(-1).prod(-1, keepdim=True)
        scores = torch.where(index("value_complement"), norm - scores, scores)
        picked = scores.gather(1, targets + index("offsets"))  # (B, G)
        possible = (picked > 0).all(1) & known
        log_evidence = torch.where(possible[:, None], picked, 1.0).log().sum()
        (grad,) = torch.autograd.grad(log_evidence, theta)
    marginals = (theta * grad).detach()
    fallback = ~possible | ~torch.isfinite(marginals).all(-1).all(-1)
    marginals = with_prior_where(marginals, probs.detach(), fallback)
    return Posterior(marginals, fallback)


def _readout(task: Task) -> Readout:
    return _lowered(task)[1]


def _lowered(task: Task):
    """(lowered circuit, readout) of the task's probabilistic program, once per task."""

    def make():
        import nesy_torch

        compiled = task.compiled("prob")
        keys = tuple(atom_text(a) for a in compiled.neural)
        circuit = nesy_torch.lower(compiled.circuit, compiled.labelling, dynamic=keys)
        return circuit, Readout.of(task, compiled, tuple(circuit.keys))

    return task.derived("exact-engine", make)


def _circuit(task: Task, dtype: torch.dtype, device: torch.device):
    """The lowered circuit in ``dtype`` on ``device``, once per task, dtype and device."""
    base = _lowered(task)[0]
    return task.derived(
        f"exact-engine-{dtype}-{device}", lambda: copy.deepcopy(base).to(device=device, dtype=dtype)
    )
