"""Events to stored JSON and back: one private cattrs converter and a fast JSON codec.

What the stored JSON looks like, per Python type:

=========================================  ==============================================
``pendulum.DateTime`` in a named zone      ``"2023-03-22T15:00:00+01:00[Europe/Vienna]"``
                                           (RFC 9557: wall time, offset, IANA zone name)
``pendulum.DateTime`` at a fixed offset    ``"2023-03-22T15:00:00+01:00"``
``pendulum.Date``                          ``"2023-05-30"``
``pendulum.Time``                          ``"15:00:00"``
``pendulum.Duration`` / ``timedelta``      ``"P1DT2H"`` (ISO 8601; ``-P1D`` when negative)
``uuid.UUID``                              ``"0b6e…"`` (hex with dashes)
``enum.Enum``                              its value
tuples, frozensets, nested attrs classes   lists and objects
=========================================  ==============================================

A date-time keeps its *zone*, not only its instant: ``15:00 Europe/Vienna`` comes back as
``15:00 Europe/Vienna`` (``timezone_name == "Europe/Vienna"``), and the offset written
beside it tells the two 02:30s of a summer-time change apart (``fold``). A naive
date-time is refused: an event's time without a zone means nothing.

The event id is not part of the data: it is stored in the log's envelope.

One private cattrs converter defines the format both ways (the codec of record). Reads
of an event of its type's current schema go through a decoder compiled once per class
with msgspec, which builds the event without a Python function per field, calls the
converter's own functions for pendulum's types, and declines anything it would not read
exactly as the converter does; the converter then reads it (and every older schema,
after its upcasters). ``tests/test_codec_compiled.py`` holds the two equal on every
registered type.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as _dt
import enum
import math
import re
import types
import typing
import uuid
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any, Final, Protocol

import attrs
import cattrs
import msgspec
import orjson
import pendulum
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from alliance_events._speed import _cached_source, as_datetime
from alliance_events.errors import CodecError, UnknownEventTypeError
from alliance_events.events import TYPE_NAME, Event, EventRegistry, OpaqueEvent
from alliance_events.events import registry as default_registry

__all__ = [
    "SEALED",
    "Codec",
    "EncodedEvent",
    "PersonalKeys",
    "dumps",
    "loads",
    "make_converter",
    "uuid_from_bytes",
    "uuid_from_int",
]

_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS


SEALED: Final = "sealed"
"""The stored field holding an event's personal fields, encrypted (``v1:`` + base64url)."""
_SEAL_VERSION: Final = "v1:"


class PersonalKeys(Protocol):
    """The per-person keys the personal fields are sealed with (a key store beside the log).

    A key is 64 random bytes (AES-256-SIV). Deleting a person's key erases their
    personal fields from every later read: they read as their erased values.
    """

    def get(self, subject: uuid.UUID) -> bytes | None:
        """Return the person's key, or ``None`` if they have none (any more)."""
        ...

    def create(self, subject: uuid.UUID) -> bytes:
        """Return the person's key, making (and storing) one if they have none."""
        ...

    def delete(self, subject: uuid.UUID) -> bool:
        """Delete the person's key for good; return whether there was one."""
        ...


def dumps(value: Any) -> str:
    """Serialise JSON-ready data (dicts, lists, strings, numbers) to compact JSON text."""
    return orjson.dumps(value, option=_JSON_OPTIONS).decode()


loads: Callable[[str | bytes], Any] = orjson.loads
"""Parse JSON text (``str`` or UTF-8 ``bytes``)."""


@attrs.frozen
class EncodedEvent:
    """An event as stored: its type name, its schema, and its data as JSON text."""

    type: str
    schema: int
    data: str


# -- time ---------------------------------------------------------------------------

_zones: dict[str, pendulum.Timezone] = {}


def _zone(name: str) -> pendulum.Timezone:
    zone = _zones.get(name)
    if zone is None:
        zone = _zones[name] = pendulum.timezone(name)
    return zone


def _encode_datetime(value: _dt.datetime) -> str:
    tzinfo = value.tzinfo
    if tzinfo is None or tzinfo.utcoffset(value) is None:
        raise CodecError(f"naive date-time {value.isoformat()} has no zone: give it an IANA zone")
    name = getattr(tzinfo, "key", None)  # pendulum.Timezone and zoneinfo.ZoneInfo
    if isinstance(name, str):
        return f"{value.isoformat()}[{name}]"
    return value.isoformat()


