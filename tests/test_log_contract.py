"""The event log's contract: one suite, run against every backend (memory, SQLite, PostgreSQL).

Every test taking the ``log``, ``open_test_log`` or ``backend`` fixture runs once per
backend. Tests that reopen a store (another registry, another handle) skip the memory
backend, whose every handle is a separate log.
"""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import attrs
import pendulum
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from alliance_events import (
    ANY,
    Codec,
    CodecError,
    ConcurrencyError,
    DuplicateEventError,
    EncodedEvent,
    Event,
    EventDefinitionError,
    EventLog,
    EventRegistry,
    InvalidAppendError,
    InvalidStreamNameError,
    LogClosedError,
    OpaqueEvent,
    Recorded,
    UndecodableRecordError,
    UnknownEventTypeError,
    UnsupportedURLError,
    open_log,
)
from alliance_events.errors import ReadOnlyStorageError
from alliance_events.log import memory as memory_module
from alliance_events.log import verify
from alliance_events.log.base import DEFAULT_PAGE_SIZE, MAX_STREAM_LENGTH
from alliance_events.log.memory import MemoryLog
from alliance_events.log.sqlite import SQLiteLog
from alliance_events.testing import FixedClock

from . import strategies as gen
from .helpers import postgres_dsn
from .sample_events import TEST_REGISTRY, Colour, Everything, Noted, Place, Renamed

START = pendulum.datetime(2023, 3, 22, 14, 30, 15, 123456, tz="UTC")
SMALL_PAGE = 3


def noted(number: int, text: str | None = None) -> Noted:
    return Noted(event_id=uuid.UUID(int=number), text=f"note {number}" if text is None else text)


def everything(number: int, **changes: object) -> Everything:
    fields: dict[str, object] = {
        "event_id": uuid.UUID(int=number),
        "text": "Plenary",
        "number": number,
        "ratio": 0.25,
        "flag": False,
        "at": pendulum.datetime(2023, 10, 29, 2, 30, tz="Europe/Vienna").replace(fold=1),
        "on": pendulum.date(2023, 5, 30),
        "daily": pendulum.time(9, 30),
        "lasting": pendulum.duration(months=1, days=2),
        "ref": uuid.UUID(int=1000 + number),
        "colour": Colour.RED,
        "tags": ("x",),
        "place": Place(name="Board room", room=3),
    }
    fields.update(changes)
    return Everything(**fields)  # type: ignore[arg-type]


def skip_memory(backend: str) -> None:
    if backend == "memory":
        pytest.skip("every memory handle is a separate log: nothing to reopen")


def events_of(records: list[Recorded]) -> list[Event]:
    return [record.event for record in records]


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
def clocked_log(open_test_log: Callable[..., EventLog], clock: FixedClock) -> EventLog:
    """A log of each backend whose recorded_at comes from ``clock``."""
    return open_test_log(clock=clock)


