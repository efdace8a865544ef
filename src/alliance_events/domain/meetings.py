"""The meeting aggregate: schedule, registration, delegations, deadlines, record.

One stream per meeting (``meeting-<id>``) is the consistency boundary for everything the
rules weigh together: the room's capacity, each delegation's quota by role, the funded
places, the registration window and the meeting's deadlines. Sessions, days and side
events are meetings of their own with a ``parent_id``; cancelling a parent shows its
children as cancelled too (the projection derives it, so no second stream is written).

``decide(state, command, refs)`` raises a :class:`~alliance_events.errors.DomainError`
or returns the events; ``evolve(state, event)`` never fails. ``refs`` carries what the
application looked up outside the stream: the parent meeting, and which organisations
and persons exist.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, TypeVar

import attrs
import pendulum

from alliance_events.domain.common import (
    Command,
    LinkKind,
    MeetingKind,
    MeetingStatus,
    NominationStatus,
    Role,
    event_ids,
    replace,
    require,
    require_text,
)
from alliance_events.domain.deadlines import (
    CancelDeadline,
    Deadline,
    DeadlineCancelled,
    DeadlineExtended,
    DeadlineKind,
    DeadlineReminderSent,
    DeadlineSet,
    ExtendDeadline,
    RecordReminderSent,
    SetDeadline,
    decide_deadline,
    evolve_deadline,
)
from alliance_events.domain.directory import Organisation, Person
from alliance_events.errors import UnknownReferenceError
from alliance_events.events import Event
from alliance_events.timing import AllDay, Timed, When, is_named_zone

__all__ = [
    "AttachLink",
    "AttendanceRecorded",
    "Attendee",
    "CancelMeeting",
    "CapacityChanged",
    "ChangeCapacity",
    "ChangeMeetingDetails",
    "ChangeQuota",
    "ChangeRegistrationWindow",
    "CloseRegistration",
    "ConfirmMeeting",
    "ConfirmNomination",
    "DeclineNomination",
    "DelegateNominated",
    "Link",
    "LinkAttached",
    "MeetingCancelled",
    "MeetingConfirmed",
    "MeetingDetailsChanged",
    "MeetingReinstated",
    "MeetingRescheduled",
    "MeetingScheduled",
    "MeetingState",
    "NominateDelegate",
    "Nomination",
    "NominationConfirmed",
    "NominationDeclined",
    "NominationPromoted",
    "NominationWaitlisted",
    "NominationWithdrawn",
    "OpenRegistration",
    "Quota",
    "QuotaChanged",
    "RecordAttendance",
    "Refs",
    "Registration",
    "RegistrationClosed",
    "RegistrationOpened",
    "RegistrationReopened",
    "RegistrationWindowChanged",
    "ReinstateMeeting",
    "ReopenRegistration",
    "RequestSpeaking",
    "RescheduleMeeting",
    "ScheduleMeeting",
    "SpeakingRequest",
    "SpeakingRequested",
    "WithdrawNomination",
    "decide",
    "evolve",
    "meeting_stream",
]


def meeting_stream(meeting_id: uuid.UUID) -> str:
    """Return the name of the meeting's stream."""
    return f"meeting-{meeting_id}"


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


# -- state ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Registration:
    """A meeting's registration: its window and its rules."""

    opens_at: pendulum.DateTime
    closes_at: pendulum.DateTime
    capacity: int | None
    quotas: tuple[Quota, ...]
    funded_places: int | None
    funded_per_delegation: int | None
    funded_roles: tuple[Role, ...]
    closed: bool = False

    def is_open(self, at: _dt.datetime) -> bool:
        """Whether nominations are accepted at ``at``."""
        return not self.closed and self.opens_at <= at < self.closes_at

    def status(self, at: _dt.datetime) -> str:
        """``"not yet open"``, ``"open"`` or ``"closed"`` at ``at``."""
        if self.closed or at >= self.closes_at:
            return "closed"
        return "open" if at >= self.opens_at else "not yet open"

    def quota(self, role: Role) -> int | None:
        """Return the per-delegation limit for ``role`` (``None``: none)."""
        for quota in self.quotas:
            if quota.role is role:
                return quota.limit
        return None


@attrs.frozen(kw_only=True)
class Nomination:
    """One delegate nominated by one organisation, and where it stands."""

    nomination_id: uuid.UUID
    organisation_id: uuid.UUID
    person_id: uuid.UUID
    role: Role
    funding_requested: bool
    status: NominationStatus
    funded: bool = False


@attrs.frozen(kw_only=True)
class SpeakingRequest:
    """A request to speak on one day."""

    request_id: uuid.UUID
    organisation_id: uuid.UUID
    day: pendulum.Date
    topic: str
    person_id: uuid.UUID | None


