"""The feeds: one iCalendar document per audience, rendered incrementally.

Building a VEVENT through ``icalendar`` costs about 0.8 ms (CALENDAR.md, section 5), so
the renderer keeps each item's serialised bytes, keyed by what they depend on (the
item's plan key), and a new event re-renders only the items it touched. The document
is then the calendar's header, the VTIMEZONEs (each built once per zone and year range)
and the VEVENTs, joined: byte for byte what ``icalendar`` writes for the whole calendar
built at once (:meth:`FeedRenderer.calendar`, which the tests compare it with).
"""

from __future__ import annotations

import datetime as _dt
import threading
import uuid
from collections.abc import Iterator
from typing import Final

import attrs
import pendulum
from icalendar import Calendar, Timezone, vDuration, vText
from icalendar import Event as VEvent

from alliance_events.domain.deadlines import Deadline
from alliance_events.domain.meetings import MeetingState
from alliance_events.ical._audience import Audience
from alliance_events.ical._items import (
    EPOCH,
    Plan,
    calendar_uid,
    deadline_event,
    meeting_event,
    plan_deadline,
    plan_meeting,
)
from alliance_events.ical._text import one_line
from alliance_events.projections.alliance import AllianceState

__all__ = ["DEFAULT_NAME", "PRODID", "Feed", "FeedRenderer"]

PRODID: Final = "-//alliance-events//Alliance calendar//EN"
DEFAULT_NAME: Final = "Alliance of NGOs on Crime Prevention and Criminal Justice"
_END: Final = b"END:VCALENDAR\r\n"


@attrs.frozen
class Feed:
    """One rendered feed.

    Attributes:
        body: the exact iCalendar bytes (CRLF line ends, folded at 75 octets).
        last_modified: the latest change of any item shown, or the moment an item left
            the feed (cancelled, past its grace period), whichever is later: it only
            moves forward as the log grows and the days pass.
        item_count: how many VEVENTs the feed holds.

    """

    body: bytes
    last_modified: pendulum.DateTime
    item_count: int


@attrs.frozen
class _Entry:
    """An item's serialised VEVENT and what a feed needs to place it."""

    key: tuple[object, ...]
    body: bytes
    order: tuple[str, str, str]
    zones: tuple[tuple[str, int], ...]  # (TZID, year) of each zoned DTSTART/DTEND


def _order(event: VEvent, uid: str) -> tuple[str, str, str]:
    """Sort by first day, then start time in UTC (all-day first), then UID."""
    start = event.start
    if isinstance(start, _dt.datetime):
        utc = pendulum.instance(start).in_timezone("UTC")
        return (utc.date().isoformat(), utc.isoformat(), uid)
    return (start.isoformat(), "", uid)


def _zones(event: VEvent) -> tuple[tuple[str, int], ...]:
    found = []
    for name in ("DTSTART", "DTEND"):
        prop = event.get(name)
        tzid = None if prop is None else prop.params.get("TZID")
        if tzid:
            found.append((str(tzid), prop.dt.year))
    return tuple(found)


