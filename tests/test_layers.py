"""The import graph follows DESIGN.md's layers: each layer imports only those below it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "src" / "alliance_events"

# module (relative to the package, without .py) -> its layer
LAYER_OF_PREFIX = {
    "errors": "base",
    "clock": "base",
    "events": "events",
    "timing": "events",
    "codec": "codec",
    "log": "log",
    "domain": "domain",
    "projections": "projections",
    "ical": "calendar",
    "app": "application",
    "demo": "application",
    "testing": "application",
    "plugins": "application",
    "web": "edge",
    "cli": "edge",
    "__init__": "facade",
    "__main__": "edge",
}

# What each layer may import from the package (DESIGN.md, "Layers, and what each may touch").
ALLOWED = {
    "base": {"base"},
    "events": {"base", "events"},
    "domain": {"base", "events", "domain"},
    "codec": {"base", "events", "codec"},
    "log": {"base", "events", "codec", "log"},
    "projections": {"base", "events", "domain", "log", "projections"},
    "calendar": {"base", "events", "domain", "projections", "calendar"},
    "application": {
        "base", "events", "domain", "codec", "log", "projections", "calendar", "application"
    },
    "edge": {
        "base", "events", "domain", "codec", "log", "projections", "calendar", "application",
        "edge", "facade",
    },
    "facade": set(LAYER_OF_PREFIX.values()),
}

# Third-party modules a layer must never import (the domain does no I/O, and so on).
FORBIDDEN_EXTERNAL = {
    "base": {"sqlite3", "psycopg", "icalendar", "starlette", "uvicorn", "click", "rich"},
    "events": {"sqlite3", "psycopg", "icalendar", "starlette", "uvicorn", "click", "rich"},
    "domain": {
        "sqlite3", "psycopg", "icalendar", "starlette", "uvicorn", "click", "rich", "socket",
        "cattrs", "orjson", "alliance_events.clock",
    },
    "codec": {"sqlite3", "psycopg", "icalendar", "starlette", "uvicorn", "click", "rich"},
    "projections": {"sqlite3", "psycopg", "starlette", "uvicorn", "click"},
    "calendar": {"sqlite3", "psycopg", "starlette", "uvicorn", "click"},
    "application": {"starlette", "uvicorn", "click"},
}


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(PACKAGE).with_suffix("").parts)


def _layer(module: str) -> str:
    head = module.split(".", maxsplit=1)[0]
    if head not in LAYER_OF_PREFIX:
        pytest.fail(f"module alliance_events.{module} has no layer: add it to LAYER_OF_PREFIX")
    return LAYER_OF_PREFIX[head]


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


MODULES = sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=_module_name)
def test_imports_go_downward_only(path: Path) -> None:
    """A module imports nothing from a layer above its own, and no forbidden library."""
    module = _module_name(path)
    layer = _layer(module.removesuffix(".__init__") if module != "__init__" else module)
    for name in _imports(path):
        if name.startswith("alliance_events."):
            target = name.removeprefix("alliance_events.")
            assert _layer(target) in ALLOWED[layer], (
                f"alliance_events.{module} ({layer}) imports {name} ({_layer(target)})"
            )
        for forbidden in FORBIDDEN_EXTERNAL.get(layer, ()):
            assert name != forbidden and not name.startswith(forbidden + "."), (
                f"alliance_events.{module} ({layer}) must not import {name}"
            )


def test_every_module_declares_all() -> None:
    """Every public module lists its public names in __all__."""
    missing = [
        _module_name(path)
        for path in MODULES
        if not path.name.startswith("_") or path.name == "__init__.py"
        if "__all__" not in path.read_text()
    ]
    assert not missing, f"modules without __all__: {missing}"
