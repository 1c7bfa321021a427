"""The same model on the JAX backend: pure functions over a pytree of parameters.

LeNet and the task head as plain ``jax.lax`` operations, the circuit lowered by nesy-jax, the
losses of :class:`nesy_models.models.TaskModel` (same readout, every semantics and logic
placement; prob-fuzzy draws its Dirichlet samples from a key given by the training loop). Its
training loop is :mod:`nesy_models.learners.jax_training`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from nesy_compile.ground_program import atom_text
from nesy_ir.install import install_hint

from ..tasks import Readout, Task
from .torch_model import EPS

try:
    import jax
    import jax.numpy as jnp
    import optax  # noqa: F401  (the training loop's; checked here, with the extra named)
except ImportError as e:  # pragma: no cover - depends on the installation
    hint = install_hint("nesy-models[jax]")
    raise ImportError(f"the JAX backend needs: {hint} ({e})") from None

Params = dict[str, Any]


def _dense(key, inputs: int, outputs: int) -> dict:
    bound = 1.0 / np.sqrt(inputs)  # torch's default initialisation
    kw, kb = jax.random.split(key)
    return {
        "w": jax.random.uniform(kw, (inputs, outputs), minval=-bound, maxval=bound),
        "b": jax.random.uniform(kb, (outputs,), minval=-bound, maxval=bound),
    }


def _conv(key, inputs: int, outputs: int, size: int) -> dict:
    bound = 1.0 / np.sqrt(inputs * size * size)
    kw, kb = jax.random.split(key)
    return {
        "w": jax.random.uniform(kw, (outputs, inputs, size, size), minval=-bound, maxval=bound),
        "b": jax.random.uniform(kb, (outputs,), minval=-bound, maxval=bound),
    }


def init_params(key, classes: int, images: int, head_outputs: int | None) -> Params:
    """LeNet (and the task head when ``head_outputs``) with torch's default initialisation."""
    keys = jax.random.split(key, 7)
    params = {
        "conv1": _conv(keys[0], 1, 6, 5),
        "conv2": _conv(keys[1], 6, 16, 5),
        "fc1": _dense(keys[2], 256, 120),
        "fc2": _dense(keys[3], 120, 84),
        "out": _dense(keys[4], 84, classes),
    }
    if head_outputs is not None:
        params["head1"] = _dense(keys[5], images * 84, 128)
        params["head2"] = _dense(keys[6], 128, head_outputs)
    return params


def _conv_pool_relu(x, p):
    x = jax.lax.conv_general_dilated(x, p["w"], (1, 1), "VALID") + p["b"][None, :, None, None]
    x = jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 1, 2, 2), (1, 1, 2, 2), "VALID")
    return jax.nn.relu(x)


def lenet(params: Params, images, centre: bool = True):
    """(features (M, 84), logits (M, classes)) of images (M, 28, 28) in [0, 1]; ``centre``
    maps them to [-1, 1] first, as the torch :class:`~nesy_models.models.LeNet` does."""
    if centre:
        images = 2 * images - 1
    x = _conv_pool_relu(images[:, None], params["conv1"])
    x = _conv_pool_relu(x, params["conv2"]).reshape(len(images), -1)
    x = jax.nn.relu(x @ params["fc1"]["w"] + params["fc1"]["b"])
    features = x @ params["fc2"]["w"] + params["fc2"]["b"]
    return features, jax.nn.relu(features) @ params["out"]["w"] + params["out"]["b"]


class JaxTaskModel:
    """The JAX counterpart of :class:`nesy_models.models.TaskModel` (same options)."""

    def __init__(
        self,
        task: Task,
        semantics="prob",
        logic="architecture",
        tnorm="product",
        samples=8,
        centre_images: bool = True,
    ):
        import nesy_jax

        self.task, self.semantics, self.logic, self.samples = task, semantics, logic, samples
        self.centre = centre_images
        circuit_semantics = tnorm if semantics == "prob-fuzzy" else semantics
        compiled = task.compiled(circuit_semantics if logic != "none" else "prob")
        self.compiled = compiled
        keys = tuple(atom_text(a) for a in compiled.neural)
        self.circuit = None
        if logic != "none":
            self.circuit = nesy_jax.lower(compiled.circuit, compiled.labelling, dynamic=keys)
            keys = self.circuit.keys
        self.readout = Readout.of(task, compiled, keys)
        self.groups = self.readout.groups
        outputs = None if logic == "architecture" else int(sum(self.readout.group_sizes))
        self.shape = (len(task.classes), len(task.terms), outputs)

    def init(self, seed: int) -> Params:
        return init_params(jax.random.PRNGKey(seed), *self.shape)

    def forward(self, params: Params, images, key=None):
        """(digits (B, P, C), scores (B, V) or None, head logits (B, V) or None); ``key``
        draws prob-fuzzy's samples in training (None: its mean labels, as in evaluation)."""
        batch, positions = images.shape[:2]
        features, logits = lenet(params, images.reshape(-1, 28, 28), self.centre)
        logits = logits.reshape(batch, positions, -1)
        if self.semantics == "prob-fuzzy":
            concentration = jax.nn.softplus(logits) + 1e-3
            digits = concentration / concentration.sum(-1, keepdims=True)
            labels = digits[None]
            if key is not None:
                labels = jax.random.dirichlet(key, concentration, (self.samples, *digits.shape[:2]))
        else:
            digits = jax.nn.softmax(logits, -1)
            labels = digits[None]
        scores = head = None
        r = self.readout
        if self.circuit is not None:
            x = labels.reshape(len(labels) * batch, -1)[:, r.label_index]
            roots = self.circuit.matrix(x).reshape(len(labels), batch, -1).mean(0)
            values = roots[:, r.value_root]
            scores = jnp.where(r.value_complement, 1.0 - values, values)
        if "head1" in params:
            hidden = jax.nn.relu(features.reshape(batch, -1))
            hidden = jax.nn.relu(hidden @ params["head1"]["w"] + params["head1"]["b"])
            head = hidden @ params["head2"]["w"] + params["head2"]["b"]
        return digits, scores, head

    def digit_logits(self, params: Params, images):
        """The digit network's logits (B, P, C) alone (what an EM learner's M-step trains)."""
        batch, positions = images.shape[:2]
        logits = lenet(params, images.reshape(-1, 28, 28), self.centre)[1]
        return logits.reshape(batch, positions, -1)

    def _split(self, x):
        return jnp.split(x, np.cumsum(self.readout.group_sizes)[:-1], axis=1)

    def loss(self, params: Params, images, targets, key=None):
        _, scores, head = self.forward(params, images, key)
        flat = targets + self.readout.offsets
        total = 0.0
        if scores is not None:  # the observed answer's formula (its label's NLL)
            picked = jnp.take_along_axis(scores, flat, 1)
            total = total - jnp.log(jnp.maximum(picked, EPS)).sum(1).mean()
        if head is not None:  # the task head
            log_p = jnp.concatenate([jax.nn.log_softmax(p, 1) for p in self._split(head)], 1)
            total = total - jnp.take_along_axis(log_p, flat, 1).sum(1).mean()
        return total

    def predict(self, params: Params, images):
        _, scores, head = self.forward(params, images)
        source = scores if self.logic == "architecture" else head
        return jnp.stack([p.argmax(1) for p in self._split(source)], 1)

    def classify(self, params: Params, images: np.ndarray) -> np.ndarray:
        """The digit network's class of each image (M, 28, 28)."""
        return np.asarray(lenet(params, jnp.asarray(images), self.centre)[1].argmax(-1))
