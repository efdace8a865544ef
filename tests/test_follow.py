"""Following the log (``alliance_events.log.follow``), on memory, SQLite and PostgreSQL.

Starts (origin, a position, now), acknowledgements that survive a reopen, the consumer's
own writes in the checkpoint's transaction, one follower per name, waking (LISTEN/NOTIFY
on PostgreSQL), a late commit, migrations of older databases, a Hypothesis state machine
of appends, acks and restarts, and consumers killed with SIGKILL while a writer appends.
"""

from __future__ import annotations

import contextlib
import os
import queue
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import psycopg
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
)

from alliance_events import (
    ANY,
    Alliance,
    Checkpoints,
    Codec,
    ConsumerBusyError,
    ConsumerSupersededError,
    EventLog,
    Follower,
    FollowerError,
    LogWatcher,
    new_id,
    open_log,
)
from alliance_events.log import postgres as postgres_log
from alliance_events.log import sqlite as sqlite_log
from alliance_events.log.memory import MemoryLog

from .helpers import IDENTITY, hold_open_append, postgres_dsn, running
from .sample_events import TEST_REGISTRY, Noted

ROOT = Path(__file__).resolve().parent.parent
FAST = {"poll_interval": 0.01, "fallback_interval": 1.0}  # followers in tests look often
READY_TIMEOUT = 30.0


def append(log: EventLog, count: int, stream: str = "s") -> list[int]:
    """Append ``count`` events one by one; return their positions."""
    return [
        log.append(stream, [Noted(event_id=new_id(), text=f"{stream} {i}")],
                   expected_version=ANY)[0].position
        for i in range(count)
    ]


def positions(records: list[Any]) -> list[int]:
    return [record.position for record in records]


@pytest.fixture
def reopen(backend: str, log: EventLog, open_test_log: Callable[..., EventLog]
           ) -> Callable[[], EventLog]:
    """Another handle on the same log (memory: the same handle, its data is its own)."""

    def again() -> EventLog:
        return log if backend == "memory" else open_test_log()

    return again


def table_and_mark(log: EventLog, name: str = "mirror") -> tuple[str, str]:
    """A consumer's own table, qualified for the backend, and the parameter mark."""
    schema = getattr(log, "schema", None)
    return (name, "?") if schema is None else (f'"{schema}".{name}', "%s")


class TestStart:
    def test_origin_delivers_every_record(self, log: EventLog) -> None:
        """start="origin": every record, in position order."""
        append(log, 5)
        with Follower(log, "c", start="origin") as follower:
            assert not follower.resumed
            assert positions(follower.poll()) == [1, 2, 3, 4, 5]
            assert follower.poll() == []

    def test_now_delivers_only_later_records(self, log: EventLog) -> None:
        """start="now": nothing recorded before the start, everything after."""
        append(log, 3)
        with Follower(log, "c", start="now") as follower:
            assert follower.checkpoint == 3
            assert follower.poll() == []
            append(log, 2)
            assert positions(follower.poll()) == [4, 5]

    def test_now_is_stored_at_once(
        self, log: EventLog, reopen: Callable[[], EventLog]
    ) -> None:
        """A "now" consumer stopped before its first ack resumes at that "now", not later."""
        append(log, 3)
        with Follower(log, "c", start="now"):
            pass
        assert Checkpoints(log).get("c") == 3
        append(log, 2)
        with Follower(reopen(), "c", start="now") as follower:
            assert follower.resumed
            assert positions(follower.poll()) == [4, 5]

    def test_a_position_delivers_the_records_after_it(self, log: EventLog) -> None:
        """start=N: the records after position N."""
        append(log, 5)
        with Follower(log, "c", start=2) as follower:
            assert positions(follower.poll()) == [3, 4, 5]

    def test_a_later_run_resumes_whatever_start_says(
        self, log: EventLog, reopen: Callable[[], EventLog]
    ) -> None:
        """Once a checkpoint is stored, start is ignored: origin, now or a position."""
        append(log, 6)
        with Follower(log, "c", start=2) as follower:
            follower.poll(limit=2)
            follower.ack()
        for start in ("origin", "now", 5):
            with Follower(reopen(), "c", start=start) as follower:  # type: ignore[arg-type]
                assert follower.resumed
                assert follower.checkpoint == 4
                assert positions(follower.poll()) == [5, 6]

    def test_a_nameless_follower_stores_nothing(self, log: EventLog) -> None:
        """name=None: the checkpoint lives in the object; no transaction to move it in."""
        append(log, 3)
        with Follower(log, None, start=1) as follower:
            assert positions(follower.poll()) == [2, 3]
            follower.ack()
            assert follower.checkpoint == 3
            with pytest.raises(FollowerError, match="no stored checkpoint"), \
                    follower.transaction():
                pass
        assert Checkpoints(log).all() == {}

    @pytest.mark.parametrize(
        ("arguments", "message"),
        [
            ({"name": ""}, "1 to 200 characters"),
            ({"name": "x" * 201}, "1 to 200 characters"),
            ({"name": "a\x00b"}, "no NUL"),
            ({"name": 7}, "must be a string"),
            ({"start": "later"}, "'origin', 'now' or a position"),
            ({"start": -1}, "integer >= 0"),
            ({"start": True}, "integer >= 0"),
            ({"batch_size": 0}, "batch_size"),
            ({"poll_interval": 0}, "poll_interval"),
            ({"fallback_interval": float("nan")}, "fallback_interval"),
            ({"lock_timeout": -1}, "lock_timeout"),
        ],
    )
    def test_bad_arguments_are_refused(
        self, log: EventLog, arguments: dict[str, Any], message: str
    ) -> None:
        """A bad name, start, batch size, interval or timeout: FollowerError, nothing stored."""
        kwargs: dict[str, Any] = {"name": "c", **arguments}
        with pytest.raises(FollowerError, match=message):
            Follower(log, **kwargs)
        assert Checkpoints(log).all() == {}

    def test_a_log_without_consumer_store_is_refused(self) -> None:
        """A log that is not one of the three backends cannot be followed."""

        class Bare:
            def head(self) -> int:
                return 0

        with pytest.raises(FollowerError, match="cannot be followed"):
            Follower(Bare(), "c")  # type: ignore[arg-type]


