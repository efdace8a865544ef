"""Time as the alliance means it: local wall time in an IANA zone, and explicit about DST.

"15:00 Vienna" is stored as 15:00 in ``Europe/Vienna`` (not as an offset), so it stays
15:00 Vienna across the change to summer time. A wall time that does not exist (the
spring-forward gap, 02:30 on 26 March 2023 in Vienna) or exists twice (the fall-back
overlap, 02:30 on 29 October 2023) is refused unless the caller says which one it means;
nothing is silently guessed. A zone written as a fixed offset, like ``GMT+1`` in the
minutes, is read as exactly that offset.

    >>> from alliance_events.timing import local_datetime, zone
    >>> local_datetime("2023-03-22 15:00", "Europe/Vienna").in_timezone("UTC").isoformat()
    '2023-03-22T14:00:00+00:00'
    >>> local_datetime("2023-04-19 15:00", "Europe/Vienna").in_timezone("UTC").isoformat()
    '2023-04-19T13:00:00+00:00'
    >>> local_datetime("2023-03-22 15:00", "GMT+1").isoformat()
    '2023-03-22T15:00:00+01:00'
    >>> local_datetime("2023-10-29 02:30", "Europe/Vienna")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    alliance_events.timing.AmbiguousTimeError: 2023-10-29 02:30 happens twice in ...
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Final, Literal

import attrs
import pendulum

from alliance_events.errors import RuleViolation

__all__ = [
    "DEFAULT_ZONE",
    "FIRST_YEAR",
    "LAST_YEAR",
    "AllDay",
    "AmbiguousTimeError",
    "Disambiguate",
    "NonexistentTimeError",
    "OutOfRangeError",
    "Timed",
    "TimingError",
    "When",
    "all_day",
    "check_in_range",
    "day_after",
    "describe_moment",
    "describe_when",
    "end_of_day",
    "is_named_zone",
    "local_date",
    "local_datetime",
    "names_one_instant",
    "timed",
    "zone",
    "zone_label",
]

Disambiguate = Literal["raise", "earlier", "later"]
"""What to do with a wall time in an overlap or a gap: refuse it, or take the earlier or
later of the two instants (for a gap: the instant just before or just after it, shifted
by the gap's length, as RFC 5545 and most calendar software do)."""

_OFFSET_ZONE: Final = re.compile(
    r"^(?:GMT|UTC)?\s*(?P<sign>[+-])(?P<hours>\d{1,2})(?::?(?P<minutes>\d{2}))?$", re.IGNORECASE
)


DEFAULT_ZONE: Final = "Europe/Vienna"
"""The zone a time means when none is given: the alliance meets in Vienna."""

_NOT_ZONES: Final = frozenset({"localtime", "posixrules", "Factory"})


class TimingError(RuleViolation):
    """A time, date or zone is malformed, unknown or impossible (rule ``time``)."""

    rule_name = "time"

    def __init__(self, message: str) -> None:
        super().__init__(self.rule_name, message)


class OutOfRangeError(TimingError):
    """A date or time outside the years the library keeps (rule ``date-range``)."""

    rule_name = "date-range"


FIRST_YEAR: Final = 1900
LAST_YEAR: Final = 2200
"""The years a date or time may fall in (inclusive): every calendar program reads them,
and a date near the ends of Python's range (year 1 or 9999) would overflow once a zone
or a day is added to it."""


def check_in_range(value: _dt.date, field: str = "the date") -> None:
    """Refuse a date or date-time outside :data:`FIRST_YEAR` to :data:`LAST_YEAR`.

    >>> try:
    ...     check_in_range(pendulum.Date(9999, 12, 31), "due")
    ... except OutOfRangeError as refused:
    ...     print(refused)
    due 9999-12-31 is outside the years 1900 to 2200 [rule: date-range]
    """
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        shown = value.isoformat(sep=" ") if isinstance(value, _dt.datetime) else value.isoformat()
        raise OutOfRangeError(
            f"{field} {shown} is outside the years {FIRST_YEAR} to {LAST_YEAR}"
        )


class NonexistentTimeError(TimingError):
    """The wall time falls in a summer-time gap: it never shows on a clock there."""

    rule_name = "nonexistent-time"


class AmbiguousTimeError(TimingError):
    """The wall time falls in a summer-time overlap: it shows twice on a clock there."""

    rule_name = "ambiguous-time"


def zone(name: str) -> pendulum.Timezone | pendulum.FixedTimezone:
    """Return the zone named ``name``: an IANA name, ``UTC``, or a fixed offset.

    ``"GMT+1"``, ``"UTC+01:00"`` and ``"+01:00"`` are fixed offsets of one hour east of
    Greenwich, as people write them (not the inverted POSIX ``Etc/GMT+1``).

    Raises:
        TimingError: the name is neither a known IANA zone nor an offset.

    """
    if not isinstance(name, str) or not name.strip():
        raise TimingError(f"zone must be an IANA zone name such as 'Europe/Vienna', got {name!r}")
    text = name.strip()
    match = _OFFSET_ZONE.match(text)
    if match:
        hours, minutes = int(match["hours"]), int(match["minutes"] or 0)
        if hours > 14 or minutes >= 60:  # noqa: PLR2004 - UTC+14 is the widest offset in use
            raise TimingError(f"zone {name!r}: offset out of range")
        seconds = (hours * 3600 + minutes * 60) * (-1 if match["sign"] == "-" else 1)
        return pendulum.FixedTimezone(seconds)
    if text.upper() in ("UTC", "GMT", "Z"):
        return pendulum.UTC
    if text in _NOT_ZONES or text.startswith(("posix/", "right/")):
        raise TimingError(
            f"zone {name!r} is a file of this machine's zone database, not an IANA zone "
            "(it means another time on another machine, or counts leap seconds): use a "
            "name such as 'Europe/Vienna'"
        )
    try:
        return pendulum.timezone(text)
    except Exception as error:
        message = f"unknown time zone {name!r}: use an IANA name such as 'Europe/Vienna'"
        raise TimingError(message) from error


def day_after(day: _dt.date) -> pendulum.Date:
    """Return the day after ``day`` (by its ordinal: five times faster than pendulum's ``add``).

    >>> day_after(pendulum.Date(2023, 12, 31))
    Date(2024, 1, 1)
    """
    return pendulum.Date.fromordinal(day.toordinal() + 1)


def is_named_zone(moment: _dt.datetime) -> bool:
    """Return whether ``moment`` is in a named (IANA) zone rather than a fixed offset."""
    return isinstance(getattr(moment.tzinfo, "key", None), str)


def names_one_instant(moment: _dt.datetime) -> bool:
    """Return whether ``moment``'s wall time and zone name one instant only.

    Not so for a wall time of a repeated (fall-back) hour: "02:30 Vienna" on 27 October
    2024 is 00:30Z and 01:30Z, and calendar programs disagree on which a TZID time means
    (calendar rule 11), so such an instant is written in UTC. A fixed offset or UTC
    always names one instant.

    >>> import pendulum
    >>> names_one_instant(local_datetime("2024-10-27 01:30", "Europe/Vienna"))
    True
    >>> names_one_instant(local_datetime("2024-10-27 02:30", "Europe/Vienna",
    ...                                  disambiguate="later"))
    False
    """
    zone = moment.tzinfo
    key = getattr(zone, "key", None)
    if zone is None or not isinstance(key, str):
        return True
    # A day on which the clocks are not changed holds no repeated (nor skipped) hour:
    # answered once per zone and day (feeds ask for every meeting); the wall time itself
    # is looked at only on the days of a change (from the day before's last hour on).
    day = moment.toordinal()
    changes = _CHANGE_DAYS.get((key, day))
    if changes is None:
        if len(_CHANGE_DAYS) >= _DAYS_KEPT:
            _CHANGE_DAYS.clear()
        midnight = _dt.datetime.fromordinal(day)
        offsets = {zone.utcoffset(midnight + _dt.timedelta(hours=hours)) for hours in (-2, 26)}
        changes = _CHANGE_DAYS[key, day] = len(offsets) > 1
    if not changes:
        return True
    # The zone asked about a plain wall time, both folds: no pendulum object made.
    wall = _dt.datetime(  # noqa: DTZ001 - a wall time, the zone is asked below
        moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second,
        moment.microsecond,
    )
    return zone.utcoffset(wall) == zone.utcoffset(wall.replace(fold=1))


_CHANGE_DAYS: dict[tuple[str, int], bool] = {}  # (zone, day ordinal): clocks changed near
_DAYS_KEPT: Final = 100_000


def zone_label(moment: _dt.datetime) -> str:
    """Return the name people read for ``moment``'s zone: the IANA name, or the offset.

    The one way labels are written everywhere (tables, history, feeds):

    >>> zone_label(local_datetime("2023-03-22 15:00", "Europe/Vienna"))
    'Europe/Vienna'
    >>> zone_label(local_datetime("2023-03-22 15:00", "GMT+1"))
    'UTC+01:00'
    >>> zone_label(local_datetime("2023-03-22 15:00", "UTC"))
    'UTC'
    """
    key = getattr(moment.tzinfo, "key", None)
    if isinstance(key, str) and key:
        return key
    offset = moment.utcoffset()
    if not offset:
        return "UTC"
    minutes = int(offset.total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def describe_moment(moment: _dt.datetime) -> str:
    """Say a time in its own zone: ``22 Mar 2023 15:00 Europe/Vienna``."""
    return f"{moment.strftime('%d %b %Y %H:%M')} {zone_label(moment)}"


def describe_when(when: When) -> str:
    """Say when something takes place, in its own zone.

    >>> describe_when(timed("2023-03-22 15:00", "16:30", "Europe/Vienna"))
    '22 Mar 2023 15:00-16:30 Europe/Vienna'
    >>> describe_when(all_day("2023-05-30", "2023-05-31"))
    'all day 30 May to 31 May 2023'
    """
    if isinstance(when, AllDay):
        if when.first == when.last:
            return f"all day on {when.first.strftime('%d %b %Y')}"
        return f"all day {when.first.strftime('%d %b')} to {when.last.strftime('%d %b %Y')}"
    if when.start.date() == when.end.date() and zone_label(when.start) == zone_label(when.end):
        day_and_start = when.start.strftime("%d %b %Y %H:%M")
        return f"{day_and_start}-{when.end.strftime('%H:%M')} {zone_label(when.start)}"
    return f"{describe_moment(when.start)} to {describe_moment(when.end)}"


def _parse_wall(value: str | _dt.datetime) -> _dt.datetime:
    if isinstance(value, _dt.datetime):
        return value.replace(tzinfo=None)
    try:
        parsed = _dt.datetime.fromisoformat(value.strip())
    except (AttributeError, ValueError) as error:
        raise TimingError(
            f"{value!r} is not a date and time: write it as 2023-03-22 15:00"
        ) from error
    if parsed.tzinfo is not None:
        raise TimingError(
            f"{value!r} carries an offset: give the wall time and the zone apart"
        )
    return parsed


def local_datetime(
    wall: str | _dt.datetime,
    zone_name: str,
    *,
    disambiguate: Disambiguate = "raise",
    field: str = "the time",
) -> pendulum.DateTime:
    """Return the wall time ``wall`` in the zone ``zone_name`` as an aware date-time.

    Args:
        wall: a naive date-time, or ISO text such as ``"2023-03-22 15:00"``. An aware
            date-time is taken as it is (its zone must be named or an offset).
        zone_name: an IANA zone name, or a fixed offset such as ``GMT+1``.
        disambiguate: for a time in a gap or an overlap, ``"earlier"`` or ``"later"``;
            by default such a time is refused.
        field: what the time is, for a refusal (``"start"``).

    Raises:
        TimingError: malformed text or an unknown zone.
        NonexistentTimeError: the time falls in a gap and ``disambiguate`` is "raise".
        AmbiguousTimeError: the time falls in an overlap and ``disambiguate`` is "raise".

    """
    if isinstance(wall, _dt.datetime) and wall.tzinfo is not None:
        if wall.utcoffset() is None:
            raise TimingError(f"{wall!r} has a zone without an offset")
        check_in_range(wall, field)
        return pendulum.instance(wall)
    naive = _parse_wall(wall)
    check_in_range(naive, field)
    tz = zone(zone_name)
    if isinstance(tz, pendulum.FixedTimezone):
        return pendulum.instance(naive.replace(tzinfo=tz))
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    first_offset, second_offset = first.utcoffset(), second.utcoffset()
    if first_offset == second_offset:
        return _pendulum(naive, tz, 0)
    label = naive.strftime("%Y-%m-%d %H:%M")
    exists = first.astimezone(_dt.UTC).astimezone(tz).replace(tzinfo=None) == naive
    if exists:  # an overlap: the same wall time at two offsets
        if disambiguate == "raise":
            raise AmbiguousTimeError(
                f"{label} happens twice in {zone_name} (at {_offset(first_offset)}, then at "
                f"{_offset(second_offset)}): say which with disambiguate='earlier' or 'later'"
            )
        return _pendulum(naive, tz, 0 if disambiguate == "earlier" else 1)
    if disambiguate == "raise":
        raise NonexistentTimeError(
            f"{label} does not exist in {zone_name} (the clocks jump over it when summer "
            "time starts): choose another time, or disambiguate='earlier' or 'later'"
        )
    # In a gap, fold=0 reads the wall time with the offset before the jump (so lands
    # after the gap), fold=1 with the offset after it (so lands before the gap).
    instant = (second if disambiguate == "earlier" else first).astimezone(_dt.UTC)
    return pendulum.instance(instant).in_timezone(tz)


def _pendulum(naive: _dt.datetime, tz: pendulum.Timezone, fold: int) -> pendulum.DateTime:
    return pendulum.DateTime(
        naive.year, naive.month, naive.day, naive.hour, naive.minute, naive.second,
        naive.microsecond, tzinfo=tz, fold=fold,
    )


def _offset(offset: _dt.timedelta | None) -> str:
    minutes = int((offset or _dt.timedelta(0)).total_seconds() // 60)
    sign = "+" if minutes >= 0 else "-"
    return f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def end_of_day(day: _dt.date, zone_name: str = DEFAULT_ZONE) -> pendulum.DateTime:
    """Return the instant ``day`` ends in ``zone_name``: the first instant of the next day.

    "Due by 1 May" is overdue from then. Where the clocks skip midnight (Santiago sets
    them from 00:00 to 01:00 on the first Sunday of September), the next day begins when
    they jump: 2 September 2023 ends at 04:00Z, when the clock goes from 23:59:59 (-04)
    to 01:00 (-03).

    >>> end_of_day(pendulum.Date(2023, 9, 2), "America/Santiago").in_timezone("UTC")
    DateTime(2023, 9, 3, 4, 0, 0, tzinfo=Timezone('UTC'))
    >>> end_of_day(pendulum.Date(2023, 4, 30)).isoformat()
    '2023-05-01T00:00:00+02:00'

    Raises:
        TimingError: an unknown zone.

    """
    tz = zone(zone_name)
    following = _dt.date.fromordinal(day.toordinal() + 1)
    midnight = _dt.datetime(following.year, following.month, following.day)  # noqa: DTZ001
    # Midnight read with either offset; of those whose local date is the next day, the
    # earliest (in a gap, one of them falls before the jump, still on ``day``).
    candidates = sorted(midnight.replace(tzinfo=tz, fold=fold).timestamp() for fold in (0, 1))
    for seconds in candidates:
        moment = _dt.datetime.fromtimestamp(seconds, tz)
        if moment.date() >= following:
            return pendulum.instance(moment)
    return pendulum.instance(_dt.datetime.fromtimestamp(candidates[-1], tz))  # pragma: no cover


def local_date(value: str | _dt.date, field: str = "the date") -> pendulum.Date:
    """Return ``value`` (a date, or ISO text such as ``"2023-05-30"``) as a pendulum Date.

    ``field`` says what the date is, for a refusal (``"due"``).

    Raises:
        TimingError: it is not a date.
        OutOfRangeError: it is outside :data:`FIRST_YEAR` to :data:`LAST_YEAR`.

    """
    if isinstance(value, _dt.datetime):
        raise TimingError(f"{value!r} is a date and time, not a date")
    if isinstance(value, _dt.date):
        parsed = value
    else:
        try:
            parsed = _dt.date.fromisoformat(value.strip())
        except (AttributeError, ValueError) as error:
            raise TimingError(f"{value!r} is not a date: write it as 2023-05-30") from error
    check_in_range(parsed, field)
    return pendulum.Date(parsed.year, parsed.month, parsed.day)


@attrs.frozen(kw_only=True)
class Timed:
    """A span between two instants, each in its zone (usually the same IANA zone).

    ``end`` is after ``start``; a meeting of 15:00-16:30 Vienna is
    ``Timed(start=15:00 Vienna, end=16:30 Vienna)``.
    """

    start: pendulum.DateTime
    end: pendulum.DateTime

    @property
    def first_day(self) -> pendulum.Date:
        """The local date on which it starts."""
        return self.start.date()

    @property
    def last_day(self) -> pendulum.Date:
        """The local date on which it ends (the day before, if it ends at midnight)."""
        end = self.end
        if (end.hour, end.minute, end.second, end.microsecond) == (0, 0, 0, 0):
            return (end - _dt.timedelta(days=1)).date()
        return end.date()

    def contains_day(self, day: _dt.date) -> bool:
        """Return whether ``day`` (a local date) is one of its days."""
        return self.first_day <= day <= self.last_day


@attrs.frozen(kw_only=True)
class AllDay:
    """Whole days, from ``first`` to ``last`` inclusive (30-31 May: first=30, last=31).

    iCalendar writes the end as the day *after* ``last`` (its DTEND is exclusive).
    """

    first: pendulum.Date
    last: pendulum.Date

    @property
    def first_day(self) -> pendulum.Date:
        """The first day."""
        return self.first

    @property
    def last_day(self) -> pendulum.Date:
        """The last day (inclusive)."""
        return self.last

    @property
    def end_exclusive(self) -> pendulum.Date:
        """The day after the last day: iCalendar's DTEND."""
        return day_after(self.last)

    def contains_day(self, day: _dt.date) -> bool:
        """Return whether ``day`` is one of its days."""
        return self.first <= day <= self.last


When = Timed | AllDay
"""When something takes place: a timed span or whole days."""


def timed(
    start: str | _dt.datetime,
    end: str | _dt.datetime,
    zone_name: str = DEFAULT_ZONE,
    *,
    disambiguate: Disambiguate = "raise",
) -> Timed:
    """Return a :class:`Timed` span from wall times in ``zone_name``.

    ``end`` may be a time of day only (``"16:30"``): it is then on ``start``'s date.

    Raises:
        TimingError: a malformed time, an unknown zone, or an end not after the start.

    """
    start_at = local_datetime(start, zone_name, disambiguate=disambiguate, field="start")
    if isinstance(end, str) and re.fullmatch(r"\s*\d{1,2}:\d{2}(:\d{2})?\s*", end):
        end = f"{start_at.date().isoformat()} {end.strip()}"
    end_at = local_datetime(end, zone_name, disambiguate=disambiguate, field="end")
    if end_at <= start_at:
        raise TimingError(
            f"the end ({end_at.isoformat()}) must be after the start ({start_at.isoformat()})"
        )
    return Timed(start=start_at, end=end_at)


def all_day(first: str | _dt.date, last: str | _dt.date | None = None) -> AllDay:
    """Return an :class:`AllDay` span from ``first`` to ``last`` inclusive (default: one day).

    Raises:
        TimingError: a malformed date, or ``last`` before ``first``.

    """
    first_day = local_date(first, "first day")
    last_day = first_day if last is None else local_date(last, "last day")
    if last_day < first_day:
        raise TimingError(
            f"the last day ({last_day.isoformat()}) must not be before the first "
            f"({first_day.isoformat()})"
        )
    return AllDay(first=first_day, last=last_day)
