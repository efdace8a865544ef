"""alliance-events: the calendar and delegate registrations of an alliance of NGOs.

Every fact is an event appended to a log; calendars, registration states and feeds are
projections of it. This module is the public façade: import from here.

Importing the package (any part of it) registers the library's own event types in the
default registry, from the explicit list in :mod:`alliance_events.domain.catalog`, so any
reader decodes every library event. The heavier names (``Alliance``, the log, the codec)
are imported on first use, so that ``import alliance_events.timing`` does not load the
application, the feeds and the log.

Besides the application (:class:`Alliance`) and the log, it names the vocabulary that the
library's edges (the command line, the feed server) and other tools need: the roles,
kinds and statuses; the views its queries return; the time values; the feeds' audiences
and renderer. ``__version__`` is the installed distribution's version.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from alliance_events.clock import Clock, IdFactory, new_id, system_clock
from alliance_events.domain.catalog import library_registry, register_library_types
from alliance_events.domain.common import (
    LinkKind,
    MeetingKind,
    MeetingStatus,
    NominationStatus,
    OfficerRole,
    Role,
)
from alliance_events.domain.deadlines import DeadlineKind
from alliance_events.errors import (
    AllianceEventsError,
    CodecError,
    ConcurrencyError,
    ConsumerBusyError,
    ConsumerSupersededError,
    CorruptLogError,
    CorruptRecordError,
    DeliveryError,
    DomainError,
    DuplicateEventError,
    EventDefinitionError,
    FollowerError,
    InvalidAppendError,
    InvalidStreamNameError,
    LogClosedError,
    LogError,
    NotALogError,
    ReadOnlyStorageError,
    RuleViolation,
    StorageError,
    StorageFullError,
    StorageLockedError,
    StorageUnavailableError,
    TokenShownOnceError,
    UndecodableRecordError,
    UnknownEventTypeError,
    UnknownOutcomeError,
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
from alliance_events.timing import (
    DEFAULT_ZONE,
    AllDay,
    AmbiguousTimeError,
    NonexistentTimeError,
    Timed,
    TimingError,
    When,
    describe_moment,
    describe_when,
    zone_label,
)

if TYPE_CHECKING:
    from alliance_events.app import Alliance, AsOf
    from alliance_events.codec import Codec, EncodedEvent, make_converter
    from alliance_events.ical import (
        Audience,
        AudienceKind,
        Feed,
        FeedLinks,
        FeedRenderer,
        deadline_uid,
        meeting_uid,
        subscribe_links,
    )
    from alliance_events.log import (
        ANY,
        Checkpoints,
        EventLog,
        ExpectedVersion,
        Follower,
        LogWatcher,
        Recorded,
        VerifyReport,
        open_log,
        verify,
    )
    from alliance_events.projections.history import HistoryEntry
    from alliance_events.projections.registration import (
        DeadlineView,
        DelegateView,
        DelegationView,
        MeetingView,
        RegistrationView,
    )

    __version__: str  # read on first use (see _version)

register_library_types(registry)

__all__ = [
    "ANY",
    "DEFAULT_ZONE",
    "AllDay",
    "Alliance",
    "AllianceEventsError",
    "AmbiguousTimeError",
    "AsOf",
    "Audience",
    "AudienceKind",
    "Checkpoints",
    "Clock",
    "Codec",
    "CodecError",
    "ConcurrencyError",
    "ConsumerBusyError",
    "ConsumerSupersededError",
    "CorruptLogError",
    "CorruptRecordError",
    "DeadlineKind",
    "DeadlineView",
    "DelegateView",
    "DelegationView",
    "DeliveryError",
    "DomainError",
    "DuplicateEventError",
    "EncodedEvent",
    "Event",
    "EventDefinitionError",
    "EventLog",
    "EventRegistry",
    "ExpectedVersion",
    "Feed",
    "FeedLinks",
    "FeedRenderer",
    "Follower",
    "FollowerError",
    "HistoryEntry",
    "IdFactory",
    "InvalidAppendError",
    "InvalidStreamNameError",
    "LinkKind",
    "LogClosedError",
    "LogError",
    "LogWatcher",
    "MeetingKind",
    "MeetingStatus",
    "MeetingView",
    "NominationStatus",
    "NonexistentTimeError",
    "NotALogError",
    "Notifier",
    "NotifySettings",
    "OfficerRole",
    "OpaqueEvent",
    "ReadOnlyStorageError",
    "Recorded",
    "RegistrationView",
    "Role",
    "RuleViolation",
    "StorageError",
    "StorageFullError",
    "StorageLockedError",
    "StorageUnavailableError",
    "Timed",
    "TimingError",
    "TokenShownOnceError",
    "UndecodableRecordError",
    "UnknownEventTypeError",
    "UnknownOutcomeError",
    "UnknownReferenceError",
    "UnsupportedURLError",
    "VerifyReport",
    "When",
    "deadline_uid",
    "describe_moment",
    "describe_when",
    "event_type",
    "library_registry",
    "make_converter",
    "meeting_uid",
    "new_id",
    "open_log",
    "registry",
    "subscribe_links",
    "system_clock",
    "upcaster",
    "verify",
    "zone_label",
]

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
    "VerifyReport": "alliance_events.log",
    "verify": "alliance_events.log",
    "Audience": "alliance_events.ical",
    "AudienceKind": "alliance_events.ical",
    "Feed": "alliance_events.ical",
    "FeedLinks": "alliance_events.ical",
    "FeedRenderer": "alliance_events.ical",
    "deadline_uid": "alliance_events.ical",
    "meeting_uid": "alliance_events.ical",
    "subscribe_links": "alliance_events.ical",
    "HistoryEntry": "alliance_events.projections.history",
    "DeadlineView": "alliance_events.projections.registration",
    "DelegateView": "alliance_events.projections.registration",
    "DelegationView": "alliance_events.projections.registration",
    "MeetingView": "alliance_events.projections.registration",
    "RegistrationView": "alliance_events.projections.registration",
    "Notifier": "alliance_events.notify",
    "NotifySettings": "alliance_events.notify",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        value: Any = _version()
    else:
        module = _LAZY.get(name)
        if module is None:
            raise AttributeError(f"module 'alliance_events' has no attribute {name!r}")
        import importlib  # noqa: PLC0415 - only on the first use of a lazy name

        value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # the next look-up is a plain attribute
    return value


def _version() -> str:
    """Return the installed distribution's version (``0+unknown`` when not installed).

    Read on first use: :mod:`importlib.metadata` takes longer to import than the rest of
    the façade.
    """
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        return version("alliance-events")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0+unknown"


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, "__version__"})
