"""Every value a command accepts has a domain range, and every reader survives a log
holding a value outside it (written by a version that did not check it).

The first wave accepted ``deadline set X --due 9999-12-31``; from then on ``export``,
``deadline list`` and the feed server failed for good. Now such a command is refused,
naming the field and the range, and records nothing; and a log that holds such a value
already has that item left out of every calendar and query, said in ``/healthz`` and on
the command line, while everything else keeps working.
"""

from __future__ import annotations

import datetime as _dt
import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from alliance_events import Alliance, DomainError
from alliance_events.domain.common import MeetingKind
from alliance_events.domain.deadlines import DeadlineSet, DueAt, DueBy
from alliance_events.domain.meetings import MeetingScheduled
from alliance_events.ical import Audience, FeedRenderer
from alliance_events.testing import FixedClock
from alliance_events.timing import FIRST_YEAR, LAST_YEAR, AllDay, Timed
from alliance_events.web import create_app

from .helpers import running

NOW = pendulum.datetime(2023, 3, 1, 9, tz="Europe/Vienna")


@pytest.fixture
def alliance() -> Iterator[Alliance]:
    """An alliance with one meeting, on a fixed clock."""
    with Alliance.open("memory:", clock=FixedClock(NOW)) as opened:
        opened.schedule_meeting(title="Informal Meeting", start="2023-04-19 15:00", end="16:30")
        yield opened


def _meeting(alliance: Alliance) -> uuid.UUID:
    return alliance.find_meeting("Informal Meeting")


# (what, the call, the rule, words the message must hold)
REFUSED: list[tuple[str, Callable[[Alliance], Any], str, str]] = [
    ("due in 9999", lambda a: a.set_deadline(title="t", due="9999-12-31"),
     "date-range", "due 9999-12-31 is outside the years 1900 to 2200"),
    ("due at a time in 9999", lambda a: a.set_deadline(title="t", due="9999-12-31 23:00"),
     "date-range", "due 9999-12-31 23:00:00 is outside"),
    ("all-day meeting in 9999", lambda a: a.schedule_meeting(title="x", first_day="9999-12-31"),
     "date-range", "first day 9999-12-31"),
    ("timed meeting in year 1",
     lambda a: a.schedule_meeting(title="x", start="0001-01-01 00:30", end="01:30"),
     "date-range", "start 0001-01-01 00:30:00"),
    ("meeting ending in 2201",
     lambda a: a.schedule_meeting(title="x", first_day="2200-12-31", last_day="2201-01-01"),
     "date-range", "last day 2201-01-01"),
    ("registration closing in 9999",
     lambda a: a.open_registration(_meeting(a), opens="2023-03-01", closes="9999-12-31"),
     "date-range", "closes 9999-12-31"),
    ("reminder of 99999999 days",
     lambda a: a.set_deadline(title="t", due="2023-05-01", reminders=["P99999999D"]),
     "duration-range", "reminders[0]"),
    ("capacity True", lambda a: a.change_capacity(_meeting(a), capacity=True),
     "field-type", "capacity must be a whole number"),
    ("capacity of a billion", lambda a: a.change_capacity(_meeting(a), capacity=10**9),
     "count-range", "capacity 1000000000 is outside 0 to 100,000"),
    ("a quota of True", lambda a: a.change_quota(_meeting(a), quotas={"speaker": True}),
     "field-type", "quotas[0].limit must be a whole number"),
    ("capacity as text", lambda a: a.change_capacity(_meeting(a), capacity="3"),
     "field-type", "got '3'"),
    ("a title that is a number",
     lambda a: a.schedule_meeting(title=3, start="2023-04-19 15:00", end="16:30"),
     "field-type", "title must be text"),
    ("an organisation that is not an id",
     lambda a: a.nominate(_meeting(a), organisation="x", person=uuid.uuid4(), role="speaker"),
     "field-type", "organisation_id must be an id"),
]


@pytest.mark.parametrize(("what", "call", "rule", "words"), REFUSED, ids=[r[0] for r in REFUSED])
def test_out_of_range_is_refused_naming_field_and_range(
    alliance: Alliance, what: str, call: Callable[[Alliance], Any], rule: str, words: str
) -> None:
    """Refused before anything is decided: a DomainError naming the rule and the field."""
    head = alliance.log.head()
    with pytest.raises(DomainError) as refused:
        call(alliance)
    assert refused.value.rule == rule, what
    assert words in str(refused.value)
    assert alliance.log.head() == head


def test_the_edges_of_the_range_are_accepted_and_rendered(alliance: Alliance) -> None:
    """1 January 1900 and 31 December 2200 are kept, listed and written in every feed."""
    alliance.schedule_meeting(title="First", first_day=f"{FIRST_YEAR}-01-01")
    alliance.schedule_meeting(title="Last", start=f"{LAST_YEAR}-12-31 22:00", end="23:30")
    alliance.set_deadline(title="Due last", due=f"{LAST_YEAR}-12-31")
    assert {m.title for m in alliance.meetings()} >= {"First", "Last"}
    assert [d.title for d in alliance.deadlines()] == ["Due last"]
    for audience in (Audience.public(), Audience.secretariat()):
        feed = FeedRenderer().render(alliance.state, audience, now=NOW)
        summaries = {str(e["SUMMARY"]) for e in Calendar.from_ical(feed.body).walk("VEVENT")}
        assert {"First", "Last"} <= summaries