@attrs.frozen(kw_only=True)
class MeetingState:
    """Everything known of one meeting, folded from its stream.

    ``nominations`` is in nomination order, so the waiting list is too.
    """

    meeting_id: uuid.UUID | None = None
    title: str = ""
    kind: MeetingKind = MeetingKind.OTHER
    when: When | None = None
    location: str = ""
    online_url: str = ""
    parent_id: uuid.UUID | None = None
    status: MeetingStatus = MeetingStatus.TENTATIVE
    organiser: str = ""
    description: str = ""
    sequence: int = 0  # significant changes (time, place, status), for calendars
    links: tuple[Link, ...] = ()
    attendance: tuple[Attendee, ...] = ()
    registration: Registration | None = None
    nominations: tuple[Nomination, ...] = ()
    speaking: tuple[SpeakingRequest, ...] = ()
    deadlines: tuple[Deadline, ...] = ()
    # Where each nomination stands in ``nominations`` (derived, kept for speed), and the
    # status the meeting had before it was cancelled (a reinstatement restores it).
    nomination_index: Mapping[uuid.UUID, int] = attrs.field(factory=dict, repr=False)
    cancelled_from: MeetingStatus | None = None
    # What calendars tell of the last changes: why it was cancelled (while it is), and
    # where it was before its last move, and why it moved.
    cancel_reason: str = ""
    moved_from: When | None = None
    move_reason: str = ""

    @property
    def exists(self) -> bool:
        """Whether the meeting was scheduled."""
        return self.meeting_id is not None

    @property
    def cancelled(self) -> bool:
        """Whether the meeting itself is cancelled (see ``Refs`` for its parents)."""
        return self.status is MeetingStatus.CANCELLED

    def nomination(self, nomination_id: uuid.UUID) -> Nomination | None:
        """Return the nomination with that id, if any."""
        index = self.nomination_index.get(nomination_id)
        return None if index is None else self.nominations[index]

    def deadline(self, deadline_id: uuid.UUID) -> Deadline | None:
        """Return the meeting's deadline with that id, if any."""
        for deadline in self.deadlines:
            if deadline.deadline_id == deadline_id:
                return deadline
        return None

    @property
    def seats_taken(self) -> int:
        """Nominations holding a seat (nominated or confirmed)."""
        return sum(1 for n in self.nominations if n.status.holds_seat)

    @property
    def seats_free(self) -> int | None:
        """Seats left (``None``: no capacity set)."""
        if self.registration is None or self.registration.capacity is None:
            return None
        return max(self.registration.capacity - self.seats_taken, 0)

    @property
    def waiting_list(self) -> tuple[Nomination, ...]:
        """Waiting nominations, first come first."""
        return tuple(n for n in self.nominations if n.status is NominationStatus.WAITLISTED)

    @property
    def funded_count(self) -> int:
        """Confirmed nominations that are funded."""
        return sum(1 for n in self.nominations if n.funded and n.status.holds_seat)

    def delegation(self, organisation_id: uuid.UUID) -> tuple[Nomination, ...]:
        """One organisation's nominations, in nomination order."""
        return tuple(n for n in self.nominations if n.organisation_id == organisation_id)


@attrs.frozen(kw_only=True)
class Refs:
    """What a decision needs from outside the meeting's stream (the application fills it).

    Attributes:
        parent: the parent meeting's state, for a session, day or side event.
        ancestor_cancelled: whether a parent (or its parent...) is cancelled.
        organisations: the ids of known organisations.
        persons: the ids of known persons.

    """

    parent: MeetingState | None = None
    ancestor_cancelled: bool = False
    organisations: Mapping[uuid.UUID, Organisation] = attrs.field(factory=dict)
    persons: Mapping[uuid.UUID, Person] = attrs.field(factory=dict)

    def organisation_name(self, organisation_id: uuid.UUID) -> str:
        """Return the organisation's acronym or name for messages (its id if unknown)."""
        organisation = self.organisations.get(organisation_id)
        if organisation is None:
            return str(organisation_id)
        return organisation.acronym or organisation.name


# -- evolve -----------------------------------------------------------------------------

S = TypeVar("S")
_Evolver = Callable[[MeetingState, Any], MeetingState]
_EVOLVERS: dict[type[Event], _Evolver] = {}


def _evolves(event_class: type[Event]) -> Callable[[_Evolver], _Evolver]:
    def register(function: _Evolver) -> _Evolver:
        _EVOLVERS[event_class] = function
        return function

    return register


def evolve(state: MeetingState, event: Event) -> MeetingState:
    """Apply one event of the meeting's stream to its state (never fails).

    Events of other aggregates leave the state as it is.
    """
    function = _EVOLVERS.get(type(event))
    return state if function is None else function(state, event)


@_evolves(MeetingScheduled)
def _scheduled(state: MeetingState, event: MeetingScheduled) -> MeetingState:
    return replace(
        state,
        meeting_id=event.meeting_id,
        title=event.title,
        kind=event.kind,
        when=event.when,
        location=event.location,
        online_url=event.online_url,
        parent_id=event.parent_id,
        status=MeetingStatus.TENTATIVE if event.tentative else MeetingStatus.CONFIRMED,
        organiser=event.organiser,
        description=event.description,
    )


@_evolves(MeetingRescheduled)
def _rescheduled(state: MeetingState, event: MeetingRescheduled) -> MeetingState:
    return replace(
        state, when=event.when, moved_from=state.when, move_reason=event.reason,
        sequence=state.sequence + 1,
    )


@_evolves(MeetingDetailsChanged)
def _details(state: MeetingState, event: MeetingDetailsChanged) -> MeetingState:
    changes = {
        name: getattr(event, name)
        for name in ("title", "location", "online_url", "organiser", "description")
        if getattr(event, name) is not None
    }
    significant = event.location is not None and event.location != state.location
    return replace(state, sequence=state.sequence + significant, **changes)


