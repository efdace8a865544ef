"""The SQLite log: the embedded default, one file, no server.

* WAL mode, so readers never block the writer nor the writer the readers.
* Durable by default: ``synchronous=FULL`` syncs the WAL on every commit, so an append
  that returned survives a power cut. ``synchronous=NORMAL`` (``?synchronous=NORMAL`` in
  the URL) skips that sync: several times faster for single-event appends, still never
  corrupt and never losing anything to a crash of the *process*, but an OS crash or a
  power cut may lose the last appends that returned.
* One ``BEGIN IMMEDIATE`` transaction per append: writers, in any number of processes,
  take the file's write lock in turn, so positions are handed out in commit order and are
  gapless, and a reader can never see position *P + 1* before *P*.
* Triggers refuse ``UPDATE`` and ``DELETE`` on the events table: the log is append-only
  even for someone holding the file and a SQL shell.
* Consumers' checkpoints (:mod:`alliance_events.log.follow`) live in the table
  ``checkpoints`` of the same file; a follower looks for new records every
  ``poll_interval`` seconds, and holds its consumer name with an ``flock`` on the file
  ``<database>-follower-<hash>.lock`` beside the database (released by the kernel when
  the process dies).
* The schema's version is SQLite's ``user_version``: 1 was the events table alone
  (databases from before the version was recorded read 0), 2 adds ``checkpoints``. Opening
  an older database brings it up to date; opening a current one writes nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: generations alone fence followers
    fcntl = None  # type: ignore[assignment]

from alliance_events.clock import Clock, system_clock
from alliance_events.codec import Codec, uuid_from_int
from alliance_events.errors import (
    ConcurrencyError,
    ConsumerBusyError,
    ConsumerSupersededError,
    FollowerError,
    InvalidAppendError,
    LogClosedError,
    LogError,
)
from alliance_events.events import Event
from alliance_events.log.base import (
    ANY,
    DEFAULT_PAGE_SIZE,
    ExpectedVersion,
    PreparedBatch,
    RecordDecoder,
    Recorded,
    check_retry,
    check_stream,
    make_recorded,
    prepare_batch,
    recorded_time,
    to_micros,
)
from alliance_events.log.follow import Claim

__all__ = ["SQLiteLog", "Synchronous"]

Synchronous = Literal["FULL", "NORMAL"]

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS events (
    position    INTEGER PRIMARY KEY,
    stream      TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    event_id    BLOB    NOT NULL,
    type        TEXT    NOT NULL,
    schema      INTEGER NOT NULL,
    data        TEXT    NOT NULL,
    metadata    TEXT,
    recorded_at INTEGER NOT NULL, -- microseconds since 1970-01-01T00:00:00Z
    UNIQUE (stream, version)
);
CREATE UNIQUE INDEX IF NOT EXISTS events_event_id ON events (event_id);
CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only: DELETE refused'); END;
CREATE TABLE IF NOT EXISTS checkpoints (
    name       TEXT    PRIMARY KEY,
    position   INTEGER CHECK (position >= 0), -- NULL: deleted (the generation stays)
    generation INTEGER NOT NULL
);
"""
_SCHEMA_VERSION: Final = 2  # PRAGMA user_version; see the module's notes

_COLUMNS: Final = "position, stream, version, event_id, type, schema, data, metadata, recorded_at"
_INSERT: Final = f"INSERT INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
_READ_ALL: Final = f"SELECT {_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?"
_READ_STREAM: Final = (
    f"SELECT {_COLUMNS} FROM events WHERE stream = ? AND version > ? ORDER BY version LIMIT ?"
)
_STREAM_VERSION: Final = "SELECT max(version) FROM events WHERE stream = ?"
_HEAD: Final = "SELECT max(position) FROM events"

_Row = tuple[int, str, int, bytes, str, int, str, str | None, int]


