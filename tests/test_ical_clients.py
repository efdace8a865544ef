"""The feeds read by real calendar software: libical, vdirsyncer + khal, Radicale.

Each client (driven by ``tests/clients.py``) must read every item where the domain
puts it: a timed meeting from its start to its end (in UTC), an all-day meeting from
its first day to the day after its last (dates), a deadline all day on its due day;
one VEVENT per UID, and a subscriber (vdirsyncer) stores one item per VEVENT.

The scenarios are recorded once per module into a SQLite log (the demo's minutes,
and any other recorder in ``RECORDERS``); the in-process feeds are rendered at the
scenario's own "now", the served ones (``alliance-events serve`` on that log) at the
real time, so items past their grace period may have left those: the checks compare
each client with the items of the very feed it read.

The clients are installed by ``.ci/run`` (apt: ``gir1.2-ical-3.0 python3-gi``; pip:
the dev extra); without them these tests are skipped locally and fail in CI.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import functools
import os
import subprocess
import sys
import time
import uuid
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import icalendar
import pendulum
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from alliance_events import Alliance
from alliance_events.demo import DEMO_END, DemoClock, record_minutes
from alliance_events.domain.common import MeetingKind
from alliance_events.domain.meetings import MeetingState
from alliance_events.errors import DomainError
from alliance_events.ical import ALLIANCE_NAMESPACE, Audience, FeedRenderer
from alliance_events.projections.alliance import AllianceState
from alliance_events.timing import Timed

from .clients import (
    Moment,
    Radicales,
    Reading,
    free_port,
    libical_events,
    parse_all,
    radicale_finds,
    radicales,
    require_ical_js,
    require_libical,
    require_radicale,
    require_vdirsyncer_khal,
    vdirsyncer_khal,
)
from .scenarios import YEARS_NOW, domain_spans, years_alliance

UTC = _dt.UTC
CLI = [sys.executable, "-m", "alliance_events.cli"]
AUDIENCES = ("public", "secretariat", "organisation")


# -- the scenarios ---------------------------------------------------------------------------

Recorder = Callable[[str], tuple[_dt.datetime, uuid.UUID]]
"""Records a scenario into the log at a URL; returns the moment its feeds are rendered
at and the organisation whose private feed is checked."""


def record_years_scenario(url: str) -> tuple[_dt.datetime, uuid.UUID]:
    """2023 to 2028 in seven zones, a fixed offset, both sides of a repeated hour."""
    alliance, years = years_alliance(url)
    with alliance:
        assert years.organisation is not None
        return YEARS_NOW, years.organisation


def record_demo(url: str) -> tuple[_dt.datetime, uuid.UUID]:
    """The demo's minutes of 22 March 2023 (as ``test_ical.py`` and ``test_web.py`` use)."""
    clock = DemoClock()
    with Alliance.open(url, clock=clock) as alliance:
        demo = record_minutes(alliance, clock=clock)
    return DEMO_END, demo.organisations["rua"]


RECORDERS: dict[str, Recorder] = {"demo": record_demo, "years": record_years_scenario}
"""The scenarios every test here runs on (add one here and every check runs on it)."""


@dataclass(frozen=True)
class Scenario:
    """A scenario recorded into a SQLite log, with a private feed token."""

    name: str
    path: Path
    state: AllianceState
    now: _dt.datetime
    organisation: uuid.UUID
    token: str

    def audience(self, name: str) -> Audience:
        if name == "organisation":
            return Audience.organisation(self.organisation)
        return Audience.secretariat() if name == "secretariat" else Audience.public()

    def feed(self, audience: str) -> bytes:
        """The feed for ``audience`` rendered in process at the scenario's time."""
        return FeedRenderer().render(self.state, self.audience(audience), now=self.now).body


