"""VTIMEZONEs with yearly RRULEs (``alliance_events.ical._vtimezone``), read back by three parsers.

For every IANA zone this machine knows and each year range of ``RANGES``:

* the scan finds exactly the transitions of zoneinfo's own data (the pure-Python
  ``zoneinfo._zoneinfo`` implementation's transition arrays and POSIX rule), 1969-2038;
  the module reads them from that data and falls back to a daily scan: both give the same
  transitions for every zone and range, and the same bytes;
  pendulum's zones say what zoneinfo's say;
* the shape of CALENDAR.md rule 9: STANDARD/DAYLIGHT observances, each with one DTSTART
  and at most one ``FREQ=YEARLY`` RRULE, UNTIL in UTC, no RDATE, one value a property;
  expanded as RFC 5545 says, the onsets are exactly zoneinfo's transitions;
* the offsets that icalendar (``to_tz``), vobject (``gettzinfo``) and ical.js
  (``tests/js/zone_offsets.mjs``, one Node process per range) read from the bytes, one
  second and one hour either side of each transition and across the range, and (ical.js)
  the instants they give local wall times. A hypothesis test draws zones, ranges and
  instants for icalendar and vobject.

What the parsers get wrong whatever a VTIMEZONE says is not asserted (what could be
worked around in the output is, in the module: UNTIL east of UTC, the first onset's
margin, Dublin's negative summer time):

* dateutil's ``fromutc`` (icalendar's and vobject's zones are dateutil ``tzical`` zones)
  assumes a constant standard offset: for up to an hour after a change of the standard
  offset (America/Nuuk 2023, Asia/Almaty 2024) it converts UTC to local time wrongly, and
  it raises where a DAYLIGHT observance follows daylight time with 24 hours between them
  (Pacific/Apia 2011: dateutil's ``dst()`` is TZOFFSETTO - TZOFFSETFROM). Offsets of
  instants are read here as clients read a TZID time: the instant's local time, with
  its PEP 495 ``fold`` in a repeated hour, given to the zone.
* ical.js converts UTC to local time (``Timezone.convert_time``) by looking up the UTC
  reading as if it were a local time (kewisch/ical.js#847): for up to the UTC offset
  after each change it shows the other offset. Its answer is checked against what that
  algorithm gives with zoneinfo's offsets. It also drops an offset's seconds
  (Africa/Monrovia's -00:44:30, until 1972).
"""

from __future__ import annotations

import calendar
import datetime as _dt
import functools
import json
import re
import subprocess
import sys
import tempfile
import zoneinfo
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, NamedTuple

import icalendar
import pendulum
import pytest
import vobject
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alliance_events.ical import _vtimezone
from alliance_events.ical._vtimezone import vtimezone, vtimezone_ical

from .clients import JS, _ical_js_missing, require_ical_js

ROOT = Path(__file__).resolve().parents[1]
ALL_ZONES = sorted(zoneinfo.available_timezones())
# The range every feed writes (1970-2037: ical._feed._zone_years) and a short one; the
# short one-year and 1990-2010 ranges passed too, and cost a minute of CI more.
RANGES = ((2023, 2028), (1970, 2037))
UTC = _dt.UTC
EPOCH = _dt.datetime(1970, 1, 1)  # noqa: DTZ001 - naive UTC origin
ZERO = _dt.timedelta(0)
SECOND = _dt.timedelta(seconds=1)
HOUR = 3600

State = tuple[_dt.timedelta, int, str]
Change = tuple[int, State, State]


# -- zoneinfo's own transitions (private data: tests only) ---------------------------------


def _sign(delta: _dt.timedelta | None) -> int:
    assert delta is not None
    return (delta > ZERO) - (delta < ZERO)


def state_at(zone: _dt.tzinfo, at: int) -> State:
    """Offset, sign of ``dst()`` and abbreviation of ``zone`` at the instant ``at``."""
    moment = _dt.datetime.fromtimestamp(at, zone)
    offset, name = moment.utcoffset(), moment.tzname()
    assert offset is not None
    assert name is not None
    return offset, _sign(moment.dst()), name


def utc_seconds(year: int, month: int = 1, day: int = 1) -> int:
    return int(_dt.datetime(year, month, day, tzinfo=UTC).timestamp())


