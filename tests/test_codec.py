"""The codec: events to stored JSON and back, exactly, and the refusals."""

from __future__ import annotations

import datetime as _dt
import math
import uuid

import attrs
import orjson
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alliance_events.codec import Codec, EncodedEvent
from alliance_events.errors import CodecError, UnknownEventTypeError
from alliance_events.events import Event, EventRegistry, OpaqueEvent

from . import strategies as gen
from .sample_events import TEST_REGISTRY, Colour, Everything, Noted, Place, Renamed

CODEC = Codec(TEST_REGISTRY)
ID = uuid.UUID(int=7)


def round_trip(event: Event, codec: Codec = CODEC) -> Event:
    encoded = codec.encode(event)
    return codec.decode(encoded.type, encoded.schema, encoded.data, event.event_id)


def assert_same_datetime(before: pendulum.DateTime, after: object) -> None:
    """Equal instants are not enough: the zone, the fold and the wall time must survive."""
    assert type(after) is pendulum.DateTime, type(after)
    assert after == before
    wall = ("year", "month", "day", "hour", "minute", "second", "microsecond")
    assert [getattr(after, f) for f in wall] == [getattr(before, f) for f in wall]
    assert after.fold == before.fold
    assert after.utcoffset() == before.utcoffset()
    if isinstance(before.tzinfo, pendulum.FixedTimezone):
        assert isinstance(after.tzinfo, pendulum.FixedTimezone)
    else:
        assert isinstance(after.tzinfo, pendulum.Timezone)
        assert after.timezone_name == before.timezone_name


def assert_same_value(before: object, after: object) -> None:
    """Compare recursively, with the stricter checks for date-times, dates and durations."""
    if isinstance(before, pendulum.DateTime):
        assert_same_datetime(before, after)
    elif isinstance(before, pendulum.Date):
        assert type(after) is pendulum.Date
        assert after == before
    elif isinstance(before, pendulum.Time):
        assert type(after) is pendulum.Time
        assert after == before
    elif isinstance(before, pendulum.Duration):
        assert type(after) is pendulum.Duration
        assert after == before
        assert (after.years, after.months) == (before.years, before.months)
    elif attrs.has(type(before)):
        assert type(after) is type(before)
        for field in attrs.fields(type(before)):
            assert_same_value(getattr(before, field.name), getattr(after, field.name))
    elif isinstance(before, (tuple, list)):
        assert type(after) is type(before)
        assert len(after) == len(before)
        for one, other in zip(before, after, strict=True):
            assert_same_value(one, other)
    elif isinstance(before, dict):
        assert type(after) is dict
        assert list(after) == list(before)
        for key, value in before.items():
            assert_same_value(value, after[key])
    else:
        assert type(after) is type(before)
        assert after == before


def everything(**changes: object) -> Everything:
    fields: dict[str, object] = {
        "event_id": ID,
        "text": "Plenary",
        "number": 3,
        "ratio": 0.5,
        "flag": True,
        "at": pendulum.datetime(2023, 3, 22, 15, tz="Europe/Vienna"),
        "on": pendulum.date(2023, 5, 30),
        "daily": pendulum.time(15, 0),
        "lasting": pendulum.duration(days=1, hours=2),
        "ref": uuid.UUID(int=1),
        "colour": Colour.GREEN,
        "tags": ("a", "b"),
        "place": Place(name="M-Building", room=7),
    }
    fields.update(changes)
    return Everything(**fields)  # type: ignore[arg-type]


