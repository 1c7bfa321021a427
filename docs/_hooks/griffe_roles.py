"""A griffe extension for the API reference: Sphinx roles in docstrings read as inline code.

The docstrings name objects the Sphinx way (``:class:`Circuit```, ``:func:`lower```); Markdown
has no roles, so ``:role:`name``` becomes ``name`` in backticks (a leading ``~`` or ``.`` dropped).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|obj|exc|const):`[~.]?([^`]+)`")


class SphinxRoles(griffe.Extension):
    """Rewrites the roles of every docstring once its object is loaded."""

    def on_object(self, *, obj: griffe.Object, loader: griffe.GriffeLoader, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(r"`\1`", obj.docstring.value)
