"""The compiled decoders read exactly what the converter (the codec of record) reads.

A differential property test over every registered event type (the library's, the
tests' own and the minutes tool's): events drawn from the types' annotations are encoded
by the codec and read back both ways, and the two events must be equal, value for value,
with the same types, zones and folds. Beside it, data that is not what the encoder writes
(other JSON values in the fields, other spacing, the text PostgreSQL gives back): whatever
the compiled decoder accepts, the converter reads as the same event; the rest goes to the
converter, which gives the library's errors.
"""

from __future__ import annotations

import datetime as _dt
import json
import linecache
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

import minutes_tool
from alliance_events import open_log
from alliance_events.codec import Codec, uuid_from_bytes, uuid_from_int
from alliance_events.domain.catalog import library_registry
from alliance_events.errors import CodecError, UndecodableRecordError
from alliance_events.events import Event, EventRegistry
from alliance_events.log.base import RecordDecoder
from alliance_events.log.keys import MemoryKeys

from . import strategies as gen
from .sample_events import TEST_REGISTRY, Noted, Place

REGISTRIES: dict[str, EventRegistry] = {
    "library": library_registry(),
    "tests": TEST_REGISTRY,
    "minutes": minutes_tool.minutes_registry(),
}
ALL_TYPES = [
    (registry_name, type_name)
    for registry_name, registry in REGISTRIES.items()
    for type_name in registry.types
    if registry_name != "minutes" or type_name.startswith("minutes.")
]


def _by_the_converter(registry_name: str, type_name: str) -> bool:
    """Sealed (personal) and forgetting types are read by the converter's path alone."""
    cls = REGISTRIES[registry_name].class_for(type_name)
    return bool(cls.__personal__ or cls.__forgets__)


TYPES = [t for t in ALL_TYPES if not _by_the_converter(*t)]
SEALED_TYPES = [t for t in ALL_TYPES if _by_the_converter(*t)]
KEYS = MemoryKeys()
COMPILED = {name: Codec(registry) for name, registry in REGISTRIES.items()}
CONVERTER = {name: Codec(registry, compiled=False) for name, registry in REGISTRIES.items()}
for _codec in (*COMPILED.values(), *CONVERTER.values()):
    _codec.keys = KEYS  # one key store: what one seals, the other opens

# -- comparing: equal, and the same types, zones and folds ----------------------------------


def assert_same(left: Any, right: Any, where: str = "event") -> None:
    assert type(left) is type(right), f"{where}: {type(left)} != {type(right)}"
    assert left == right, f"{where}: {left!r} != {right!r}"
    if isinstance(left, _dt.datetime):
        assert left.fold == right.fold, where
        assert type(left.tzinfo) is type(right.tzinfo), where
        assert left.utcoffset() == right.utcoffset(), where
        assert getattr(left, "timezone_name", None) == getattr(right, "timezone_name", None)
    elif isinstance(left, pendulum.Duration):
        assert (left.years, left.months) == (right.years, right.months), where
    elif attrs.has(type(left)):
        for field in attrs.fields(type(left)):
            assert_same(getattr(left, field.name), getattr(right, field.name),
                        f"{where}.{field.name}")
    elif isinstance(left, (tuple, list)):
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            assert_same(a, b, f"{where}[{index}]")
    elif isinstance(left, dict):
        for key in left:
            assert_same(left[key], right[key], f"{where}[{key!r}]")


def both_ways(registry_name: str, type_name: str, data: str, event_id: uuid.UUID) -> Event:
    """Read ``data`` both ways; the compiled decoder must take it; return the event."""
    decoder = COMPILED[registry_name].compiled(type_name)
    assert decoder is not None, f"{type_name} is left to the converter"
    schema = REGISTRIES[registry_name].type_of(REGISTRIES[registry_name].class_for(type_name))[1]
    expected = CONVERTER[registry_name].decode(type_name, schema, data, event_id)
    fast = decoder(data, event_id)
    assert_same(fast, expected)
    assert_same(COMPILED[registry_name].decode(type_name, schema, data, event_id), expected)
    return fast


def as_postgres_gives_it(data: str) -> str:
    """The same JSON as PostgreSQL's jsonb gives it back: spaced, keys reordered."""
    value = json.loads(data)
    ordered = dict(sorted(value.items(), key=lambda item: (len(item[0]), item[0])))
    return json.dumps(ordered, ensure_ascii=False)