def _status(status: MeetingStatus) -> _Evolver:
    def change(state: MeetingState, _: Event) -> MeetingState:
        return replace(state, status=status, sequence=state.sequence + 1)

    return change


_EVOLVERS[MeetingConfirmed] = _status(MeetingStatus.CONFIRMED)


@_evolves(MeetingCancelled)
def _cancelled(state: MeetingState, event: MeetingCancelled) -> MeetingState:
    return replace(
        state,
        status=MeetingStatus.CANCELLED,
        cancelled_from=state.status,
        cancel_reason=event.reason,
        sequence=state.sequence + 1,
    )


@_evolves(MeetingReinstated)
def _reinstated(state: MeetingState, _: MeetingReinstated) -> MeetingState:
    return replace(
        state,
        status=state.cancelled_from or MeetingStatus.CONFIRMED,
        cancelled_from=None,
        cancel_reason="",
        sequence=state.sequence + 1,
    )


@_evolves(LinkAttached)
def _link(state: MeetingState, event: LinkAttached) -> MeetingState:
    return replace(state, links=(*state.links, event.link))


@_evolves(AttendanceRecorded)
def _attendance(state: MeetingState, event: AttendanceRecorded) -> MeetingState:
    return replace(state, attendance=event.attendees)


@_evolves(RegistrationOpened)
def _opened(state: MeetingState, event: RegistrationOpened) -> MeetingState:
    registration = Registration(
        opens_at=event.opens_at,
        closes_at=event.closes_at,
        capacity=event.capacity,
        quotas=event.quotas,
        funded_places=event.funded_places,
        funded_per_delegation=event.funded_per_delegation,
        funded_roles=event.funded_roles,
    )
    return replace(state, registration=registration)


def _registration(state: MeetingState, **changes: Any) -> MeetingState:
    if state.registration is None:
        return state
    return replace(state, registration=replace(state.registration, **changes))


@_evolves(RegistrationClosed)
def _closed(state: MeetingState, _: RegistrationClosed) -> MeetingState:
    return _registration(state, closed=True)


@_evolves(RegistrationReopened)
def _reopened(state: MeetingState, event: RegistrationReopened) -> MeetingState:
    return _registration(state, closed=False, closes_at=event.closes_at)


@_evolves(RegistrationWindowChanged)
def _window(state: MeetingState, event: RegistrationWindowChanged) -> MeetingState:
    return _registration(state, opens_at=event.opens_at, closes_at=event.closes_at)


@_evolves(CapacityChanged)
def _capacity(state: MeetingState, event: CapacityChanged) -> MeetingState:
    return _registration(state, capacity=event.capacity)


@_evolves(QuotaChanged)
def _quota(state: MeetingState, event: QuotaChanged) -> MeetingState:
    return _registration(state, quotas=event.quotas)


@_evolves(DelegateNominated)
def _nominated(state: MeetingState, event: DelegateNominated) -> MeetingState:
    nomination = Nomination(
        nomination_id=event.nomination_id,
        organisation_id=event.organisation_id,
        person_id=event.person_id,
        role=event.role,
        funding_requested=event.funding_requested,
        status=NominationStatus.WAITLISTED if event.waitlisted else NominationStatus.NOMINATED,
    )
    return replace(
        state,
        nominations=(*state.nominations, nomination),
        nomination_index={**state.nomination_index, event.nomination_id: len(state.nominations)},
    )


def _nomination(state: MeetingState, nomination_id: uuid.UUID, **changes: Any) -> MeetingState:
    index = state.nomination_index.get(nomination_id)
    if index is None:
        return state
    nominations = state.nominations
    changed = replace(nominations[index], **changes)
    return replace(
        state, nominations=(*nominations[:index], changed, *nominations[index + 1 :])
    )


def _nomination_status(status: NominationStatus, **extra: Any) -> _Evolver:
    def change(state: MeetingState, event: Any) -> MeetingState:
        return _nomination(state, event.nomination_id, status=status, **extra)

    return change


_EVOLVERS[NominationPromoted] = _nomination_status(NominationStatus.NOMINATED)
_EVOLVERS[NominationWaitlisted] = _nomination_status(NominationStatus.WAITLISTED)
_EVOLVERS[NominationWithdrawn] = _nomination_status(NominationStatus.WITHDRAWN, funded=False)
_EVOLVERS[NominationDeclined] = _nomination_status(NominationStatus.DECLINED, funded=False)


@_evolves(NominationConfirmed)
def _confirmed(state: MeetingState, event: NominationConfirmed) -> MeetingState:
    return _nomination(
        state, event.nomination_id, status=NominationStatus.CONFIRMED, funded=event.funded
    )


@_evolves(SpeakingRequested)
def _speaking(state: MeetingState, event: SpeakingRequested) -> MeetingState:
    request = SpeakingRequest(
        request_id=event.request_id,
        organisation_id=event.organisation_id,
        day=event.day,
        topic=event.topic,
        person_id=event.person_id,
    )
    return replace(state, speaking=(*state.speaking, request))


def _deadline_event(state: MeetingState, event: Any) -> MeetingState:
    if isinstance(event, DeadlineSet):
        deadline = evolve_deadline(None, event)
        assert deadline is not None  # noqa: S101 - DeadlineSet always makes one
        return replace(state, deadlines=(*state.deadlines, deadline))
    deadlines = tuple(
        (evolve_deadline(d, event) or d) if d.deadline_id == event.deadline_id else d
        for d in state.deadlines
    )
    return replace(state, deadlines=deadlines)


