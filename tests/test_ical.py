"""The calendar feeds (``alliance_events.ical``): CALENDAR.md's rules, checked on parsed output.

Every feed rendered here is read back by three parsers: icalendar (with
recurring-ical-events expanding it), vobject, and ical.js, the parser Thunderbird uses
(``tests/js/check_ics.mjs`` under Node). ical.js is installed by
``npm install --prefix tests/js`` (``.ci/run`` does it); without Node or ical.js those
checks are skipped locally and fail in CI.

The golden files ``tests/golden/demo-*.ics`` are the demo's feeds; after a deliberate
change of the output, rewrite them with::

    ALLIANCE_EVENTS_REGENERATE_GOLDEN=1 .venv/bin/pytest tests/test_ical.py -k golden

and read the diff before committing it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import icalendar
import pendulum
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alliance_events import Alliance, Recorded
from alliance_events.demo import DEMO_END, PERSONS, DemoClock, record_minutes
from alliance_events.domain.common import MeetingStatus
from alliance_events.domain.directory import (
    PersonDetailsChanged,
    person_stream,
)
from alliance_events.errors import DomainError
from alliance_events.ical import (
    ALLIANCE_NAMESPACE,
    PRODID,
    Audience,
    Feed,
    FeedRenderer,
    clean_text,
    deadline_uid,
    meeting_uid,
)
from alliance_events.ical._items import (
    _chain,
    _created,
    _lineage,
    _touches,
    meeting_chain,
    meeting_dependencies,
    meeting_item,
    plan_meeting,
)
from alliance_events.ical._write import VEventData
from alliance_events.log import ANY
from alliance_events.projections.alliance import (
    AllianceProjection,
    AllianceState,
    Touched,
    chain_status,
)
from alliance_events.projections.runner import fold
from alliance_events.testing import FixedClock

from .clients import parse_all
from .feed_histories import random_command
from .scenarios import YEARS_NOW, domain_spans, years_alliance
from .strategies import ical_texts

HERE = Path(__file__).resolve().parent
GOLDEN = HERE / "golden"
REGENERATE = os.environ.get("ALLIANCE_EVENTS_REGENERATE_GOLDEN") == "1"
UTC = _dt.UTC
START = pendulum.datetime(2023, 3, 1, 9, tz="UTC")
NOW = pendulum.datetime(2023, 3, 10, 12, tz="UTC")

def utc(*parts: int) -> _dt.datetime:
    return _dt.datetime(*parts, tzinfo=UTC)


def events_of(body: bytes) -> dict[str, icalendar.Event]:
    """The feed's VEVENTs by UID, as icalendar reads them."""
    return {str(e["UID"]): e for e in icalendar.Calendar.from_ical(body).events}


def unfolded(body: bytes) -> bytes:
    return body.replace(b"\r\n ", b"")


# -- scenarios -------------------------------------------------------------------------------


class World:
    """An alliance on a memory log with a fixed clock, and a renderer."""

    def __init__(self, alliance: Alliance, clock: FixedClock) -> None:
        self.a = alliance
        self.clock = clock
        self.renderer = FeedRenderer()
        self.org = alliance.register_organisation(name="Rural And Urban Aid", acronym="RUAN")
        self.other = alliance.register_organisation(name="Drug Advisory Hub", acronym="DATH")
        self.person = alliance.register_person(
            name="Femi Adeyemi", email="femi@example.org", organisation=self.org
        )
        self.stranger = alliance.register_person(
            name="Laila Karim", email="laila@example.org", organisation=self.other
        )

    def later(self, **delta: Any) -> None:
        self.clock.advance(**(delta or {"hours": 1}))

    def render(self, audience: Audience | None = None, *, now: _dt.datetime = NOW,
               renderer: FeedRenderer | None = None) -> Feed:
        return (renderer or self.renderer).render(
            self.a.state, audience or Audience.public(), now=now
        )

    def meeting(self, **kwargs: Any) -> uuid.UUID:
        kwargs.setdefault("title", "Informal Meeting")
        if "first_day" not in kwargs:
            kwargs.setdefault("start", "2023-03-22 15:00")
            kwargs.setdefault("end", "16:30")
        meeting = self.a.schedule_meeting(**kwargs)
        self.later()
        return meeting


@pytest.fixture
def world() -> Iterator[World]:
    clock = FixedClock(START)
    with Alliance.open("memory:", clock=clock) as alliance:
        yield World(alliance, clock)


@functools.cache
def _demo() -> tuple[AllianceState, dict[str, Any]]:
    clock = DemoClock()
    with Alliance.open("memory:", clock=clock) as alliance:
        demo = record_minutes(alliance, clock=clock)
        records = list(alliance.log.read_all())
        return alliance.state, {"demo": demo, "records": records}


@pytest.fixture(scope="module")
def demo_state() -> AllianceState:
    return _demo()[0]


@pytest.fixture(scope="module")
def demo() -> Any:
    return _demo()[1]["demo"]


def demo_audiences(demo: Any) -> dict[str, Audience]:
    return {
        "public": Audience.public(),
        "organisation-RUAN": Audience.organisation(demo.organisations["rua"]),
        "secretariat": Audience.secretariat(),
    }


# -- the tests ---------------------------------------------------------------------------------


class TestAudience:
    def test_constructors_and_keys(self) -> None:
        """Each audience has a stable short key naming it."""
        org = uuid.UUID(int=7)
        assert Audience.public().key == "public"
        assert Audience.secretariat().key == "secretariat"
        assert Audience.organisation(org).key == f"organisation:{org}"
        assert Audience.organisation(org) == Audience("organisation", org)

    def test_organisation_id_only_for_organisations(self) -> None:
        """An organisation audience needs its id; the others take none."""
        with pytest.raises(ValueError, match="needs"):
            Audience("organisation")
        with pytest.raises(ValueError, match="takes no"):
            Audience("public", uuid.UUID(int=1))
        with pytest.raises(ValueError, match="kind"):
            Audience("everyone")  # type: ignore[arg-type]