class TestAck:
    def test_acknowledged_survives_a_reopen(
        self, log: EventLog, reopen: Callable[[], EventLog]
    ) -> None:
        """After ack() returns, a new follower of the name starts after it."""
        append(log, 4)
        with Follower(log, "c") as follower:
            assert positions(follower.poll()) == [1, 2, 3, 4]
            follower.ack(3)
        with Follower(reopen(), "c") as follower:
            assert follower.checkpoint == 3
            assert positions(follower.poll()) == [4]

    def test_two_batches_acked_partially(
        self, log: EventLog, reopen: Callable[[], EventLog]
    ) -> None:
        """Each batch acked up to its middle: the next run starts after the last ack."""
        append(log, 7)
        with Follower(log, "c", batch_size=3) as follower:
            assert positions(follower.poll()) == [1, 2, 3]
            follower.ack(2)
            assert positions(follower.poll()) == [4, 5, 6]  # delivery goes on past acks
            follower.ack(5)
            assert (follower.checkpoint, follower.position) == (5, 6)
        assert Checkpoints(reopen()).get("c") == 5
        with Follower(reopen(), "c", batch_size=3) as follower:
            assert positions(follower.poll()) == [6, 7]

    def test_ack_out_of_range_is_refused(self, log: EventLog) -> None:
        """Before the checkpoint, or after the last record delivered: refused, not stored."""
        append(log, 4)
        with Follower(log, "c") as follower:
            follower.poll(limit=2)
            with pytest.raises(FollowerError, match=r"between its checkpoint 0 and .* 2"):
                follower.ack(3)
            follower.ack(2)
            with pytest.raises(FollowerError, match="between its checkpoint 2"):
                follower.ack(1)
            with pytest.raises(FollowerError, match="a position"):
                follower.ack(-1)
            follower.ack(2)  # where it is: nothing to do
        assert Checkpoints(log).get("c") == 2

    def test_rewind_delivers_the_unacknowledged_again(self, log: EventLog) -> None:
        """rewind(): delivery goes back to the checkpoint, as a restart would."""
        append(log, 4)
        with Follower(log, "c") as follower:
            follower.poll()
            follower.ack(1)
            follower.rewind()
            assert positions(follower.poll()) == [2, 3, 4]

    def test_a_closed_follower_refuses(self, log: EventLog) -> None:
        """After close(): poll and ack raise FollowerError."""
        follower = Follower(log, "c")
        follower.close()
        follower.close()  # twice is fine
        for call in (follower.poll, follower.ack, follower.rewind):
            with pytest.raises(FollowerError, match="closed"):
                call()


