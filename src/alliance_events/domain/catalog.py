"""The library's own event types: one explicit list, and the registries built from it.

Every event class of the domain is listed here once, with the type name stored in the log
and its schema number. Nothing registers itself when its module is imported: the default
registry (:data:`alliance_events.events.registry`) is filled from this list when the
``alliance_events`` package is imported, and :func:`library_registry` builds a new
registry from it. So a process that opens a log decodes every library event without
importing the application, the command line or the feeds.

The library's type names have no namespace (``MeetingScheduled``); another tool's always
have one (``minutes.MinutesApproved``), so the two can never clash.

    >>> registry = library_registry()
    >>> registry.type_of(meetings.MeetingScheduled)
    ('MeetingScheduled', 1)
    >>> len(registry) == len(EVENT_TYPES)
    True
"""

from __future__ import annotations

from typing import Final

from alliance_events.domain import deadlines, directory, meetings, outbox, settings
from alliance_events.events import Event, EventRegistry, Upcaster

__all__ = [
    "EVENT_CLASSES",
    "EVENT_TYPES",
    "UPCASTERS",
    "library_registry",
    "missing_library_types",
    "register_library_types",
    "with_library_types",
]

EVENT_TYPES: Final[tuple[tuple[type[Event], str, int], ...]] = (
    # meetings: their schedule, status, registration and delegations
    (meetings.MeetingScheduled, "MeetingScheduled", 1),
    (meetings.MeetingRescheduled, "MeetingRescheduled", 1),
    (meetings.MeetingDetailsChanged, "MeetingDetailsChanged", 1),
    (meetings.MeetingConfirmed, "MeetingConfirmed", 1),
    (meetings.MeetingCancelled, "MeetingCancelled", 1),
    (meetings.MeetingReinstated, "MeetingReinstated", 1),
    (meetings.LinkAttached, "LinkAttached", 1),
    (meetings.AttendanceRecorded, "AttendanceRecorded", 1),
    (meetings.RegistrationOpened, "RegistrationOpened", 1),
    (meetings.RegistrationClosed, "RegistrationClosed", 1),
    (meetings.RegistrationReopened, "RegistrationReopened", 1),
    (meetings.RegistrationWindowChanged, "RegistrationWindowChanged", 1),
    (meetings.CapacityChanged, "CapacityChanged", 1),
    (meetings.QuotaChanged, "QuotaChanged", 1),
    (meetings.DelegateNominated, "DelegateNominated", 1),
    (meetings.NominationPromoted, "NominationPromoted", 1),
    (meetings.NominationWaitlisted, "NominationWaitlisted", 1),
    (meetings.NominationWithdrawn, "NominationWithdrawn", 1),
    (meetings.NominationConfirmed, "NominationConfirmed", 1),
    (meetings.NominationDeclined, "NominationDeclined", 1),
    (meetings.SpeakingRequested, "SpeakingRequested", 1),
    # deadlines: of a meeting, or on their own
    (deadlines.DeadlineSet, "DeadlineSet", 1),
    (deadlines.DeadlineExtended, "DeadlineExtended", 1),
    (deadlines.DeadlineCancelled, "DeadlineCancelled", 1),
    (deadlines.DeadlineReminderSent, "DeadlineReminderSent", 1),
    # the directory: organisations, persons, officers, feed tokens
    (directory.OrganisationRegistered, "OrganisationRegistered", 1),
    (directory.FeedTokenIssued, "FeedTokenIssued", 1),
    (directory.FeedTokenRevoked, "FeedTokenRevoked", 1),
    (directory.FocalPointAppointed, "FocalPointAppointed", 1),
    (directory.PersonRegistered, "PersonRegistered", 1),
    (directory.PersonDetailsChanged, "PersonDetailsChanged", 1),
    (directory.PersonForgotten, "PersonForgotten", 1),
    (directory.OfficerAppointed, "OfficerAppointed", 1),
    # the feeds' settings
    (settings.FeedAddressSet, "FeedAddressSet", 1),
    # the outbox: e-mails decided, sent, skipped; where it started
    (outbox.NotifierStarted, "NotifierStarted", 1),
    (outbox.MessageQueued, "MessageQueued", 1),
    (outbox.MessageSkipped, "MessageSkipped", 1),
    (outbox.SendFailed, "SendFailed", 1),
    (outbox.MessageSent, "MessageSent", 1),
)
"""Every library event type: ``(class, stored type name, schema)``."""

UPCASTERS: Final[tuple[tuple[str, int, Upcaster], ...]] = ()
"""The library's upcasters: ``(type name, from schema, function)`` (none yet: every
library type is at schema 1)."""

EVENT_CLASSES: Final = frozenset(cls for cls, _, _ in EVENT_TYPES)
"""The library's event classes (a projection of the library's state ignores the others)."""


def register_library_types(registry: EventRegistry) -> EventRegistry:
    """Register every library type and upcaster in ``registry``; return it.

    Registering them again in a registry that holds them already changes nothing.

    Raises:
        EventDefinitionError: ``registry`` holds one of the library's names for another
            class.

    """
    for cls, type_name, schema in EVENT_TYPES:
        registry.add(cls, type_name, schema=schema)
    for type_name, from_schema, function in UPCASTERS:
        registry.upcaster(type_name, from_schema=from_schema)(function)
    return registry


def library_registry() -> EventRegistry:
    """Return a new registry holding exactly the library's types (add your own to it)."""
    return register_library_types(EventRegistry())


def missing_library_types(registry: EventRegistry) -> list[str]:
    """Return the library's type names ``registry`` lacks (or maps to another class)."""
    types = registry.types
    return [name for cls, name, _ in EVENT_TYPES if types.get(name) is not cls]


def with_library_types(registry: EventRegistry) -> EventRegistry:
    """Return ``registry`` if it holds the library's types, else a new one that does.

    The new registry holds the library's types, then ``registry``'s types and upcasters:
    types added to ``registry`` afterwards are not in it.

    Raises:
        EventDefinitionError: ``registry`` holds a library type name for another class.

    """
    if not missing_library_types(registry):
        return registry
    combined = library_registry()
    combined.update(registry)
    return combined
