"""Deadlines: "send the names of participants by the 1st of May", calls with reminders.

A deadline tied to a meeting lives in the meeting's stream (the nomination rules read
it); a stand-alone one (a call for nominations) in a stream of its own,
``deadline-<id>`` (:func:`deadline_stream`). Both use these events, this ``evolve`` and
this ``decide``.

A deadline is due *at* an instant (``DueAt``: 17:00 Vienna on 1 May) or *by* a day
(``DueBy``: the whole of 1 May in Vienna; overdue from midnight). Reminders are
durations before it (``P7D``, ``P1D``); the mailing tool records each reminder it sends.
"""

from __future__ import annotations

import datetime as _dt
import enum
import uuid
from collections.abc import Callable, Container, Iterator, Mapping
from typing import Any, Final

import attrs
import pendulum

from alliance_events.domain.common import (
    Command,
    event_ids,
    require,
    require_known,
    require_text,
    shared_fields,
)
from alliance_events.domain.streams import deadline_stream
from alliance_events.errors import UnknownReferenceError
from alliance_events.events import Event
from alliance_events.timing import DEFAULT_ZONE, TimingError, end_of_day, zone

__all__ = [
    "CancelDeadline",
    "Deadline",
    "DeadlineCancelled",
    "DeadlineExtended",
    "DeadlineKind",
    "DeadlineReminderSent",
    "DeadlineSet",
    "Due",
    "DueAt",
    "DueBy",
    "ExtendDeadline",
    "RecordReminderSent",
    "SetDeadline",
    "deadline_stream",
    "decide",
    "due_instant",
    "evolve",
    "reminder_instant",
]


class DeadlineKind(enum.Enum):
    """What is due."""

    NAMES = "names"  # the names of a delegation's participants (nominations close)
    REGISTRATION = "registration"
    NOMINATIONS = "nominations"  # a call for nominations (candidates for a post)
    SUBMISSION = "submission"
    OTHER = "other"


@attrs.frozen(kw_only=True)
class DueAt:
    """Due at an exact instant, kept in its zone (17:00 Europe/Vienna)."""

    at: pendulum.DateTime


@attrs.frozen(kw_only=True)
class DueBy:
    """Due by the end of a day in a zone ("by the 1st of May", Vienna)."""

    day: pendulum.Date
    zone: str = DEFAULT_ZONE


Due = DueAt | DueBy


def due_instant(due: Due) -> pendulum.DateTime:
    """Return the instant from which the deadline is overdue."""
    if isinstance(due, DueAt):
        return due.at
    return end_of_day(due.day, due.zone)


def reminder_instant(due: pendulum.DateTime, reminder: _dt.timedelta) -> pendulum.DateTime:
    """Return when a reminder ``reminder`` before ``due`` falls.

    Its whole days are calendar days in the due time's zone, as iCalendar reads ``P7D``
    (RFC 5545 3.3.6: a day's length depends on its place in the calendar): a week before
    2 April 00:00 in Vienna is 26 March 00:00, in winter time, 7 x 24 hours and one
    more before. The rest (``PT2H``) is exact.

    >>> due = pendulum.datetime(2027, 4, 2, tz="Europe/Vienna")
    >>> reminder_instant(due, pendulum.duration(days=7)).isoformat()
    '2027-03-26T00:00:00+01:00'
    >>> reminder_instant(due, pendulum.duration(hours=2)).isoformat()
    '2027-04-01T22:00:00+02:00'
    """
    days = reminder.days
    rest = reminder - _dt.timedelta(days=days)
    local = due.subtract(days=days) if days else due
    return local - rest if rest else local


# -- events ---------------------------------------------------------------------------
# Registered under their type names by the list in catalog.py, not here.


@attrs.frozen(kw_only=True)
class DeadlineSet(Event):
    """A deadline was set, for a meeting (``meeting_id``) or on its own."""

    deadline_id: uuid.UUID
    title: str
    due: Due
    kind: DeadlineKind = DeadlineKind.OTHER
    meeting_id: uuid.UUID | None = None
    organisation_id: uuid.UUID | None = None  # only this organisation's deadline
    reminders: tuple[pendulum.Duration, ...] = ()
    public: bool = True
    description: str = ""


