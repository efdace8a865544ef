"""The key store: each person's key, beside the log and never in it.

The codec seals every personal field with its person's key (AES-256-SIV,
:mod:`alliance_events.codec`); deleting the key erases the person from every replay
without touching the log, so the log stays append-only and its hash chain verifies.

=============  ==============================================================================
backend        where the keys are
=============  ==============================================================================
memory         a dict of the log object (gone with it)
SQLite         the table ``person_keys`` of the log's database file, written through a
               connection of its own with ``PRAGMA secure_delete=ON`` (a deleted key's bytes
               are overwritten with zeros in the page, and the page freed is zeroed); after a
               deletion the write-ahead log is checkpointed and truncated, so no copy is left
               in the WAL either (once no reader holds an older snapshot: a reader that keeps a
               transaction open delays it to the next checkpoint)
PostgreSQL     the table ``person_keys`` of the log's schema; a deleted row's bytes stay in the
               table's file until the space is reused, so a deletion is followed by
               ``VACUUM (FULL)`` of that small table (rewritten without it); the server's WAL
               archives and base backups keep what they kept: see the docs about backups
=============  ==============================================================================

A key is created (and committed) before the first event sealed with it is appended, so no
event is ever stored without its key; a key whose event never got appended (a refused
command) is harmless.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import uuid
import weakref
from typing import Any, Final

from alliance_events.errors import ReadOnlyStorageError

__all__ = ["KEY_BYTES", "MemoryKeys", "PostgresKeys", "SQLiteKeys", "attach_keys"]

KEY_BYTES: Final = 64
"""The length of a key: AES-256-SIV takes two 256-bit keys."""


def _new_key() -> bytes:
    return os.urandom(KEY_BYTES)


class MemoryKeys:
    """Keys in a dict (the memory log's)."""

    def __init__(self) -> None:
        self._keys: dict[uuid.UUID, bytes] = {}
        self._lock = threading.Lock()

    def get(self, subject: uuid.UUID) -> bytes | None:
        """Return the key of ``subject``, if any."""
        return self._keys.get(subject)

    def create(self, subject: uuid.UUID) -> bytes:
        """Return the key of ``subject``, making one if needed."""
        with self._lock:
            return self._keys.setdefault(subject, _new_key())

    def delete(self, subject: uuid.UUID) -> bool:
        """Delete the key of ``subject``."""
        with self._lock:
            return self._keys.pop(subject, None) is not None



class SQLiteKeys:
    """Keys in the table ``person_keys`` of the log's SQLite file (see the module).

    One connection of its own, opened on first use (closed with this object): a key is
    committed with ``synchronous=NORMAL``, without a flush of its own, because the
    append that follows it flushes the write-ahead log, which holds the key's commit
    before the append's (one file, written in order), so the key is on the disk whenever
    the event sealed with it is. The first look-up reads every key at once.
    """

    def __init__(self, log: Any) -> None:
        self._log = log  # its path, read_only and busy_timeout are read when needed
        self._lock = threading.Lock()
        self._known: dict[uuid.UUID, bytes] | None = None
        self._db: sqlite3.Connection | None = None

    @property
    def read_only(self) -> bool:
        """Whether the log, and so its keys, is open read-only."""
        return bool(self._log.read_only)

    def _connect(self) -> sqlite3.Connection:
        if self._db is not None:
            return self._db
        path, timeout = str(self._log.path), float(self._log.busy_timeout)
        if self.read_only:
            uri = "file:" + path.replace("?", "%3f").replace("#", "%23") + "?mode=ro"
            db = sqlite3.connect(uri, uri=True, timeout=timeout, isolation_level=None,
                                 check_same_thread=False)
        else:
            db = sqlite3.connect(path, timeout=timeout, isolation_level=None,
                                 check_same_thread=False)
            db.execute("PRAGMA secure_delete=ON")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS person_keys "
                       "(person_id TEXT PRIMARY KEY, key BLOB NOT NULL) WITHOUT ROWID")
        self._db = db
        weakref.finalize(self, db.close)
        return db

    def _read(self, db: sqlite3.Connection, subject: uuid.UUID | None) -> dict[uuid.UUID, bytes]:
        try:
            if subject is None:
                rows = db.execute("SELECT person_id, key FROM person_keys").fetchall()
            else:
                rows = db.execute("SELECT person_id, key FROM person_keys WHERE person_id = ?",
                                  (str(subject),)).fetchall()
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):
                return {}
            raise
        return {uuid.UUID(person): bytes(key) for person, key in rows}

    def get(self, subject: uuid.UUID) -> bytes | None:
        """Return the key of ``subject``, if any."""
        with self._lock:
            if self._known is not None and subject in self._known:
                return self._known[subject]
            found = self._read(self._connect(), None if self._known is None else subject)
            self._known = {**(self._known or {}), **found}
            return self._known.get(subject)

    def create(self, subject: uuid.UUID) -> bytes:
        """Return the key of ``subject``, making (and committing) one if needed."""
        if self.read_only:
            raise ReadOnlyStorageError("the log is open read-only: no key can be made")
        with self._lock:
            db = self._connect()
            db.execute("INSERT OR IGNORE INTO person_keys (person_id, key) VALUES (?, ?)",
                       (str(subject), _new_key()))
            key = self._read(db, subject)[subject]
            if self._known is not None:
                self._known[subject] = key
            return key

    def delete(self, subject: uuid.UUID) -> bool:
        """Delete the key of ``subject`` and checkpoint the WAL, so that no copy stays."""
        if self.read_only:
            raise ReadOnlyStorageError("the log is open read-only: no key can be deleted")
        with self._lock:
            if self._known is not None:
                self._known.pop(subject, None)
            db = self._connect()
            db.execute("PRAGMA synchronous=FULL")  # a deletion is flushed at once
            try:
                deleted = db.execute("DELETE FROM person_keys WHERE person_id = ?",
                                     (str(subject),)).rowcount
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                db.execute("PRAGMA synchronous=NORMAL")
        return bool(deleted)