def local_seconds(tzid: str, year: int) -> int:
    """1 January of ``year``, 00:00 local (first occurrence), in seconds since the epoch."""
    return int(_dt.datetime(year, 1, 1, tzinfo=zoneinfo.ZoneInfo(tzid)).timestamp())


TRUTH_FROM, TRUTH_TO = utc_seconds(1968, 12), utc_seconds(2039, 2)


@functools.cache
def true_changes(tzid: str) -> tuple[Change, ...]:
    """Every transition of ``tzid`` from December 1968 to January 2039, from its data.

    The pure-Python ``ZoneInfo`` finds an instant's state by bisecting its UTC transition
    list, after the last one by its POSIX TZ rule evaluated for the instant's UTC year:
    its state can change only at those instants and at UTC new years. Each of them where
    the state (read through the pure-Python implementation) changes is a transition.
    """
    from zoneinfo import _zoneinfo as pure  # the pure-Python implementation: its arrays

    zone = pure.ZoneInfo.no_cache(tzid)
    candidates = set(zone._trans_utc)
    rule = zone._tz_after
    if isinstance(rule, pure._TZStr):
        for year in range(1960, 2046):
            start, end = rule.transitions(year)
            candidates |= {
                int(start - rule.std.utcoff.total_seconds()),
                int(end - rule.dst.utcoff.total_seconds()),
                utc_seconds(year),
            }
    found = []
    for at in sorted(c for c in candidates if TRUTH_FROM < c <= TRUTH_TO):
        before, after = state_at(zone, at - 1), state_at(zone, at)
        if before != after:
            found.append((at, before, after))
    return tuple(found)


def changes_between(tzid: str, start: int, end: int) -> list[Change]:
    return [c for c in true_changes(tzid) if start <= c[0] < end]


SCANS: dict[tuple[str, int, int], tuple[Any, ...]] = {}


@pytest.fixture(autouse=True, scope="module")
def _record_scans() -> Iterator[None]:
    """Keep what ``vtimezone`` scans, so that the scan test reads the scan of the
    VTIMEZONEs the other tests build instead of scanning every zone again."""
    original = _vtimezone._changes

    def recording(zone: zoneinfo.ZoneInfo, first: int, last: int) -> list[Any]:
        found = original(zone, first, last)
        SCANS[str(zone.key), first, last] = tuple(found)
        return found

    patch = pytest.MonkeyPatch()
    patch.setattr(_vtimezone, "_changes", recording)
    yield
    patch.undo()


def scanned(tzid: str, first: int, last: int) -> tuple[Any, ...]:
    """What ``vtimezone(tzid, first, last)`` scans: the transitions of ``first - 1`` to
    ``last + 1`` (and two days either side)."""
    built(tzid, first, last)
    found = SCANS.get((tzid, first - 1, last + 1))
    if found is None:  # built before the recording began
        found = tuple(_vtimezone._changes(zoneinfo.ZoneInfo(tzid), first - 1, last + 1))
    return found


class TestScan:
    """The daily scan against zoneinfo's data, and pendulum against zoneinfo."""

    def test_finds_every_transition_of_every_zone(self, parsers: Parsers) -> None:
        """1970-2037 (the scan of ``vtimezone(tzid, 1970, 2037)``), every zone: nothing
        missed, nothing invented, the states either side right; changes of the
        abbreviation or of the sign of ``dst()`` alone count."""
        parsers.start_all()  # builds every zone for every range (needed here and below)
        wrong = {}
        same_offset = 0
        inner_from, inner_to = utc_seconds(1969), utc_seconds(2039)
        for tzid in ALL_ZONES:
            truth = true_changes(tzid)
            found = [(c.at, tuple(c.before), tuple(c.after)) for c in scanned(tzid, 1970, 2037)]
            inner = {c for c in truth if inner_from <= c[0] < inner_to}
            if not inner <= set(found) <= set(truth):
                wrong[tzid] = (sorted(inner - set(found))[:3], sorted(set(found) - set(truth))[:3])
            same_offset += sum(1 for _, before, after in inner if before[0] == after[0])
        assert not wrong, wrong
        assert same_offset > 10  # zones where only the abbreviation or dst() changed

    def test_pendulum_agrees_with_zoneinfo(self) -> None:
        """pendulum's zones (zoneinfo subclasses) give the same offset, dst and name at
        every transition, the second before it and instants across 1970-2037."""
        samples = range(utc_seconds(1970), utc_seconds(2038), 86_400 * 365 + 3_541)
        wrong = []
        for tzid in ALL_ZONES:
            mine, theirs = zoneinfo.ZoneInfo(tzid), pendulum.timezone(tzid)
            assert isinstance(theirs, zoneinfo.ZoneInfo)
            instants = [t + d for t, _, _ in true_changes(tzid) for d in (-1, 0)]
            for at in [*instants, *samples]:
                a = _dt.datetime.fromtimestamp(at, mine)
                b = _dt.datetime.fromtimestamp(at, theirs)
                if (a.utcoffset(), a.dst(), a.tzname()) != (b.utcoffset(), b.dst(), b.tzname()):
                    wrong.append((tzid, at))
        assert not wrong, wrong[:10]


