"""What only the PostgreSQL log has: late commits, holes, migrations, NOTIFY."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from alliance_events import new_id, open_log
from alliance_events.errors import ConcurrencyError
from alliance_events.log.postgres import PostgresLog

from .helpers import hold_open_append, postgres_dsn
from .sample_events import TEST_REGISTRY, Noted


def _noted(text: str) -> Noted:
    """A test.Noted event with a new id."""
    return Noted(event_id=new_id(), text=text)


pytestmark = pytest.mark.postgres


@pytest.fixture
def url(fresh_postgres_url: str) -> str:
    return fresh_postgres_url


@pytest.fixture
def log(url: str) -> Iterator[PostgresLog]:
    handle = open_log(url, registry=TEST_REGISTRY)
    assert isinstance(handle, PostgresLog)
    yield handle
    handle.close()


def _naive_positions(log: PostgresLog, after: int) -> list[int]:
    with psycopg.connect(postgres_dsn()) as connection:
        rows = connection.execute(
            f'SELECT position FROM "{log.schema}".events WHERE position > %s ORDER BY position',
            (after,),
        ).fetchall()
    return [row[0] for row in rows]


class TestLateCommit:
    def test_naive_reader_skips_but_ours_waits_for_the_late_commit(self, log: PostgresLog) -> None:
        """A position taken early but committed late is read in order; a naive reader skips it."""
        log.append("first", [_noted("1")], expected_version=0)
        slow = hold_open_append(log, "slow", "late")  # takes position 2, holds it
        log.append("fast", [_noted("early")], expected_version=0)  # position 3, commits

        # The naive reader ("position > last seen") sees 3 and remembers it ...
        naive_seen = _naive_positions(log, after=1)
        assert naive_seen == [3]
        # ... ours stops before the hole, because the writer of 2 is still running.
        assert [r.position for r in log.read_all(after=1)] == []
        assert log.head() == 1

        slow.commit()
        slow.close()
        # Once 2 commits, the naive reader that checkpointed at 3 never sees it again:
        assert _naive_positions(log, after=naive_seen[-1]) == []
        # ours reads 2 then 3, in order.
        records = list(log.read_all(after=1))
        assert [(r.position, r.event.text) for r in records] == [(2, "late"), (3, "early")]
        assert log.head() == 3

    def test_a_rolled_back_position_is_skipped_once_settled(self, log: PostgresLog) -> None:
        """A hole left by a failed writer blocks readers only while that writer runs."""
        log.append("first", [_noted("1")], expected_version=0)
        failing = hold_open_append(log, "failing", "never")  # position 2
        log.append("after", [_noted("3")], expected_version=0)  # position 3
        assert list(log.read_all(after=1)) == []
        failing.rollback()
        failing.close()
        assert [r.position for r in log.read_all()] == [1, 3]
        assert log.head() == 3

    def test_a_running_unrelated_transaction_does_not_block_readers(self, log: PostgresLog) -> None:
        """Only writers of this log matter: another session's open transaction does not."""
        with psycopg.connect(postgres_dsn()) as other:
            other.execute("CREATE TEMP TABLE unrelated (x int)")
            other.execute("INSERT INTO unrelated VALUES (1)")  # holds an xid, stays open
            log.append("a", [_noted("1")], expected_version=0)
            failing = hold_open_append(log, "failing", "never")
            log.append("b", [_noted("3")], expected_version=0)
            failing.rollback()
            failing.close()
            assert [r.position for r in log.read_all()] == [1, 3]

    def test_reader_racing_many_writers_never_goes_back(self, url: str) -> None:
        """Followers reading while four threads append see every event once, in order."""
        writers = [open_log(url, registry=TEST_REGISTRY) for _ in range(4)]
        reader = open_log(url, registry=TEST_REGISTRY)
        stop = time.monotonic() + 1.5
        written: list[int] = []

        def write(index: int) -> None:
            count = 0
            while time.monotonic() < stop:
                records = writers[index].append(
                    f"w{index}", [_noted(f"{index}-{count}")], expected_version=count
                )
                written.extend(r.position for r in records)
                count += 1

        threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
        for thread in threads:
            thread.start()
        seen: list[int] = []
        while any(t.is_alive() for t in threads):
            seen.extend(r.position for r in reader.read_all(after=seen[-1] if seen else 0))
        for thread in threads:
            thread.join()
        seen.extend(r.position for r in reader.read_all(after=seen[-1] if seen else 0))
        assert seen == sorted(written)
        assert seen == list(range(1, len(seen) + 1))
        for handle in [*writers, reader]:
            handle.close()


