"""Shared test configuration: hypothesis profiles and the ``data_dir`` fixture."""

import os
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("default", max_examples=60, deadline=None)
settings.register_profile("ci", max_examples=100, deadline=None, derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "default")


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
