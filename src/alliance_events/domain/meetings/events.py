"""The meeting stream's events, and the value objects they carry.

Every event of a meeting's stream (``meeting-<id>``) but its deadlines' (those are
:mod:`~alliance_events.domain.deadlines`'s): the schedule and status
(:mod:`~alliance_events.domain.meetings.scheduling`'s commands record them) and the
registration (:mod:`~alliance_events.domain.meetings.registration`'s).
"""

from __future__ import annotations

import uuid

import attrs
import pendulum

from alliance_events.domain.common import LinkKind, MeetingKind, Role
from alliance_events.events import Event
from alliance_events.timing import When

__all__ = [
    "AttendanceRecorded",
    "Attendee",
    "CapacityChanged",
    "DelegateNominated",
    "Link",
    "LinkAttached",
    "MeetingCancelled",
    "MeetingConfirmed",
    "MeetingDetailsChanged",
    "MeetingReinstated",
    "MeetingRescheduled",
    "MeetingScheduled",
    "NominationConfirmed",
    "NominationDeclined",
    "NominationPromoted",
    "NominationWaitlisted",
    "NominationWithdrawn",
    "Quota",
    "QuotaChanged",
    "RegistrationClosed",
    "RegistrationOpened",
    "RegistrationReopened",
    "RegistrationWindowChanged",
    "SpeakingRequested",
]


# -- value objects ----------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Quota:
    """At most ``limit`` delegates of ``role`` per delegation (organisation)."""

    role: Role
    limit: int


@attrs.frozen(kw_only=True)
class Attendee:
    """Someone present at a meeting (a person's id: names live in the person's stream)."""

    person_id: uuid.UUID
    organisation_id: uuid.UUID | None = None
    capacity: str = ""  # "Chair", "Treasurer", "UNODC", ...


@attrs.frozen(kw_only=True)
class Link:
    """A report, recording or document attached to a meeting."""

    kind: LinkKind
    url: str
    title: str = ""


# -- events -----------------------------------------------------------------------------
# Registered under their type names by the list in catalog.py, not here.


@attrs.frozen(kw_only=True)
class MeetingScheduled(Event):
    """A meeting was put in the calendar (tentatively, or confirmed)."""

    meeting_id: uuid.UUID
    title: str
    kind: MeetingKind
    when: When
    location: str = ""
    online_url: str = ""
    parent_id: uuid.UUID | None = None
    tentative: bool = False
    organiser: str = ""
    description: str = ""


@attrs.frozen(kw_only=True)
class MeetingRescheduled(Event):
    """A meeting was moved to another time."""

    meeting_id: uuid.UUID
    when: When
    reason: str = ""


@attrs.frozen(kw_only=True)
class MeetingDetailsChanged(Event):
    """Some of a meeting's details changed (``None``: unchanged; ``""``: cleared)."""

    meeting_id: uuid.UUID
    title: str | None = None
    location: str | None = None
    online_url: str | None = None
    organiser: str | None = None
    description: str | None = None


@attrs.frozen(kw_only=True)
class MeetingConfirmed(Event):
    """A tentative meeting was confirmed."""

    meeting_id: uuid.UUID


@attrs.frozen(kw_only=True)
class MeetingCancelled(Event):
    """A meeting was cancelled (it stays in the calendar, marked cancelled)."""

    meeting_id: uuid.UUID
    reason: str = ""


@attrs.frozen(kw_only=True)
class MeetingReinstated(Event):
    """A cancellation made by mistake was taken back."""

    meeting_id: uuid.UUID
    reason: str = ""


@attrs.frozen(kw_only=True)
class LinkAttached(Event):
    """A report, recording or document was attached to the meeting."""

    meeting_id: uuid.UUID
    link: Link


@attrs.frozen(kw_only=True)
class AttendanceRecorded(Event):
    """Who was present (replaces any earlier record of the meeting's attendance)."""

    meeting_id: uuid.UUID
    attendees: tuple[Attendee, ...]


@attrs.frozen(kw_only=True)
class RegistrationOpened(Event):
    """Registration (delegates' nominations) opened, with its rules."""

    meeting_id: uuid.UUID
    opens_at: pendulum.DateTime
    closes_at: pendulum.DateTime
    capacity: int | None = None
    quotas: tuple[Quota, ...] = ()
    funded_places: int | None = None
    funded_per_delegation: int | None = None
    funded_roles: tuple[Role, ...] = ()


@attrs.frozen(kw_only=True)
class RegistrationClosed(Event):
    """Registration closed before its window ended."""

    meeting_id: uuid.UUID
    reason: str = ""


@attrs.frozen(kw_only=True)
class RegistrationReopened(Event):
    """A closed registration opened again, until ``closes_at``."""

    meeting_id: uuid.UUID
    closes_at: pendulum.DateTime


@attrs.frozen(kw_only=True)
class RegistrationWindowChanged(Event):
    """The registration window moved (opening, closing or both)."""

    meeting_id: uuid.UUID
    opens_at: pendulum.DateTime
    closes_at: pendulum.DateTime


@attrs.frozen(kw_only=True)
class CapacityChanged(Event):
    """The room's capacity changed (``None``: no limit)."""

    meeting_id: uuid.UUID
    capacity: int | None


@attrs.frozen(kw_only=True)
class QuotaChanged(Event):
    """The per-delegation quotas by role changed (roles not listed: no quota)."""

    meeting_id: uuid.UUID
    quotas: tuple[Quota, ...]


@attrs.frozen(kw_only=True)
class DelegateNominated(Event):
    """An organisation nominated a delegate; over capacity, onto the waiting list."""

    meeting_id: uuid.UUID
    nomination_id: uuid.UUID
    organisation_id: uuid.UUID
    person_id: uuid.UUID
    role: Role
    funding_requested: bool = False
    waitlisted: bool = False


@attrs.frozen(kw_only=True)
class NominationPromoted(Event):
    """A waiting nomination got a seat (capacity grew, or someone left)."""

    meeting_id: uuid.UUID
    nomination_id: uuid.UUID


@attrs.frozen(kw_only=True)
class NominationWaitlisted(Event):
    """An unconfirmed nomination lost its seat to a smaller room and waits again."""

    meeting_id: uuid.UUID
    nomination_id: uuid.UUID


@attrs.frozen(kw_only=True)
class NominationWithdrawn(Event):
    """The organisation withdrew its nomination."""

    meeting_id: uuid.UUID
    nomination_id: uuid.UUID
    reason: str = ""


@attrs.frozen(kw_only=True)
class NominationConfirmed(Event):
    """The secretariat confirmed a seated nomination, funded or not."""

    meeting_id: uuid.UUID
    nomination_id: uuid.UUID
    funded: bool = False


@attrs.frozen(kw_only=True)
class NominationDeclined(Event):
    """The secretariat declined a nomination."""

    meeting_id: uuid.UUID
    nomination_id: uuid.UUID
    reason: str = ""


@attrs.frozen(kw_only=True)
class SpeakingRequested(Event):
    """An organisation asked to speak on one day of a (multi-day) session."""

    meeting_id: uuid.UUID
    request_id: uuid.UUID
    organisation_id: uuid.UUID
    day: pendulum.Date
    topic: str = ""
    person_id: uuid.UUID | None = None

