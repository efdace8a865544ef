"""Scenarios shared by the feed tests: a log that spans years and zones.

:func:`record_years` records meetings from 2023 to 2028 in Vienna (both sides of each
clock change), New York, Santiago (southern hemisphere, clock changes at midnight),
Sydney, Nairobi (no summer time), "GMT+1" (a fixed offset, as the minutes write it), both
sides of Vienna's repeated autumn hour, a multi-day session with a side event, a
deadline, a cancellation and a move: the cases where calendar programs have been seen to
disagree. Ids derive from names, the clock is fixed: the feeds are byte-stable (golden
files ``tests/golden/years-*.ics``).
"""

from __future__ import annotations

import datetime as _dt
import uuid
from typing import Any, Final

import attrs
import pendulum

from alliance_events import Alliance
from alliance_events.domain.deadlines import DueAt
from alliance_events.ical import deadline_uid, meeting_uid
from alliance_events.projections.alliance import AllianceState
from alliance_events.testing import FixedClock
from alliance_events.timing import AllDay, Timed

__all__ = ["YEARS_NOW", "Years", "domain_spans", "record_years", "years_alliance"]

_NAMESPACE: Final = uuid.UUID("7b0c36f4-1f2e-5b1a-8a55-6f6a4f1c2d9e")
YEARS_START: Final = pendulum.datetime(2023, 1, 10, 9, tz="UTC")
YEARS_NOW: Final = pendulum.datetime(2027, 6, 1, 8, tz="UTC")
"""When the scenario's feeds are rendered: the cancellation and the move are recent."""


def _id(name: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, name)


@attrs.define
class Years:
    """What :func:`record_years` recorded: meeting ids by short name."""

    meetings: dict[str, uuid.UUID] = attrs.field(factory=dict)
    organisation: uuid.UUID | None = None
    deadline: uuid.UUID | None = None


# name: (title, schedule_meeting's time arguments)
MEETINGS: Final[dict[str, tuple[str, dict[str, Any]]]] = {
    "gmt-plus-one": ("Informal Meeting (GMT+1)", {
        "start": "2023-03-22 15:00", "end": "16:30", "zone": "GMT+1"}),
    "vienna-winter-2023": ("Informal Meeting", {
        "start": "2023-03-22 15:00", "end": "16:30"}),
    "vienna-summer-2023": ("Informal Meeting", {
        "start": "2023-04-19 15:00", "end": "16:30"}),
    "new-york-before-change": ("CSW side event", {
        "start": "2024-03-08 13:00", "end": "14:00", "zone": "America/New_York"}),
    "new-york-after-change": ("CSW side event, second day", {
        "start": "2024-03-11 13:00", "end": "14:00", "zone": "America/New_York"}),
    "repeated-hour-earlier": ("Night session, first 02:30", {
        "start": "2024-10-27 02:30", "end": "2024-10-27 02:50", "disambiguate": "earlier"}),
    "repeated-hour-later": ("Night session, second 02:30", {
        "start": "2024-10-27 02:30", "end": "2024-10-27 04:00", "disambiguate": "later"}),
    "vienna-summer-2025": ("Informal Meeting", {
        "start": "2025-06-18 15:00", "end": "16:30"}),
    "santiago-summer": ("Regional consultation (Santiago)", {
        "start": "2025-01-15 10:00", "end": "12:00", "zone": "America/Santiago"}),
    "santiago-winter": ("Regional consultation (Santiago), follow-up", {
        "start": "2025-07-16 10:00", "end": "12:00", "zone": "America/Santiago"}),
    "santiago-change-day": ("Regional consultation (Santiago), change day", {
        "start": "2025-09-07 09:00", "end": "10:00", "zone": "America/Santiago"}),
    "nairobi": ("UNON briefing (Nairobi)", {
        "start": "2026-02-10 09:30", "end": "11:00", "zone": "Africa/Nairobi"}),
    "ccpcj-2026": ("35th session of the Crime Commission", {
        "first_day": "2026-05-18", "last_day": "2026-05-22",
        "kind": "commission-session"}),
    "new-york-summer": ("High-level meeting (New York)", {
        "start": "2026-07-14 10:00", "end": "12:00", "zone": "America/New_York"}),
    "vienna-winter-2026": ("Informal Meeting", {
        "start": "2026-12-09 15:00", "end": "16:30"}),
    "vienna-cancelled-2027": ("Informal Meeting", {
        "start": "2027-06-09 15:00", "end": "16:30"}),
    "vienna-moved-2027": ("Constructive Dialogue", {
        "start": "2027-06-16 10:00", "end": "13:00"}),
    "sydney": ("Asia-Pacific regional meeting (Sydney)", {
        "start": "2027-11-03 18:00", "end": "20:00", "zone": "Australia/Sydney"}),
    "vienna-winter-2028": ("Informal Meeting", {
        "start": "2028-01-19 15:00", "end": "16:30"}),
    "vienna-summer-2028": ("Informal Meeting", {
        "start": "2028-06-21 15:00", "end": "16:30"}),
}