class TestUid:
    def test_uids_derive_from_ids(self, world: World) -> None:
        """UIDs are uuid5 of the fixed namespace and "meeting:<id>" / "deadline:<id>"."""
        meeting = world.meeting()
        deadline = world.a.set_deadline(title="Names", due="2023-03-20")
        uids = set(events_of(world.render().body))
        assert uids == {
            str(uuid.uuid5(ALLIANCE_NAMESPACE, f"meeting:{meeting}")),
            str(uuid.uuid5(ALLIANCE_NAMESPACE, f"deadline:{deadline}")),
        }
        assert meeting_uid(meeting) in uids
        assert deadline_uid(deadline) in uids

    @settings(max_examples=300)
    @given(item_id=st.uuids(allow_nil=True))
    def test_uid_is_uuid5_for_any_id(self, item_id: uuid.UUID) -> None:
        """The UIDs (computed without ``uuid.uuid5``, and remembered) are its uuid5, twice."""
        for _ in range(2):
            assert meeting_uid(item_id) == str(
                uuid.uuid5(ALLIANCE_NAMESPACE, f"meeting:{item_id}"))
            assert deadline_uid(item_id) == str(
                uuid.uuid5(ALLIANCE_NAMESPACE, f"deadline:{item_id}"))

    def test_same_uid_in_every_audience_and_ascii(
        self, demo_state: AllianceState, demo: Any
    ) -> None:
        """A meeting has one UID in every feed, ASCII, never repeated within a feed."""
        renderer = FeedRenderer()
        feeds = {
            name: renderer.render(demo_state, audience, now=DEMO_END).body
            for name, audience in demo_audiences(demo).items()
        }
        march = meeting_uid(demo.meetings["informal-march"])
        for body in feeds.values():
            uids = [str(e["UID"]) for e in icalendar.Calendar.from_ical(body).events]
            assert march in uids
            assert len(uids) == len(set(uids))
            assert all(uid.isascii() for uid in uids)

    def test_uid_survives_rescheduling_and_renaming(self, world: World) -> None:
        """Moving or renaming a meeting keeps its UID."""
        meeting = world.meeting()
        before = set(events_of(world.render().body))
        world.a.reschedule_meeting(meeting, start="2023-03-23 15:00", end="16:00")
        world.a.change_meeting_details(meeting, title="Another title")
        assert set(events_of(world.render().body)) == before


class TestSequence:
    def test_sequence_rises_with_the_meeting_and_its_parents(self, world: World) -> None:
        """SEQUENCE = own + ancestors' sequences: it rises when a parent is cancelled or
        reinstated, and never decreases."""
        parent = world.meeting(title="Dialogue", first_day="2023-05-04", last_day="2023-05-05")
        child = world.meeting(title="Session", start="2023-05-05 10:00", end="13:00",
                              parent=parent)
        uid = meeting_uid(child)

        def sequence() -> int:
            return int(events_of(world.render().body)[uid]["SEQUENCE"])

        seen = [sequence()]
        world.a.reschedule_meeting(child, start="2023-05-05 11:00", end="13:00")
        seen.append(sequence())
        world.a.cancel_meeting(parent)
        seen.append(sequence())
        world.a.reinstate_meeting(parent, reason="a mistake")
        seen.append(sequence())
        assert seen == [0, 1, 2, 3]


class TestStatus:
    def test_tentative_confirmed_cancelled(self, world: World) -> None:
        """STATUS follows the meeting: TENTATIVE, then CONFIRMED, then CANCELLED."""
        meeting = world.meeting(tentative=True)
        uid = meeting_uid(meeting)
        statuses = [str(events_of(world.render().body)[uid]["STATUS"])]
        world.a.confirm_meeting(meeting)
        statuses.append(str(events_of(world.render().body)[uid]["STATUS"]))
        world.a.cancel_meeting(meeting)
        statuses.append(str(events_of(world.render().body)[uid]["STATUS"]))
        assert statuses == ["TENTATIVE", "CONFIRMED", "CANCELLED"]

    def test_cancelled_items_say_so(self, world: World) -> None:
        """A cancelled meeting keeps its UID, says "Cancelled: " and is transparent; its
        sessions and its deadlines show as cancelled too (effective status)."""
        parent = world.meeting(title="Dialogue", first_day="2023-05-04", last_day="2023-05-05")
        child = world.meeting(title="Session", start="2023-05-05 10:00", end="13:00",
                              parent=parent)
        deadline = world.a.set_deadline(title="Names", due="2023-04-28", meeting=parent)
        world.a.cancel_meeting(parent)
        events = events_of(world.render().body)
        for uid, title in ((meeting_uid(parent), "Dialogue"), (meeting_uid(child), "Session"),
                           (deadline_uid(deadline), "Deadline: Names")):
            assert str(events[uid]["SUMMARY"]) == f"Cancelled: {title}"
            assert events[uid]["STATUS"] == "CANCELLED"
            assert events[uid]["TRANSP"] == "TRANSPARENT"

    def test_timed_meetings_are_opaque(self, world: World) -> None:
        """A timed meeting that takes place blocks the time (TRANSP:OPAQUE)."""
        meeting = world.meeting()
        assert events_of(world.render().body)[meeting_uid(meeting)]["TRANSP"] == "OPAQUE"


class TestWhatChanged:
    """A cancellation's reason and a move's note, in every audience (issue: what changed)."""

    AUDIENCES = ("public", "organisation", "secretariat")

    @staticmethod
    def descriptions(world: World, uid: str, *, now: _dt.datetime = NOW) -> list[str]:
        audiences = [Audience.public(), Audience.organisation(world.org), Audience.secretariat()]
        return [str(events_of(world.render(a, now=now).body)[uid].get("DESCRIPTION", ""))
                for a in audiences]

    def test_a_cancellation_says_why(self, world: World) -> None:
        """The reason given when cancelling is the description's first block in every
        feed; a session of a cancelled meeting says which meeting was cancelled and why;
        reinstating takes the reason away."""
        parent = world.meeting(title="Dialogue", first_day="2023-05-04", last_day="2023-05-05")
        child = world.meeting(title="Session", start="2023-05-05 10:00", end="13:00",
                              parent=parent)
        world.a.cancel_meeting(parent, reason="The room is not available")
        for text in self.descriptions(world, meeting_uid(parent)):
            assert text.startswith("Cancelled: The room is not available")
        for text in self.descriptions(world, meeting_uid(child)):
            assert text.startswith("Cancelled with Dialogue: The room is not available")
        world.a.reinstate_meeting(parent, reason="room found")
        for text in self.descriptions(world, meeting_uid(parent)):
            assert "not available" not in text
            assert "Cancelled" not in text

    def test_a_move_is_told_for_a_while(self, world: World) -> None:
        """"Moved from ... to ..." (with the reason) shows from the move until `notice`
        days after it, never after the meeting; the day it goes, the VEVENT's
        LAST-MODIFIED and the feed's last_modified move to that day."""
        meeting = world.meeting(start="2023-04-19 15:00", end="16:30")
        world.a.reschedule_meeting(meeting, start="2023-04-20 15:00", end="16:30",
                                   reason="the hall is booked")
        uid = meeting_uid(meeting)
        note = ("Moved from 19 Apr 2023 15:00-16:30 Europe/Vienna to "
                "20 Apr 2023 15:00-16:30 Europe/Vienna: the hall is booked")
        for text in self.descriptions(world, uid):
            assert text.startswith(note)
        renderer = FeedRenderer(notice=_dt.timedelta(days=5))
        moved = START.date()  # the clock is on 1 March
        last = pendulum.datetime(moved.year, moved.month, moved.day + 5, 23, 59, tz="UTC")
        shown = world.render(now=last, renderer=renderer)
        gone = world.render(now=last.add(minutes=2), renderer=renderer)
        assert note in unfolded(shown.body).decode().replace("\\,", ",")
        assert "Moved from" not in unfolded(gone.body).decode()
        assert gone.last_modified == pendulum.datetime(2023, 3, 7, tz="UTC")
        assert events_of(gone.body)[uid].get("LAST-MODIFIED").dt == gone.last_modified
        after = world.render(now=pendulum.datetime(2023, 4, 21, tz="UTC"))  # meeting over
        assert "Moved from" not in unfolded(after.body).decode()
        assert "Moved from" not in str(events_of(after.body)[uid].get("DESCRIPTION", ""))

    def test_the_notes_hold_no_personal_data(self, world: World) -> None:
        """The public feed's notes name no delegate (they say times and reasons only)."""
        meeting = world.meeting(start="2023-04-19 15:00", end="16:30")
        world.a.open_registration(meeting, opens="2023-03-01", closes="2023-04-18")
        world.a.nominate(meeting, person=world.person, organisation=world.org,
                         role="participant")
        world.a.reschedule_meeting(meeting, start="2023-04-20 15:00", end="16:30")
        world.a.cancel_meeting(meeting, reason="no quorum")
        public = world.render().body.decode()
        assert "Femi" not in public
        assert "femi@" not in public


