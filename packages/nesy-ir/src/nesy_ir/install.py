"""How to install a package that is missing: the one hint every error message gives.

The nesy packages are on no package index: ``bash dev.sh wheels`` (in the nesy repository) builds
every package's wheel into ``dist/``, and pip installs any of them, with the other nesy packages
they need, from there (``pip install --find-links dist nesy-jax``).
"""

from __future__ import annotations

#: The folder ``bash dev.sh wheels`` builds the wheels into (the wheelhouse).
WHEELHOUSE = "dist"

#: The command that builds them.
BUILD_WHEELS = "bash dev.sh wheels"

#: The packages of nesy, installed from the wheelhouse; any other name comes from an index.
NESY_PACKAGES = ("nesy-ir", "nesy-compile", "nesy-torch", "nesy-jax", "nesy-models")


def install_hint(requirement: str) -> str:
    """The pip command that installs ``requirement`` (e.g. ``"nesy-torch[klay]"``).

    A nesy package is installed from the wheelhouse, with a word on how to build it:
    ``install_hint("nesy-jax")`` is ``"pip install --find-links dist nesy-jax (build the wheels
    with: bash dev.sh wheels)"``. Any other package gets a plain ``pip install``. A requirement
    with extras is quoted for the shell.
    """
    name = requirement.split("[", 1)[0].strip()
    argument = f"'{requirement}'" if "[" in requirement else requirement
    if name not in NESY_PACKAGES:
        return f"pip install {argument}"
    build = f"(build the wheels with: {BUILD_WHEELS})"
    return f"pip install --find-links {WHEELHOUSE} {argument} {build}"