class _Memo(dict[str, Any]):
    """Decoded values of stored text, kept for the next time the same text is read.

    Kept where a real log repeats its values (in the projection benchmark's log, with a
    memo of this size): dates (90% were read before: a meeting's day comes back in its
    registration, deadlines and speaking requests) and UUIDs on the structured path
    (54%: every event of a meeting carries its id; the compiled decoders read UUIDs in
    C, faster than a look-up here). Not date-times (17%). The values are immutable, so
    sharing them is safe. The memo is bounded: when full it starts again (cheaper than
    an LRU, and as good for the locality of a replay).
    """

    __slots__ = ("limit",)

    def __init__(self, limit: int = 8192) -> None:
        super().__init__()
        self.limit = limit

    def remember(self, key: str, value: Any) -> Any:
        if len(self) >= self.limit:
            self.clear()
        self[key] = value
        return value


_dates = _Memo()
_uuids = _Memo()

_PLAIN_DATETIME: Final = _dt.datetime.fromisoformat
_PLAIN_DATE: Final = _dt.date.fromisoformat


# What follows a stored date-time's first 19 characters ("+01:00[Europe/Vienna]",
# "+05:30") -> its zone, and the offset that zone must have at the wall time for the text
# to be read the short way (None: a fixed offset, always). Zones and offsets are few.
_SUFFIXES: dict[str, tuple[_dt.tzinfo, _dt.timedelta | None]] = {}
_MAX_SUFFIXES: Final = 4096


def _decode_datetime(text: str, _: object = None) -> pendulum.DateTime:
    # Not remembered: a real log's date-times are mostly each its own (in the projection
    # benchmark's log, 17% of them were read before). The short way reads the wall time
    # alone and finds its zone by the rest of the text; it gives what _parse_datetime
    # gives, which reads the other texts (and the second wall time of an overlap).
    known = _SUFFIXES.get(text[19:])
    if known is not None:
        parsed = _PLAIN_DATETIME(text[:19])
        zone, offset = known
        # Asked about a plain datetime, the zone answers from C (on pendulum's subclass,
        # through Python attribute reads).
        if parsed.tzinfo is None and (offset is None or zone.utcoffset(parsed) == offset):
            return as_datetime(pendulum.DateTime, parsed, zone)
    return _parse_datetime(text)


def _parse_datetime(text: str) -> pendulum.DateTime:
    bracket = text.find("[")
    if bracket < 0:
        parsed = _PLAIN_DATETIME(text)
        offset = parsed.utcoffset()
        if offset is None:
            raise CodecError(f"date-time {text!r} has no offset and no zone")
        fixed = pendulum.FixedTimezone(int(offset.total_seconds()))
        _remember_suffix(text, fixed, None)
        return as_datetime(pendulum.DateTime, parsed, fixed)
    parsed = _PLAIN_DATETIME(text[:bracket])
    zone = _zones.get(text[bracket + 1 : -1]) or _zone(text[bracket + 1 : -1])
    result = as_datetime(pendulum.DateTime, parsed, zone)
    # The stored offset tells which of the two wall times of a summer-time overlap it is.
    offset = parsed.utcoffset()
    if zone.utcoffset(parsed) != offset:
        later = result.replace(fold=1)
        if later.utcoffset() == offset:
            return later
    elif offset is not None:
        _remember_suffix(text, zone, offset)
    return result


def _remember_suffix(text: str, zone: _dt.tzinfo, offset: _dt.timedelta | None) -> None:
    if text[19:20] in ("+", "-") and len(_SUFFIXES) < _MAX_SUFFIXES:
        _SUFFIXES[text[19:]] = (zone, offset)


def _decode_date(text: str, _: object = None) -> pendulum.Date:
    # Remembered: dates repeat (in the projection benchmark's log, 90% were read before).
    known: pendulum.Date | None = _dates.get(text)
    if known is None:
        parsed = _PLAIN_DATE(text)
        known = _dates.remember(text, pendulum.Date(parsed.year, parsed.month, parsed.day))
    return known


def _decode_time(text: str, _: object = None) -> pendulum.Time:
    parsed = _dt.time.fromisoformat(text)
    if parsed.tzinfo is not None:
        raise CodecError(f"time of day {text!r} must not carry an offset")
    return pendulum.Time(parsed.hour, parsed.minute, parsed.second, parsed.microsecond)


_TD_DAYS = _dt.timedelta.days.__get__
_TD_SECONDS = _dt.timedelta.seconds.__get__
_TD_MICROS = _dt.timedelta.microseconds.__get__

_DURATION = re.compile(
    r"^(?P<sign>-)?P(?:(?P<y>\d+)Y)?(?:(?P<mo>\d+)M)?(?:(?P<d>\d+)D)?"
    r"(?:T(?:(?P<h>\d+)H)?(?:(?P<mi>\d+)M)?(?:(?P<s>\d+)(?:\.(?P<us>\d{1,6}))?S)?)?$"
)


