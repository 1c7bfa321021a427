"""All packages share one version, and packages that depend on each other pin it exactly."""

import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ["nesy-ir", "nesy-compile", "nesy-torch", "nesy-jax", "nesy-models"]


def _project(name: str) -> dict:
    with open(ROOT / "packages" / name / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["project"]


def _requirements(project: dict) -> list[Requirement]:
    reqs = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        reqs.extend(extra)
    return [Requirement(r) for r in reqs]


def test_the_package_folders_are_the_five_we_know():
    found = sorted(p.parent.name for p in (ROOT / "packages").glob("*/pyproject.toml"))
    assert found == sorted(PACKAGES)


def test_each_pyproject_names_its_folder():
    for name in PACKAGES:
        assert _project(name)["name"] == name


def test_all_packages_share_one_version():
    versions = {name: _project(name)["version"] for name in PACKAGES}
    assert len(set(versions.values())) == 1, versions


@pytest.mark.parametrize("name", PACKAGES)
def test_dependencies_on_sibling_packages_pin_the_shared_version(name):
    shared = _project("nesy-ir")["version"]
    for req in _requirements(_project(name)):
        if req.name in PACKAGES:
            assert str(req.specifier) == f"=={shared}", f"{name} -> {req}"


@pytest.mark.parametrize("name", PACKAGES)
def test_requires_python_311(name):
    assert _project(name)["requires-python"] == ">=3.11"
