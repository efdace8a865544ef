"""A meeting's state, folded from its stream, and the one ``evolve`` that folds it.

:class:`MeetingState` is what the application decides on and what the projections keep
per meeting (the feeds read its fields); :class:`Refs` is what a decision needs from
outside the stream. ``evolve(None, event)`` starts a meeting at its ``MeetingScheduled``
(any other first event leaves it ``None``); ``evolve`` never fails, and events of other
aggregates leave the state as it is.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

import attrs
import pendulum

from alliance_events._speed import Interned
from alliance_events.domain import deadlines as dl
from alliance_events.domain.common import (
    MeetingKind,
    MeetingStatus,
    NominationStatus,
    Role,
    replace,
)
from alliance_events.domain.deadlines import Deadline
from alliance_events.domain.directory import Organisation, Person
from alliance_events.domain.meetings.events import (
    AttendanceRecorded,
    Attendee,
    CapacityChanged,
    DelegateNominated,
    Link,
    LinkAttached,
    MeetingCancelled,
    MeetingConfirmed,
    MeetingDetailsChanged,
    MeetingReinstated,
    MeetingRescheduled,
    MeetingScheduled,
    NominationConfirmed,
    NominationDeclined,
    NominationPromoted,
    NominationWaitlisted,
    NominationWithdrawn,
    Quota,
    QuotaChanged,
    RegistrationClosed,
    RegistrationOpened,
    RegistrationReopened,
    RegistrationWindowChanged,
    SpeakingRequested,
)
from alliance_events.events import Event
from alliance_events.timing import When

__all__ = [
    "Decider",
    "MeetingState",
    "Nomination",
    "Refs",
    "Registration",
    "SpeakingRequest",
    "changes_of",
    "evolve",
    "nomination_index_of",
    "unbuilt_nomination_index",
]


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
    """Everything known of one scheduled meeting, folded from its stream.

    There is none before the meeting is scheduled (``evolve`` starts from ``None``).
    ``nominations`` is in nomination order, so the waiting list is too.
    """

    meeting_id: uuid.UUID
    title: str
    kind: MeetingKind
    when: When
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
    # Where each nomination stands in ``nominations`` (derived, kept for speed: read it
    # through ``nomination()``; it is shared with the states evolved from this one, and
    # may hold their later nominations too: see ``_nominated``), and the status the
    # meeting had before it was cancelled (a reinstatement restores it).
    nomination_index: Mapping[uuid.UUID, int] = attrs.field(factory=dict, repr=False, eq=False)
    cancelled_from: MeetingStatus | None = None
    # What calendars tell of the last changes: why it was cancelled (while it is), and
    # where it was before its last move, and why it moved.
    cancel_reason: str = ""
    moved_from: When | None = None
    move_reason: str = ""

    @property
    def exists(self) -> bool:
        """Whether the meeting was scheduled: always (a state exists once it is)."""
        return True

    @property
    def cancelled(self) -> bool:
        """Whether the meeting itself is cancelled (see ``Refs`` for its parents)."""
        return self.status is MeetingStatus.CANCELLED

    def nomination(self, nomination_id: uuid.UUID) -> Nomination | None:
        """Return the nomination with that id, if any (the later one of an id twice)."""
        place = self.nomination_place(nomination_id)
        return None if place is None else self.nominations[place]

    def nomination_place(self, nomination_id: uuid.UUID) -> int | None:
        """Return where the nomination with that id stands in ``nominations``, if there."""
        index = self.nomination_index
        place = index.get(nomination_id)
        nominations = self.nominations
        if place is None:
            if len(index) >= len(nominations):
                return None  # every nomination of this state is in its index
            # An index not built yet (a state loaded from a snapshot: see
            # ``unbuilt_nomination_index``), or an id nominated twice: look.
        elif place < len(nominations) and nominations[place].nomination_id == nomination_id:
            return place
        # A later state's nomination (the index is shared), or another at that place.
        for place in range(len(nominations) - 1, -1, -1):  # an id twice: the later one
            if nominations[place].nomination_id == nomination_id:
                return place
        return None

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

    def person_name(self, person_id: uuid.UUID) -> str:
        """Return the person's name for messages (their id if unknown)."""
        person = self.persons.get(person_id)
        return str(person_id) if person is None else person.name