for _class in (DeadlineSet, DeadlineExtended, DeadlineCancelled, DeadlineReminderSent):
    _EVOLVERS[_class] = _deadline_event


# -- commands ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ScheduleMeeting(Command):
    """Put a meeting in the calendar."""

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
class RescheduleMeeting(Command):
    """Move a meeting."""

    meeting_id: uuid.UUID
    when: When
    reason: str = ""


@attrs.frozen(kw_only=True)
class ChangeMeetingDetails(Command):
    """Change a meeting's title, place, link, organiser or description."""

    meeting_id: uuid.UUID
    title: str | None = None
    location: str | None = None
    online_url: str | None = None
    organiser: str | None = None
    description: str | None = None


@attrs.frozen(kw_only=True)
class ConfirmMeeting(Command):
    """Confirm a tentative meeting."""

    meeting_id: uuid.UUID


@attrs.frozen(kw_only=True)
class CancelMeeting(Command):
    """Cancel a meeting (and so, as shown, its sessions and side events)."""

    meeting_id: uuid.UUID
    reason: str = ""


@attrs.frozen(kw_only=True)
class ReinstateMeeting(Command):
    """Take back a cancellation made by mistake."""

    meeting_id: uuid.UUID
    reason: str = ""


@attrs.frozen(kw_only=True)
class AttachLink(Command):
    """Attach a report, recording or document to a meeting."""

    meeting_id: uuid.UUID
    kind: LinkKind
    url: str
    title: str = ""


@attrs.frozen(kw_only=True)
class RecordAttendance(Command):
    """Record who was present."""

    meeting_id: uuid.UUID
    attendees: tuple[Attendee, ...]


@attrs.frozen(kw_only=True)
class OpenRegistration(Command):
    """Open registration with its window, capacity, quotas and funding."""

    meeting_id: uuid.UUID
    opens_at: pendulum.DateTime
    closes_at: pendulum.DateTime
    capacity: int | None = None
    quotas: tuple[Quota, ...] = ()
    funded_places: int | None = None
    funded_per_delegation: int | None = None
    funded_roles: tuple[Role, ...] = ()


@attrs.frozen(kw_only=True)
class CloseRegistration(Command):
    """Close registration now."""

    meeting_id: uuid.UUID
    reason: str = ""


@attrs.frozen(kw_only=True)
class ReopenRegistration(Command):
    """Open a closed registration again, until ``closes_at``."""

    meeting_id: uuid.UUID
    closes_at: pendulum.DateTime


@attrs.frozen(kw_only=True)
class ChangeRegistrationWindow(Command):
    """Move the registration window."""

    meeting_id: uuid.UUID
    opens_at: pendulum.DateTime
    closes_at: pendulum.DateTime


@attrs.frozen(kw_only=True)
class ChangeCapacity(Command):
    """Change the room's capacity (``None``: no limit)."""

    meeting_id: uuid.UUID
    capacity: int | None


@attrs.frozen(kw_only=True)
class ChangeQuota(Command):
    """Change the per-delegation quotas."""

    meeting_id: uuid.UUID
    quotas: tuple[Quota, ...]


@attrs.frozen(kw_only=True)
class NominateDelegate(Command):
    """Nominate a delegate of an organisation in a role."""

    meeting_id: uuid.UUID
    nomination_id: uuid.UUID
    organisation_id: uuid.UUID
    person_id: uuid.UUID
    role: Role
    funding_requested: bool = False


@attrs.frozen(kw_only=True)
class WithdrawNomination(Command):
    """The organisation withdraws a nomination."""

    meeting_id: uuid.UUID
    nomination_id: uuid.UUID
    reason: str = ""


@attrs.frozen(kw_only=True)
class ConfirmNomination(Command):
    """The secretariat confirms a seated nomination, funded or not."""

    meeting_id: uuid.UUID
    nomination_id: uuid.UUID
    funded: bool = False


@attrs.frozen(kw_only=True)
class DeclineNomination(Command):
    """The secretariat declines a nomination."""

    meeting_id: uuid.UUID
    nomination_id: uuid.UUID
    reason: str = ""


@attrs.frozen(kw_only=True)
class RequestSpeaking(Command):
    """An organisation asks to speak on one day of the meeting."""

    meeting_id: uuid.UUID
    request_id: uuid.UUID
    organisation_id: uuid.UUID
    day: pendulum.Date
    topic: str = ""
    person_id: uuid.UUID | None = None


# -- decide -----------------------------------------------------------------------------

_Decider = Callable[[MeetingState, Any, Refs, Iterator[uuid.UUID]], list[Event]]
_DECIDERS: dict[type[Command], _Decider] = {}

#: Commands accepted on a cancelled meeting: documented corrections only.
_ALLOWED_WHEN_CANCELLED = (
    AttachLink, RecordAttendance, ReinstateMeeting, ChangeMeetingDetails, CancelDeadline
)


def _decides(command_class: type[Command]) -> Callable[[_Decider], _Decider]:
    def register(function: _Decider) -> _Decider:
        _DECIDERS[command_class] = function
        return function

    return register


