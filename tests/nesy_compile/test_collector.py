"""Compiling pauses Python's cyclic garbage collector and restores it as it was."""

from __future__ import annotations

import gc

import pytest

from nesy_compile.collector import collector_paused
from nesy_compile.examples import shipped
from nesy_compile.grounding import ground
from nesy_compile.program import parse_program
from nesy_compile.translate import translate


def compile_alarm():
    return translate(ground(parse_program(shipped("alarm"))))


@pytest.mark.parametrize("enabled", [True, False])
def test_compiling_restores_the_collector(enabled):
    was = gc.isenabled()
    try:
        gc.enable() if enabled else gc.disable()
        seen = []

        @collector_paused()
        def inside():
            seen.append(gc.isenabled())
            raise ValueError("stop")

        with pytest.raises(ValueError):
            inside()
        assert seen == [False] and gc.isenabled() is enabled
        assert compile_alarm().probabilities()["alarm"] == pytest.approx(0.72)
        assert gc.isenabled() is enabled
    finally:
        gc.enable() if was else gc.disable()
