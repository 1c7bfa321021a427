"""One-argument backend choice: ``get_backend("numpy" | "torch" | "jax" | "klay" | ...)``.

Every backend is an object (usually a module) with the same two functions, so that changing the
backend's name is the only change a program needs:

- ``lower(circuit, labels=None, dynamic=(), *, env=None, dtype=None, device=None, **options)``
  returns a :class:`LoweredCircuit`: the circuit as a callable of its ``dynamic`` labels.
  ``labels`` label every other atom now (scalars); ``env`` binds the free variables of atoms;
  ``dtype`` is a name (``"float64"``) or the backend's own dtype (default: the backend's
  float); ``device`` is where the backend computes (``"cpu"``, ``"cuda"``; NumPy takes only
  the CPU). ``options`` are the backend's own (torch: ``compile``, ``klay``; JAX: ``jit``).
- ``evaluate_circuit(circuit, labels=None, env=None)`` returns every root's value as NumPy, in
  float64, shaped and typed like :func:`nesy_ir.evaluate_circuit`: one evaluation, for
  ``nesy wmc --backend`` and the conformance tests.

'numpy' is nesy-ir's reference; the others are entry points of the ``nesy.backends`` group, so a
new backend is a package that declares one. A missing backend's error names what to install.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from importlib.metadata import entry_points
from types import SimpleNamespace
from typing import Any, Protocol

import numpy as np

from .circuit import Circuit
from .errors import NesyError
from .evaluate import _ground, as_labelling, evaluate_circuit
from .install import install_hint
from .labels import Labelling, slot_key
from .layerize import Layered, evaluate_layered, layerize
from .lowering import plan_leaves
from .nodes import Kind, atom
from .registry import get_algebra

#: The package that provides a backend we know of (others: ``nesy-NAME``).
BACKEND_EXTRAS = {"torch": "nesy-torch", "jax": "nesy-jax", "klay": "nesy-torch[klay]"}


class LoweredCircuit(Protocol):
    """What ``lower`` returns on every backend; arrays in are array-likes (NumPy included),
    arrays out are the backend's own. Boolean roots come back as 0.0 / 1.0."""

    #: the dynamic labels' keys: the columns of :meth:`matrix`'s input
    keys: tuple[str, ...]
    #: the roots' names: the columns of :meth:`matrix`'s output
    names: tuple[str, ...]

    def __call__(self, values: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """``{key: (B,) array or scalar}`` -> ``{root name: (B,) array or scalar}``."""

    def matrix(self, x: Any) -> Any:
        """(B, K) labels, columns in :attr:`keys` order -> (B, R) values, in :attr:`names`."""


class Backend(Protocol):
    """What :func:`get_backend` returns (see the module docstring)."""

    name: str

    def lower(
        self,
        circuit: Circuit | Layered,
        labels: Labelling | Mapping | None = None,
        dynamic: Iterable[str] = (),
        *,
        env: Mapping[str, Any] | None = None,
        dtype: Any = None,
        device: Any = None,
        **options: Any,
    ) -> LoweredCircuit: ...

    def evaluate_circuit(
        self,
        circuit: Circuit,
        labels: Labelling | Mapping | None = None,
        env: Mapping[str, Any] | None = None,
    ) -> dict[str, np.ndarray]: ...


def check_values(keys: tuple[str, ...], values: Mapping[str, Any] | None) -> dict[str, Any]:
    """``values`` by normalised key; a NesyError naming the missing or unknown keys."""
    given = {"".join(k.split()): v for k, v in (values or {}).items()}
    missing = [k for k in keys if k not in given]
    if missing:
        raise NesyError(f"no value for the dynamic labels {missing} (expected {list(keys)})")
    unknown = sorted(set(given) - set(keys))
    if unknown:
        raise NesyError(f"{unknown} are not dynamic labels of this circuit: {list(keys)}")
    return given


def check_matrix(x: Any, keys: tuple[str, ...]) -> None:
    """A NesyError unless ``x`` is a (B, len(keys)) matrix."""
    shape = tuple(x.shape) if hasattr(x, "shape") else np.shape(x)  # an array's own: quick
    if len(shape) != 2 or shape[1] != len(keys):
        raise NesyError(
            f"expected labels of shape (B, {len(keys)}) (columns {list(keys)}), got {shape}"
        )


class ReferenceCircuit:
    """The NumPy reference as a :class:`LoweredCircuit` (layered evaluation, float64 unless
    ``dtype`` says otherwise)."""

    def __init__(
        self,
        circuit: Circuit | Layered,
        labels: Labelling | Mapping | None = None,
        dynamic: Iterable[str] = (),
        *,
        env: Mapping[str, Any] | None = None,
        dtype: Any = None,
        device: Any = None,
    ):
        if device not in (None, "cpu"):
            raise NesyError(f"the numpy backend computes on the CPU only, not on {device!r}")
        self.layered = circuit if isinstance(circuit, Layered) else layerize(circuit)
        self.labelling = as_labelling(labels)
        self.env = dict(env or {})
        self.dtype = np.dtype(dtype or np.float64)
        # the same checks as every backend's lowering: unbound variables, missing labels, ...
        self.keys = plan_leaves(self.layered, self.labelling, dynamic, self.env).keys
        self.names: tuple[str, ...] = self.layered.names

    def __call__(self, values: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
        given = check_values(self.keys, values)
        out = evaluate_layered(self.layered, self.labelling.with_values(given), self.env)
        return {name: np.asarray(v).astype(self.dtype) for name, v in out.items()}

    def matrix(self, x: Any) -> np.ndarray:
        check_matrix(x, self.keys)
        x = np.asarray(x, dtype=self.dtype)
        out = self({k: x[:, i] for i, k in enumerate(self.keys)})
        return np.stack([np.broadcast_to(out[n], (len(x),)) for n in self.names], axis=1)


def batched_labels(
    layered: Layered, labelling: Labelling, env: Mapping[str, Any] | None = None
) -> dict[str, np.ndarray]:
    """The batched labels of the atom leaves, so that they can be passed as dynamic labels: by
    the atom's key (``a``) where its ``a[false]`` label is derived from it, so that a lowering
    that adds leaves (KLay's smoothing) derives theirs too, else by the slot's own key."""
    out = {}
    for node in layered.leaves:
        if node.kind is not Kind.ATOM:
            continue
        a = _ground(node, dict(env or {})).arg
        if node.structure == "bool" and isinstance(a.rvar, bool):
            continue
        rvalue = a.rvar if isinstance(a.rvar, bool) else None
        own = slot_key(a.predicate, a.args, rvalue)
        derived = rvalue is not None and not labelling.has_own_label(own)
        if derived and labelling.has_own_label(slot_key(a.predicate, a.args)):
            key, leaf = slot_key(a.predicate, a.args), atom(a.predicate, a.args, node.structure)
        else:
            key, leaf = own, atom(a.predicate, a.args, node.structure, a.rvar)
        value = labelling.label(leaf)
        if value.ndim:
            out[key] = value
    return out


def evaluate_lowered(
    lower: Callable[..., LoweredCircuit],
    circuit: Circuit,
    labels: Labelling | Mapping | None = None,
    env: Mapping[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """A backend's ``evaluate_circuit`` from its ``lower``: batched labels become the dynamic
    ones, the rest is folded in; float64; NumPy out, Booleans where a root's structure is."""
    layered = circuit if isinstance(circuit, Layered) else layerize(circuit)
    labelling = as_labelling(labels)
    batched = batched_labels(layered, labelling, env)
    lowered = lower(circuit, labelling, tuple(batched), env=env, dtype="float64")
    out = lowered({k: np.asarray(v, dtype=float) for k, v in batched.items()})
    result = {}
    for name, gid in zip(layered.names, layered.roots.tolist(), strict=True):
        value = np.asarray(out[name])
        if get_algebra(layered.structure_of(gid)).carrier.boolean:
            value = value.astype(bool)
        result[name] = value
    return result


NUMPY = SimpleNamespace(name="numpy", lower=ReferenceCircuit, evaluate_circuit=evaluate_circuit)


def backends() -> list[str]:
    """The backends declared here: 'numpy' and the ``nesy.backends`` entry points (one may still
    fail to load, e.g. 'klay' without klaycircuits: see :func:`available_backends`)."""
    return ["numpy", *sorted({ep.name for ep in entry_points(group="nesy.backends")})]


def available_backends() -> list[str]:
    """The backends that load here (importing each one: torch, JAX, ...)."""
    out = []
    for name in backends():
        try:
            get_backend(name)
        except NesyError:
            continue
        out.append(name)
    return out


def get_backend(name: str) -> Backend:
    """The backend called ``name``; a NesyError naming the package to install if it is missing
    or does not load."""
    if name == "numpy":
        return NUMPY
    hint = f"backend {name!r} needs: {install_hint(BACKEND_EXTRAS.get(name, f'nesy-{name}'))}"
    found = [ep for ep in entry_points(group="nesy.backends") if ep.name == name]
    if not found:
        raise NesyError(f"{hint} (declared here: {', '.join(backends())})")
    try:
        return found[0].load()
    except ImportError as e:
        raise NesyError(f"{hint} ({e})") from None