def record_years(alliance: Alliance, clock: FixedClock) -> Years:
    """Record the scenario on ``alliance`` (its clock is ``clock``, moved along)."""
    years = Years()
    clock.set(YEARS_START)
    years.organisation = alliance.register_organisation(
        name="Rural And Urban Aid Nigeria", acronym="RUAN", organisation_id=_id("ruan"),
        command_id=_id("command:ruan"),
    )
    for name, (title, when) in MEETINGS.items():
        clock.advance(days=20)
        arguments = dict(when)
        years.meetings[name] = alliance.schedule_meeting(
            title=title, meeting_id=_id(f"meeting:{name}"),
            command_id=_id(f"command:{name}"), **arguments,
        )
    clock.set(pendulum.datetime(2026, 4, 1, 9, tz="UTC"))
    years.meetings["side-event-2026"] = alliance.schedule_meeting(
        title="Side event: documenting femicide", kind="side-event",
        start="2026-05-19 13:10", end="14:00", parent=years.meetings["ccpcj-2026"],
        meeting_id=_id("meeting:side-event-2026"), command_id=_id("command:side-event-2026"),
    )
    years.deadline = alliance.set_deadline(
        title="Names of participants", due="2026-05-01", meeting=years.meetings["ccpcj-2026"],
        reminders=[7, 1], deadline_id=_id("deadline:names"), command_id=_id("command:names"),
    )
    clock.set(pendulum.datetime(2027, 5, 20, 9, tz="UTC"))
    alliance.cancel_meeting(
        years.meetings["vienna-cancelled-2027"], reason="The room is not available",
        command_id=_id("command:cancel-2027"),
    )
    clock.set(pendulum.datetime(2027, 5, 25, 9, tz="UTC"))
    alliance.reschedule_meeting(
        years.meetings["vienna-moved-2027"], start="2027-06-17 10:00", end="13:00",
        reason="the hall is booked on the 16th", command_id=_id("command:move-2027"),
    )
    clock.set(YEARS_NOW)
    return years


def years_alliance(url: str = "memory:") -> tuple[Alliance, Years]:
    """Open ``url`` and record the scenario on it; return the Alliance (caller closes it)."""
    clock = FixedClock(YEARS_START)
    alliance = Alliance.open(url, clock=clock)
    return alliance, record_years(alliance, clock)


def _utc(moment: _dt.datetime) -> _dt.datetime:
    # timestamp() honours fold: the second 02:30 of a repeated hour is the later instant.
    return _dt.datetime.fromtimestamp(moment.timestamp(), _dt.UTC)


def _date(day: _dt.date) -> _dt.date:
    return _dt.date(day.year, day.month, day.day)


def domain_spans(state: AllianceState) -> dict[str, tuple[_dt.date, _dt.date]]:
    """Every meeting's and deadline's (start, end) by UID, as the domain means them.

    Timed: start and end in UTC; all day: the first day and the day after the last;
    deadlines: all day on the due day (of the zone it is due in). Computed from the
    domain's own times, never from a feed: what every parser must read.
    """
    spans: dict[str, tuple[_dt.date, _dt.date]] = {}
    for meeting_id, meeting in state.meetings.items():
        when = meeting.when
        if isinstance(when, Timed):
            spans[meeting_uid(meeting_id)] = (_utc(when.start), _utc(when.end))
        elif isinstance(when, AllDay):
            spans[meeting_uid(meeting_id)] = (_date(when.first), _date(when.end_exclusive))
    for deadline in state.all_deadlines():  # stand-alone and meetings' deadlines
        due = deadline.due
        day = _date(due.at.date() if isinstance(due, DueAt) else due.day)
        spans[deadline_uid(deadline.deadline_id)] = (day, day + _dt.timedelta(days=1))
    return spans
