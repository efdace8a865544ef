"""Tamper-evident records: the checksums chained per stream (alliance_events.log.chain)."""

from __future__ import annotations

import contextlib
import random
import shutil
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alliance_events import ANY, open_log
from alliance_events.errors import CorruptLogError, CorruptRecordError, LogError, StorageError
from alliance_events.log import VerifyReport, verify
from alliance_events.log import postgres as postgres_log
from alliance_events.log import sqlite as sqlite_log
from alliance_events.log.chain import (
    GENESIS,
    ChainChecker,
    chain_batch,
    chain_link,
    checksum,
    record_tail,
)

from .helpers import postgres_dsn
from .sample_events import TEST_REGISTRY, Noted


def note(number: int, text: str | None = None) -> Noted:
    return Noted(event_id=uuid.UUID(int=number), text=text or f"note {number}")


def fill(log: Any, streams: int = 3, per_stream: int = 4) -> None:
    """Interleaved appends to a few streams, one batch of two among them."""
    number = 1
    for version in range(per_stream):
        for s in range(streams):
            log.append(f"s{s}", [note(number)], expected_version=version)
            number += 1
    log.append("batch", [note(1000, "a"), note(1001, "b")], expected_version=0,
               metadata={"actor": "tester"})


def stored(log: Any) -> list[tuple[Any, ...]]:
    return [
        (r.position, r.stream, r.version, r.event_id, r.type, r.schema, r.recorded_at,
         dict(r.metadata), r.event)
        for r in log.read_all()
    ]


_TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


class TestTheWriters:
    @given(
        previous=st.binary(min_size=32, max_size=32),
        stream=_TEXT.filter(bool),
        position=st.integers(1, 2**62),
        version=st.integers(1, 2**40),
        records=st.lists(
            st.tuples(st.binary(min_size=16, max_size=16), _TEXT, st.integers(1, 99), _TEXT),
            min_size=1, max_size=5,
        ),
        metadata=st.none() | _TEXT,
        recorded_at=st.integers(-(2**62), 2**62),
    )
    def test_the_writers_fast_paths_give_the_same_checksums(
        self, previous: bytes, stream: str, position: int, version: int,
        records: list[tuple[bytes, str, int, str]], metadata: str | None, recorded_at: int,
    ) -> None:
        """A batch chained at once (SQLite, memory) and record by record from a tail and
        a position (PostgreSQL's way) gives what the documented checksum gives."""
        expected = []
        tip = tail_tip = previous
        for offset, (event_id, type_name, schema, data) in enumerate(records):
            tip = checksum(tip, position + offset, stream, version + offset, event_id,
                           type_name, schema, data, metadata, recorded_at)
            expected.append(tip)
            tail = record_tail(stream, version + offset, event_id, type_name, schema, data,
                               metadata, recorded_at)
            tail_tip = chain_link(tail_tip, position + offset, tail)
            assert tail_tip == tip
        assert chain_batch(previous, stream, position, version, records, metadata,
                           recorded_at) == expected


class TestTheChecksum:
    def test_the_encoding_is_the_documented_one(self) -> None:
        """The checksum is SHA-256 over the predecessor, a packed header and the texts."""
        import hashlib
        import struct

        event_id = uuid.UUID(int=7).bytes
        header = struct.pack(">qqqq16siiii", 3, 1, 2, 99, event_id, 1, 4, 2, -1)
        expected = hashlib.sha256(GENESIS + header + b"s" + b"t.Ty" + b"{}").digest()
        assert checksum(GENESIS, 3, "s", 1, event_id, "t.Ty", 2, "{}", None, 99) == expected

    def test_metadata_null_and_empty_differ(self) -> None:
        """A record without metadata and one with empty metadata text hash apart."""
        event_id = uuid.UUID(int=7).bytes
        assert checksum(GENESIS, 1, "s", 1, event_id, "t", 1, "{}", None, 0) != checksum(
            GENESIS, 1, "s", 1, event_id, "t", 1, "{}", "", 0
        )

    def test_text_cannot_move_between_fields(self) -> None:
        """Moving characters from the stream name to the type changes the checksum."""
        event_id = uuid.UUID(int=7).bytes
        assert checksum(GENESIS, 1, "ab", 1, event_id, "c", 1, "{}", None, 0) != checksum(
            GENESIS, 1, "a", 1, event_id, "bc", 1, "{}", None, 0
        )


