r"""The project's VEVENT writer against icalendar: the same bytes, on any input.

``write_vevent`` is what the feeds serialise with (20 times faster than icalendar);
``to_vevent(...).to_ical()`` is icalendar's serialisation of the same content. Every
feed is also compared whole with ``FeedRenderer.calendar(...).to_ical()`` in
``test_ical.py``; here the two writers meet on inputs no scenario produces: every IANA
zone, years 1 to 9999, texts of any script, length and escape, empty texts, alarms.
"""

from __future__ import annotations

import datetime as _dt
import re
import zoneinfo

import icalendar
import pendulum
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from icalendar.parser.string import _escape_char, _foldline

from alliance_events.ical import clean_text
from alliance_events.ical._feed import _timezone
from alliance_events.ical._write import VEventData, escape_text, fold, to_vevent, write_vevent

from .clients import parse_all
from .strategies import ical_texts, texts

ALL_ZONES = sorted(zoneinfo.available_timezones())
UTC = _dt.UTC


def any_texts() -> st.SearchStrategy[str]:
    """Texts as the feeds write them (cleaned: ``clean_text``), of any length and script.

    Cleaning takes out what RFC 5545 forbids in TEXT (control characters, the BOM),
    which icalendar would pass through or drop; the writer is given cleaned texts only.
    """
    return st.one_of(texts(max_size=200), ical_texts(), st.text(max_size=300).filter(
        lambda t: not re.search("[\ud800-\udfff]", t))).map(clean_text)


def utc_datetimes() -> st.SearchStrategy[_dt.datetime]:
    return st.datetimes(
        min_value=_dt.datetime(1, 1, 2), max_value=_dt.datetime(9999, 12, 30),  # noqa: DTZ001
    ).map(lambda d: d.replace(tzinfo=UTC))


@st.composite
def spans(draw: st.DrawFn) -> tuple[_dt.date, _dt.date]:
    """DTSTART and DTEND: dates, or date-times in any IANA zone (either library) or UTC."""
    if draw(st.booleans()):
        first = draw(st.dates(max_value=_dt.date(9999, 12, 1)))
        return first, first + _dt.timedelta(days=draw(st.integers(1, 30)))
    wall = draw(st.datetimes(min_value=_dt.datetime(1, 1, 3),  # noqa: DTZ001
                             max_value=_dt.datetime(9999, 12, 1)))  # noqa: DTZ001
    zones = [draw(st.sampled_from(ALL_ZONES)) for _ in range(2)]

    def zone(name: str) -> _dt.tzinfo:
        return pendulum.timezone(name) if draw(st.booleans()) else zoneinfo.ZoneInfo(name)

    start = wall.replace(tzinfo=zone(zones[0]))
    length = _dt.timedelta(seconds=draw(st.integers(60, 40 * 24 * 3600)))
    end = (start.astimezone(UTC) + length).astimezone(zone(zones[1]))
    if draw(st.booleans()):
        start = start.astimezone(UTC)
    return start, end


@st.composite
def vevents(draw: st.DrawFn) -> VEventData:
    start, end = draw(spans())
    optional = st.none() | any_texts()
    return VEventData(
        uid=draw(st.uuids().map(str) | any_texts()),
        stamp=draw(utc_datetimes()),
        created=draw(utc_datetimes()),
        start=start,
        end=end,
        summary=draw(any_texts()),
        status=draw(st.sampled_from(["TENTATIVE", "CONFIRMED", "CANCELLED"])),
        sequence=draw(st.integers(0, 2**31 - 1)),
        transparent=draw(st.booleans()),
        description=draw(optional),
        location=draw(optional),
        url=draw(st.none() | st.text(st.characters(blacklist_categories=["Cs", "Cc"]),
                                     max_size=300)),
        related_to=draw(st.none() | st.uuids().map(str) | any_texts()),
        alarms=tuple(draw(st.lists(st.tuples(
            any_texts(), st.integers(-60 * 86400, 60 * 86400).map(
                lambda s: _dt.timedelta(seconds=s))), max_size=3))),
    )


SIMPLE = VEventData(
    uid="d071e457-8dea-5249-ad88-9f9609a9e984",
    stamp=_dt.datetime(2023, 3, 29, 8, 0, 0, 123456, tzinfo=UTC),
    created=pendulum.datetime(2023, 3, 1, 9, tz="UTC"),
    start=pendulum.datetime(2023, 3, 22, 15, tz="Europe/Vienna"),
    end=pendulum.datetime(2023, 3, 22, 16, 30, tz="Europe/Vienna"),
    summary="Informal Meeting",
    status="CONFIRMED",
    sequence=0,
    transparent=False,
    description="Organiser: Alliance secretariat\n\nReport: https://alliance.example.org/r",
    location="Vienna International Centre, Room C3",
    url="https://alliance.example.org/meet/informal",
)