class PostgresKeys:
    """Keys in the table ``person_keys`` of the log's schema (see the module).

    Each operation takes a connection of its own from the log (with its reconnect
    back-off) and closes it; the first look-up reads every key at once.
    """

    def __init__(self, log: Any) -> None:
        self._log = log  # its schema, read_only and connect() are used when needed
        self._lock = threading.Lock()
        self._known: dict[uuid.UUID, bytes] | None = None

    @property
    def read_only(self) -> bool:
        """Whether the log, and so its keys, is open read-only."""
        return bool(self._log.read_only)

    @property
    def _table(self) -> str:
        return f'"{self._log.schema.replace(chr(34), chr(34) * 2)}".person_keys'

    def _run(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        import psycopg  # noqa: PLC0415 - only PostgreSQL logs need it

        db = self._log.connect()
        try:
            db.autocommit = True
            if not self.read_only:
                db.execute(f"CREATE TABLE IF NOT EXISTS {self._table} "
                           "(person_id uuid PRIMARY KEY, key bytea NOT NULL)")
            try:
                cursor = db.execute(query.format(table=self._table), params)
            except psycopg.errors.UndefinedTable:
                return []
            return list(cursor.fetchall()) if cursor.description else []
        finally:
            db.close()

    def get(self, subject: uuid.UUID) -> bytes | None:
        """Return the key of ``subject``, if any."""
        with self._lock:
            if self._known is not None and subject in self._known:
                return self._known[subject]
            if self._known is None:
                rows = self._run("SELECT person_id, key FROM {table}")
            else:
                rows = self._run("SELECT person_id, key FROM {table} WHERE person_id = %s",
                                 (subject,))
            self._known = {**(self._known or {}), **{p: bytes(k) for p, k in rows}}
            return self._known.get(subject)

    def create(self, subject: uuid.UUID) -> bytes:
        """Return the key of ``subject``, making (and committing) one if needed."""
        if self.read_only:
            raise ReadOnlyStorageError("the log is open read-only: no key can be made")
        with self._lock:
            rows = self._run(
                "WITH made AS (INSERT INTO {table} (person_id, key) VALUES (%s, %s) "
                "ON CONFLICT (person_id) DO NOTHING RETURNING key) "
                "SELECT key FROM made UNION ALL SELECT key FROM {table} WHERE person_id = %s",
                (subject, _new_key(), subject))
            key = bytes(rows[0][0])
            if self._known is not None:
                self._known[subject] = key
            return key

    def delete(self, subject: uuid.UUID) -> bool:
        """Delete the key of ``subject``, and rewrite the table without it."""
        if self.read_only:
            raise ReadOnlyStorageError("the log is open read-only: no key can be deleted")
        with self._lock:
            if self._known is not None:
                self._known.pop(subject, None)
            rows = self._run("DELETE FROM {table} WHERE person_id = %s RETURNING 1", (subject,))
            if rows:
                # The table is rewritten without the row (a few keys: a moment), so the
                # key's bytes are not left in a dead tuple of its file.
                self._run("VACUUM (FULL) {table}")
        return bool(rows)



def attach_keys(codec: Any, store: MemoryKeys | SQLiteKeys | PostgresKeys) -> None:
    """Give ``codec`` the key store of its log, unless it has one (a codec shared)."""
    if codec.keys is None:
        codec.keys = store