@st.composite
def read_pages(draw: st.DrawFn) -> tuple[list[tuple[Any, ...]], list[list[tuple[Any, ...]]]]:
    """A few streams' records, interleaved and chained, perhaps one of them changed,
    dropped or swapped with the next; then a read of them from some position, in pages."""
    rows: list[tuple[Any, ...]] = []
    versions: dict[str, int] = {}
    tips: dict[str, bytes] = {}
    streams = draw(st.integers(1, 3))
    for position in range(1, draw(st.integers(1, 12)) + 1):
        stream = f"s{draw(st.integers(0, streams - 1))}"
        version = versions[stream] = versions.get(stream, 0) + 1
        data, metadata = draw(_TEXT), draw(st.none() | _TEXT)
        event_id = uuid.UUID(int=position).bytes
        tips[stream] = checksum(tips.get(stream, GENESIS), position, stream, version, event_id,
                                "t.Ty", 1, data, metadata, 7)
        rows.append((position, stream, version, event_id, "t.Ty", 1, data, metadata, 7,
                     tips[stream]))
    at = draw(st.integers(0, len(rows) - 1))
    change = draw(st.sampled_from(["none", "data", "checksum", "no checksum", "drop", "swap"]))
    row = list(rows[at])
    if change == "data":
        row[6] += "x"
    elif change == "checksum":
        row[9] = bytes(32)
    elif change == "no checksum":
        row[9] = None
    if change == "drop":
        del rows[at]
    elif change == "swap" and at + 1 < len(rows):
        rows[at], rows[at + 1] = rows[at + 1], rows[at]
    else:
        rows[at] = tuple(row)
    read = rows[draw(st.integers(0, len(rows))):]
    cuts = sorted(draw(st.lists(st.integers(0, len(read)), max_size=3)))
    pages = [read[a:b] for a, b in zip([0, *cuts], [*cuts, len(read)], strict=True)]
    return rows, pages


def _check_row_by_row(tips: dict[str, tuple[int, bytes]], rows: list[tuple[Any, ...]]) -> None:
    """The reference: each row against the tip of its stream, one by one."""
    for (position, stream, version, event_id, type_name, schema, data, metadata,
         recorded_at, stored) in rows:
        if version == 1:
            previous = GENESIS
        else:
            tip = tips.get(stream)
            if tip is None or tip[0] != version - 1:
                raise CorruptRecordError(
                    position, f"the previous record of stream {stream!r} (version "
                    f"{version - 1}) is missing"
                )
            previous = tip[1]
        expected = checksum(previous, position, stream, version, event_id, type_name, schema,
                            data, metadata, recorded_at)
        if stored is None or expected != stored:
            raise CorruptRecordError(
                position, "it has no checksum" if stored is None else "its checksum "
                "does not match its stored bytes and its stream's previous record"
            )
        tips[stream] = (version, stored)


class TestTheReadersCheck:
    @given(read_pages())
    def test_a_page_is_checked_as_row_by_row(
        self, read: tuple[list[tuple[Any, ...]], list[list[tuple[Any, ...]]]]
    ) -> None:
        """ChainChecker's page check (runs of a stream chained in locals) finds what a
        check of each row against its stream's tip finds: the same first bad position
        and message, or nothing; and it leaves the same tips for the next page."""
        stored, pages = read

        def lookup(wanted: Any) -> dict[tuple[str, int], bytes | None]:
            return {(r[1], r[2]): r[9] for r in stored if (r[1], r[2]) in set(wanted)}

        checker, reference = ChainChecker(lookup), ChainChecker(lookup)
        for page in pages:
            checker.prefetch(page)
            reference.prefetch(page)
            outcomes = []
            for check in (checker.check_page,
                          lambda rows: _check_row_by_row(reference._tips, rows)):
                try:
                    check(page)
                    outcomes.append(None)
                except CorruptRecordError as error:
                    outcomes.append((error.position, str(error)))
            assert outcomes[0] == outcomes[1]
            if outcomes[0] is not None:
                return
            assert checker._tips == reference._tips


