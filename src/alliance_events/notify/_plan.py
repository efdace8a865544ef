"""What the outbox sends, to whom, and when: pure functions of the alliance's state.

Three causes, each with a message id derived from it (so that deciding twice is seen):

* a **deadline's reminder** (``DeadlineSet(reminders=(P7D,))``): at each reminder's
  instant, one message to every organisation that still owes what the deadline asks for.
  For the names of a meeting's delegation (kinds ``names`` and ``registration``), an
  organisation owes until it has named as many delegates as the meeting's quotas allow
  (one, without quotas); for the other kinds nothing in the log says who is done, so
  every organisation concerned is reminded (the organisation of an organisation's own
  deadline, else every member);
* an **urgent change**: a meeting cancelled or moved when it (or where it was) starts
  within the horizon of the change (7 days by default), to the organisations concerned
  (those with a delegate in it, or every member when it takes no nominations);
* a **nomination's news**: a seat from the waiting list, a confirmation (funded or not),
  to the nominee and the organisation's focal point.

Messages go to an organisation's focal point (and, for a nomination, the nominee); the
text holds no personal data (names are added when the e-mail is built).
"""

from __future__ import annotations

import datetime as _dt
import uuid
from collections.abc import Iterator
from typing import Final

import attrs
import pendulum

from alliance_events.domain import meetings as mt
from alliance_events.domain.common import NominationStatus
from alliance_events.domain.deadlines import (
    Deadline,
    DeadlineKind,
    DueAt,
    due_instant,
    reminder_instant,
)
from alliance_events.domain.outbox import MessageKind
from alliance_events.log.base import Recorded
from alliance_events.projections.alliance import AllianceState
from alliance_events.timing import (
    DEFAULT_ZONE,
    AllDay,
    When,
    describe_moment,
    describe_when,
    zone_label,
)

__all__ = [
    "MESSAGE_NAMESPACE",
    "Planned",
    "focal_point",
    "for_record",
    "owing",
    "reminders",
    "starts_at",
]

MESSAGE_NAMESPACE: Final = uuid.UUID("4b0f6a52-1d1c-5a8e-9a53-6f1a2e9c0d77")
"""The namespace of message ids (uuid5 of the message's cause)."""

_NAMES_KINDS: Final = (DeadlineKind.NAMES, DeadlineKind.REGISTRATION)


@attrs.frozen(kw_only=True)
class Planned:
    """A message the outbox should decide: its cause's id, recipients and text."""

    message_id: uuid.UUID
    kind: MessageKind
    organisation_id: uuid.UUID
    recipients: tuple[uuid.UUID, ...]  # persons; empty: nobody to write to
    due_at: pendulum.DateTime
    subject: str
    lines: tuple[str, ...]
    item_id: uuid.UUID | None


def message_id(*cause: object) -> uuid.UUID:
    """Return the id of the message with this cause (the same cause, the same id)."""
    return uuid.uuid5(MESSAGE_NAMESPACE, "/".join(str(part) for part in cause))


def focal_point(state: AllianceState, organisation_id: uuid.UUID) -> uuid.UUID | None:
    """Return the organisation's focal point, if it is still a person of it with an address."""
    organisation = state.organisations.get(organisation_id)
    person_id = None if organisation is None else organisation.focal_point
    person = None if person_id is None else state.persons.get(person_id)
    if person is None or person.organisation_id != organisation_id or not person.email:
        return None
    return person.person_id


def starts_at(when: When) -> pendulum.DateTime:
    """Return the instant something starts (an all-day one: midnight in Vienna)."""
    if isinstance(when, AllDay):
        return pendulum.datetime(when.first.year, when.first.month, when.first.day,
                                 tz=DEFAULT_ZONE)
    return when.start


# -- deadlines --------------------------------------------------------------------------


def _describe_due(deadline: Deadline) -> str:
    due = deadline.due
    if isinstance(due, DueAt):
        return f"at {describe_moment(due.at)}"
    return f"by {due.day.strftime('%d %b %Y')} (until the end of the day, {due.zone})"