def decide(state: MeetingState, command: Command, refs: Refs | None = None) -> list[Event]:
    """Decide a meeting command: return its events, or raise naming the broken rule.

    Raises:
        RuleViolation: a rule is broken; the message names the rule and the values.
        UnknownReferenceError: the meeting, organisation, person or nomination is unknown.

    """
    refs = Refs() if refs is None else refs
    ids = event_ids(command)
    if isinstance(command, ScheduleMeeting):
        return _schedule(state, command, refs, ids)
    if not state.exists:
        raise UnknownReferenceError(
            "unknown-meeting",
            f"no meeting {getattr(command, 'meeting_id', '?')} is scheduled",
        )
    if state.cancelled or refs.ancestor_cancelled:
        require(
            isinstance(command, _ALLOWED_WHEN_CANCELLED)
            and (not isinstance(command, ChangeMeetingDetails) or _is_correction(command)),
            "meeting-cancelled",
            f"meeting {state.title!r} is cancelled"
            + ("" if state.cancelled else " (with the meeting it is part of)")
            + ": only links, attendance, corrections of its description and cancelling its "
            "deadlines are accepted",
        )
    if isinstance(command, (SetDeadline, ExtendDeadline, CancelDeadline, RecordReminderSent)):
        return _deadline(state, command, refs)
    decider = _DECIDERS.get(type(command))
    if decider is None:
        raise TypeError(f"not a meeting command: {type(command).__name__}")
    return decider(state, command, refs, ids)


def _is_correction(command: ChangeMeetingDetails) -> bool:
    return command.location is None and command.online_url is None


def _check_when(when: When) -> None:
    if isinstance(when, Timed):
        for name, moment in (("start", when.start), ("end", when.end)):
            require(
                isinstance(moment, _dt.datetime) and moment.utcoffset() is not None,
                "zone",
                f"the {name} {moment!r} needs a time zone",
            )
        require(
            when.end > when.start,
            "end-after-start",
            f"the end ({when.end.isoformat()}) must be after the start "
            f"({when.start.isoformat()})",
        )
        require(
            is_named_zone(when.start) == is_named_zone(when.end),
            "zone",
            "start and end must both be in a named zone or both at a fixed offset",
        )
    else:
        require(isinstance(when, AllDay), "when", f"when must be Timed or AllDay, got {when!r}")
        require(
            when.last >= when.first,
            "end-after-start",
            f"the last day ({when.last.isoformat()}) must not be before the first "
            f"({when.first.isoformat()})",
        )


def _check_url(url: str, field: str) -> None:
    require_text(url, field, limit=2000, optional=True)
    if url:
        require(
            url.startswith(("https://", "http://")) and not any(c.isspace() for c in url),
            "url",
            f"{field} must be an http(s) address without spaces, got {url!r}",
        )