class TestData:
    """Transitions from the zone's data (``_data_changes``) against the daily scan."""

    def test_every_zone_and_range(self) -> None:
        """Every zone, each range of ``RANGES`` and a few more (war years, one year,
        1900-2100): the data give exactly the scan's transitions."""
        wrong = []
        for first, last in (*RANGES, (1940, 1960), (2000, 2000), (1900, 2100)):
            for tzid in ALL_ZONES:
                zone = zoneinfo.ZoneInfo(tzid)
                data = _vtimezone._data_changes(zone, first - 1, last + 1)
                assert data is not None
                if data != _vtimezone._scan(zone, first - 1, last + 1):
                    wrong.append((tzid, first, last))
        assert not wrong, wrong[:10]

    @settings(deadline=None, max_examples=60)
    @given(
        tzid=st.sampled_from(ALL_ZONES),
        first=st.integers(1850, 2100),
        length=st.integers(0, 80),
    )
    def test_same_bytes(self, tzid: str, first: int, length: int) -> None:
        """A drawn zone and range: the VTIMEZONE built from the data is the scan's, byte
        for byte."""
        fast = vtimezone(tzid, first, first + length).to_ical()
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(_vtimezone, "_data_changes", lambda *_: None)
            scanned_bytes = vtimezone(tzid, first, first + length).to_ical()
        assert fast == scanned_bytes

    def test_written_as_icalendar_writes_it(self) -> None:
        """Every zone, each range of ``RANGES`` and a few more: ``vtimezone_ical`` gives
        the bytes of ``vtimezone(...).to_ical()``."""
        wrong = [
            (tzid, first, last)
            for first, last in (*RANGES, (1940, 1960), (2000, 2000), (1900, 2100))
            for tzid in ALL_ZONES
            if vtimezone_ical(tzid, first, last) != built(tzid, first, last)
        ]
        assert not wrong, wrong[:10]

    @settings(deadline=None, max_examples=60)
    @given(
        tzid=st.sampled_from(ALL_ZONES),
        first=st.integers(3, 9000),
        length=st.integers(0, 200),
    )
    def test_written_for_any_range(self, tzid: str, first: int, length: int) -> None:
        """A drawn zone and range (any years): the same bytes as icalendar's."""
        assert vtimezone_ical(tzid, first, first + length) == built(tzid, first, first + length)

    def test_written_errors(self) -> None:
        """The same errors as ``vtimezone``."""
        with pytest.raises(ValueError, match="unknown time zone"):
            vtimezone_ical("Mars/Olympus", 2020, 2021)
        with pytest.raises(ValueError, match="not a range"):
            vtimezone_ical("Europe/Vienna", 2021, 2020)

    def test_no_data_scans(self) -> None:
        """A zone the pure-Python implementation cannot load (no key: read from a file)
        is scanned."""
        path = next(Path(p) for p in zoneinfo.TZPATH if (Path(p) / "Europe/Vienna").is_file())
        with (path / "Europe/Vienna").open("rb") as file:
            zone = zoneinfo.ZoneInfo.from_file(file)
        assert _vtimezone._data_changes(zone, 2020, 2022) is None
        assert _vtimezone._changes(zone, 2020, 2022) == _vtimezone._scan(zone, 2020, 2022)


# -- building (cached: every test reads the same bytes) -------------------------------------


@functools.cache
def built(tzid: str, first: int, last: int) -> bytes:
    return vtimezone(tzid, first, last).to_ical()


@functools.cache
def calendar_of(first: int, last: int) -> bytes:
    """One VCALENDAR with the VTIMEZONE of every zone (in ``ALL_ZONES`` order)."""
    return b"".join(
        [
            b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//alliance-events//tests//EN\r\n",
            *(built(tzid, first, last) for tzid in ALL_ZONES),
            b"END:VCALENDAR\r\n",
        ]
    )