def _encode_duration(value: _dt.timedelta) -> str:
    years = getattr(value, "years", 0)
    months = getattr(value, "months", 0)
    # The exact integers timedelta stores: pendulum's own days/seconds/microseconds
    # properties are computed through a float and are off by a microsecond (or a
    # second) beyond about 285 years.
    days, rest, micro = _TD_DAYS(value), _TD_SECONDS(value), _TD_MICROS(value)
    sign = ""
    if not years and not months:
        if days < 0:  # timedelta keeps seconds and microseconds >= 0: only days is negative
            total = -((days * 86_400 + rest) * 1_000_000 + micro)
            days, total = divmod(total, 86_400_000_000)
            rest, micro = divmod(total, 1_000_000)
            sign = "-"
    else:
        # pendulum folds years and months into days (365 and 30): take them out again.
        days -= years * 365 + months * 30
        if years < 0 or months < 0 or days < 0:
            raise CodecError(
                f"a duration with years or months must have no negative part "
                f"(ISO 8601 has no form for it): {value!r}"
            )
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    date_part = "".join(
        f"{n}{unit}" for n, unit in ((years, "Y"), (months, "M"), (days, "D")) if n
    )
    second_text = f"{seconds}.{micro:06d}".rstrip("0") if micro else str(seconds)
    time_part = "".join(
        f"{n}{unit}"
        for n, unit in ((hours, "H"), (minutes, "M"), (second_text, "S"))
        if n and n != "0"
    )
    if not date_part and not time_part:
        return "PT0S"
    return f"{sign}P{date_part}" + (f"T{time_part}" if time_part else "")


def _decode_duration(text: str, _: object = None) -> pendulum.Duration:
    match = _DURATION.match(text)
    if match is None or text.endswith(("P", "T")):
        raise CodecError(f"{text!r} is not an ISO 8601 duration")
    part = match.groupdict()
    # Negate the parts, not the result: pendulum's negation goes through a float.
    sign = -1 if part["sign"] else 1
    return pendulum.duration(
        years=sign * int(part["y"] or 0),
        months=sign * int(part["mo"] or 0),
        days=sign * int(part["d"] or 0),
        hours=sign * int(part["h"] or 0),
        minutes=sign * int(part["mi"] or 0),
        seconds=sign * int(part["s"] or 0),
        microseconds=sign * int((part["us"] or "0").ljust(6, "0")),
    )


def _encode_float(value: float) -> float:
    # JSON has no inf or NaN: orjson would write null, which no float field reads back.
    if not math.isfinite(value):
        raise CodecError(f"{value!r} is not a finite number: JSON cannot carry it")
    return value


_new_object = object.__new__
_set_attribute = object.__setattr__
_UUID_UNKNOWN = uuid.SafeUUID.unknown


def uuid_from_int(value: int) -> uuid.UUID:
    """Build a UUID from its 128-bit integer, skipping ``UUID.__init__``'s argument parsing.

    Reads build a UUID or two per event; ``uuid.UUID(...)`` is pure Python and costs
    twice as much as setting its two slots.
    """
    result = _new_object(uuid.UUID)
    _set_attribute(result, "int", value)
    _set_attribute(result, "is_safe", _UUID_UNKNOWN)
    return result


_UUID_FROM_BIN: Final = msgspec.msgpack.Decoder(uuid.UUID).decode
_BIN_16: Final = b"\xc4\x10"  # MessagePack's header of a 16-byte binary


def uuid_from_bytes(value: bytes) -> uuid.UUID:
    """Return ``uuid.UUID(bytes=value)`` for 16 bytes (a stored event id), built in C.

    msgspec reads a UUID from MessagePack's 16-byte binary form without Python code:
    0.18 µs instead of 0.45 for :func:`uuid_from_int` and 0.9 for ``uuid.UUID(bytes=...)``.
    Any other length gives ``uuid_from_int(int.from_bytes(value))``, as before.
    """
    if len(value) == 16:  # noqa: PLR2004 - a UUID's length
        return _UUID_FROM_BIN(_BIN_16 + value)
    return uuid_from_int(int.from_bytes(value))


def _decode_uuid(value: str | uuid.UUID, _: object = None) -> uuid.UUID:
    if isinstance(value, uuid.UUID):
        return value
    known: uuid.UUID | None = _uuids.get(value)
    if known is None:
        if len(value) == 36 and value.count("-") == 4:  # noqa: PLR2004 - the canonical form
            known = _uuids.remember(value, uuid_from_int(int(value.replace("-", ""), 16)))
        else:
            known = uuid.UUID(value)
    return known


def _as_is(value: Any, _: object) -> Any:
    return value


def _enum_structure(cls: type[Enum]) -> Callable[[Any, Any], Enum]:
    members = cls._value2member_map_

    def structure(value: Any, _: object) -> Enum:
        try:
            return members[value]
        except (KeyError, TypeError):
            return cls(value)  # raises ValueError naming the value, or finds an alias

    return structure


