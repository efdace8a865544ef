"""The meeting aggregate: schedule, registration, delegations, deadlines, record.

One stream per meeting (``meeting-<id>``, :func:`meeting_stream`) is the consistency
boundary for everything the rules weigh together: the room's capacity, each delegation's
quota by role, the funded places, the registration window and the meeting's deadlines.
Sessions, days and side events are meetings of their own with a ``parent_id``; cancelling
a parent shows its children as cancelled too (the projection derives it, so no second
stream is written).

The aggregate has the domain's one face (:mod:`alliance_events.domain.common`):
``evolve(state | None, event)`` never fails; ``decide(state | None, command, refs)``
raises a :class:`~alliance_events.errors.DomainError` or returns the events. ``refs``
carries what the application looked up outside the stream: the parent meeting, and which
organisations and persons exist. Its parts:

* :mod:`~alliance_events.domain.meetings.events`: the stream's events and value objects;
* :mod:`~alliance_events.domain.meetings.state`: :class:`MeetingState`, :class:`Refs`,
  ``evolve``;
* :mod:`~alliance_events.domain.meetings.scheduling`: time, place, status, links,
  attendance and deadlines (commands and rules);
* :mod:`~alliance_events.domain.meetings.registration`: window, capacity and waiting
  list, quotas, funding, nominations, speaking (commands and rules).
"""

from __future__ import annotations

from typing import Final

from alliance_events.domain import deadlines as dl
from alliance_events.domain.common import Command, event_ids, require
from alliance_events.domain.meetings import registration, scheduling
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
from alliance_events.domain.meetings.registration import (
    DECIDED_ON_THE_SEATS,
    ChangeCapacity,
    ChangeQuota,
    ChangeRegistrationWindow,
    CloseRegistration,
    ConfirmNomination,
    DeclineNomination,
    NominateDelegate,
    OpenRegistration,
    ReopenRegistration,
    RequestSpeaking,
    WithdrawNomination,
    seats_changed,
)
from alliance_events.domain.meetings.scheduling import (
    AttachLink,
    CancelMeeting,
    ChangeMeetingDetails,
    ConfirmMeeting,
    RecordAttendance,
    ReinstateMeeting,
    RescheduleMeeting,
    ScheduleMeeting,
)
from alliance_events.domain.meetings.state import (
    MeetingState,
    Nomination,
    Refs,
    Registration,
    SpeakingRequest,
    evolve,
)
from alliance_events.domain.streams import meeting_stream
from alliance_events.errors import UnknownReferenceError
from alliance_events.events import Event

__all__ = [
    "DECIDED_ON_THE_SEATS",
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
    "seats_changed",
]

_CREATORS: Final = scheduling.CREATORS
"""Commands on a meeting that need not be scheduled yet (scheduling it)."""

_DECIDERS: Final = {**scheduling.DECIDERS, **registration.DECIDERS}
"""Every command on a scheduled meeting, and the rule that decides it."""

_ALLOWED_WHEN_CANCELLED: Final[frozenset[type[Command]]] = frozenset(
    {AttachLink, RecordAttendance, ReinstateMeeting, ChangeMeetingDetails, dl.CancelDeadline}
)
"""Commands accepted on a cancelled meeting: documented corrections only."""

_NO_REFS: Final = Refs()


def decide(state: MeetingState | None, command: Command, refs: Refs | None = None) -> list[Event]:
    """Decide a meeting command: return its events, or raise naming the broken rule.

    Raises:
        RuleViolation: a rule is broken; the message names the rule and the values.
        UnknownReferenceError: the meeting, organisation, person or nomination is unknown.
        TypeError: not a meeting command.

    """
    refs = _NO_REFS if refs is None else refs
    ids = event_ids(command)
    create = _CREATORS.get(type(command))
    if create is not None:
        return create(state, command, refs, ids)
    if state is None:
        raise UnknownReferenceError(
            "unknown-meeting",
            f"no meeting {getattr(command, 'meeting_id', '?')} is scheduled",
        )
    if state.cancelled or refs.ancestor_cancelled:
        require(
            type(command) in _ALLOWED_WHEN_CANCELLED
            and (type(command) is not ChangeMeetingDetails or scheduling.is_correction(command)),
            "meeting-cancelled",
            f"meeting {state.title!r} is cancelled"
            + ("" if state.cancelled else " (with the meeting it is part of)")
            + ": only links, attendance, corrections of its description and cancelling its "
            "deadlines are accepted",
        )
    decider = _DECIDERS.get(type(command))
    if decider is None:
        raise TypeError(f"not a meeting command: {type(command).__name__}")
    return decider(state, command, refs, ids)
