"""VTIMEZONEs in the shape Outlook, Google and libical's zoneinfo write (calendar rule 9).

:func:`vtimezone` writes an IANA zone for a range of years as STANDARD and DAYLIGHT
observances, each with one DTSTART and at most one yearly RRULE (``FREQ=YEARLY;BYMONTH=m``
with ``BYDAY=2SU``, ``BYDAY=-1SU``, ``BYDAY=SU;BYMONTHDAY=2,3,4,5,6,7,8`` or
``BYMONTHDAY=d``), one observance per period of unchanged rules, and never an RDATE.
icalendar's ``Timezone.from_tzinfo`` writes one DTSTART and a list of RDATEs per
observance instead; over more than one year ical.js (Thunderbird) and vobject (Radicale)
misread that shape, and summer meetings show an hour late.

How it is built:

* **Transitions.** zoneinfo (whose data pendulum's zones use too: they subclass
  ``ZoneInfo``) has no public list of its transitions. Its pure-Python implementation
  reads the same file and keeps the instants where the state can change (the TZif
  transitions, then the POSIX rule's onsets); each of them where the zone, asked
  through the tzinfo protocol, says something else than a second before is a
  transition. Where that private data cannot be read, the zone is asked for its offset,
  ``dst()`` and abbreviation at every local midnight of the years looked at; between two
  midnights that differ, the transitions are found by bisection on UTC instants, to the
  second. Both give the same transitions for every zone (``tests/test_ical_vtimezone.py``).
  A transition is a change of the offset, of the abbreviation or of the sign of
  ``dst()``: a change of the abbreviation or of summer time alone becomes an observance
  whose TZOFFSETFROM equals its TZOFFSETTO.
  The scan would miss a state lasting less than a day between two others; from 1970 to 2037
  the shortest lasts 6.9 days, and ``tests/test_ical_vtimezone.py`` compares the scan
  with zoneinfo's own transition data for every zone.
* **Observances.** Each transition starts an observance: DAYLIGHT when ``dst()`` is
  positive after it, STANDARD otherwise, except that tzdata's negative summer time is
  written the usual way round (Outlook, Google and libical do so): Europe/Dublin's
  winter GMT, whose ``dst()`` is -1 h, is STANDARD and its summer IST DAYLIGHT. Its
  DTSTART is the wall time of the change in the offset before it (02:00 for Vienna's
  spring change, 03:00 for the autumn one), as RFC 5545 writes it; TZNAME is the
  abbreviation after it. Transitions of consecutive years with the same kind, offsets,
  abbreviation, month and time of day whose days one rule gives make one observance
  with a yearly RRULE. The rule is the first that gives every day of the run among: the
  last weekday of the month, the n-th weekday, the weekday on or after a day (tzdata's
  "Sun>=2"; the earliest such day that fits), a fixed day of the month. The run ends
  with an UNTIL (:func:`_until`) unless it goes on in the year after ``last`` (the scan
  looks a year further): then its RRULE is open-ended, as in libical's files. A
  transition in no run of two years or more is an observance with a DTSTART only.
* **Coverage.** The observances start with the zone's last transition at least two
  days before 1 January of ``first``, 00:00 local (two days: ical.js converts a UTC time
  by looking up its UTC reading as a local time, up to 14 hours earlier, and before the
  first onset it answers UTC). A zone that did not change in the year before ``first``
  (Asia/Tokyo, UTC, Etc/*, a zone that stopped changing) starts with an invented
  observance instead: DTSTART 1 January of ``first - 1``, 00:00, TZOFFSETFROM equal to
  TZOFFSETTO, the zone's state then. The year before ``first`` rather than ``first``
  itself, for the same margin; no earlier year is looked at.

The result depends only on the arguments and the tz data (observances in the order of
their first onsets; no clock). Finding the transitions from the data takes about 1 ms
a zone for 1970-2037 (the daily scan took 7 ms, plus 2 ms per range for the midnights
every zone shares); building and serialising the observances about 2 ms more. Callers
cache the result per zone and range.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import functools
import importlib
import operator
import zoneinfo
from collections.abc import Iterator
from itertools import compress, islice
from typing import Final, NamedTuple

from icalendar import Timezone, TimezoneDaylight, TimezoneStandard, vRecur, vUTCOffset

from alliance_events.ical._write import escape_text, fold

__all__ = ["vtimezone", "vtimezone_ical"]

_MARGIN: Final = _dt.timedelta(days=2)
"""Scanned before and after the years looked at (more than any UTC offset), and kept
between the first onset and the range (see the module's docstring, "Coverage")."""
_SECOND: Final = _dt.timedelta(seconds=1)
_HOUR: Final = 3600  # seconds
_WEEKDAYS: Final = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_EPOCH: Final = _dt.datetime(1970, 1, 1)  # noqa: DTZ001 - a naive wall-time origin
_EPOCH_ORDINAL: Final = _EPOCH.toordinal()
_UTC: Final = _dt.UTC
_ZERO: Final = _dt.timedelta(0)


class _State(NamedTuple):
    """What a zone says at one instant: offset, sign of ``dst()`` (-1, 0, 1), abbreviation."""

    offset: _dt.timedelta
    dst: int
    name: str


class _Change(NamedTuple):
    """One transition: at ``at`` (UTC seconds), from ``before`` to ``after``."""

    at: int
    before: _State
    after: _State

    @property
    def onset(self) -> _dt.datetime:
        """The local wall time of the change, in the offset before it (naive)."""
        return _EPOCH + _dt.timedelta(seconds=self.at) + self.before.offset

    @property
    def daylight(self) -> bool:
        """Whether the observance it starts is DAYLIGHT.

        When ``dst()`` is positive after it; tzdata's negative summer time (Europe/Dublin's
        winter GMT has ``dst()`` -1 h, its summer IST 0) is written the usual way round,
        as Outlook, Google and libical do: the negative state is STANDARD, the state that
        follows it DAYLIGHT.
        """
        return self.after.dst > 0 or (self.after.dst == 0 and self.before.dst < 0)

    @property
    def key(self) -> tuple[object, ...]:
        """What every transition of one observance shares, except the day."""
        onset = self.onset
        return (self.daylight, self.before.offset, self.after, onset.month, onset.time())


_Rule = tuple[int, int, int]
"""``(_LAST, 0, weekday)``, ``(_NTH, n, weekday)``, ``(_FROM, day, weekday)`` (the
weekday on or after ``day``) or ``(_DAY_OF_MONTH, day, 0)``; the smallest is preferred."""
_LAST, _NTH, _FROM, _DAY_OF_MONTH = range(4)


def vtimezone(tzid: str, first: int, last: int) -> Timezone:
    """Build the VTIMEZONE of the IANA zone ``tzid`` for the years ``first`` to ``last``.

    Args:
        tzid: an IANA zone name that :class:`zoneinfo.ZoneInfo` knows, such as
            ``"Europe/Vienna"``; it is also the VTIMEZONE's TZID.
        first: the first year whose times the VTIMEZONE must give right (from
            1 January, 00:00 local).
        last: the last such year (to 31 December, 24:00 local); at least ``first``.

    Returns:
        A ``VTIMEZONE`` component (``.to_ical()`` serialises it) with STANDARD and
        DAYLIGHT observances in the order of their first onsets, each with one DTSTART
        and at most one yearly RRULE, valid for every instant of those years.

    Raises:
        ValueError: ``tzid`` is not a zone zoneinfo can load, or the years are not a
            range (``first`` after ``last``, or outside 3-9997).

    """
    result = Timezone()
    result.add("TZID", tzid)
    for observance in _observances(tzid, first, last):
        result.add_component(_component(observance))
    return result


def vtimezone_ical(tzid: str, first: int, last: int) -> bytes:
    """Return ``vtimezone(tzid, first, last).to_ical()``, written without icalendar.

    The same arguments, errors and bytes (``tests/test_ical_vtimezone.py`` compares
    them for every zone and range); a feed's first render writes each of its zones
    once, and icalendar's components cost it two thirds of the time (about 1.2 ms a
    zone for 1970-2037).
    """
    lines = [b"BEGIN:VTIMEZONE\r\n", _fold_line("TZID:" + escape_text(tzid))]
    for daylight, onset, before, after, name, recur in _observances(tzid, first, last):
        kind = b"DAYLIGHT" if daylight else b"STANDARD"
        lines.append(b"BEGIN:" + kind + b"\r\n")
        lines.append(b"DTSTART:%s\r\n" % _wall(onset))
        if recur is not None:
            lines.append(_fold_line("RRULE:" + vRecur(recur).to_ical().decode()))  # type: ignore[no-untyped-call]
        lines.append(_fold_line("TZNAME:" + escape_text(name)))
        lines.append(b"TZOFFSETFROM:%s\r\nTZOFFSETTO:%s\r\n" % (_offset(before), _offset(after)))
        lines.append(b"END:" + kind + b"\r\n")
    lines.append(b"END:VTIMEZONE\r\n")
    return b"".join(lines)


def _fold_line(line: str) -> bytes:
    return (fold(line) + "\r\n").encode()


def _wall(moment: _dt.datetime) -> bytes:
    """Write a naive DTSTART as icalendar does (``vDatetime``)."""
    return b"%04d%02d%02dT%02d%02d%02d" % (
        moment.year,
        moment.month,
        moment.day,
        moment.hour,
        moment.minute,
        moment.second,
    )


@functools.cache
def _offset(offset: _dt.timedelta) -> bytes:
    """Write a TZOFFSETFROM/TZOFFSETTO value as icalendar does (a handful: each once)."""
    return vUTCOffset(offset).to_ical().encode()


class _Observance(NamedTuple):
    """One STANDARD or DAYLIGHT observance: what its properties say."""

    daylight: bool
    onset: _dt.datetime  # DTSTART, naive wall time
    before: _dt.timedelta  # TZOFFSETFROM
    after: _dt.timedelta  # TZOFFSETTO
    name: str  # TZNAME
    recur: dict[str, object] | None  # RRULE


def _observances(tzid: str, first: int, last: int) -> list[_Observance]:
    """Return the observances of :func:`vtimezone` (its arguments and errors), in order."""
    try:
        zone = zoneinfo.ZoneInfo(tzid)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as error:
        raise ValueError(f"unknown time zone {tzid!r}") from error
    if not _dt.MINYEAR + 2 <= first <= last <= _dt.MAXYEAR - 2:
        raise ValueError(f"years {first}-{last} are not a range within 3-9997 (zone {tzid!r})")
    start = _local_instant(zone, first)
    end = _local_instant(zone, last + 1)
    changes = _changes(zone, first - 1, last + 1)
    cover = start - _MARGIN // _SECOND
    earlier = [c for c in changes if c.at <= cover]
    # the first onset, then every transition to the end of the year after ``last``
    kept = earlier[-1:] + [c for c in changes if cover < c.at and c.onset.year <= last + 1]
    result = []
    if not earlier:
        result.append(_covering(zone, first - 1))
    for run, rules in _runs(kept):
        inside = [c for c in run if c.at < end]  # the rest only tell that the run goes on
        if inside:
            result.append(_observance(run, min(rules), open_ended=len(inside) < len(run)))
    return result


def _component(observance: _Observance) -> TimezoneStandard | TimezoneDaylight:
    """Build ``observance`` as an icalendar component."""
    component = TimezoneDaylight() if observance.daylight else TimezoneStandard()
    component.add("DTSTART", observance.onset)
    component.add("TZOFFSETFROM", observance.before)
    component.add("TZOFFSETTO", observance.after)
    component.add("TZNAME", observance.name)
    if observance.recur is not None:
        component.add("RRULE", vRecur(observance.recur))
    return component


def _local_instant(zone: _dt.tzinfo, year: int) -> int:
    """Return 1 January of ``year``, 00:00 local (first occurrence), as epoch seconds."""
    return int(_dt.datetime(year, 1, 1, tzinfo=zone).timestamp())


def _state(zone: _dt.tzinfo, at: int) -> _State:
    """Return what ``zone`` says at the instant ``at`` (seconds since the epoch)."""
    moment = _dt.datetime.fromtimestamp(at, zone)
    offset, dst, name = moment.utcoffset(), moment.dst(), moment.tzname()
    if offset is None or dst is None or name is None:  # pragma: no cover - zoneinfo gives all
        raise ValueError(f"{zone} gives no offset, dst or name at {at}")
    return _State(offset, (dst > _ZERO) - (dst < _ZERO), name)


@functools.lru_cache(maxsize=8)
def _walls(first: int, last: int) -> tuple[_dt.datetime, ...]:
    """Return naive midnights from 1 January of ``first`` to that of ``last + 1``, ±2 days.

    One list serves every zone (making it costs more than scanning a zone with it).
    """
    start = _dt.date(first, 1, 1).toordinal() - _MARGIN.days
    end = _dt.date(last + 1, 1, 1).toordinal() + _MARGIN.days
    # datetime.fromordinal gives each midnight in C: 25,000 of them in 3 ms, not 28
    return tuple(map(_dt.datetime.fromordinal, range(start, end + 1)))


def _changes(zone: zoneinfo.ZoneInfo, first: int, last: int) -> list[_Change]:
    """Find the transitions of ``zone`` from 1 January of ``first`` to the end of ``last``.

    (And those of 2 days either side, local time.) From the zone's data
    (:func:`_data_changes`) when zoneinfo's pure-Python implementation can read them,
    else by a daily scan (:func:`_scan`): the same list either way.
    """
    found = _data_changes(zone, first, last)
    return _scan(zone, first, last) if found is None else found


def _scan(zone: zoneinfo.ZoneInfo, first: int, last: int) -> list[_Change]:
    """Find the transitions :func:`_changes` returns by scanning the zone daily.

    The zone is asked for its offset, ``dst()`` and abbreviation at each midnight of
    :func:`_walls`: naive wall times, which is all a zone reads from the datetime it is
    given (its ``utcoffset(dt)`` reads ``dt``'s wall time and ``fold``); three C calls,
    about 0.1 µs, a day. Between two midnights that differ, :func:`_between` finds the
    transitions at UTC instants, from the earliest instant the first midnight can stand
    for to the latest the second can (a midnight in a gap or a repeated hour stands for
    two).
    """
    walls = _walls(first, last)
    offsets = list(map(zone.utcoffset, walls))
    dsts = list(map(zone.dst, walls))  # any change of dst(): a superset of its sign's
    names = list(map(zone.tzname, walls))
    differ = map(
        operator.ne,
        zip(offsets, dsts, names, strict=True),
        zip(islice(offsets, 1, None), islice(dsts, 1, None), islice(names, 1, None), strict=True),
    )
    found: dict[int, _Change] = {}
    for index in compress(range(len(walls) - 1), differ):
        low = _instants(zone, walls[index])[0]
        high = _instants(zone, walls[index + 1])[1]
        for change in _between(zone, low, high):
            found.setdefault(change.at, change)
    return [found[at] for at in sorted(found)]


def _data_changes(zone: zoneinfo.ZoneInfo, first: int, last: int) -> list[_Change] | None:
    """Find what :func:`_changes` scans for from the zone's own data; None: it has none.

    The state of a zone can change only at an instant of its TZif transition list or,
    after the last one, at an onset of its POSIX TZ rule (which the pure-Python
    ``zoneinfo._zoneinfo`` implementation, reading the same file as the C one, evaluates
    per UTC year, so a UTC new year is a candidate too). Each candidate whose state,
    asked through the tzinfo protocol as the scan asks it, differs from the second
    before is a transition: the same list as the scan's, over the same span (from the
    earliest instant of its first midnight to the latest of its last), in about 1 ms
    instead of 7 for 1970-2037. The data are private to zoneinfo, so anything missing or
    unexpected in them falls back to the scan (None); ``tests/test_ical_vtimezone.py``
    compares both for every zone and range.
    """
    try:
        pure = importlib.import_module("zoneinfo._zoneinfo")  # untyped, private: Any
        data = pure.ZoneInfo.no_cache(str(zone.key))
        transitions = data._trans_utc
        candidates = set(map(int, transitions))
        rule = data._tz_after
        if isinstance(rule, pure._TZStr):
            std, dst = int(rule.std.utcoff.total_seconds()), int(rule.dst.utcoff.total_seconds())
            # the rule holds after the last transition (a year earlier, for a margin)
            ruled = _EPOCH.year + int(transitions[-1]) // 31_556_952 - 1 if transitions else first
            for year in range(max(first - 1, ruled), last + 2):
                start, end = rule.transitions(year)
                candidates.update((int(start) - std, int(end) - dst, _utc_new_year(year)))
    except Exception:  # noqa: BLE001 - private data: any surprise means "scan instead"
        return None
    low = _instants(zone, _dt.datetime(first, 1, 1) - _MARGIN)[0]  # noqa: DTZ001 - wall
    high = _instants(zone, _dt.datetime(last + 1, 1, 1) + _MARGIN)[1]  # noqa: DTZ001
    found = []
    for at in sorted(c for c in candidates if low < c <= high):
        before, after = _state(zone, at - 1), _state(zone, at)
        if before != after:
            found.append(_Change(at, before, after))
    return found


def _utc_new_year(year: int) -> int:
    """Return 1 January of ``year``, 00:00 UTC, as epoch seconds."""
    return (_dt.date(year, 1, 1).toordinal() - _EPOCH_ORDINAL) * 86_400


def _instants(zone: zoneinfo.ZoneInfo, wall: _dt.datetime) -> tuple[int, int]:
    """Return the earliest and the latest instant the local ``wall`` time can stand for."""
    seconds = (wall - _EPOCH) // _SECOND
    offsets = [zone.utcoffset(wall.replace(fold=fold)) or _ZERO for fold in (0, 1)]
    return seconds - max(offsets) // _SECOND, seconds - min(offsets) // _SECOND


def _between(zone: zoneinfo.ZoneInfo, low: int, high: int) -> Iterator[_Change]:
    """Find the transitions in (``low``, ``high``] by bisection, to the second.

    Each one is the first instant whose state differs from the one before; after it,
    the search goes on to ``high`` (several transitions between two midnights).
    """
    before, last = _state(zone, low), _state(zone, high)
    while before != last:
        lo, hi = low, high
        # First over whole hours (UTC), on which nearly every transition falls: about
        # five steps for the day or so between two midnights, then one to confirm it,
        # instead of seventeen to the second (two thirds of a zone's VTIMEZONE went on
        # them: 135 transitions for Europe/Vienna's 1970-2037). Only a transition off
        # the hour goes on to the seconds. The same instant either way: the first state
        # that differs, as the bisection's bounds keep the same invariant.
        while (first := lo // _HOUR + 1) <= (top := (hi - 1) // _HOUR):
            middle = (first + top) // 2 * _HOUR  # a whole hour strictly inside (lo, hi)
            if _state(zone, middle) == before:
                lo = middle
            else:
                hi = middle
        if hi - lo > 1 and _state(zone, hi - 1) == before:
            lo = hi - 1
        while hi - lo > 1:
            middle = (lo + hi) // 2
            if _state(zone, middle) == before:
                lo = middle
            else:
                hi = middle
        after = _state(zone, hi)
        yield _Change(hi, before, after)
        low, before = hi, after


def _covering(zone: _dt.tzinfo, year: int) -> _Observance:
    """Invent the first observance of a zone that did not change in ``year``.

    From 1 January, 00:00, with the zone's state then; TZOFFSETFROM equals TZOFFSETTO.
    """
    state = _state(zone, _local_instant(zone, year))
    onset = _dt.datetime(year, 1, 1)  # noqa: DTZ001 - wall time
    return _Observance(state.dst > 0, onset, state.offset, state.offset, state.name, None)


def _runs(changes: list[_Change]) -> list[tuple[list[_Change], list[_Rule]]]:
    """Group ``changes`` (in time order) into runs, each with the rules that fit all of it.

    A transition joins the run of its key if that run's last one is of the year before
    and some rule still gives every day; otherwise it starts a run. The runs come in the
    order of their first transitions.
    """
    runs: list[tuple[list[_Change], list[_Rule]]] = []
    open_runs: dict[tuple[object, ...], int] = {}
    for change in changes:
        key, onset = change.key, change.onset
        index = open_runs.get(key)
        if index is not None:
            run, rules = runs[index]
            if run[-1].onset.year == onset.year - 1:
                fitting = [r for r in rules if _day(r, onset.year, onset.month) == onset.day]
                if fitting:
                    run.append(change)
                    runs[index] = (run, fitting)
                    continue
        open_runs[key] = len(runs)
        runs.append(([change], _rules(onset)))
    return runs


def _rules(onset: _dt.datetime) -> list[_Rule]:
    """Every rule that gives ``onset``'s day in its month, in order of preference."""
    weekday, day = onset.weekday(), onset.day
    length = calendar.monthrange(onset.year, onset.month)[1]
    rules: list[_Rule] = []
    if day > length - 7:
        rules.append((_LAST, 0, weekday))
    if day <= 28:  # noqa: PLR2004 - the fourth weekday ends on the 28th
        rules.append((_NTH, (day - 1) // 7 + 1, weekday))
    rules.extend((_FROM, start, weekday) for start in range(max(1, day - 6), min(day, 25) + 1))
    rules.append((_DAY_OF_MONTH, day, 0))
    return rules


def _day(rule: _Rule, year: int, month: int) -> int | None:
    """Return the day of ``month`` in ``year`` that ``rule`` gives (None: none)."""
    kind, number, weekday = rule
    length = calendar.monthrange(year, month)[1]
    if kind == _DAY_OF_MONTH:
        return number if number <= length else None
    if kind == _LAST:
        return length - (calendar.weekday(year, month, length) - weekday) % 7
    start = 1 + 7 * (number - 1) if kind == _NTH else number
    day = start + (weekday - calendar.weekday(year, month, start)) % 7
    return day if day <= length else None


def _observance(run: list[_Change], rule: _Rule, *, open_ended: bool) -> _Observance:
    """Return the observance of ``run``; with two or more transitions, ``rule`` is its RRULE.

    Args:
        run: transitions of consecutive years that share their key.
        rule: the rule that gives the day of each of them.
        open_ended: whether the run goes on after the years asked for (no UNTIL).

    Returns:
        A STANDARD or DAYLIGHT observance.

    """
    head = run[0]
    recur: dict[str, object] | None = None
    if len(run) > 1:
        recur = {"FREQ": "YEARLY", "BYMONTH": head.onset.month}
        if not open_ended:
            recur["UNTIL"] = _until(run[-1])
        kind, number, weekday = rule
        if kind == _LAST:
            recur["BYDAY"] = f"-1{_WEEKDAYS[weekday]}"
        elif kind == _NTH:
            recur["BYDAY"] = f"{number}{_WEEKDAYS[weekday]}"
        elif kind == _FROM:
            recur["BYDAY"] = _WEEKDAYS[weekday]
            recur["BYMONTHDAY"] = list(range(number, number + 7))
        else:
            recur["BYMONTHDAY"] = number
    return _Observance(
        head.daylight, head.onset, head.before.offset, head.after.offset, head.after.name, recur
    )


def _until(change: _Change) -> _dt.datetime:
    """Return the UNTIL of a run whose last transition is ``change``.

    That is its onset in UTC, or, when later (zones east of UTC), its wall time read as
    UTC. dateutil's ``tzical``, behind icalendar's ``to_tz`` and vobject (so Radicale),
    parses the RRULE with ``ignoretz=True`` and compares UNTIL with the naive local
    onsets: with the UTC onset, it dropped the last onset of every ended run east of UTC
    (Vienna's September rule until 1995 ended in 1994 for it). Either value lies before
    the onset a year later, so readers that take UNTIL as UTC, as RFC 5545 says
    (libical, ical.js), get the same onsets.
    """
    return max(_EPOCH + _dt.timedelta(seconds=change.at), change.onset).replace(tzinfo=_UTC)
