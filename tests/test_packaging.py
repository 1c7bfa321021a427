"""Packages as the ecosystem expects them: license, typing marker, metadata, wheels, install hints.

The slow test builds every wheel with ``bash dev.sh wheels DIR`` (the one command the docs give)
and reads what pip would read: the wheel's METADATA and its files.
"""

from __future__ import annotations

import email
import os
import re
import subprocess
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from nesy_ir.install import BUILD_WHEELS, NESY_PACKAGES, WHEELHOUSE, install_hint

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = sorted(p.parent.name for p in (ROOT / "packages").glob("*/pyproject.toml"))


def _project(name: str) -> dict:
    with open(ROOT / "packages" / name / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def _module(name: str) -> str:
    return name.replace("-", "_")


def _requirements(project: dict) -> set[str]:
    """Every requirement of a project (extras marked as pip writes them), normalised."""
    reqs = {str(Requirement(r)) for r in project.get("dependencies", [])}
    for extra, items in project.get("optional-dependencies", {}).items():
        for r in items:
            req = Requirement(r)
            req.marker = None
            reqs.add(f'{req}; extra == "{extra}"')
    return reqs


def test_the_install_hint_knows_every_package():
    assert sorted(NESY_PACKAGES) == PACKAGES


@pytest.mark.parametrize("name", PACKAGES)
def test_license_metadata_and_files(name):
    project = _project(name)
    assert project["license"] == "Apache-2.0"
    assert project["license-files"] == ["LICENSE"]
    assert project["authors"] == [{"name": "nesy developers"}]
    assert project["keywords"] and project["classifiers"]
    assert not any(c.startswith("License ::") for c in project["classifiers"])  # SPDX instead
    license_text = (ROOT / "LICENSE").read_text()
    assert "Apache License" in license_text and "Version 2.0, January 2004" in license_text
    assert (ROOT / "packages" / name / "LICENSE").read_text() == license_text
    assert (ROOT / "packages" / name / "src" / _module(name) / "py.typed").is_file()


@pytest.mark.parametrize("name", PACKAGES)
def test_third_party_dependencies_are_bounded_both_ways(name):
    for text in _requirements(_project(name)):
        req = Requirement(text.split(";")[0])
        if req.name in PACKAGES:
            continue  # siblings: the exact shared version (tests/test_versions.py)
        operators = {spec.operator for spec in req.specifier}
        assert operators == {">=", "<"} or operators == {"=="}, text


def test_install_hints_name_the_wheelhouse():
    hint = install_hint("nesy-torch[klay]")
    assert hint == (
        f"pip install --find-links {WHEELHOUSE} 'nesy-torch[klay]' "
        f"(build the wheels with: {BUILD_WHEELS})"
    )
    assert install_hint("nesy-jax").startswith("pip install --find-links dist nesy-jax ")
    assert install_hint("nesy-tensorflow") == "pip install nesy-tensorflow"  # not one of ours


def test_every_install_hint_in_the_sources_comes_from_install_hint():
    hand_written = []
    for path in sorted((ROOT / "packages").glob("*/src/**/*.py")):
        if path.name == "install.py" and path.parent.name == "nesy_ir":
            continue
        for number, line in enumerate(path.read_text().splitlines(), 1):
            if re.search(r"pip install", line):
                hand_written.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not hand_written, "use nesy_ir.install.install_hint:\n" + "\n".join(hand_written)


@pytest.mark.slow
def test_dev_sh_wheels_builds_every_package_with_its_metadata(tmp_path):
    out = tmp_path / "wheels"
    run = subprocess.run(
        ["bash", str(ROOT / "dev.sh"), "wheels", str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PIP_QUIET": "1"},
    )
    assert run.returncode == 0, run.stderr
    version = _project("nesy-ir")["version"]
    wheels = sorted(p.name for p in out.glob("*.whl"))
    assert wheels == sorted(f"{_module(n)}-{version}-py3-none-any.whl" for n in PACKAGES)
    license_text = (ROOT / "LICENSE").read_text()
    for name in PACKAGES:
        module, project = _module(name), _project(name)
        with zipfile.ZipFile(out / f"{module}-{version}-py3-none-any.whl") as wheel:
            files = set(wheel.namelist())
            info = f"{module}-{version}.dist-info"
            metadata = email.message_from_bytes(wheel.read(f"{info}/METADATA"))
            assert wheel.read(f"{info}/licenses/LICENSE").decode() == license_text
        assert f"{module}/py.typed" in files
        assert f"{module}/__init__.py" in files
        assert metadata["Name"] == name and metadata["Version"] == version
        assert metadata["License-Expression"] == "Apache-2.0"
        assert metadata.get_all("License-File") == ["LICENSE"]
        assert metadata["Author"] == "nesy developers"
        assert metadata["Requires-Python"] == ">=3.11"
        assert "Typing :: Typed" in metadata.get_all("Classifier")
        requires = {str(Requirement(r)) for r in metadata.get_all("Requires-Dist") or []}
        assert requires == _requirements(project), name
        for text in requires:
            req = Requirement(text)
            if req.name in PACKAGES:
                assert str(req.specifier) == f"=={version}", text
