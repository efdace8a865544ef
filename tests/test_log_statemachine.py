"""Every backend driven by random sequences of appends and reads, checked against a model.

The model is the simplest log there is: a dict of stream -> list of events, and the list
of all events in append order. Each backend gets its own TestCase.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path
from typing import ClassVar

import pendulum
import pytest
from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from alliance_events import (
    ANY,
    Codec,
    ConcurrencyError,
    DuplicateEventError,
    Event,
    EventLog,
    Recorded,
)
from alliance_events.log.memory import MemoryLog
from alliance_events.log.sqlite import SQLiteLog
from alliance_events.testing import FixedClock

from . import strategies as gen
from .helpers import postgres_dsn
from .sample_events import TEST_REGISTRY, Noted

STREAMS = st.sampled_from(["meeting-1", "meeting-2", "person-ß", "組織"])
BATCHES = gen.event_lists(min_size=1, max_size=4)
START = pendulum.datetime(2024, 3, 31, 1, 59, 59, tz="UTC")
PAGE = 4  # small read pages where the backend has them, so reads cross page edges

Appended = tuple[str, tuple[Event, ...], list[Recorded]]


class LogMachine(RuleBasedStateMachine):
    """Appends and reads on a real log, mirrored on the model."""

    appended = Bundle("appended")

    def __init__(self) -> None:
        super().__init__()
        self.clock = FixedClock(START)
        self.streams: dict[str, list[Event]] = {}
        self.all: list[tuple[str, Event]] = []
        self.ids: set[uuid.UUID] = set()
        self.log = self.open_log()

    def open_log(self) -> EventLog:
        raise NotImplementedError

    def teardown(self) -> None:
        self.log.close()

    # -- helpers ----------------------------------------------------------------------

    def version(self, stream: str) -> int:
        return len(self.streams.get(stream, []))

    def fresh(self, events: list[Event]) -> None:
        assume(not any(event.event_id in self.ids for event in events))

    def record(self, stream: str, events: list[Event], recorded: list[Recorded]) -> Appended:
        before, head = self.version(stream), len(self.all)
        assert [r.event for r in recorded] == events
        assert [r.stream for r in recorded] == [stream] * len(events)
        assert [r.version for r in recorded] == list(range(before + 1, before + len(events) + 1))
        assert [r.position for r in recorded] == list(range(head + 1, head + len(events) + 1))
        assert {r.recorded_at for r in recorded} == {self.clock()}
        self.streams.setdefault(stream, []).extend(events)
        self.all.extend((stream, event) for event in events)
        self.ids.update(event.event_id for event in events)
        self.clock.advance(seconds=1)  # a retry must still return the old time
        return stream, tuple(events), recorded

    # -- rules ------------------------------------------------------------------------

    @rule(target=appended, stream=STREAMS, events=BATCHES)
    def append_at_the_current_version(self, stream, events):
        self.fresh(events)
        recorded = self.log.append(stream, events, expected_version=self.version(stream))
        return self.record(stream, events, recorded)

    @rule(target=appended, stream=STREAMS, events=BATCHES)
    def append_at_any_version(self, stream, events):
        self.fresh(events)
        return self.record(stream, events, self.log.append(stream, events, expected_version=ANY))

    @rule(stream=STREAMS, events=BATCHES, delta=st.integers(1, 3), behind=st.booleans())
    def append_at_a_wrong_version(self, stream, events, delta, behind):
        self.fresh(events)
        actual = self.version(stream)
        wrong = actual - delta if behind and actual >= delta else actual + delta
        with pytest.raises(ConcurrencyError) as caught:
            self.log.append(stream, events, expected_version=wrong)
        assert (caught.value.stream, caught.value.expected, caught.value.actual) == (
            stream, wrong, actual
        )

    @rule(batch=appended, expected=st.sampled_from(["stale", "current", "ahead", "any"]))
    def retry_a_batch(self, batch, expected):
        stream, events, recorded = batch
        version = {
            "stale": 0,
            "current": self.version(stream),
            "ahead": self.version(stream) + 5,
            "any": ANY,
        }[expected]
        assert self.log.append(stream, list(events), expected_version=version) == recorded

    @rule(
        batch=appended,
        index=st.integers(0, 3),
        other_stream=st.booleans(),
        add_new=st.booleans(),
        new_id=gen.uuids(),
    )
    def reuse_an_id_with_other_content(self, batch, index, other_stream, add_new, new_id):
        stream, events, _ = batch
        old = events[index % len(events)]
        changed = Noted(event_id=old.event_id, text=getattr(old, "text", "") + "!")
        assert changed != old
        target = stream + "-other" if other_stream else stream
        bad: list[Event] = [changed]
        if add_new:
            assume(new_id not in self.ids)
            bad.append(Noted(event_id=new_id, text="new"))
        with pytest.raises(DuplicateEventError):
            self.log.append(target, bad, expected_version=ANY)

    @rule(batch=appended, new_id=gen.uuids())
    def retry_with_one_new_event(self, batch, new_id):
        stream, events, _ = batch
        assume(new_id not in self.ids)
        with pytest.raises(DuplicateEventError):
            self.log.append(
                stream, [*events, Noted(event_id=new_id, text="x")], expected_version=ANY
            )

    @rule(stream=STREAMS, after_version=st.integers(0, 14))
    def read_stream(self, stream, after_version):
        got = list(self.log.read_stream(stream, after_version=after_version))
        expected = self.streams.get(stream, [])[after_version:]
        assert [r.event for r in got] == expected
        assert [r.version for r in got] == list(
            range(after_version + 1, after_version + len(expected) + 1)
        )
        assert self.log.stream_version(stream) == self.version(stream)

    @rule(after=st.integers(0, 40), limit=st.none() | st.integers(0, 12))
    def read_all(self, after, limit):
        got = list(self.log.read_all(after=after, limit=limit))
        end = None if limit is None else after + limit
        expected = self.all[after:end]
        assert [(r.stream, r.event) for r in got] == expected
        assert [r.position for r in got] == list(range(after + 1, after + len(expected) + 1))

    # -- invariants -------------------------------------------------------------------

    @invariant()
    def head_is_the_model_length(self):
        assert self.log.head() == len(self.all)

    @invariant()
    def positions_are_gapless_and_streams_match(self):
        records = list(self.log.read_all())
        assert [r.position for r in records] == list(range(1, len(self.all) + 1))
        assert [(r.stream, r.event_id) for r in records] == [
            (stream, event.event_id) for stream, event in self.all
        ]


def _examples(share: int) -> int:
    return max(5, settings.default.max_examples // share)


_SLOW_OK = [HealthCheck.too_slow, HealthCheck.filter_too_much]


class MemoryMachine(LogMachine):
    def open_log(self) -> EventLog:
        return MemoryLog(clock=self.clock, codec=Codec(TEST_REGISTRY))


class SQLiteMachine(LogMachine):
    def open_log(self) -> EventLog:
        self.folder = Path(tempfile.mkdtemp(prefix="ae-machine-"))
        return SQLiteLog(
            self.folder / "log.db",
            clock=self.clock,
            codec=Codec(TEST_REGISTRY),
            synchronous="NORMAL",
            page_size=PAGE,
        )

    def teardown(self) -> None:
        super().teardown()
        shutil.rmtree(self.folder, ignore_errors=True)


class PostgresMachine(LogMachine):
    dsn: ClassVar[str] = ""
    runs: ClassVar[int] = 0

    def open_log(self) -> EventLog:
        from alliance_events.log.postgres import PostgresLog

        PostgresMachine.runs += 1
        self.schema = f"ae_machine_{uuid.UUID(int=PostgresMachine.runs).hex[-8:]}_{id(self)}"
        separator = "&" if "?" in self.dsn else "?"
        url = f"{self.dsn}{separator}schema={self.schema}&notify=off"
        return PostgresLog(url, clock=self.clock, codec=Codec(TEST_REGISTRY), page_size=PAGE)

    def teardown(self) -> None:
        import psycopg

        super().teardown()
        with psycopg.connect(self.dsn, autocommit=True) as connection:
            connection.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


TestMemoryLog = MemoryMachine.TestCase
TestMemoryLog.settings = settings(
    max_examples=_examples(1), stateful_step_count=40, deadline=None,
    suppress_health_check=_SLOW_OK,
)

TestSQLiteLog = SQLiteMachine.TestCase
TestSQLiteLog.settings = settings(
    max_examples=_examples(2), stateful_step_count=30, deadline=None,
    suppress_health_check=_SLOW_OK,
)


class TestPostgresLog(PostgresMachine.TestCase):  # type: ignore[name-defined]
    settings = settings(
        max_examples=_examples(4), stateful_step_count=25, deadline=None,
        suppress_health_check=_SLOW_OK,
    )

    def setUp(self) -> None:
        super().setUp()
        PostgresMachine.dsn = postgres_dsn()  # skips without a server (fails in CI)