def make_converter() -> cattrs.Converter:
    """Build the library's private converter (never cattrs' global one).

    ``detailed_validation`` is off: structuring runs on the hot path of every read,
    and the log reports a failure with the record's position and type instead.
    """
    converter = cattrs.Converter(detailed_validation=False)
    hooks: list[tuple[tuple[type, ...], Callable[[Any], str], Callable[[Any, Any], Any]]] = [
        ((_dt.datetime, pendulum.DateTime), _encode_datetime, _decode_datetime),
        ((_dt.date, pendulum.Date), _dt.date.isoformat, _decode_date),
        ((_dt.time, pendulum.Time), _dt.time.isoformat, _decode_time),
        ((_dt.timedelta, pendulum.Duration), _encode_duration, _decode_duration),
    ]
    for classes, encode, decode in hooks:
        for cls in classes:
            converter.register_unstructure_hook(cls, encode)
            converter.register_structure_hook(cls, decode)
    converter.register_unstructure_hook(float, _encode_float)
    # A dict lookup instead of calling the enum class (its __call__ is slow Python).
    converter.register_structure_hook_factory(
        lambda cls: isinstance(cls, type) and issubclass(cls, Enum), _enum_structure
    )
    converter.register_unstructure_hook(uuid.UUID, str)
    converter.register_structure_hook(uuid.UUID, _decode_uuid)
    return converter


# -- compiled decoding ------------------------------------------------------------------
#
# The converter above is the codec of record: it defines what stored JSON means. Reading
# an event through it calls a Python structure function per field (about 10 µs for an
# event of two date-times, a date and a UUID). A compiled decoder reads the same JSON
# with msgspec, which builds the attrs event (or a struct of its fields) in C, calls the
# converter's own functions above for pendulum's types (``dec_hook``) and reads UUIDs,
# enums, numbers, text and collections itself, strictly: anything it does not take as it
# is (text where a number is due, a UUID in braces...) raises, and the converter reads the
# data instead, so that a compiled decoder gives the converter's event or nothing.
# ``tests/test_codec_compiled.py`` checks the two equal on every registered type.

_HOOKS: Final[dict[Any, Callable[[Any], Any]]] = {
    pendulum.DateTime: _decode_datetime,
    pendulum.Date: _decode_date,
    pendulum.Time: _decode_time,
    pendulum.Duration: _decode_duration,
}

_SCALARS: Final = frozenset({str, int, float, bool, type(None), uuid.UUID, Any})

_parse_json: Final[Callable[[str | bytes], Any]] = msgspec.json.decode
"""The JSON parser of event data, for both ways: orjson reads an integer beyond 64 bits
as a float, msgspec as the integer; one parser, so that both ways read the same."""

_PLACEHOLDER_ID: Final = '{"event_id":"00000000-0000-0000-0000-000000000000",'


_DATETIME: Final = pendulum.DateTime
_DATE: Final = pendulum.Date
_DATETIME_STATE: Final = _dt.datetime.__reduce__


def _dec_hook(cls: Any, value: Any) -> Any:
    # msgspec calls this for every date-time and date of an event (two or three an
    # event, typically): _decode_datetime's short way and _decode_date's memo are written
    # out here (as_datetime too), one Python call instead of three. Measured on the
    # benchmark's stored date-times: 0.57 us instead of 0.67.
    if cls is _DATETIME:
        known = _SUFFIXES.get(value[19:])
        if known is not None:
            parsed = _PLAIN_DATETIME(value[:19])
            zone, offset = known
            if parsed.tzinfo is None and (offset is None or zone.utcoffset(parsed) == offset):
                return _DATETIME(_DATETIME_STATE(parsed)[1][0], zone)  # type: ignore[call-arg, arg-type]
        return _parse_datetime(value)
    if cls is _DATE:
        known_date = _dates.get(value)
        if known_date is not None:
            return known_date
    return _HOOKS[cls](value)


class _NotCompiledError(Exception):
    """A class the compiled decoders leave to the converter (the message says why)."""


def _is_union(annotation: Any) -> bool:
    return typing.get_origin(annotation) in (typing.Union, types.UnionType)


def _is_class_union(annotation: Any) -> bool:
    """Whether it is a union of two or more attrs classes (and perhaps None)."""
    if not _is_union(annotation):
        return False
    options = [a for a in typing.get_args(annotation) if a is not type(None)]
    return len(options) > 1 and all(isinstance(a, type) and attrs.has(a) for a in options)


