"""Other tools' event types, known everywhere by installing the tool.

A Python package that records events of its own in the alliance's log declares an entry
point in the group ``alliance_events.event_types``. The entry point's **name** is the
tool's namespace, and its **value** names a function ``register(registry)`` that
registers the tool's event types and upcasters, every type name in that namespace:

```toml
[project.entry-points."alliance_events.event_types"]
minutes = "minutes_tool:register"
```

```python
def register(registry: alliance_events.EventRegistry) -> None:
    registry.add(MinutesApproved, "minutes.MinutesApproved", schema=2)
    registry.upcaster("minutes.MinutesApproved", from_schema=1)(_chair_to_approved_by)
```

The value must name a function (``module:function``), not a module. The command line and
the feed server (``alliance-events serve``) call :func:`load_event_types` on the registry
they open the log with; a library user calls it, or passes ``plugins=True`` to
:meth:`~alliance_events.app.Alliance.open`.

The rules:

* A tool registers names in its own namespace only (``minutes.…`` for the entry point
  ``minutes``). The library's names have no namespace, and the namespaces ``alliance``
  and ``alliance_events`` are reserved (:data:`~alliance_events.events.RESERVED_NAMESPACES`).
* Two packages claiming the same namespace: the first (by package name) is loaded, the
  second refused, naming both.
* A broken tool (it fails to import, its function raises, it registers a name outside its
  namespace) stops nothing: nothing of it is registered, :func:`load_event_types`
  reports why, and its records are read as opaque events, like those of a tool that is
  not installed.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Iterable
from typing import Final

import attrs

from alliance_events.events import EventRegistry

__all__ = ["GROUP", "PluginLoad", "load_event_types"]

GROUP: Final = "alliance_events.event_types"
"""The entry-point group through which installed tools register their event types."""


@attrs.frozen(kw_only=True)
class PluginLoad:
    """What came of one tool's entry point.

    Attributes:
        namespace: the entry point's name: the tool's namespace.
        source: where it comes from: the package and the entry point's value.
        types: the type names it registered (none if it failed).
        error: why nothing of it was registered; ``None`` if it was.

    """

    namespace: str
    source: str
    types: tuple[str, ...] = ()
    error: str | None = None

    @property
    def loaded(self) -> bool:
        """Whether its types were registered."""
        return self.error is None

    def __str__(self) -> str:
        if self.error is None:
            return f"plugin {self.namespace!r} ({self.source}): {len(self.types)} event types"
        return (
            f"plugin {self.namespace!r} ({self.source}) not loaded: {self.error}; its "
            "records are read as events of unknown types"
        )


def load_event_types(
    registry: EventRegistry,
    *,
    entry_points: Iterable[importlib.metadata.EntryPoint] | None = None,
) -> list[PluginLoad]:
    """Register the event types of every installed tool in ``registry``.

    Never raises for a tool's fault: a tool that cannot be loaded is reported in the
    result and leaves ``registry`` as it was. Loading the same tools again into the same
    registry changes nothing.

    Args:
        registry: where the types go (say a copy of the default registry).
        entry_points: the entry points to load instead of the installed ones of
            :data:`GROUP` (for tests).

    Returns:
        One :class:`PluginLoad` per entry point, in the order they were loaded (by
        namespace, then package name).

    """
    found = importlib.metadata.entry_points(group=GROUP) if entry_points is None else entry_points
    return [_load(registry, entry) for entry in sorted(found, key=_order)]


def _order(entry: importlib.metadata.EntryPoint) -> tuple[str, str, str]:
    return (entry.name, _package(entry), entry.value)


def _package(entry: importlib.metadata.EntryPoint) -> str:
    dist = entry.dist
    return "" if dist is None else f"{dist.name} {dist.version}"


def _load(registry: EventRegistry, entry: importlib.metadata.EntryPoint) -> PluginLoad:
    package = _package(entry)
    source = f"{package}: {entry.value}" if package else entry.value
    owner = f"plugin {entry.name!r} ({source})"

    def failed(error: str) -> PluginLoad:
        return PluginLoad(namespace=entry.name, source=source, error=error)

    try:
        staging = registry.scoped(entry.name, owner=owner)
    except Exception as error:  # noqa: BLE001 - a bad plugin is reported, never fatal
        return failed(str(error))
    try:
        register = entry.load()
    except Exception as error:  # noqa: BLE001 - an import error of another package
        return failed(f"cannot import {entry.value}: {type(error).__name__}: {error}")
    if not callable(register):
        return failed(
            f"{entry.value} is a {type(register).__name__}, not a function "
            "register(registry): name the function, as in 'package:register'"
        )
    try:
        register(staging)
        registry.update(staging)
    except Exception as error:  # noqa: BLE001 - whatever another package's code raises
        return failed(f"{type(error).__name__}: {error}")
    prefix = f"{entry.name}."
    return PluginLoad(
        namespace=entry.name,
        source=source,
        types=tuple(sorted(name for name in staging.types if name.startswith(prefix))),
    )
