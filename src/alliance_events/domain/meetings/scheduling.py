"""Scheduling a meeting: its time, place, status, links, attendance and deadlines.

The commands that put a meeting in the calendar and change what calendars show of it,
and the rules that decide them (the registration's are in
:mod:`~alliance_events.domain.meetings.registration`). A cancelled meeting (or one whose
parent is) accepts only corrections: :func:`alliance_events.domain.meetings.decide`
checks that before any rule here.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

import attrs

from alliance_events.domain import deadlines as dl
from alliance_events.domain.common import (
    Command,
    LinkKind,
    MeetingKind,
    MeetingStatus,
    require,
    require_known,
    require_text,
)
from alliance_events.domain.meetings.events import (
    AttendanceRecorded,
    Attendee,
    Link,
    LinkAttached,
    MeetingCancelled,
    MeetingConfirmed,
    MeetingDetailsChanged,
    MeetingReinstated,
    MeetingRescheduled,
    MeetingScheduled,
)
from alliance_events.domain.meetings.state import Decider, MeetingState, Refs
from alliance_events.errors import UnknownReferenceError
from alliance_events.events import Event
from alliance_events.timing import AllDay, Timed, When, is_named_zone

__all__ = [
    "CREATORS",
    "DECIDERS",
    "AttachLink",
    "CancelMeeting",
    "ChangeMeetingDetails",
    "ConfirmMeeting",
    "RecordAttendance",
    "ReinstateMeeting",
    "RescheduleMeeting",
    "ScheduleMeeting",
    "is_correction",
]

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



# -- rules ------------------------------------------------------------------------------


def is_correction(command: ChangeMeetingDetails) -> bool:
    """Whether a change of details only corrects the text (a cancelled meeting takes it)."""
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


def _check_parent(command: ScheduleMeeting, refs: Refs) -> None:
    parent = refs.parent
    if parent is None:
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


def _start_instant(when: When) -> _dt.datetime:
    if isinstance(when, Timed):
        return when.start
    # An all-day meeting starts at the first day's midnight, wherever one is: take UTC+14.
    first = when.first
    earliest = _dt.timezone(_dt.timedelta(hours=14))
    return _dt.datetime(first.year, first.month, first.day, tzinfo=earliest)


# -- deciders ---------------------------------------------------------------------------


def _schedule(
    state: MeetingState | None, command: ScheduleMeeting, refs: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    require(state is None, "meeting-exists", f"meeting {command.meeting_id} exists already")
    require_text(command.title, "title")
    for field in ("location", "organiser"):
        require_text(getattr(command, field), field, optional=True)
    require_text(command.description, "description", limit=20_000, optional=True)
    _check_url(command.online_url, "online_url")
    _check_when(command.when)
    if command.parent_id is not None:
        _check_parent(command, refs)
    fields = {
        name: getattr(command, name)
        for name in (
            "meeting_id", "title", "kind", "when", "location", "online_url", "parent_id",
            "tentative", "organiser", "description",
        )
    }
    return [MeetingScheduled(event_id=next(ids), **fields)]


def _reschedule(
    state: MeetingState, command: RescheduleMeeting, _: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    _check_when(command.when)
    require(
        command.when != state.when, "no-change", f"meeting {state.title!r} is at that time already"
    )
    return [MeetingRescheduled(event_id=next(ids), meeting_id=state.meeting_id,
                               when=command.when, reason=command.reason)]


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
    return [MeetingDetailsChanged(event_id=next(ids), meeting_id=state.meeting_id, **changes)]


def _confirm(
    state: MeetingState, _: ConfirmMeeting, __: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    require(
        state.status is MeetingStatus.TENTATIVE,
        "not-tentative",
        f"meeting {state.title!r} is {state.status.value}, not tentative",
    )
    return [MeetingConfirmed(event_id=next(ids), meeting_id=state.meeting_id)]


def _cancel(
    state: MeetingState, command: CancelMeeting, _: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    return [MeetingCancelled(event_id=next(ids), meeting_id=state.meeting_id,
                             reason=command.reason)]


def _reinstate(
    state: MeetingState, command: ReinstateMeeting, _: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    require(state.cancelled, "not-cancelled", f"meeting {state.title!r} is not cancelled")
    require_text(command.reason, "reason")
    return [MeetingReinstated(event_id=next(ids), meeting_id=state.meeting_id,
                              reason=command.reason)]


def _attach(
    state: MeetingState, command: AttachLink, _: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    require(bool(command.url), "url", "a link needs a url")
    _check_url(command.url, "url")
    require_text(command.title, "title", optional=True)
    link = Link(kind=command.kind, url=command.url, title=command.title)
    return [LinkAttached(event_id=next(ids), meeting_id=state.meeting_id, link=link)]


def _attend(
    state: MeetingState, command: RecordAttendance, refs: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    starts = _start_instant(state.when)
    require(
        command.at >= starts,
        "attendance-before-start",
        f"attendance of {state.title!r} can be recorded once it has started "
        f"({starts.isoformat()}), not at {command.at.isoformat()}",
    )
    seen: set[uuid.UUID] = set()
    for attendee in command.attendees:
        require_known(attendee.person_id in refs.persons, "person", attendee.person_id)
        if attendee.organisation_id is not None:
            require_known(attendee.organisation_id in refs.organisations, "organisation",
                          attendee.organisation_id)
        require(attendee.person_id not in seen, "attendee-twice",
                f"person {attendee.person_id} is listed twice")
        seen.add(attendee.person_id)
    return [AttendanceRecorded(event_id=next(ids), meeting_id=state.meeting_id,
                               attendees=command.attendees)]


def _set_deadline(
    state: MeetingState, command: dl.SetDeadline, refs: Refs, _: Iterator[uuid.UUID]
) -> list[Event]:
    require(
        command.meeting_id == state.meeting_id,
        "deadline-meeting",
        f"the deadline names meeting {command.meeting_id}, not {state.meeting_id}",
    )
    return dl.decide(state.deadline(command.deadline_id), command, refs.organisations)


def _on_deadline(
    state: MeetingState,
    command: dl.ExtendDeadline | dl.CancelDeadline | dl.RecordReminderSent,
    refs: Refs,
    _: Iterator[uuid.UUID],
) -> list[Event]:
    return dl.decide(state.deadline(command.deadline_id), command, refs.organisations)


_Creator = Callable[[MeetingState | None, Any, Refs, Iterator[uuid.UUID]], list[Event]]

CREATORS: Final[Mapping[type[Command], _Creator]] = {
    ScheduleMeeting: _schedule,
}
"""The commands deciding on a meeting that need not exist yet, and their deciders."""

DECIDERS: Final[Mapping[type[Command], Decider]] = {
    RescheduleMeeting: _reschedule,
    ChangeMeetingDetails: _change_details,
    ConfirmMeeting: _confirm,
    CancelMeeting: _cancel,
    ReinstateMeeting: _reinstate,
    AttachLink: _attach,
    RecordAttendance: _attend,
    dl.SetDeadline: _set_deadline,
    dl.ExtendDeadline: _on_deadline,
    dl.CancelDeadline: _on_deadline,
    dl.RecordReminderSent: _on_deadline,
}
"""The scheduling commands on a scheduled meeting, and their deciders."""
