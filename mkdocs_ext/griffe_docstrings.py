"""A griffe extension: make the library's docstrings read well as Markdown.

The docstrings are written for ``help()`` and for doctest: examples are bare ``>>>``
blocks (outside an ``Examples:`` section) and cross-references use Sphinx roles
(``:class:`~alliance_events.ical.Feed```). Markdown knows neither: a doctest block
becomes one run-on paragraph (and ``[b'...']`` in its output looks like a link), a role
shows its colons. This extension, run while mkdocstrings loads the package, fences every
doctest block as a ``pycon`` code block and turns each role into inline code (``~``
keeps the last name only, as Sphinx does). The source is left as it is.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

__all__ = ["DocstringsAsMarkdown", "to_markdown"]

_ROLE = re.compile(r":(?:py:)?(?:class|meth|func|mod|data|attr|exc|obj|const):`(~?)([^`]+)`")


def _role(match: re.Match[str]) -> str:
    target = match.group(2)
    if match.group(1):
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def to_markdown(text: str) -> str:
    r"""Return ``text`` with its doctest blocks fenced and its Sphinx roles as code.

    >>> to_markdown("Say:\n\n>>> 1 + 1\n2\n\nSee :class:`~a.b.C`.").splitlines()
    ['Say:', '', '```pycon', '>>> 1 + 1', '2', '```', '', 'See `C`.']
    """
    out: list[str] = []
    fence: str | None = None  # the indentation of the open doctest fence, if any
    in_code = False  # inside a fence the docstring wrote itself
    for line in text.split("\n"):
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        if fence is not None and (not stripped or not line.startswith(fence)):
            out.append(f"{fence}```")
            fence = None
        if stripped.startswith("```"):
            in_code = not in_code
        elif not in_code and fence is None and stripped.startswith(">>>"):
            out.append(f"{indent}```pycon")
            fence = indent
        out.append(line if in_code or fence is not None else _ROLE.sub(_role, line))
    if fence is not None:
        out.append(f"{fence}```")
    return "\n".join(out)


class DocstringsAsMarkdown(griffe.Extension):
    """Rewrite each docstring with :func:`to_markdown` once the package is loaded."""

    def on_object(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite ``obj``'s docstring, if it has one."""
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
