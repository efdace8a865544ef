"""alliance-events: the calendar and delegate registrations of an alliance of NGOs.

Every fact is an event appended to a log; calendars, registration states and feeds are
projections of it. This module is the public façade: import from here.

Importing the package (any part of it) registers the library's own event types in the
default registry, from the explicit list in :mod:`alliance_events.domain.catalog`, so any
reader decodes every library event. The heavier names (``Alliance``, the log, the codec)
are imported on first use, so that ``import alliance_events.timing`` does not load the
application, the feeds and the log.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alliance_events.clock import Clock, IdFactory, new_id, system_clock
from alliance_events.domain.catalog import library_registry, register_library_types
from alliance_events.errors import (
    AllianceEventsError,
    CodecError,
    ConcurrencyError,
    ConsumerBusyError,
    ConsumerSupersededError,
    DomainError,
    DuplicateEventError,
    EventDefinitionError,
    FollowerError,
    InvalidAppendError,
    InvalidStreamNameError,
    LogClosedError,
    LogError,
    RuleViolation,
    UndecodableRecordError,
    UnknownEventTypeError,
    UnknownReferenceError,
    UnsupportedURLError,
)
from alliance_events.events import (
    Event,
    EventRegistry,
    OpaqueEvent,
    event_type,
    registry,
    upcaster,
)

if TYPE_CHECKING:
    from alliance_events.app import Alliance, AsOf
    from alliance_events.codec import Codec, EncodedEvent, make_converter
    from alliance_events.log import (
        ANY,
        Checkpoints,
        EventLog,
        ExpectedVersion,
        Follower,
        LogWatcher,
        Recorded,
        open_log,
    )

register_library_types(registry)

__all__ = [
    "ANY",
    "Alliance",
    "AllianceEventsError",
    "AsOf",
    "Checkpoints",
    "Clock",
    "Codec",
    "CodecError",
    "ConcurrencyError",
    "ConsumerBusyError",
    "ConsumerSupersededError",
    "DomainError",
    "DuplicateEventError",
    "EncodedEvent",
    "Event",
    "EventDefinitionError",
    "EventLog",
    "EventRegistry",
    "ExpectedVersion",
    "Follower",
    "FollowerError",
    "IdFactory",
    "InvalidAppendError",
    "InvalidStreamNameError",
    "LogClosedError",
    "LogError",
    "LogWatcher",
    "OpaqueEvent",
    "Recorded",
    "RuleViolation",
    "UndecodableRecordError",
    "UnknownEventTypeError",
    "UnknownReferenceError",
    "UnsupportedURLError",
    "event_type",
    "library_registry",
    "make_converter",
    "new_id",
    "open_log",
    "registry",
    "system_clock",
    "upcaster",
]

__version__ = "0.1.0"

# Imported on first use (PEP 562): name -> the module that defines it.
_LAZY = {
    "Alliance": "alliance_events.app",
    "AsOf": "alliance_events.app",
    "Codec": "alliance_events.codec",
    "EncodedEvent": "alliance_events.codec",
    "make_converter": "alliance_events.codec",
    "ANY": "alliance_events.log",
    "Checkpoints": "alliance_events.log",
    "EventLog": "alliance_events.log",
    "ExpectedVersion": "alliance_events.log",
    "Follower": "alliance_events.log",
    "LogWatcher": "alliance_events.log",
    "Recorded": "alliance_events.log",
    "open_log": "alliance_events.log",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'alliance_events' has no attribute {name!r}")
    import importlib  # noqa: PLC0415 - only on the first use of a lazy name

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next look-up is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
