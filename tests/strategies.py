"""Hypothesis strategies for the tests, in one place.

Values are *canonical*: a date-time has ``fold=1`` only where its wall time occurs
twice (the second of the two), because elsewhere ``fold`` means nothing and no stored
text can carry it. Nonexistent wall times (inside a spring-forward gap) are not drawn.
"""

from __future__ import annotations

import datetime as _dt
import enum
import json
import types
import typing
import uuid
import zoneinfo
from collections.abc import Sequence
from typing import Any

import attrs
import orjson
import pendulum
from hypothesis import strategies as st

from alliance_events.domain.streams import ID_KINDS, NAME_KINDS
from alliance_events.events import TYPE_NAME

from .sample_events import Colour, Everything, Noted, Place, Renamed

__all__ = [
    "OVERLAPS",
    "ZONES",
    "batches",
    "dates",
    "datetimes",
    "durations",
    "event_lists",
    "events",
    "everything_events",
    "fixed_offset_datetimes",
    "ical_texts",
    "instances_of",
    "is_ambiguous",
    "json_texts",
    "json_values",
    "library_stream_keys",
    "metadata",
    "named_zone_datetimes",
    "noted_events",
    "overlap_datetimes",
    "renamed_events",
    "stream_names",
    "texts",
    "times",
    "type_names",
    "uuids",
    "values_of",
]

ZONES: Sequence[str] = (
    "UTC",
    "Europe/Vienna",
    "Europe/London",
    "America/New_York",
    "America/St_Johns",
    "America/Sao_Paulo",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Pacific/Chatham",
    "Pacific/Apia",
    "Africa/Casablanca",
)
"""Named zones with whole-hour, half-hour, 45-minute and 30-minute-DST offsets."""

OVERLAPS: Sequence[tuple[str, tuple[int, ...], int]] = (
    # (zone, first wall time that occurs twice, seconds of wall time that repeat)
    ("Europe/Vienna", (2023, 10, 29, 2, 0), 3600),
    ("Europe/London", (2022, 10, 30, 1, 0), 3600),
    ("America/New_York", (2023, 11, 5, 1, 0), 3600),
    ("Australia/Lord_Howe", (2023, 4, 2, 1, 30), 1800),
    ("America/Sao_Paulo", (2018, 2, 17, 23, 0), 3600),
    ("Pacific/Chatham", (2023, 4, 2, 2, 45), 3600),
)
"""Summer-time ends: wall times in these windows happen twice (fold 0, then fold 1)."""

_MIN = _dt.datetime(1800, 1, 1)  # noqa: DTZ001 - naive bounds, the zone is drawn separately
_MAX = _dt.datetime(2200, 12, 31)  # noqa: DTZ001


def is_ambiguous(value: _dt.datetime) -> bool:
    """Whether the wall time of ``value`` occurs twice in its zone."""
    return value.replace(fold=0).utcoffset() != value.replace(fold=1).utcoffset()


def _to_pendulum(value: _dt.datetime) -> pendulum.DateTime:
    assert isinstance(value.tzinfo, zoneinfo.ZoneInfo)
    fold = value.fold if is_ambiguous(value) else 0
    return pendulum.DateTime(
        value.year, value.month, value.day, value.hour, value.minute, value.second,
        value.microsecond, tzinfo=pendulum.timezone(value.tzinfo.key), fold=fold,
    )


def named_zone_datetimes() -> st.SearchStrategy[pendulum.DateTime]:
    """Date-times in a named IANA zone (UTC included), existing wall times only."""
    return st.datetimes(
        min_value=_MIN,
        max_value=_MAX,
        timezones=st.sampled_from([zoneinfo.ZoneInfo(name) for name in ZONES]),
        allow_imaginary=False,
    ).map(_to_pendulum)


@st.composite
def overlap_datetimes(draw: st.DrawFn) -> pendulum.DateTime:
    """Wall times that occur twice (a summer-time end), either the first or the second."""
    zone, start, length = draw(st.sampled_from(OVERLAPS))
    wall = _dt.datetime(*start) + _dt.timedelta(  # noqa: DTZ001 - a wall time in `zone`
        seconds=draw(st.integers(0, length - 1)),
        microseconds=draw(st.integers(0, 999_999)),
    )
    value = pendulum.DateTime(
        wall.year, wall.month, wall.day, wall.hour, wall.minute, wall.second,
        wall.microsecond, tzinfo=pendulum.timezone(zone), fold=draw(st.integers(0, 1)),
    )
    assert is_ambiguous(value), value
    return value


@st.composite
def fixed_offset_datetimes(draw: st.DrawFn) -> pendulum.DateTime:
    """Date-times at a fixed UTC offset (``pendulum.FixedTimezone``), to the second."""
    wall = draw(st.datetimes(min_value=_MIN, max_value=_MAX))
    offset = draw(st.integers(-(24 * 3600 - 1), 24 * 3600 - 1))
    return pendulum.DateTime(
        wall.year, wall.month, wall.day, wall.hour, wall.minute, wall.second,
        wall.microsecond, tzinfo=pendulum.FixedTimezone(offset),
    )