class TestRepeatedHour:
    def test_either_side_of_a_repeated_hour_is_written_in_utc(self, world: World) -> None:
        """02:30 Vienna on 27 Oct 2024 happens twice: the meeting that chose the later one
        is at 01:30Z, the earlier one at 00:30Z, and each is written in UTC (a TZID time
        names only one of them, and clients disagree on which); other times keep their
        TZID, and every parser reads the three instants right."""
        later = world.meeting(title="Later", start="2024-10-27 02:30", end="2024-10-27 04:00",
                              disambiguate="later")
        earlier = world.meeting(title="Earlier", start="2024-10-27 02:30",
                                end="2024-10-27 02:50", disambiguate="earlier")
        plain = world.meeting(title="Plain", start="2024-10-27 09:00", end="10:00")
        body = world.render(now=pendulum.datetime(2024, 10, 1, tz="UTC")).body
        text = unfolded(body).decode()
        assert "DTSTART:20241027T013000Z" in text
        assert "DTSTART:20241027T003000Z" in text
        assert "DTEND;TZID=Europe/Vienna:20241027T040000" in text
        assert "DTEND:20241027T005000Z" in text
        assert "DTSTART;TZID=Europe/Vienna:20241027T090000" in text
        expected = {
            meeting_uid(later): (utc(2024, 10, 27, 1, 30), utc(2024, 10, 27, 3)),
            meeting_uid(earlier): (utc(2024, 10, 27, 0, 30), utc(2024, 10, 27, 0, 50)),
            meeting_uid(plain): (utc(2024, 10, 27, 8), utc(2024, 10, 27, 9)),
        }
        for parser, events in parse_all(body).items():
            for uid, (start, end) in expected.items():
                assert (events[uid]["start"], events[uid]["end"]) == (start, end), parser


class TestGracePeriod:
    def test_cancelled_items_leave_after_the_grace_period(self, world: World) -> None:
        """A cancelled meeting stays `grace` days after its last day, then leaves; the
        feed's last_modified moves forward to the moment it left."""
        meeting = world.meeting(start="2023-03-22 15:00", end="16:30")
        world.a.cancel_meeting(meeting)
        renderer = FeedRenderer(grace=_dt.timedelta(days=30))
        uid = meeting_uid(meeting)
        last_day = pendulum.datetime(2023, 4, 21, 23, 59, tz="UTC")  # 22 March + 30 days
        kept = world.render(now=last_day, renderer=renderer)
        gone = world.render(now=last_day.add(minutes=2), renderer=renderer)
        assert uid in events_of(kept.body)
        assert uid not in events_of(gone.body)
        assert (kept.item_count, gone.item_count) == (1, 0)
        assert gone.last_modified == pendulum.datetime(2023, 4, 22, tz="UTC")
        assert gone.last_modified > kept.last_modified

    def test_only_the_day_of_now_matters(self, world: World) -> None:
        """Renders on the same day are byte-identical."""
        world.meeting()
        morning = world.render(now=pendulum.datetime(2023, 5, 1, 0, 1, tz="UTC"))
        evening = world.render(now=pendulum.datetime(2023, 5, 1, 23, 59, tz="UTC"))
        assert morning == evening

    def test_naive_now_is_refused(self, world: World) -> None:
        """`now` must be aware (a naive time has no date in UTC)."""
        with pytest.raises(ValueError, match="aware"):
            world.render(now=_dt.datetime(2023, 5, 1))  # noqa: DTZ001


class TestNoMethod:
    def test_no_method_no_organizer_no_attendee(
        self, demo_state: AllianceState, demo: Any
    ) -> None:
        """No METHOD (a feed is no iTIP message), no ORGANIZER or ATTENDEE in any feed."""
        renderer = FeedRenderer()
        for audience in demo_audiences(demo).values():
            body = unfolded(renderer.render(demo_state, audience, now=DEMO_END).body)
            for name in (b"METHOD", b"ORGANIZER", b"ATTENDEE", b"mailto:"):
                assert not re.search(rb"(^|\r\n)" + name, body), name
            assert b"mailto:" not in body


class TestStamps:
    def test_stamps_come_from_the_log(self, world: World) -> None:
        """DTSTAMP and LAST-MODIFIED are the last change, CREATED the first, in UTC;
        the wall clock at render time changes nothing."""
        meeting = world.meeting()  # recorded at START
        world.clock.set(pendulum.datetime(2023, 3, 5, 10, 30, tz="Europe/Vienna"))
        world.a.change_meeting_details(meeting, location="Room C3")
        world.clock.set(pendulum.datetime(2024, 1, 1, tz="UTC"))
        event = events_of(world.render().body)[meeting_uid(meeting)]
        assert pendulum.datetime(2023, 3, 5, 9, 30, tz="UTC") == event.DTSTAMP
        assert event.last_modified == event.DTSTAMP
        assert event.created == START
        assert b"DTSTAMP:20230305T093000Z" in world.render().body

    def test_feed_last_modified_is_the_latest_change(self, world: World) -> None:
        """The feed's last_modified is the latest change of any item shown."""
        world.meeting()
        world.clock.set(pendulum.datetime(2023, 3, 3, tz="UTC"))
        world.meeting(title="Second")
        assert world.render().last_modified == pendulum.datetime(2023, 3, 3, tz="UTC")


