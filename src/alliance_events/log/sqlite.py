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
  even for someone holding the file and a SQL shell. A record without a checksum (from a
  writer older than schema 3) is refused by the column's ``NOT NULL`` (by a trigger in a
  log migrated to schema 3, whose added column could not be ``NOT NULL``).
* Each record carries a checksum chained to its stream's previous record
  (:mod:`alliance_events.log.chain`), computed inside the append's transaction and
  checked by every read (``?verify=off`` in the URL, or ``verify_reads=False``, skips the
  check on read; :func:`alliance_events.log.verify` checks the whole file).
* Consumers' checkpoints (:mod:`alliance_events.log.follow`) live in the table
  ``checkpoints`` of the same file; a follower looks for new records every
  ``poll_interval`` seconds, and holds its consumer name with an ``flock`` on the file
  ``<database>-follower-<hash>.lock`` beside the database (released by the kernel when
  the process dies).
* The schema's version is SQLite's ``user_version``: 1 was the events table alone
  (databases from before the version was recorded read 0), 2 adds ``checkpoints``, 3 the
  records' ``checksum`` (computed for the existing records when migrating). Opening an
  older database brings it up to date; opening a current one writes nothing; a newer one
  (from a later alliance-events) is refused.

Read-only (``read_only=True``, ``?mode=ro`` in the URL)
-------------------------------------------------------
The file is opened with SQLite's ``mode=ro``: no write lock is ever taken, nothing is
migrated (a log that needs a migration is refused, naming it), and an append raises
:class:`~alliance_events.errors.ReadOnlyStorageError`. On a read-only mount where SQLite
cannot create the WAL's shared-memory file, the file is opened ``immutable`` (nothing can
write it there), unless a write-ahead log is left to replay, which is refused.

Storage faults
--------------
Every ``sqlite3`` error becomes one of the library's
:class:`~alliance_events.errors.StorageError` family, with a one-line message: not a
database (:class:`~alliance_events.errors.NotALogError`), a full disk or the process's
file-size limit (:class:`~alliance_events.errors.StorageFullError`; Python ignores
``SIGXFSZ`` from start-up, so a write past ``ulimit -f`` fails with ``EFBIG`` instead of
killing the process), a read-only file, folder or mount
(:class:`~alliance_events.errors.ReadOnlyStorageError`), the write lock held by another
process beyond ``busy_timeout`` (:class:`~alliance_events.errors.StorageLockedError`), a
damaged file (:class:`~alliance_events.errors.CorruptLogError`). An append that fails
rolls back: nothing of it is written.
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
from urllib.parse import quote

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: generations alone fence followers
    fcntl = None  # type: ignore[assignment]

try:
    import resource
except ImportError:  # pragma: no cover - Windows: no file-size limit
    resource = None  # type: ignore[assignment]