Decider = Callable[[MeetingState, Any, Refs, Iterator[uuid.UUID]], list[Event]]
"""A rule deciding one command on a scheduled meeting, given its refs and event ids."""


# -- evolve -----------------------------------------------------------------------------

_Changes = dict[str, Any]
_Changer = Callable[[MeetingState, Any], "_Changes | None"]
"""Returns the fields an event changes in a state, with their new values (None: none)."""
_same_id: Final = Interned[uuid.UUID](kept=100_000)
"""Equal ids as one object: the organisations' and persons' ids that states keep."""
_attendees: Final = Interned[Attendee](kept=100_000)
"""Equal attendees as one object (immutable values, shared by the meetings they attended)."""


def evolve(state: MeetingState | None, event: Event) -> MeetingState | None:
    """Apply one event of the meeting's stream to its state (never fails).

    ``None`` until the meeting is scheduled; events of other aggregates leave the state
    as it is.
    """
    if state is None:
        return _started(event) if type(event) is MeetingScheduled else None
    function = _CHANGERS.get(type(event))
    if function is None:
        return state
    changes = function(state, event)
    return state if changes is None else replace(state, **changes)


def changes_of(state: MeetingState, event: Event) -> Mapping[str, Any] | None:
    """Return the fields ``evolve(state, event)`` changes, with their new values.

    ``None``: ``evolve`` returns ``state`` itself. (``evolve`` is ``replace(state,
    **changes)``; this serves a fold that built ``state`` itself and lets no one see it
    before it is done: it may set the fields in place instead of copying the meeting's
    23 fields per event. See ``AllianceProjection``.)
    """
    function = _CHANGERS.get(type(event))
    return None if function is None else function(state, event)