def _check_type(annotation: Any, seen: set[type]) -> None:  # noqa: PLR0911, PLR0912
    """Raise _NotCompiledError unless msgspec reads ``annotation`` as the converter does."""
    if annotation in _SCALARS or annotation in _HOOKS:
        return
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if _is_union(annotation):
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            _check_type(options[0], seen)
            return
    elif origin is typing.Literal:
        if all(a is None or type(a) in (str, int) for a in args):
            return
    elif origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:  # noqa: PLR2004 - tuple[X, ...]
            _check_type(args[0], seen)
            return
        if args and Ellipsis not in args:
            for arg in args:
                _check_type(arg, seen)
            return
    elif origin in (list, set, frozenset) and len(args) == 1:
        _check_type(args[0], seen)
        return
    elif origin is dict and len(args) == 2 and args[0] is str:  # noqa: PLR2004
        _check_type(args[1], seen)
        return
    elif isinstance(annotation, type) and issubclass(annotation, Enum):
        values = [member.value for member in annotation]
        if not issubclass(annotation, enum.Flag) and values and (
            all(type(v) is str for v in values) or all(type(v) is int for v in values)
        ):
            return
    elif isinstance(annotation, type) and attrs.has(annotation):
        _check_class(annotation, seen)
        return
    raise _NotCompiledError(f"its type {annotation!r}")


def _check_class(cls: type, seen: set[type], *, skip: frozenset[str] = frozenset()) -> None:
    """Raise _NotCompiledError unless msgspec builds ``cls`` as its ``__init__`` would.

    That is: an ``__init__`` attrs generated that only stores its arguments (no
    validators, converters, hooks, cached hash), fields named as their arguments.
    """
    if cls in seen:
        return
    seen.add(cls)
    init = getattr(vars(cls).get("__init__"), "__code__", None)
    if init is None or not init.co_filename.startswith("<attrs generated"):
        raise _NotCompiledError(f"{cls.__qualname__} has an __init__ of its own")
    if getattr(cls, "__new__", None) is not object.__new__:
        raise _NotCompiledError(f"{cls.__qualname__} has a __new__ of its own")
    for hook in ("__attrs_pre_init__", "__attrs_post_init__"):
        if hasattr(cls, hook):
            raise _NotCompiledError(f"{cls.__qualname__} has {hook}")
    hash_code = getattr(cls.__hash__, "__code__", None)
    if hash_code is not None and "_attrs_cached_hash" in hash_code.co_names:
        raise _NotCompiledError(f"{cls.__qualname__} caches its hash")
    hints = _field_types(cls)
    for field in attrs.fields(cls):
        if field.validator is not None or field.converter is not None or not field.init:
            raise _NotCompiledError(f"{cls.__qualname__}.{field.name} does more than store")
        if field.alias != field.name:
            raise _NotCompiledError(f"{cls.__qualname__}.{field.name} is private")
        if isinstance(field.default, attrs.Factory) and field.default.takes_self:  # type: ignore[arg-type]
            raise _NotCompiledError(f"{cls.__qualname__}.{field.name}'s default takes self")
        if field.name not in skip:
            _check_type(hints[field.name], seen)


def _field_types(cls: type) -> dict[str, Any]:
    """Return the class's fields' types, resolved (raise _NotCompiledError if one has none)."""
    try:
        hints = typing.get_type_hints(cls)
    except Exception as error:  # a name that does not resolve, say
        raise _NotCompiledError(f"{cls.__qualname__}'s annotations: {error}") from error
    fields = attrs.fields(cls)
    missing = [f.name for f in fields if f.name not in hints]
    if missing:
        raise _NotCompiledError(f"{cls.__qualname__}.{missing[0]} has no type")
    return {f.name: hints[f.name] for f in fields}