def datetimes() -> st.SearchStrategy[pendulum.DateTime]:
    """Any aware pendulum date-time: named zones, summer-time overlaps, fixed offsets."""
    return st.one_of(named_zone_datetimes(), overlap_datetimes(), fixed_offset_datetimes())


def dates() -> st.SearchStrategy[pendulum.Date]:
    """Pendulum dates over the whole range of ``datetime.date``."""
    return st.dates().map(lambda d: pendulum.Date(d.year, d.month, d.day))


def times() -> st.SearchStrategy[pendulum.Time]:
    """Pendulum times of day, without an offset, to the microsecond."""
    return st.times().map(lambda t: pendulum.Time(t.hour, t.minute, t.second, t.microsecond))


@st.composite
def _calendar_durations(draw: st.DrawFn) -> pendulum.Duration:
    years = draw(st.integers(0, 200))
    months = draw(st.integers(0 if years else 1, 30))
    return pendulum.duration(
        years=years,
        months=months,
        days=draw(st.integers(0, 1000)),
        hours=draw(st.integers(0, 23)),
        minutes=draw(st.integers(0, 59)),
        seconds=draw(st.integers(0, 59)),
        microseconds=draw(st.integers(0, 999_999)),
    )


def durations() -> st.SearchStrategy[pendulum.Duration]:
    """Durations: exact ones (negative too), and ones with years and months (not negative)."""
    exact = st.timedeltas(
        min_value=_dt.timedelta(days=-10**6), max_value=_dt.timedelta(days=10**6)
    ).map(
        lambda d: pendulum.duration(days=d.days, seconds=d.seconds, microseconds=d.microseconds)
    )
    return st.one_of(exact, _calendar_durations())


def uuids() -> st.SearchStrategy[uuid.UUID]:
    """Any UUID (any version, the nil one included)."""
    return st.uuids(allow_nil=True)


_AWKWARD = "\x00\x01\x07\x1b\x1f\x7f\x85\u2028\u2029\ufeff\"\\'é中ßд\u05d0\u0645🎉𝄞 \t\r\n"


def texts(*, min_size: int = 0, max_size: int | None = 40) -> st.SearchStrategy[str]:
    """Any text without surrogates: control characters, NUL, non-Latin scripts, emoji."""
    return st.one_of(
        st.text(min_size=min_size, max_size=max_size),
        st.text(st.sampled_from(_AWKWARD), min_size=min_size, max_size=max_size),
    )


def stream_names() -> st.SearchStrategy[str]:
    """Valid stream names: 1 to 200 characters, no NUL, any script."""
    common = st.sampled_from(["meeting-1", "meeting-2", "person-ß", "組織-3", "deadline-x"])
    drawn = st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)),
                    min_size=1, max_size=200)  # text: no lone surrogate
    return st.one_of(common, drawn)


def library_stream_keys() -> st.SearchStrategy[tuple[str, uuid.UUID | str]]:
    """``(kind, key)`` of any library stream: a UUID, or any text for a named kind."""
    return st.one_of(
        st.tuples(st.sampled_from(sorted(ID_KINDS)), uuids()),
        st.tuples(st.sampled_from(sorted(NAME_KINDS)), texts(max_size=60)),
    )


def _places() -> st.SearchStrategy[Place]:
    return st.builds(Place, name=texts(), room=st.none() | st.integers(-(2**31), 2**31))


_INT64 = st.integers(-(2**63), 2**63 - 1)


def noted_events() -> st.SearchStrategy[Noted]:
    """``test.Noted`` events with explicit ids."""
    return st.builds(Noted, event_id=uuids(), text=texts())


def everything_events() -> st.SearchStrategy[Everything]:
    """``test.Everything`` events: one field of every kind the codec carries."""
    return st.builds(
        Everything,
        event_id=uuids(),
        text=texts(),
        number=_INT64,
        ratio=st.floats(allow_nan=False, allow_infinity=False),
        flag=st.booleans(),
        at=datetimes(),
        on=dates(),
        daily=times(),
        lasting=durations(),
        ref=uuids(),
        colour=st.sampled_from(Colour),
        tags=st.lists(texts(), max_size=4).map(tuple),
        place=_places(),
        places=st.lists(_places(), max_size=3).map(tuple),
        maybe=st.none() | datetimes(),
        counts=st.dictionaries(texts(), _INT64, max_size=4),
    )


def renamed_events() -> st.SearchStrategy[Renamed]:
    """``test.Renamed`` events (schema 2) with explicit ids."""
    return st.builds(Renamed, event_id=uuids(), summary=texts(), language=texts(max_size=8))


def events() -> st.SearchStrategy[Noted | Everything | Renamed]:
    """An event of any type in ``TEST_REGISTRY``."""
    return st.one_of(noted_events(), everything_events(), renamed_events())


def event_lists(*, min_size: int = 0, max_size: int = 5) -> st.SearchStrategy[list]:
    """Lists of events whose ids are unique."""
    return st.lists(
        events(), min_size=min_size, max_size=max_size, unique_by=lambda e: e.event_id
    )