@pytest.fixture(scope="module", params=sorted(RECORDERS))
def scenario(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
             ) -> Scenario:
    name = request.param
    path = tmp_path_factory.mktemp(f"scenario-{name}") / "log.db"
    url = f"sqlite:///{path}"
    now, organisation = RECORDERS[name](url)
    with Alliance.open(url) as alliance:
        _, token = alliance.issue_feed_token(organisation, label="real clients")
        state = alliance.state
    return Scenario(name, path, state, now, organisation, token)


# -- what the domain says --------------------------------------------------------------------


def feed_uids(body: bytes) -> list[str]:
    """The UID of every VEVENT of the feed, in order (as icalendar reads it)."""
    return [str(event["UID"]) for event in icalendar.Calendar.from_ical(body).events]


def expected_of(body: bytes, state: AllianceState) -> dict[str, tuple[Moment, Moment]]:
    """The domain's span of every item of this feed; the feed holds each UID once."""
    uids = feed_uids(body)
    assert len(uids) == len(set(uids)), "a UID repeated in the feed"
    spans = domain_spans(state)
    assert set(uids) <= set(spans), f"items of no meeting or deadline: {set(uids) - set(spans)}"
    return {uid: spans[uid] for uid in uids}


def assert_reads_domain(reading: Reading, body: bytes, state: AllianceState) -> None:
    """``reading`` has every item of ``body``, once, at the domain's times."""
    expected = expected_of(body, state)
    assert reading.spans() == expected, f"{reading.client} misreads the feed"
    assert reading.count == len(expected), f"{reading.client}: a UID read twice"


# -- libical ---------------------------------------------------------------------------------


class TestLibical:
    @pytest.mark.parametrize("audience", AUDIENCES)
    def test_every_item_at_its_time(self, scenario: Scenario, audience: str) -> None:
        """libical, with the feed's own VTIMEZONEs, reads every item where the domain puts
        it, one VEVENT per UID, without a parse error."""
        require_libical()
        body = scenario.feed(audience)
        reading = libical_events(body)
        assert reading.problems == ()
        assert_reads_domain(reading, body, scenario.state)

    @pytest.mark.parametrize("audience", AUDIENCES)
    def test_vtimezones_agree_with_the_zone_database(
        self, scenario: Scenario, audience: str
    ) -> None:
        """The same wall times read with libical's builtin zones (the system's zone
        database) land at the same instants: the feed's VTIMEZONEs say what the zone
        database says, for every time the feed uses."""
        require_libical()
        body = scenario.feed(audience)
        assert libical_events(body, zones="builtin").spans() == libical_events(body).spans()

    def test_the_demo_feed_as_the_minutes_say(self) -> None:
        """Sanity of the harness: libical reads the demo's informal meetings at 14:00Z
        (22 March, winter time) and 13:00Z (19 April, summer time)."""
        require_libical()
        clock = DemoClock()
        with Alliance.open("memory:", clock=clock) as alliance:
            demo = record_minutes(alliance, clock=clock)
            body = FeedRenderer().render(alliance.state, Audience.public(), now=DEMO_END).body
        events = libical_events(body).events
        march = str(uuid.uuid5(ALLIANCE_NAMESPACE,
                               f"meeting:{demo.meetings['informal-march']}"))
        april = str(uuid.uuid5(ALLIANCE_NAMESPACE,
                               f"meeting:{demo.meetings['informal-april']}"))
        assert events[march].start == _dt.datetime(2023, 3, 22, 14, tzinfo=UTC)
        assert events[april].start == _dt.datetime(2023, 4, 19, 13, tzinfo=UTC)
        assert events[april].end == _dt.datetime(2023, 4, 19, 14, 30, tzinfo=UTC)
        assert events[april].status == "CONFIRMED"


# -- a real subscriber: vdirsyncer + khal ----------------------------------------------------


@pytest.fixture(scope="module")
def server(scenario: Scenario, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``alliance-events serve`` on the scenario's log, on a free loopback port."""
    require_vdirsyncer_khal()  # its only client here
    port = free_port()
    output = tmp_path_factory.mktemp("server") / "server.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [*CLI, "--db", str(scenario.path), "serve", "--port", str(port),
             "--poll-interval", "1"],
            stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while True:
                assert process.poll() is None, output.read_text()
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.1)
            yield base
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=5)