def _compile(cls: type[Event], converter: cattrs.Converter) -> Callable[[Any, uuid.UUID], Event]:
    """Return the compiled decoder of an event class: ``decode(data, event_id)``.

    It raises on anything it does not read exactly as the converter would.

    Raises:
        _NotCompiledError: the class is left to the converter.

    """
    hints = _field_types(cls)
    fields = [f for f in attrs.fields(cls) if f.name != "event_id"]
    unions = {f.name for f in fields if _is_class_union(hints[f.name])}
    _check_class(cls, set(), skip=frozenset(unions))
    namespace: dict[str, Any] = {
        "cls": cls, "new_object": object.__new__, "set_attribute": object.__setattr__,
        "placeholder": _PLACEHOLDER_ID, "UNSET": msgspec.UNSET,
    }
    try:
        if not unions:
            # Straight into the class; the envelope's id replaces a placeholder.
            namespace["decode_json"] = msgspec.json.Decoder(cls, dec_hook=_dec_hook).decode
            lines = [
                "    if data[:1] != '{':",
                "        raise ValueError('not a JSON object')",
                "    event = decode_json(placeholder + data[1:])",
                "    set_attribute(event, 'event_id', event_id)",
                "    return event",
            ]
        else:
            # msgspec takes no union of attrs classes without a tag, and the stored format
            # has none: a struct of the fields, each union left as parsed to the converter's
            # own function for it (it tells the classes apart by their fields).
            specs: list[tuple[str, Any, Any] | tuple[str, Any]] = []
            lines = [
                "    fields = decode_json(data)",
                "    event = new_object(cls)",
                "    set_attribute(event, 'event_id', event_id)",
            ]
            for field in fields:
                name, default = field.name, field.default
                if name in unions:
                    namespace[f"structure_{name}"] = converter.get_structure_hook(hints[name])
                    namespace[f"type_{name}"] = hints[name]
                    call = f"structure_{name}(value, type_{name})"
                    if default is attrs.NOTHING:
                        specs.append((name, Any))
                    else:
                        specs.append((name, Any, msgspec.UNSET))
                        namespace[f"default_{name}"] = default
                        initial = (f"default_{name}.factory()" if isinstance(default, attrs.Factory)  # type: ignore[arg-type]
                                   else f"default_{name}")
                        call = f"{initial} if value is UNSET else {call}"
                    lines += [f"    value = fields.{name}",
                              f"    set_attribute(event, {name!r}, {call})"]
                    continue
                if default is attrs.NOTHING:
                    specs.append((name, hints[name]))
                elif isinstance(default, attrs.Factory):  # type: ignore[arg-type]
                    factory = msgspec.field(default_factory=default.factory)
                    specs.append((name, hints[name], factory))
                else:
                    specs.append((name, hints[name], default))
                lines.append(f"    set_attribute(event, {name!r}, fields.{name})")
            lines.append("    return event")
            struct = msgspec.defstruct(f"{cls.__name__}Fields", specs, kw_only=True)
            namespace["decode_json"] = msgspec.json.Decoder(struct, dec_hook=_dec_hook).decode
    except (TypeError, ValueError) as error:  # msgspec refuses a type
        raise _NotCompiledError(f"msgspec: {error}") from error
    source = "\n".join(["def decode(data, event_id):", *lines, ""])
    filename = _cached_source(f"<alliance_events decode {cls.__module__}.{cls.__qualname__}>",
                              source)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - from the class's fields
    return namespace["decode"]  # type: ignore[no-any-return]


_MAX_SCHEMA = 2**31 - 1  # what every backend stores (PostgreSQL: integer)
_Encoder = tuple[str, int, Callable[[Any], dict[str, Any]]]
_Decoder = tuple[type[Event], int, Callable[[Mapping[str, Any], Any], Event]]