@attrs.frozen(kw_only=True)
class DeadlineExtended(Event):
    """A deadline was moved later."""

    deadline_id: uuid.UUID
    due: Due
    reason: str = ""


@attrs.frozen(kw_only=True)
class DeadlineCancelled(Event):
    """A deadline no longer applies."""

    deadline_id: uuid.UUID
    reason: str = ""


@attrs.frozen(kw_only=True)
class DeadlineReminderSent(Event):
    """A reminder of the deadline went out (by e-mail, say), as the mailing tool reports."""

    deadline_id: uuid.UUID
    channel: str = "e-mail"
    note: str = ""


# -- state ----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Deadline:
    """What is known of one deadline."""

    deadline_id: uuid.UUID
    title: str
    due: Due
    kind: DeadlineKind
    meeting_id: uuid.UUID | None
    organisation_id: uuid.UUID | None
    reminders: tuple[pendulum.Duration, ...]
    public: bool
    description: str
    cancelled: bool = False
    extensions: int = 0
    reminders_sent: int = 0
    sequence: int = 0  # significant changes (due, cancellation), for calendars

    def overdue(self, at: _dt.datetime) -> bool:
        """Whether it has passed at ``at`` (a cancelled deadline is never overdue)."""
        return not self.cancelled and at >= due_instant(self.due)

    def reminder_times(self) -> list[pendulum.DateTime]:
        """Return the instants its reminders fall on, earliest first."""
        due = due_instant(self.due)
        return sorted(reminder_instant(due, reminder) for reminder in self.reminders)


def _set(_: Deadline | None, event: DeadlineSet) -> Deadline:
    return Deadline(
        deadline_id=event.deadline_id,
        title=event.title,
        due=event.due,
        kind=event.kind,
        meeting_id=event.meeting_id,
        organisation_id=event.organisation_id,
        reminders=event.reminders,
        public=event.public,
        description=event.description,
    )


def _extended(state: Deadline, event: DeadlineExtended) -> Deadline:
    return attrs.evolve(
        state, due=event.due, extensions=state.extensions + 1, sequence=state.sequence + 1
    )


def _cancelled(state: Deadline, _: DeadlineCancelled) -> Deadline:
    return attrs.evolve(state, cancelled=True, sequence=state.sequence + 1)


def _reminded(state: Deadline, _: DeadlineReminderSent) -> Deadline:
    return attrs.evolve(state, reminders_sent=state.reminders_sent + 1)


_STARTERS: Final[Mapping[type[Event], Callable[[None, Any], Deadline]]] = {DeadlineSet: _set}
"""What a deadline's first event makes of it (any other first event: nothing)."""

_EVOLVERS: Final[Mapping[type[Event], Callable[[Deadline, Any], Deadline]]] = {
    DeadlineSet: _set,
    DeadlineExtended: _extended,
    DeadlineCancelled: _cancelled,
    DeadlineReminderSent: _reminded,
}


def evolve(state: Deadline | None, event: Event) -> Deadline | None:
    """Apply one deadline event to the deadline's state (never fails)."""
    if state is None:
        start = _STARTERS.get(type(event))
        return None if start is None else start(None, event)
    change = _EVOLVERS.get(type(event))
    return state if change is None else change(state, event)


# -- commands -------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class SetDeadline(Command):
    """Set a deadline (for a meeting, when ``meeting_id`` is given)."""

    deadline_id: uuid.UUID
    title: str
    due: Due
    kind: DeadlineKind = DeadlineKind.OTHER
    meeting_id: uuid.UUID | None = None
    organisation_id: uuid.UUID | None = None
    reminders: tuple[pendulum.Duration, ...] = ()
    public: bool = True
    description: str = ""


@attrs.frozen(kw_only=True)
class ExtendDeadline(Command):
    """Move a deadline later."""

    deadline_id: uuid.UUID
    due: Due
    reason: str = ""


@attrs.frozen(kw_only=True)
class CancelDeadline(Command):
    """Cancel a deadline."""

    deadline_id: uuid.UUID
    reason: str = ""