class TestEveryBackend:
    def test_a_fresh_log_verifies(self, log: Any) -> None:
        """Appends in several streams, a batch with metadata: verify finds all in order."""
        fill(log)
        report = verify(log)
        assert report.ok, report
        assert (report.checked, report.last_position, report.first_bad) == (14, 14, None)
        assert str(report).startswith("ok: 14 records checked")

    def test_reads_check_from_any_position(self, log: Any) -> None:
        """A read from the middle looks the predecessors up: every record still checks."""
        fill(log)
        for after in range(15):
            assert [r.position for r in log.read_all(after=after)] == list(range(after + 1, 15))
        assert [r.version for r in log.read_stream("s1", after_version=2)] == [3, 4]

    def test_an_empty_log_verifies(self, log: Any) -> None:
        """Nothing to check is ok."""
        assert verify(log) == VerifyReport(0, None, None, 0)

    def test_verify_refuses_what_is_not_a_log(self) -> None:
        """verify() of an object without records says so."""
        with pytest.raises(LogError, match="cannot be verified"):
            verify(object())


# -- SQLite: changed bytes are found ------------------------------------------------------


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    path = tmp_path / "log.db"
    with open_log(path, registry=TEST_REGISTRY) as log:
        fill(log)
    return path


def _tamper(path: Path, statement: str, *params: Any) -> None:
    """Change a stored record with the append-only trigger out of the way."""
    with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as db:
        db.execute("DROP TRIGGER events_no_update")
        db.execute(statement, params)


class TestSQLiteTampering:
    @pytest.mark.parametrize(
        ("statement", "params"),
        [
            ("UPDATE events SET data = ? WHERE position = 5", ('{"text": "forged"}',)),
            ("UPDATE events SET metadata = ? WHERE position = 5", ('{"actor": "x"}',)),
            ("UPDATE events SET recorded_at = recorded_at + 1 WHERE position = 5", ()),
            ("UPDATE events SET type = ? WHERE position = 5", ("test.Other",)),
            ("UPDATE events SET stream = ? WHERE position = 5", ("s9",)),
            ("UPDATE events SET schema = 2 WHERE position = 5", ()),
            ("UPDATE events SET event_id = ? WHERE position = 5", (uuid.UUID(int=77).bytes,)),
            ("UPDATE events SET checksum = ? WHERE position = 5", (bytes(32),)),
        ],
    )
    def test_a_changed_column_is_found_at_its_position(
        self, sqlite_file: Path, statement: str, params: tuple[Any, ...]
    ) -> None:
        """verify names position 5; a read raises CorruptRecordError naming it."""
        _tamper(sqlite_file, statement, *params)
        with open_log(sqlite_file, registry=TEST_REGISTRY) as log:
            report = verify(log)
            assert (report.ok, report.first_bad, report.checked) == (False, 5, 4)
            with pytest.raises(CorruptRecordError, match="position 5") as caught:
                list(log.read_all())
            assert caught.value.position == 5

    def test_a_recomputed_checksum_breaks_the_next_link(self, sqlite_file: Path) -> None:
        """Forging a record and its checksum is found at its stream's next record."""
        with open_log(sqlite_file, registry=TEST_REGISTRY) as log:
            record = next(r for r in log.read_all() if r.position == 5)
            assert record.stream == "s1" and record.version == 2
        forged = '{"text": "forged"}'
        with contextlib.closing(sqlite3.connect(sqlite_file)) as db:
            row = db.execute(
                "SELECT position, stream, version, event_id, type, schema, metadata, "
                "recorded_at FROM events WHERE position = 5"
            ).fetchone()
            previous = db.execute(
                "SELECT checksum FROM events WHERE stream = 's1' AND version = 1"
            ).fetchone()[0]
        value = checksum(previous, row[0], row[1], row[2], row[3], row[4], row[5], forged,
                         row[6], row[7])
        _tamper(sqlite_file, "UPDATE events SET data = ?, checksum = ? WHERE position = 5",
                forged, value)
        with open_log(sqlite_file, registry=TEST_REGISTRY) as log:
            assert verify(log).first_bad == 8  # s1's version 3

    def test_a_deleted_record_is_found(self, sqlite_file: Path) -> None:
        """A record removed from the middle leaves a missing position."""
        with contextlib.closing(sqlite3.connect(sqlite_file, isolation_level=None)) as db:
            db.execute("DROP TRIGGER events_no_delete")
            db.execute("DELETE FROM events WHERE position = 6")
        with open_log(sqlite_file, registry=TEST_REGISTRY) as log:
            report = verify(log)
            assert (report.first_bad, report.problem) == (6, "position 6 is missing")
            with pytest.raises(CorruptRecordError, match="position 9"):
                list(log.read_stream("s2"))

    def test_a_record_without_checksum_cannot_be_inserted(self, sqlite_file: Path) -> None:
        """An older writer (no checksum column value) is refused by a trigger."""
        with (contextlib.closing(sqlite3.connect(sqlite_file)) as db,
              pytest.raises(sqlite3.IntegrityError, match="checksum")):
            db.execute(
                "INSERT INTO events (position, stream, version, event_id, type, schema, data, "
                "recorded_at) VALUES (99, 'x', 1, x'00', 't', 1, '{}', 0)"
            )

    def test_the_cli_reports_the_first_bad_position(self, sqlite_file: Path) -> None:
        """alliance-events verify: exit 0 and one line when ok; 5 and the position if not."""
        command = [sys.executable, "-m", "alliance_events.cli", "--db", str(sqlite_file),
                   "verify"]
        good = subprocess.run(command, capture_output=True, text=True, check=False)
        assert (good.returncode, good.stdout.strip()) == (
            0, "ok: 14 records checked, their checksums chain (last position 14)"
        )
        _tamper(sqlite_file, "UPDATE events SET data = '{\"text\": \"x\"}' WHERE position = 9")
        bad = subprocess.run(command, capture_output=True, text=True, check=False)
        assert bad.returncode == 5
        assert bad.stderr.startswith("corrupt at position 9: ")
        assert len(bad.stderr.strip().splitlines()) == 1