class TestEqualToTheConverter:
    @pytest.mark.parametrize(("registry_name", "type_name"), TYPES)
    @given(data=st.data())
    def test_every_registered_type(self, registry_name: str, type_name: str,
                                   data: st.DataObject) -> None:
        """Any event of any registered type, encoded by the codec: the compiled decoder
        and the converter give equal events (types, zones and folds included), equal to
        the one encoded; also from the text PostgreSQL gives back."""
        registry = REGISTRIES[registry_name]
        event = data.draw(gen.instances_of(registry.class_for(type_name)))
        encoded = COMPILED[registry_name].encode(event)
        assert_same(both_ways(registry_name, type_name, encoded.data, event.event_id), event)
        both_ways(registry_name, type_name, as_postgres_gives_it(encoded.data), event.event_id)

    def test_every_type_is_compiled(self) -> None:
        """No registered type of the library, the tests or the minutes tool is left to
        the converter (so the property above tests the compiled decoder on each), but
        the sealed and forgetting ones, which the converter's path opens."""
        for registry_name, type_name in TYPES:
            assert COMPILED[registry_name].compiled(type_name) is not None, type_name
        assert {t for _, t in SEALED_TYPES} == {
            "PersonRegistered", "PersonDetailsChanged", "PersonForgotten"}
        for registry_name, type_name in SEALED_TYPES:
            assert COMPILED[registry_name].compiled(type_name) is None, type_name

    @pytest.mark.parametrize(("registry_name", "type_name"), SEALED_TYPES)
    @given(data=st.data())
    def test_sealed_types_round_trip(self, registry_name: str, type_name: str,
                                     data: st.DataObject) -> None:
        """A sealed event reads back equal, and its stored data holds no personal field."""
        event = data.draw(gen.instances_of(REGISTRIES[registry_name].class_for(type_name)))
        encoded = COMPILED[registry_name].encode(event)
        stored = json.loads(encoded.data)
        assert not set(type(event).__personal__) & set(stored)
        schema = type(event).__event_schema__
        for codec in (COMPILED[registry_name], CONVERTER[registry_name]):
            assert_same(codec.decode(type_name, schema, encoded.data, event.event_id), event)

    @given(gen.instances_of(TEST_REGISTRY.class_for("test.Everything")), gen.overlap_datetimes(),
           gen.fixed_offset_datetimes())
    def test_overlaps_and_fixed_offsets(self, event: Event, moment: pendulum.DateTime,
                                        fixed: pendulum.DateTime) -> None:
        """Both 02:30s of a summer-time end keep their fold, a fixed offset stays one."""
        for at, maybe in ((moment, fixed), (fixed, moment)):
            value = attrs.evolve(event, at=at, maybe=maybe)
            encoded = COMPILED["tests"].encode(value)
            assert_same(both_ways("tests", "test.Everything", encoded.data, value.event_id),
                        value)


def field_names(cls: type) -> list[str]:
    return [f.name for f in attrs.fields(cls) if f.name != "event_id"]  # type: ignore[arg-type]


@st.composite
def mangled(draw: st.DrawFn, registry_name: str, type_name: str) -> str:
    """An event's JSON with some fields' values replaced by other JSON values, some
    dropped, some added; or an object made of JSON values only."""
    cls = REGISTRIES[registry_name].class_for(type_name)
    names = field_names(cls)
    if draw(st.booleans()):
        value = json.loads(COMPILED[registry_name].encode(draw(gen.instances_of(cls))).data)
    else:
        value = {}
    for name in draw(st.lists(st.sampled_from([*names, "event_id", "other"]), max_size=3)):
        if draw(st.integers(0, 3)) == 0:
            value.pop(name, None)
        else:
            value[name] = draw(gen.json_values())
    return json.dumps(value)


