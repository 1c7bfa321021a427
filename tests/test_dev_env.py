"""dev.sh and the hatch workspace (root pyproject.toml) give the same environment.

Both install every package editable with the same extras and the same tools: the test parses
dev.sh's pip line and the hatch members and dependencies, and compares what they name. The
documentation tools are pinned alike in dev.sh (``bash dev.sh docs``) and hatch's ``docs`` env.
"""

from __future__ import annotations

import re
import shlex
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV_SH = (ROOT / "dev.sh").read_text()


def _function(name: str) -> str:
    """The body of a shell function of dev.sh (up to the closing brace at column 0)."""
    match = re.search(rf"^{name}\(\) \{{\n(.*?)^\}}", DEV_SH, re.M | re.S)
    assert match, f"dev.sh has no function {name}()"
    return match.group(1)


def _commands(body: str) -> list[list[str]]:
    """The commands of a shell body, continuation lines joined, comments dropped."""
    joined = re.sub(r"\\\n", " ", body)
    return [shlex.split(line, comments=True) for line in joined.splitlines() if line.strip()]


def _split_requirement(text: str) -> tuple[str, frozenset[str]]:
    """``"packages/nesy-ir[graph]"`` -> ``("packages/nesy-ir", {"graph"})``."""
    path, _, extras = text.partition("[")
    return path.rstrip("/"), frozenset(e.strip() for e in extras.rstrip("]").split(",") if e)


def dev_sh_install() -> tuple[set[tuple[str, frozenset[str]]], set[str]]:
    """(editable packages with their extras, other requirements) of dev.sh's install()."""
    calls = [c for c in _commands(_function("install")) if c[:1] == ["${pip[@]}"] and "-e" in c]
    assert len(calls) == 1, calls
    args = calls[0][1:]
    editable, tools = set(), set()
    i = 0
    while i < len(args):
        if args[i] == "-e":
            editable.add(_split_requirement(args[i + 1]))
            i += 2
        else:
            tools.add(args[i])
            i += 1
    return editable, tools


def hatch_envs() -> dict:
    with open(ROOT / "pyproject.toml", "rb") as f:
        return tomllib.load(f)["tool"]["hatch"]["envs"]


def hatch_default() -> tuple[set[tuple[str, frozenset[str]]], set[str]]:
    env = hatch_envs()["default"]
    members = set()
    for member in env["workspace"]["members"]:
        if isinstance(member, str):
            members.add((member.rstrip("/"), frozenset()))
        else:
            members.add((member["path"].rstrip("/"), frozenset(member.get("features", []))))
    return members, set(env["dependencies"])


def test_dev_sh_and_hatch_install_the_same_packages_with_the_same_extras():
    dev_packages, _ = dev_sh_install()
    hatch_packages, _ = hatch_default()
    assert dev_packages == hatch_packages


def test_dev_sh_and_hatch_install_the_same_tools():
    _, dev_tools = dev_sh_install()
    _, hatch_tools = hatch_default()
    assert dev_tools == hatch_tools
    assert "torch==2.13.0" in dev_tools  # the CPU wheel, pinned in the same pip call


def test_every_package_folder_is_installed_with_every_extra():
    packages, _ = hatch_default()
    folders = {f"packages/{p.parent.name}" for p in ROOT.glob("packages/*/pyproject.toml")}
    assert {path for path, _ in packages} == folders
    for path, extras in packages:
        with open(ROOT / path / "pyproject.toml", "rb") as f:
            declared = set(tomllib.load(f)["project"].get("optional-dependencies", {}))
        assert extras == declared, path


def test_the_docs_tools_are_pinned_alike():
    match = re.search(r"^DOCS_TOOLS=\((.*?)\)", DEV_SH, re.M | re.S)
    assert match
    dev_tools = shlex.split(match.group(1))
    docs = hatch_envs()["docs"]
    assert "dependencies" not in docs  # it extends the default env (template "default")
    assert sorted(docs["extra-dependencies"]) == sorted(dev_tools)
    assert all("==" in tool for tool in dev_tools)


def test_dev_sh_builds_the_wheel_of_every_package():
    match = re.search(r"^PACKAGES=\((.*?)\)", DEV_SH, re.M | re.S)
    assert match
    names = shlex.split(match.group(1))
    assert sorted(names) == sorted(p.parent.name for p in ROOT.glob("packages/*/pyproject.toml"))