from alliance_events.clock import Clock, system_clock
from alliance_events.codec import Codec, uuid_from_bytes
from alliance_events.errors import (
    ConcurrencyError,
    ConsumerBusyError,
    ConsumerSupersededError,
    CorruptLogError,
    CorruptRecordError,
    FollowerError,
    InvalidAppendError,
    LogClosedError,
    LogError,
    NotALogError,
    ReadOnlyStorageError,
    StorageError,
    StorageFullError,
    StorageLockedError,
    StorageUnavailableError,
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
from alliance_events.log.chain import (
    GENESIS,
    BadRow,
    ChainChecker,
    StoredRow,
    VerifyReport,
    chain_batch,
    checksum,
    verify_rows,
)
from alliance_events.log.follow import Claim
from alliance_events.log.keys import SQLiteKeys, attach_keys
from alliance_events.log.snapshots import SQLiteSnapshots

__all__ = ["SQLiteLog", "Synchronous"]

Synchronous = Literal["FULL", "NORMAL"]

# One statement each (sqlite3's execute runs one; executescript would commit first).
_SCHEMA: Final = (
    """CREATE TABLE IF NOT EXISTS events (
    position    INTEGER PRIMARY KEY,
    stream      TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    event_id    BLOB    NOT NULL,
    type        TEXT    NOT NULL,
    schema      INTEGER NOT NULL,
    data        TEXT    NOT NULL,
    metadata    TEXT,
    recorded_at INTEGER NOT NULL, -- microseconds since 1970-01-01T00:00:00Z
    checksum    BLOB    NOT NULL, -- see alliance_events.log.chain
    UNIQUE (stream, version)
)""",
    "CREATE UNIQUE INDEX IF NOT EXISTS events_event_id ON events (event_id)",
    """CREATE TABLE IF NOT EXISTS checkpoints (
    name       TEXT    PRIMARY KEY,
    position   INTEGER CHECK (position >= 0), -- NULL: deleted (the generation stays)
    generation INTEGER NOT NULL
)""",
)
_TRIGGERS: Final = (
    """CREATE TRIGGER IF NOT EXISTS events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only: UPDATE refused'); END""",
    """CREATE TRIGGER IF NOT EXISTS events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'the event log is append-only: DELETE refused'); END""",
)
# A log migrated from before checksums has a nullable checksum column (SQLite cannot add
# a NOT NULL one): a trigger refuses a record without one there (an older writer). A log
# created with checksums has the column NOT NULL instead: the trigger ran for every record
# inserted, ~2-4 µs each (~10% of a batched append's time).
_CHECKSUM_TRIGGER: Final = """CREATE TRIGGER IF NOT EXISTS events_checksum_required
BEFORE INSERT ON events WHEN NEW.checksum IS NULL
BEGIN SELECT RAISE(ABORT,
    'this log keeps a checksum per record (schema 3): upgrade the writing alliance-events');
END"""
_SCHEMA_VERSION: Final = 3  # PRAGMA user_version; see the module's notes
_WHAT_CHANGED: Final = {1: "adds checkpoints", 2: "adds checkpoints", 3: "adds record checksums"}

_COLUMNS: Final = (
    "position, stream, version, event_id, type, schema, data, metadata, recorded_at, checksum"
)
_INSERT: Final = f"INSERT INTO events ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
_READ_ALL: Final = f"SELECT {_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?"
_READ_STREAM: Final = (
    f"SELECT {_COLUMNS} FROM events WHERE stream = ? AND version > ? ORDER BY version LIMIT ?"
)
_STREAM_VERSION: Final = "SELECT max(version) FROM events WHERE stream = ?"
_STREAM_TIP: Final = (
    "SELECT version, checksum FROM events WHERE stream = ? ORDER BY version DESC LIMIT 1"
)
_HEAD: Final = "SELECT max(position) FROM events"
_LOOKUP_CHUNK: Final = 400  # (stream, version) pairs per look-up: 800 parameters

_Row = tuple[int, str, int, bytes, str, int, str, str | None, int, bytes | None]

# SQLite's primary result codes (the low byte of an extended code).
_SQLITE_PERM: Final = 3
_SQLITE_BUSY: Final = 5
_SQLITE_LOCKED: Final = 6
_SQLITE_READONLY: Final = 8
_SQLITE_IOERR: Final = 10
_SQLITE_CORRUPT: Final = 11
_SQLITE_FULL: Final = 13
_SQLITE_CANTOPEN: Final = 14
_SQLITE_AUTH: Final = 23
_SQLITE_NOTADB: Final = 26
_UNDECODABLE: Final = "Could not decode to UTF-8"


def _file_size_limit() -> int | None:
    """Return the process's file-size limit in bytes (``ulimit -f``), None if unlimited."""
    if resource is None:  # pragma: no cover - Windows
        return None
    soft = resource.getrlimit(resource.RLIMIT_FSIZE)[0]
    return None if soft == resource.RLIM_INFINITY else soft


def _folder_read_only(path: str) -> bool:
    """Return whether the folder of ``path`` is on a read-only mount or not writable."""
    folder = os.path.dirname(os.path.abspath(path))
    try:
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return True
    except OSError:
        return False
    return not os.access(folder, os.W_OK)


def storage_fault(  # noqa: PLR0911 - one return per kind of fault
    error: sqlite3.Error, path: str, doing: str, *, writing: bool = False,
    busy_timeout: float | None = None,
) -> StorageError:
    """Return the library's error for a ``sqlite3`` error (see the module's notes).

    Args:
        error: what sqlite3 raised.
        path: the database file.
        doing: what was being done, said after "cannot" ("append to stream 'x' of").
        writing: whether it was a write (the message then says nothing was recorded).
        busy_timeout: the time-out waited for the lock, for the message.

    """
    code = getattr(error, "sqlite_errorcode", None)
    primary = -1 if code is None else code & 0xFF
    said = " ".join(str(error).split())
    where = f"the SQLite log {path!r}"
    nothing = "; nothing was recorded" if writing else ""
    if primary == _SQLITE_NOTADB:
        return NotALogError(
            f"{path!r} is not a SQLite database ({said}): check --db or the URL; a log is a "
            "file that alliance-events created"
        )
    if primary in (_SQLITE_FULL, _SQLITE_IOERR):
        limit = _file_size_limit()
        if limit is not None and _near_limit(path, limit):
            return StorageFullError(
                f"cannot {doing} {where}: the file reached the process's file-size limit "
                f"(ulimit -f: {limit} bytes){nothing}; raise the limit and retry"
            )
        if primary == _SQLITE_FULL:
            return StorageFullError(
                f"cannot {doing} {where}: the disk is full ({said}){nothing}; free some space "
                "and retry"
            )
        return StorageError(
            f"cannot {doing} {where}: an I/O error ({said}){nothing}; check the disk and "
            "its mount (dmesg), then retry"
        )
    if primary in (_SQLITE_READONLY, _SQLITE_PERM, _SQLITE_AUTH):
        return ReadOnlyStorageError(
            f"cannot {doing} {where}: it is read-only ({said}){nothing}; make the file and "
            "its folder writable for this user (or mount them read-write), or open the log "
            "read-only to read it"
        )
    if primary in (_SQLITE_BUSY, _SQLITE_LOCKED):
        waited = "" if busy_timeout is None else f" for more than {busy_timeout:g} s"
        return StorageLockedError(
            f"cannot {doing} {where}: another process held its lock{waited} ({said})"
            f"{nothing}; retry when it is done, or wait longer (?busy_timeout=SECONDS)"
        )
    if primary == _SQLITE_CANTOPEN:
        if os.path.exists(path) and _folder_read_only(path):
            return ReadOnlyStorageError(
                f"cannot {doing} {where}: its folder is read-only (a read-only mount?), so "
                "SQLite cannot create the write-ahead log beside it; open the log read-only "
                "to read it, or mount the folder read-write"
            )
        return StorageUnavailableError(
            f"cannot {doing} {where}: SQLite cannot open the file ({said}); check that its "
            "folder exists and that this user may read it (and write it, to record)"
        )
    if primary == _SQLITE_CORRUPT:
        return CorruptLogError(
            f"{where} is damaged: SQLite says {said!r}; run 'alliance-events verify' and "
            "restore the log from a backup"
        )
    return StorageError(
        f"cannot {doing} {where}: SQLite error {getattr(error, 'sqlite_errorname', None) or ''}"
        f" ({said}){nothing}; check the file and retry"
    )


def _damaged(path: str, error: Exception) -> CorruptLogError:
    return CorruptLogError(
        f"the SQLite log {path!r} is damaged (SQLite's answer is not even text: {error}); "
        "run 'alliance-events verify' and restore the log from a backup"
    )


def _near_limit(path: str, limit: int) -> bool:
    """Whether the database or its WAL is within a page or two of ``limit`` bytes."""
    sizes = []
    for name in (path, f"{path}-wal", f"{path}-journal"):
        with contextlib.suppress(OSError):
            sizes.append(os.path.getsize(name))
    return any(size + 2 * 65_536 >= limit for size in sizes)


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
        read_only: bool = False,
        verify_reads: bool = True,
    ) -> None:
        """Open (creating if needed) the log in the file at ``path``.

        Args:
            path: the database file; its folder must exist.
            clock: where ``recorded_at`` comes from.
            codec: the codec (and so the registry) to use.
            synchronous: ``"FULL"`` (durable, the default) or ``"NORMAL"`` (see module).
            busy_timeout: seconds an append waits for another process's write lock.
            page_size: records fetched per query while reading.
            read_only: open without ever writing or locking (see the module's notes).
            verify_reads: check each record's checksum as it is read.

        Raises:
            StorageError: the file cannot be opened as a log (see the module's notes).

        """
        if synchronous not in ("FULL", "NORMAL"):
            raise LogError(f"synchronous must be 'FULL' or 'NORMAL', got {synchronous!r}")
        self._codec = Codec() if codec is None else codec
        attach_keys(self._codec, SQLiteKeys(self))  # personal fields: log/keys.py
        self._clock = clock
        self._page_size = page_size
        self.path = str(path)
        self.synchronous: Synchronous = synchronous
        self.busy_timeout = busy_timeout
        self.read_only = read_only
        self.verify_reads = verify_reads
        self._immutable = False
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = self._connect()
        try:
            self._check_schema(self._db)
        except BaseException:
            self._db.close()
            self._db = None
            raise
        self._decoder = RecordDecoder(self._codec)

    def _connect(self) -> sqlite3.Connection:
        """Open a connection configured for this log (read-only or not)."""
        db: sqlite3.Connection | None = None
        try:
            if self.read_only:
                db = self._connect_read_only()
            else:
                db = sqlite3.connect(
                    self.path, isolation_level=None, timeout=self.busy_timeout,
                    check_same_thread=False,
                )
            db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            if self.read_only:
                db.execute("PRAGMA query_only = ON")
            else:
                db.execute("PRAGMA journal_mode = WAL")
                db.execute(f"PRAGMA synchronous = {self.synchronous}")
        except (sqlite3.Error, UnicodeDecodeError) as error:
            if db is not None:
                db.close()  # or its file stays open (and its mount busy) until collected
            if isinstance(error, UnicodeDecodeError):  # SQLite's own message is not UTF-8
                raise _damaged(self.path, error) from error
            raise storage_fault(error, self.path, "open", busy_timeout=self.busy_timeout
                                ) from error
        return db

    def _connect_read_only(self) -> sqlite3.Connection:
        if self.path == ":memory:" or not self.path:
            raise ReadOnlyStorageError("an in-memory SQLite database cannot be opened read-only")
        if not os.path.exists(self.path):
            raise StorageUnavailableError(
                f"cannot open the SQLite log {self.path!r} read-only: there is no such file; "
                "check --db or the URL ('alliance-events init' creates a log)"
            )
        uri = f"file:{quote(os.path.abspath(self.path))}?mode=ro"
        try:
            db = sqlite3.connect(uri, uri=True, isolation_level=None,
                                 timeout=self.busy_timeout, check_same_thread=False)
            try:
                db.execute("PRAGMA user_version").fetchone()  # SQLite opens the file lazily
            except sqlite3.Error:
                db.close()
                raise
        except sqlite3.OperationalError as error:
            code = (getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF
            if code not in (_SQLITE_CANTOPEN, _SQLITE_READONLY) or not _folder_read_only(
                self.path
            ):
                raise
        else:
            return db
        # A read-only folder without the WAL's shared memory: nothing can write the file
        # here, so it is immutable, unless a write-ahead log waits to be replayed.
        with contextlib.suppress(OSError):
            if os.path.getsize(f"{self.path}-wal") > 0:
                raise ReadOnlyStorageError(
                    f"cannot open the SQLite log {self.path!r} read-only: its write-ahead log "
                    f"({self.path}-wal) holds records that only a writer can replay, and the "
                    "folder is read-only; open it once read-write where it is writable"
                )
        self._immutable = True
        return sqlite3.connect(f"{uri}&immutable=1", uri=True, isolation_level=None,
                               timeout=self.busy_timeout, check_same_thread=False)

    def _check_schema(self, db: sqlite3.Connection) -> None:
        """Refuse what is not a log of ours; migrate an older one (unless read-only)."""
        try:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            tables = {row[0] for row in db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            )}
        except sqlite3.Error as error:
            raise storage_fault(error, self.path, "open") from error
        except UnicodeDecodeError as error:
            raise _damaged(self.path, error) from error
        if version > _SCHEMA_VERSION:
            raise NotALogError(
                f"the SQLite log {self.path!r} has schema {version}, newer than this "
                f"alliance-events knows ({_SCHEMA_VERSION}): upgrade alliance-events"
            )
        if version == _SCHEMA_VERSION:
            return
        foreign = tables - {"events", "checkpoints", "sqlite_sequence"}
        if version == 0 and foreign and "events" not in tables:
            raise NotALogError(
                f"{self.path!r} is a SQLite database but not an event log (it has the tables "
                f"{sorted(foreign)[:5]}): check --db or the URL"
            )
        if self.read_only:
            if not tables:
                raise NotALogError(
                    f"{self.path!r} is an empty SQLite database, not an event log yet: open "
                    "it read-write once to create the log"
                )
            raise ReadOnlyStorageError(
                f"the SQLite log {self.path!r} has schema {version} and this alliance-events "
                f"needs {_SCHEMA_VERSION} ({_WHAT_CHANGED[_SCHEMA_VERSION]}): a read-only "
                "open cannot migrate it; open it read-write once (any command that records)"
            )
        try:
            self._migrate(db, tables)
        except sqlite3.Error as error:
            if db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            raise storage_fault(error, self.path, "create or migrate the tables of",
                                writing=True, busy_timeout=self.busy_timeout) from error

    def _migrate(self, db: sqlite3.Connection, tables: set[str]) -> None:
        db.execute("BEGIN IMMEDIATE")
        if db.execute("PRAGMA user_version").fetchone()[0] >= _SCHEMA_VERSION:
            db.execute("ROLLBACK")  # another process migrated it meanwhile
            return
        for statement in _SCHEMA:
            db.execute(statement)
        not_null = {row[1]: bool(row[3]) for row in db.execute("PRAGMA table_info(events)")}
        if "checksum" not in not_null:
            db.execute("ALTER TABLE events ADD COLUMN checksum BLOB")
        if "events" in tables:  # records written before checksums: chain them now
            db.execute("DROP TRIGGER IF EXISTS events_no_update")
            self._backfill_checksums(db)
        for statement in _TRIGGERS:
            db.execute(statement)
        if not not_null.get("checksum"):
            db.execute(_CHECKSUM_TRIGGER)
        db.execute(f"PRAGMA user_version = {_SCHEMA_VERSION}")
        db.execute("COMMIT")

    @staticmethod
    def _backfill_checksums(db: sqlite3.Connection) -> None:
        tips: dict[str, bytes] = {}
        after = 0
        while True:
            rows = db.execute(
                f"SELECT {_COLUMNS} FROM events WHERE position > ? AND checksum IS NULL "
                "ORDER BY position LIMIT 10000", (after,)
            ).fetchall()
            if not rows:
                return
            updates = []
            for position, stream, version, raw_id, type_name, schema, data, meta, micros, _ \
                    in rows:
                previous = GENESIS if version == 1 else tips.get(stream)
                if previous is None:  # a stream whose earlier records were chained already
                    found = db.execute(
                        "SELECT checksum FROM events WHERE stream = ? AND version = ?",
                        (stream, version - 1),
                    ).fetchone()
                    previous = found[0] if found and found[0] else GENESIS
                value = checksum(previous, position, stream, version, raw_id, type_name,
                                 schema, data, meta, micros)
                tips[stream] = value
                updates.append((value, position))
            db.executemany("UPDATE events SET checksum = ? WHERE position = ?", updates)
            after = rows[-1][0]

    @property
    def codec(self) -> Codec:
        """The codec this log encodes and decodes with."""
        return self._codec

    def _fault(self, error: sqlite3.Error, doing: str, *, writing: bool = False
               ) -> StorageError:
        return storage_fault(error, self.path, doing, writing=writing,
                             busy_timeout=self.busy_timeout)

    def append(
        self,
        stream: str,
        events: Sequence[Event],
        *,
        expected_version: ExpectedVersion,
        metadata: Mapping[str, Any] | None = None,
    ) -> list[Recorded]:
        """Append atomically (see :meth:`alliance_events.log.EventLog.append`).

        Raises:
            StorageError: the storage failed (see the module's notes); nothing written.

        """
        batch = prepare_batch(self._codec, stream, events, expected_version, metadata)
        if self.read_only:
            raise ReadOnlyStorageError(
                f"cannot append to stream {stream!r}: the SQLite log {self.path!r} was opened "
                "read-only; nothing was recorded"
            )
        doing = f"append to stream {stream!r} of"
        with self._lock:
            db = self._connection()
            try:
                db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as error:
                raise self._fault(error, doing, writing=True) from error
            try:
                result = self._append_locked(db, batch)
                if isinstance(result, list):
                    db.execute("COMMIT")
                    return result
                db.execute("ROLLBACK")
                # The batch's ids are stored already: a retry, or a misuse of ids.
                return check_retry(batch, self._stored(db, batch.event_ids))
            except sqlite3.Error as error:
                self._rollback(db)
                raise self._fault(error, doing, writing=True) from error
            except BaseException:
                self._rollback(db)
                raise

    @staticmethod
    def _rollback(db: sqlite3.Connection) -> None:
        if db.in_transaction:
            with contextlib.suppress(sqlite3.Error):
                db.execute("ROLLBACK")

    def _append_locked(
        self, db: sqlite3.Connection, batch: PreparedBatch
    ) -> list[Recorded] | None:
        """Insert the batch inside the write transaction; ``None`` if its ids are stored."""
        tip = db.execute(_STREAM_TIP, (batch.stream,)).fetchone()
        actual, previous = (0, GENESIS) if tip is None else tip
        if batch.expected_version is not ANY and batch.expected_version != actual:
            if self._any_stored(db, batch.event_ids):
                return None
            raise ConcurrencyError(batch.stream, batch.expected_version, actual)
        if not batch.events:
            return []
        head = db.execute(_HEAD).fetchone()[0] or 0
        now = recorded_time(self._clock)
        micros = to_micros(now)
        stream = batch.stream
        metadata_json = batch.metadata_json
        records = [
            (event_id.bytes, encoded.type, encoded.schema, encoded.data)
            for event_id, encoded in zip(batch.event_ids, batch.encoded, strict=True)
        ]
        checksums = chain_batch(previous, stream, head + 1, actual + 1, records,
                                metadata_json, micros)
        rows = [
            (head + offset, stream, actual + offset, raw_id, type_name, schema, data,
             metadata_json, micros, value)
            for offset, ((raw_id, type_name, schema, data), value) in enumerate(
                zip(records, checksums, strict=True), 1
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

    def _fetch(self, query: str, params: tuple[Any, ...]) -> list[_Row]:
        """Run a read query under the lock; every sqlite3 error becomes the library's."""
        with self._lock:
            db = self._connection()
            try:
                return db.execute(query, params).fetchall()
            except sqlite3.Error as error:
                if _UNDECODABLE in str(error):
                    raise self._undecodable(db, query, params) from error
                raise self._fault(error, "read") from error
            except UnicodeDecodeError as error:
                raise _damaged(self.path, error) from error

    def _undecodable(self, db: sqlite3.Connection, query: str, params: tuple[Any, ...]
                     ) -> StorageError:
        """Name the record whose stored text is not UTF-8 (its bytes were changed)."""
        db.text_factory = bytes
        try:
            rows = db.execute(query, params).fetchall()
        except sqlite3.Error as error:
            return self._fault(error, "read")
        finally:
            db.text_factory = str
        for row in rows:
            for value in row:
                if isinstance(value, bytes):
                    try:
                        value.decode()
                    except UnicodeDecodeError:
                        return CorruptRecordError(row[0], "a stored text is not UTF-8")
        return CorruptLogError(f"the SQLite log {self.path!r} holds a text that is not UTF-8")

    def _checker(self) -> ChainChecker | None:
        return ChainChecker(self._lookup) if self.verify_reads else None

    def _lookup(self, wanted: Sequence[tuple[str, int]]) -> dict[tuple[str, int], bytes | None]:
        found: dict[tuple[str, int], bytes | None] = {}
        for start in range(0, len(wanted), _LOOKUP_CHUNK):
            chunk = wanted[start : start + _LOOKUP_CHUNK]
            values = ",".join("(?, ?)" for _ in chunk)
            query = (
                f"WITH wanted (stream, version) AS (VALUES {values}) "
                "SELECT e.stream, e.version, e.checksum FROM wanted "
                "JOIN events AS e ON e.stream = wanted.stream AND e.version = wanted.version"
            )
            params = tuple(value for pair in chunk for value in pair)
            for stream, version, stored in self._fetch(query, params):  # type: ignore[misc]
                found[(stream, version)] = stored
        return found

    def read_stream(self, stream: str, *, after_version: int = 0) -> Iterator[Recorded]:
        """Iterate over the stream's records with a version above ``after_version``.

        Raises:
            CorruptRecordError: a record does not match its checksum (names its position).
            StorageError: the storage failed.

        """
        check_stream(stream)
        cursor = max(after_version, 0)
        checker = self._checker()
        while True:
            rows = self._fetch(_READ_STREAM, (stream, cursor, self._page_size))
            if checker is not None:
                checker.prefetch(rows)
                checker.check_page(rows)
            yield from self._decoder.records(rows)
            if len(rows) < self._page_size:
                return
            cursor = rows[-1][2]

    def read_all(self, *, after: int = 0, limit: int | None = None) -> Iterator[Recorded]:
        """Iterate over every record with a position above ``after``, in order.

        Raises:
            CorruptRecordError: a record does not match its checksum (names its position).
            StorageError: the storage failed.

        """
        cursor = max(after, 0)
        remaining = limit
        records = self._decoder.records
        checker = self._checker()
        while remaining is None or remaining > 0:
            size = self._page_size if remaining is None else min(remaining, self._page_size)
            rows = self._fetch(_READ_ALL, (cursor, size))
            if checker is not None:
                checker.prefetch(rows)
                checker.check_page(rows)
            yield from records(rows)
            if len(rows) < size:
                return
            cursor = rows[-1][0]
            if remaining is not None:
                remaining -= len(rows)

    def head(self) -> int:
        """Return the last position (0 when empty)."""
        value: int | None = self._fetch(_HEAD, ())[0][0]
        return value or 0

    def stream_version(self, stream: str) -> int:
        """Return the stream's current version (0 when it does not exist)."""
        check_stream(stream)
        value: int | None = self._fetch(_STREAM_VERSION, (stream,))[0][0]
        return value or 0

    def verify(self) -> VerifyReport:
        """Check every record's checksum and SQLite's own integrity check.

        Returns:
            The first bad position and what is wrong with it, or ok. A file SQLite
            itself finds damaged is reported too (``first_bad`` None when SQLite cannot
            tell which record).

        """
        report = verify_rows(self._stored_rows(), gapless=True)
        if not report.ok:
            return report
        try:
            with self._lock:
                found = [row[0] for row in self._connection().execute(
                    "PRAGMA quick_check"
                ).fetchall()]
        except (sqlite3.Error, UnicodeDecodeError) as error:
            return VerifyReport(report.checked, None, f"SQLite says {error}",
                                report.last_position)
        if found != ["ok"]:
            return VerifyReport(report.checked, None,
                                f"SQLite's integrity check says {'; '.join(found[:3])}",
                                report.last_position)
        return report

    def _stored_rows(self) -> Iterator[StoredRow | BadRow]:
        """Every record as stored, text as text (a record that is not UTF-8: a bad row)."""
        cursor = 0
        while True:
            with self._lock:
                db = self._connection()
                db.text_factory = bytes
                try:
                    rows = db.execute(_READ_ALL, (cursor, self._page_size)).fetchall()
                except sqlite3.Error as error:
                    if (getattr(error, "sqlite_errorcode", 0) or 0) & 0xFF in (
                        _SQLITE_CORRUPT, _SQLITE_NOTADB
                    ):
                        yield BadRow(cursor + 1, f"SQLite cannot read the records after "
                                     f"position {cursor}: {error}")
                        return
                    raise self._fault(error, "read") from error
                finally:
                    db.text_factory = str
            for row in rows:
                yield _text_row(row)
            if len(rows) < self._page_size:
                return
            cursor = rows[-1][0]

    def snapshot_store(self) -> SQLiteSnapshots | None:
        """Return the store of projection snapshots in this file (None in memory).

        See :mod:`alliance_events.log.snapshots`; it opens a connection of its own.
        """
        if self.path == ":memory:" or not self.path:
            return None  # another connection would not see this database
        return SQLiteSnapshots(self.path, self._connect, read_only=self.read_only)

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
        mode = ", read_only=True" if self.read_only else ""
        return f"SQLiteLog({self.path!r}, synchronous={self.synchronous!r}{mode})"

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise LogClosedError(f"the SQLite log {self.path!r} is closed")
        return self._db

    def _decode(self, row: _Row) -> Recorded:
        position, stream, version, raw_id, type_name, schema, data, metadata, micros, _ = row
        return self._decoder(
            position, stream, version, uuid_from_bytes(raw_id), type_name, schema, data,
            metadata, micros,
        )


def _text_row(row: Sequence[Any]) -> StoredRow | BadRow:
    """Return a row read with bytes for text as a StoredRow (a BadRow if not UTF-8)."""
    position, stream, version, raw_id, type_name, schema, data, metadata, micros, stored = row
    try:
        return StoredRow(position, stream.decode(), version, bytes(raw_id), type_name.decode(),
                         schema, data.decode(), None if metadata is None else metadata.decode(),
                         micros, stored)
    except (UnicodeDecodeError, AttributeError, TypeError):
        return BadRow(position, "a stored text is not UTF-8 (its bytes were changed)")



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
        self._busy_timeout = log.busy_timeout
        self._db: sqlite3.Connection | None = log._connect()

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
                raise self._fault(error, "write a checkpoint to") from error
            try:
                yield db
            except sqlite3.Error as error:
                SQLiteLog._rollback(db)
                raise self._fault(error, "write a checkpoint to") from error
            except BaseException:
                SQLiteLog._rollback(db)
                raise
            if not db.in_transaction:
                raise FollowerError(
                    "the follower's transaction was committed or rolled back inside its "
                    "block: leave that to the follower"
                )
            try:
                db.execute("COMMIT")
            except sqlite3.Error as error:
                SQLiteLog._rollback(db)
                raise self._fault(error, "commit a checkpoint to") from error

    def _fault(self, error: sqlite3.Error, doing: str) -> StorageError:
        return storage_fault(error, self._path, doing, writing=True,
                             busy_timeout=self._busy_timeout)

    def _read(self, query: str, params: tuple[Any, ...] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._connection().execute(query, params).fetchall()
            except sqlite3.Error as error:
                raise storage_fault(error, self._path, "read the checkpoints of") from error

    def get(self, name: str) -> int | None:
        rows = self._read("SELECT position FROM checkpoints WHERE name = ?", (name,))
        return rows[0][0] if rows else None

    def items(self) -> dict[str, int]:
        return dict(self._read(
            "SELECT name, position FROM checkpoints WHERE position IS NOT NULL ORDER BY name"
        ))

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
            head = self._read(_HEAD)[0][0] or 0
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