def observances(body: bytes) -> list[list[tuple[str, str, str]]]:
    """Each observance's content lines (unfolded) as (name, parameters, value)."""
    lines = re.sub(rb"\r\n[ \t]", b"", body).decode().split("\r\n")
    found: list[list[tuple[str, str, str]]] = []
    for line in lines:
        if line in ("BEGIN:STANDARD", "BEGIN:DAYLIGHT"):
            found.append([("KIND", "", line[6:])])
        elif line.startswith("END:") or not found or not line:
            continue
        else:
            head, value = line.split(":", 1)
            name, _, parameters = head.partition(";")
            found[-1].append((name, parameters, value))
    return found


class Check(NamedTuple):
    """An instant to read a zone at, and what zoneinfo says of it."""

    at: int
    local: _dt.datetime  # naive wall time
    fold: int
    offset: _dt.timedelta
    unambiguous: bool  # the wall time is neither in a gap nor in a repeated hour


def check(tzid: str, at: int) -> Check:
    local = _dt.datetime.fromtimestamp(at, zoneinfo.ZoneInfo(tzid))
    offset, other = local.utcoffset(), local.replace(fold=1 - local.fold).utcoffset()
    assert offset is not None
    return Check(at, local.replace(tzinfo=None), local.fold, offset, offset == other)