@dataclass(frozen=True)
class Subscription:
    """A served feed as vdirsyncer + khal read it, and the bytes it was made of."""

    reading: Reading
    body: bytes


@pytest.fixture(scope="module")
def subscribe(
    scenario: Scenario, server: str, tmp_path_factory: pytest.TempPathFactory
) -> Callable[[str], Subscription]:
    """Sync a served feed (``public`` or ``organisation``) once per module."""

    @functools.cache
    def sync(feed: str) -> Subscription:
        path = "/calendar.ics" if feed == "public" else f"/o/{scenario.token}/calendar.ics"
        url = server + path
        reading = vdirsyncer_khal(url, tmp_path_factory.mktemp(f"vdirsyncer-{feed}"))
        body = httpx.get(url, timeout=10, headers={"Accept-Encoding": "identity"}).content
        return Subscription(reading, body)

    return sync


class TestVdirsyncerKhal:
    @pytest.mark.parametrize("feed", ["public", "organisation"])
    def test_one_stored_item_per_vevent(
        self, subscribe: Callable[[str], Subscription], feed: str
    ) -> None:
        """vdirsyncer's http storage stores one item (one .ics file) per VEVENT of the
        served feed: nothing at the calendar level makes it merge them."""
        require_vdirsyncer_khal()
        subscription = subscribe(feed)
        vevents = len(feed_uids(subscription.body))
        stored = subscription.reading.stored
        assert vevents > 0
        assert stored == vevents, f"vdirsyncer stored {stored} item(s) for {vevents} VEVENTs"

    @pytest.mark.parametrize("feed", ["public", "organisation"])
    def test_khal_lists_each_item_at_its_time(
        self, subscribe: Callable[[str], Subscription], scenario: Scenario, feed: str
    ) -> None:
        """khal, on the synced vdir, lists every item of the feed once, where the domain
        puts it (timed in UTC, all-day by dates)."""
        require_vdirsyncer_khal()
        subscription = subscribe(feed)
        assert_reads_domain(subscription.reading, subscription.body, scenario.state)


# -- Radicale's time-range queries -----------------------------------------------------------


@pytest.fixture(scope="module")
def radicale_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Radicales]:
    """Radicale, started once and again only for a feed with other VTIMEZONEs."""
    require_radicale()
    with radicales(tmp_path_factory.mktemp("radicale")) as servers:
        yield servers


class TestRadicale:
    @pytest.mark.parametrize("audience", AUDIENCES)
    def test_each_timed_meeting_at_its_instant(
        self, radicale_servers: Radicales, scenario: Scenario, audience: str
    ) -> None:
        """Radicale finds each timed item in the minute that starts at its true start,
        and not in the hour before it."""
        body = scenario.feed(audience)
        starts = {uid: start for uid, (start, _end) in expected_of(body, scenario.state).items()
                  if isinstance(start, _dt.datetime)}
        assert starts, "no timed item to check"
        found = radicale_finds(body, starts, radicale_servers)
        summaries = {str(e["UID"]): str(e["SUMMARY"])
                     for e in icalendar.Calendar.from_ical(body).events}
        wrong = {f"{summaries[uid]} ({uid})": found[uid]
                 for uid in starts if not found[uid].right}
        assert wrong == {}, f"Radicale finds {len(wrong)} of {len(starts)} timed items elsewhere"

    def test_the_harness_tells_right_from_wrong(self, radicale_servers: Radicales) -> None:
        """Sanity of the harness, on a document of its own (a meeting written in UTC,
        14:00-15:30Z): asked at its start it is right; asked an hour later or earlier it
        is wrong, and the shift is found."""
        document = (
            b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//tests//EN\r\n"
            b"BEGIN:VEVENT\r\nUID:harness-1\r\nDTSTAMP:20230301T000000Z\r\n"
            b"DTSTART:20230322T140000Z\r\nDTEND:20230322T153000Z\r\nSUMMARY:Probe\r\n"
            b"END:VEVENT\r\nEND:VCALENDAR\r\n"
        )
        start = _dt.datetime(2023, 3, 22, 14, tzinfo=UTC)
        hour = _dt.timedelta(hours=1)
        for asked, right, shift in ((start, True, None), (start + hour, False, -hour),
                                    (start - hour, False, hour)):
            (found,) = radicale_finds(document, {"harness-1": asked}, radicale_servers).values()
            assert (found.right, found.shift) == (right, shift), asked