class TestTransaction:
    def test_own_writes_and_the_checkpoint_commit_together(
        self, log: EventLog, reopen: Callable[[], EventLog], backend: str
    ) -> None:
        """Rows written in transaction() and the checkpoint are both there afterwards."""
        append(log, 3)
        table, mark = table_and_mark(log)
        with Follower(log, "c") as follower:
            batch = follower.poll()
            with follower.transaction() as connection:
                if backend == "memory":
                    assert connection is None
                else:
                    connection.execute(f"CREATE TABLE {table} (position bigint)")
                    for record in batch:
                        connection.execute(
                            f"INSERT INTO {table} VALUES ({mark})", (record.position,)
                        )
            assert follower.checkpoint == 3
        assert Checkpoints(reopen()).get("c") == 3
        if backend != "memory":
            assert self._rows(reopen(), table) == [1, 2, 3]

    def test_a_failure_inside_rolls_back_both(
        self, log: EventLog, reopen: Callable[[], EventLog], backend: str
    ) -> None:
        """An exception in the block: neither the rows nor the checkpoint move."""
        append(log, 3)
        table, mark = table_and_mark(log)
        with Follower(log, "c") as follower:
            if backend != "memory":
                with follower.transaction(ack=0) as connection:
                    connection.execute(f"CREATE TABLE {table} (position bigint)")
            batch = follower.poll()

            def handle_and_fail() -> None:
                with follower.transaction(ack=2) as connection:
                    if connection is not None:
                        connection.execute(f"INSERT INTO {table} VALUES ({mark})", (1,))
                        connection.execute(f"INSERT INTO {table} VALUES ({mark})", (2,))
                    raise RuntimeError("the mail server is down")

            with pytest.raises(RuntimeError, match="the mail server"):
                handle_and_fail()
            assert follower.checkpoint == 0
            assert Checkpoints(reopen()).get("c") == 0
            if backend != "memory":
                assert self._rows(reopen(), table) == []
            # It can try again, the same records still delivered.
            with follower.transaction(ack=batch[-1].position) as connection:
                if connection is not None:
                    connection.execute(f"INSERT INTO {table} VALUES ({mark})", (1,))
        assert Checkpoints(reopen()).get("c") == 3

    def test_committing_inside_the_block_is_refused_on_sqlite(self, tmp_path: Path) -> None:
        """The follower commits: a block that commits itself is an error."""
        with open_log(tmp_path / "log.db", registry=TEST_REGISTRY) as log:
            append(log, 1)
            with Follower(log, "c") as follower:
                follower.poll()
                with pytest.raises(FollowerError, match="leave that to the follower"), \
                        follower.transaction() as connection:
                    connection.execute("COMMIT")

    @staticmethod
    def _rows(log: EventLog, table: str) -> list[int]:
        with Follower(log, "reader-of-rows", start="now") as reader, \
                reader.transaction() as connection:
            rows = connection.execute(f"SELECT position FROM {table} ORDER BY 1").fetchall()
        return [row[0] for row in rows]


class TestOneFollowerPerName:
    def test_a_second_follower_of_a_name_is_refused(self, log: EventLog) -> None:
        """While one follower runs, another of the same name raises ConsumerBusyError."""
        with Follower(log, "c"):
            with pytest.raises(ConsumerBusyError, match="'c' is being followed"):
                Follower(log, "c")
            with Follower(log, "other"):  # another name is free
                pass
        with Follower(log, "c"):  # released on close
            pass

    def test_a_standby_takes_over_when_the_first_stops(
        self, log: EventLog, reopen: Callable[[], EventLog]
    ) -> None:
        """lock_timeout: the second waits, then resumes from the first's last ack."""
        append(log, 3)
        first = Follower(log, "c")
        first.poll()
        first.ack(2)
        result: queue.Queue[Follower | BaseException] = queue.Queue()
        other = reopen()

        def standby() -> None:
            try:
                result.put(Follower(other, "c", lock_timeout=20, **FAST))
            except BaseException as error:  # noqa: BLE001 - handed to the test
                result.put(error)

        thread = threading.Thread(target=standby)
        thread.start()
        time.sleep(0.2)
        assert result.empty(), "the standby did not wait"
        first.close()
        thread.join(timeout=20)
        second = result.get(timeout=1)
        assert isinstance(second, Follower)
        with second:
            assert second.resumed
            assert positions(second.poll()) == [3]

    def test_setting_a_checkpoint_fences_the_running_follower(
        self, log: EventLog, reopen: Callable[[], EventLog]
    ) -> None:
        """Checkpoints.set: the running follower's next ack raises; nothing of it is stored."""
        append(log, 5)
        with Follower(log, "c") as follower:
            follower.poll()
            follower.ack(1)
            with Checkpoints(reopen()) as checkpoints:
                checkpoints.set("c", 4)
                assert checkpoints.get("c") == 4
            with pytest.raises(ConsumerSupersededError, match="'c' was taken over"):
                follower.ack(3)
            with pytest.raises(ConsumerSupersededError), follower.transaction(ack=3):
                pytest.fail("the block must not run")
            assert follower.checkpoint == 1
        assert Checkpoints(reopen()).get("c") == 4
        with Follower(reopen(), "c") as follower:
            assert positions(follower.poll()) == [5]

    def test_deleting_a_checkpoint_starts_the_name_afresh(
        self, log: EventLog, reopen: Callable[[], EventLog]
    ) -> None:
        """Checkpoints.delete: fences the running follower; the next run is a first run."""
        append(log, 3)
        with Follower(log, "c") as follower:
            follower.poll()
            follower.ack()
            with Checkpoints(reopen()) as checkpoints:
                assert checkpoints.all() == {"c": 3}
                assert checkpoints.delete("c")
                assert not checkpoints.delete("c")
                assert checkpoints.get("c") is None
                assert checkpoints.all() == {}
            append(log, 1)
            follower.poll()
            with pytest.raises(ConsumerSupersededError):
                follower.ack()
        with Follower(reopen(), "c", start=1) as follower:
            assert not follower.resumed
            assert positions(follower.poll()) == [2, 3, 4]

    def test_checkpoints_lists_the_consumers(self, log: EventLog) -> None:
        """Checkpoints.all: every stored checkpoint, by name; set creates one."""
        append(log, 2)
        with Follower(log, "b", start="now"), Follower(log, "a"):
            pass
        with Checkpoints(log) as checkpoints:
            checkpoints.set("z", 7)
            assert checkpoints.all() == {"a": 0, "b": 2, "z": 7}
            with pytest.raises(FollowerError):
                checkpoints.set("z", -1)