@st.composite
def batches(
    draw: st.DrawFn, *, max_batches: int = 6, max_batch_size: int = 5
) -> list[tuple[str, list]]:
    """Batches ``(stream, events)`` to append in order; every id is unique across all."""
    sizes = draw(st.lists(st.integers(1, max_batch_size), max_size=max_batches))
    flat = draw(event_lists(min_size=sum(sizes), max_size=sum(sizes)))
    result = []
    start = 0
    for size in sizes:
        result.append((draw(stream_names()), flat[start : start + size]))
        start += size
    return result


def values_of(annotation: Any) -> st.SearchStrategy[Any]:  # noqa: PLR0911
    """Any value of an event field's type (from its annotation) that the codec can encode.

    Text, 64-bit integers, finite floats, booleans, UUIDs, pendulum's date-times (named
    zones, overlaps, fixed offsets), dates, times and durations, enums, optional values and
    unions, tuples, frozensets, lists and dicts of them, and attrs classes of such fields.
    """
    simple: dict[Any, st.SearchStrategy[Any]] = {
        str: texts(),
        int: _INT64,
        float: st.floats(allow_nan=False, allow_infinity=False),
        bool: st.booleans(),
        uuid.UUID: uuids(),
        pendulum.DateTime: datetimes(),
        pendulum.Date: dates(),
        pendulum.Time: times(),
        pendulum.Duration: durations(),
        type(None): st.none(),
    }
    if annotation in simple:
        return simple[annotation]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([values_of(arg) for arg in args])
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(values_of(args[0]), max_size=3).map(tuple)
        return st.tuples(*(values_of(arg) for arg in args))
    if origin is frozenset:
        return st.frozensets(values_of(args[0]), max_size=3)
    if origin is list:
        return st.lists(values_of(args[0]), max_size=3)
    if origin is dict:
        return st.dictionaries(values_of(args[0]), values_of(args[1]), max_size=3)
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return st.sampled_from(list(annotation))
    if isinstance(annotation, type) and attrs.has(annotation):
        return instances_of(annotation)
    raise AssertionError(f"no strategy for {annotation!r}: add one to values_of")


def instances_of(cls: type) -> st.SearchStrategy[Any]:
    """Instances of an attrs class (an event class: any registered type), every field drawn."""
    hints = typing.get_type_hints(cls)
    return st.builds(cls, **{
        field.name: values_of(hints[field.name])
        for field in attrs.fields(cls)  # type: ignore[arg-type]
    })


def json_values() -> st.SearchStrategy[object]:
    """JSON-ready values: null, booleans, 64-bit integers, finite floats, text, nesting."""
    scalars = st.none() | st.booleans() | _INT64 | texts() | st.floats(
        allow_nan=False, allow_infinity=False
    )
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts(), inner, max_size=3),
        max_leaves=8,
    )


def json_texts() -> st.SearchStrategy[str]:
    """JSON text as some tool may have stored it: compact, indented, spaced, escaped or not."""
    values = st.one_of(st.dictionaries(texts(), json_values(), max_size=4), json_values())
    return st.one_of(
        values.map(lambda value: orjson.dumps(value).decode()),
        st.builds(
            json.dumps,
            values,
            indent=st.none() | st.integers(0, 3),
            ensure_ascii=st.booleans(),
            sort_keys=st.booleans(),
        ),
        st.builds(lambda text, pad: f"{pad}{text}{pad}", values.map(json.dumps),
                  st.sampled_from([" ", "\n", "\t ", "  \r\n"])),
    )


def type_names() -> st.SearchStrategy[str]:
    """Any valid event type name (most of them no registry knows)."""
    return st.one_of(
        st.from_regex(TYPE_NAME, fullmatch=True),
        st.sampled_from(["minutes.MinutesApproved", "ghost.Haunted", "MeetingScheduled"]),
    )


def metadata() -> st.SearchStrategy[dict[str, object]]:
    """Envelope metadata: a JSON object (possibly empty)."""
    return st.dictionaries(texts(), json_values(), max_size=4)


# -- calendar text: what a secretary might type, and what an attacker might ----------------

_ICAL_PIECES = (
    ";", ",", "\\", ":", "\r", "\n", "\r\n", "\t", '"', "^", "\\n", "\\,", "\\N", "C:\\Nodes",
    "\x00", "\x07", "\x0b", "\x1b", "\x1f", "\x7f", "\x85", "\u2028", "\ufeff",
    "END:VEVENT\r\nBEGIN:VEVENT", "\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:x\r\n",
    "\nSUMMARY;BAD:x", "DTSTART:20000101", "Wien \u2013 Österreich", "Приём делегаций",
    "会议室", "اجتماع", "שלום", "🎉𝄞", "é" * 40, "x" * 80,
)


def ical_texts(*, max_parts: int = 8) -> st.SearchStrategy[str]:
    """Text mixing iCalendar separators, line breaks, control characters, other scripts."""
    return st.lists(
        st.one_of(st.sampled_from(_ICAL_PIECES), st.text(max_size=6)), max_size=max_parts
    ).map("".join)
