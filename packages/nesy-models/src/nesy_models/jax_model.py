"""The same model and training on the JAX backend: pure functions over a pytree of parameters.

LeNet and the task head as plain ``jax.lax`` operations, the circuit lowered by nesy-jax, the
losses of :class:`nesy_models.model.NeSyModel` (same readout, same semantics and logic
placements), AdamW from optax, one jitted update step.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from nesy_compile.ground_program import atom_text
from nesy_ir.errors import NesyError

from .data import epoch_batches
from .model import EPS
from .tasks import Readout, Task
from .train import History, Split, TrainConfig

try:
    import jax
    import jax.numpy as jnp
    import optax
except ImportError as e:  # pragma: no cover - depends on the installation
    raise ImportError(f"the JAX backend needs: pip install 'nesy-models[jax]' ({e})") from None

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


def lenet(params: Params, images):
    """(features (M, 84), logits (M, classes)) of images (M, 28, 28)."""
    x = _conv_pool_relu(images[:, None], params["conv1"])
    x = _conv_pool_relu(x, params["conv2"]).reshape(len(images), -1)
    x = jax.nn.relu(x @ params["fc1"]["w"] + params["fc1"]["b"])
    features = x @ params["fc2"]["w"] + params["fc2"]["b"]
    return features, jax.nn.relu(features) @ params["out"]["w"] + params["out"]["b"]


class JaxModel:
    """The JAX counterpart of :class:`nesy_models.model.NeSyModel` (same options)."""

    def __init__(self, task: Task, semantics="prob", logic="architecture", tnorm="product"):
        import nesy_jax

        if semantics == "prob-fuzzy":
            raise NesyError("prob-fuzzy semantics is available on the torch backend only")
        self.task, self.semantics, self.logic = task, semantics, logic
        compiled = task.compiled(semantics if logic != "none" else "prob")
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

    def forward(self, params: Params, images):
        """(digits (B, P, C), scores (B, V) or None, head logits (B, V) or None)."""
        batch, positions = images.shape[:2]
        features, logits = lenet(params, images.reshape(-1, 28, 28))
        digits = jax.nn.softmax(logits.reshape(batch, positions, -1), -1)
        scores = head = None
        r = self.readout
        if self.circuit is not None:
            roots = self.circuit.apply_matrix(digits.reshape(batch, -1)[:, r.label_index])
            values = roots[:, r.value_root]
            scores = jnp.where(r.value_complement, 1.0 - values, values)
        if "head1" in params:
            hidden = jax.nn.relu(features.reshape(batch, -1))
            hidden = jax.nn.relu(hidden @ params["head1"]["w"] + params["head1"]["b"])
            head = hidden @ params["head2"]["w"] + params["head2"]["b"]
        return digits, scores, head

    def _split(self, x):
        return jnp.split(x, np.cumsum(self.readout.group_sizes)[:-1], axis=1)

    def loss(self, params: Params, images, targets):
        _, scores, head = self.forward(params, images)
        flat = targets + self.readout.offsets
        if self.logic == "architecture":
            picked = jnp.take_along_axis(scores, flat, 1)
            return -jnp.log(jnp.maximum(picked, EPS)).sum(1).mean()
        log_p = jnp.concatenate([jax.nn.log_softmax(p, 1) for p in self._split(head)], 1)
        total = -jnp.take_along_axis(log_p, flat, 1).sum(1)
        if self.logic == "loss":
            agree = jnp.stack([p.sum(1) for p in self._split(jnp.exp(log_p) * scores)], 1)
            total = total - jnp.log(jnp.maximum(agree, EPS)).sum(1)
        return total.mean()

    def predict(self, params: Params, images):
        _, scores, head = self.forward(params, images)
        source = scores if self.logic == "architecture" else head
        return jnp.stack([p.argmax(1) for p in self._split(source)], 1)


def evaluate_jax(model: JaxModel, params: Params, split: Split, batch_size: int = 256) -> dict:
    """Mean loss, accuracy and inference milliseconds per example, as :func:`train.evaluate`."""
    loss_fn, predict = jax.jit(model.loss), jax.jit(model.predict)
    losses, correct, seconds = 0.0, 0, 0.0
    for start in range(0, len(split), batch_size):
        rows = np.arange(start, min(start + batch_size, len(split)))
        images, targets = split.examples.gather(rows), split.targets[rows]
        began = time.perf_counter()
        predicted = np.asarray(predict(params, images))
        seconds += time.perf_counter() - began
        losses += float(loss_fn(params, images, targets)) * len(rows)
        correct += int((predicted == targets).all(1).sum())
    n = max(len(split), 1)
    return {"loss": losses / n, "accuracy": correct / n, "ms_per_example": 1e3 * seconds / n}


def fit_jax(model: JaxModel, train: Split, val: Split, config: TrainConfig):
    """Train with AdamW and early stopping; (best parameters, :class:`History`)."""
    params = model.init(config.seed)
    optimiser = optax.adamw(config.lr, weight_decay=config.weight_decay)
    state = optimiser.init(params)

    @jax.jit
    def step(params, state, images, targets):
        loss, grads = jax.value_and_grad(model.loss)(params, images, targets)
        updates, state = optimiser.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    history, best = History(), params
    while len(history.epochs) < config.epochs and history.stale < config.patience:
        epoch = len(history.epochs)
        began, total = time.perf_counter(), 0.0
        for rows in epoch_batches(len(train), config.batch_size, config.seed, epoch):
            images, targets = train.examples.gather(rows), train.targets[rows]
            params, state, loss = step(params, state, images, targets)
            total += float(loss) * len(rows)
        seconds = time.perf_counter() - began
        if not np.isfinite(total):
            raise NesyError(f"epoch {epoch + 1}: the loss became {total}")
        scores = evaluate_jax(model, params, val)
        history.epochs.append(
            {"epoch": epoch + 1, "train_loss": total / len(train), "seconds": seconds}
            | {f"val_{k}": v for k, v in scores.items()}
        )
        if scores["loss"] < history.best_loss:
            history.best_loss, history.best_epoch, best = scores["loss"], epoch, params
    return best, history