@pytest.fixture
def small_pages(
    backend: str, log_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[EventLog]:
    """A fresh log of each backend that reads SMALL_PAGE records per query."""
    codec = Codec(TEST_REGISTRY)
    if backend == "memory":
        monkeypatch.setattr(memory_module, "DEFAULT_PAGE_SIZE", SMALL_PAGE)
        log: EventLog = MemoryLog(codec=codec)
    elif backend == "sqlite":
        log = SQLiteLog(log_url.removeprefix("sqlite:///"), codec=codec, page_size=SMALL_PAGE)
    else:
        from alliance_events.log.postgres import PostgresLog

        log = PostgresLog(log_url, codec=codec, page_size=SMALL_PAGE)
    with log:
        yield log


def assert_nothing_written(log: EventLog, head: int, **versions: int) -> None:
    assert log.head() == head
    assert [r.position for r in log.read_all()] == list(range(1, head + 1))
    for stream, version in versions.items():
        assert log.stream_version(stream) == version


class TestAppendEnvelopes:
    def test_positions_and_versions_count_from_one(self, log):
        """The first batch of a new log gets positions 1.. and versions 1.."""
        recorded = log.append("s", [noted(1), noted(2), noted(3)], expected_version=0)
        assert [r.position for r in recorded] == [1, 2, 3]
        assert [r.version for r in recorded] == [1, 2, 3]

    def test_versions_are_per_stream_and_positions_global(self, log):
        """Interleaved streams each count versions from 1; positions count across all."""
        a1 = log.append("a", [noted(1)], expected_version=0)
        b1 = log.append("b", [noted(2), noted(3)], expected_version=0)
        a2 = log.append("a", [noted(4)], expected_version=1)
        assert [(r.stream, r.position, r.version) for r in a1 + b1 + a2] == [
            ("a", 1, 1),
            ("b", 2, 1),
            ("b", 3, 2),
            ("a", 4, 2),
        ]

    def test_envelope_names_the_event(self, log):
        """Each envelope carries the stream, the id, the type name, the schema and the event."""
        events = [noted(1), everything(2), Renamed(event_id=uuid.UUID(int=3), summary="s",
                                                   language="fr")]
        recorded = log.append("meeting-1", events, expected_version=0)
        assert [r.stream for r in recorded] == ["meeting-1"] * 3
        assert [r.event_id for r in recorded] == [e.event_id for e in events]
        assert [(r.type, r.schema) for r in recorded] == [
            ("test.Noted", 1), ("test.Everything", 1), ("test.Renamed", 2)
        ]
        assert events_of(recorded) == events

    def test_recorded_at_comes_from_the_clock_in_utc(self, open_test_log):
        """recorded_at is the injected clock's time, converted to UTC, to the microsecond."""
        # The second 02:30 of the night summer time ends in Vienna: 01:30 UTC.
        local = pendulum.DateTime(
            2023, 10, 29, 2, 30, 0, 654321, tzinfo=pendulum.timezone("Europe/Vienna"), fold=1
        )
        utc = pendulum.datetime(2023, 10, 29, 1, 30, 0, 654321, tz="UTC")
        log = open_test_log(clock=FixedClock(local))
        (recorded,) = log.append("s", [noted(1)], expected_version=0)
        (read,) = log.read_all()
        for moment in (recorded.recorded_at, read.recorded_at):
            assert isinstance(moment, pendulum.DateTime)
            assert moment.timezone_name == "UTC"
            assert moment == utc
            assert moment.timestamp() == local.timestamp()

    def test_batch_shares_its_recorded_at_and_later_batches_move(self, clocked_log, clock):
        """All events of a batch have one recorded_at; a later batch has the clock's new time."""
        first = clocked_log.append("s", [noted(1), noted(2)], expected_version=0)
        clock.advance(minutes=5)
        second = clocked_log.append("s", [noted(3)], expected_version=2)
        assert [r.recorded_at for r in first] == [START, START]
        assert second[0].recorded_at == START.add(minutes=5)

    def test_append_returns_what_a_read_returns(self, clocked_log):
        """The envelopes append returns equal the ones read back (metadata included)."""
        metadata = {"actor": uuid.UUID(int=5), "n": 1, "nested": {"ids": [uuid.UUID(int=6)]}}
        appended = clocked_log.append(
            "s", [noted(1), everything(2)], expected_version=0, metadata=metadata
        )
        assert list(clocked_log.read_all()) == appended
        assert list(clocked_log.read_stream("s")) == appended

    def test_empty_batch_writes_nothing(self, log):
        """An empty batch returns [] and writes nothing."""
        assert log.append("s", [], expected_version=0) == []
        assert log.append("s", [], expected_version=ANY) == []
        assert_nothing_written(log, 0, s=0)

    def test_empty_batch_still_checks_the_version(self, log):
        """An empty batch with a wrong expected version is a concurrency error."""
        with pytest.raises(ConcurrencyError):
            log.append("s", [], expected_version=3)

    @pytest.mark.parametrize(
        "stream", ["x" * MAX_STREAM_LENGTH, "組織-3", "person-ß", "a b\tc", "🎉", "x"]
    )
    def test_any_stream_name_up_to_the_limit(self, log, stream):
        """Stream names of 1 to 200 characters in any script are kept exactly."""
        log.append(stream, [noted(1)], expected_version=0)
        assert [r.stream for r in log.read_stream(stream)] == [stream]
        assert next(iter(log.read_all())).stream == stream
        assert log.stream_version(stream) == 1


class TestAtomicity:
    def test_a_batch_is_read_back_whole_and_in_order(self, log):
        """A batch's events are stored contiguously, in the order given."""
        batch = [noted(i) for i in range(1, 21)]
        log.append("s", batch, expected_version=0)
        assert events_of(list(log.read_stream("s"))) == batch

    def test_a_batch_failing_in_storage_writes_nothing(self, log):
        """When the store refuses the last event of a batch, none of the batch is kept."""
        log.append("other", [noted(9)], expected_version=0)
        with pytest.raises(DuplicateEventError):
            log.append("s", [noted(1), noted(2), noted(9)], expected_version=0)
        assert_nothing_written(log, 1, s=0, other=1)
        # The ids of the refused batch are still free.
        recorded = log.append("s", [noted(1), noted(2)], expected_version=0)
        assert [r.position for r in recorded] == [2, 3]

    def test_a_batch_failing_to_encode_writes_nothing(self, log):
        """A naive date-time in the third event refuses the whole batch."""
        naive = everything(3, at=pendulum.naive(2023, 3, 22, 15))
        with pytest.raises(CodecError):
            log.append("s", [noted(1), noted(2), naive], expected_version=0)
        assert_nothing_written(log, 0, s=0)


class TestExpectedVersion:
    def test_zero_creates_a_new_stream(self, log):
        """expected_version=0 appends to a stream that does not exist yet."""
        log.append("s", [noted(1)], expected_version=0)
        assert log.stream_version("s") == 1

    def test_zero_on_an_existing_stream_is_a_conflict(self, log):
        """expected_version=0 on a stream with events raises ConcurrencyError."""
        log.append("s", [noted(1)], expected_version=0)
        with pytest.raises(ConcurrencyError) as caught:
            log.append("s", [noted(2)], expected_version=0)
        assert (caught.value.stream, caught.value.expected, caught.value.actual) == ("s", 0, 1)

    def test_exact_version_appends(self, log):
        """The stream's current version lets the append through."""
        log.append("s", [noted(1), noted(2)], expected_version=0)
        recorded = log.append("s", [noted(3)], expected_version=2)
        assert recorded[0].version == 3

    @pytest.mark.parametrize("expected", [1, 3, 4, 10])
    def test_wrong_version_names_stream_expected_and_actual(self, log, expected):
        """A version behind or ahead raises ConcurrencyError naming the stream and versions."""
        log.append("meeting-7", [noted(1), noted(2)], expected_version=0)
        with pytest.raises(ConcurrencyError) as caught:
            log.append("meeting-7", [noted(3)], expected_version=expected)
        error = caught.value
        assert (error.stream, error.expected, error.actual) == ("meeting-7", expected, 2)
        assert "'meeting-7'" in str(error)
        assert str(expected) in str(error)

    def test_conflict_writes_nothing(self, log):
        """After a ConcurrencyError the head, the stream and the batch's ids are unchanged."""
        log.append("s", [noted(1)], expected_version=0)
        with pytest.raises(ConcurrencyError):
            log.append("s", [noted(2), noted(3)], expected_version=0)
        assert_nothing_written(log, 1, s=1)
        log.append("s", [noted(2), noted(3)], expected_version=1)
        assert log.head() == 3

    def test_conflict_on_a_new_stream(self, log):
        """Expecting version 2 of a stream that does not exist raises with actual 0."""
        with pytest.raises(ConcurrencyError) as caught:
            log.append("new", [noted(1)], expected_version=2)
        assert caught.value.actual == 0
        assert_nothing_written(log, 0, new=0)

    def test_any_appends_whatever_the_version(self, log):
        """expected_version=ANY appends to new and existing streams."""
        log.append("s", [noted(1)], expected_version=ANY)
        log.append("s", [noted(2)], expected_version=ANY)
        assert [r.version for r in log.read_stream("s")] == [1, 2]

    @pytest.mark.parametrize("expected", [-1, True, False, 1.0, "1", None, "ANY"])
    def test_invalid_expected_version_is_refused(self, log, expected):
        """A negative, boolean or non-integer expected version raises InvalidAppendError."""
        with pytest.raises(InvalidAppendError, match="expected_version"):
            log.append("s", [noted(1)], expected_version=expected)
        assert_nothing_written(log, 0, s=0)


class TestIdempotentRetry:
    def test_retry_returns_the_stored_envelopes(self, clocked_log, clock):
        """A batch appended again with the same ids returns the first envelopes, unchanged."""
        batch = [noted(1), everything(2)]
        first = clocked_log.append("s", batch, expected_version=0, metadata={"try": 1})
        clock.advance(hours=1)
        again = clocked_log.append("s", batch, expected_version=0, metadata={"try": 2})
        assert again == first
        assert [r.recorded_at for r in again] == [START, START]
        assert [r.position for r in again] == [1, 2]
        assert [r.metadata for r in again] == [{"try": 1}, {"try": 1}]
        assert clocked_log.head() == 2

    @pytest.mark.parametrize("expected", [0, 1, 3, 7, ANY])
    def test_retry_ignores_the_expected_version(self, clocked_log, clock, expected):
        """A retry is recognised whatever version it expects (stale, current, ANY)."""
        clocked_log.append("s", [noted(1)], expected_version=0)
        first = clocked_log.append("s", [noted(2), noted(3)], expected_version=1)
        clocked_log.append("s", [noted(4)], expected_version=3)
        clock.advance(days=1)
        assert clocked_log.append("s", [noted(2), noted(3)], expected_version=expected) == first
        assert_nothing_written(clocked_log, 4, s=4)

    def test_retry_after_other_appends(self, log):
        """A retry still returns the original positions after other streams moved on."""
        first = log.append("a", [noted(1)], expected_version=0)
        log.append("b", [noted(2)], expected_version=0)
        assert log.append("a", [noted(1)], expected_version=0) == first

    def test_same_id_other_content_is_a_duplicate(self, log):
        """An id stored already with other content raises DuplicateEventError."""
        log.append("s", [noted(1, "original")], expected_version=0)
        with pytest.raises(DuplicateEventError, match=str(uuid.UUID(int=1))):
            log.append("s", [noted(1, "changed")], expected_version=1)
        assert [r.event.text for r in log.read_all()] == ["original"]

    def test_same_id_other_type_is_a_duplicate(self, log):
        """An id stored as one type and appended as another raises DuplicateEventError."""
        log.append("s", [noted(1)], expected_version=0)
        with pytest.raises(DuplicateEventError):
            log.append("s", [everything(1)], expected_version=ANY)
        assert_nothing_written(log, 1, s=1)

    def test_partial_overlap_is_a_duplicate_and_writes_nothing(self, log):
        """A batch of some stored and some new ids is refused whole."""
        log.append("s", [noted(1), noted(2)], expected_version=0)
        for expected in (0, 2, ANY):
            with pytest.raises(DuplicateEventError):
                log.append("s", [noted(2), noted(3)], expected_version=expected)
        assert_nothing_written(log, 2, s=2)

    def test_id_reused_in_another_stream_is_a_duplicate(self, log):
        """An id stored in one stream cannot be appended to another."""
        log.append("a", [noted(1)], expected_version=0)
        for expected in (0, ANY):
            with pytest.raises(DuplicateEventError, match="'a'"):
                log.append("b", [noted(1)], expected_version=expected)
        assert_nothing_written(log, 1, a=1, b=0)

    def test_duplicate_id_within_a_batch(self, log):
        """The same id twice in one batch raises DuplicateEventError and writes nothing."""
        with pytest.raises(DuplicateEventError, match="twice"):
            log.append("s", [noted(1), noted(2), noted(1)], expected_version=0)
        assert_nothing_written(log, 0, s=0)


class TestRefusedArguments:
    @pytest.mark.parametrize(
        "bad", ["not an event", None, 42, {"text": "x"}, Place(name="x")]
    )
    def test_non_event_in_a_batch(self, log, bad):
        """A batch holding something other than an Event raises InvalidAppendError."""
        with pytest.raises(InvalidAppendError, match=r"events\[1\]"):
            log.append("s", [noted(1), bad, noted(2)], expected_version=0)
        assert_nothing_written(log, 0, s=0)

    @pytest.mark.parametrize("events", [noted(1), "text", None, (e for e in [noted(1)])])
    def test_events_must_be_a_sequence(self, log, events):
        """A single event, a string or a generator instead of a list is refused."""
        with pytest.raises(InvalidAppendError):
            log.append("s", events, expected_version=0)
        assert_nothing_written(log, 0, s=0)

    @pytest.mark.parametrize(
        "stream",
        ["", "x" * (MAX_STREAM_LENGTH + 1), None, 7, b"bytes", ("s",), "a\x00b", "a\ud800b"],
    )
    def test_invalid_stream_names(self, log, stream):
        """Empty, over-long, NUL-holding, lone-surrogate and non-text stream names are
        refused everywhere (the same on every backend, before SQL sees them)."""
        with pytest.raises(InvalidStreamNameError):
            log.append(stream, [noted(1)], expected_version=0)
        with pytest.raises(InvalidStreamNameError):
            log.stream_version(stream)
        with pytest.raises(InvalidStreamNameError):
            list(log.read_stream(stream))
        assert log.head() == 0

    def test_unregistered_event_class(self, log):
        """An event whose class is not in the log's registry raises UnknownEventTypeError."""

        @attrs.frozen(kw_only=True)
        class Unlisted(Event):
            text: str

        with pytest.raises(UnknownEventTypeError):
            log.append("s", [noted(1), Unlisted(event_id=uuid.UUID(int=2), text="x")],
                       expected_version=0)
        assert_nothing_written(log, 0, s=0)

    def test_naive_datetime_is_a_codec_error(self, log):
        """An event with a naive date-time raises CodecError and writes nothing."""
        with pytest.raises(CodecError, match="naive"):
            log.append("s", [everything(1, at=pendulum.naive(2023, 1, 1))], expected_version=0)
        assert_nothing_written(log, 0, s=0)

    def test_non_finite_float_is_a_codec_error(self, log):
        """An event with NaN is refused instead of being stored unreadable."""
        with pytest.raises(CodecError):
            log.append("s", [everything(1, ratio=float("nan"))], expected_version=0)
        assert_nothing_written(log, 0, s=0)

    @pytest.mark.parametrize("metadata", [{1: "x"}, {"a": object()}, ["a", "b"]])
    def test_non_json_metadata_is_a_codec_error(self, log, metadata):
        """Metadata that is not a JSON object with text keys is refused."""
        with pytest.raises(CodecError):
            log.append("s", [noted(1)], expected_version=0, metadata=metadata)
        assert_nothing_written(log, 0, s=0)


class TestMetadata:
    def test_metadata_round_trips_with_uuids_as_text(self, log):
        """Nested metadata is stored with each event; UUIDs come back as strings."""
        actor = uuid.UUID(int=77)
        metadata = {
            "actor": actor,
            "correlation": {"id": uuid.UUID(int=78), "chain": [1, 2.5, None, True, "ß"]},
            "empty": {},
        }
        log.append("s", [noted(1), noted(2)], expected_version=0, metadata=metadata)
        expected = {
            "actor": str(actor),
            "correlation": {"id": str(uuid.UUID(int=78)), "chain": [1, 2.5, None, True, "ß"]},
            "empty": {},
        }
        assert [r.metadata for r in log.read_all()] == [expected, expected]
        assert [r.metadata for r in log.read_stream("s")] == [expected, expected]

    @pytest.mark.parametrize("metadata", [None, {}])
    def test_no_metadata_reads_as_an_empty_dict(self, log, metadata):
        """Without metadata, each record's metadata is {}."""
        (appended,) = log.append("s", [noted(1)], expected_version=0, metadata=metadata)
        assert appended.metadata == {}
        assert next(iter(log.read_all())).metadata == {}


def _fill(log: EventLog) -> list[Recorded]:
    """Append 11 events over three streams: a has 5, b has 4, c has 2."""
    plan = [("a", 2), ("b", 3), ("a", 3), ("c", 2), ("b", 1)]
    recorded: list[Recorded] = []
    number = 0
    for stream, size in plan:
        batch = [noted(number + i + 1) for i in range(size)]
        number += size
        recorded += log.append(stream, batch, expected_version=ANY)
    return recorded


class TestReading:
    def test_empty_log(self, log):
        """A new log has head 0, no records and no streams."""
        assert log.head() == 0
        assert list(log.read_all()) == []
        assert list(log.read_stream("s")) == []
        assert log.stream_version("s") == 0

    def test_head_and_stream_versions(self, log):
        """head() is the last position; stream_version() each stream's last version."""
        _fill(log)
        assert log.head() == 11
        assert [log.stream_version(s) for s in "abcd"] == [5, 4, 2, 0]

    def test_read_all_in_position_order(self, log):
        """read_all returns every record, gapless, in position order."""
        recorded = _fill(log)
        assert list(log.read_all()) == recorded
        assert [r.position for r in log.read_all()] == list(range(1, 12))

    @pytest.mark.parametrize("after_version", [0, 1, 2, 4, 5, 6])
    def test_read_stream_after_version(self, log, after_version):
        """read_stream returns the stream's records above after_version, in version order."""
        recorded = _fill(log)
        expected = [r for r in recorded if r.stream == "a"][after_version:]
        got = list(log.read_stream("a", after_version=after_version))
        assert got == expected
        assert [r.version for r in got] == list(range(after_version + 1, 6))

    def test_read_stream_of_unknown_stream_is_empty(self, log):
        """A stream nobody appended to reads as empty."""
        _fill(log)
        assert list(log.read_stream("nobody")) == []

    @pytest.mark.parametrize(
        ("after", "limit"),
        [(0, None), (0, 0), (0, 1), (0, 3), (0, 4), (2, 3), (2, 6), (3, 7), (5, 100),
         (10, None), (11, None), (11, 5), (20, None)],
    )
    def test_read_all_after_and_limit_across_pages(self, small_pages, after, limit):
        """read_all(after, limit) gives positions after+1.., at most limit, across pages."""
        recorded = _fill(small_pages)
        got = list(small_pages.read_all(after=after, limit=limit))
        end = None if limit is None else after + limit
        assert got == recorded[after:end]

    @pytest.mark.parametrize("after_version", [0, 2, 3, 4, 5])
    def test_read_stream_across_pages(self, small_pages, after_version):
        """A stream longer than a page reads whole, in order, from any version."""
        batch = [noted(i) for i in range(1, 8)]
        small_pages.append("long", [noted(100), *batch[:3]], expected_version=0)
        small_pages.append("other", [noted(200)], expected_version=0)
        small_pages.append("long", batch[3:], expected_version=4)
        got = list(small_pages.read_stream("long", after_version=after_version))
        assert [r.version for r in got] == list(range(after_version + 1, 9))
        assert events_of(got) == [noted(100), *batch][after_version:]

    def test_more_than_a_default_page(self, log):
        """Logs longer than the default page read whole, and limits cross the page edge."""
        count = DEFAULT_PAGE_SIZE + 5
        log.append("big", [noted(i) for i in range(1, count + 1)], expected_version=0)
        positions = [r.position for r in log.read_all()]
        assert positions == list(range(1, count + 1))
        edge = [r.position for r in log.read_all(after=DEFAULT_PAGE_SIZE - 2, limit=4)]
        assert edge == list(range(DEFAULT_PAGE_SIZE - 1, DEFAULT_PAGE_SIZE + 3))
        assert sum(1 for _ in log.read_stream("big")) == count
        assert [r.version for r in log.read_stream("big", after_version=count - 2)] == [
            count - 1, count
        ]

    def test_events_read_back_equal_those_appended(self, log):
        """Every kind of field comes back equal, time zones included."""
        event = everything(1, maybe=pendulum.datetime(2024, 1, 1, tz="America/New_York"))
        log.append("s", [event], expected_version=0)
        (read,) = log.read_all()
        assert read.event == event
        assert read.event.at.timezone_name == "Europe/Vienna"
        assert read.event.at.fold == 1
        assert read.event.maybe.timezone_name == "America/New_York"
        assert read.event.lasting.months == 1


class TestStoredData:
    """A store reopened by another handle: what it reads (not for memory)."""

    def test_another_handle_sees_the_appends(self, backend, open_test_log):
        """Two handles on one store see each other's appends."""
        skip_memory(backend)
        one, two = open_test_log(), open_test_log()
        one.append("s", [noted(1)], expected_version=0)
        assert [r.event for r in two.read_all()] == [noted(1)]
        two.append("s", [noted(2)], expected_version=1)
        assert one.head() == 2
        assert one.stream_version("s") == 2
        assert events_of(list(one.read_stream("s"))) == [noted(1), noted(2)]

    def test_handles_share_the_version_check(self, backend, open_test_log):
        """A stale handle's append conflicts with another handle's earlier append."""
        skip_memory(backend)
        one, two = open_test_log(), open_test_log()
        one.append("s", [noted(1)], expected_version=0)
        with pytest.raises(ConcurrencyError):
            two.append("s", [noted(2)], expected_version=0)
        assert two.append("s", [noted(1)], expected_version=0)[0].position == 1

    def test_data_survives_closing(self, backend, open_test_log, clock):
        """Closed and reopened, the store reads the same records; a retry still matches."""
        skip_memory(backend)
        first = open_test_log(clock=clock)
        appended = first.append("s", [noted(1), everything(2)], expected_version=0,
                                 metadata={"actor": "x"})
        first.close()
        clock.advance(days=3)
        again = open_test_log(clock=clock)
        assert list(again.read_all()) == appended
        assert again.append("s", [noted(1), everything(2)], expected_version=0) == appended

    def test_unregistered_stored_type_reads_as_opaque(self, backend, open_test_log):
        """A record whose type the reader's registry lacks reads as an OpaqueEvent, intact."""
        skip_memory(backend)
        writer = open_test_log()
        writer.append("s", [noted(1)], expected_version=0)
        written = writer.append("s", [everything(2)], expected_version=1,
                                metadata={"actor": "x"})[0]
        partial = EventRegistry()
        partial.add(Noted, "test.Noted")
        reader = open_test_log(registry=partial)
        first, second = reader.read_all()
        assert first.event == noted(1)
        assert isinstance(second.event, OpaqueEvent)
        assert (second.type, second.schema, second.metadata) == ("test.Everything", 1,
                                                                 {"actor": "x"})
        assert (second.event.type_name, second.event.schema) == ("test.Everything", 1)
        assert second.event.event_id == second.event_id == written.event_id
        assert second.event.data == writer.codec.encode(written.event).data
        assert list(reader.read_stream("s"))[1] == second

    def test_known_type_whose_data_does_not_fit_names_its_position(
        self, backend, open_test_log
    ):
        """Data of a known type that does not decode is an error naming the position."""
        skip_memory(backend)
        other = EventRegistry()

        @other.register("test.Noted", schema=1)
        @attrs.frozen(kw_only=True)
        class NotedElsewhere(Event):
            note: int

        open_test_log().append("s", [noted(1)], expected_version=0)
        open_test_log(registry=other).append(
            "s", [NotedElsewhere(event_id=uuid.UUID(int=2), note=3)], expected_version=1
        )
        records = open_test_log().read_all()
        assert next(records).event == noted(1)
        with pytest.raises(UndecodableRecordError, match="position 2") as caught:
            next(records)
        assert (caught.value.position, caught.value.type_name) == (2, "test.Noted")
        assert "upcaster" in str(caught.value)
        with pytest.raises(UndecodableRecordError, match="position 2"):
            list(open_test_log().read_stream("s"))

    def test_old_schema_is_upcast_on_read(self, backend, open_test_log):
        """Data stored under schema 1 reads as the schema 2 class, the envelope keeping 1."""
        skip_memory(backend)
        old = EventRegistry()

        @old.register("test.Renamed", schema=1)
        @attrs.frozen(kw_only=True)
        class RenamedV1(Event):
            title: str

        event_id = uuid.UUID(int=1)
        open_test_log(registry=old).append(
            "s", [RenamedV1(event_id=event_id, title="Budget")], expected_version=0
        )
        (read,) = open_test_log().read_all()
        assert read.event == Renamed(event_id=event_id, summary="Budget", language="en")
        assert (read.type, read.schema) == ("test.Renamed", 1)
        (in_stream,) = open_test_log().read_stream("s")
        assert in_stream.event == read.event


class TestOpaqueEvents:
    """Records of types a reader does not know: read intact, appended byte for byte."""

    def opaque(self, number: int, type_name: str = "ghost.Haunted", schema: int = 1,
               data: str = '{"boo": [1, 2.5, "\u00e9"]}') -> OpaqueEvent:
        return OpaqueEvent(event_id=uuid.UUID(int=number), type_name=type_name,
                           schema=schema, data=data)

    def test_unknown_type_is_stored_and_read_as_it_is(self, log):
        """An opaque event of an unknown type is stored with its name, schema and text."""
        event = self.opaque(1, schema=7, data=' { "b" : 1,"a":[ ] } ')
        (appended,) = log.append("s", [event], expected_version=0, metadata={"actor": "m"})
        assert (appended.type, appended.schema, appended.event) == ("ghost.Haunted", 7, event)
        (read,) = log.read_all()
        assert read == appended
        assert read.event.data == ' { "b" : 1,"a":[ ] } '
        assert log.codec.encode(read.event) == EncodedEvent("ghost.Haunted", 7, event.data)

    def test_retry_of_an_opaque_append_is_a_no_op(self, log):
        """Appending the same opaque event again returns the stored record, writes nothing."""
        first = log.append("s", [self.opaque(1), noted(2)], expected_version=0)
        assert log.append("s", [self.opaque(1), noted(2)], expected_version=0) == first
        assert log.head() == 2
        with pytest.raises(DuplicateEventError):
            log.append("s", [self.opaque(1, data="{}"), noted(2)], expected_version=0)

    def test_known_type_is_checked_and_returned_decoded(self, log):
        """An opaque event of a known type must decode; append and read give the class."""
        event = self.opaque(1, "test.Renamed", 1, '{"title": "Budget"}')
        (appended,) = log.append("s", [event], expected_version=0)
        expected = Renamed(event_id=uuid.UUID(int=1), summary="Budget", language="en")
        assert (appended.type, appended.schema, appended.event) == ("test.Renamed", 1, expected)
        (read,) = log.read_all()
        assert read == appended
        assert log.append("s", [event], expected_version=0) == [appended]  # a retry

    @pytest.mark.parametrize(
        ("type_name", "schema", "data", "message"),
        [
            ("test.Noted", 1, '{"txt": "x"}', "does not decode as the registered type"),
            ("test.Renamed", 3, '{"summary": "x", "language": "en"}', "newer"),
            ("ghost.Haunted", 1, '{"boo": ', "not JSON"),
            ("ghost.Haunted", 1, "", "not JSON"),
            ("bad name", 1, "{}", "type name"),
            ("ghost.Haunted", 0, "{}", "schema"),
            ("ghost.Haunted", True, "{}", "schema"),
            ("ghost.Haunted", 2**31, "{}", "schema"),
            ("ghost.Haunted", 1, b"{}", "JSON text"),
        ],
    )
    def test_malformed_or_undecodable_opaque_events_are_refused(
        self, log, type_name, schema, data, message
    ):
        """A bad name, schema or data, or data a known type cannot read: nothing written."""
        event = self.opaque(2, type_name, schema, data)
        with pytest.raises(CodecError, match=message):
            log.append("s", [noted(1), event], expected_version=0)
        assert_nothing_written(log, 0, s=0)

    def test_any_data_under_any_unknown_name_is_copied_byte_for_byte(self, backend, tmp_path):
        """Any JSON text under any name the reader lacks: read back, copied, unchanged."""
        if backend == "postgres":
            postgres_dsn()
        examples = iter(range(10**9))
        count = settings.default.max_examples
        if backend == "postgres":
            count = max(5, count // 4)

        @settings(max_examples=count, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow])
        @given(st.lists(st.tuples(gen.type_names(), st.integers(1, 2**31 - 1), gen.json_texts()),
                        min_size=1, max_size=4))
        def check(items):
            items = [item for item in items if item[0] not in TEST_REGISTRY]
            assume(items)
            events = [
                OpaqueEvent(event_id=uuid.UUID(int=number), type_name=name, schema=schema,
                            data=data)
                for number, (name, schema, data) in enumerate(items, start=1)
            ]
            name = f"{uuid.UUID(int=next(examples)).hex[-8:]}_{tmp_path.name[-8:].lower()}"
            name = "".join(ch if ch.isalnum() else "_" for ch in name)
            with (
                fresh_log(backend, tmp_path, f"{name}_a") as source,
                fresh_log(backend, tmp_path, f"{name}_b") as target,
            ):
                source.append("s", events, expected_version=0, metadata={"actor": "x"})
                read = list(source.read_all())
                assert [r.event for r in read] == events
                target.append("copy", [r.event for r in read], expected_version=0)
                copied = [(r.type, r.schema, r.event.data) for r in target.read_all()]
                assert copied == [(e.type_name, e.schema, e.data) for e in events]

        check()

    def test_opaque_event_cannot_be_registered(self):
        """OpaqueEvent stands for unknown types: a registry refuses it."""
        with pytest.raises(EventDefinitionError, match="OpaqueEvent"):
            EventRegistry().add(OpaqueEvent, "ghost.Opaque")


class TestClosed:
    @pytest.mark.parametrize(
        "use",
        [
            lambda log: log.append("s", [noted(9)], expected_version=ANY),
            lambda log: list(log.read_all()),
            lambda log: list(log.read_stream("s")),
            lambda log: log.head(),
            lambda log: log.stream_version("s"),
        ],
        ids=["append", "read_all", "read_stream", "head", "stream_version"],
    )
    def test_use_after_close(self, log, use):
        """Every operation on a closed log raises LogClosedError."""
        log.append("s", [noted(1)], expected_version=0)
        log.close()
        with pytest.raises(LogClosedError):
            use(log)

    def test_close_twice_is_harmless(self, log):
        """Closing an already closed log does nothing."""
        log.close()
        log.close()
        with pytest.raises(LogClosedError):
            log.head()

    def test_context_manager_closes(self, open_test_log):
        """Leaving a ``with`` block closes the log."""
        with open_test_log() as log:
            assert log.head() == 0
        with pytest.raises(LogClosedError):
            log.head()

    def test_is_an_event_log(self, log):
        """Every backend satisfies the EventLog protocol and exposes its codec."""
        assert isinstance(log, EventLog)
        assert log.codec.registry is TEST_REGISTRY


@contextlib.contextmanager
def fresh_log(backend: str, folder: Path, name: str) -> Iterator[EventLog]:
    """A fresh, empty log of ``backend``, closed (and dropped on PostgreSQL) afterwards."""
    if backend == "memory":
        url = "memory:"
    elif backend == "sqlite":
        url = f"sqlite:///{folder / f'{name}.db'}?synchronous=NORMAL"
    else:
        import psycopg

        dsn = postgres_dsn()
        schema = f"ae_test_{name}"
        url = f"{dsn}{'&' if '?' in dsn else '?'}schema={schema}&notify=off"
    try:
        with open_log(url, registry=TEST_REGISTRY) as log:
            yield log
    finally:
        if backend == "postgres":
            with psycopg.connect(dsn, autocommit=True) as connection:
                connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


class TestAnyBatchesRoundTrip:
    @pytest.fixture(autouse=True)
    def _reachable(self, backend):
        if backend == "postgres":
            postgres_dsn()

    def test_generated_batches_read_back_identically(self, backend, tmp_path):
        """Any batches appended then read back give equal events and gapless positions."""
        examples = iter(range(10**9))
        count = settings.default.max_examples
        if backend == "postgres":
            count = max(5, count // 4)

        @settings(
            max_examples=count,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow],
        )
        @given(gen.batches())
        def check(batches):
            name = f"{uuid.UUID(int=next(examples)).hex[-8:]}_{tmp_path.name[-8:].lower()}"
            name = "".join(ch if ch.isalnum() else "_" for ch in name)
            with fresh_log(backend, tmp_path, name) as log:
                model: dict[str, list[Event]] = {}
                appended: list[Event] = []
                for stream, batch in batches:
                    version = len(model.get(stream, []))
                    recorded = log.append(stream, batch, expected_version=version)
                    assert [r.version for r in recorded] == list(
                        range(version + 1, version + len(batch) + 1)
                    )
                    model.setdefault(stream, []).extend(batch)
                    appended.extend(batch)
                records = list(log.read_all())
                assert [r.event for r in records] == appended
                assert [r.position for r in records] == list(range(1, len(appended) + 1))
                assert log.head() == len(appended)
                for stream, events in model.items():
                    assert events_of(list(log.read_stream(stream))) == events
                    assert log.stream_version(stream) == len(events)

        check()


class TestOpenLog:
    def test_memory(self):
        """``memory:`` opens a MemoryLog."""
        with open_log("memory:") as log:
            assert isinstance(log, MemoryLog)
            assert log.head() == 0

    def test_memory_handles_are_separate(self):
        """Each ``memory:`` log is its own store."""
        with open_log("memory:", registry=TEST_REGISTRY) as one, open_log(
            "memory:", registry=TEST_REGISTRY
        ) as two:
            one.append("s", [noted(1)], expected_version=0)
            assert two.head() == 0

    def test_sqlite_relative_path(self, tmp_path, monkeypatch):
        """``sqlite:///name.db`` is a path relative to the working folder."""
        monkeypatch.chdir(tmp_path)
        with open_log("sqlite:///relative.db") as log:
            assert isinstance(log, SQLiteLog)
            assert log.path == "relative.db"
        assert (tmp_path / "relative.db").is_file()

    def test_sqlite_absolute_path(self, tmp_path):
        """``sqlite:////abs/path.db`` (four slashes) is an absolute path."""
        url = f"sqlite:///{tmp_path}/absolute.db"
        assert url.startswith("sqlite:////")
        with open_log(url) as log:
            assert isinstance(log, SQLiteLog)
            assert Path(log.path) == tmp_path / "absolute.db"
        assert (tmp_path / "absolute.db").is_file()

    def test_sqlite_path_with_escapes(self, tmp_path):
        """Percent escapes in a SQLite URL's path are decoded."""
        with open_log(f"sqlite:///{tmp_path}/with%20space.db") as log:
            assert Path(log.path) == tmp_path / "with space.db"

    @pytest.mark.parametrize("as_path", [True, False])
    def test_plain_path(self, tmp_path, as_path):
        """A plain path (text or Path) opens a SQLite log there."""
        target = tmp_path / "plain.db"
        with open_log(target if as_path else str(target)) as log:
            assert isinstance(log, SQLiteLog)
        assert target.is_file()

    @pytest.mark.parametrize(
        ("query", "expected"),
        [("", "FULL"), ("?synchronous=NORMAL", "NORMAL"), ("?synchronous=normal", "NORMAL"),
         ("?synchronous=FULL", "FULL")],
    )
    def test_sqlite_synchronous(self, tmp_path, query, expected):
        """``?synchronous=`` chooses FULL (the default) or NORMAL, and SQLite uses it."""
        path = tmp_path / "sync.db"
        with open_log(f"sqlite:///{path}{query}") as log:
            assert log.synchronous == expected
            assert log._db.execute("PRAGMA synchronous").fetchone()[0] == {
                "FULL": 2, "NORMAL": 1
            }[expected]

    def test_sqlite_busy_timeout(self, tmp_path):
        """``?busy_timeout=SECONDS`` is accepted as a number."""
        with open_log(f"sqlite:///{tmp_path}/b.db?busy_timeout=2.5") as log:
            assert log._db.execute("PRAGMA busy_timeout").fetchone()[0] == 2500

    @pytest.mark.parametrize(
        "url",
        [
            "mysql://host/db",
            "http://example.org/log",
            "memory:?x=1",
            "sqlite:///x.db?journal=delete",
            "sqlite:///x.db?synchronous=OFF",
            "sqlite:///x.db?busy_timeout=soon",
            "sqlite://host/x.db",
            "sqlite:///",
        ],
    )
    def test_unsupported_urls(self, url, tmp_path, monkeypatch):
        """Unknown schemes and options, SQLite hosts and missing files are refused."""
        monkeypatch.chdir(tmp_path)
        with pytest.raises(UnsupportedURLError):
            open_log(url)
        assert list(tmp_path.iterdir()) == []

    def test_registry_and_clock_are_passed_on(self, tmp_path):
        """open_log gives the log the registry and the clock it was given."""
        clock = FixedClock(START)
        with open_log(tmp_path / "c.db", registry=TEST_REGISTRY, clock=clock) as log:
            assert log.codec.registry is TEST_REGISTRY
            assert log.append("s", [noted(1)], expected_version=0)[0].recorded_at == START


class TestSQLiteFile:
    @pytest.fixture
    def path(self, tmp_path):
        path = tmp_path / "log.db"
        with open_log(path, registry=TEST_REGISTRY) as log:
            log.append("s", [noted(1), noted(2)], expected_version=0)
        return path

    @pytest.mark.parametrize(
        "statement",
        ["UPDATE events SET stream = 'x'", "DELETE FROM events", "DELETE FROM events WHERE 0"],
    )
    def test_rows_cannot_be_changed_or_deleted(self, path, statement):
        """Triggers refuse UPDATE and DELETE even to a raw SQLite connection."""
        connection = sqlite3.connect(path)
        try:
            if "WHERE 0" in statement:
                connection.execute(statement)  # touches no row: nothing to refuse
            else:
                with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                    connection.execute(statement)
            connection.commit()
        finally:
            connection.close()
        with open_log(path, registry=TEST_REGISTRY) as log:
            assert events_of(list(log.read_all())) == [noted(1), noted(2)]

    def test_wal_mode(self, path):
        """The file is in WAL mode."""
        connection = sqlite3.connect(path)
        try:
            assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        finally:
            connection.close()

    def test_missing_folder_is_a_log_error(self, tmp_path):
        """A path in a folder that does not exist raises a LogError, not sqlite3's error."""
        from alliance_events import LogError

        with pytest.raises(LogError):
            open_log(tmp_path / "missing" / "log.db")


class TestIntegrityAndReadOnly:
    """Checksums and read-only handles, the same on every backend."""

    def test_verify_checks_every_record(self, log):
        """verify() reports ok and the number of records checked."""
        log.append("a", [noted(1), noted(2)], expected_version=0, metadata={"actor": "x"})
        log.append("b", [noted(3)], expected_version=0)
        log.append("a", [noted(4)], expected_version=2)
        report = verify(log)
        assert (report.ok, report.checked, report.last_position) == (True, 4, 4)

    def test_a_read_only_handle_reads_and_refuses_appends(self, backend, log_url, log):
        """mode=ro sees what the writer appended; its append writes nothing."""
        skip_memory(backend)
        log.append("a", [noted(1)], expected_version=0)
        separator = "&" if "?" in log_url else "?"
        with open_log(f"{log_url}{separator}mode=ro", registry=TEST_REGISTRY) as reader:
            assert [r.event for r in reader.read_all()] == [noted(1)]
            with pytest.raises(ReadOnlyStorageError, match="read-only"):
                reader.append("a", [noted(2)], expected_version=1)
            log.append("a", [noted(3)], expected_version=1)
            assert reader.head() == 2
            assert verify(reader).ok
        assert log.stream_version("a") == 2

    def test_reads_without_checks_read_the_same(self, backend, log_url, log):
        """verify=off reads the same records (it only skips the checks)."""
        skip_memory(backend)
        log.append("a", [noted(1), noted(2)], expected_version=0)
        separator = "&" if "?" in log_url else "?"
        with open_log(f"{log_url}{separator}verify=off", registry=TEST_REGISTRY) as other:
            assert list(other.read_all()) == list(log.read_all())
            assert list(other.read_stream("a", after_version=1)) == list(
                log.read_stream("a", after_version=1)
            )

    def test_bad_mode_and_verify_options_are_refused(self, backend, log_url):
        """mode= and verify= take ro/rw and on/off only."""
        skip_memory(backend)
        separator = "&" if "?" in log_url else "?"
        for option in ("mode=rx", "verify=maybe"):
            with pytest.raises(UnsupportedURLError):
                open_log(f"{log_url}{separator}{option}", registry=TEST_REGISTRY)
