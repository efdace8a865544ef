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
"""

from __future__ import annotations

import datetime as _dt
import math
import re
import uuid
from collections.abc import Callable, Mapping
from enum import Enum
from typing import Any

import attrs
import cattrs
import orjson
import pendulum
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from alliance_events.errors import CodecError, UnknownEventTypeError
from alliance_events.events import TYPE_NAME, Event, EventRegistry, OpaqueEvent
from alliance_events.events import registry as default_registry

__all__ = [
    "Codec",
    "EncodedEvent",
    "dumps",
    "loads",
    "make_converter",
    "uuid_from_int",
]

_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS


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

    Events repeat their values: every event of a meeting carries the meeting's id, and
    its times and dates come back in reschedules and registrations. The values are
    immutable (UUIDs, pendulum date-times and dates), so sharing them is safe. The memo
    is bounded: when full it starts again (cheaper than an LRU, and as good for the
    locality of a replay).
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


_datetimes = _Memo()
_dates = _Memo()
_uuids = _Memo()


def _decode_datetime(text: str, _: object = None) -> pendulum.DateTime:
    known: pendulum.DateTime | None = _datetimes.get(text)
    if known is None:
        known = _datetimes.remember(text, _parse_datetime(text))
    return known


def _parse_datetime(text: str) -> pendulum.DateTime:
    bracket = text.find("[")
    if bracket < 0:
        parsed = _dt.datetime.fromisoformat(text)
        offset = parsed.utcoffset()
        if offset is None:
            raise CodecError(f"date-time {text!r} has no offset and no zone")
        return pendulum.DateTime(
            parsed.year, parsed.month, parsed.day, parsed.hour, parsed.minute,
            parsed.second, parsed.microsecond,
            tzinfo=pendulum.FixedTimezone(int(offset.total_seconds())),
        )
    parsed = _dt.datetime.fromisoformat(text[:bracket])
    zone = _zones.get(text[bracket + 1 : -1]) or _zone(text[bracket + 1 : -1])
    result = pendulum.DateTime(
        parsed.year, parsed.month, parsed.day, parsed.hour, parsed.minute,
        parsed.second, parsed.microsecond, tzinfo=zone,
    )
    # The stored offset tells which of the two wall times of a summer-time overlap it is.
    offset = parsed.utcoffset()
    if zone.utcoffset(result) != offset:
        later = result.replace(fold=1)
        if later.utcoffset() == offset:
            return later
    return result


def _decode_date(text: str, _: object = None) -> pendulum.Date:
    known: pendulum.Date | None = _dates.get(text)
    if known is None:
        parsed = _dt.date.fromisoformat(text)
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


_MAX_SCHEMA = 2**31 - 1  # what every backend stores (PostgreSQL: integer)
_Encoder = tuple[str, int, Callable[[Any], dict[str, Any]]]
_Decoder = tuple[type[Event], int, Callable[[Mapping[str, Any], Any], Event]]


class Codec:
    """Encodes events into :class:`EncodedEvent` and decodes stored data into events.

    One codec serves one :class:`~alliance_events.events.EventRegistry`; types registered
    after the codec was made are picked up on first use. A stored type name the registry
    does not know decodes to an :class:`~alliance_events.events.OpaqueEvent`, which
    encodes back to the very same type name, schema and data.
    """

    def __init__(self, registry: EventRegistry | None = None) -> None:
        self.registry = default_registry if registry is None else registry
        self._converter = make_converter()
        self._encoders: dict[type[Event], _Encoder] = {}
        self._decoders: dict[str, _Decoder] = {}

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
            data = dumps(unstructure(event))
        except CodecError as error:
            raise CodecError(f"{name}: {error}") from error
        except (TypeError, ValueError, orjson.JSONEncodeError) as error:
            raise CodecError(f"{name} cannot be encoded: {error}") from error
        return EncodedEvent(name, schema, data)

    def decode(self, type_name: str, schema: int, data: str | bytes, event_id: uuid.UUID) -> Event:
        """Decode stored data into the registered class, upcasting older schemas first.

        A type name the registry does not know gives an
        :class:`~alliance_events.events.OpaqueEvent` holding the name, schema and data as
        they are: reading never fails on another tool's type.

        Raises:
            CodecError: the type is known but the data does not fit the class (after
                upcasting), or is of a schema newer than the class's.

        """
        decoder = self._decoders.get(type_name)
        if decoder is None:
            if type_name not in self.registry:
                text = data if isinstance(data, str) else bytes(data).decode()
                return OpaqueEvent(event_id=event_id, type_name=type_name, schema=schema,
                                   data=text)
            decoder = self._decoder_for(type_name)
        cls, current, structure = decoder
        try:
            fields = loads(data)
            if schema != current:
                fields = self.registry.upcast(type_name, schema, fields)
            fields["event_id"] = event_id
            return structure(fields, cls)
        except (CodecError, UnknownEventTypeError):
            raise
        except Exception as error:
            raise CodecError(f"{type(error).__name__}: {error}") from error

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
        self._decoders[type_name] = (cls, self.registry.type_of(cls)[1], structure)
        return self._decoders[type_name]

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