class TestOtherData:
    @pytest.mark.parametrize(("registry_name", "type_name"), TYPES)
    @given(data=st.data())
    def test_what_it_takes_the_converter_reads_alike(
        self, registry_name: str, type_name: str, data: st.DataObject
    ) -> None:
        """Data the encoder would not write: whatever the compiled decoder takes, the
        converter reads as the same event; and codec.decode gives the converter's event or
        its CodecError."""
        text = data.draw(mangled(registry_name, type_name))
        event_id = uuid.UUID(int=5)
        decoder = COMPILED[registry_name].compiled(type_name)
        assert decoder is not None
        schema = REGISTRIES[registry_name].class_for(type_name).__event_schema__
        try:
            expected: Event | CodecError = CONVERTER[registry_name].decode(
                type_name, schema, text, event_id
            )
        except CodecError as error:
            expected = error
        try:
            fast: Event | None = decoder(text, event_id)
        except Exception:  # noqa: BLE001 - declined: the converter reads it
            fast = None
        if fast is not None:
            assert not isinstance(expected, CodecError), (text, fast, expected)
            assert_same(fast, expected)
        if isinstance(expected, CodecError):
            with pytest.raises(CodecError):
                COMPILED[registry_name].decode(type_name, schema, text, event_id)
        else:
            assert_same(COMPILED[registry_name].decode(type_name, schema, text, event_id),
                        expected)

    @pytest.mark.parametrize(
        "text",
        [
            '{"text": 5}',  # the converter makes it "5"
            '{"text": null}',  # "None"
            '{"text": "x", "event_id": "not a uuid"}',  # the envelope's id wins
            '{"text": "x", "event_id": "00000000-0000-0000-0000-000000000009"}',
            ' {"text": "x"}',
            '{"text": "x"}\n',
            '{\n  "text": "x"\n}',
        ],
    )
    def test_what_it_declines_the_converter_reads(self, text: str) -> None:
        """Text where a string is due, a stored id, spacing: the converter's event."""
        expected = CONVERTER["tests"].decode("test.Noted", 1, text, uuid.UUID(int=1))
        assert_same(COMPILED["tests"].decode("test.Noted", 1, text, uuid.UUID(int=1)), expected)
        assert expected.event_id == uuid.UUID(int=1)

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "{",
            "[]",
            '["text", "x"]',
            'X"text": "x"}',
            "{}",
            '{"txt": "x"}',
            '{"text": "x"} {"text": "y"}',
            '{"text": "\\ud800"}',
            b'{"text": 1e999}',
        ],
    )
    def test_malformed_data_raises_the_codec_error(self, text: str | bytes) -> None:
        """Data that is not the class's raises the codec's error, never msgspec's."""
        with pytest.raises(CodecError) as caught:
            COMPILED["tests"].decode("test.Noted", 1, text, uuid.UUID(int=1))
        assert type(caught.value) is CodecError
        with pytest.raises(CodecError):
            CONVERTER["tests"].decode("test.Noted", 1, text, uuid.UUID(int=1))


class TestThroughTheLog:
    def test_a_malformed_row_names_its_position(self, tmp_path: Path) -> None:
        """A stored row of a known type whose data does not decode: UndecodableRecordError
        naming its position, with the codec's error as its cause."""
        other = EventRegistry()

        @other.register("test.Noted", schema=1)
        @attrs.frozen(kw_only=True)
        class NotedElsewhere(Event):
            note: int

        url = f"sqlite:///{tmp_path / 'log.db'}"
        with open_log(url, registry=TEST_REGISTRY) as log:
            log.append("s", [Noted(event_id=uuid.UUID(int=1), text="n1")], expected_version=0)
        with open_log(url, registry=other) as log:
            log.append("s", [NotedElsewhere(event_id=uuid.UUID(int=2), note=2)],
                       expected_version=1)
        for options in ("", "?verify=off"):
            with open_log(url + options, registry=TEST_REGISTRY) as log:
                records = log.read_all()
                assert next(records).event == Noted(event_id=uuid.UUID(int=1), text="n1")
                with pytest.raises(UndecodableRecordError, match="position 2") as caught:
                    next(records)
            assert type(caught.value.__cause__) is CodecError

    def test_the_row_decoder_declines_to_the_codec(self) -> None:
        """The row decoder's straight call of a compiled decoder falls back as decode does."""
        decoder = RecordDecoder(Codec(TEST_REGISTRY))
        first = decoder(1, "s", 1, uuid.UUID(int=1), "test.Noted", 1, '{"text": "a"}', None, 0)
        assert first.event == Noted(event_id=uuid.UUID(int=1), text="a")
        second = decoder(2, "s", 2, uuid.UUID(int=2), "test.Noted", 1, '{"text": 7}', None, 0)
        assert second.event == Noted(event_id=uuid.UUID(int=2), text="7")
        with pytest.raises(UndecodableRecordError, match="position 3") as caught:
            decoder(3, "s", 3, uuid.UUID(int=3), "test.Noted", 1, '{"other": 7}', None, 0)
        assert type(caught.value.__cause__) is CodecError

    def test_an_older_schema_is_upcast(self) -> None:
        """Data of an older schema goes through its upcasters and the converter."""
        codec = Codec(TEST_REGISTRY)
        codec.decode("test.Renamed", 2, '{"summary": "s", "language": "de"}', uuid.UUID(int=1))
        event = codec.decode("test.Renamed", 1, '{"title": "t"}', uuid.UUID(int=2))
        assert (event.summary, event.language) == ("t", "en")  # type: ignore[attr-defined]
        minutes = Codec(minutes_tool.minutes_registry())
        approved = minutes.decode(
            "minutes.MinutesApproved", 1,
            '{"meeting_id": "00000000-0000-0000-0000-000000000001", "approved_on": '
            '"2023-05-30", "chair": "Ana"}', uuid.UUID(int=3),
        )
        assert (approved.approved_by, approved.corrections) == ("Ana", 0)  # type: ignore[attr-defined]