def _short_due(deadline: Deadline) -> str:
    due = deadline.due
    if isinstance(due, DueAt):
        return f"{due.at.day} {due.at.strftime('%b %Y %H:%M')} {zone_label(due.at)}"
    return f"by {due.day.day} {due.day.strftime('%b %Y')}"


def _members(state: AllianceState, deadline: Deadline) -> list[uuid.UUID]:
    if deadline.organisation_id is not None:
        return [deadline.organisation_id] if deadline.organisation_id in state.organisations \
            else []
    return sorted((o.organisation_id for o in state.organisations.values() if o.member), key=str)


def owing(
    state: AllianceState, deadline: Deadline
) -> Iterator[tuple[uuid.UUID, str]]:
    """Yield each organisation that still owes what ``deadline`` asks, with a line saying so."""
    meeting = None if deadline.meeting_id is None else state.meetings.get(deadline.meeting_id)
    counts_names = meeting is not None and deadline.kind in _NAMES_KINDS
    needed = 1
    if meeting is not None and meeting.registration is not None and meeting.registration.quotas:
        needed = sum(quota.limit for quota in meeting.registration.quotas)
    for organisation_id in _members(state, deadline):
        if not counts_names or meeting is None:
            yield organisation_id, ""
            continue
        named = sum(
            1 for n in meeting.nominations
            if n.organisation_id == organisation_id and n.status.active
        )
        if named >= needed:
            continue
        said = "no one yet" if named == 0 else f"{named} of {needed}"
        yield organisation_id, f"Your delegation has named {said}."


def _cancelled(state: AllianceState, deadline: Deadline) -> bool:
    if deadline.cancelled:
        return True
    if deadline.meeting_id is None:
        return False
    chain = [state.meetings.get(deadline.meeting_id), *state.ancestors(deadline.meeting_id)]
    return any(m is None or m.cancelled for m in chain)


def reminders(
    state: AllianceState, after: _dt.datetime, until: _dt.datetime
) -> Iterator[Planned]:
    """Yield the reminders due from ``after`` to ``until`` (both included), in time order.

    A reminder whose instant came before its deadline was set is no reminder: none.
    """
    found: list[Planned] = []
    for deadline in state.all_deadlines():
        if _cancelled(state, deadline):
            continue
        touched = state.touched.get(deadline.deadline_id)
        earliest = after if touched is None else max(after, touched.created)
        due = due_instant(deadline.due)
        for reminder in deadline.reminders:
            moment = reminder_instant(due, reminder)
            if earliest <= moment <= until:
                found.extend(_reminder(state, deadline, reminder, moment, due))
    found.sort(key=lambda p: (p.due_at, str(p.message_id)))
    return iter(found)


def _reminder(
    state: AllianceState,
    deadline: Deadline,
    reminder: _dt.timedelta,
    moment: pendulum.DateTime,
    due: pendulum.DateTime,
) -> Iterator[Planned]:
    meeting = None if deadline.meeting_id is None else state.meetings.get(deadline.meeting_id)
    subject = f"Reminder: {deadline.title}, due {_short_due(deadline)}"
    head = [f"{deadline.title} is due {_describe_due(deadline)}."]
    if meeting is not None:
        head.append(f"For: {meeting.title}, {describe_when(meeting.when)}.")
    if deadline.description:
        head.append(deadline.description)
    for organisation_id, progress in owing(state, deadline):
        recipient = focal_point(state, organisation_id)
        yield Planned(
            message_id=message_id("reminder", deadline.deadline_id, due.isoformat(),
                                  pendulum.Duration(seconds=reminder.total_seconds()),
                                  organisation_id),
            kind=MessageKind.REMINDER,
            organisation_id=organisation_id,
            recipients=() if recipient is None else (recipient,),
            due_at=moment,
            subject=subject[:300],
            lines=tuple(head + ([progress] if progress else [])),
            item_id=deadline.deadline_id,
        )


# -- records: urgent changes, nominations ----------------------------------------------