class TestWaiting:
    def test_next_batch_waits_for_an_append(self, log: EventLog) -> None:
        """next_batch(timeout) returns the records appended while it waits."""
        with Follower(log, "c", **FAST) as follower:
            timer = threading.Timer(0.2, append, (log, 2))
            timer.start()
            started = time.monotonic()
            batch = follower.next_batch(timeout=10)
            assert time.monotonic() - started < 5
            timer.join()
            batch += follower.next_batch(timeout=1) if len(batch) < 2 else []
            assert positions(batch) == [1, 2]

    def test_next_batch_times_out_empty(self, log: EventLog) -> None:
        """Nothing appended: next_batch returns [] after its timeout; 0 does not wait."""
        with Follower(log, "c", **FAST) as follower:
            started = time.monotonic()
            assert follower.next_batch(timeout=0.2) == []
            assert 0.15 < time.monotonic() - started < 3
            assert follower.next_batch(timeout=0) == []

    def test_stop_ends_the_batches_from_another_thread(self, log: EventLog) -> None:
        """stop() from another thread ends a for-loop over the follower at once."""
        append(log, 2)
        seen: list[int] = []
        with Follower(log, "c", poll_interval=30, fallback_interval=30) as follower:
            threading.Timer(0.3, follower.stop).start()
            started = time.monotonic()
            for batch in follower:
                seen += positions(batch)
            assert time.monotonic() - started < 5
            assert follower.stopped
            follower.ack()  # acknowledging still works after a stop
        assert seen == [1, 2]
        assert Checkpoints(log).get("c") == 2

    def test_batches_end_when_idle(self, log: EventLog) -> None:
        """batches(idle_timeout=0): the log read to its end, then the loop ends."""
        append(log, 5)
        with Follower(log, "c", batch_size=2) as follower:
            assert [positions(b) for b in follower.batches(idle_timeout=0)] == [
                [1, 2], [3, 4], [5]
            ]

    def test_the_watcher_waits_for_records_after_a_position(self, log: EventLog) -> None:
        """LogWatcher.wait: True at once if there are records after; else when one comes."""
        append(log, 1)
        with LogWatcher(log, **FAST) as watcher:
            assert watcher.wait(0, timeout=0)
            assert not watcher.wait(1, timeout=0.1)
            threading.Timer(0.2, append, (log, 1)).start()
            assert watcher.wait(1, timeout=10)
            watcher.interrupt()
            assert not watcher.wait(2, timeout=10)  # interrupted: at once