class TestMigration:
    def test_reopening_a_current_schema_takes_no_lock(self, url: str, log: PostgresLog) -> None:
        """Opening the log while a reader holds a transaction on it does not wait."""
        log.append("a", [_noted("1")], expected_version=0)
        with psycopg.connect(postgres_dsn()) as reader:
            reader.execute(f'SELECT count(*) FROM "{log.schema}".events')  # holds a lock
            started = time.monotonic()
            with open_log(url, registry=TEST_REGISTRY) as again:
                assert again.head() == 1
            assert time.monotonic() - started < 2

    def test_events_table_refuses_update_delete_and_truncate(self, log: PostgresLog) -> None:
        """The log is append-only even for someone with SQL access."""
        log.append("a", [_noted("1")], expected_version=0)
        with psycopg.connect(postgres_dsn(), autocommit=True) as connection:
            for statement in ("UPDATE {}.events SET type = 'x'", "DELETE FROM {}.events",
                              "TRUNCATE {}.events"):
                with pytest.raises(psycopg.Error, match="append-only"):
                    connection.execute(statement.format(f'"{log.schema}"'))
        assert [r.event.text for r in log.read_all()] == ["1"]


class TestNotify:
    def test_an_append_notifies_listeners_after_commit(self, log: PostgresLog) -> None:
        """LISTEN on the log's channel wakes when an append commits, naming the stream."""
        with psycopg.connect(postgres_dsn(), autocommit=True) as listener:
            listener.execute(f'LISTEN "{log.channel}"')
            log.append("a", [_noted("1"), _noted("2")], expected_version=0)
            notices = list(listener.notifies(timeout=5, stop_after=1))
        assert [n.payload for n in notices] == ["a"]


class TestURLOptions:
    def test_libpq_options_reach_the_server_as_written(self, url: str) -> None:
        """A libpq option with an encoded space (and a literal "+") is passed on unchanged."""
        options = "&options=-c%20synchronous_commit%3Doff&application_name=a+b%20c"
        with open_log(url + options, registry=TEST_REGISTRY) as handle:
            assert isinstance(handle, PostgresLog)
            db = handle._connection()
            assert db.execute("SHOW synchronous_commit").fetchone() == ("off",)
            assert db.execute("SHOW application_name").fetchone() == ("a+b c",)
            handle.append("s", [_noted("1")], expected_version=0)
            assert [r.version for r in handle.read_stream("s")] == [1]


class TestChainedInTheClient:
    def test_an_append_after_another_process_chains_to_its_record(self, url: str) -> None:
        """A log whose remembered tip is behind reads the stream's tip and chains to it."""
        with open_log(url, registry=TEST_REGISTRY) as one, \
                open_log(url, registry=TEST_REGISTRY) as other:
            one.append("s", [_noted("1")], expected_version=0)
            other.append("s", [_noted("2"), _noted("3")], expected_version=1)
            one.append("s", [_noted("4")], expected_version=3)
            other.append("s", [_noted("5"), _noted("6")], expected_version=4)
            report = one.verify()
            assert report.ok, report
            assert report.checked == 6

    def test_a_wrong_remembered_checksum_is_refused_by_the_statement(
        self, log: PostgresLog
    ) -> None:
        """A tip remembered at the right version but with another checksum (a commit lost
        in a crash, say) writes nothing wrong: the tip is read again and the chain holds."""
        log.append("s", [_noted("1")], expected_version=0)
        for batch in ([_noted("2")], [_noted("3"), _noted("4")]):
            version = log.stream_version("s")
            log._tips["s"] = (version, bytes(32))  # what a lost commit would leave
            log.append("s", batch, expected_version=version)
        assert log._tips["s"][1] != bytes(32)
        report = log.verify()
        assert report.ok, report
        assert [r.event.text for r in log.read_stream("s")] == ["1", "2", "3", "4"]

    def test_a_conflict_is_still_a_conflict(self, url: str) -> None:
        """A stale tip does not hide a real conflict: the wrong version is refused."""
        with open_log(url, registry=TEST_REGISTRY) as one, \
                open_log(url, registry=TEST_REGISTRY) as other:
            one.append("s", [_noted("1")], expected_version=0)
            other.append("s", [_noted("2")], expected_version=1)
            with pytest.raises(ConcurrencyError) as refused:
                one.append("s", [_noted("x")], expected_version=1)
            assert refused.value.actual == 2
            assert [r.event.text for r in one.read_stream("s")] == ["1", "2"]


class TestWakeUps:
    def test_each_append_notifies_listeners(self, log: PostgresLog) -> None:
        """The notifier's NOTIFY reaches a listener soon after the append returns."""
        with psycopg.connect(postgres_dsn(), autocommit=True) as listener:
            listener.execute(f'LISTEN "{log.channel}"')
            log.append("s", [_noted("1")], expected_version=0)
            received = [n.payload for n in listener.notifies(timeout=5, stop_after=1)]
            assert received == ["s"]

    def test_close_sends_the_last_wake_up(self, url: str) -> None:
        """Closing a log right after an append still wakes the listeners."""
        handle = open_log(url, registry=TEST_REGISTRY)
        assert isinstance(handle, PostgresLog)
        with psycopg.connect(postgres_dsn(), autocommit=True) as listener:
            listener.execute(f'LISTEN "{handle.channel}"')
            handle.append("s", [_noted("1")], expected_version=0)
            handle.close()
            received = [n.payload for n in listener.notifies(timeout=5, stop_after=1)]
            assert received == ["s"]