def _started(event: MeetingScheduled) -> MeetingState:
    return MeetingState(
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


def _scheduled(state: MeetingState, event: MeetingScheduled) -> _Changes:
    # Scheduled again (never decided so: "meeting-exists"): the schedule is replaced.
    return {
        "meeting_id": event.meeting_id,
        "title": event.title,
        "kind": event.kind,
        "when": event.when,
        "location": event.location,
        "online_url": event.online_url,
        "parent_id": event.parent_id,
        "status": MeetingStatus.TENTATIVE if event.tentative else MeetingStatus.CONFIRMED,
        "organiser": event.organiser,
        "description": event.description,
    }


def _rescheduled(state: MeetingState, event: MeetingRescheduled) -> _Changes:
    return {
        "when": event.when, "moved_from": state.when, "move_reason": event.reason,
        "sequence": state.sequence + 1,
    }


def _details(state: MeetingState, event: MeetingDetailsChanged) -> _Changes:
    changes = {
        name: getattr(event, name)
        for name in ("title", "location", "online_url", "organiser", "description")
        if getattr(event, name) is not None
    }
    significant = event.location is not None and event.location != state.location
    return dict(sequence=state.sequence + significant, **changes)


def _confirmed(state: MeetingState, _: MeetingConfirmed) -> _Changes:
    return {"status": MeetingStatus.CONFIRMED, "sequence": state.sequence + 1}


def _cancelled(state: MeetingState, event: MeetingCancelled) -> _Changes:
    return {
        "status": MeetingStatus.CANCELLED,
        "cancelled_from": state.status,
        "cancel_reason": event.reason,
        "sequence": state.sequence + 1,
    }


def _reinstated(state: MeetingState, _: MeetingReinstated) -> _Changes:
    return {
        "status": state.cancelled_from or MeetingStatus.CONFIRMED,
        "cancelled_from": None,
        "cancel_reason": "",
        "sequence": state.sequence + 1,
    }


def _link(state: MeetingState, event: LinkAttached) -> _Changes:
    return {"links": (*state.links, event.link)}


def _attendance(state: MeetingState, event: AttendanceRecorded) -> _Changes:
    # Equal attendees as one object, with one id object per person and organisation
    # (see _nominated): the same people attend meeting after meeting for the same
    # organisation. On the projection benchmark's 1,000,000-event log, ~310,000
    # attendees are ~6,000 values (19 MiB of objects before).
    attendance = tuple(map(_same_attendee, event.attendees))
    if not state.nominations:
        return {"attendance": attendance}
    # The meeting took place: its nominations hardly change any more, so its index
    # goes, to be built again if one does (see unbuilt_nomination_index): the
    # 1,000,000-event log's 11,000 meetings kept ~20 MiB of them.
    return {"attendance": attendance, "nomination_index": {}}


def _same_attendee(attendee: Attendee) -> Attendee:
    found = _attendees.get(attendee)
    if found is None:
        found = replace(
            attendee,
            person_id=_same_id(attendee.person_id),
            organisation_id=None if attendee.organisation_id is None
            else _same_id(attendee.organisation_id),
        )
        found = _attendees(found)
    return found


def _opened(state: MeetingState, event: RegistrationOpened) -> _Changes:
    registration = Registration(
        opens_at=event.opens_at,
        closes_at=event.closes_at,
        capacity=event.capacity,
        quotas=event.quotas,
        funded_places=event.funded_places,
        funded_per_delegation=event.funded_per_delegation,
        funded_roles=event.funded_roles,
    )
    return {"registration": registration}


def _registration(state: MeetingState, **changes: Any) -> _Changes | None:
    if state.registration is None:
        return None
    return {"registration": replace(state.registration, **changes)}


def _closed(state: MeetingState, _: RegistrationClosed) -> _Changes | None:
    return _registration(state, closed=True)


def _reopened(state: MeetingState, event: RegistrationReopened) -> _Changes | None:
    return _registration(state, closed=False, closes_at=event.closes_at)


def _window(state: MeetingState, event: RegistrationWindowChanged) -> _Changes | None:
    return _registration(state, opens_at=event.opens_at, closes_at=event.closes_at)


def _capacity(state: MeetingState, event: CapacityChanged) -> _Changes | None:
    return _registration(state, capacity=event.capacity)


def _quota(state: MeetingState, event: QuotaChanged) -> _Changes | None:
    return _registration(state, quotas=event.quotas)


def _nominated(state: MeetingState, event: DelegateNominated) -> _Changes:
    nomination = Nomination(
        nomination_id=event.nomination_id,
        # The same few organisations and persons recur in hundreds of thousands of
        # nominations: one UUID object each, not one per event that named them.
        organisation_id=_same_id(event.organisation_id),
        person_id=_same_id(event.person_id),
        role=event.role,
        funding_requested=event.funding_requested,
        status=NominationStatus.WAITLISTED if event.waitlisted else NominationStatus.NOMINATED,
    )
    place = len(state.nominations)
    index = state.nomination_index
    if len(index) < place:  # not built yet (see unbuilt_nomination_index): built once
        index = nomination_index_of(state)
    if type(index) is dict and index.get(event.nomination_id, place) == place:
        # The index only grows, and a state never looks past its own nominations
        # (``MeetingState.nomination`` checks the id it finds): the new entry is invisible
        # to the states before this one, so they share it instead of each copying it
        # (a copy per nomination made a meeting's nominations cost O(n²)).
        index[event.nomination_id] = place
    else:  # that id stands elsewhere in another state evolved from an earlier one
        index = {**index, event.nomination_id: place}
    return {"nominations": (*state.nominations, nomination), "nomination_index": index}


def nomination_index_of(state: MeetingState) -> dict[uuid.UUID, int]:
    """Return a new ``nomination_index`` for ``state``: each nomination's place."""
    return {n.nomination_id: place for place, n in enumerate(state.nominations)}


def unbuilt_nomination_index(_: MeetingState) -> dict[uuid.UUID, int]:
    """Return a ``nomination_index`` for ``state`` to build when first needed: empty.

    (A meeting's attendance recorded also leaves its index to build when needed.)

    For a state loaded from a snapshot: building every meeting's index on load hashed
    half a million UUIDs (in Python: ``UUID.__hash__``) on the projection benchmark's
    1,000,000-event log, a quarter of the load, for the few meetings a later event
    touches. An index with fewer entries than the state's nominations is not built:
    ``MeetingState.nomination_place`` then looks through the nominations, and the
    first ``evolve`` that changes them builds it.
    """
    return {}


def _nomination(state: MeetingState, nomination_id: uuid.UUID, **changes: Any) -> _Changes | None:
    nominations = state.nominations
    built: _Changes = {}
    if len(state.nomination_index) < len(nominations):  # not built yet: built once
        built["nomination_index"] = nomination_index_of(state)
        state = replace(state, **built)
    index = state.nomination_place(nomination_id)
    if index is None:
        return built or None
    changed = replace(nominations[index], **changes)
    built["nominations"] = (*nominations[:index], changed, *nominations[index + 1 :])
    return built


def _nomination_status(status: NominationStatus, **extra: Any) -> _Changer:
    def change(state: MeetingState, event: Any) -> _Changes | None:
        return _nomination(state, event.nomination_id, status=status, **extra)

    return change


def _nomination_confirmed(state: MeetingState, event: NominationConfirmed) -> _Changes | None:
    return _nomination(
        state, event.nomination_id, status=NominationStatus.CONFIRMED, funded=event.funded
    )


def _speaking(state: MeetingState, event: SpeakingRequested) -> _Changes:
    request = SpeakingRequest(
        request_id=event.request_id,
        organisation_id=event.organisation_id,
        day=event.day,
        topic=event.topic,
        person_id=event.person_id,
    )
    return {"speaking": (*state.speaking, request)}


def _deadline_set(state: MeetingState, event: dl.DeadlineSet) -> _Changes:
    deadline = dl.evolve(None, event)
    assert deadline is not None  # noqa: S101 - DeadlineSet always makes one
    return {"deadlines": (*state.deadlines, deadline)}


def _deadline_changed(state: MeetingState, event: Any) -> _Changes:
    deadlines = tuple(
        (dl.evolve(d, event) or d) if d.deadline_id == event.deadline_id else d
        for d in state.deadlines
    )
    return {"deadlines": deadlines}


_CHANGERS: Final[Mapping[type[Event], _Changer]] = {
    # the schedule and status (scheduling.py)
    MeetingScheduled: _scheduled,
    MeetingRescheduled: _rescheduled,
    MeetingDetailsChanged: _details,
    MeetingConfirmed: _confirmed,
    MeetingCancelled: _cancelled,
    MeetingReinstated: _reinstated,
    LinkAttached: _link,
    AttendanceRecorded: _attendance,
    # the registration (registration.py)
    RegistrationOpened: _opened,
    RegistrationClosed: _closed,
    RegistrationReopened: _reopened,
    RegistrationWindowChanged: _window,
    CapacityChanged: _capacity,
    QuotaChanged: _quota,
    DelegateNominated: _nominated,
    NominationPromoted: _nomination_status(NominationStatus.NOMINATED),
    NominationWaitlisted: _nomination_status(NominationStatus.WAITLISTED),
    NominationWithdrawn: _nomination_status(NominationStatus.WITHDRAWN, funded=False),
    NominationDeclined: _nomination_status(NominationStatus.DECLINED, funded=False),
    NominationConfirmed: _nomination_confirmed,
    SpeakingRequested: _speaking,
    # the meeting's deadlines (deadlines.py's events, kept in the meeting's state)
    dl.DeadlineSet: _deadline_set,
    dl.DeadlineExtended: _deadline_changed,
    dl.DeadlineCancelled: _deadline_changed,
    dl.DeadlineReminderSent: _deadline_changed,
}