@pytest.mark.postgres
class TestPostgres:
    @pytest.fixture
    def pg_url(self, fresh_postgres_url: str) -> str:
        return fresh_postgres_url

    def test_a_late_commit_is_delivered_not_skipped(self, pg_url: str) -> None:
        """A position committed after a higher one is delivered, in order, then the higher."""
        from alliance_events.log.postgres import PostgresLog

        with open_log(pg_url, registry=TEST_REGISTRY) as log:
            assert isinstance(log, PostgresLog)
            append(log, 1)
            with Follower(log, "c", **FAST) as follower:
                assert positions(follower.poll()) == [1]
                slow = hold_open_append(log, "slow", "late")  # takes position 2
                append(log, 1, "fast")  # position 3 commits first
                assert follower.next_batch(timeout=0.3) == []  # waits before the hole
                slow.commit()
                slow.close()
                batch = follower.next_batch(timeout=5)
                batch += follower.next_batch(timeout=1) if len(batch) < 2 else []
                assert positions(batch) == [2, 3]
                follower.ack()
            assert Checkpoints(log).get("c") == 3

    def test_listen_wakes_a_follower_soon_after_another_process_appends(
        self, pg_url: str, record_property: Any
    ) -> None:
        """NOTIFY wakes a waiting follower within ~100 ms of an append by another process."""
        rounds = 20
        with open_log(pg_url, registry=TEST_REGISTRY) as log, Follower(
            log, "c", start="now", poll_interval=30, fallback_interval=30
        ) as follower:
            child = Worker(["append", pg_url])
            try:
                child.expect("ready")
                latencies = []
                for _ in range(rounds):
                    child.send("go\n")
                    batch = follower.next_batch(timeout=10)
                    woken = time.monotonic()
                    before, after = map(float, child.expect_line().split())
                    assert len(batch) == 1, "the follower was not woken in time"
                    latencies.append((woken - before, woken - after))
                    follower.ack()
            finally:
                child.close()
        from_start = sorted(1000 * a for a, _ in latencies)
        from_return = sorted(1000 * b for _, b in latencies)
        summary = (
            f"LISTEN/NOTIFY wake-up over {rounds} appends by another process: from the "
            f"append's start median {statistics.median(from_start):.1f} ms, max "
            f"{from_start[-1]:.1f} ms; from its return median "
            f"{statistics.median(from_return):.1f} ms, max {from_return[-1]:.1f} ms"
        )
        print(summary)
        record_property("listen_median_ms", round(statistics.median(from_start), 1))
        record_property("listen_max_ms", round(from_start[-1], 1))
        assert from_start[-1] < 1000, summary  # generous: the design aims at ~100 ms

    def test_with_notify_off_a_follower_polls(self, pg_url: str) -> None:
        """?notify=off: nobody notifies, the follower looks every poll_interval."""
        with open_log(pg_url + "&notify=off", registry=TEST_REGISTRY) as log, \
                Follower(log, "c", poll_interval=0.05, fallback_interval=30) as follower:
            threading.Timer(0.2, append, (log, 1)).start()
            started = time.monotonic()
            assert positions(follower.next_batch(timeout=10)) == [1]
            assert time.monotonic() - started < 5

    def test_a_killed_holder_releases_the_name(self, pg_url: str) -> None:
        """SIGKILL of the process holding a name frees it: a waiting follower takes over."""
        with open_log(pg_url, registry=TEST_REGISTRY) as log:
            child = Worker(["hold", pg_url, "c"])
            try:
                child.expect("ready")
                with pytest.raises(ConsumerBusyError):
                    Follower(log, "c")
                child.kill()
                with Follower(log, "c", lock_timeout=20) as follower:
                    assert follower.resumed
            finally:
                child.close()

    def test_the_feed_server_is_woken_by_notify(self, pg_url: str) -> None:
        """A meeting scheduled by another process shows in the feed well before a poll."""
        from alliance_events.web import create_app

        with Alliance.open(pg_url) as alliance, Alliance.open(pg_url) as writer:
            app = create_app(alliance, poll_interval=30)
            with running(app) as client:
                before = client.get("/calendar.ics", headers=IDENTITY)
                writer.schedule_meeting(title="Woken by NOTIFY", first_day="2031-05-05")
                started = time.monotonic()
                while b"Woken by NOTIFY" not in client.get(
                    "/calendar.ics", headers=IDENTITY
                ).content:
                    assert time.monotonic() - started < 3, "the feed server was not woken"
                    time.sleep(0.02)
                assert client.get("/healthz").json()["position"] == writer.log.head()
            assert before.status_code == 200


class TestMigration:
    def test_a_sqlite_database_from_before_checkpoints_is_upgraded(
        self, tmp_path: Path
    ) -> None:
        """An events-only database (user_version 0) gains the checkpoints table on open."""
        path = tmp_path / "old.db"
        with open_log(path, registry=TEST_REGISTRY) as log:
            append(log, 3)
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute("DROP TABLE checkpoints")
            db.execute("PRAGMA user_version = 0")
            db.commit()
        with open_log(path, registry=TEST_REGISTRY) as log:
            assert positions(list(log.read_all())) == [1, 2, 3]
            with Follower(log, "c") as follower:
                follower.poll()
                follower.ack()
            assert Checkpoints(log).get("c") == 3
        with contextlib.closing(sqlite3.connect(path)) as db:
            assert db.execute("PRAGMA user_version").fetchone()[0] == sqlite_log._SCHEMA_VERSION

    def test_a_current_sqlite_database_opens_without_writing(self, tmp_path: Path) -> None:
        """Opening a current database takes no write lock (another writer holds it)."""
        path = tmp_path / "log.db"
        with open_log(path, registry=TEST_REGISTRY):
            pass
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")
            started = time.monotonic()
            with open_log(f"sqlite:///{path}?busy_timeout=2", registry=TEST_REGISTRY) as log:
                assert log.head() == 0
            assert time.monotonic() - started < 1
            other.execute("ROLLBACK")

    @pytest.mark.postgres
    def test_a_postgres_schema_5_is_upgraded(self, fresh_postgres_url: str) -> None:
        """A schema of version 5 (no checkpoints) is brought up to date on open."""
        with open_log(fresh_postgres_url, registry=TEST_REGISTRY) as log:
            append(log, 2)
            schema = log.schema  # type: ignore[attr-defined]
        with psycopg.connect(postgres_dsn(), autocommit=True) as db:
            db.execute(f'DROP TABLE "{schema}".checkpoints')
            db.execute(f"UPDATE \"{schema}\".meta SET value = '5' WHERE key = 'schema_version'")
        with open_log(fresh_postgres_url, registry=TEST_REGISTRY) as log:
            with Follower(log, "c", start="now") as follower:
                assert follower.checkpoint == 2
            assert Checkpoints(log).all() == {"c": 2}
        with psycopg.connect(postgres_dsn(), autocommit=True) as db:
            row = db.execute(
                f"SELECT value FROM \"{schema}\".meta WHERE key = 'schema_version'"
            ).fetchone()
            assert row == (str(postgres_log._SCHEMA_VERSION),)

    def test_a_sqlite_memory_database_cannot_be_followed(self) -> None:
        """sqlite:///:memory: is one connection's own database: refused, with the reason."""
        with open_log("sqlite:///:memory:", registry=TEST_REGISTRY) as log, \
                pytest.raises(FollowerError, match="in-memory"):
            Follower(log, "c")