def _concerned(state: AllianceState, meeting: mt.MeetingState) -> list[uuid.UUID]:
    """Return the organisations a change of ``meeting`` concerns."""
    delegations = {n.organisation_id for n in meeting.nominations if n.status.active}
    if delegations or meeting.registration is not None:
        return sorted(delegations, key=str)
    return sorted((o.organisation_id for o in state.organisations.values() if o.member), key=str)


def _urgent(
    state: AllianceState, record: Recorded, horizon: _dt.timedelta
) -> Iterator[Planned]:
    event = record.event
    assert isinstance(event, (mt.MeetingCancelled, mt.MeetingRescheduled))  # noqa: S101
    meeting = state.meetings.get(event.meeting_id)
    if meeting is None:
        return
    if isinstance(event, mt.MeetingRescheduled) and meeting.when != event.when:
        return  # moved again since: the later move's record tells
    effective = record.effective_at
    whens = [meeting.when] if isinstance(event, mt.MeetingCancelled) else [
        w for w in (meeting.moved_from, event.when) if w is not None
    ]
    if not any(effective <= starts_at(w) <= effective + horizon for w in whens):
        return
    if isinstance(event, mt.MeetingCancelled):
        subject = f"Cancelled: {meeting.title}, {describe_when(meeting.when)}"
        lines = [f"{meeting.title} ({describe_when(meeting.when)}) is cancelled."]
    else:
        before = meeting.moved_from
        subject = f"Moved: {meeting.title}, now {describe_when(event.when)}"
        lines = [f"{meeting.title} has moved"
                 + ("" if before is None else f" from {describe_when(before)}")
                 + f" to {describe_when(event.when)}."]
    if event.reason:
        lines.append(f"Reason: {event.reason}")
    for organisation_id in _concerned(state, meeting):
        recipient = focal_point(state, organisation_id)
        yield Planned(
            message_id=message_id("record", record.event_id, organisation_id),
            kind=MessageKind.URGENT_CHANGE,
            organisation_id=organisation_id,
            recipients=() if recipient is None else (recipient,),
            due_at=record.recorded_at,
            subject=subject[:300],
            lines=tuple(lines),
            item_id=meeting.meeting_id,
        )


def _nomination(state: AllianceState, record: Recorded) -> Iterator[Planned]:
    event = record.event
    assert isinstance(event, (mt.NominationPromoted, mt.NominationConfirmed))  # noqa: S101
    meeting = state.meetings.get(event.meeting_id)
    nomination = None if meeting is None else meeting.nomination(event.nomination_id)
    if meeting is None or nomination is None:
        return
    where = f"{meeting.title} ({describe_when(meeting.when)})"
    role = nomination.role.value
    if isinstance(event, mt.NominationConfirmed):
        if nomination.status is not NominationStatus.CONFIRMED:
            return  # declined or withdrawn since: the news is stale
        funded = " with funding" if event.funded else ""
        subject = f"Confirmed{funded}: your nomination to {meeting.title}"
        lines = [f"Your nomination as {role} to {where} is confirmed{funded}."]
    else:
        if not nomination.status.holds_seat:
            return
        subject = f"A seat at {meeting.title}"
        lines = [f"Your nomination as {role} to {where} has a seat now: it was on the "
                 "waiting list."]
    recipients = [nomination.person_id]
    contact = focal_point(state, nomination.organisation_id)
    if contact is not None and contact != nomination.person_id:
        recipients.append(contact)
    yield Planned(
        message_id=message_id("record", record.event_id, nomination.organisation_id),
        kind=MessageKind.NOMINATION,
        organisation_id=nomination.organisation_id,
        recipients=tuple(recipients),
        due_at=record.recorded_at,
        subject=subject[:300],
        lines=tuple(lines),
        item_id=meeting.meeting_id,
    )


def for_record(
    state: AllianceState, record: Recorded, *, horizon: _dt.timedelta
) -> Iterator[Planned]:
    """Yield the messages a new record calls for (none for most records)."""
    event = record.event
    if isinstance(event, (mt.MeetingCancelled, mt.MeetingRescheduled)):
        yield from _urgent(state, record, horizon)
    elif isinstance(event, (mt.NominationPromoted, mt.NominationConfirmed)):
        yield from _nomination(state, record)