@settings(max_examples=60, deadline=None)
@given(day=st.dates(min_value=_dt.date(1, 1, 1), max_value=_dt.date(9999, 12, 31)))
def test_any_due_day_is_refused_or_every_reader_works(day: _dt.date) -> None:
    """A due day: refused with nothing written (outside the years), or accepted and the
    deadline list and the feeds still work."""
    with Alliance.open("memory:", clock=FixedClock(NOW)) as alliance:
        if not FIRST_YEAR <= day.year <= LAST_YEAR:
            with pytest.raises(DomainError) as refused:
                alliance.set_deadline(title="t", due=day.isoformat())
            assert refused.value.rule == "date-range"
            assert alliance.log.head() == 0
            return
        alliance.set_deadline(title="t", due=day.isoformat())
        assert [d.title for d in alliance.deadlines()] == ["t"]
        feed = FeedRenderer().render(alliance.state, Audience.public(), now=NOW)
        Calendar.from_ical(feed.body)


# -- a log written before the ranges were checked ------------------------------------


def _old_writes(alliance: Alliance) -> dict[str, str]:
    """Append, as an older version did, events holding values outside the ranges; return
    their streams by what they are."""
    streams: dict[str, str] = {}

    def append(what: str, stream: str, event: Any) -> None:
        alliance.log.append(stream, [event], expected_version=0,
                            metadata={"command": "older version", "command_id": str(uuid.uuid4())})
        streams[what] = stream

    deadline = uuid.uuid4()
    append("due 9999", f"deadline-{deadline}", DeadlineSet(
        event_id=uuid.uuid4(), deadline_id=deadline, title="Due in 9999",
        due=DueBy(day=pendulum.Date(9999, 12, 31))))
    deadline = uuid.uuid4()
    append("reminder", f"deadline-{deadline}", DeadlineSet(
        event_id=uuid.uuid4(), deadline_id=deadline, title="Reminded for ever",
        due=DueAt(at=pendulum.datetime(2023, 5, 1, 17, tz="Europe/Vienna")),
        reminders=(pendulum.duration(days=99_999_999),)))
    meeting = uuid.uuid4()
    append("meeting 9999", f"meeting-{meeting}", MeetingScheduled(
        event_id=uuid.uuid4(), meeting_id=meeting, title="Meeting in 9999",
        kind=MeetingKind.INFORMAL_MEETING,
        when=AllDay(first=pendulum.Date(9999, 12, 31), last=pendulum.Date(9999, 12, 31))))
    meeting = uuid.uuid4()
    append("meeting 2500", f"meeting-{meeting}", MeetingScheduled(
        event_id=uuid.uuid4(), meeting_id=meeting, title="Meeting in 2500",
        kind=MeetingKind.INFORMAL_MEETING,
        when=Timed(start=pendulum.datetime(2500, 1, 1, 9, tz="Europe/Vienna"),
                   end=pendulum.datetime(2500, 1, 1, 10, tz="Europe/Vienna"))))
    return streams


def test_readers_leave_the_items_out_and_say_so(tmp_path: Path) -> None:
    """A SQLite log holding such values: the state, the lists, every feed, the CLI's
    export and lists, and the feed server keep working; the items are left out and
    named in /healthz and in a note on stderr."""
    db = tmp_path / "old.db"
    url = f"sqlite:///{db}"
    with Alliance.open(url, clock=FixedClock(NOW)) as alliance:
        alliance.schedule_meeting(title="Informal Meeting", start="2023-04-19 15:00",
                                  end="16:30")
        streams = _old_writes(alliance)
        alliance.set_deadline(title="Written after", due="2023-06-01")

    with Alliance.open(url, clock=FixedClock(NOW)) as alliance:
        state = alliance.state
        assert set(alliance.left_out) == set(streams.values())
        assert "9999-12-31 is outside the years 1900 to 2200" in (
            alliance.left_out[streams["due 9999"]].reason)
        assert [m.title for m in alliance.meetings()] == ["Informal Meeting"]
        assert [d.title for d in alliance.deadlines()] == ["Written after"]
        for audience in (Audience.public(), Audience.secretariat()):
            feed = FeedRenderer().render(state, audience, now=NOW)
            titles = {str(e["SUMMARY"]) for e in Calendar.from_ical(feed.body).walk("VEVENT")}
            assert "Informal Meeting" in titles
            assert not any("9999" in t or "2500" in t or "for ever" in t for t in titles)
        with running(create_app(alliance, poll_interval=0.05)) as client:
            assert client.get("/calendar.ics").status_code == 200
            health = client.get("/healthz").json()
            assert {item["stream"] for item in health["left_out"]} == set(streams.values())

    cli = [sys.executable, "-m", "alliance_events.cli", "--db", str(db)]
    for args in (["deadline", "list", "--json"], ["meeting", "list", "--json"],
                 ["export", "--output", str(tmp_path / "public.ics")]):
        result = subprocess.run([*cli, *args], capture_output=True, text=True, check=False)
        assert result.returncode == 0, (args, result.stderr)
        notes = [line for line in result.stderr.splitlines() if "is left out" in line]
        assert len(notes) == len(streams), result.stderr
    listed = subprocess.run([*cli, "deadline", "list", "--json"], capture_output=True,
                            text=True, check=True).stdout
    assert [d["title"] for d in json.loads(listed)] == ["Written after"]