class Codec:
    """Encodes events into :class:`EncodedEvent` and decodes stored data into events.

    One codec serves one :class:`~alliance_events.events.EventRegistry`; types registered
    after the codec was made are picked up on first use. A stored type name the registry
    does not know decodes to an :class:`~alliance_events.events.OpaqueEvent`, which
    encodes back to the very same type name, schema and data.

    ``compiled=False`` reads through the converter alone (see :meth:`compiled`): the
    same events, slower; for comparing the two.
    """

    def __init__(self, registry: EventRegistry | None = None, *, compiled: bool = True) -> None:
        self.registry = default_registry if registry is None else registry
        self._converter = make_converter()
        self._encoders: dict[type[Event], _Encoder] = {}
        self._decoders: dict[str, _Decoder] = {}
        self._compile = compiled
        # Type name -> (current schema, compiled decoder), for the classes it compiles.
        self._compiled: dict[str, tuple[int, Callable[[Any, uuid.UUID], Event]]] = {}
        self.keys: PersonalKeys | None = None
        """Where the per-person keys are (the log sets its key store here)."""
        # Person -> their cipher, or None once they have no key (forgotten).
        self._ciphers: dict[uuid.UUID, AESSIV | None] = {}
        self.plaintext: set[uuid.UUID] = set()
        """Persons whose personal fields this codec read in plaintext (written before
        personal data was sealed): forgetting them cannot erase those records."""

    def encode(self, event: Event) -> EncodedEvent:
        """Encode a registered event (without its id, which the envelope carries).

        An :class:`~alliance_events.events.OpaqueEvent` encodes to its own type name,
        schema and data, unchanged; if this codec's registry knows its type, the data
        must decode as that type.

        Raises:
            UnknownEventTypeError: its class is not registered.
            CodecError: a field's value cannot be encoded (a naive date-time, say), or an
                opaque event's name, schema or data is malformed or does not decode.

        """
        encoder = self._encoders.get(type(event))
        if encoder is None:
            if isinstance(event, OpaqueEvent):
                return self._encode_opaque(event)
            encoder = self._encoder_for(type(event))
        name, schema, unstructure = encoder
        try:
            fields = unstructure(event)
            if type(event).__personal__:
                fields = self._seal(name, event, fields)
            data = dumps(fields)
        except CodecError as error:
            raise CodecError(f"{name}: {error}") from error
        except (TypeError, ValueError, orjson.JSONEncodeError) as error:
            raise CodecError(f"{name} cannot be encoded: {error}") from error
        return EncodedEvent(name, schema, data)

    def decode(self, type_name: str, schema: int, data: str | bytes, event_id: uuid.UUID) -> Event:
        """Decode stored data into the registered class, upcasting older schemas first.

        A type name the registry does not know gives an
        :class:`~alliance_events.events.OpaqueEvent` holding the name, schema and data as
        they are: reading never fails on another tool's type. Data of the class's current
        schema is read by its compiled decoder (:meth:`compiled`) if it has one, and by
        the converter when it has none or declines: the same event either way.

        Raises:
            CodecError: the type is known but the data does not fit the class (after
                upcasting), or is of a schema newer than the class's.

        """
        compiled = self._compiled.get(type_name)
        if compiled is not None and compiled[0] == schema:
            try:
                return compiled[1](data, event_id)
            except Exception:  # noqa: BLE001, S110 - the converter decides: the event, or why not
                pass
        decoder = self._decoders.get(type_name)
        if decoder is None:
            if type_name not in self.registry:
                text = data if isinstance(data, str) else bytes(data).decode()
                return OpaqueEvent(event_id=event_id, type_name=type_name, schema=schema,
                                   data=text)
            decoder = self._decoder_for(type_name)
        cls, current, structure = decoder
        try:
            fields = _parse_json(data)
            if cls.__personal__:
                fields = self._unseal(type_name, cls, fields, event_id)
            if schema != current:
                fields = self.registry.upcast(type_name, schema, fields)
            fields["event_id"] = event_id
            event = structure(fields, cls)
        except (CodecError, UnknownEventTypeError):
            raise
        except Exception as error:
            raise CodecError(f"{type(error).__name__}: {error}") from error
        if cls.__forgets__:
            self._ciphers[getattr(event, cls.__forgets__)] = None
        return event

    def _encode_opaque(self, event: OpaqueEvent) -> EncodedEvent:
        name, schema, data = event.type_name, event.schema, event.data
        if not isinstance(name, str) or not TYPE_NAME.fullmatch(name):
            raise CodecError(
                f"an opaque event's type name must start with a letter and hold only "
                f"letters, digits and _ . : - (at most 100 characters); got {name!r}"
            )
        if isinstance(schema, bool) or not isinstance(schema, int) or not 0 < schema <= _MAX_SCHEMA:
            raise CodecError(
                f"opaque {name}: schema must be an integer from 1 to {_MAX_SCHEMA}, got {schema!r}"
            )
        if not isinstance(data, str):
            raise CodecError(f"opaque {name}: data must be JSON text, got {type(data).__name__}")
        try:
            loads(data)
        except orjson.JSONDecodeError as error:
            raise CodecError(f"opaque {name}: its data is not JSON: {error}") from error
        if name in self.registry:
            try:
                self.decode(name, schema, data, event.event_id)
            except CodecError as error:
                raise CodecError(
                    f"opaque {name} schema {schema}: its data does not decode as the "
                    f"registered type {name!r}: {error}"
                ) from error
        return EncodedEvent(name, schema, data)

    def _encoder_for(self, cls: type[Event]) -> _Encoder:
        name, schema = self.registry.type_of(cls)
        unstructure = make_dict_unstructure_fn(
            cls, self._converter, event_id=override(omit=True)
        )
        self._encoders[cls] = (name, schema, unstructure)
        return self._encoders[cls]

    def _decoder_for(self, type_name: str) -> _Decoder:
        cls = self.registry.class_for(type_name)
        # The event id comes from the envelope as a UUID already: take it as it is.
        structure = make_dict_structure_fn(
            cls, self._converter, event_id=override(struct_hook=_as_is)
        )
        schema = self.registry.type_of(cls)[1]
        self._decoders[type_name] = (cls, schema, structure)
        # Sealed and forgetting events are read by the converter's path, which opens the
        # seal and drops a forgotten person's cipher.
        if self._compile and not cls.__personal__ and not cls.__forgets__:
            with contextlib.suppress(_NotCompiledError):
                self._compiled[type_name] = (schema, _compile(cls, self._converter))
        return self._decoders[type_name]

    def compiled(self, type_name: str) -> Callable[[Any, uuid.UUID], Event] | None:
        """Return the compiled decoder of a registered type's current schema, if it has one.

        ``decoder(data, event_id)`` reads the stored JSON text of an event of the type's
        current schema into the event the converter would give, or raises (on anything it
        does not read exactly as the converter does: :meth:`decode` then asks the
        converter). ``None`` when the type's class is left to the converter (a field with
        a validator or a converter, a type msgspec reads otherwise...), when this codec
        was made with ``compiled=False``, or when the type is not registered.
        """
        if type_name not in self._decoders and type_name in self.registry:
            self._decoder_for(type_name)
        found = self._compiled.get(type_name)
        return None if found is None else found[1]

    # -- personal data ------------------------------------------------------------------

    def forget(self, subject: uuid.UUID) -> bool:
        """Delete ``subject``'s key from the key store; return whether there was one.

        From then on their personal fields read as their erased values.
        """
        self._ciphers[subject] = None
        return False if self.keys is None else self.keys.delete(subject)

    def ensure_key(self, subject: uuid.UUID) -> None:
        """Make ``subject``'s key now (before a transaction that will seal with it).

        Raises:
            CodecError: this codec has no key store.

        """
        if self._cipher(subject, create=True) is None:
            raise CodecError("this codec has no key store: nothing can be sealed")

    def _cipher(self, subject: uuid.UUID, *, create: bool) -> AESSIV | None:
        cipher = self._ciphers.get(subject)
        if cipher is not None or (subject in self._ciphers and not create):
            return cipher
        if self.keys is None:
            return None
        key = self.keys.create(subject) if create else self.keys.get(subject)
        cipher = self._ciphers[subject] = None if key is None else AESSIV(key)
        return cipher

    def _seal(self, name: str, event: Event, fields: dict[str, Any]) -> dict[str, Any]:
        """Move the event's personal fields into one sealed field (AES-256-SIV)."""
        cls = type(event)
        subject = getattr(event, cls.__subject__)
        personal = {key: fields.pop(key) for key in cls.__personal__ if key in fields}
        cipher = self._cipher(subject, create=True) if self.keys is not None else None
        if cipher is None:
            raise CodecError(
                f"{name} holds personal data ({', '.join(personal)}): it is written only "
                "sealed, with its person's key from the log's key store"
                + ("" if self.keys is not None else " (this codec has none)")
            )
        # Deterministic (SIV): the same event seals to the same bytes, so a repeated
        # append is recognised as the same event; the event id in the associated data
        # makes two events' equal fields differ.
        sealed = cipher.encrypt(orjson.dumps(personal), _associated(name, event.event_id,
                                                                     subject))
        fields[SEALED] = _SEAL_VERSION + base64.urlsafe_b64encode(sealed).decode()
        return fields

    def _unseal(
        self, name: str, cls: type[Event], fields: dict[str, Any], event_id: uuid.UUID
    ) -> dict[str, Any]:
        """Open the sealed field; with no key (forgotten), the erased values."""
        sealed = fields.pop(SEALED, None)
        subject = _decode_uuid(fields[cls.__subject__])
        if sealed is None:
            self.plaintext.add(subject)  # written before personal data was sealed
            return fields
        if not isinstance(sealed, str) or not sealed.startswith(_SEAL_VERSION):
            raise CodecError(f"{name}: its sealed personal data is not of a known version")
        cipher = self._cipher(subject, create=False)
        if cipher is None:
            fields.update(cls.__personal__)
            return fields
        try:
            opened = cipher.decrypt(base64.urlsafe_b64decode(sealed[len(_SEAL_VERSION):]),
                                    _associated(name, event_id, subject))
        except (InvalidTag, ValueError) as error:
            raise CodecError(f"{name}: its sealed personal data does not open with its "
                             f"person's key ({type(error).__name__})") from error
        fields.update(orjson.loads(opened))
        return fields

    @staticmethod
    def encode_metadata(metadata: Mapping[str, Any] | None) -> str | None:
        """Encode an envelope's metadata; ``None`` for none (stored as NULL).

        Raises:
            CodecError: it is not a JSON object of JSON values.

        """
        if not metadata:
            return None
        if not isinstance(metadata, Mapping) or not all(isinstance(k, str) for k in metadata):
            raise CodecError("metadata must be a mapping with string keys")
        try:
            return dumps(_plain(metadata))
        except (TypeError, orjson.JSONEncodeError) as error:
            raise CodecError(f"metadata cannot be encoded as JSON: {error}") from error


def _associated(name: str, event_id: uuid.UUID, subject: uuid.UUID) -> list[bytes]:
    """Return the associated data a seal is bound to: its type, event and person."""
    return [name.encode(), event_id.bytes, subject.bytes]


def _plain(value: Any) -> Any:
    """Make UUIDs, enums and date-times in metadata JSON-ready."""
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, _dt.datetime):
        return _encode_datetime(value)
    return _encode_float(value) if isinstance(value, float) else value
