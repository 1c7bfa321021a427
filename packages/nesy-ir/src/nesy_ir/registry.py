"""Registries of algebras and transformations; third parties plug in through entry points.

An entry point in group ``nesy.algebras`` (or ``nesy.transformations``) names an object: an
:class:`Algebra` (:class:`Transformation`), an iterable of them, or a callable returning either.
They are loaded the first time a name is looked up and not found, or when listing.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib.metadata import entry_points
from typing import Any

from .algebra import Algebra
from .algebras import BUILTIN_ALGEBRAS
from .errors import UnknownStructureError, UnknownTransformationError
from .transformation import Transformation
from .transformations import BUILTIN_TRANSFORMATIONS

_ALGEBRAS: dict[str, Algebra] = {a.name: a for a in BUILTIN_ALGEBRAS}
_TRANSFORMATIONS: dict[tuple[str, str], Transformation] = {
    (t.source, t.target): t for t in BUILTIN_TRANSFORMATIONS
}
_LOADED_GROUPS: set[str] = set()


def _plugins(group: str) -> Iterable[Any]:
    """The objects the entry points of ``group`` name, once per process."""
    if group in _LOADED_GROUPS:
        return []
    _LOADED_GROUPS.add(group)
    found = []
    for ep in entry_points(group=group):
        obj = ep.load()
        obj = obj() if callable(obj) and not isinstance(obj, (Algebra, Transformation)) else obj
        found.extend(obj if isinstance(obj, Iterable) else [obj])
    return found


def register_algebra(algebra: Algebra, *, replace: bool = False) -> Algebra:
    """Make ``algebra`` known by its name; refuses to shadow an existing one unless ``replace``."""
    if not isinstance(algebra, Algebra):
        raise TypeError(f"register_algebra expects an Algebra, got {type(algebra).__name__}")
    if algebra.name in _ALGEBRAS and not replace and _ALGEBRAS[algebra.name] is not algebra:
        raise ValueError(f"an algebra named {algebra.name!r} is already registered")
    _ALGEBRAS[algebra.name] = algebra
    return algebra


def register_transformation(t: Transformation, *, replace: bool = False) -> Transformation:
    """Make ``t`` the transformation from ``t.source`` to ``t.target``."""
    if not isinstance(t, Transformation):
        raise TypeError(f"register_transformation expects a Transformation, got {type(t).__name__}")
    key = (t.source, t.target)
    if key in _TRANSFORMATIONS and not replace and _TRANSFORMATIONS[key] is not t:
        raise ValueError(f"a transformation {t.name} is already registered")
    _TRANSFORMATIONS[key] = t
    return t


def _load_algebra_plugins() -> None:
    for obj in _plugins("nesy.algebras"):
        register_algebra(obj, replace=True)


def _load_transformation_plugins() -> None:
    for obj in _plugins("nesy.transformations"):
        register_transformation(obj, replace=True)


def get_algebra(name: str) -> Algebra:
    """The algebra registered as ``name``; an error lists the known names."""
    if name not in _ALGEBRAS:
        _load_algebra_plugins()
    try:
        return _ALGEBRAS[name]
    except KeyError:
        known = ", ".join(sorted(_ALGEBRAS))
        raise UnknownStructureError(f"unknown structure {name!r} (known: {known})") from None


def algebras() -> dict[str, Algebra]:
    """Every registered algebra by name, plugins included."""
    _load_algebra_plugins()
    return dict(_ALGEBRAS)


def get_transformation(source: str, target: str) -> Transformation:
    """The transformation from ``source`` to ``target``; an error lists those from ``source``."""
    get_algebra(source), get_algebra(target)
    if (source, target) not in _TRANSFORMATIONS:
        _load_transformation_plugins()
    try:
        return _TRANSFORMATIONS[(source, target)]
    except KeyError:
        targets = sorted(t for s, t in _TRANSFORMATIONS if s == source)
        raise UnknownTransformationError(
            f"no transformation from {source!r} to {target!r} is defined"
            f" (from {source!r}: {', '.join(targets) or 'none'})"
        ) from None


def transformations() -> dict[tuple[str, str], Transformation]:
    """Every registered transformation by (source, target), plugins included."""
    _load_transformation_plugins()
    return dict(_TRANSFORMATIONS)