class SQLiteLog:
    """An event log in one SQLite file (see the module's notes on durability)."""

    def __init__(
        self,
        path: str | Path,
        *,
        clock: Clock = system_clock,
        codec: Codec | None = None,
        synchronous: Synchronous = "FULL",
        busy_timeout: float = 30.0,
        page_size: int = DEFAULT_PAGE_SIZE,
    ) -> None:
        """Open (creating if needed) the log in the file at ``path``.

        Args:
            path: the database file; its folder must exist.
            clock: where ``recorded_at`` comes from.
            codec: the codec (and so the registry) to use.
            synchronous: ``"FULL"`` (durable, the default) or ``"NORMAL"`` (see module).
            busy_timeout: seconds an append waits for another process's write lock.
            page_size: records fetched per query while reading.

        """
        if synchronous not in ("FULL", "NORMAL"):
            raise LogError(f"synchronous must be 'FULL' or 'NORMAL', got {synchronous!r}")
        self._codec = Codec() if codec is None else codec
        self._clock = clock
        self._page_size = page_size
        self.path = str(path)
        self.synchronous: Synchronous = synchronous
        self.busy_timeout = busy_timeout
        self._lock = threading.RLock()
        try:
            self._db: sqlite3.Connection | None = sqlite3.connect(
                self.path, isolation_level=None, timeout=busy_timeout, check_same_thread=False
            )
        except sqlite3.Error as error:
            raise LogError(f"cannot open SQLite log {self.path!r}: {error}") from error
        self._db.execute(f"PRAGMA busy_timeout = {int(busy_timeout * 1000)}")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.execute(f"PRAGMA synchronous = {synchronous}")
        try:
            if self._db.execute("PRAGMA user_version").fetchone()[0] < _SCHEMA_VERSION:
                self._db.executescript(
                    f"BEGIN IMMEDIATE;\n{_SCHEMA}\nPRAGMA user_version = {_SCHEMA_VERSION};\n"
                    "COMMIT;"
                )
        except sqlite3.Error as error:
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            self._db.close()
            raise LogError(f"cannot create the log's tables in {self.path!r}: {error}") from error
        self._decoder = RecordDecoder(self._codec)

    @property
    def codec(self) -> Codec:
        """The codec this log encodes and decodes with."""
        return self._codec

    def append(
        self,
        stream: str,
        events: Sequence[Event],
        *,
        expected_version: ExpectedVersion,
        metadata: Mapping[str, Any] | None = None,
    ) -> list[Recorded]:
        """Append atomically (see :meth:`alliance_events.log.EventLog.append`)."""
        batch = prepare_batch(self._codec, stream, events, expected_version, metadata)
        with self._lock:
            db = self._connection()
            db.execute("BEGIN IMMEDIATE")
            try:
                result = self._append_locked(db, batch)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            else:
                if isinstance(result, list):
                    db.execute("COMMIT")
                    return result
                db.execute("ROLLBACK")
            # The batch's ids are stored already: a retry, or a misuse of ids.
            return check_retry(batch, self._stored(db, batch.event_ids))

    def _append_locked(
        self, db: sqlite3.Connection, batch: PreparedBatch
    ) -> list[Recorded] | None:
        """Insert the batch inside the write transaction; ``None`` if its ids are stored."""
        actual = db.execute(_STREAM_VERSION, (batch.stream,)).fetchone()[0] or 0
        if batch.expected_version is not ANY and batch.expected_version != actual:
            if self._any_stored(db, batch.event_ids):
                return None
            raise ConcurrencyError(batch.stream, batch.expected_version, actual)
        if not batch.events:
            return []
        head = db.execute(_HEAD).fetchone()[0] or 0
        now = recorded_time(self._clock)
        micros = to_micros(now)
        rows = [
            (
                head + offset + 1,
                batch.stream,
                actual + offset + 1,
                event_id.bytes,
                encoded.type,
                encoded.schema,
                encoded.data,
                batch.metadata_json,
                micros,
            )
            for offset, (event_id, encoded) in enumerate(
                zip(batch.event_ids, batch.encoded, strict=True)
            )
        ]
        try:
            db.executemany(_INSERT, rows)
        except sqlite3.IntegrityError as error:
            if self._any_stored(db, batch.event_ids):
                return None
            raise InvalidAppendError(f"the log refused the batch: {error}") from error
        metadata = batch.metadata
        return [
            make_recorded(
                Recorded,
                (row[0], row[1], row[2], event.event_id, row[4], row[5], now, metadata, event),
            )
            for row, event in zip(rows, batch.events, strict=True)
        ]

    @staticmethod
    def _any_stored(db: sqlite3.Connection, ids: Sequence[uuid.UUID]) -> bool:
        marks = ",".join("?" * len(ids))
        query = f"SELECT 1 FROM events WHERE event_id IN ({marks}) LIMIT 1"
        return db.execute(query, [i.bytes for i in ids]).fetchone() is not None

    def _stored(self, db: sqlite3.Connection, ids: Sequence[uuid.UUID]) -> list[Recorded]:
        marks = ",".join("?" * len(ids))
        query = f"SELECT {_COLUMNS} FROM events WHERE event_id IN ({marks})"
        return [self._decode(row) for row in db.execute(query, [i.bytes for i in ids])]

    def read_stream(self, stream: str, *, after_version: int = 0) -> Iterator[Recorded]:
        """Iterate over the stream's records with a version above ``after_version``."""
        check_stream(stream)
        cursor = max(after_version, 0)
        while True:
            with self._lock:
                rows = self._connection().execute(
                    _READ_STREAM, (stream, cursor, self._page_size)
                ).fetchall()
            for row in rows:
                yield self._decode(row)
            if len(rows) < self._page_size:
                return
            cursor = rows[-1][2]

    def read_all(self, *, after: int = 0, limit: int | None = None) -> Iterator[Recorded]:
        """Iterate over every record with a position above ``after``, in order."""
        cursor = max(after, 0)
        remaining = limit
        decode = self._decode
        while remaining is None or remaining > 0:
            size = self._page_size if remaining is None else min(remaining, self._page_size)
            with self._lock:
                rows = self._connection().execute(_READ_ALL, (cursor, size)).fetchall()
            for row in rows:
                yield decode(row)
            if len(rows) < size:
                return
            cursor = rows[-1][0]
            if remaining is not None:
                remaining -= len(rows)

    def head(self) -> int:
        """Return the last position (0 when empty)."""
        with self._lock:
            value: int | None = self._connection().execute(_HEAD).fetchone()[0]
        return value or 0

    def stream_version(self, stream: str) -> int:
        """Return the stream's current version (0 when it does not exist)."""
        check_stream(stream)
        with self._lock:
            value: int | None = self._connection().execute(_STREAM_VERSION, (stream,)).fetchone()[0]
        return value or 0

    def consumer_store(self, *, poll_interval: float, fallback_interval: float) -> _Consumers:
        """Return a store of checkpoints and wake-ups (see :mod:`alliance_events.log.follow`).

        It opens a connection of its own to the file; ``fallback_interval`` is not used
        (nothing wakes a SQLite follower: it looks every ``poll_interval`` seconds).
        """
        del fallback_interval
        self._connection()
        return _Consumers(self, poll_interval)

    def close(self) -> None:
        """Close the connection; further use raises LogClosedError."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> SQLiteLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SQLiteLog({self.path!r}, synchronous={self.synchronous!r})"

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise LogClosedError(f"the SQLite log {self.path!r} is closed")
        return self._db

    def _decode(self, row: _Row) -> Recorded:
        position, stream, version, raw_id, type_name, schema, data, metadata, micros = row
        return self._decoder(
            position, stream, version, uuid_from_int(int.from_bytes(raw_id)), type_name,
            schema, data, metadata, micros,
        )


class _Consumers:
    """The SQLite log's consumer store: the ``checkpoints`` table, lock files, polling."""

    def __init__(self, log: SQLiteLog, poll_interval: float) -> None:
        if log.path == ":memory:" or not log.path:
            raise FollowerError(
                "a follower needs a SQLite file that another connection can open, not an "
                "in-memory database: use memory: or a file"
            )
        self._path = log.path
        self._poll_interval = poll_interval
        self._lock = threading.RLock()
        self._interrupted = threading.Event()
        self._lock_files: list[int] = []
        try:
            self._db: sqlite3.Connection | None = sqlite3.connect(
                log.path, isolation_level=None, timeout=log.busy_timeout,
                check_same_thread=False,
            )
            self._db.execute(f"PRAGMA busy_timeout = {int(log.busy_timeout * 1000)}")
            self._db.execute(f"PRAGMA synchronous = {log.synchronous}")
        except sqlite3.Error as error:
            raise LogError(f"cannot open SQLite log {log.path!r} to follow it: {error}") from error

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise LogClosedError(f"the follower's connection to {self._path!r} is closed")
        return self._db

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """Run the block in a ``BEGIN IMMEDIATE`` transaction, committed unless it raises."""
        with self._lock:
            db = self._connection()
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as error:
                raise LogError(f"cannot write to {self._path!r}: {error}") from error
            try:
                yield db
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
            if not db.in_transaction:
                raise FollowerError(
                    "the follower's transaction was committed or rolled back inside its "
                    "block: leave that to the follower"
                )
            try:
                db.execute("COMMIT")
            except sqlite3.Error as error:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise LogError(f"cannot commit to {self._path!r}: {error}") from error

    def get(self, name: str) -> int | None:
        with self._lock:
            row = self._connection().execute(
                "SELECT position FROM checkpoints WHERE name = ?", (name,)
            ).fetchone()
        return None if row is None else row[0]

    def items(self) -> dict[str, int]:
        with self._lock:
            rows = self._connection().execute(
                "SELECT name, position FROM checkpoints WHERE position IS NOT NULL "
                "ORDER BY name"
            ).fetchall()
        return dict(rows)

    def put(self, name: str, position: int) -> None:
        with self._write() as db:
            db.execute(
                "INSERT INTO checkpoints (name, position, generation) VALUES (?, ?, 1) "
                "ON CONFLICT (name) DO UPDATE SET position = excluded.position, "
                "generation = generation + 1",
                (name, position),
            )

    def delete(self, name: str) -> bool:
        with self._write() as db:
            return db.execute(
                "UPDATE checkpoints SET position = NULL, generation = generation + 1 "
                "WHERE name = ? AND position IS NOT NULL",
                (name,),
            ).rowcount > 0

    def claim(self, name: str, start: int | None, lock_timeout: float | None) -> Claim:
        handle = self._lock_name(name, lock_timeout)
        try:
            with self._write() as db:
                db.execute(
                    "INSERT INTO checkpoints (name, position, generation) VALUES (?, NULL, 0) "
                    "ON CONFLICT (name) DO NOTHING",
                    (name,),
                )
                stored, generation = db.execute(
                    "SELECT position, generation FROM checkpoints WHERE name = ?", (name,)
                ).fetchone()
                if stored is None:
                    # Under the write lock no append can come between the head and its use.
                    head = db.execute("SELECT max(position) FROM events").fetchone()[0] or 0
                    position = head if start is None else start
                    claim = Claim(name, position, generation + 1, resumed=False)
                else:
                    claim = Claim(name, stored, generation + 1, resumed=True)
                db.execute(
                    "UPDATE checkpoints SET position = ?, generation = ? WHERE name = ?",
                    (claim.position, claim.generation, name),
                )
        except BaseException:
            if handle is not None:
                os.close(handle)
            raise
        if handle is not None:
            self._lock_files.append(handle)
        return claim

    def _lock_name(self, name: str, lock_timeout: float | None) -> int | None:
        """Hold the name's lock file (``flock``: the kernel releases it if we die)."""
        if fcntl is None:  # pragma: no cover - Windows
            return None
        digest = hashlib.sha256(name.encode()).hexdigest()[:16]
        path = f"{self._path}-follower-{digest}.lock"
        try:
            handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        except OSError as error:
            raise LogError(f"cannot open the follower's lock file {path!r}: {error}") from error
        deadline = math.inf if lock_timeout is None else time.monotonic() + lock_timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    os.close(handle)
                    raise ConsumerBusyError(name, lock_timeout or 0.0) from None
                if self._interrupted.wait(min(0.05, remaining)):
                    self._interrupted.clear()
            else:
                return handle

    def move(self, claim: Claim, position: int) -> None:
        with self._write() as db:
            self._fence(db, claim, position)

    @contextlib.contextmanager
    def transaction(self, claim: Claim, position: int) -> Iterator[sqlite3.Connection]:
        with self._write() as db:
            self._fence(db, claim, position)
            yield db

    @staticmethod
    def _fence(db: sqlite3.Connection, claim: Claim, position: int) -> None:
        moved = db.execute(
            "UPDATE checkpoints SET position = ? WHERE name = ? AND generation = ?",
            (position, claim.name, claim.generation),
        ).rowcount
        if not moved:
            raise ConsumerSupersededError(claim.name)

    def listen(self) -> None:
        """Nothing to listen to: a SQLite follower polls."""

    def wait(self, after: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                head = self._connection().execute(_HEAD).fetchone()[0] or 0
            if head > after:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self._interrupted.wait(min(self._poll_interval, remaining)):
                self._interrupted.clear()
                return False

    def interrupt(self) -> None:
        self._interrupted.set()

    def close(self) -> None:
        self._interrupted.set()
        with self._lock:
            for handle in self._lock_files:
                os.close(handle)
            self._lock_files.clear()
            if self._db is not None:
                self._db.close()
                self._db = None