class TestSQLiteMigration:
    def test_a_schema_2_log_gets_its_chain(self, sqlite_file: Path) -> None:
        """A log from before checksums is chained when opened read-write; reads check."""
        with open_log(sqlite_file, registry=TEST_REGISTRY) as log:
            before = stored(log)
        with contextlib.closing(sqlite3.connect(sqlite_file, isolation_level=None)) as db:
            db.execute("ALTER TABLE events DROP COLUMN checksum")
            db.execute("PRAGMA user_version = 2")
        with pytest.raises(StorageError, match=r"schema 2 .* needs 3 .* read-write once"):
            open_log(f"sqlite:///{sqlite_file}?mode=ro", registry=TEST_REGISTRY)
        with open_log(sqlite_file, registry=TEST_REGISTRY) as log:
            assert stored(log) == before
            assert verify(log).ok
            log.append("s0", [note(500)], expected_version=4)
            assert verify(log).checked == 15
        with contextlib.closing(sqlite3.connect(sqlite_file)) as db:
            assert db.execute("PRAGMA user_version").fetchone()[0] == sqlite_log._SCHEMA_VERSION

    def test_a_record_without_checksum_is_refused(self, sqlite_file: Path) -> None:
        """An older writer's insert (no checksum) is refused: by the column in a log made
        with checksums, by a trigger in a log migrated to them."""
        insert = ("INSERT INTO events (position, stream, version, event_id, type, schema, "
                  "data, recorded_at) VALUES (99, 'old', 1, x'00', 't', 1, '{}', 0)")
        with contextlib.closing(sqlite3.connect(sqlite_file, isolation_level=None)) as db:
            with pytest.raises(sqlite3.IntegrityError, match="NOT NULL"):
                db.execute(insert)
            db.execute("ALTER TABLE events DROP COLUMN checksum")
            db.execute("PRAGMA user_version = 2")
        open_log(sqlite_file, registry=TEST_REGISTRY).close()  # migrates: a nullable column
        with contextlib.closing(sqlite3.connect(sqlite_file, isolation_level=None)) as db:
            with pytest.raises(sqlite3.IntegrityError, match="upgrade the writing"):
                db.execute(insert)
            assert db.execute("SELECT count(*) FROM events WHERE stream = 'old'").fetchone() \
                == (0,)
        with open_log(sqlite_file, registry=TEST_REGISTRY) as log:
            assert verify(log).ok

    def test_a_newer_schema_is_refused(self, sqlite_file: Path) -> None:
        """A log written by a later alliance-events is not opened (it may chain otherwise)."""
        with contextlib.closing(sqlite3.connect(sqlite_file, isolation_level=None)) as db:
            db.execute("PRAGMA user_version = 99")
        with pytest.raises(StorageError, match=r"schema 99, newer .* upgrade alliance-events"):
            open_log(sqlite_file, registry=TEST_REGISTRY)