# -- a state machine: any interleaving of appends, acks and restarts ----------------------


class FollowerMachine(RuleBasedStateMachine):
    """A follower against a model: nothing acknowledged comes again, nothing is lost.

    The model is three numbers: the head, the durable checkpoint and the last position
    delivered since the last (re)start. Restarts reopen the log handle (SQLite) and pass
    a random ``start``, which a resumed follower must ignore. On SQLite, acknowledgements
    in a transaction write the records to a table of the consumer's own; some fail
    inside, and neither their rows nor their checkpoint may stay.
    """

    backend = "memory"

    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.log = self._open()
        self.follower: Follower | None = None
        self.head = 0
        self.checkpoint = 0
        self.delivered = 0
        self.written: list[int] = []  # what the own-writes table must hold

    def _open(self) -> EventLog:
        if self.backend == "memory":
            return MemoryLog(codec=Codec(TEST_REGISTRY))
        url = f"sqlite:///{Path(self.folder.name) / 'log.db'}?synchronous=NORMAL"
        return open_log(url, registry=TEST_REGISTRY)  # no power cut here: NORMAL is enough

    @initialize(before=st.integers(0, 4))
    def start(self, before: int) -> None:
        self.head = len(append(self.log, before))
        self.follower = Follower(self.log, "m", start="origin", batch_size=3)
        if self.backend == "sqlite":
            with self.follower.transaction(ack=0) as connection:
                connection.execute("CREATE TABLE mine (position INTEGER NOT NULL)")

    @rule(count=st.integers(1, 4))
    def append_events(self, count: int) -> None:
        self.head = append(self.log, count)[-1]

    @rule(limit=st.integers(1, 5))
    def poll(self, limit: int) -> None:
        assert self.follower is not None
        batch = self.follower.poll(limit)
        last = min(self.head, self.delivered + min(limit, 3))
        expected = list(range(self.delivered + 1, last + 1))
        assert positions(batch) == expected, "a record lost, repeated or out of order"
        self.delivered = self.follower.position

    @rule(data=st.data(), in_transaction=st.booleans(), fail=st.booleans())
    def ack(self, data: st.DataObject, in_transaction: bool, fail: bool) -> None:
        assert self.follower is not None
        position = data.draw(st.integers(self.checkpoint, self.delivered), label="position")
        if not in_transaction:
            self.follower.ack(position)
            self.checkpoint = position
            return
        handled = list(range(self.checkpoint + 1, position + 1))
        with contextlib.suppress(RuntimeError), \
                self.follower.transaction(ack=position) as connection:
            if connection is not None:
                connection.executemany(
                    "INSERT INTO mine (position) VALUES (?)", [(p,) for p in handled]
                )
            if fail:
                raise RuntimeError("the consumer failed: nothing moves")
        if not fail:
            self.written += handled
            self.checkpoint = position

    @rule(start=st.sampled_from(["origin", "now", 0, 2, 50]))
    def restart(self, start: Any) -> None:
        assert self.follower is not None
        self.follower.close()
        if self.backend != "memory":
            self.log.close()
            self.log = self._open()
        self.follower = Follower(self.log, "m", start=start, batch_size=3)
        assert self.follower.resumed
        self.delivered = self.checkpoint

    @rule()
    def rewind(self) -> None:
        assert self.follower is not None
        self.follower.rewind()
        self.delivered = self.checkpoint

    @invariant()
    def the_checkpoint_is_the_last_acknowledgement(self) -> None:
        if self.follower is not None:
            assert (self.follower.checkpoint, self.follower.position) == (
                self.checkpoint, self.delivered
            )

    def teardown(self) -> None:
        try:
            if self.follower is not None:
                if self.backend == "sqlite":
                    with self.follower.transaction(ack=self.checkpoint) as connection:
                        rows = connection.execute("SELECT position FROM mine").fetchall()
                    assert sorted(row[0] for row in rows) == self.written
                # Nothing lost: reading on from the checkpoint reaches the head.
                self.follower.rewind()
                rest = [p for b in self.follower.batches(idle_timeout=0) for p in positions(b)]
                assert rest == list(range(self.checkpoint + 1, self.head + 1))
                self.follower.close()
                with Checkpoints(self.log) as checkpoints:
                    assert checkpoints.get("m") == self.checkpoint
            self.log.close()
        finally:
            self.folder.cleanup()


