"""The registries: lookups, registering user algebras, and plugins through entry points."""

from __future__ import annotations

import itertools
import sys
import textwrap

import numpy as np
import pytest
from tests.nesy_ir.strategies import tropical

from nesy_ir import registry
from nesy_ir.algebras import BUILTIN_ALGEBRAS
from nesy_ir.errors import UnknownStructureError, UnknownTransformationError
from nesy_ir.laws import LAWS, NEEDS_NEGATION, SEMIRING
from nesy_ir.transformation import Transformation

GROUPS = {"nesy.algebras", "nesy.transformations"}


@pytest.fixture(autouse=True)
def private_registry(monkeypatch):
    """Copies of the global registries, restored after each test; plugins count as loaded."""
    monkeypatch.setattr(registry, "_ALGEBRAS", dict(registry._ALGEBRAS))
    monkeypatch.setattr(registry, "_TRANSFORMATIONS", dict(registry._TRANSFORMATIONS))
    monkeypatch.setattr(registry, "_LOADED_GROUPS", set(GROUPS))


# --- lookups and registration ------------------------------------------------------------------


def test_unknown_algebra_lists_the_known_names():
    with pytest.raises(UnknownStructureError) as info:
        registry.get_algebra("nope")
    message = str(info.value)
    assert "'nope'" in message
    assert all(a.name in message for a in BUILTIN_ALGEBRAS)


def test_builtins_are_registered():
    assert {a.name: a for a in BUILTIN_ALGEBRAS} == registry.algebras()
    assert all(registry.get_algebra(a.name) is a for a in BUILTIN_ALGEBRAS)


def test_tropical_declares_only_laws_that_hold():
    alg = tropical()
    values = [0.0, 0.5, 1.0, 2.0, 7.0, np.inf]
    a, b, c = (np.array(col) for col in zip(*itertools.product(values, repeat=3), strict=True))
    for law, check in LAWS.items():
        if law not in NEEDS_NEGATION:
            assert bool(np.all(check(alg, a, b, c))) == (law in alg.laws), law


def test_register_algebra_makes_it_available():
    alg = tropical()
    assert "tropical" not in registry.algebras()
    assert registry.register_algebra(alg) is alg
    assert registry.get_algebra("tropical") is alg
    assert registry.algebras()["tropical"] is alg
    assert registry.register_algebra(alg) is alg  # the same object again is fine


def test_register_refuses_to_shadow_unless_replace():
    first, second = tropical(), tropical(description="another")
    registry.register_algebra(first)
    with pytest.raises(ValueError, match="'tropical'"):
        registry.register_algebra(second)
    assert registry.get_algebra("tropical") is first
    assert registry.register_algebra(second, replace=True) is second
    assert registry.get_algebra("tropical") is second
    with pytest.raises(ValueError, match="'prob'"):
        registry.register_algebra(tropical(name="prob"))


def test_register_rejects_non_algebras():
    with pytest.raises(TypeError, match="Algebra"):
        registry.register_algebra("tropical")
    with pytest.raises(TypeError, match="Transformation"):
        registry.register_transformation(tropical())


def test_unknown_law_is_rejected():
    with pytest.raises(ValueError, match="'times.nilpotent'"):
        tropical(laws=SEMIRING | {"times.nilpotent"})


def test_register_transformation():
    registry.register_algebra(tropical())
    t = Transformation("bool", "tropical", lambda x: np.where(x, 0.0, np.inf), {}, True)
    with pytest.raises(UnknownTransformationError):
        registry.get_transformation("bool", "tropical")
    registry.register_transformation(t)
    assert registry.get_transformation("bool", "tropical") is t
    with pytest.raises(ValueError, match="bool->tropical"):
        registry.register_transformation(Transformation("bool", "tropical", float))
    with pytest.raises(ValueError, match="bool->prob"):
        registry.register_transformation(Transformation("bool", "prob", float))


# --- entry points ------------------------------------------------------------------------------

PLUGIN = """
import dataclasses

import numpy as np
from nesy_ir import Algebra, Carrier, Transformation

ALG = Algebra(
    "plugged", Carrier("[0, 1]", low=0.0, high=1.0), 0.0, 1.0, np.maximum, np.minimum,
    None, {"max": "plus", "min": "times"}, frozenset({"plus.commutative", "times.commutative"}),
)

def more():
    return [dataclasses.replace(ALG, name="plugged2")]

TRANS = Transformation("maxprod", "real", lambda x: np.asarray(x, dtype=float),
                       {"times": "always"}, True, "inclusion of [0, 1] in R")
"""


@pytest.fixture
def fakeplug(tmp_path, monkeypatch):
    """An installed distribution ``fakeplug`` whose entry points name an algebra, a function
    returning a list of algebras, and a transformation."""
    info = tmp_path / "fakeplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplug\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent("""\
            [nesy.algebras]
            mine = fakeplug_mod:ALG
            many = fakeplug_mod:more

            [nesy.transformations]
            mine = fakeplug_mod:TRANS
            """)
    )
    (tmp_path / "fakeplug_mod.py").write_text(PLUGIN)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "_LOADED_GROUPS", set())
    yield tmp_path
    sys.modules.pop("fakeplug_mod", None)


def test_algebra_from_entry_point(fakeplug):
    assert "plugged" not in registry._ALGEBRAS
    alg = registry.get_algebra("plugged")
    assert alg.name == "plugged" and alg.aggregator_role("max") == "plus"
    assert "nesy.algebras" in registry._LOADED_GROUPS
    assert {"plugged", "plugged2"} <= set(registry.algebras())


def test_entry_points_are_read_once_and_only_on_a_miss(fakeplug, monkeypatch):
    registry.get_algebra("prob")
    assert not registry._LOADED_GROUPS  # a hit does not look at plugins
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p != str(fakeplug)])
    with pytest.raises(UnknownStructureError):
        registry.get_algebra("plugged")  # the plugin is not installed (yet)
    assert registry._LOADED_GROUPS == {"nesy.algebras"}
    monkeypatch.syspath_prepend(str(fakeplug))
    with pytest.raises(UnknownStructureError):
        registry.get_algebra("plugged")  # the group was already read
    registry._LOADED_GROUPS.clear()
    assert registry.get_algebra("plugged").name == "plugged"


def test_transformation_from_entry_point(fakeplug):
    assert ("maxprod", "real") not in registry._TRANSFORMATIONS
    t = registry.get_transformation("maxprod", "real")
    assert (t.source, t.target, t.indicator) == ("maxprod", "real", True)
    assert t.homomorphism == {"times": "always"}
    assert registry.transformations()[("maxprod", "real")] is t
    assert "plugged" not in registry._ALGEBRAS  # only the group that was asked for is loaded