class FeedRenderer:
    """Render :class:`~alliance_events.projections.alliance.AllianceState` as feeds.

    Args:
        name: the calendar's name (each audience's feed adds its own qualifier).
        refresh: the refresh hint (REFRESH-INTERVAL and X-PUBLISHED-TTL); a suggested
            minimum that clients mostly ignore, never a promise.
        alarms: write the deadlines' reminders as VALARMs (opt-in: most clients drop
            alarms from subscriptions, and the e-mail is the real reminder).
        grace: how long a cancelled item stays in the feed after its last day (whole
            days), so that subscribers see the cancellation before it goes.

    The renderer is deterministic (same state, audience and day of ``now``: the same
    bytes) and keeps a cache per audience of the items it serialised; it may be shared
    by threads (one lock around each render).

    """

    def __init__(
        self,
        *,
        name: str = DEFAULT_NAME,
        refresh: _dt.timedelta = _dt.timedelta(hours=2),
        alarms: bool = False,
        grace: _dt.timedelta = _dt.timedelta(days=30),
    ) -> None:
        self.name = one_line(name)
        self.refresh = refresh
        self.alarms = alarms
        self.grace = _dt.timedelta(days=grace.days)
        self._items: dict[str, dict[uuid.UUID, _Entry]] = {}
        self._headers: dict[tuple[str, str], bytes] = {}
        self._zones: dict[tuple[str, int, int], bytes] = {}
        self._lock = threading.Lock()

    # -- public -----------------------------------------------------------------------

    def render(
        self, state: AllianceState, audience: Audience, *, now: _dt.datetime
    ) -> Feed:
        """Render ``audience``'s feed of ``state``, as it stands on ``now``'s date (UTC).

        ``now`` only decides which cancelled items are past their grace period.
        """
        with self._lock:
            today = _today(now)
            cached = self._items.get(audience.key, {})
            kept: dict[uuid.UUID, _Entry] = {}
            last_modified = EPOCH
            for plan, build in self._plans(state, audience):
                if self._gone(plan, today):
                    last_modified = max(last_modified, plan.stamp, self._gone_at(plan))
                    continue
                last_modified = max(last_modified, plan.stamp)
                entry = cached.get(plan.item_id)
                if entry is None or entry.key != plan.key:
                    entry = self._serialise(build(plan))
                    entry = attrs.evolve(entry, key=plan.key)
                kept[plan.item_id] = entry
            self._items[audience.key] = kept
            entries = sorted(kept.values(), key=lambda e: e.order)
            body = b"".join(
                (
                    self._header(state, audience),
                    *self._timezones(entries),
                    *(entry.body for entry in entries),
                    _END,
                )
            )
        return Feed(body=body, last_modified=last_modified, item_count=len(entries))

    def calendar(
        self, state: AllianceState, audience: Audience, *, now: _dt.datetime
    ) -> Calendar:
        """Build ``audience``'s whole calendar at once, uncached, as one icalendar object.

        :meth:`render` writes exactly ``calendar(...).to_ical()``, faster.
        """
        today = _today(now)
        events = [
            build(plan)
            for plan, build in self._plans(state, audience)
            if not self._gone(plan, today)
        ]
        events.sort(key=lambda e: _order(e, str(e["UID"])))
        cal = self._calendar(state, audience)
        ranges = _ranges(tuple(z for e in events for z in _zones(e)))
        for tzid, (first, last) in sorted(ranges.items()):
            cal.add_component(_timezone(tzid, first, last))
        for event in events:
            cal.add_component(event)
        return cal

    # -- the items --------------------------------------------------------------------

    def _plans(
        self, state: AllianceState, audience: Audience
    ) -> Iterator[tuple[Plan, _Builder]]:
        for meeting in state.meetings.values():
            if meeting.exists:
                yield plan_meeting(state, meeting, audience), _MeetingBuilder(
                    state, meeting, audience
                )
        for deadline in state.all_deadlines():
            plan = plan_deadline(state, deadline, audience)
            if plan is not None:
                yield plan, _DeadlineBuilder(state, deadline, audience, alarms=self.alarms)

    def _gone(self, plan: Plan, today: _dt.date) -> bool:
        return plan.cancelled and today > plan.last_day + self.grace

    def _gone_at(self, plan: Plan) -> pendulum.DateTime:
        day = plan.last_day + self.grace + _dt.timedelta(days=1)
        return pendulum.datetime(day.year, day.month, day.day, tz="UTC")

    def _serialise(self, event: VEvent) -> _Entry:
        """Serialise one VEVENT (the costly step: the tests count its calls)."""
        uid = str(event["UID"])
        return _Entry(key=(), body=event.to_ical(), order=_order(event, uid), zones=_zones(event))

    # -- the wrapper ------------------------------------------------------------------

    def _names(self, state: AllianceState, audience: Audience) -> tuple[str, str]:
        if audience.organisation_id is not None:
            label = one_line(state.organisation_name(audience.organisation_id))
            return (
                f"{self.name} ({label})",
                f"Meetings and deadlines of the {self.name} with the delegation and "
                f"deadlines of {label}.",
            )
        if audience.kind == "secretariat":
            return (
                f"{self.name} (secretariat)",
                f"Meetings and deadlines of the {self.name} with every delegation "
                "and deadline.",
            )
        return self.name, f"Meetings and public deadlines of the {self.name}."

    def _calendar(self, state: AllianceState, audience: Audience) -> Calendar:
        name, description = (one_line(text) for text in self._names(state, audience))
        cal = Calendar.new(uid=calendar_uid(audience), prodid=PRODID)
        # Typed values, so that they are escaped (Calendar.new writes its NAME and X-WR-*
        # unescaped, CALENDAR.md rule 15); RFC 7986 wants VALUE=DURATION spelt out. Our
        # own texts avoid , ; and \ : ical.js shows X-WR-CALNAME's escapes as they are.
        cal.add("NAME", vText(name))
        cal.add("X-WR-CALNAME", vText(name))
        cal.add("DESCRIPTION", vText(description))
        cal.add("X-WR-CALDESC", vText(description))
        cal.add("REFRESH-INTERVAL", vDuration(self.refresh), parameters={"VALUE": "DURATION"})
        cal.add("X-PUBLISHED-TTL", vDuration(self.refresh))
        return cal

    def _header(self, state: AllianceState, audience: Audience) -> bytes:
        names = self._names(state, audience)
        key = (audience.key, names[0])
        header = self._headers.get(key)
        if header is None:
            whole = self._calendar(state, audience).to_ical()
            assert whole.endswith(_END)  # noqa: S101 - what icalendar always writes
            header = self._headers[key] = whole[: -len(_END)]
        return header

    def _timezones(self, entries: list[_Entry]) -> list[bytes]:
        ranges = _ranges(tuple(zone for entry in entries for zone in entry.zones))
        found = []
        for tzid, (first, last) in sorted(ranges.items()):
            body = self._zones.get((tzid, first, last))
            if body is None:
                body = self._zones[tzid, first, last] = _timezone(tzid, first, last).to_ical()
            found.append(body)
        return found