@attrs.frozen(kw_only=True)
class RecordReminderSent(Command):
    """Record that a reminder of a deadline was sent."""

    deadline_id: uuid.UUID
    channel: str = "e-mail"
    note: str = ""


def _check_due(due: Due) -> None:
    require(isinstance(due, (DueAt, DueBy)), "due", f"due must be DueAt or DueBy, got {due!r}")
    if isinstance(due, DueBy):
        try:
            zone(due.zone)
        except TimingError as error:
            require(False, "zone", str(error))  # noqa: FBT003
    else:
        require(
            due.at.utcoffset() is not None, "zone", f"deadline {due.at!r} needs a zone"
        )


def _set_deadline(
    state: Deadline | None,
    command: SetDeadline,
    organisations: Container[uuid.UUID],
    ids: Iterator[uuid.UUID],
) -> list[Event]:
    require(state is None, "deadline-exists", f"deadline {command.deadline_id} is set already")
    if command.organisation_id is not None:
        require_known(command.organisation_id in organisations, "organisation",
                      command.organisation_id)
    require_text(command.title, "title")
    _check_due(command.due)
    for reminder in command.reminders:
        require(
            isinstance(reminder, _dt.timedelta) and reminder > _dt.timedelta(0),
            "reminder",
            f"a reminder is a positive duration before the deadline, got {reminder!r}",
        )
    require(
        len(set(command.reminders)) == len(command.reminders),
        "reminder",
        "the same reminder is given twice",
    )
    return [DeadlineSet(event_id=next(ids), **shared_fields(command, DeadlineSet))]


def _extend(
    state: Deadline, command: ExtendDeadline, _: object, ids: Iterator[uuid.UUID]
) -> list[Event]:
    _check_due(command.due)
    old, new = due_instant(state.due), due_instant(command.due)
    require(
        new > old,
        "extend-later",
        f"an extension must move deadline {state.title!r} later: it is due "
        f"{old.isoformat()}, the new time {new.isoformat()} is not later",
    )
    return [DeadlineExtended(event_id=next(ids), deadline_id=state.deadline_id,
                             due=command.due, reason=command.reason)]


def _cancel(
    state: Deadline, command: CancelDeadline, _: object, ids: Iterator[uuid.UUID]
) -> list[Event]:
    return [DeadlineCancelled(event_id=next(ids), deadline_id=state.deadline_id,
                              reason=command.reason)]


def _record_reminder(
    state: Deadline, command: RecordReminderSent, _: object, ids: Iterator[uuid.UUID]
) -> list[Event]:
    return [DeadlineReminderSent(event_id=next(ids), deadline_id=state.deadline_id,
                                 channel=command.channel, note=command.note)]


_Decider = Callable[[Any, Any, Container[uuid.UUID], Iterator[uuid.UUID]], list[Event]]
_CREATORS: Final[Mapping[type[Command], _Decider]] = {SetDeadline: _set_deadline}
"""Commands deciding on a deadline that need not exist yet (the others need one)."""

_DECIDERS: Final[Mapping[type[Command], _Decider]] = {
    ExtendDeadline: _extend,
    CancelDeadline: _cancel,
    RecordReminderSent: _record_reminder,
}


def decide(
    state: Deadline | None,
    command: Command,
    refs: Container[uuid.UUID] = frozenset(),
) -> list[Event]:
    """Decide a deadline command against the deadline's state.

    ``refs`` holds the ids of the known organisations (an organisation's own deadline
    must name one of them).

    Raises:
        RuleViolation: a rule is broken (empty title, reminders not before the deadline,
            an extension that is not later, a change to a cancelled deadline).
        UnknownReferenceError: the deadline does not exist.
        TypeError: not a deadline command.

    """
    ids = event_ids(command)
    create = _CREATORS.get(type(command))
    if create is not None:
        return create(state, command, refs, ids)
    if state is None:
        raise UnknownReferenceError(
            "unknown-deadline", f"no deadline {getattr(command, 'deadline_id', '?')} is set"
        )
    require(
        not state.cancelled, "deadline-cancelled", f"deadline {state.title!r} is cancelled"
    )
    decider = _DECIDERS.get(type(command))
    if decider is None:
        raise TypeError(f"not a deadline command: {command!r}")
    return decider(state, command, refs, ids)