class SQLiteFollowerMachine(FollowerMachine):
    backend = "sqlite"


TestFollowerMachineMemory = FollowerMachine.TestCase
TestFollowerMachineMemory.settings = settings(
    max_examples=60, stateful_step_count=25, deadline=None
)
TestFollowerMachineSQLite = SQLiteFollowerMachine.TestCase
TestFollowerMachineSQLite.settings = settings(
    max_examples=25, stateful_step_count=20, deadline=None
)


# -- consumers killed with SIGKILL while a writer appends ------------------------------


class Worker:
    """A ``python -m tests._follow_workers`` child whose stdout lines a thread reads."""

    def __init__(self, args: list[str], stderr: Path | None = None) -> None:
        self.args = args
        self._stderr_path = stderr
        self._stderr: IO[str] | int = (
            stderr.open("w") if stderr is not None else subprocess.DEVNULL
        )
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests._follow_workers", *args],
            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr,
            text=True,
        )
        self._lines: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def describe(self) -> str:
        text = ""
        if self._stderr_path is not None:
            with contextlib.suppress(OSError):
                text = self._stderr_path.read_text()[-3000:]
        return f"worker {self.args} (exit {self.process.poll()}): {text}"

    def expect_line(self, timeout: float = READY_TIMEOUT) -> str:
        try:
            line = self._lines.get(timeout=timeout)
        except queue.Empty:
            self.close()
            pytest.fail(f"no line within {timeout} s from {self.describe()}")
        if line is None:
            self.close()
            pytest.fail(f"the output ended early: {self.describe()}")
        return line

    def expect(self, expected: str, timeout: float = READY_TIMEOUT) -> None:
        line = self.expect_line(timeout)
        if line != expected:
            self.close()
            pytest.fail(f"expected {expected!r}, got {line!r} from {self.describe()}")

    def send(self, text: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(text)
        self.process.stdin.flush()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=30)

    def close(self) -> None:
        self.kill()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                with contextlib.suppress(OSError):
                    pipe.close()
        if not isinstance(self._stderr, int):
            self._stderr.close()


KILLS = {"sqlite": 12, "postgres": 12}  # per consumer
KILL_DELAY = (0.02, 0.5)  # seconds between a consumer's "ready" and its SIGKILL


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """``(backend, url)`` of a fresh store that other processes can open."""
    if request.param == "sqlite":
        return "sqlite", f"sqlite:///{tmp_path / 'log.db'}"
    return "postgres", str(request.getfixturevalue("fresh_postgres_url"))


def _writer(url: str, stop: threading.Event, errors: list[BaseException]) -> None:
    """Append batches of 1-3 events to a few streams until stopped."""
    rng = random.Random(7)
    try:
        with open_log(url, registry=TEST_REGISTRY) as log:
            while not stop.is_set():
                stream = rng.choice(("w-a", "w-b", "w-c"))
                events = [Noted(event_id=new_id(), text=stream) for _ in range(rng.randint(1, 3))]
                log.append(stream, events, expected_version=ANY)
                time.sleep(rng.uniform(0.002, 0.008))  # ~200 appends a second
    except BaseException as error:  # noqa: BLE001 - reported by the test
        errors.append(error)


def _kill_many(args: list[str], kills: int, seed: int, tmp_path: Path, label: str) -> int:
    """Start the consumer, kill it at a random moment, ``kills`` times; return the kills."""
    rng = random.Random(seed)
    for round_number in range(kills):
        worker = Worker(args, tmp_path / f"{label}-{round_number}.stderr")
        try:
            worker.expect("ready")
            time.sleep(rng.uniform(*KILL_DELAY))
            if worker.process.poll() is not None:
                pytest.fail(f"{label} ended before its kill: {worker.describe()}")
            worker.kill()
            assert worker.process.returncode == -signal.SIGKILL
        finally:
            worker.close()
    return kills


def _drain(args: list[str], tmp_path: Path, label: str) -> None:
    worker = Worker(args, tmp_path / f"{label}-final.stderr")
    try:
        worker.expect("ready")
        worker.expect("done", timeout=60)
        assert worker.process.wait(timeout=30) == 0, worker.describe()
    finally:
        worker.close()


