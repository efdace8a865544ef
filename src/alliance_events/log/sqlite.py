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
"""

from __future__ import annotations

import sqlite3
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Final, Literal

from alliance_events.clock import Clock, system_clock
from alliance_events.codec import Codec, uuid_from_int
from alliance_events.errors import (
    ConcurrencyError,
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
"""

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
            self._db.executescript(f"BEGIN IMMEDIATE;\n{_SCHEMA}\nCOMMIT;")
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
