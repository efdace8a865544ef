"""A projection's state as bytes and back, for the snapshots kept beside the log.

The format is this module's own, not pickle: loading a snapshot builds only the state's
classes, from plain values (MessagePack through msgspec: lists, integers, text, bytes),
and never runs code named by the data. A snapshot is data in the user's own database,
but one that a bug or a hand wrote wrongly can at worst give a state that a rebuild
would also catch (the snapshot is then ignored: see the runner), never run anything. It
is also faster than pickle, which spent most of its 5.3 s on a 1,000,000-event state in
Python-level ``__setstate__`` and ``__reduce__`` calls (UUIDs, attrs classes, pendulum's
date-times).

How it is laid out:

* every UUID, date-time, date and duration of the state is written once, in a table of
  its kind, and referred to by its index (index 0 is None): a person's id that 40
  nominations hold is one UUID again after loading, as it is in a fresh fold (which
  interns them), and the date-times keep their zone (by name, or a fixed offset);
* an attrs class is a list of its fields' values in field order; a union of attrs
  classes (``Timed | AllDay``) is ``[index of the class, its fields]``; tuples, lists
  and dicts are lists (a dict: ``[key, value, key, value...]``); enums are their value;
* fields derived from others (a meeting's ``nomination_index``) are not written: they are
  derived again on load;
* values of the classes named ``shared`` (immutable ones that recur: a meeting's
  attendees) are one object per equal row on load, as a fold shares them.

The code that reads and writes each class is generated once from the class's fields and
their annotations (as :func:`alliance_events._speed.replace` is): a field added to a state
class is written without any change here, and a field of a type this module does not know
is refused when the codec is built (the test suite builds it). The codec's
:attr:`StateCodec.fingerprint` hashes the classes' fields and types, so a snapshot written
before a state class changed is not read into the new one (it is ignored, as one of
another projection version is).
"""

from __future__ import annotations

import datetime as _dt
import enum
import hashlib
import linecache
import threading
import types
import typing
import uuid
from collections.abc import Callable, Collection, Mapping
from typing import Any, Final, Generic, TypeVar

import attrs
import msgspec
import pendulum

from alliance_events._speed import slot_setters

__all__ = ["SnapshotFormatError", "StateCodec"]

S = TypeVar("S")

_FORMAT: Final = 1  # bump when the layout below changes
_DATETIME_STATE: Final = _dt.datetime.__reduce__
_TD_DAYS: Final = _dt.timedelta.days.__get__
_TD_SECONDS: Final = _dt.timedelta.seconds.__get__
_TD_MICROS: Final = _dt.timedelta.microseconds.__get__

Derived = Callable[[Any], Any]
"""Computes a derived field's value from its (otherwise complete) instance."""


class SnapshotFormatError(ValueError):
    """The bytes are not a snapshot this codec wrote (another format or fingerprint)."""


class _Tables:
    """The shared values of one encoding: UUIDs, date-times, dates, durations, zones."""

    def __init__(self) -> None:
        self.uuids: list[uuid.UUID | None] = [None]
        self.uuid_index: dict[int, int] = {}  # by the UUID's int: UUID.__hash__ is Python
        self.datetimes: list[Any] = [None]
        self.datetime_index: dict[tuple[Any, int], int] = {}
        self.zones: list[str] = []
        self.zone_index: dict[Any, int] = {}
        self.dates: list[int | None] = [None]
        self.date_index: dict[int, int] = {}
        self.durations: list[Any] = [None]
        self.duration_index: dict[int, int] = {}
        self._keep: list[object] = []  # durations indexed by id(): kept alive meanwhile

    def uuid(self, value: uuid.UUID | None) -> int:
        if value is None:
            return 0
        if type(value) is not uuid.UUID:
            raise TypeError(f"a UUID field holds {type(value).__name__}")
        key = value.int
        index = self.uuid_index.get(key)
        if index is None:
            index = self.uuid_index[key] = len(self.uuids)
            self.uuids.append(value)
        return index

    def zone(self, tz: Any) -> int:
        index = self.zone_index.get(tz)
        if index is None:
            if type(tz) is pendulum.Timezone:
                text = f"n:{tz.name}"
            elif type(tz) is pendulum.FixedTimezone:
                text = f"f:{tz.offset}:{tz.name}"
            else:
                raise TypeError(f"a date-time's zone is {type(tz).__name__}, not pendulum's")
            index = self.zone_index[tz] = len(self.zones)
            self.zones.append(text)
        return index

    def datetime(self, value: pendulum.DateTime | None) -> int:
        if value is None:
            return 0
        if type(value) is not pendulum.DateTime:
            raise TypeError(f"a date-time field holds {type(value).__name__}")
        state = _DATETIME_STATE(value)[1]
        key = (state[0], self.zone(state[1]))
        index = self.datetime_index.get(key)
        if index is None:
            index = self.datetime_index[key] = len(self.datetimes)
            self.datetimes.append(key)
        return index

    def date(self, value: pendulum.Date | None) -> int:
        if value is None:
            return 0
        if type(value) is not pendulum.Date:
            raise TypeError(f"a date field holds {type(value).__name__}")
        ordinal = value.toordinal()
        index = self.date_index.get(ordinal)
        if index is None:
            index = self.date_index[ordinal] = len(self.dates)
            self.dates.append(ordinal)
        return index

    def duration(self, value: pendulum.Duration | None) -> int:
        if value is None:
            return 0
        if type(value) is not pendulum.Duration:
            raise TypeError(f"a duration field holds {type(value).__name__}")
        index = self.duration_index.get(id(value))
        if index is None:
            self._keep.append(value)
            index = self.duration_index[id(value)] = len(self.durations)
            self.durations.append(
                [_TD_DAYS(value), _TD_SECONDS(value), _TD_MICROS(value), dict(vars(value))]
            )
        return index

    def dump(self) -> list[Any]:
        return [
            msgspec.msgpack.Encoder(uuid_format="bytes").encode(self.uuids[1:]),
            self.zones, self.datetimes[1:], self.dates[1:], self.durations[1:],
        ]