# -- random byte overwrites of the SQLite file ----------------------------------------------

OVERWRITES = 600


@pytest.mark.slow
def test_random_overwrites_of_the_file_are_never_silent(tmp_path: Path) -> None:
    """Hundreds of single-byte overwrites: each is found (by a read or verify) or refused by
    SQLite as damaged, or changes nothing readable: never silently changed records."""
    original = tmp_path / "original.db"
    with open_log(original, registry=TEST_REGISTRY) as log:
        for number in range(40):
            log.append(f"meeting-{number % 5}", [note(number, f"text {number} " * 3)],
                       expected_version=number // 5, metadata={"actor": f"a{number}"})
        truth = stored(log)
    size = original.stat().st_size
    rng = random.Random(20261130)  # seeded: a failure replays
    outcomes: dict[str, int] = {}
    copy = tmp_path / "copy.db"
    for _ in range(OVERWRITES):
        shutil.copyfile(original, copy)
        offset = rng.randrange(size)
        with copy.open("r+b") as file:
            file.seek(offset)
            old = file.read(1)
            file.seek(offset)
            file.write(bytes([(old[0] + rng.randrange(1, 256)) % 256]))
        outcome = _read_damaged(copy, truth)
        assert outcome != "silent", f"overwrite at byte {offset} changed records silently"
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    # The seed puts overwrites into records, not only into free space.
    assert outcomes.get("record", 0) > 20, outcomes


def _read_damaged(path: Path, truth: list[tuple[Any, ...]]) -> str:  # noqa: PLR0911
    """Open, read and verify a damaged copy; return how the damage showed."""
    try:
        with open_log(path, registry=TEST_REGISTRY) as log:
            try:
                records = stored(log)
            except CorruptRecordError:
                return "record"
            except (CorruptLogError, StorageError):
                return "sqlite"
            except Exception:  # noqa: BLE001 - a record that no longer decodes: found too
                return "undecodable"
            report = verify(log)
    except (CorruptLogError, StorageError):
        return "sqlite"
    if records == truth:
        return "unchanged" if report.ok or report.first_bad is None else "verify"
    if not report.ok:
        return "verify"  # fewer records read (the tail), but verify finds it
    return "silent"


# -- PostgreSQL ----------------------------------------------------------------------------


@pytest.fixture
def pg_log(fresh_postgres_url: str) -> Iterator[Any]:
    log = open_log(fresh_postgres_url, registry=TEST_REGISTRY)
    yield log
    log.close()


def _pg_tamper(log: Any, statement: str, *params: Any) -> None:
    """As the superuser: switch the append-only trigger off, change a row, switch it on."""
    with psycopg.connect(postgres_dsn(), autocommit=True) as db, db.transaction():
        db.execute(f'ALTER TABLE "{log.schema}".events DISABLE TRIGGER events_append_only')
        db.execute(statement.format(events=f'"{log.schema}".events'), params)
        db.execute(f'ALTER TABLE "{log.schema}".events ENABLE TRIGGER events_append_only')


@pytest.mark.postgres
class TestPostgres:
    @pytest.mark.parametrize(
        ("statement", "params"),
        [
            ("UPDATE {events} SET data = %s WHERE position = 5", ('{"text": "forged"}',)),
            ("UPDATE {events} SET metadata = %s WHERE position = 5", ('{"a": 1}',)),
            ("UPDATE {events} SET recorded_at = recorded_at + interval '1 microsecond' "
             "WHERE position = 5", ()),
            ("UPDATE {events} SET type = 'test.X' WHERE position = 5", ()),
            ("UPDATE {events} SET position = 50 WHERE position = 5", ()),
        ],
    )
    def test_a_changed_row_is_found_at_its_position(
        self, pg_log: Any, statement: str, params: tuple[Any, ...]
    ) -> None:
        """An UPDATE bypassing the trigger: verify and reads name the position."""
        fill(pg_log)
        _pg_tamper(pg_log, statement, *params)
        report = verify(pg_log)
        assert not report.ok
        assert report.first_bad in (5, 8, 50), report  # 50: the moved record itself
        with pytest.raises(CorruptRecordError):
            list(pg_log.read_all())

    def test_a_removed_tail_is_found_by_the_streams_table(self, pg_log: Any) -> None:
        """Deleting a stream's last record leaves its version in streams: verify says so."""
        fill(pg_log)
        _pg_tamper(pg_log, "DELETE FROM {events} WHERE position = 12")
        report = verify(pg_log)
        assert not report.ok and report.first_bad is None
        assert "stream 's2' is at version 4" in str(report.problem)

    def test_an_append_after_a_removed_tail_is_refused(self, pg_log: Any) -> None:
        """A stream whose last record was deleted cannot be chained to: the append says
        the log is damaged and writes nothing (it does not chain to a guess)."""
        fill(pg_log)
        _pg_tamper(pg_log, "DELETE FROM {events} WHERE position = 12")
        with pytest.raises(CorruptLogError, match=r"'s2'.* version 4 .* missing"):
            pg_log.append("s2", [note(77)], expected_version=4)
        assert pg_log.head() == 14
        assert verify(pg_log).first_bad is None  # still only the removed tail

    def test_concurrent_writers_keep_the_chain(self, fresh_postgres_url: str) -> None:
        """Four threads append to shared and own streams at once: every link holds."""
        errors: list[BaseException] = []

        def write(worker: int) -> None:
            try:
                with open_log(fresh_postgres_url, registry=TEST_REGISTRY) as log:
                    for n in range(40):
                        stream = "shared" if n % 2 else f"own-{worker}"
                        log.append(stream, [Noted(event_id=uuid.uuid4(), text=f"{worker}")],
                                   expected_version=ANY)
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

        open_log(fresh_postgres_url, registry=TEST_REGISTRY).close()  # create the schema
        threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        with open_log(fresh_postgres_url, registry=TEST_REGISTRY) as log:
            report = verify(log)
            assert report.ok, report
            assert report.checked == 160
            assert len(list(log.read_stream("shared"))) == 80

    def test_a_schema_6_log_gets_its_chain(self, pg_log: Any, fresh_postgres_url: str) -> None:
        """A log from before checksums is chained by the migration; a read-only open of it
        is refused, naming the migration."""
        fill(pg_log)
        before = stored(pg_log)
        schema = pg_log.schema
        pg_log.close()
        with psycopg.connect(postgres_dsn(), autocommit=True) as db:
            db.execute(f'ALTER TABLE "{schema}".events DROP COLUMN checksum')
            db.execute(f"UPDATE \"{schema}\".meta SET value = '6' WHERE key = 'schema_version'")
        with pytest.raises(StorageError, match=r"version 6 .* needs 7 .* read-write once"):
            open_log(fresh_postgres_url + "&mode=ro", registry=TEST_REGISTRY)
        with open_log(fresh_postgres_url, registry=TEST_REGISTRY) as log:
            assert stored(log) == before
            assert verify(log).ok
            assert str(postgres_log._SCHEMA_VERSION) == "7"
