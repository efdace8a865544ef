"""alliance-events: the calendar and delegate registrations of an alliance of NGOs.

Every fact is an event appended to a log; calendars, registration states and feeds are
projections of it. This module is the public façade: import from here.
"""

from __future__ import annotations

from alliance_events.app import Alliance, AsOf
from alliance_events.clock import Clock, IdFactory, new_id, system_clock
from alliance_events.codec import Codec, EncodedEvent, make_converter
from alliance_events.errors import (
    AllianceEventsError,
    CodecError,
    ConcurrencyError,
    DomainError,
    DuplicateEventError,
    EventDefinitionError,
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
from alliance_events.events import Event, EventRegistry, event_type, registry, upcaster
from alliance_events.log import ANY, EventLog, ExpectedVersion, Recorded, open_log

__all__ = [
    "ANY",
    "Alliance",
    "AllianceEventsError",
    "AsOf",
    "Clock",
    "Codec",
    "CodecError",
    "ConcurrencyError",
    "DomainError",
    "DuplicateEventError",
    "EncodedEvent",
    "Event",
    "EventDefinitionError",
    "EventLog",
    "EventRegistry",
    "ExpectedVersion",
    "IdFactory",
    "InvalidAppendError",
    "InvalidStreamNameError",
    "LogClosedError",
    "LogError",
    "Recorded",
    "RuleViolation",
    "UndecodableRecordError",
    "UnknownEventTypeError",
    "UnknownReferenceError",
    "UnsupportedURLError",
    "event_type",
    "make_converter",
    "new_id",
    "open_log",
    "registry",
    "system_clock",
    "upcaster",
]

__version__ = "0.1.0"