def _load_tables(dumped: list[Any]) -> dict[str, list[Any]]:
    raw_uuids, zones, datetimes, dates, durations = dumped
    tz: list[Any] = []
    for text in zones:
        kind, _, rest = text.partition(":")
        if kind == "n":
            tz.append(pendulum.timezone(rest))
        elif kind == "f":
            offset, _, name = rest.partition(":")
            tz.append(pendulum.FixedTimezone(int(offset), name=name))
        else:
            raise SnapshotFormatError(f"unknown zone {text!r}")
    new_datetime = pendulum.DateTime
    loaded_durations: list[Any] = [None]
    for days, seconds, micros, state in durations:
        value = _dt.timedelta.__new__(pendulum.Duration, days, seconds, micros)
        vars(value).update(state)
        loaded_durations.append(value)
    from_ordinal = pendulum.Date.fromordinal
    return {
        "U": [None, *_UUIDS(raw_uuids)],
        "T": [None, *[new_datetime(state, tz[zone]) for state, zone in datetimes]],  # type: ignore[call-arg]
        "D": [None, *[from_ordinal(ordinal) for ordinal in dates]],
        "P": loaded_durations,
    }


_UUIDS: Final = msgspec.msgpack.Decoder(list[uuid.UUID]).decode


class _Generator:
    """Writes the encode and decode functions of the classes reachable from one root."""

    def __init__(self, derived: Mapping[tuple[type, str], Derived],
                 shared: Collection[type] = ()) -> None:
        self.derived = derived
        self.shared = shared
        self.memos: list[dict[Any, Any]] = []  # of the shared classes: cleared after a load
        self.lines: list[str] = []
        self.names: dict[type, str] = {}
        self.namespace: dict[str, Any] = {
            "new_object": object.__new__, "set_attribute": object.__setattr__, "pairs": _pairs,
        }
        self.signature: list[str] = []
        self._count = 0

    def _name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}{self._count}"

    def value(self, annotation: Any) -> tuple[str, str]:  # noqa: PLR0911 - one case each
        """Return the (encode, decode) expressions of one value (``§`` stands for it)."""
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin in (typing.Union, types.UnionType):
            others = [a for a in args if a is not type(None)]
            if len(others) == 1 and others[0] in _TABLED:
                return self.value(others[0])  # index 0 of each table is None
            if all(a in (str, int, bool, float) for a in others):
                return "§", "§"
            if len(others) == 1:
                encode, decode = self.value(others[0])
                return f"(None if § is None else {encode})", f"(None if § is None else {decode})"
            if all(isinstance(a, type) and attrs.has(a) for a in others):
                return self._union(others)
            raise TypeError(f"no snapshot format for {annotation!r}")
        if annotation in _TABLED:
            table, encoder = _TABLED[annotation]
            return f"{encoder}(§)", f"{table}[§]"
        if annotation in (str, int, bool, float, type(None)):
            return "§", "§"
        if origin in (tuple, list):
            if origin is tuple and args[-1:] != (Ellipsis,):
                raise TypeError(f"no snapshot format for {annotation!r} (a fixed tuple)")
            item = self._name("x")
            encode, decode = self.value(args[0])
            made = f"[{_put(decode, item)} for {item} in §]"
            return (f"[{_put(encode, item)} for {item} in §]",
                    f"tuple({made})" if origin is tuple else made)
        if origin in (dict, Mapping, typing.Mapping):
            key, value = self._name("k"), self._name("v")
            key_encode, key_decode = self.value(args[0])
            value_encode, value_decode = self.value(args[1])
            return (
                f"[z for {key}, {value} in §.items() for z in "
                f"({_put(key_encode, key)}, {_put(value_encode, value)})]",
                f"{{{_put(key_decode, key)}: {_put(value_decode, value)} "
                f"for {key}, {value} in pairs(§)}}",
            )
        if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            members = self._name("members")
            self.namespace[members] = {m.value: m for m in annotation} | {None: None}
            self.signature.append(f"{annotation.__qualname__}={[m.value for m in annotation]}")
            return "(None if § is None else §.value)", f"{members}[§]"
        if isinstance(annotation, type) and (attrs.has(annotation) or _is_named_tuple(annotation)):
            name = self.cls(annotation)
            return f"encode_{name}(§)", f"decode_{name}(§)"
        raise TypeError(f"no snapshot format for {annotation!r}")

    def _union(self, classes: list[type]) -> tuple[str, str]:
        names = [self.cls(c) for c in classes]
        union = self._name("union")
        self.namespace[f"{union}_tags"] = {c: i for i, c in enumerate(classes)}
        self.namespace[f"{union}_encoders"] = [self.namespace[f"encode_{n}"] for n in names]
        self.namespace[f"{union}_decoders"] = [self.namespace[f"decode_{n}"] for n in names]
        self.lines += [
            f"def encode_{union}(value):",
            "    if value is None:",
            "        return None",
            f"    tag = {union}_tags[type(value)]",
            f"    return [tag, {union}_encoders[tag](value)]",
            f"def decode_{union}(row):",
            f"    return None if row is None else {union}_decoders[row[0]](row[1])",
        ]
        self._compile()
        return f"encode_{union}(§)", f"decode_{union}(§)"

    def cls(self, cls: type) -> str:
        """Generate the functions of ``cls`` (once); return the name they end with."""
        known = self.names.get(cls)
        if known is not None:
            return known
        name = self.names[cls] = f"{cls.__name__}{len(self.names)}"
        self.namespace[name] = cls
        hints = typing.get_type_hints(cls)
        if _is_named_tuple(cls):
            fields = [(field, hints[field]) for field in getattr(cls, "_fields", ())]
        else:
            for hook in ("__attrs_post_init__", "__attrs_pre_init__", "__attrs_init__"):
                if hasattr(cls, hook):
                    raise TypeError(f"{cls.__qualname__} has {hook}: no snapshot format")
            fields = [(f.name, hints[f.name]) for f in attrs.fields(cls)]
        self.signature.append(f"{cls.__module__}.{cls.__qualname__}:" + ",".join(
            f"{field}={annotation!r}" for field, annotation in fields
        ))
        plans: list[tuple[str, str, str | None]] = []
        for index, (field, annotation) in enumerate(fields):
            derive = self.derived.get((cls, field))
            if derive is not None:
                self.namespace[f"derive_{name}_{field}"] = derive
                plans.append((field, "None", None))
                continue
            encode, decode = self.value(annotation)
            plans.append((field, _put(encode, f"value.{field}"), _put(decode, f"r{index}")))
        self.lines.append(f"def encode_{name}(value):")
        self.lines.append("    return [" + ", ".join(p[1] for p in plans) + "]")
        self.lines.append(f"def decode_{name}(row):")
        if plans:  # the row unpacked at once (a row of another length: damaged data)
            self.lines.append("    " + "".join(f"r{i}, " for i in range(len(plans))) + "= row")
        if cls in self.shared:  # one object per equal row (of scalars: table indices, text)
            memo: dict[Any, Any] = {}
            self.memos.append(memo)
            self.namespace[f"memo_{name}"] = memo
            key = "(" + "".join(f"r{i}, " for i in range(len(plans))) + ")"
            self.lines += [f"    found = memo_{name}.get({key})",
                           "    if found is not None:",
                           "        return found"]
            self.lines.append(f"    found = memo_{name}[{key}] = decode_{name}_new(row)")
            self.lines.append("    return found")
            self.lines.append(f"def decode_{name}_new(row):")
            self.lines.append("    " + "".join(f"r{i}, " for i in range(len(plans))) + "= row")
        if _is_named_tuple(cls):
            self.lines.append(f"    return {name}(" + ", ".join(str(p[2]) for p in plans) + ")")
        else:
            # Each field set through its slot's own setter (alliance_events._speed's
            # slot_setters): half a million nominations load in ~60% of the time that
            # object.__setattr__ by name took.
            setters = slot_setters(cls, [field for field, _, _ in plans])
            for field, setter in setters.items():
                self.namespace[f"set_{name}_{field}"] = setter

            def put(field: str, value: str) -> str:
                if field in setters:
                    return f"    set_{name}_{field}(new, {value})"
                return f"    set_attribute(new, {field!r}, {value})"

            self.lines.append(f"    new = new_object({name})")
            self.lines += [put(field, decode) for field, _, decode in plans if decode is not None]
            self.lines += [put(field, f"derive_{name}_{field}(new)")
                           for field, _, decode in plans if decode is None]
            self.lines.append("    return new")
        self._compile()
        return name

    def _compile(self) -> None:
        source = "\n".join(self.lines) + "\n"
        self.lines = []
        filename = f"<alliance_events snapshot codec {self._name('part')}>"
        linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
        exec(compile(source, filename, "exec"), self.namespace)  # noqa: S102 - from the fields


