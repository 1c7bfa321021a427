"""A neurosymbolic model for a task, under any semantics and logic placement (torch backend).

- logic in the architecture: the network labels the neural atoms, the circuit computes each
  answer's score, the loss is its negative log-likelihood;
- logic in the loss: the same network with a second head that predicts the answer from the
  joined features of all images; loss = the head's NLL + the semantic loss, the NLL of the
  observed answer's formula on the first head's digits (DeepLog, section 5.4: a loss over the
  label of a formula); the circuit is used in training only, the head answers;
- none: the neural baseline, the task head alone.

A task without a program (9 x 9 Sudoku: it does not compile) has no circuit: trained by EM
through an engine, it scores each answer value by sampling (the share of
:data:`SCORE_SAMPLES` draws of the symbols whose plain-function answer it is) and predicts the
answer of the most probable symbols.

Semantics: ``prob`` and the fuzzy t-norms label atoms with the network's softmax;
``prob-fuzzy`` has the network predict a distribution over the fuzzy labels of each image's
digit atoms, a Dirichlet (its samples are fuzzy labels that sum to 1, as the softmax's do: with
independent per-atom labels every sum could be made true at once), propagates samples through
the ``tnorm`` circuit and averages (the DeepLog paper, Appendix C).
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from nesy_compile.ground_program import atom_text
from nesy_ir.errors import NesyError

from ..options import FUZZY, LOGIC, SEMANTICS
from ..tasks import Readout, Task
from ..tasks.task import value_index
from .networks import LeNet, TaskHead, classify

#: Floor of a score before its log (fuzzy scores can be exactly 0): the smallest normal float32,
#: so that a tiny but non-zero score (a product t-norm over many constraints: 1e-15 for an
#: untrained Sudoku) keeps its gradient.
EPS = float(torch.finfo(torch.float32).tiny)
#: Draws of the symbols per example that score a task without a circuit.
SCORE_SAMPLES = 1000
#: Circuits of at least this many edges score, in training, only the observed values' roots
#: (their cones, :mod:`nesy_torch.cone`): MNIST addition's circuits score every sum, of which a
#: batch observes a few (N = 4: 32 of 19,999). Below it the whole circuit costs less than
#: selecting a cone (measured: docs/benchmarks.md, "MNIST addition training speed").
CONE_EDGES = 10_000


@dataclass
class Output:
    """What a forward pass gives: digit probabilities (B, P, C); circuit scores of every group
    value (B, V) (None without logic in the architecture or the loss, for the network alone, or
    where only the observed values were scored); head logits (B, V); the digit network's logits
    (B, P, C); circuit scores of the observed value of each group (B, G), where only they were
    asked for (training on a large circuit: see :data:`CONE_EDGES`)."""

    digits: torch.Tensor
    scores: torch.Tensor | None
    logits: torch.Tensor | None
    digit_logits: torch.Tensor | None = None
    observed: torch.Tensor | None = None


class TaskModel(nn.Module):
    """LeNet + (circuit and/or task head) for ``task``; see the module docstring.
    ``centre_images``: the network maps its [0, 1] images to [-1, 1] (:class:`LeNet`)."""

    def __init__(
        self,
        task: Task,
        semantics: str = "prob",
        logic: str = "architecture",
        tnorm: str = "product",
        samples: int = 8,
        centre_images: bool = True,
    ):
        super().__init__()
        if semantics not in SEMANTICS:
            raise NesyError(f"unknown semantics {semantics!r} (known: {', '.join(SEMANTICS)})")
        if logic not in LOGIC:
            raise NesyError(f"unknown logic placement {logic!r} (known: {', '.join(LOGIC)})")
        if tnorm not in FUZZY:
            raise NesyError(f"unknown t-norm {tnorm!r} (known: {', '.join(FUZZY)})")
        self.task, self.semantics, self.logic, self.samples = task, semantics, logic, samples
        self.circuit_semantics = tnorm if semantics == "prob-fuzzy" else semantics
        if task.program is None and (semantics, logic) != ("prob", "architecture"):
            raise NesyError(
                f"task {task.name} has no circuit: it runs as probabilistic logic in the"
                " architecture, trained by EM (--learner em)"
            )
        compiled = None
        if task.program is not None:
            compiled = task.compiled(self.circuit_semantics if logic != "none" else "prob")
        keys = tuple(atom_text(a) for a in compiled.neural) if compiled is not None else ()
        self.compiled = compiled
        self.circuit = self.cone = None
        if logic != "none" and compiled is not None:
            import nesy_torch

            self.circuit = nesy_torch.lower(compiled.circuit, compiled.labelling, dynamic=keys)
            keys = tuple(self.circuit.keys)
            if compiled.circuit.stats()["edges"] >= CONE_EDGES:
                self.cone = nesy_torch.lower_cone(compiled.circuit, compiled.labelling, keys)
        readout = Readout.of(task, compiled, keys)
        self.groups, self.group_sizes = readout.groups, list(readout.group_sizes)
        for name in ("label_index", "value_root", "value_complement", "offsets"):
            self.register_buffer(name, torch.as_tensor(getattr(readout, name)))
        # skip the gathers that would copy their input unchanged (fewer steps per batch)
        self._same_labels = _is_range(readout.label_index, len(task.terms) * len(task.classes))
        self._same_roots = self.circuit is not None and _is_range(
            readout.value_root, len(self.circuit.names)
        )
        self._complements = bool(readout.value_complement.any())
        classes, images = len(task.classes), len(task.terms)
        self.net = LeNet(classes, centre=centre_images)
        self.head = TaskHead(images, sum(self.group_sizes)) if logic != "architecture" else None

    def _load_from_state_dict(self, state, prefix, *args) -> None:
        """A checkpoint saved before circuits ran natively holds the generic module's buffers:
        where they are this circuit's, they stand for its native fingerprint."""
        circuit = f"{prefix}circuit."
        if getattr(self.circuit, "digest", None) is not None and f"{circuit}digest" not in state:
            import nesy_torch

            generic = nesy_torch.lower(
                self.compiled.circuit, self.compiled.labelling, self.circuit.keys, native=False
            ).state_dict()
            saved = {k[len(circuit) :]: v for k, v in state.items() if k.startswith(circuit)}
            if saved.keys() == generic.keys() and all(
                torch.equal(v, generic[k]) for k, v in saved.items()
            ):
                for k in saved:
                    del state[circuit + k]
                state[f"{circuit}digest"] = self.circuit.digest
        super()._load_from_state_dict(state, prefix, *args)

    def forward(
        self, images: torch.Tensor, network_only: bool = False, targets: torch.Tensor | None = None
    ) -> Output:
        """The outputs for images (B, P, 28, 28), P the task's image terms in order;
        ``network_only``: the digit network's alone (what an EM learner's M-step trains);
        ``targets`` (B, G), in training: a large circuit scores only these values
        (:attr:`Output.observed`), enough for :meth:`loss`."""
        batch, positions = images.shape[:2]
        features, logits = self.net(images.flatten(0, 1))
        features = features.view(batch, positions, -1)
        logits = logits.view(batch, positions, -1)
        if network_only:
            return Output(logits.softmax(-1), None, None, logits)
        if self.semantics == "prob-fuzzy":
            digits, labels = self._sampled_labels(logits)
        else:
            digits = logits.softmax(-1)
            labels = digits.flatten(1)[None]
        scores = observed = None
        if self.compiled is None:
            scores = _sampled_scores(self.task, self.groups, digits.detach())
        elif self.circuit is not None:
            x = labels if self._same_labels else labels[..., self.label_index]  # (S, B, K)
            if self.cone is not None and targets is not None:  # the observed values alone
                flat = targets + self.offsets
                roots = self.value_root[flat]
                roots = roots.repeat(len(x), 1) if len(x) > 1 else roots
                observed = _sample_mean(lambda y: self.cone(y, roots), x)
                observed = self._complemented(observed, self.value_complement[flat])
            else:
                scores = _sample_mean(self.circuit.matrix, x)
                scores = scores if self._same_roots else scores[:, self.value_root]
                scores = self._complemented(scores, self.value_complement)
        head = self.head(features) if self.head is not None else None
        return Output(digits, scores, head, logits, observed)

    def _complemented(self, scores: torch.Tensor, complement: torch.Tensor) -> torch.Tensor:
        """``scores`` with 1 - score where ``complement`` says the value is a root's negation."""
        return torch.where(complement, 1.0 - scores, scores) if self._complements else scores

    def _sampled_labels(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """A Dirichlet per image from the logits; (mean digits, samples (S, B, P*C)) (the mean
        alone in evaluation)."""
        concentration = nn.functional.softplus(logits).add(1e-3)
        mean = concentration / concentration.sum(-1, keepdim=True)
        if not self.training:
            return mean, mean.flatten(1)[None]
        samples = torch.distributions.Dirichlet(concentration).rsample((self.samples,))
        return mean, samples.flatten(2)

    def loss(self, out: Output, targets: torch.Tensor) -> torch.Tensor:
        """Mean loss of a batch; ``targets`` (B, G) index each group's true value."""
        flat = targets + self.offsets
        terms = []
        if out.scores is not None:  # the observed answer's formula (its label's NLL)
            terms.append(out.scores.clamp_min(EPS).log())
        if out.logits is not None:  # the task head
            terms.append(self._group_log_softmax(out.logits))
        # -sum over groups of each term's log-probability of the true value, batch mean
        losses = [_nll(t, flat) for t in terms]
        if out.observed is not None:
            losses.append(-out.observed.clamp_min(EPS).log().sum(1).mean())
        return functools.reduce(operator.add, losses)

    def predict(self, out: Output) -> torch.Tensor:
        """(B, G): the index of each group's predicted value (without a circuit: the answer of
        the most probable symbols)."""
        if self.compiled is None:
            return _answer_index(self.task, self.groups, out.digits.argmax(-1))
        source = out.scores if self.logic == "architecture" else out.logits
        return torch.stack([part.argmax(1) for part in source.split(self.group_sizes, 1)], 1)

    def classify(self, images: np.ndarray) -> np.ndarray:
        """The digit network's class of each image (M, 28, 28)."""
        return classify(self.net, images)

    def probabilities(self, out: Output) -> torch.Tensor:
        """(B, V): how likely each group value is, from what predicts it (circuit or head)."""
        if self.logic == "architecture":
            return out.scores
        return self._group_log_softmax(out.logits).exp()

    def _group_log_softmax(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.cat([p.log_softmax(1) for p in logits.split(self.group_sizes, 1)], 1)


def _sample_mean(fn, x: torch.Tensor) -> torch.Tensor:
    """The mean over the S label samples of ``fn`` of the samples (S, B, K) stacked (S * B, K)."""
    if len(x) == 1:
        return fn(x[0])
    return fn(x.flatten(0, 1)).view(*x.shape[:2], -1).mean(0)


def _is_range(index, n: int) -> bool:
    """Whether ``index`` is 0, 1, ..., n - 1."""
    return len(index) == n and bool((index == range(n)).all())


def _nll(log_p: torch.Tensor, flat: torch.Tensor) -> torch.Tensor:
    """Batch mean of -sum_g log_p[b, flat[b, g]]: one fused call (nll_loss over the groups)."""
    if flat.shape[1] == 1:
        return nn.functional.nll_loss(log_p, flat[:, 0])
    picked = log_p[:, :, None].expand(-1, -1, flat.shape[1])
    return nn.functional.nll_loss(picked, flat, reduction="sum") / len(flat)


def _answer_index(task: Task, groups, symbols: torch.Tensor) -> torch.Tensor:
    """(..., G): the index, within each group's values, of the answer of ``symbols`` (..., P)
    by the task's plain function (values it does not list: -1)."""
    answers = task.symbolic(symbols.cpu().numpy())
    return torch.as_tensor(value_index(groups, answers), device=symbols.device)


def _sampled_scores(task: Task, groups, digits: torch.Tensor) -> torch.Tensor:
    """(B, V): each group value's share of :data:`SCORE_SAMPLES` draws of the symbols from
    ``digits`` (B, P, C), a fixed generator's (so evaluation is repeatable)."""
    batch, positions, classes = digits.shape
    generator = torch.Generator(digits.device).manual_seed(0)
    draws = torch.multinomial(
        digits.reshape(-1, classes).float(), SCORE_SAMPLES, replacement=True, generator=generator
    )
    index = _answer_index(task, groups, draws.view(batch, positions, -1).transpose(1, 2))
    shares = [
        torch.stack([(index[..., g] == i).float().mean(1) for i in range(len(group.values))], 1)
        for g, group in enumerate(groups)
    ]
    return torch.cat(shares, 1).to(digits.dtype)