class TestRoundTrip:
    @given(gen.events())
    def test_every_registered_type_round_trips_exactly(self, event):
        """decode(encode(e)) == e, with zones, folds, dates and durations kept exactly."""
        decoded = round_trip(event)
        assert decoded == event
        assert_same_value(event, decoded)

    def test_the_strategies_cover_every_registered_type(self):
        """Every type in TEST_REGISTRY has a strategy (a new type needs one)."""
        covered = {Noted, Everything, Renamed}
        assert set(TEST_REGISTRY) == covered

    @given(gen.datetimes())
    def test_datetime_keeps_zone_fold_and_wall_time(self, moment):
        """A date-time comes back in its zone (or offset), with its fold and wall time."""
        assert_same_datetime(moment, round_trip(everything(at=moment)).at)

    @given(gen.overlap_datetimes())
    def test_the_two_wall_times_of_an_overlap_stay_apart(self, moment):
        """Both occurrences of a repeated wall time decode to the instant they were."""
        decoded = round_trip(everything(at=moment)).at
        assert decoded.fold == moment.fold
        assert decoded.timestamp() == moment.timestamp()

    @given(gen.dates())
    def test_dates_stay_pendulum_dates(self, day):
        """A date decodes to a pendulum.Date (not a date-time, not datetime.date)."""
        decoded = round_trip(everything(on=day)).on
        assert type(decoded) is pendulum.Date
        assert decoded == day

    @given(gen.durations())
    def test_durations_keep_years_and_months(self, duration):
        """A duration keeps its years and months (not folded into 365 and 30 days)."""
        decoded = round_trip(everything(lasting=duration)).lasting
        assert type(decoded) is pendulum.Duration
        assert decoded == duration
        assert (decoded.years, decoded.months) == (duration.years, duration.months)

    def test_optional_datetime_none_and_set(self):
        """An optional date-time round trips as None and as a zoned value."""
        assert round_trip(everything(maybe=None)).maybe is None
        later = pendulum.datetime(2023, 10, 29, 2, 30, tz="Europe/Vienna").replace(fold=1)
        assert_same_datetime(later, round_trip(everything(maybe=later)).maybe)

    def test_stdlib_zoneinfo_datetime_decodes_to_pendulum_in_same_zone(self):
        """A datetime with a zoneinfo zone is stored with its key and read as pendulum."""
        import zoneinfo

        moment = _dt.datetime(2023, 3, 22, 15, tzinfo=zoneinfo.ZoneInfo("Europe/Vienna"))
        decoded = round_trip(everything(at=moment)).at
        assert type(decoded) is pendulum.DateTime
        assert decoded.timezone_name == "Europe/Vienna"
        assert decoded == moment

    def test_stored_json_format(self):
        """The stored JSON is the documented format (RFC 9557 zones, ISO 8601 durations)."""
        encoded = CODEC.encode(
            everything(lasting=pendulum.duration(years=1, months=2, days=3, hours=4))
        )
        assert encoded.type == "test.Everything"
        assert encoded.schema == 1
        data = orjson.loads(encoded.data)
        assert data["at"] == "2023-03-22T15:00:00+01:00[Europe/Vienna]"
        assert data["on"] == "2023-05-30"
        assert data["daily"] == "15:00:00"
        assert data["lasting"] == "P1Y2M3DT4H"
        assert data["ref"] == "00000000-0000-0000-0000-000000000001"
        assert data["colour"] == "green"
        assert data["place"] == {"name": "M-Building", "room": 7}

    def test_fixed_offset_is_stored_without_a_zone_name(self):
        """A fixed offset is stored as an offset only and read as a FixedTimezone."""
        moment = pendulum.DateTime(2023, 3, 22, 15, tzinfo=pendulum.FixedTimezone(5400))
        encoded = CODEC.encode(everything(at=moment))
        assert orjson.loads(encoded.data)["at"] == "2023-03-22T15:00:00+01:30"
        assert_same_datetime(moment, round_trip(everything(at=moment)).at)

    def test_negative_duration_format(self):
        """A negative exact duration is stored with a leading minus sign."""
        encoded = CODEC.encode(everything(lasting=-pendulum.duration(days=1, hours=2)))
        assert orjson.loads(encoded.data)["lasting"] == "-P1DT2H"

    def test_event_id_is_not_in_the_data(self):
        """The id travels in the envelope: the data has none, decode takes the given one."""
        encoded = CODEC.encode(Noted(event_id=ID, text="x"))
        assert orjson.loads(encoded.data) == {"text": "x"}
        other = uuid.UUID(int=99)
        assert CODEC.decode(encoded.type, encoded.schema, encoded.data, other).event_id == other

    def test_decode_accepts_bytes(self):
        """Stored data may be UTF-8 bytes as well as text."""
        encoded = CODEC.encode(Noted(event_id=ID, text="ß"))
        decoded = CODEC.decode(encoded.type, encoded.schema, encoded.data.encode(), ID)
        assert decoded == Noted(event_id=ID, text="ß")

    def test_types_registered_after_the_codec_was_made_are_used(self):
        """A codec picks up a type registered in its registry after it was built."""
        registry = EventRegistry()
        codec = Codec(registry)

        @registry.register("late.Arrived")
        @attrs.frozen(kw_only=True)
        class Arrived(Event):
            who: str

        assert round_trip(Arrived(event_id=ID, who="x"), codec) == Arrived(event_id=ID, who="x")