_TABLED: Final[dict[Any, tuple[str, str]]] = {
    uuid.UUID: ("U", "uuid_of"),
    pendulum.DateTime: ("T", "datetime_of"),
    pendulum.Date: ("D", "date_of"),
    pendulum.Duration: ("P", "duration_of"),
}
"""The values kept in tables: (the table's name in the decoder, the encoder's function)."""


def _put(template: str, expression: str) -> str:
    """Put ``expression`` where ``template`` has ``§`` (a value's place)."""
    return template.replace("§", expression)


def _pairs(flat: list[Any]) -> Any:
    iterator = iter(flat)
    return zip(iterator, iterator, strict=True)


def _is_named_tuple(cls: type) -> bool:
    return issubclass(cls, tuple) and hasattr(cls, "_fields")


class StateCodec(Generic[S]):
    """Writes a state of one root class to bytes and reads it back (see the module).

    Args:
        root: the state's class (an attrs class).
        derived: fields not written but computed on load, ``(class, field) -> function``
            given the instance with its other fields set.
        shared: immutable classes whose equal values are one object after a load (each
            decoded once per distinct row of scalars in one snapshot).

    Raises:
        TypeError: a field (of the root or of a class it holds) has a type with no
            format here.

    """

    def __init__(self, root: type[S], *, derived: Mapping[tuple[type, str], Derived] | None = None,
                 shared: Collection[type] = ()) -> None:
        generator = _Generator(derived or {}, shared)
        self._memos = generator.memos
        name = generator.cls(root)
        self._encode: Callable[[S], Any] = generator.namespace[f"encode_{name}"]
        self._decode: Callable[[Any], S] = generator.namespace[f"decode_{name}"]
        self._namespace = generator.namespace
        self._lock = threading.Lock()  # the tables are the generated code's globals
        self.fingerprint: str = hashlib.sha256(
            f"{_FORMAT}\n".encode() + "\n".join(sorted(generator.signature)).encode()
        ).hexdigest()[:16]
        """Changes when a state class's fields or types (or this format) change."""

    def encode(self, state: S) -> bytes:
        """Return ``state`` as bytes.

        Raises:
            TypeError: a value is not of its field's type (a naive date-time, say).
            OverflowError: an integer beyond 64 bits.

        """
        tables = _Tables()
        with self._lock:
            namespace = self._namespace
            namespace.update(uuid_of=tables.uuid, datetime_of=tables.datetime,
                             date_of=tables.date, duration_of=tables.duration)
            try:
                body = self._encode(state)
            finally:
                namespace.update(uuid_of=None, datetime_of=None, date_of=None, duration_of=None)
        return msgspec.msgpack.encode([_FORMAT, self.fingerprint, tables.dump(), body])

    def decode(self, data: bytes) -> S:
        """Return the state ``data`` holds.

        Raises:
            SnapshotFormatError: not this codec's format or fingerprint.
            Exception: damaged data (any error of reading it: the caller ignores the
                snapshot).

        """
        snapshot_format, fingerprint, dumped, body = msgspec.msgpack.decode(data)
        if snapshot_format != _FORMAT or fingerprint != self.fingerprint:
            raise SnapshotFormatError(
                f"a snapshot of format {snapshot_format} / {fingerprint}, this code reads "
                f"{_FORMAT} / {self.fingerprint}"
            )
        tables = _load_tables(dumped)
        with self._lock:
            namespace = self._namespace
            namespace.update(tables)
            try:
                return self._decode(body)
            finally:
                namespace.update(dict.fromkeys(tables))
                for memo in self._memos:  # keyed by this snapshot's table indices
                    memo.clear()
