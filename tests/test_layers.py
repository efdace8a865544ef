"""The import graph follows DESIGN.md's layer table exactly, and each exception says why.

DESIGN.md, "Layers, and what each may touch" (LAYERS and MAY_IMPORT below, as written):

    events (events.py, timing.py)  attrs, pendulum
    domain                         events
    codec                          events (cattrs, a JSON library)
    log                            codec
    projections                    events, the log protocol (log/base.py)
    calendar output (ical/)        projections
    application (app.py)           all of the above
    edges (web, cli)               application

A module may also import its own package (``cli._common`` from ``cli._feeds``), and the
other modules of its layer (not the edges: the command line and the feed server are two
programs). Every other import of the package is an allowance of EXTRA, each with its
reason; an allowance nothing uses any more fails too, so the table stays exact. Relative
imports are resolved, imports inside functions and under ``TYPE_CHECKING`` count.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "alliance_events"
ROOT = "alliance_events"

# DESIGN.md's layers: layer -> its modules (names relative to the package; a name covers
# the modules under it). The package's own __init__ is the façade.
LAYERS: dict[str, tuple[str, ...]] = {
    "events": ("events", "timing"),
    "domain": ("domain",),
    "codec": ("codec",),
    "log": ("log",),
    "projections": ("projections",),
    "calendar": ("ical",),
    "application": ("app", "notify"),
    "edges": ("web", "cli", "mail"),
}

# DESIGN.md's "may import" column: layer -> the modules it may import.
MAY_IMPORT: dict[str, tuple[str, ...]] = {
    "events": (),
    "domain": ("events", "timing"),
    "codec": ("events", "timing"),
    "log": ("codec",),
    "projections": ("events", "timing", "log.base"),  # the log protocol only
    "calendar": ("projections",),
    "application": ("events", "timing", "domain", "codec", "log", "projections", "ical"),
    "edges": ("app",),
}

# Modules the table does not name: module -> (its layer, why it is there).
BEYOND_THE_TABLE: dict[str, tuple[str, str]] = {
    "errors": ("base", "one error hierarchy under one root (STYLE.md 6), below every layer"),
    "clock": ("base", "the one place that reads the system clock and invents ids"),
    "_speed": ("base", "the speed tricks' one room (stdlib and attrs only): any layer uses it"),
    "plugins": ("application", "loads installed tools' event types when the application opens"),
    "demo": ("application", "records the demonstration through the application, as a user"),
    "testing": ("application", "what the library's users test with (a fixed clock)"),
    "__init__": ("facade", "the public façade: re-exports the public names of every layer"),
}

# Imports beyond the table: (importing layer, or one module, or "*" for every layer but
# the edges, which take these names from the façade; imported module) -> why.
EXTRA: dict[tuple[str, str], str] = {
    ("*", "errors"): "every layer raises the library's errors",
    ("*", "_speed"): "the speed tricks: the domain's copy, the folds' and renders' GC pause, UIDs",
    ("log", "events"): "a record carries its decoded event (an Event, or an OpaqueEvent)",
    ("log", "clock"): "recorded_at comes from the Clock the application gives the log",
    ("projections", "domain"): "projections fold with the domain's own evolve functions "
    "(DESIGN.md: nothing computes a rule twice)",
    ("calendar", "domain"): "the items it writes are the domain's states the projection holds",
    ("calendar", "timing"): "the times it writes are timing's When values and zones",
    ("application", "clock"): "the application owns the clock and the id factory",
    ("edges", "__init__"): "the façade: the vocabulary of the layers below (roles, views, "
    "audiences, times), without reaching into them",
    ("cli", "demo"): "`alliance-events demo` records the library's demonstration",
    ("cli", "web"): "`alliance-events serve` starts the feed server",
    ("cli", "mail"): "`alliance-events notify run` sends the outbox's e-mail by SMTP",
    ("cli", "notify"): "`alliance-events notify` runs the outbox, previews it, reports on it",
    ("facade", "*"): "it re-exports the public names of every layer (the heavy ones lazily)",
}

# Libraries outside the standard library a layer may import (where DESIGN.md says).
THIRD_PARTY: dict[str, set[str]] = {
    "base": {"attrs", "pendulum"},
    "events": {"attrs", "pendulum"},
    "domain": {"attrs", "pendulum"},
    "codec": {"attrs", "pendulum", "cattrs", "orjson", "msgspec", "cryptography"},
}

# Libraries a layer must never import (no I/O in the domain, no SQL in projections, ...).
FORBIDDEN_EXTERNAL: dict[str, set[str]] = {
    "projections": {"sqlite3", "psycopg", "starlette", "uvicorn", "click", "icalendar"},
    "calendar": {"sqlite3", "psycopg", "starlette", "uvicorn", "click"},
    "application": {"starlette", "uvicorn", "click", "rich"},
    "log": {"icalendar", "starlette", "uvicorn", "click", "rich"},
}


def _relative(module: str) -> str:
    """``alliance_events.cli._common`` -> ``cli._common``; the package itself: ``__init__``."""
    return "__init__" if module == ROOT else module.removeprefix(ROOT + ".")


def _covers(prefix: str, module: str) -> bool:
    return module == prefix or module.startswith(prefix + ".")


def _owner(relative: str) -> str:
    """Return the layer-table entry (a name of LAYERS or BEYOND_THE_TABLE) covering it."""
    names = [n for layer in LAYERS.values() for n in layer] + list(BEYOND_THE_TABLE)
    found = [name for name in names if _covers(name, relative)]
    if not found:
        pytest.fail(
            f"module alliance_events.{relative} has no layer: add it to LAYERS (DESIGN.md's "
            "table) or to BEYOND_THE_TABLE, with the reason"
        )
    return max(found, key=len)


def _layer(relative: str) -> str:
    owner = _owner(relative)
    if owner in BEYOND_THE_TABLE:
        return BEYOND_THE_TABLE[owner][0]
    return next(layer for layer, names in LAYERS.items() if owner in names)


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join((ROOT, *parts))


def _is_module(dotted: str) -> bool:
    """Whether ``dotted`` (under the package) names a module or a package of it."""
    parts = dotted.split(".")[1:]
    base = PACKAGE.joinpath(*parts)
    return base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()


def resolve(module: str, source: str, *, is_package: bool = False) -> list[str]:
    """Return the absolute names of the modules that ``source`` (module ``module``) imports.

    ``from . import x`` and ``from .._y import z`` are resolved against ``module`` (a
    package's ``__init__`` against the package itself); ``from p import name`` counts as
    an import of ``p.name`` when that is a module of this package, else of ``p``.
    """
    names: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = module.split(".")
                if not is_package:
                    anchor = anchor[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                if _covers(ROOT, base) and _is_module(candidate):
                    names.append(candidate)
                else:
                    names.append(base)
    return names


def _allowances(importer: str, target: str) -> Iterator[tuple[str, str]]:
    """Yield the keys of EXTRA that allow ``importer`` to import ``target`` (relative)."""
    layer = _layer(importer)
    for key in EXTRA:
        who, what = key
        if who == "*":
            matches = layer != "edges"
        elif who in LAYERS or who in {"base", "facade"}:
            matches = who == layer
        else:
            matches = _covers(who, importer)
        if matches and (what == "*" or _covers(what, target)):
            yield key


def _verdict(importer: str, target: str) -> tuple[bool, tuple[str, str] | None]:
    """Whether ``importer`` may import ``target`` (relative names), and the allowance used."""
    layer, target_layer = _layer(importer), _layer(target)
    own = _owner(importer)
    if _covers(own, target):
        return True, None  # its own package
    if target_layer == layer and layer not in {"edges", "facade"}:
        return True, None  # another module of its layer
    if any(_covers(allowed, target) for allowed in MAY_IMPORT.get(layer, ())):
        return True, None
    for key in _allowances(importer, target):
        return True, key
    return False, None


MODULES = sorted(PACKAGE.rglob("*.py"))


@cache
def _graph() -> dict[str, list[str]]:
    """Module (relative) -> the package's modules it imports (relative)."""
    graph = {}
    for path in MODULES:
        module = _module_name(path)
        imported = resolve(module, path.read_text(), is_package=path.name == "__init__.py")
        graph[_relative(module)] = [_relative(n) for n in imported if _covers(ROOT, n)]
    return graph


def _externals(path: Path) -> list[str]:
    module = _module_name(path)
    imported = resolve(module, path.read_text(), is_package=path.name == "__init__.py")
    return [n for n in imported if not _covers(ROOT, n) and n != "__future__"]


class TestTheLayers:
    @pytest.mark.parametrize("path", MODULES, ids=lambda p: _relative(_module_name(p)))
    def test_imports_follow_the_table(self, path: Path) -> None:
        """A module imports what its layer's row allows, or an allowance with its reason."""
        module = _relative(_module_name(path))
        layer = _layer(module)
        for target in _graph()[module]:
            allowed, _ = _verdict(module, target)
            assert allowed, (
                f"alliance_events.{module} ({layer}) imports alliance_events.{target} "
                f"({_layer(target)}): DESIGN.md's table does not allow it; import it from "
                "a layer it may import, or add an allowance to EXTRA with its reason"
            )

    @pytest.mark.parametrize("path", MODULES, ids=lambda p: _relative(_module_name(p)))
    def test_libraries_follow_the_table(self, path: Path) -> None:
        """A layer imports no library DESIGN.md keeps from it."""
        module = _relative(_module_name(path))
        layer = _layer(module)
        for name in _externals(path):
            top = name.split(".")[0]
            if layer in THIRD_PARTY and top not in sys.stdlib_module_names:
                assert top in THIRD_PARTY[layer], (
                    f"alliance_events.{module} ({layer}) imports {name}: only "
                    f"{sorted(THIRD_PARTY[layer])} besides the standard library"
                )
            assert top not in FORBIDDEN_EXTERNAL.get(layer, set()), (
                f"alliance_events.{module} ({layer}) must not import {name}"
            )

    def test_the_domain_reads_no_clock(self) -> None:
        """The domain takes its time with the command: it never imports the clock module."""
        for module, targets in _graph().items():
            if _layer(module) == "domain":
                assert "clock" not in targets, f"alliance_events.{module} imports the clock"

    def test_every_allowance_is_used(self) -> None:
        """An allowance nothing needs any more goes: the table stays exact."""
        used = {
            key
            for module, targets in _graph().items()
            for target in targets
            for key in [_verdict(module, target)[1]]
            if key is not None
        }
        assert set(EXTRA) - used == set(), "allowances no import uses: remove them"

    def test_every_name_in_the_table_is_a_module(self) -> None:
        """Every module the table names exists (a renamed module is renamed here too)."""
        names = [n for layer in LAYERS.values() for n in layer] + list(BEYOND_THE_TABLE)
        missing = [n for n in names if n != "__init__" and not _is_module(f"{ROOT}.{n}")]
        assert not missing


class TestResolve:
    def test_relative_imports_in_a_module(self) -> None:
        """``from . import x`` and ``from .._y import z`` resolve against the module's package."""
        source = "from . import _common\nfrom ._tables import x\nfrom .. import app\n"
        assert resolve("alliance_events.cli._feeds", source) == [
            "alliance_events.cli._common", "alliance_events.cli._tables", "alliance_events.app",
        ]

    def test_relative_imports_in_a_package(self) -> None:
        """In a package's __init__, ``.`` is the package itself."""
        source = "from ._feed import FeedRenderer\nfrom ..timing import When\n"
        assert resolve("alliance_events.ical", source, is_package=True) == [
            "alliance_events.ical._feed", "alliance_events.timing",
        ]

    def test_names_and_modules(self) -> None:
        """``from p import name`` is p unless p.name is one of the package's modules."""
        source = "from alliance_events import Role\nfrom alliance_events.domain import meetings\n"
        assert resolve("alliance_events.cli._tables", source) == [
            "alliance_events", "alliance_events.domain.meetings",
        ]

    @pytest.mark.parametrize(
        ("importer", "target"),
        [
            ("cli._tables", "domain.common"),  # an edge reaching past the application
            ("cli._feeds", "projections.history"),
            ("web", "ical"),
            ("web", "clock"),  # the base layer too: edges take it from the façade
            ("projections.alliance", "log.sqlite"),  # the log protocol only
            ("ical._feed", "log.base"),  # the calendar never reads the log
            ("domain.meetings", "clock"),
            ("domain.meetings", "codec"),
            ("events", "domain.common"),
            ("log.sqlite", "domain.meetings"),
            ("codec", "log.base"),
            ("app", "web"),
            ("app", "__init__"),
        ],
    )
    def test_the_table_refuses(self, importer: str, target: str) -> None:
        """Imports DESIGN.md's table does not allow are refused (the table itself, pinned)."""
        assert _verdict(importer, target) == (False, None)

    def test_an_upward_relative_import_is_caught(self) -> None:
        """A relative import of a layer above fails the table like an absolute one."""
        imported = resolve("alliance_events.domain.common", "from ..app import Alliance\n")
        assert _verdict("domain.common", _relative(imported[0])) == (False, None)


def test_every_module_declares_all() -> None:
    """Every public module lists its public names in __all__."""
    missing = [
        _module_name(path)
        for path in MODULES
        if not path.name.startswith("_") or path.name == "__init__.py"
        if "__all__" not in path.read_text()
    ]
    assert not missing, f"modules without __all__: {missing}"