class TestRefusals:
    @pytest.mark.parametrize(
        "naive",
        [
            pendulum.naive(2023, 3, 22, 15),
            _dt.datetime(2023, 3, 22, 15),  # noqa: DTZ001 - the naive value under test
        ],
    )
    def test_naive_datetime_is_refused(self, naive):
        """A date-time without a zone cannot be encoded."""
        with pytest.raises(CodecError, match="naive"):
            CODEC.encode(everything(at=naive))

    def test_naive_datetime_in_optional_field_is_refused(self):
        """A naive date-time is refused in an optional field too."""
        with pytest.raises(CodecError, match="naive"):
            CODEC.encode(everything(maybe=pendulum.naive(2023, 3, 22)))

    @pytest.mark.parametrize("value", [math.inf, -math.inf, math.nan])
    def test_non_finite_float_is_refused(self, value):
        """inf and NaN have no JSON form: refused when encoding, not stored unreadable."""
        with pytest.raises(CodecError, match="finite"):
            CODEC.encode(everything(ratio=value))

    @pytest.mark.parametrize("number", [2**64, -(2**63) - 1])
    def test_integer_beyond_64_bits_is_refused(self, number):
        """An integer JSON cannot carry exactly is refused when encoding."""
        with pytest.raises(CodecError):
            CODEC.encode(everything(number=number))

    @pytest.mark.parametrize(
        "duration",
        [
            pendulum.duration(years=1, days=-3),
            pendulum.duration(months=2, hours=-1),
            pendulum.duration(years=-1),
            pendulum.duration(years=-1, days=400),
        ],
    )
    def test_duration_with_calendar_units_and_negative_parts_is_refused(self, duration):
        """Years or months with a negative part have no ISO 8601 form: refused on encode."""
        with pytest.raises(CodecError):
            CODEC.encode(everything(lasting=duration))

    def test_surrogate_in_text_is_refused(self):
        """A lone surrogate is not Unicode text: refused when encoding."""
        with pytest.raises(CodecError):
            CODEC.encode(Noted(event_id=ID, text="\ud800"))

    def test_unregistered_class_is_refused(self):
        """Encoding an event whose class is not registered raises UnknownEventTypeError."""

        @attrs.frozen(kw_only=True)
        class Stray(Event):
            text: str

        with pytest.raises(UnknownEventTypeError):
            CODEC.encode(Stray(event_id=ID, text="x"))

    def test_unregistered_subclass_of_registered_class_is_refused(self):
        """A subclass does not inherit its parent's registration."""

        @attrs.frozen(kw_only=True)
        class MoreNoted(Noted):
            extra: int = 0

        with pytest.raises(UnknownEventTypeError):
            CODEC.encode(MoreNoted(event_id=ID, text="x"))

    def test_unknown_type_name_decodes_to_an_opaque_event(self):
        """A type name the registry lacks decodes to an OpaqueEvent holding it as stored."""
        data = '{"text": "x",  "more": [1, 2.50]}'
        event = CODEC.decode("test.Vanished", 3, data, ID)
        assert event == OpaqueEvent(event_id=ID, type_name="test.Vanished", schema=3, data=data)
        assert CODEC.decode("test.Vanished", 3, data.encode(), ID) == event

    @pytest.mark.parametrize(
        "data",
        ['{"txt": "x"}', "{}", '{"text": ', "[1]", "null", '{"text": "x"'],
    )
    def test_data_that_does_not_fit_is_a_codec_error(self, data):
        """Stored data that is not JSON or lacks a field raises CodecError."""
        with pytest.raises(CodecError):
            CODEC.decode("test.Noted", 1, data, ID)

    @pytest.mark.parametrize(
        ("field", "text"),
        [
            ("at", "2023-03-22T15:00:00"),
            ("at", "yesterday"),
            ("lasting", "P"),
            ("lasting", "PT"),
            ("lasting", "1 day"),
            ("daily", "15:00:00+01:00"),
            ("on", "2023-02-30"),
        ],
    )
    def test_malformed_time_values_are_codec_errors(self, field, text):
        """Stored time values that are not in the codec's formats raise CodecError."""
        data = orjson.loads(CODEC.encode(everything()).data)
        data[field] = text
        with pytest.raises(CodecError):
            CODEC.decode("test.Everything", 1, orjson.dumps(data), ID)


