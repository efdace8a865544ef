"""The registration state the secretariat reads: per meeting, who is coming, and what is due.

Built from :class:`~alliance_events.projections.alliance.AllianceState` at a given time
(the registration window and the deadlines depend on *when* one looks).
"""

from __future__ import annotations

import datetime as _dt
import uuid

import attrs
import pendulum

from alliance_events.domain.common import MeetingKind, MeetingStatus, NominationStatus, Role
from alliance_events.domain.deadlines import Deadline, DeadlineKind, due_instant
from alliance_events.domain.meetings import MeetingState, Nomination
from alliance_events.projections.alliance import AllianceState
from alliance_events.timing import When

__all__ = [
    "DeadlineView",
    "DelegateView",
    "DelegationView",
    "MeetingView",
    "RegistrationView",
    "deadline_view",
    "meeting_view",
    "registration_view",
]


@attrs.frozen(kw_only=True)
class DelegateView:
    """One nominated delegate, as the secretariat sees it."""

    nomination_id: uuid.UUID
    organisation_id: uuid.UUID
    organisation: str
    person_id: uuid.UUID
    person: str
    role: Role
    status: NominationStatus
    funding_requested: bool
    funded: bool
    waiting_position: int | None = None  # 1 = next to get a seat


@attrs.frozen(kw_only=True)
class DelegationView:
    """One organisation's delegation to a meeting."""

    organisation_id: uuid.UUID
    organisation: str
    delegates: tuple[DelegateView, ...]


@attrs.frozen(kw_only=True)
class DeadlineView:
    """A deadline and where it stands at the time looked at."""

    deadline_id: uuid.UUID
    title: str
    kind: DeadlineKind
    due: pendulum.DateTime
    meeting_id: uuid.UUID | None
    organisation_id: uuid.UUID | None
    public: bool
    status: str  # "upcoming", "due soon" (within its reminders), "overdue", "cancelled"
    reminders: tuple[pendulum.DateTime, ...]
    extensions: int


@attrs.frozen(kw_only=True)
class MeetingView:
    """A meeting in a listing."""

    meeting_id: uuid.UUID
    title: str
    kind: MeetingKind
    when: When
    status: MeetingStatus  # effective: cancelled if a meeting it is part of is
    location: str
    online_url: str
    parent_id: uuid.UUID | None
    organiser: str
    description: str
    sequence: int
    links: tuple[tuple[str, str, str], ...]  # (kind, url, title)


@attrs.frozen(kw_only=True)
class RegistrationView:
    """A meeting's registration state at one time."""

    meeting: MeetingView
    at: pendulum.DateTime
    window: str  # "none", "not yet open", "open", "closed"
    opens_at: pendulum.DateTime | None
    closes_at: pendulum.DateTime | None
    capacity: int | None
    seats_taken: int
    seats_free: int | None
    quotas: tuple[tuple[Role, int], ...]
    funded_places: int | None
    funded_per_delegation: int | None
    funded_used: int
    delegations: tuple[DelegationView, ...]
    waiting_list: tuple[DelegateView, ...]
    deadlines: tuple[DeadlineView, ...]
    speaking: tuple[tuple[str, pendulum.Date, str], ...]  # (organisation, day, topic)


def deadline_view(
    deadline: Deadline, at: _dt.datetime, *, meeting_cancelled: bool = False
) -> DeadlineView:
    """Describe ``deadline`` as it stands at ``at``.

    The deadline of a cancelled meeting (or of one in a cancelled meeting) shows as
    cancelled: nothing is due for a meeting that will not take place.
    """
    due = due_instant(deadline.due)
    reminders = tuple(deadline.reminder_times())
    if deadline.cancelled or meeting_cancelled:
        status = "cancelled"
    elif at >= due:
        status = "overdue"
    elif reminders and at >= reminders[0]:
        status = "due soon"
    else:
        status = "upcoming"
    return DeadlineView(
        deadline_id=deadline.deadline_id,
        title=deadline.title,
        kind=deadline.kind,
        due=due,
        meeting_id=deadline.meeting_id,
        organisation_id=deadline.organisation_id,
        public=deadline.public,
        status=status,
        reminders=reminders,
        extensions=deadline.extensions,
    )


def meeting_view(state: AllianceState, meeting: MeetingState) -> MeetingView:
    """Describe a scheduled meeting (with its effective status)."""
    assert meeting.meeting_id is not None  # noqa: S101 - only scheduled meetings are listed
    assert meeting.when is not None  # noqa: S101 - a scheduled meeting has a time
    return MeetingView(
        meeting_id=meeting.meeting_id,
        title=meeting.title,
        kind=meeting.kind,
        when=meeting.when,
        status=state.effective_status(meeting.meeting_id),
        location=meeting.location,
        online_url=meeting.online_url,
        parent_id=meeting.parent_id,
        organiser=meeting.organiser,
        description=meeting.description,
        sequence=meeting.sequence,
        links=tuple((link.kind.value, link.url, link.title) for link in meeting.links),
    )


def _delegate(state: AllianceState, nomination: Nomination, waiting: int | None) -> DelegateView:
    return DelegateView(
        nomination_id=nomination.nomination_id,
        organisation_id=nomination.organisation_id,
        organisation=state.organisation_name(nomination.organisation_id),
        person_id=nomination.person_id,
        person=state.person_name(nomination.person_id),
        role=nomination.role,
        status=nomination.status,
        funding_requested=nomination.funding_requested,
        funded=nomination.funded,
        waiting_position=waiting,
    )


def registration_view(
    state: AllianceState, meeting: MeetingState, at: _dt.datetime
) -> RegistrationView:
    """Describe a meeting's registration as it stands at ``at``."""
    waiting_ids = {n.nomination_id: i + 1 for i, n in enumerate(meeting.waiting_list)}
    delegates = [
        _delegate(state, n, waiting_ids.get(n.nomination_id)) for n in meeting.nominations
    ]
    order: dict[uuid.UUID, list[DelegateView]] = {}
    for delegate in delegates:
        order.setdefault(delegate.organisation_id, []).append(delegate)
    registration = meeting.registration
    moment = pendulum.instance(at)
    view = meeting_view(state, meeting)
    return RegistrationView(
        meeting=view,
        at=moment,
        window="none" if registration is None else registration.status(at),
        opens_at=None if registration is None else registration.opens_at,
        closes_at=None if registration is None else registration.closes_at,
        capacity=None if registration is None else registration.capacity,
        seats_taken=meeting.seats_taken,
        seats_free=meeting.seats_free,
        quotas=()
        if registration is None
        else tuple((q.role, q.limit) for q in registration.quotas),
        funded_places=None if registration is None else registration.funded_places,
        funded_per_delegation=None if registration is None else registration.funded_per_delegation,
        funded_used=meeting.funded_count,
        delegations=tuple(
            DelegationView(
                organisation_id=organisation_id,
                organisation=members[0].organisation,
                delegates=tuple(members),
            )
            for organisation_id, members in order.items()
        ),
        waiting_list=tuple(d for d in delegates if d.waiting_position is not None),
        deadlines=tuple(
            deadline_view(d, at, meeting_cancelled=view.status is MeetingStatus.CANCELLED)
            for d in meeting.deadlines
        ),
        speaking=tuple(
            (state.organisation_name(r.organisation_id), r.day, r.topic) for r in meeting.speaking
        ),
    )