# -- the log's row decoder: a page of rows at once ----------------------------------------


@st.composite
def stored_rows(draw: st.DrawFn, registry_name: str) -> list[tuple[Any, ...]]:
    """Rows as a log stores them: events of any of the registry's types (sealed ones
    too), data the encoder would not write, a type the registry does not know, metadata
    or none, runs of equal ``recorded_at``; event ids as 16 bytes (one of another length)."""
    registry = REGISTRIES[registry_name]
    names = sorted(registry.types)
    rows = []
    for position in range(1, draw(st.integers(0, 8)) + 1):
        type_name = draw(st.sampled_from([*names, "other.Thing"]))
        event_id = draw(st.uuids())
        if type_name == "other.Thing":
            schema, data = 3, '{"any": "thing"}'
        else:
            cls = registry.class_for(type_name)
            schema = cls.__event_schema__
            if draw(st.integers(0, 4)) == 0 and not (cls.__personal__ or cls.__forgets__):
                data = draw(mangled(registry_name, type_name))
            else:
                event = attrs.evolve(draw(gen.instances_of(cls)), event_id=event_id)
                data = COMPILED[registry_name].encode(event).data
        raw_id = event_id.bytes if draw(st.integers(0, 9)) else event_id.bytes[1:]
        metadata = draw(st.none() | st.just('{"actor": "a"}') | st.just("[1"))
        micros = draw(st.sampled_from([0, 1, 1_700_000_000_123_456]) | st.integers(0, 2**50))
        rows.append((position, "s", position, raw_id, type_name, schema, data, metadata,
                     micros, None))
    return rows


@attrs.frozen
class _Raised:
    message: str
    cause: type


def _read_each(decode: Callable[[], Any]) -> Any:
    try:
        return decode()
    except UndecodableRecordError as error:
        return _Raised(str(error), type(error.__cause__))


class TestRowDecoderPages:
    @pytest.mark.parametrize("registry_name", ["library", "tests"])
    @given(data=st.data())
    def test_records_give_what_each_row_gives(self, registry_name: str,
                                              data: st.DataObject) -> None:
        """RecordDecoder.records over a page gives, record for record, what a call per
        row gives (ids from uuid_from_bytes), and raises the same error at the same row."""
        rows = data.draw(stored_rows(registry_name))
        codecs = [Codec(REGISTRIES[registry_name]) for _ in range(2)]
        for codec in codecs:
            codec.keys = KEYS
        one_by_one, paged = (RecordDecoder(codec) for codec in codecs)
        expected: list[Any] = []
        for row in rows:
            expected.append(_read_each(lambda row=row: one_by_one(  # type: ignore[misc]
                *row[:3], uuid_from_bytes(row[3]), *row[4:9])))
            if isinstance(expected[-1], _Raised):
                break
        got: list[Any] = []
        records = paged.records(rows)
        while len(got) < len(expected):
            got.append(_read_each(lambda: next(records)))
        assert len(got) == len(expected)
        for index, (left, right) in enumerate(zip(got, expected, strict=True)):
            if isinstance(right, _Raised):
                assert left == right
            else:
                for field in right._fields:
                    assert_same(getattr(left, field), getattr(right, field),
                                f"row {index}: {field}")
        if not expected or not isinstance(expected[-1], _Raised):
            assert next(records, None) is None


