"""Shared test configuration: hypothesis profiles, registries restored after each test and the
``data_dir`` fixture."""

import os
from contextlib import ExitStack
from pathlib import Path
from unittest.mock import patch

import pytest
from hypothesis import settings

from nesy_ir import lowering, registry

settings.register_profile("default", max_examples=60, deadline=None)
settings.register_profile("ci", max_examples=100, deadline=None, derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")


@pytest.fixture(autouse=True)
def registries_restored():
    """The algebras, transformations and kernel tables a test registers are gone after it: the
    registries are the process's, and a test must not see another's (in whatever order the
    workers run them)."""
    tables = (
        registry._ALGEBRAS,
        registry._TRANSFORMATIONS,
        lowering.KERNELS,
        lowering.TRANSFORM_KERNELS,
    )
    with ExitStack() as restored:
        for table in tables:
            restored.enter_context(patch.dict(table))
        loaded = set(registry._LOADED_GROUPS)  # plugins a test loads are loaded again after it
        restored.enter_context(patch.object(registry, "_LOADED_GROUPS", loaded))
        yield


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The read-only data folder (../shared/data), given by the NESY_DATA environment variable.

    Tests that use it are skipped when NESY_DATA is unset or does not name an existing folder.
    Mark them ``@pytest.mark.data`` as well.
    """
    value = os.environ.get("NESY_DATA")
    if value and Path(value).is_dir():
        return Path(value)
    pytest.skip("needs ../shared/data: set NESY_DATA")
