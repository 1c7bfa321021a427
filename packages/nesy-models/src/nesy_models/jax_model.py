"""The same model and training on the JAX backend: pure functions over a pytree of parameters.

LeNet and the task head as plain ``jax.lax`` operations, the circuit lowered by nesy-jax, the
losses of :class:`nesy_models.model.TaskModel` (same readout, every semantics and logic
placement; prob-fuzzy draws its Dirichlet samples from a key folded from the seed and the step),
AdamW from optax, one jitted update step, atomic checkpoints with exact resume.
"""

from __future__ import annotations

import os
import pickle
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from nesy_compile.ground_program import atom_text
from nesy_ir.errors import NesyError
from nesy_ir.install import install_hint

from .checks import CheckpointError, read_checkpoint
from .data import epoch_batches
from .model import EPS
from .tasks import Readout, Task
from .train import History, Split, TrainConfig, learning_rate, shifted_images

try:
    import jax
    import jax.numpy as jnp
    import optax
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


def lenet(params: Params, images):
    """(features (M, 84), logits (M, classes)) of images (M, 28, 28)."""
    x = _conv_pool_relu(images[:, None], params["conv1"])
    x = _conv_pool_relu(x, params["conv2"]).reshape(len(images), -1)
    x = jax.nn.relu(x @ params["fc1"]["w"] + params["fc1"]["b"])
    features = x @ params["fc2"]["w"] + params["fc2"]["b"]
    return features, jax.nn.relu(features) @ params["out"]["w"] + params["out"]["b"]


class JaxTaskModel:
    """The JAX counterpart of :class:`nesy_models.model.TaskModel` (same options)."""

    def __init__(
        self, task: Task, semantics="prob", logic="architecture", tnorm="product", samples=8
    ):
        import nesy_jax

        self.task, self.semantics, self.logic, self.samples = task, semantics, logic, samples
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
        features, logits = lenet(params, images.reshape(-1, 28, 28))
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
        return np.asarray(lenet(params, jnp.asarray(images))[1].argmax(-1))


def evaluate_jax(model: JaxTaskModel, params: Params, split: Split, batch_size: int = 256) -> dict:
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


def fit_jax(model: JaxTaskModel, train: Split, val: Split, config: TrainConfig):
    """Train with AdamW and early stopping; (best parameters, :class:`History`). With
    ``config.checkpoint`` the state is saved after every epoch and a run resumes from it
    exactly (batches come from (seed, epoch), sampling keys from (seed, step))."""
    params = model.init(config.seed)
    steps = len(epoch_batches(len(train), config.batch_size, config.seed, 0))
    learning_rate(config, 0, steps)  # an unknown schedule fails here, before any work
    schedule = lambda count: learning_rate(config, count, steps, jnp)  # noqa: E731
    optimiser = optax.adamw(schedule, weight_decay=config.weight_decay)
    state = optimiser.init(params)
    history, best = History(), params
    if config.checkpoint is not None and Path(config.checkpoint).exists():
        params, state, history, best = _resume(Path(config.checkpoint), params, state)
    base = jax.random.PRNGKey(config.seed)
    sampled = model.semantics == "prob-fuzzy"

    @jax.jit
    def step(params, state, images, targets, key):
        loss, grads = jax.value_and_grad(model.loss)(params, images, targets, key)
        updates, state = optimiser.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    while len(history.epochs) < config.epochs and history.stale < config.patience:
        epoch = len(history.epochs)
        began, total = time.perf_counter(), 0.0
        batches = epoch_batches(len(train), config.batch_size, config.seed, epoch)
        show = tqdm(batches, desc=f"epoch {epoch + 1}", disable=not config.progress, leave=False)
        for i, rows in enumerate(show):
            images, targets = train.examples.gather(rows), train.targets[rows]
            if config.augment:
                images = shifted_images(images, config, epoch, i)
            key = jax.random.fold_in(base, epoch * len(batches) + i) if sampled else None
            params, state, loss = step(params, state, images, targets, key)
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
        if config.checkpoint is not None:
            _save(Path(config.checkpoint), params, state, history, best)
    return best, history


def _save(path: Path, params: Params, state, history: History, best: Params) -> None:
    """Write the checkpoint atomically (NumPy arrays, pickled): a crash keeps the previous one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = jax.tree_util.tree_map(np.asarray, (params, state, best))
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        pickle.dump({"jax": arrays, "history": asdict(history)}, f)
    os.replace(tmp, path)


def _resume(path: Path, params: Params, state):
    """(params, optimiser state, history, best params) from a checkpoint of this model. A file
    that is not a checkpoint, or one of another model, is a NesyError; the file is left as it is."""
    saved = read_checkpoint(path, _load, "a nesy checkpoint (JAX)")
    if not isinstance(saved, dict):
        raise CheckpointError(f"{path} is not a nesy checkpoint: it holds a {type(saved).__name__}")
    try:
        arrays = saved["jax"]
        expected = jax.tree_util.tree_structure((params, state, params))
        if jax.tree_util.tree_structure(arrays) != expected:
            raise ValueError("it holds another model's parameters")
        shapes = [np.shape(a) for a in jax.tree_util.tree_leaves(arrays)]
        wanted = [np.shape(a) for a in jax.tree_util.tree_leaves((params, state, params))]
        if shapes != wanted:
            raise ValueError("its parameter shapes differ from this model's")
        history = History(**saved["history"])
    except (KeyError, ValueError, TypeError) as e:
        what = f"it has no {e}" if isinstance(e, KeyError) else str(e)
        raise NesyError(f"cannot resume from checkpoint {path}: {what}") from None
    params, state, best = jax.tree_util.tree_map(jnp.asarray, arrays)
    return params, state, history, best


def _load(path: Path) -> object:
    with open(path, "rb") as f:
        return pickle.load(f)