# -- classes left to the converter -------------------------------------------------------


def _class(name: str, **fields: Any) -> type[Event]:
    return attrs.make_class(  # type: ignore[no-any-return]
        name, fields, bases=(Event,), frozen=True, kw_only=True
    )


@attrs.frozen(kw_only=True)
class _PostInit(Event):
    text: str

    def __attrs_post_init__(self) -> None:
        pass


@attrs.frozen(kw_only=True)
class _Inner:
    number: int = attrs.field(converter=int)


LEFT_TO_THE_CONVERTER: dict[str, Callable[[], type[Event]]] = {
    "validator": lambda: _class("V", text=attrs.field(validator=attrs.validators.min_len(1))),
    "converter": lambda: _class("C", text=attrs.field(converter=str.strip)),
    "post-init": lambda: _PostInit,
    "stdlib datetime": lambda: _class("D", at=attrs.field(type=_dt.datetime)),
    "nested converter": lambda: _class("N", inner=attrs.field(type=_Inner)),
    "abstract mapping": lambda: _class("M", counts=attrs.field(type=Mapping[str, int])),
}


class TestLeftToTheConverter:
    @pytest.mark.parametrize("kind", list(LEFT_TO_THE_CONVERTER))
    def test_classes_msgspec_would_build_otherwise(self, kind: str) -> None:
        """A class whose __init__ does more than store (validators, converters, hooks,
        also in a nested class) or with a type msgspec reads otherwise is not compiled;
        the converter reads it."""
        registry = EventRegistry()
        registry.add(LEFT_TO_THE_CONVERTER[kind](), "test.Left")
        codec = Codec(registry)
        assert codec.compiled("test.Left") is None
        assert codec.compiled("test.Unknown") is None
        assert Codec(TEST_REGISTRY, compiled=False).compiled("test.Noted") is None

    def test_a_union_of_classes_is_read_by_the_converter_s_own_function(self) -> None:
        """A union of attrs classes (no tag in the stored JSON): the converter's function
        for the union tells them apart by their fields, inside the compiled decoder."""
        @attrs.frozen(kw_only=True)
        class Room:
            name: str

        @attrs.frozen(kw_only=True)
        class Online:
            url: str

        registry = EventRegistry()
        cls = _class("Held", where=attrs.field(type=Room | Online | None, default=None),
                     place=attrs.field(type=Place | Online, default=Online(url="u")))
        registry.add(cls, "test.Held")
        compiled, plain = Codec(registry), Codec(registry, compiled=False)
        decoder = compiled.compiled("test.Held")
        assert decoder is not None
        for text in ('{"where": {"name": "M1"}}', '{"where": {"url": "x"}}', '{"where": null}',
                     "{}", '{"place": {"name": "p", "room": 3}}'):
            assert_same(decoder(text, uuid.UUID(int=1)),
                        plain.decode("test.Held", 1, text, uuid.UUID(int=1)))


def test_generated_code_is_in_linecache() -> None:
    """Tracebacks and debuggers show a compiled decoder's code."""
    decoder = Codec(TEST_REGISTRY).compiled("test.Everything")
    assert decoder is not None
    filename = decoder.__code__.co_filename
    assert filename.startswith("<alliance_events decode tests.sample_events.Everything")
    assert "def decode(data, event_id):" in "".join(linecache.getlines(filename))


class TestUuidFromBytes:
    @given(gen.uuids())
    def test_it_gives_what_uuid_gives(self, value: uuid.UUID) -> None:
        """16 bytes: the UUID, as uuid.UUID(bytes=...) makes it."""
        made = uuid_from_bytes(value.bytes)
        assert type(made) is uuid.UUID
        assert made == value
        assert made.int == value.int
        assert str(made) == str(value)

    @given(st.binary(max_size=40).filter(lambda b: len(b) != 16))
    def test_other_lengths_as_before(self, value: bytes) -> None:
        """Any other length: what uuid_from_int made of it before."""
        assert uuid_from_bytes(value) == uuid_from_int(int.from_bytes(value))