class TestSameBytesAsIcalendar:
    @settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=vevents())
    @example(data=SIMPLE)
    @example(data=SIMPLE._replace(summary="", alarms=(
        ("Reminder", -_dt.timedelta(days=7, seconds=3601)), ("", _dt.timedelta(0)))))
    def test_any_vevent(self, data: VEventData) -> None:
        """Any content: the writer's bytes are icalendar's, byte for byte."""
        assert write_vevent(data) == to_vevent(data).to_ical()

    @pytest.mark.parametrize("zone", ALL_ZONES)
    def test_every_zone(self, zone: str) -> None:
        """Every IANA zone this machine knows gets the TZID icalendar writes (or Z)."""
        for tz in (pendulum.timezone(zone), zoneinfo.ZoneInfo(zone)):
            start = _dt.datetime(2023, 7, 1, 9, 30, 15, tzinfo=tz)
            data = SIMPLE._replace(start=start, end=start + _dt.timedelta(hours=2))
            assert write_vevent(data) == to_vevent(data).to_ical()


class TestFold:
    @settings(max_examples=500, deadline=None)
    @given(line=any_texts().map(lambda t: "DESCRIPTION:" + escape_text(t)))
    @example(line="DESCRIPTION:" + "x" * 61 + "\\;" + "y" * 80)
    @example(line="X:" + "é" * 80)
    @example(line="X:" + "🎉" * 40 + "^" * 80)
    def test_as_icalendar_folds(self, line: str) -> None:
        """The fold is icalendar's: segments of at most 74 octets, never inside a UTF-8
        sequence (a cut right after a backslash or caret moves it to the next segment);
        unfolding gives the line back."""
        folded = fold(line)
        assert folded == _foldline(line)
        segments = folded.split("\r\n ")
        assert "".join(segments) == line
        assert all(len(s.encode()) <= 74 for s in segments)


class TestTextArrivesIntact:
    r"""icalendar's own TEXT escaping reads ``\N`` as a line break: ours does not."""

    MANGLED = ("C:\\Nodes\\New", "\\N", "a\\\\Nb")
    TEXTS = (*MANGLED, "\\n literally", "x\\", "a;b,c\\")

    @settings(max_examples=300, deadline=None)
    @given(text=any_texts())
    def test_same_escaping_as_icalendar_but_for_backslash_n(self, text: str) -> None:
        r"""TEXT escaping is icalendar's, except that ``\N`` keeps its backslash."""
        assert escape_text(text) == _escape_char(text.replace("\\N", "\x00")).replace(
            "\x00", "\\\\N")

    @pytest.mark.parametrize("text", MANGLED)
    def test_icalendar_alone_would_lose_it(self, text: str) -> None:
        """The bug this guards against: icalendar's vText turns the text into another."""
        event = icalendar.Event()
        event.add("SUMMARY", icalendar.vText(text))
        assert str(icalendar.Event.from_ical(event.to_ical())["SUMMARY"]) != text

    @pytest.mark.parametrize("text", TEXTS)
    def test_three_parsers_read_it_back(self, text: str) -> None:
        """icalendar, vobject and ical.js read back exactly the text written."""
        data = SIMPLE._replace(summary=text, description=text, location=text,
                            start=_dt.date(2023, 3, 22), end=_dt.date(2023, 3, 23))
        body = b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n"
        body += write_vevent(data) + b"END:VCALENDAR\r\n"
        for parser, events in parse_all(body).items():
            (event,) = events.values()
            assert (event["summary"], event["description"], event["location"]) == (
                text, text, text), parser


class TestTimezones:
    """The feeds' VTIMEZONEs (built by ``_vtimezone``, tested in test_ical_vtimezone.py)."""

    @pytest.mark.parametrize(("first", "last"), [(2021, 2024), (2023, 2023), (1990, 2030)])
    def test_the_same_bytes_in_every_feed(self, first: int, last: int) -> None:
        """A zone's VTIMEZONE does not depend on the years a feed's items span (it covers
        1970-2037 at least): a client that keeps the first VTIMEZONE it sees per TZID
        (vobject, so Radicale server-wide) reads every feed's items right with it."""
        for tzid in ALL_ZONES[::5]:
            assert _timezone(tzid, first, last).to_ical() == (
                _timezone(tzid, 2000, 2000).to_ical()), tzid

    def test_years_outside_1970_2037_widen_it(self) -> None:
        """An item before 1970 or after 2037 widens the range: covered too."""
        wide = _timezone("Europe/Vienna", 1950, 2050).to_ical()
        assert wide != _timezone("Europe/Vienna", 2023, 2023).to_ical()
        assert b"DTSTART:1949" in wide

    def test_unknown_zone(self) -> None:
        with pytest.raises(ValueError, match="Nowhere/Atlantis"):
            _timezone("Nowhere/Atlantis", 2023, 2023)