def test_pendulum_and_the_domain_agree_on_a_repeated_hour() -> None:
    """``domain_spans`` takes the instant a wall time names, fold included."""
    first = pendulum.datetime(2023, 10, 29, 2, 30, tz="Europe/Vienna", fold=0)
    second = pendulum.datetime(2023, 10, 29, 2, 30, tz="Europe/Vienna", fold=1)
    spans = domain_spans(AllianceState(meetings={
        uuid.UUID(int=1): MeetingState(meeting_id=uuid.UUID(int=1), title="",
                                       kind=MeetingKind.OTHER,
                                       when=Timed(start=first, end=second))}))
    (start, end), = spans.values()
    assert start == _dt.datetime(2023, 10, 29, 0, 30, tzinfo=UTC)
    assert end == _dt.datetime(2023, 10, 29, 1, 30, tzinfo=UTC)


# -- any zone, any year ----------------------------------------------------------------------

# Every zone the zone database names, but the machine's own ("localtime") and its
# other files that are no zone (the domain refuses them).
ALL_ZONES = sorted(zoneinfo.available_timezones() - {"localtime", "posixrules", "Factory"})
_meetings = st.lists(
    st.tuples(
        st.sampled_from(ALL_ZONES),
        st.datetimes(min_value=_dt.datetime(1970, 1, 2),  # noqa: DTZ001 - wall times
                     max_value=_dt.datetime(2037, 12, 30)),  # noqa: DTZ001
        st.sampled_from(["earlier", "later"]),  # which instant, in a gap or an overlap
        st.integers(min_value=1, max_value=26 * 60),  # minutes it lasts
    ),
    min_size=1, max_size=12,
)


class TestAnyZoneAnyYear:
    @settings(max_examples=20, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(meetings=_meetings)
    def test_every_parser_puts_every_meeting_where_the_domain_does(
        self, meetings: list[tuple[str, _dt.datetime, str, int]]
    ) -> None:
        """Meetings in any IANA zone, at any wall time from 1970 to 2037 (in gaps and
        overlaps too, on the side the command chose), in one feed: ical.js, libical,
        icalendar and vobject all read each start and end at the domain's instant."""
        require_ical_js()
        require_libical()
        with Alliance.open("memory:") as alliance:
            for number, (zone, wall, side, minutes) in enumerate(meetings):
                start = wall.replace(second=0, microsecond=0)
                end = start + _dt.timedelta(minutes=minutes)
                with contextlib.suppress(DomainError):  # an end before the start, say
                    alliance.schedule_meeting(
                        title=f"Meeting {number} in {zone}", start=start.isoformat(" "),
                        end=end.isoformat(" "), zone=zone, disambiguate=side,  # type: ignore[arg-type]
                    )
            state = alliance.state
        assume(state.meetings)
        body = FeedRenderer().render(state, Audience.public(),
                                     now=pendulum.datetime(2026, 1, 1, tz="UTC")).body
        expected = domain_spans(state)
        for parser, events in parse_all(body).items():  # icalendar, vobject, ical.js
            read = {uid: (e["start"], e["end"]) for uid, e in events.items()}
            assert read == expected, parser
        reading = libical_events(body)
        assert reading.problems == ()
        assert reading.spans() == expected