@functools.cache
def checks(tzid: str, first: int, last: int) -> tuple[Check, ...]:
    """Instants to read the zone at: one second and one hour either side of each
    transition of the range, and once a year (at least 12 times) across it, at varying
    times of day."""
    start, end = local_seconds(tzid, first), local_seconds(tzid, last + 1)
    instants = {t + d for t, _, _ in changes_between(tzid, start, end)
                for d in (-HOUR, -1, 1, HOUR)}
    instants |= set(range(start, end, (end - start) // max(12, last - first + 1) + 7_919))
    instants |= {start, end - 1}
    return tuple(check(tzid, at) for at in sorted(instants) if start <= at < end)


# -- the shape ------------------------------------------------------------------------------


class TestShape:
    """CALENDAR.md rule 9: yearly RRULEs, no RDATE, one value per property."""

    @pytest.mark.parametrize(("first", "last"), RANGES)
    def test_every_zone(self, parsers: Parsers, first: int, last: int) -> None:
        parsers.start(first, last)  # builds every zone (needed here) and parses them
        for tzid in ALL_ZONES:
            body = built(tzid, first, last)
            text = body.decode()
            assert text.startswith(f"BEGIN:VTIMEZONE\r\nTZID:{tzid}\r\n"), tzid
            assert "RDATE" not in text
            found = observances(body)
            assert found, tzid
            onsets = []
            for observance in found:
                names = [name for name, _, _ in observance]
                assert sorted(names) in (
                    ["DTSTART", "KIND", "TZNAME", "TZOFFSETFROM", "TZOFFSETTO"],
                    ["DTSTART", "KIND", "RRULE", "TZNAME", "TZOFFSETFROM", "TZOFFSETTO"],
                ), (tzid, observance)
                props = {name: (parameters, value) for name, parameters, value in observance}
                assert all(parameters == "" for parameters, _ in props.values()), tzid
                start = props["DTSTART"][1]
                assert re.fullmatch(r"\d{8}T\d{6}", start), (tzid, start)  # naive, local
                assert "," not in props["TZNAME"][1]
                if "RRULE" in props:
                    parts = dict(part.split("=") for part in props["RRULE"][1].split(";"))
                    assert parts["FREQ"] == "YEARLY"
                    assert set(parts) <= {"FREQ", "UNTIL", "BYMONTH", "BYDAY", "BYMONTHDAY"}
                    assert re.fullmatch(r"\d{8}T\d{6}Z", parts.get("UNTIL", "00000000T000000Z"))
                    assert re.fullmatch(r"\d{1,2}", parts["BYMONTH"])
                    byday = parts.get("BYDAY", "SU")
                    assert re.fullmatch(r"(-1|[1-4])?(MO|TU|WE|TH|FR|SA|SU)", byday)
                    if "BYDAY" in parts and "BYMONTHDAY" in parts:
                        days = [int(d) for d in parts["BYMONTHDAY"].split(",")]
                        assert days == list(range(days[0], days[0] + 7))
                    else:
                        assert "," not in parts.get("BYMONTHDAY", "")
                onset = _dt.datetime.strptime(start, "%Y%m%dT%H%M%S")  # noqa: DTZ007
                onsets.append(onset - _offset(props["TZOFFSETFROM"][1]))
            assert onsets == sorted(onsets), tzid

    @pytest.mark.parametrize(("first", "last"), RANGES)
    def test_onsets_are_the_transitions(self, first: int, last: int) -> None:
        """Expanded as RFC 5545 says (UNTIL in UTC), the observances give exactly
        zoneinfo's transitions from two days before the range to its end, each with its
        offset, abbreviation and kind after it, and before them one onset: the zone's last
        transition before that, or (when the zone did not change in the year before the
        range) an invented one at 1 January of ``first - 1``, 00:00 local, TZOFFSETFROM =
        TZOFFSETTO. This also proves the scan over 1970-2037 end to end."""
        for tzid in ALL_ZONES:
            start, end = local_seconds(tzid, first), local_seconds(tzid, last + 1)
            cover = start - 2 * 86_400
            onsets = sorted(_expand(built(tzid, first, last), last))
            assert [o for o in onsets if cover < o[0] < end] == [
                _onset(c) for c in changes_between(tzid, cover + 1, end)
            ], tzid
            earlier = [o for o in onsets if o[0] <= cover]
            before = changes_between(tzid, local_seconds(tzid, first - 1) - 2 * 86_400, cover + 1)
            if before:
                assert earlier == [_onset(before[-1])], tzid
            else:
                year_before = local_seconds(tzid, first - 1)
                offset, dst, name = state_at(zoneinfo.ZoneInfo(tzid), cover)
                kind = "DAYLIGHT" if dst > 0 else "STANDARD"
                assert earlier == [(year_before, offset, name, kind)], tzid
                props = {name: value for name, _, value in observances(built(tzid, first, last))[0]}
                assert props["DTSTART"] == f"{first - 1:04}0101T000000", tzid
                assert props["TZOFFSETFROM"] == props["TZOFFSETTO"], tzid

    def test_deterministic(self) -> None:
        """The same arguments give the same bytes, whatever was built before."""
        first = [vtimezone(tzid, 2023, 2028).to_ical() for tzid in ALL_ZONES[::7]]
        _vtimezone._walls.cache_clear()
        vtimezone("Europe/Vienna", 1990, 2010)
        assert [vtimezone(tzid, 2023, 2028).to_ical() for tzid in ALL_ZONES[::7]] == first

    def test_unknown_zone(self) -> None:
        for tzid in ("Nowhere/Atlantis", "Europe", "", "../etc/passwd", "/etc/localtime"):
            with pytest.raises(ValueError, match=re.escape(repr(tzid))):
                vtimezone(tzid, 2023, 2023)

    def test_years(self) -> None:
        with pytest.raises(ValueError, match="2024-2023"):
            vtimezone("Europe/Vienna", 2024, 2023)
        assert b"DTSTART:25001031T030000" in built("Europe/Vienna", 2501, 2501)

    def test_vienna(self) -> None:
        assert built("Europe/Vienna", 2023, 2028) == (
            b"BEGIN:VTIMEZONE\r\nTZID:Europe/Vienna\r\n"
            b"BEGIN:STANDARD\r\nDTSTART:20221030T030000\r\n"
            b"RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\n"
            b"TZNAME:CET\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nEND:STANDARD\r\n"
            b"BEGIN:DAYLIGHT\r\nDTSTART:20230326T020000\r\n"
            b"RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\n"
            b"TZNAME:CEST\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nEND:DAYLIGHT\r\n"
            b"END:VTIMEZONE\r\n"
        )

    def test_tokyo(self) -> None:
        assert built("Asia/Tokyo", 2023, 2028) == (
            b"BEGIN:VTIMEZONE\r\nTZID:Asia/Tokyo\r\n"
            b"BEGIN:STANDARD\r\nDTSTART:20220101T000000\r\n"
            b"TZNAME:JST\r\nTZOFFSETFROM:+0900\r\nTZOFFSETTO:+0900\r\nEND:STANDARD\r\n"
            b"END:VTIMEZONE\r\n"
        )

    def test_new_york_2007(self) -> None:
        """The US change of 2007: two runs end (UNTIL, in UTC), two open-ended ones begin."""
        rules = []
        for observance in observances(built("America/New_York", 1990, 2010)):
            props = {name: value for name, _, value in observance}
            rules.append((props["DTSTART"], props.get("RRULE", "")))
        assert rules == [
            ("19891029T020000", "FREQ=YEARLY;UNTIL=20061029T060000Z;BYDAY=-1SU;BYMONTH=10"),
            ("19900401T020000", "FREQ=YEARLY;UNTIL=20060402T070000Z;BYDAY=1SU;BYMONTH=4"),
            ("20070311T020000", "FREQ=YEARLY;BYDAY=2SU;BYMONTH=3"),
            ("20071104T020000", "FREQ=YEARLY;BYDAY=1SU;BYMONTH=11"),
        ]

    def test_until_east_of_utc(self) -> None:
        """UNTIL east of UTC is the last onset's wall time read as UTC (dateutil reads it
        as local time): Vienna's September rule ends on 24 September 1995, 03:00 local."""
        assert (b"RRULE:FREQ=YEARLY;UNTIL=19950924T030000Z;BYDAY=-1SU;BYMONTH=9\r\n"
                in built("Europe/Vienna", 1970, 2037))

    def test_dublin_negative_dst(self) -> None:
        """tzdata's negative summer time: winter GMT (dst() -1 h) is STANDARD, IST DAYLIGHT."""
        found = observances(built("Europe/Dublin", 2023, 2028))
        assert [(o[0][2], {n: v for n, _, v in o}["TZNAME"]) for o in found] == [
            ("STANDARD", "GMT"), ("DAYLIGHT", "IST")]

    def test_santiago_weekday_on_or_after(self) -> None:
        """Chile's "Sun>=2" rules: BYDAY=SU with seven BYMONTHDAYs."""
        text = re.sub(rb"\r\n ", b"", built("America/Santiago", 2015, 2028)).decode()
        assert "RRULE:FREQ=YEARLY;BYDAY=SU;BYMONTHDAY=2,3,4,5,6,7,8;BYMONTH=4\r\n" in text
        assert "RRULE:FREQ=YEARLY;BYDAY=SU;BYMONTHDAY=2,3,4,5,6,7,8;BYMONTH=9\r\n" in text


def _offset(text: str) -> _dt.timedelta:
    sign = -1 if text[0] == "-" else 1
    hours, minutes, seconds = int(text[1:3]), int(text[3:5]), int(text[5:7] or 0)
    return sign * _dt.timedelta(hours=hours, minutes=minutes, seconds=seconds)


def _onset(change: Change) -> tuple[int, _dt.timedelta, str, str]:
    """A transition as an onset: instant, offset and abbreviation after it, and its kind
    (DAYLIGHT when dst() is positive after it, or zero after a negative one)."""
    at, before, after = change
    daylight = after[1] > 0 or (after[1] == 0 and before[1] < 0)
    return at, after[0], after[2], "DAYLIGHT" if daylight else "STANDARD"


def _expand(body: bytes, last: int) -> Iterator[tuple[int, _dt.timedelta, str, str]]:
    """Each onset (UTC seconds) with its TZOFFSETTO, TZNAME and kind, to the end of
    ``last + 1``, the RRULEs expanded as RFC 5545 says (UNTIL is UTC, DTSTART in
    TZOFFSETFROM): each year from DTSTART's, the days of BYMONTH that BYMONTHDAY and
    BYDAY (the n-th or last such weekday of the month, or any) leave."""
    for observance in observances(body):
        props = {name: value for name, _, value in observance}
        start = _dt.datetime.strptime(props["DTSTART"], "%Y%m%dT%H%M%S")  # noqa: DTZ007
        before, after = _offset(props["TZOFFSETFROM"]), _offset(props["TZOFFSETTO"])
        walls = [start]
        if "RRULE" in props:
            parts = dict(part.split("=") for part in props["RRULE"].split(";"))
            walls = [
                _dt.datetime.combine(_dt.date(year, int(parts["BYMONTH"]), day), start.time())
                for year in range(start.year, last + 2)
                for day in _rule_days(parts, year)
            ]
            walls = [w for w in walls if w >= start]
            if "UNTIL" in parts:
                limit = _dt.datetime.strptime(parts["UNTIL"], "%Y%m%dT%H%M%SZ") + before  # noqa: DTZ007
                walls = [w for w in walls if w <= limit]
        for wall in walls:
            yield (wall - before - EPOCH) // SECOND, after, props["TZNAME"], props["KIND"]


def _rule_days(parts: dict[str, str], year: int) -> list[int]:
    month = int(parts["BYMONTH"])
    days = list(range(1, calendar.monthrange(year, month)[1] + 1))
    if "BYMONTHDAY" in parts:
        days = [d for d in days if str(d) in parts["BYMONTHDAY"].split(",")]
    if "BYDAY" in parts:
        match = re.fullmatch(r"(-?\d)?(MO|TU|WE|TH|FR|SA|SU)", parts["BYDAY"])
        assert match is not None
        weekday = ("MO", "TU", "WE", "TH", "FR", "SA", "SU").index(match[2])
        days = [d for d in days if calendar.weekday(year, month, d) == weekday]
        if match[1]:
            number = int(match[1])
            days = days[number - 1:number] if number > 0 else days[number:][:1]
    return days


# -- three parsers -------------------------------------------------------------------------


@functools.cache
def all_checks(first: int, last: int) -> tuple[tuple[int, Check], ...]:
    """Every zone's checks for the range, each with the zone's index in ``ALL_ZONES``."""
    return tuple((index, c) for index, tzid in enumerate(ALL_ZONES)
                 for c in checks(tzid, first, last))


class Child:
    """A parser's process, reading one range's checks in the background.

    Its input and output are files, so that it needs nothing from this process (whose
    threads would wait for the GIL to feed a pipe) until its answer is read.
    """

    def __init__(self, command: list[str], data: bytes) -> None:
        # closed by stop(), at the end of the module's tests
        self.stdin, self.stdout, self.stderr = (
            tempfile.TemporaryFile() for _ in range(3)  # noqa: SIM115
        )
        self.stdin.write(data)
        self.stdin.seek(0)
        self.process = subprocess.Popen(
            command, cwd=ROOT, stdin=self.stdin, stdout=self.stdout, stderr=self.stderr,
        )

    def answer(self) -> Any:
        """The parser's JSON answer, once it is there (``{"error": ...}`` if it failed)."""
        if self.process.wait(timeout=600) != 0:
            self.stderr.seek(0)
            error = self.stderr.read().decode()[-3000:]
            return {"error": f"exit {self.process.returncode}: {error}"}
        self.stdout.seek(0)
        return json.loads(self.stdout.read())

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        for file in (self.stdin, self.stdout, self.stderr):
            file.close()


class Parsers:
    """The three parsers on each range's VCALENDAR, each in its own process.

    icalendar and vobject run in ``python -m tests._zone_parsers`` (outside coverage's
    tracer, which slows their code threefold), ical.js in ``tests/js/zone_offsets.mjs``
    (when it can run). Each gets every check's wall time (ical.js: every instant, and the
    wall times neither in a gap nor in a repeated hour) and answers with offsets. They
    start as soon as a range's VTIMEZONEs are built (:meth:`start_all`, called by the
    tests that build every zone anyway) and work while this process checks the shape.
    """

    def __init__(self) -> None:
        self.children: dict[tuple[int, int], dict[str, Child]] = {}

    def start(self, first: int, last: int) -> dict[str, Child]:
        if (first, last) not in self.children:
            ics = calendar_of(first, last).decode()
            found = all_checks(first, last)
            walls = [[index, *c.local.timetuple()[:6], c.fold] for index, c in found]
            python = json.dumps({"ics": ics, "walls": walls}).encode()
            children = {
                parser: Child([sys.executable, "-m", "tests._zone_parsers", parser], python)
                for parser in ("icalendar", "vobject")
            }
            if _ical_js_missing() is None:
                node = {
                    "ics": ics,
                    "instants": [(index, c.at) for index, c in found],
                    "walls": [wall[:-1] for wall, (_, c) in zip(walls, found, strict=True)
                              if c.unambiguous],
                }
                children["ical.js"] = Child(["node", str(JS / "zone_offsets.mjs")],
                                            json.dumps(node).encode())
            self.children[first, last] = children
        return self.children[first, last]

    def start_all(self) -> None:
        for first, last in sorted(RANGES, key=lambda r: r[0] - r[1]):  # the longest first
            self.start(first, last)

    def answer(self, first: int, last: int, parser: str) -> Any:
        return self.start(first, last)[parser].answer()

    def stop(self) -> None:
        for children in self.children.values():
            for child in children.values():
                child.stop()


@pytest.fixture(scope="module")
def parsers() -> Iterator[Parsers]:
    started = Parsers()
    yield started
    started.stop()


def disagreements(tzid: str, zone: _dt.tzinfo, instants: Iterable[Check]) -> list[Any]:
    """The instants whose local time (with its fold) ``zone`` gives another offset for."""
    return [
        (tzid, c.local, c.fold, c.offset, got)
        for c in instants
        if (got := c.local.replace(tzinfo=zone, fold=c.fold).utcoffset()) != c.offset
    ]


class TestPythonParsers:
    """icalendar and vobject read every zone's offsets as zoneinfo has them."""

    @pytest.mark.parametrize("parser", ["icalendar", "vobject"])
    @pytest.mark.parametrize(("first", "last"), RANGES)
    def test_every_zone(self, parsers: Parsers, parser: str, first: int, last: int) -> None:
        answer = parsers.answer(first, last, parser)
        assert "error" not in answer, answer.get("error")
        assert answer["tzids"] == ALL_ZONES
        wrong = [
            (ALL_ZONES[index], c.local, c.fold, c.offset, got)
            for (index, c), got in zip(all_checks(first, last), answer["offsets"], strict=True)
            if got != c.offset.total_seconds()
        ]
        assert not wrong, wrong[:10]

    @settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(data=st.data())
    def test_any_zone_and_years(self, data: st.DataObject) -> None:
        tzid = data.draw(st.sampled_from(ALL_ZONES), label="zone")
        first = data.draw(st.integers(1970, 2037), label="first")
        last = data.draw(st.integers(first, 2037), label="last")
        start, end = local_seconds(tzid, first), local_seconds(tzid, last + 1)
        instants = data.draw(st.lists(st.integers(start, end - 1), min_size=1, max_size=40))
        around = [t + d for t, _, _ in changes_between(tzid, start, end) for d in (-1, 0)]
        cases = [check(tzid, t) for t in [*instants, *around] if start <= t < end]
        body = b"".join([b"BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\n",
                         vtimezone(tzid, first, last).to_ical(), b"END:VCALENDAR\r\n"])
        ours = icalendar.Calendar.from_ical(body).timezones[0].to_tz(lookup_tzid=False)
        theirs = vobject.readOne(body.decode()).vtimezone.gettzinfo()
        assert not disagreements(tzid, ours, cases)
        assert not disagreements(tzid, theirs, cases)


class TestIcalJs:
    """ical.js (Thunderbird) reads every zone's offsets as zoneinfo has them."""

    @pytest.mark.parametrize(("first", "last"), RANGES)
    def test_every_zone(self, parsers: Parsers, first: int, last: int) -> None:
        require_ical_js()
        answer = parsers.answer(first, last, "ical.js")
        assert "error" not in answer, answer.get("error")
        found = all_checks(first, last)
        walls = [(index, c) for index, c in found if c.unambiguous]
        wrong: list[Any] = [
            ("wall", ALL_ZONES[index], c.local, seconds - c.at)
            for (index, c), seconds in zip(walls, answer["walls"], strict=True)
            if seconds != c.at + _js_error(c.offset)
        ]
        zones = [zoneinfo.ZoneInfo(tzid) for tzid in ALL_ZONES]
        for (index, c), offset in zip(found, answer["instants"], strict=True):
            # convert_time: the offset of the UTC reading, taken as a local time
            reading = (EPOCH + c.at * SECOND).replace(tzinfo=zones[index])
            allowed = {_js_offset(reading.replace(fold=fold).utcoffset()) for fold in (0, 1)}
            if _dt.timedelta(seconds=offset) not in allowed:
                wrong.append(("instant", ALL_ZONES[index], c.at, offset))
        assert not wrong, wrong[:10]


def _js_offset(offset: _dt.timedelta | None) -> _dt.timedelta:
    """An offset as ical.js reads it from TZOFFSETTO: without its seconds."""
    assert offset is not None
    seconds = int(offset.total_seconds())
    return _dt.timedelta(seconds=(abs(seconds) // 60 * 60) * (1 if seconds >= 0 else -1))


def _js_error(offset: _dt.timedelta | None) -> int:
    """What ical.js's dropping of an offset's seconds does to a local time's instant."""
    assert offset is not None
    return int((offset - _js_offset(offset)).total_seconds())