def _check_file(lines: list[str], head: int) -> tuple[int, int, int]:
    """Check the file consumer's lines; return (runs, duplicates, acks cut by a kill)."""
    runs: list[tuple[int, list[int], list[int]]] = []
    for line in lines:
        kind, number = line.split()
        if kind == "start":
            runs.append((int(number), [], []))
        else:
            assert runs, f"a {kind} line before any start"
            (runs[-1][1] if kind == "rec" else runs[-1][2]).append(int(number))
    acked = 0  # the highest acknowledgement written to the file so far
    last_delivered = 0
    cut = 0
    seen: Counter[int] = Counter()
    for start, records, acks in runs:
        # Acknowledged is durable: the run starts at or after every ack that returned.
        assert start >= acked, f"a run started at {start}, before the ack of {acked}"
        assert start <= max(last_delivered, acked), "a run started past what was delivered"
        cut += start > acked
        # Nothing lost, nothing out of order: each run delivers on from its checkpoint.
        assert records == list(range(start + 1, start + 1 + len(records))), (
            f"the run from {start} delivered {records[:10]}..."
        )
        for position in records:
            if seen[position]:
                assert position > start >= acked, f"{position} delivered again after its ack"
            seen[position] += 1
        assert acks == sorted(acks)
        if acks:
            acked = acks[-1]
        if records:
            last_delivered = records[-1]
    assert set(seen) == set(range(1, head + 1)), "a record never reached the file"
    return len(runs), sum(n - 1 for n in seen.values()), cut


@pytest.mark.slow
def test_consumers_killed_at_random_resume_from_their_checkpoints(
    store: tuple[str, str], tmp_path: Path, record_property: Any
) -> None:
    """SIGKILLed consumers lose nothing and repeat nothing they acknowledged.

    A writer appends all along. The transactional consumer's table ends with every
    record exactly once; the file consumer's file has every record at least once, and a
    record twice only if it came after the last acknowledgement before a kill.
    """
    backend, url = store
    seed = int.from_bytes(os.urandom(4), "big")
    print(f"{backend}: seed {seed}")
    record_property("seed", seed)
    with open_log(url, registry=TEST_REGISTRY) as log:  # the tables, before the children
        assert log.head() == 0
    file = tmp_path / "consumer.txt"
    tx_args = ["consume-tx", url, "tx", str(seed)]
    file_args = ["consume-file", url, "file", str(file), str(seed)]
    stop = threading.Event()
    errors: list[BaseException] = []
    writer = threading.Thread(target=_writer, args=(url, stop, errors))
    started = time.monotonic()
    writer.start()
    kills: dict[str, int] = {}
    try:
        lanes = [
            threading.Thread(target=lambda a=args, k=kind: kills.__setitem__(
                k, _kill_many(a, KILLS[backend], seed + len(k), tmp_path, k)))
            for kind, args in (("tx", tx_args), ("file", file_args))
        ]
        for lane in lanes:
            lane.start()
        for lane in lanes:
            lane.join(timeout=300)
    finally:
        stop.set()
        writer.join(timeout=30)
    assert not errors, f"the writer failed: {errors[0]!r}"
    assert set(kills) == {"tx", "file"}, "a lane of kills failed (see above)"
    with open_log(url, registry=TEST_REGISTRY) as log:
        head = log.head()
        with Checkpoints(log) as checkpoints:
            at_kill = checkpoints.all()
    # Both consumers catch up to the end, then stop by themselves.
    _drain([*tx_args, str(head)], tmp_path, "tx")
    _drain([*file_args, str(head)], tmp_path, "file")

    with open_log(url, registry=TEST_REGISTRY) as log:
        assert Checkpoints(log).all() == {"tx": head, "file": head}
        table, _ = table_and_mark(log, "handled_tx")  # the worker's table
        with Follower(log, "verifier", start="now") as reader, \
                reader.transaction() as connection:
            rows = connection.execute(f"SELECT position FROM {table}").fetchall()
    handled = Counter(row[0] for row in rows)
    twice = {p: n for p, n in handled.items() if n != 1}
    assert not twice, f"the transactional consumer handled some records twice: {twice}"
    assert set(handled) == set(range(1, head + 1)), "the transactional consumer lost records"
    runs, duplicates, cut = _check_file(file.read_text().splitlines(), head)
    summary = (
        f"{backend}: {kills['tx']} + {kills['file']} SIGKILLs in "
        f"{time.monotonic() - started:.1f} s while a writer appended {head} records "
        f"(checkpoints at the last kill: {at_kill}); transactional consumer: each record "
        f"once; file consumer: {runs} runs, {duplicates} records written twice (all after "
        f"the last ack before a kill), {cut} kills landed between an ack and its line"
    )
    print(summary)
    record_property("kills", kills["tx"] + kills["file"])
    record_property("records", head)
    record_property("file_duplicates", duplicates)
    assert head > 0