def _schedule(
    state: MeetingState, command: ScheduleMeeting, refs: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    require(not state.exists, "meeting-exists", f"meeting {command.meeting_id} exists already")
    require_text(command.title, "title")
    for field in ("location", "organiser"):
        require_text(getattr(command, field), field, optional=True)
    require_text(command.description, "description", limit=20_000, optional=True)
    _check_url(command.online_url, "online_url")
    _check_when(command.when)
    if command.parent_id is not None:
        parent = refs.parent
        if parent is None or not parent.exists:
            raise UnknownReferenceError(
                "unknown-meeting", f"the parent meeting {command.parent_id} is not scheduled"
            )
        require(
            parent.meeting_id != command.meeting_id, "parent", "a meeting cannot be its own parent"
        )
        require(
            not (parent.cancelled or refs.ancestor_cancelled),
            "meeting-cancelled",
            f"the parent meeting {parent.title!r} is cancelled",
        )
    fields = {
        name: getattr(command, name)
        for name in (
            "meeting_id", "title", "kind", "when", "location", "online_url", "parent_id",
            "tentative", "organiser", "description",
        )
    }
    return [MeetingScheduled(event_id=next(ids), **fields)]


@_decides(RescheduleMeeting)
def _reschedule(
    state: MeetingState, command: RescheduleMeeting, _: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    _check_when(command.when)
    require(
        command.when != state.when, "no-change", f"meeting {state.title!r} is at that time already"
    )
    return [MeetingRescheduled(event_id=next(ids), meeting_id=state.meeting_id,  # type: ignore[arg-type]
                               when=command.when, reason=command.reason)]


@_decides(ChangeMeetingDetails)
def _change_details(
    state: MeetingState, command: ChangeMeetingDetails, _: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    if command.title is not None:
        require_text(command.title, "title")
    for field in ("location", "organiser"):
        require_text(getattr(command, field), field, optional=True)
    require_text(command.description, "description", limit=20_000, optional=True)
    if command.online_url is not None:
        _check_url(command.online_url, "online_url")
    changes = {
        name: getattr(command, name)
        for name in ("title", "location", "online_url", "organiser", "description")
        if getattr(command, name) is not None and getattr(command, name) != getattr(state, name)
    }
    require(bool(changes), "no-change", f"meeting {state.title!r} has these details already")
    return [MeetingDetailsChanged(event_id=next(ids), meeting_id=state.meeting_id, **changes)]  # type: ignore[arg-type]


@_decides(ConfirmMeeting)
def _confirm(
    state: MeetingState, _: ConfirmMeeting, __: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    require(
        state.status is MeetingStatus.TENTATIVE,
        "not-tentative",
        f"meeting {state.title!r} is {state.status.value}, not tentative",
    )
    return [MeetingConfirmed(event_id=next(ids), meeting_id=state.meeting_id)]  # type: ignore[arg-type]


@_decides(CancelMeeting)
def _cancel(
    state: MeetingState, command: CancelMeeting, _: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    return [MeetingCancelled(event_id=next(ids), meeting_id=state.meeting_id,  # type: ignore[arg-type]
                             reason=command.reason)]


@_decides(ReinstateMeeting)
def _reinstate(
    state: MeetingState, command: ReinstateMeeting, _: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    require(state.cancelled, "not-cancelled", f"meeting {state.title!r} is not cancelled")
    require_text(command.reason, "reason")
    return [MeetingReinstated(event_id=next(ids), meeting_id=state.meeting_id,  # type: ignore[arg-type]
                              reason=command.reason)]


@_decides(AttachLink)
def _attach(
    state: MeetingState, command: AttachLink, _: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    require(bool(command.url), "url", "a link needs a url")
    _check_url(command.url, "url")
    require_text(command.title, "title", optional=True)
    link = Link(kind=command.kind, url=command.url, title=command.title)
    return [LinkAttached(event_id=next(ids), meeting_id=state.meeting_id, link=link)]  # type: ignore[arg-type]


@_decides(RecordAttendance)
def _attend(
    state: MeetingState, command: RecordAttendance, refs: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    assert state.when is not None  # noqa: S101 - a scheduled meeting has a time
    starts = _start_instant(state.when)
    require(
        command.at >= starts,
        "attendance-before-start",
        f"attendance of {state.title!r} can be recorded once it has started "
        f"({starts.isoformat()}), not at {command.at.isoformat()}",
    )
    seen: set[uuid.UUID] = set()
    for attendee in command.attendees:
        _known(attendee.person_id in refs.persons, "person", attendee.person_id)
        if attendee.organisation_id is not None:
            _known(attendee.organisation_id in refs.organisations, "organisation",
                   attendee.organisation_id)
        require(attendee.person_id not in seen, "attendee-twice",
                f"person {attendee.person_id} is listed twice")
        seen.add(attendee.person_id)
    return [AttendanceRecorded(event_id=next(ids), meeting_id=state.meeting_id,  # type: ignore[arg-type]
                               attendees=command.attendees)]


def _start_instant(when: When) -> _dt.datetime:
    if isinstance(when, Timed):
        return when.start
    # An all-day meeting starts at the first day's midnight, wherever one is: take UTC+14.
    first = when.first
    earliest = _dt.timezone(_dt.timedelta(hours=14))
    return _dt.datetime(first.year, first.month, first.day, tzinfo=earliest)


def _known(condition: bool, what: str, identifier: uuid.UUID) -> None:  # noqa: FBT001
    if not condition:
        raise UnknownReferenceError(f"unknown-{what}", f"no {what} {identifier} is registered")


def _check_registration_rules(
    capacity: int | None,
    quotas: tuple[Quota, ...],
    funded_places: int | None,
    funded_per_delegation: int | None,
) -> None:
    for name, value in (
        ("capacity", capacity),
        ("funded_places", funded_places),
        ("funded_per_delegation", funded_per_delegation),
    ):
        require(
            value is None or (type(value) is int and value >= 0),
            name,
            f"{name} must be a whole number >= 0 (or none), got {value!r}",
        )
    roles = [quota.role for quota in quotas]
    require(len(set(roles)) == len(roles), "quota", "a role has two quotas")
    for quota in quotas:
        require(
            isinstance(quota.limit, int) and quota.limit >= 0,
            "quota",
            f"the quota for {quota.role.value} must be a whole number >= 0, got {quota.limit!r}",
        )


def _check_window(opens_at: _dt.datetime, closes_at: _dt.datetime) -> None:
    require(
        opens_at.utcoffset() is not None and closes_at.utcoffset() is not None,
        "zone",
        "the registration window's times need a zone",
    )
    require(
        closes_at > opens_at,
        "end-after-start",
        f"registration must close ({closes_at.isoformat()}) after it opens "
        f"({opens_at.isoformat()})",
    )


@_decides(OpenRegistration)
def _open(
    state: MeetingState, command: OpenRegistration, _: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    require(
        state.registration is None,
        "registration-exists",
        f"registration for {state.title!r} was opened already: change its window, "
        "capacity or quotas instead",
    )
    _check_window(command.opens_at, command.closes_at)
    _check_registration_rules(
        command.capacity, command.quotas, command.funded_places, command.funded_per_delegation
    )
    return [
        RegistrationOpened(
            event_id=next(ids),
            meeting_id=state.meeting_id,  # type: ignore[arg-type]
            opens_at=command.opens_at,
            closes_at=command.closes_at,
            capacity=command.capacity,
            quotas=command.quotas,
            funded_places=command.funded_places,
            funded_per_delegation=command.funded_per_delegation,
            funded_roles=command.funded_roles,
        )
    ]


def _registration_of(state: MeetingState) -> Registration:
    registration = state.registration
    if registration is None:
        raise UnknownReferenceError(
            "no-registration", f"registration for {state.title!r} has not been opened"
        )
    return registration


@_decides(CloseRegistration)
def _close(
    state: MeetingState, command: CloseRegistration, _: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    registration = _registration_of(state)
    require(not registration.closed, "registration-closed",
            f"registration for {state.title!r} is closed already")
    return [RegistrationClosed(event_id=next(ids), meeting_id=state.meeting_id,  # type: ignore[arg-type]
                               reason=command.reason)]


@_decides(ReopenRegistration)
def _reopen(
    state: MeetingState, command: ReopenRegistration, _: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    registration = _registration_of(state)
    require(
        registration.closed or command.at >= registration.closes_at,
        "registration-open",
        f"registration for {state.title!r} is open until {registration.closes_at.isoformat()}:"
        " change its window instead",
    )
    _check_window(registration.opens_at, command.closes_at)
    require(
        command.closes_at > command.at,
        "window-in-past",
        f"reopening until {command.closes_at.isoformat()}, which has passed",
    )
    return [RegistrationReopened(event_id=next(ids), meeting_id=state.meeting_id,  # type: ignore[arg-type]
                                 closes_at=command.closes_at)]


@_decides(ChangeRegistrationWindow)
def _rewindow(
    state: MeetingState, command: ChangeRegistrationWindow, _: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    _registration_of(state)
    _check_window(command.opens_at, command.closes_at)
    return [RegistrationWindowChanged(event_id=next(ids), meeting_id=state.meeting_id,  # type: ignore[arg-type]
                                      opens_at=command.opens_at, closes_at=command.closes_at)]


@_decides(ChangeCapacity)
def _change_capacity(
    state: MeetingState, command: ChangeCapacity, _: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    registration = _registration_of(state)
    _check_registration_rules(command.capacity, (), None, None)
    capacity = command.capacity
    confirmed = sum(1 for n in state.nominations if n.status is NominationStatus.CONFIRMED)
    require(
        capacity is None or capacity >= confirmed,
        "capacity",
        f"capacity {capacity} is below the {confirmed} confirmed delegates of "
        f"{state.title!r}: decline or withdraw some first",
    )
    require(capacity != registration.capacity, "no-change", f"the capacity is {capacity} already")
    meeting_id: uuid.UUID = state.meeting_id  # type: ignore[assignment]
    events: list[Event] = [CapacityChanged(event_id=next(ids), meeting_id=meeting_id,
                                           capacity=capacity)]
    seated = [n for n in state.nominations if n.status.holds_seat]
    if capacity is not None and len(seated) > capacity:
        # The latest unconfirmed nominations wait again, in front of later ones.
        unconfirmed = [n for n in seated if n.status is NominationStatus.NOMINATED]
        events.extend(
            NominationWaitlisted(event_id=next(ids), meeting_id=meeting_id,
                                 nomination_id=nomination.nomination_id)
            for nomination in unconfirmed[len(unconfirmed) - (len(seated) - capacity) :]
        )
    else:
        events.extend(_promotions(state, capacity, ids))
    return events


def _promotions(
    state: MeetingState, capacity: int | None, ids: Iterator[uuid.UUID], freed: int = 0
) -> list[Event]:
    """Seat waiting nominations, first come first, while seats are free."""
    waiting = state.waiting_list
    free = len(waiting) if capacity is None else capacity - state.seats_taken + freed
    return [
        NominationPromoted(event_id=next(ids), meeting_id=state.meeting_id,  # type: ignore[arg-type]
                           nomination_id=n.nomination_id)
        for n in waiting[: max(free, 0)]
    ]


@_decides(ChangeQuota)
def _change_quota(
    state: MeetingState, command: ChangeQuota, _: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    _registration_of(state)
    _check_registration_rules(None, command.quotas, None, None)
    for quota in command.quotas:
        for organisation_id in {n.organisation_id for n in state.nominations}:
            count = sum(
                1
                for n in state.delegation(organisation_id)
                if n.role is quota.role and n.status.active
            )
            require(
                count <= quota.limit,
                "quota",
                f"organisation {organisation_id} has {count} {quota.role.value}(s) already, "
                f"more than the new quota of {quota.limit}",
            )
    return [QuotaChanged(event_id=next(ids), meeting_id=state.meeting_id,  # type: ignore[arg-type]
                         quotas=command.quotas)]


@_decides(NominateDelegate)
def _nominate(
    state: MeetingState, command: NominateDelegate, refs: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    registration = _registration_of(state)
    status = registration.status(command.at)
    require(
        status == "open",
        "registration-closed" if status == "closed" else "registration-not-open",
        f"registration for {state.title!r} is {status} at {command.at.isoformat()} "
        f"(window {registration.opens_at.isoformat()} to {registration.closes_at.isoformat()})",
    )
    for deadline in state.deadlines:
        if deadline.kind is DeadlineKind.NAMES and deadline.overdue(command.at):
            require(
                False,  # noqa: FBT003
                "deadline-passed",
                f"the deadline {deadline.title!r} for {state.title!r} has passed",
            )
    _known(command.organisation_id in refs.organisations, "organisation", command.organisation_id)
    _known(command.person_id in refs.persons, "person", command.person_id)
    require(
        state.nomination(command.nomination_id) is None,
        "nomination-exists",
        f"nomination {command.nomination_id} exists already",
    )
    require(
        not any(n.person_id == command.person_id and n.status.active for n in state.nominations),
        "nominated-twice",
        f"person {command.person_id} is nominated for {state.title!r} already",
    )
    limit = registration.quota(command.role)
    if limit is not None:
        taken = sum(
            1
            for n in state.delegation(command.organisation_id)
            if n.role is command.role and n.status.active
        )
        require(
            taken < limit,
            "quota",
            f"{refs.organisation_name(command.organisation_id)} has {taken} "
            f"{command.role.value}(s) for {state.title!r} already; the quota is {limit} per "
            "delegation",
        )
    capacity = registration.capacity
    waitlisted = capacity is not None and (
        state.seats_taken >= capacity or bool(state.waiting_list)
    )
    return [
        DelegateNominated(
            event_id=next(ids),
            meeting_id=state.meeting_id,  # type: ignore[arg-type]
            nomination_id=command.nomination_id,
            organisation_id=command.organisation_id,
            person_id=command.person_id,
            role=command.role,
            funding_requested=command.funding_requested,
            waitlisted=waitlisted,
        )
    ]


def _nomination_of(state: MeetingState, nomination_id: uuid.UUID) -> Nomination:
    nomination = state.nomination(nomination_id)
    if nomination is None:
        raise UnknownReferenceError(
            "unknown-nomination", f"no nomination {nomination_id} for {state.title!r}"
        )
    return nomination


def _leave(
    state: MeetingState,
    command: WithdrawNomination | DeclineNomination,
    ids: Iterator[uuid.UUID],
    event_class: type[NominationWithdrawn] | type[NominationDeclined],
) -> list[Event]:
    nomination = _nomination_of(state, command.nomination_id)
    require(
        nomination.status.active,
        "nomination-ended",
        f"nomination {nomination.nomination_id} is {nomination.status.value} already",
    )
    events: list[Event] = [
        event_class(event_id=next(ids), meeting_id=state.meeting_id,  # type: ignore[arg-type]
                    nomination_id=nomination.nomination_id, reason=command.reason)
    ]
    if nomination.status.holds_seat and state.registration is not None:
        events.extend(_promotions(state, state.registration.capacity, ids, freed=1))
    return events


@_decides(WithdrawNomination)
def _withdraw(
    state: MeetingState, command: WithdrawNomination, _: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    return _leave(state, command, ids, NominationWithdrawn)


@_decides(DeclineNomination)
def _decline(
    state: MeetingState, command: DeclineNomination, _: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    return _leave(state, command, ids, NominationDeclined)


@_decides(ConfirmNomination)
def _confirm_nomination(
    state: MeetingState, command: ConfirmNomination, _: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    registration = _registration_of(state)
    nomination = _nomination_of(state, command.nomination_id)
    require(
        nomination.status is NominationStatus.NOMINATED,
        "waitlisted" if nomination.status is NominationStatus.WAITLISTED else "nomination-ended",
        f"nomination {nomination.nomination_id} is {nomination.status.value}: only a "
        "nomination holding a seat can be confirmed",
    )
    if command.funded:
        require(
            not registration.funded_roles or nomination.role in registration.funded_roles,
            "funding-role",
            f"only {', '.join(r.value for r in registration.funded_roles)} are funded, "
            f"not a {nomination.role.value}",
        )
        places = registration.funded_places
        require(
            places is None or state.funded_count < places,
            "funding-cap",
            f"all {places} funded places of {state.title!r} are taken",
        )
        per_delegation = registration.funded_per_delegation
        funded_here = sum(1 for n in state.delegation(nomination.organisation_id) if n.funded)
        require(
            per_delegation is None or funded_here < per_delegation,
            "funding-cap",
            f"organisation {nomination.organisation_id} has {funded_here} funded place(s) "
            f"already; the cap is {per_delegation} per delegation",
        )
    return [NominationConfirmed(event_id=next(ids), meeting_id=state.meeting_id,  # type: ignore[arg-type]
                                nomination_id=nomination.nomination_id, funded=command.funded)]


@_decides(RequestSpeaking)
def _request_speaking(
    state: MeetingState, command: RequestSpeaking, refs: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    assert state.when is not None  # noqa: S101 - a scheduled meeting has a time
    _known(command.organisation_id in refs.organisations, "organisation", command.organisation_id)
    if command.person_id is not None:
        _known(command.person_id in refs.persons, "person", command.person_id)
    require(
        state.when.contains_day(command.day),
        "day-outside-meeting",
        f"{command.day.isoformat()} is not a day of {state.title!r} "
        f"({state.when.first_day.isoformat()} to {state.when.last_day.isoformat()})",
    )
    require(
        not any(
            r.organisation_id == command.organisation_id and r.day == command.day
            for r in state.speaking
        ),
        "speaking-twice",
        f"{refs.organisation_name(command.organisation_id)} asked to speak on "
        f"{command.day.isoformat()} already",
    )
    require_text(command.topic, "topic", optional=True)
    return [
        SpeakingRequested(
            event_id=next(ids),
            meeting_id=state.meeting_id,  # type: ignore[arg-type]
            request_id=command.request_id,
            organisation_id=command.organisation_id,
            day=command.day,
            topic=command.topic,
            person_id=command.person_id,
        )
    ]


def _deadline(state: MeetingState, command: Command, refs: Refs) -> list[Event]:
    deadline_id = command.deadline_id  # type: ignore[attr-defined]
    if isinstance(command, SetDeadline):
        require(
            command.meeting_id == state.meeting_id,
            "deadline-meeting",
            f"the deadline names meeting {command.meeting_id}, not {state.meeting_id}",
        )
    return decide_deadline(state.deadline(deadline_id), command, refs.organisations)