class TestTimezones:
    def test_a_vtimezone_for_every_tzid(self, demo_state: AllianceState, demo: Any) -> None:
        """Every TZID used has its VTIMEZONE (Vienna and New York in the demo)."""
        renderer = FeedRenderer()
        for audience in demo_audiences(demo).values():
            cal = icalendar.Calendar.from_ical(
                renderer.render(demo_state, audience, now=DEMO_END).body
            )
            assert not cal.get_missing_tzids()
            assert sorted(tz.tz_name for tz in cal.timezones) == [
                "America/New_York", "Europe/Vienna"
            ]

    def test_named_zones_fixed_offsets_and_all_day(self, world: World) -> None:
        """Timed in a named zone: TZID=<IANA>; a fixed offset: UTC (Z); all day:
        VALUE=DATE with an exclusive DTEND, transparent; DTEND always."""
        vienna = world.meeting(start="2023-03-22 15:00", end="16:30", zone="Europe/Vienna")
        fixed = world.meeting(start="2023-03-22 15:00", end="16:30", zone="GMT+1")
        days = world.meeting(first_day="2023-05-30", last_day="2023-05-31")
        body = world.render().body
        text = body.decode()
        assert "DTSTART;TZID=Europe/Vienna:20230322T150000" in text
        assert "DTSTART:20230322T140000Z" in text
        assert "DTEND:20230322T153000Z" in text
        assert "DTSTART;VALUE=DATE:20230530" in text
        assert "DTEND;VALUE=DATE:20230601" in text
        assert "TZID=+" not in text and "UTC+" not in text
        events = events_of(body)
        assert events[meeting_uid(days)]["TRANSP"] == "TRANSPARENT"
        for meeting in (vienna, fixed, days):
            assert "DTEND" in events[meeting_uid(meeting)]

    def test_each_zone_is_built_once(self, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
        """A VTIMEZONE is built once per zone and year range, then reused."""
        from alliance_events.ical import _feed

        calls = []
        real = _feed._timezone_ical
        monkeypatch.setattr(_feed, "_timezone_ical", lambda *a: calls.append(a) or real(*a))
        world.meeting()
        world.render()
        world.render(Audience.secretariat())
        world.meeting(title="Second", start="2023-03-23 15:00", end="16:00")
        world.render()
        assert calls == [("Europe/Vienna", 2023, 2023)]


class TestThreeParsers:
    def test_times_in_utc_across_summer_time(self, world: World) -> None:
        """icalendar, vobject and ical.js read every start and end as the domain means it:
        22 Mar 15:00 Vienna = 14:00Z, 19 Apr 15:00 = 13:00Z, 30-31 May all day, a New York
        meeting, and a GMT+1 one."""
        expected = {
            world.meeting(start="2023-03-22 15:00", end="16:30"):
                (utc(2023, 3, 22, 14), utc(2023, 3, 22, 15, 30)),
            world.meeting(start="2023-04-19 15:00", end="16:30"):
                (utc(2023, 4, 19, 13), utc(2023, 4, 19, 14, 30)),
            world.meeting(first_day="2023-05-30", last_day="2023-05-31"):
                (_dt.date(2023, 5, 30), _dt.date(2023, 6, 1)),
            world.meeting(start="2023-03-09 13:00", end="14:00", zone="America/New_York"):
                (utc(2023, 3, 9, 18), utc(2023, 3, 9, 19)),
            world.meeting(start="2023-03-22 15:00", end="16:30", zone="GMT+1"):
                (utc(2023, 3, 22, 14), utc(2023, 3, 22, 15, 30)),
            world.meeting(start="2023-10-29 01:30", end="03:30", zone="Europe/Vienna"):
                (utc(2023, 10, 28, 23, 30), utc(2023, 10, 29, 2, 30)),
        }
        for audience in (Audience.public(), Audience.secretariat()):
            parsed = parse_all(world.render(audience).body)
            for events in parsed.values():
                got = {uid: (e["start"], e["end"]) for uid, e in events.items()}
                assert got == {meeting_uid(m): span for m, span in expected.items()}

    def test_demo_feeds_parse_alike(self, demo_state: AllianceState, demo: Any) -> None:
        """The three parsers read each demo feed alike, with the domain's times."""
        renderer = FeedRenderer(alarms=True)
        for audience in demo_audiences(demo).values():
            parsed = parse_all(renderer.render(demo_state, audience, now=DEMO_END).body)
            events = parsed["ical.js"]
            march = events[meeting_uid(demo.meetings["informal-march"])]
            assert march["start"] == utc(2023, 3, 22, 14)
            april = events[meeting_uid(demo.meetings["informal-april"])]
            assert april["start"] == utc(2023, 4, 19, 13)
            assistance = events[meeting_uid(demo.meetings["technical-assistance"])]
            assert (assistance["start"], assistance["end"]) == (
                _dt.date(2023, 5, 30), _dt.date(2023, 6, 1)
            )
            csw = events[meeting_uid(demo.meetings["csw-cyber-gap"])]
            assert csw["start"] == utc(2023, 3, 9, 18)


class TestRelatedTo:
    def test_sessions_point_to_their_parent(self, demo_state: AllianceState, demo: Any) -> None:
        """Sessions and side events carry RELATED-TO;RELTYPE=PARENT:<parent's UID>."""
        events = events_of(FeedRenderer().render(demo_state, Audience.public(),
                                                 now=DEMO_END).body)
        morning = events[meeting_uid(demo.meetings["firearms-morning"])]
        related = morning["RELATED-TO"]
        assert str(related) == meeting_uid(demo.meetings["firearms-dialogue"])
        assert related.params["RELTYPE"] == "PARENT"
        assert "RELATED-TO" not in events[meeting_uid(demo.meetings["firearms"])]


class TestDescription:
    def test_location_url_links(self, demo_state: AllianceState, demo: Any) -> None:
        """LOCATION, URL (the online link) and the attached links as text lines."""
        events = events_of(FeedRenderer().render(demo_state, Audience.public(),
                                                 now=DEMO_END).body)
        march = events[meeting_uid(demo.meetings["informal-march"])]
        assert str(march["LOCATION"]) == "Vienna International Centre, Room C3"
        assert str(march["URL"]) == "https://alliance.example.org/meet/informal"
        assert ("Report of the informal meeting: https://alliance.example.org/reports/"
                "2023-03-22") in str(march["DESCRIPTION"])

    def test_delegations_by_audience(self, demo_state: AllianceState, demo: Any) -> None:
        """The organisation feed shows its own delegation, the secretariat's all of them,
        the public feed none, and no feed shows an e-mail address."""
        renderer = FeedRenderer()
        uid = meeting_uid(demo.meetings["firearms-dialogue"])
        feeds = {
            name: renderer.render(demo_state, audience, now=DEMO_END).body
            for name, audience in demo_audiences(demo).items()
        }
        descriptions = {name: str(events_of(body)[uid].get("DESCRIPTION", ""))
                        for name, body in feeds.items()}
        assert "Femi Adeyemi: speaker, confirmed, funded" in descriptions["organisation-RUAN"]
        assert "Your delegation (RUAN)" in descriptions["organisation-RUAN"]
        assert "Sami Haider" not in descriptions["organisation-RUAN"]
        assert "RUAN, Femi Adeyemi: speaker, confirmed, funded" in descriptions["secretariat"]
        assert "DATH, Sami Haider: speaker, confirmed, funded" in descriptions["secretariat"]
        assert "ACJS, Paul Reed: participant, waitlisted" in descriptions["secretariat"]
        assert "delegation" not in descriptions["public"].lower()
        public = unfolded(feeds["public"]).decode()
        for name, _organisation in PERSONS.values():
            assert name not in public
        for body in feeds.values():
            assert "@example.org" not in unfolded(body).decode()


class TestDeadlines:
    def test_deadlines_are_all_day_events(self, world: World) -> None:
        """A deadline is a VEVENT (no VTODO), all day on its date, its time in the summary."""
        at = world.a.set_deadline(title="Names of participants", due="2023-05-01 17:00")
        by = world.a.set_deadline(title="Report", due="2023-05-02")
        body = world.render().body
        assert b"VTODO" not in body
        events = events_of(body)
        event = events[deadline_uid(at)]
        assert str(event["SUMMARY"]) == "Deadline: Names of participants (17:00 Europe/Vienna)"
        assert (event.start, event.end) == (_dt.date(2023, 5, 1), _dt.date(2023, 5, 2))
        assert event["TRANSP"] == "TRANSPARENT"
        assert str(events[deadline_uid(by)]["SUMMARY"]) == "Deadline: Report"
        assert events[deadline_uid(by)].start == _dt.date(2023, 5, 2)

    def test_alarms_only_when_asked(self, world: World) -> None:
        """Reminders become DISPLAY VALARMs (TRIGGER -reminder, with a DESCRIPTION) only
        with alarms=True."""
        deadline = world.a.set_deadline(title="Names", due="2023-05-01 17:00",
                                        reminders=["P7D", "P1D"])
        uid = deadline_uid(deadline)
        assert not events_of(world.render().body)[uid].subcomponents
        event = events_of(world.render(renderer=FeedRenderer(alarms=True)).body)[uid]
        alarms = event.subcomponents
        assert [a["ACTION"] for a in alarms] == ["DISPLAY", "DISPLAY"]
        assert [a["TRIGGER"].dt for a in alarms] == [-_dt.timedelta(days=7),
                                                     -_dt.timedelta(days=1)]
        assert all(str(a["DESCRIPTION"]).startswith("Reminder: Deadline: Names") for a in alarms)

    def test_who_sees_which_deadline(self, world: World) -> None:
        """Public: public deadlines of no organisation; an organisation: also its own;
        the secretariat: all."""
        public = world.a.set_deadline(title="Public", due="2023-05-01")
        internal = world.a.set_deadline(title="Internal", due="2023-05-01", public=False)
        own = world.a.set_deadline(title="Own", due="2023-05-01", organisation=world.org)
        other = world.a.set_deadline(title="Other", due="2023-05-01", organisation=world.other)

        def seen(audience: Audience) -> set[uuid.UUID]:
            uids = set(events_of(world.render(audience).body))
            return {d for d in (public, internal, own, other) if deadline_uid(d) in uids}

        assert seen(Audience.public()) == {public}
        assert seen(Audience.organisation(world.org)) == {public, own}
        assert seen(Audience.secretariat()) == {public, internal, own, other}


class TestCalendarProperties:
    def test_names_refresh_and_ids(self, world: World) -> None:
        """NAME and X-WR-CALNAME, DESCRIPTION and X-WR-CALDESC, REFRESH-INTERVAL;VALUE=DURATION
        and X-PUBLISHED-TTL, a fixed PRODID, and no calendar-level UID (vdirsyncer and khal
        would take it for every item's: CALENDAR.md rule 4)."""
        feeds = {a.key: world.render(a).body for a in (
            Audience.public(), Audience.organisation(world.org), Audience.secretariat())}
        for body in feeds.values():
            text = unfolded(body).decode()
            cal = icalendar.Calendar.from_ical(body)
            assert str(cal["NAME"]) == str(cal["X-WR-CALNAME"])
            assert str(cal["DESCRIPTION"]) == str(cal["X-WR-CALDESC"])
            assert "REFRESH-INTERVAL;VALUE=DURATION:PT2H\r\n" in text
            assert "X-PUBLISHED-TTL:PT2H\r\n" in text
            assert str(cal["PRODID"]) == PRODID
            assert "UID" not in cal
            header = text.split("BEGIN:VEVENT", 1)[0]
            assert "\r\nUID:" not in header
        assert "(RUAN)" in str(icalendar.Calendar.from_ical(
            feeds[f"organisation:{world.org}"])["X-WR-CALNAME"])

    def test_calendar_name_is_sanitised(self, world: World) -> None:
        """A name with CR/LF or separators cannot inject a property: one line, escaped."""
        renderer = FeedRenderer(name="Alliance\r\nEND:VCALENDAR\r\nBEGIN:VEVENT\x07; x, y",
                                refresh=_dt.timedelta(hours=4))
        body = world.render(renderer=renderer).body
        cal = icalendar.Calendar.from_ical(body)
        assert b"\r\nNAME:Alliance END:VCALENDAR BEGIN:VEVENT\\; x\\, y\r\n" in body
        assert b"X-WR-CALNAME:Alliance END:VCALENDAR BEGIN:VEVENT\\; x\\, y\r\n" in body
        assert len(cal.events) == 0
        assert b"X-PUBLISHED-TTL:PT4H" in body
        assert body.count(b"\r\nEND:VCALENDAR\r\n") == 1


class TestTextHygiene:
    def test_control_characters_are_stripped(self, world: World) -> None:
        """C0 control characters (not TAB) and DEL are removed from every text."""
        meeting = world.meeting(title="A\x00B\x07C\x1bD\tE\x7f", location="Room\x0b C3",
                                description="One\x0cTwo\r\nThree")
        event = events_of(world.render().body)[meeting_uid(meeting)]
        assert str(event["SUMMARY"]) == "ABCD\tE"
        assert str(event["LOCATION"]) == "Room C3"
        assert str(event["DESCRIPTION"]) == "OneTwo\nThree"
        assert not re.search(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]", world.render().body)

    def test_line_breaks_cannot_inject(self, world: World) -> None:
        """CR, LF and CRLF in a title become an escaped newline: still one VEVENT."""
        world.meeting(title="Hi\r\nEND:VEVENT\r\nBEGIN:VEVENT\rUID:evil\nSUMMARY:x",
                      location="a\r\nLOCATION:b", organiser="x\r\nORGANIZER:mailto:a@b.c",
                      description="END:VCALENDAR\r\n")
        body = world.render().body
        assert body.count(b"\r\nBEGIN:VEVENT\r\n") == 1
        assert b"\r\nUID:evil" not in body and b"\r\nORGANIZER" not in body
        parsed = parse_all(body)
        (event,) = parsed["ical.js"].values()
        assert event["summary"] == "Hi\nEND:VEVENT\nBEGIN:VEVENT\nUID:evil\nSUMMARY:x"

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(title=ical_texts(), location=ical_texts(), description=ical_texts(),
           organiser=ical_texts())
    def test_any_text_stays_intact_in_three_parsers(
        self, title: str, location: str, description: str, organiser: str
    ) -> None:
        """Any text gives exactly one VEVENT per meeting in all three parsers, with the
        text intact but for the control characters."""
        title = title if clean_text(title).strip() else f"Meeting {title}"
        clock = FixedClock(START)
        with Alliance.open("memory:", clock=clock) as alliance:
            first = alliance.schedule_meeting(
                title=title, start="2023-03-22 15:00", end="16:30", location=location,
                description=description, organiser=organiser,
            )
            second = alliance.schedule_meeting(title="Second", first_day="2023-05-30",
                                               location=title)
            body = FeedRenderer().render(alliance.state, Audience.public(), now=NOW).body
        parsed = parse_all(body)
        one_line = re.sub("[\r\n]+", " ", clean_text(organiser)).strip()
        expected_description = "\n\n".join(
            part for part in (clean_text(description).strip(),
                              f"Organiser: {one_line}" if one_line else "") if part
        )
        for events in parsed.values():
            assert set(events) == {meeting_uid(first), meeting_uid(second)}
            event = events[meeting_uid(first)]
            assert event["summary"] == clean_text(title).strip()
            assert event["location"] == clean_text(location).strip()
            assert event["description"] == expected_description
            assert events[meeting_uid(second)]["location"] == clean_text(title).strip()


_NAMES = st.from_regex(r"\A[A-Z][a-z]{5,9} [A-Z][a-z]{5,9}\Z")


class TestPrivacy:
    @settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def test_public_feed_never_names_a_person(self, data: st.DataObject) -> None:
        """In random scenarios, no delegate's name or e-mail appears in the public feed's
        bytes (unfolded) or in what any parser reads; the secretariat's shows them."""
        names = data.draw(st.lists(_NAMES, min_size=1, max_size=6, unique=True))
        clock = FixedClock(START)
        with Alliance.open("memory:", clock=clock) as a:
            orgs = [a.register_organisation(name=f"Org {i}", acronym=f"O{i}") for i in range(3)]
            persons = {
                a.register_person(name=name, email=f"{name.replace(' ', '.').lower()}@ngo.test",
                                  organisation=orgs[i % 3]): name
                for i, name in enumerate(names)
            }
            meetings = []
            for i in range(data.draw(st.integers(1, 3))):
                parent = data.draw(st.sampled_from([None, *meetings]))
                meeting = a.schedule_meeting(
                    title=f"Meeting {i}", first_day=f"2023-05-0{i + 1}", parent=parent,
                    tentative=data.draw(st.booleans()),
                )
                a.open_registration(meeting, opens="2023-03-01", closes="2023-04-30")
                meetings.append(meeting)
            for person in persons:
                meeting = data.draw(st.sampled_from(meetings))
                a.nominate(meeting, organisation=a.state.persons[person].organisation_id
                           or orgs[0], person=person, role="participant")
            for i in range(data.draw(st.integers(0, 3))):
                a.set_deadline(title=f"Deadline {i}", due="2023-04-20",
                               organisation=data.draw(st.sampled_from([None, *orgs])),
                               meeting=data.draw(st.sampled_from([None, *meetings])))
            if data.draw(st.booleans()):
                a.cancel_meeting(data.draw(st.sampled_from(meetings)))
            state = a.state
        renderer = FeedRenderer(alarms=True)
        public = renderer.render(state, Audience.public(), now=NOW).body
        readable = unfolded(public).decode()
        parsed = parse_all(public)
        texts = json.dumps([list(events.values()) for events in parsed.values()], default=str)
        for person, name in persons.items():
            email = state.persons[person].email
            for secret in (name, email, name.split()[0], name.split()[1]):
                assert secret not in readable
                assert secret not in texts
        secretariat = unfolded(renderer.render(state, Audience.secretariat(), now=NOW).body)
        assert all(name in secretariat.decode() for name in names)


class TestDeterminism:
    def test_same_state_same_bytes(self, demo_state: AllianceState, demo: Any) -> None:
        """Rendering twice, with a fresh renderer, or from a fresh fold of the same log gives
        the same bytes."""
        records: list[Recorded] = _demo()[1]["records"]
        refolded = AllianceProjection().initial()
        projection = AllianceProjection()
        for record in records:
            refolded = projection.apply(refolded, record)
        renderer = FeedRenderer()
        for audience in demo_audiences(demo).values():
            first = renderer.render(demo_state, audience, now=DEMO_END)
            assert renderer.render(demo_state, audience, now=DEMO_END) == first
            assert FeedRenderer().render(refolded, audience, now=DEMO_END) == first

    def test_fresh_fold_of_a_sqlite_log(self, world: World, tmp_path: Path) -> None:
        """A log stored in SQLite and folded again renders the same bytes."""
        clock = DemoClock()
        url = f"sqlite:///{tmp_path / 'log.db'}"
        with Alliance.open(url, clock=clock) as alliance:
            record_minutes(alliance, clock=clock)
            before = FeedRenderer().render(alliance.state, Audience.secretariat(), now=DEMO_END)
        with Alliance.open(url, clock=clock) as alliance:
            state, _ = fold(alliance.log, AllianceProjection())
            after = FeedRenderer().render(state, Audience.secretariat(), now=DEMO_END)
        assert after == before


class TestIncremental:
    @staticmethod
    def spy(renderer: FeedRenderer, monkeypatch: pytest.MonkeyPatch) -> list[str]:
        serialised: list[str] = []
        real = renderer._serialise

        def counting(data: VEventData, key: tuple[object, ...]) -> Any:
            serialised.append(data.uid)
            return real(data, key)

        monkeypatch.setattr(renderer, "_serialise", counting)
        return serialised

    def test_one_event_re_renders_only_what_it_touched(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """After one new event only the items it changed are serialised again, and the
        feed equals a cold render."""
        clock = DemoClock()
        with Alliance.open("memory:", clock=clock) as a:
            demo = record_minutes(a, clock=clock)
            renderer = FeedRenderer()
            audiences = demo_audiences(demo)
            for audience in audiences.values():
                renderer.render(a.state, audience, now=DEMO_END)
            serialised = self.spy(renderer, monkeypatch)

            def step() -> dict[str, list[str]]:
                done = {}
                for name, audience in audiences.items():
                    serialised.clear()
                    feed = renderer.render(a.state, audience, now=DEMO_END)
                    assert feed == FeedRenderer().render(a.state, audience, now=DEMO_END)
                    done[name] = sorted(serialised)
                return done

            assert step() == {name: [] for name in audiences}
            a.attach_link(demo.meetings["informal-april"], kind="report",
                          url="https://alliance.example.org/reports/2023-04-19")
            april = [meeting_uid(demo.meetings["informal-april"])]
            # No delegation in it: written once (by the first feed), the same in all three.
            assert step() == {"public": april, "organisation-RUAN": [], "secretariat": []}

            ccpcj = demo.meetings["ccpcj"]  # cancelled on the demo's last day: in its grace
            a.cancel_meeting(ccpcj)
            expected = sorted(meeting_uid(m) for m in (ccpcj, *a.state.descendants(ccpcj)))
            assert len(expected) == 3
            assert step() == {"public": expected, "organisation-RUAN": [], "secretariat": []}

            person = demo.persons["rua-1"]
            a.log.append(person_stream(person), [PersonDetailsChanged(
                event_id=uuid.UUID(int=99), person_id=person, name="Femi A. Adeyemi")],
                expected_version=ANY)
            dialogue = [meeting_uid(demo.meetings["firearms-dialogue"])]
            # Femi's delegation is in two feeds, each its own VEVENT: written in both.
            assert step() == {"public": [], "organisation-RUAN": dialogue,
                              "secretariat": dialogue}

    def test_an_item_without_a_delegation_is_written_once_for_every_feed(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The renderer writes a VEVENT that shows nothing of one audience once: the other
        feeds take the same bytes (no copy per organisation), and only the items with a
        delegation or an organisation's deadline are written per feed; each feed is still
        exactly what a renderer of its own writes."""
        clock = DemoClock()
        with Alliance.open("memory:", clock=clock) as a:
            demo = record_minutes(a, clock=clock)
            audiences = list(demo_audiences(demo).values())
            renderer = FeedRenderer()
            serialised = self.spy(renderer, monkeypatch)
            feeds = []
            written = []
            for audience in audiences:
                serialised.clear()
                feeds.append(renderer.render(a.state, audience, now=DEMO_END))
                written.append(len(serialised))
                assert feeds[-1] == FeedRenderer().render(a.state, audience, now=DEMO_END)
            public = feeds[0]
            assert written[0] == public.item_count
            for feed, count in zip(feeds[1:], written[1:], strict=True):
                own = [e for e in events_of(feed.body).values() if "Delegation" in str(
                    e.get("DESCRIPTION", "")) or "delegation (" in str(e.get("DESCRIPTION", ""))
                    or "Organisation:" in str(e.get("DESCRIPTION", ""))]
                assert count == len(own) > 0
            shared = set(public.body.split(b"BEGIN:VEVENT")) & set(
                feeds[1].body.split(b"BEGIN:VEVENT"))
            assert len(shared) >= public.item_count - written[1]


    def test_other_states_and_a_short_journal_are_planned_in_full(
        self, world: World, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A state the renderer did not render last (a copy, an "as of" fold), or whose
        journal no longer reaches back to the last render, is planned in full: the feed
        is still the cold one."""
        meeting = world.meeting()
        renderer = world.renderer
        world.render()
        copy = AllianceProjection().copy(world.a.state)
        world.a.change_meeting_details(meeting, title="Changed")
        assert renderer._views["public"].follows(world.a.state) is not None
        assert renderer._views["public"].follows(copy) is None
        old = renderer.render(copy, Audience.public(), now=NOW)
        assert old == FeedRenderer().render(copy, Audience.public(), now=NOW)
        assert b"Changed" not in old.body
        assert world.render() == FeedRenderer().render(world.a.state, Audience.public(), now=NOW)
        monkeypatch.setattr("alliance_events.projections.alliance._JOURNAL_LIMIT", 4)
        for number in range(5):
            world.a.change_meeting_details(meeting, title=f"Title {number}")
        assert renderer._views["public"].follows(world.a.state) is None
        feed = world.render()
        assert feed == FeedRenderer().render(world.a.state, Audience.public(), now=NOW)
        assert b"Title 4" in feed.body


class TestIncrementalEqualsCold:
    """The incremental render, step by step, against a cold one and the reference."""

    step = staticmethod(random_command)

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def test_random_histories(self, data: st.DataObject) -> None:
        """After each command, each audience's feed rendered incrementally equals a cold
        render by a new renderer and the whole calendar built at once."""
        clock = FixedClock(START)
        options: dict[str, Any] = {
            "grace": _dt.timedelta(days=2), "notice": _dt.timedelta(days=3), "alarms": True,
        }
        renderer = FeedRenderer(**options)
        now = pendulum.datetime(2023, 3, 1, 12, tz="UTC")
        with Alliance.open("memory:", clock=clock) as a:
            organisations = [a.register_organisation(name=f"Org {i}", acronym=f"O{i}")
                             for i in range(2)]
            people = {"organisations": organisations, "persons": [
                a.register_person(name=f"Person {i}", organisation=organisations[i % 2])
                for i in range(3)]}
            audiences = [Audience.public(), Audience.organisation(organisations[0]),
                         Audience.secretariat()]
            meetings: list[uuid.UUID] = []
            deadlines: list[uuid.UUID] = []
            for number in range(data.draw(st.integers(1, 14))):
                days = 0
                with contextlib.suppress(DomainError):  # refused (cancelling twice, ...)
                    days = self.step(a, data, people, meetings, deadlines)
                now = now.add(days=days)
                # the days pass (grace periods end), now and then backwards
                now = now.add(days=data.draw(st.sampled_from([0, 0, 1, 2, 4, -2])))
                clock.advance(hours=7)
                state = a.state
                for audience in audiences:
                    if number:  # the renderer goes on from its last render of this state
                        assert renderer._views[audience.key].follows(state) is not None
                    feed = renderer.render(state, audience, now=now)
                    assert feed == FeedRenderer(**options).render(state, audience, now=now)
                    reference = FeedRenderer(**options).calendar(state, audience, now=now)
                    assert feed.body == reference.to_ical()


class TestAssembly:
    def test_joined_bytes_equal_the_whole_calendar(
        self, demo_state: AllianceState, demo: Any
    ) -> None:
        """The joined feed is byte for byte what icalendar writes for the whole calendar
        built at once (VTIMEZONEs first, then VEVENTs in the same order)."""
        for alarms in (False, True):
            renderer = FeedRenderer(alarms=alarms)
            for audience in demo_audiences(demo).values():
                cal = renderer.calendar(demo_state, audience, now=DEMO_END)
                assert not cal.get_missing_tzids()
                assert renderer.render(demo_state, audience, now=DEMO_END).body == cal.to_ical()
                assert renderer.render(demo_state, audience, now=DEMO_END).item_count == len(
                    cal.events)

    def test_an_empty_feed(self) -> None:
        """An empty state gives a valid, empty calendar."""
        feed = FeedRenderer().render(AllianceState(), Audience.public(), now=NOW)
        assert feed.item_count == 0
        assert feed.last_modified == pendulum.datetime(1970, 1, 1, tz="UTC")
        assert parse_all(feed.body) == {"icalendar": {}, "vobject": {}, "ical.js": {}}


class TestGolden:
    @pytest.mark.parametrize("name", ["public", "organisation-RUAN", "secretariat"])
    def test_demo_feeds_match_the_golden_files(
        self, name: str, demo_state: AllianceState, demo: Any
    ) -> None:
        """The demo's feeds are byte for byte the golden files (regenerate with
        ALLIANCE_EVENTS_REGENERATE_GOLDEN=1)."""
        body = FeedRenderer().render(demo_state, demo_audiences(demo)[name], now=DEMO_END).body
        path = GOLDEN / f"demo-{name}.ics"
        if REGENERATE:
            path.write_bytes(body)
        assert path.exists(), f"{path} is missing: run with ALLIANCE_EVENTS_REGENERATE_GOLDEN=1"
        assert body == path.read_bytes(), f"{path.name} differs: see the module docstring"

    @pytest.mark.parametrize("name", ["public", "organisation-RUAN", "secretariat"])
    def test_multi_year_feeds_match_the_golden_files(self, name: str) -> None:
        """The 2023-2028 scenario's feeds (seven zones, "GMT+1", both sides of a repeated
        hour, a cancellation and a move: tests/scenarios.py) are byte for byte the golden
        files, and every parser reads each item where the domain puts it."""
        alliance, years = years_alliance()
        with alliance:
            assert years.organisation is not None
            audience = {"public": Audience.public(), "secretariat": Audience.secretariat(),
                        "organisation-RUAN": Audience.organisation(years.organisation)}[name]
            body = FeedRenderer().render(alliance.state, audience, now=YEARS_NOW).body
            expected = domain_spans(alliance.state)
        path = GOLDEN / f"years-{name}.ics"
        if REGENERATE:
            path.write_bytes(body)
        assert path.exists(), f"{path} is missing: run with ALLIANCE_EVENTS_REGENERATE_GOLDEN=1"
        assert body == path.read_bytes(), f"{path.name} differs: see the module docstring"
        for parser, events in parse_all(body).items():
            read = {uid: (e["start"], e["end"]) for uid, e in events.items()}
            assert read == {uid: expected[uid] for uid in read}, parser
            assert len(read) == len(events_of(body))


class TestChainWalkedOnce:
    """A full render walks each meeting's chain once (``meeting_chain``) and hands it to
    the plan, the VEVENT and the dependencies of the meeting and of its deadlines; each
    of these walks it itself when not handed one. The same meetings and ids either way,
    whatever the parent links: none, known, not (yet) known, or in a cycle."""

    @staticmethod
    @functools.cache
    def one_meeting() -> Any:
        clock = FixedClock(START)
        with Alliance.open("memory:", clock=clock) as alliance:
            meeting = alliance.schedule_meeting(title="Session", start="2023-03-22 15:00",
                                                end="16:30")
            return alliance.state.meetings[meeting]

    @settings(max_examples=200, deadline=None)
    @given(data=st.data())
    def test_the_walk_once_is_the_two_walks(self, data: st.DataObject) -> None:
        template = self.one_meeting()
        count = data.draw(st.integers(1, 6))
        ids = [uuid.UUID(int=number + 1) for number in range(count)]
        unknown = uuid.UUID(int=99)
        meetings = {}
        for meeting_id in ids:
            parent = data.draw(st.sampled_from([None, unknown, *ids]))
            # the state's own id objects are other objects than the ones it is asked with
            meetings[uuid.UUID(int=meeting_id.int)] = attrs.evolve(
                template, meeting_id=meeting_id, parent_id=parent)
        state = AllianceState(meetings=meetings)
        for meeting in meetings.values():
            chain = meeting_chain(state, meeting)
            assert list(chain.meetings) == _chain(state, meeting)
            assert list(chain.lineage) == _lineage(state, meeting.meeting_id)
            for audience in (Audience.public(), Audience.secretariat()):
                assert meeting_dependencies(state, meeting, audience, chain) == (
                    meeting_dependencies(state, meeting, audience))

    @settings(max_examples=200, deadline=None)
    @given(data=st.data())
    def test_the_walk_reads_what_the_rules_say(self, data: st.DataObject) -> None:
        """A meeting's plan and VEVENT read its chain in one walk: the same positions,
        latest and first change (``_touches``, ``_created``), status (``chain_status``)
        and SEQUENCE (the chain's sum) as the rules' own functions give."""
        template = self.one_meeting()
        count = data.draw(st.integers(1, 5))
        ids = [uuid.UUID(int=number + 1) for number in range(count)]
        meetings = {}
        touched = {}
        for meeting_id in ids:
            parent = data.draw(st.sampled_from([None, uuid.UUID(int=99), *ids]))
            meetings[meeting_id] = attrs.evolve(
                template, meeting_id=meeting_id, parent_id=parent,
                status=data.draw(st.sampled_from(list(MeetingStatus))),
                sequence=data.draw(st.integers(0, 3)))
            if data.draw(st.booleans()):
                created, modified = sorted(
                    START.add(hours=data.draw(st.integers(0, 50))) for _ in range(2))
                touched[meeting_id] = Touched(created, modified, data.draw(st.integers(1, 9)))
        state = AllianceState(meetings=meetings, touched=touched)
        today = _dt.date(2023, 3, 1)
        for meeting in meetings.values():
            chain = meeting_chain(state, meeting)
            status = chain_status(chain.meetings)
            plan = plan_meeting(state, meeting, Audience.public(), today=today,
                                notice=_dt.timedelta(days=30), chain=chain)
            assert (plan.key[0], plan.stamp) == _touches(
                state, [m.meeting_id for m in chain.meetings])
            assert plan.created == _created(state, meeting.meeting_id)
            assert plan.cancelled == (status is MeetingStatus.CANCELLED)
            vevent = meeting_item(state, meeting, Audience.public(), plan, chain)
            assert vevent.status == status.name
            assert vevent.sequence == sum(m.sequence for m in chain.meetings)
