"""A griffe extension for the API reference: Sphinx roles in docstrings read as inline code.

The docstrings name objects the Sphinx way (``:class:`Circuit```, ``:func:`lower```); Markdown
has no roles, so ``:role:`name``` becomes ``name`` in backticks (a leading ``~`` or ``.`` dropped).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|obj|exc|const):`[~.]?([^`]+)`")


def _rewrite(obj: griffe.Object, seen: set[str]) -> None:
    if obj.path in seen:
        return
    seen.add(obj.path)
    if obj.docstring is not None:
        obj.docstring.value = ROLE.sub(r"`\1`", obj.docstring.value)
    for member in obj.members.values():
        if not member.is_alias:
            _rewrite(member, seen)


class SphinxRoles(griffe.Extension):
    """Rewrites the roles of every docstring of a package once it is loaded."""

    def on_package(self, *, pkg: griffe.Module, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        _rewrite(pkg, set())