class TestUpcasting:
    def test_schema_1_data_is_upcast_on_decode(self):
        """Renamed data stored as schema 1 (``title``) decodes with summary and language."""
        decoded = CODEC.decode("test.Renamed", 1, '{"title": "Budget"}', ID)
        assert decoded == Renamed(event_id=ID, summary="Budget", language="en")

    def test_current_schema_is_not_upcast(self):
        """Data at the class's schema decodes as it is."""
        data = '{"summary": "Budget", "language": "fr"}'
        assert CODEC.decode("test.Renamed", 2, data, ID) == Renamed(
            event_id=ID, summary="Budget", language="fr"
        )

    def test_newer_schema_than_the_class_is_refused(self):
        """Data written by newer code (schema 3 for a schema 2 class) is refused."""
        with pytest.raises(CodecError, match="newer"):
            CODEC.decode("test.Renamed", 3, '{"summary": "x", "language": "en"}', ID)

    def test_upcasters_chain_across_schemas(self):
        """Schema 1 data of a schema 3 class goes through the 1->2 and 2->3 upcasters."""
        registry = EventRegistry()

        @registry.register("chain.Moved", schema=3)
        @attrs.frozen(kw_only=True)
        class Moved(Event):
            room: str
            floor: int

        @registry.upcaster("chain.Moved", from_schema=1)
        def _one(data):
            return {"room": data["where"]}

        @registry.upcaster("chain.Moved", from_schema=2)
        def _two(data):
            return {**data, "floor": 0}

        codec = Codec(registry)
        assert codec.decode("chain.Moved", 1, '{"where": "M1"}', ID) == Moved(
            event_id=ID, room="M1", floor=0
        )
        assert codec.decode("chain.Moved", 2, '{"room": "M2"}', ID) == Moved(
            event_id=ID, room="M2", floor=0
        )

    def test_missing_upcaster_is_refused(self):
        """A gap in the upcaster chain (no 2->3) raises CodecError naming the step."""
        registry = EventRegistry()

        @registry.register("chain.Gap", schema=3)
        @attrs.frozen(kw_only=True)
        class Gap(Event):
            room: str

        registry.upcaster("chain.Gap", from_schema=1)(lambda data: data)
        with pytest.raises(CodecError, match="schema 2 to 3"):
            Codec(registry).decode("chain.Gap", 1, '{"room": "x"}', ID)

    def test_upcaster_that_fails_is_a_codec_error(self):
        """An upcaster that cannot handle the stored data gives a CodecError, not a KeyError."""
        with pytest.raises(CodecError, match="KeyError"):
            CODEC.decode("test.Renamed", 1, '{"name": "no title here"}', ID)


class TestMetadata:
    def test_empty_metadata_is_none(self):
        """No metadata (None or empty) is stored as NULL."""
        assert Codec.encode_metadata(None) is None
        assert Codec.encode_metadata({}) is None

    def test_uuids_enums_and_datetimes_become_text(self):
        """UUIDs, enums and date-times in metadata are made JSON-ready."""
        moment = pendulum.datetime(2023, 3, 22, 15, tz="Europe/Vienna")
        text = Codec.encode_metadata(
            {"actor": uuid.UUID(int=1), "nested": [{"colour": Colour.RED, "at": moment}]}
        )
        assert text is not None
        assert orjson.loads(text) == {
            "actor": "00000000-0000-0000-0000-000000000001",
            "nested": [{"colour": "red", "at": "2023-03-22T15:00:00+01:00[Europe/Vienna]"}],
        }

    @pytest.mark.parametrize(
        "bad", [{1: "x"}, [("a", 1)], {"a": object()}, {"a": [math.inf]}, {"a": math.nan}]
    )
    def test_non_json_metadata_is_refused(self, bad):
        """Metadata must be a JSON object with text keys."""
        with pytest.raises(CodecError):
            Codec.encode_metadata(bad)

    @given(gen.metadata())
    def test_json_metadata_round_trips(self, value):
        """Any JSON object of JSON values survives encoding unchanged."""
        text = Codec.encode_metadata(value)
        assert (orjson.loads(text) if text else {}) == value


class TestEncodedEvent:
    @given(st.sampled_from([Noted(event_id=ID, text="x"), everything()]))
    def test_encoded_event_carries_type_and_schema(self, event):
        """encode returns the registered type name and schema with the JSON text."""
        encoded = CODEC.encode(event)
        assert isinstance(encoded, EncodedEvent)
        assert (encoded.type, encoded.schema) == TEST_REGISTRY.type_of(type(event))
        assert isinstance(encoded.data, str)