class _MeetingBuilder:
    def __init__(self, state: AllianceState, meeting: MeetingState, audience: Audience) -> None:
        self.state, self.meeting, self.audience = state, meeting, audience

    def __call__(self, plan: Plan) -> VEvent:
        return meeting_event(self.state, self.meeting, self.audience, plan)


class _DeadlineBuilder:
    def __init__(
        self, state: AllianceState, deadline: Deadline, audience: Audience, *, alarms: bool
    ) -> None:
        self.state, self.deadline, self.audience, self.alarms = state, deadline, audience, alarms

    def __call__(self, plan: Plan) -> VEvent:
        return deadline_event(self.state, self.deadline, self.audience, plan, alarms=self.alarms)


_Builder = _MeetingBuilder | _DeadlineBuilder


def _today(now: _dt.datetime) -> _dt.date:
    if now.utcoffset() is None:
        raise ValueError(f"now must be an aware date-time, got {now!r}")
    return now.astimezone(_dt.UTC).date()


def _ranges(zones: tuple[tuple[str, int], ...]) -> dict[str, tuple[int, int]]:
    """Per TZID, the first and last year it is used in."""
    ranges: dict[str, tuple[int, int]] = {}
    for tzid, year in zones:
        first, last = ranges.get(tzid, (year, year))
        ranges[tzid] = (min(first, year), max(last, year))
    return ranges


def _timezone(tzid: str, first: int, last: int) -> Timezone:
    """Build the VTIMEZONE of ``tzid`` for the years ``first`` to ``last``."""
    return Timezone.from_tzid(
        tzid, first_date=_dt.date(first, 1, 1), last_date=_dt.date(last + 1, 1, 1)
    )
