"""Training on the JAX backend, as :func:`nesy_models.learners.training.fit`: AdamW from optax,
one jitted update step, atomic checkpoints with exact resume.

Both learners: ``backprop`` (the loss through the circuit lowered by nesy-jax) and ``em``, whose
E-step hands the network's distribution to the engine as CPU torch tensors (the engines are
written once, on torch) and whose M-step, the cross-entropy against the posterior through
LeNet alone, is jitted.
"""

from __future__ import annotations

import os
import pickle
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from nesy_ir.errors import NesyError

from ..checks import CheckpointError, read_checkpoint
from ..data import epoch_batches
from ..models.jax_model import JaxTaskModel, Params, jax, jnp, optax
from .em import e_step, m_step_target
from .training import History, Split, TrainConfig, learning_rate, make_learner, shifted_images


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
    learner = make_learner(config, model, "jax")
    em = learner if config.learner == "em" else None

    @jax.jit
    def step(params, state, images, targets, key):
        loss, grads = jax.value_and_grad(model.loss)(params, images, targets, key)
        updates, state = optimiser.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    def m_step_loss(params, images, target):
        log_p = jax.nn.log_softmax(model.digit_logits(params, images), -1)
        return -(target * log_p).sum((1, 2)).mean()

    @jax.jit
    def m_step(params, state, images, target):
        loss, grads = jax.value_and_grad(m_step_loss)(params, images, target)
        updates, state = optimiser.update(grads, state, params)
        return optax.apply_updates(params, updates), state, loss

    probabilities = jax.jit(
        lambda params, images: jax.nn.softmax(model.digit_logits(params, images), -1)
    )

    def em_step(params, state, images, targets, index: int, parts: dict):
        """E-step by the engine (no gradients), then ``m_steps`` jitted M-steps."""
        began = time.perf_counter()
        probs = torch.from_numpy(np.array(probabilities(params, images)))
        generator = em.generator(torch.device("cpu"), index)
        posterior = e_step(
            model.task, em.engine, probs, torch.from_numpy(targets), em.samples, generator
        )
        target = jnp.asarray(m_step_target(posterior, em.variant, generator).numpy())
        parts["e_step_seconds"] = parts.get("e_step_seconds", 0) + time.perf_counter() - began
        parts["fallbacks"] = parts.get("fallbacks", 0) + int(posterior.fallback.sum())
        began = time.perf_counter()
        for _ in range(em.m_steps):
            params, state, loss = m_step(params, state, images, target)
        loss.block_until_ready()
        parts["m_step_seconds"] = parts.get("m_step_seconds", 0) + time.perf_counter() - began
        return params, state, loss

    while len(history.epochs) < config.epochs and history.stale < config.patience:
        epoch = len(history.epochs)
        began, total, parts = time.perf_counter(), 0.0, {}
        batches = epoch_batches(len(train), config.batch_size, config.seed, epoch)
        show = tqdm(batches, desc=f"epoch {epoch + 1}", disable=not config.progress, leave=False)
        for i, rows in enumerate(show):
            images, targets = train.examples.gather(rows), train.targets[rows]
            if config.augment:
                images = shifted_images(images, config, epoch, i)
            index = epoch * len(batches) + i
            if em is not None:
                params, state, loss = em_step(params, state, images, targets, index, parts)
            else:
                key = jax.random.fold_in(base, index) if sampled else None
                params, state, loss = step(params, state, images, targets, key)
            total += float(loss) * len(rows)
        seconds = time.perf_counter() - began
        if not np.isfinite(total):
            raise NesyError(f"epoch {epoch + 1}: the loss became {total}")
        scores = evaluate_jax(model, params, val)
        history.epochs.append(
            {"epoch": epoch + 1, "train_loss": total / len(train), "seconds": seconds}
            | parts
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
