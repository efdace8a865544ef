"""Projection snapshots, kept beside the log: a projection's state at a position.

A restart that finds a snapshot loads it and folds only the records after its position,
instead of the whole log (a 1,000,000-event log: a fold of ~17-30 s becomes a load of
about a second). This layer stores bytes it does not read: the projection encodes its
state (:mod:`alliance_events.projections.snapshot`) and says which version of its code
wrote them.

One snapshot per projection name; each holds:

* ``name``: the projection's (``"alliance"``);
* ``version``: the projection's code version (a snapshot of another version is ignored
  and the state rebuilt from the log);
* ``position`` and ``event_id``: the last record folded into it and that record's id, so
  a reader can tell that the log still holds that record (a log restored from an older
  backup, or another log's snapshot, is ignored);
* ``data`` and its SHA-256 ``checksum``, checked on every load (a damaged snapshot is
  ignored, never loaded).

Where it lives: a table ``projection_snapshots`` beside ``events`` and ``checkpoints`` in
the same SQLite file or PostgreSQL schema (created on the first save), or the memory
log's own memory. A snapshot is written by one statement, so it is replaced whole or not
at all: no reader ever sees half of one. Each store uses a connection of its own, opened
for the operation, so a snapshot never waits on (or holds) the log's own connection.

Deleting a snapshot (:meth:`SnapshotStore.delete`, or the table's rows, or the whole
table) is always safe: the next start folds the whole log, as before snapshots existed.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from alliance_events.errors import LogError
from alliance_events.log.base import SnapshotStore, StoredSnapshot, snapshot_store

if TYPE_CHECKING:  # pragma: no cover - the drivers, for types only
    import sqlite3

    import psycopg

__all__ = [
    "MemorySnapshots",
    "PostgresSnapshots",
    "SQLiteSnapshots",
    "SnapshotError",
    "SnapshotStore",
    "StoredSnapshot",
    "snapshot_store",
]

TABLE = "projection_snapshots"


class SnapshotError(LogError):
    """A snapshot could not be read or written (the projection then folds the log)."""


def _checksum(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _checked(snapshot: StoredSnapshot, stored_checksum: bytes, where: str) -> StoredSnapshot:
    if _checksum(snapshot.data) != bytes(stored_checksum):
        raise SnapshotError(
            f"the snapshot {snapshot.name!r} in {where} does not match its checksum "
            "(damaged): it is ignored"
        )
    return snapshot


class MemorySnapshots:
    """Snapshots held by a memory log (gone with it): for tests and the reference."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._stored: dict[str, tuple[StoredSnapshot, bytes]] = {}

    def load(self, name: str) -> StoredSnapshot | None:
        """Return the projection's snapshot, or None."""
        with self._lock:
            found = self._stored.get(name)
        return None if found is None else _checked(found[0], found[1], "memory")

    def save(self, snapshot: StoredSnapshot) -> None:
        """Replace the projection's snapshot."""
        stored = (snapshot, _checksum(snapshot.data))
        with self._lock:
            self._stored[snapshot.name] = stored

    def delete(self, name: str) -> bool:
        """Delete the projection's snapshot; return whether there was one."""
        with self._lock:
            return self._stored.pop(name, None) is not None


_SQLITE_TABLE = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    name       TEXT    PRIMARY KEY,
    version    TEXT    NOT NULL,
    position   INTEGER NOT NULL CHECK (position >= 0),
    event_id   BLOB,
    checksum   BLOB    NOT NULL,
    data       BLOB    NOT NULL,
    written_at TEXT    NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
)"""
_SELECT = f"SELECT name, version, position, event_id, checksum, data FROM {TABLE} WHERE name = "


class SQLiteSnapshots:
    """Snapshots in the table ``projection_snapshots`` of the log's SQLite file.

    Each operation opens a connection of its own (the log's ``connect``, so the same
    pragmas and read-only mode) and closes it after.
    """

    def __init__(self, path: str, connect: Callable[[], sqlite3.Connection], *,
                 read_only: bool) -> None:
        self._path = path
        self._connect = connect
        self.read_only = read_only
        """Whether the log was opened read-only (then :meth:`save` refuses)."""

    @contextlib.contextmanager
    def _connection(self, doing: str) -> Iterator[sqlite3.Connection]:
        import sqlite3  # noqa: PLC0415 - the SQLite backend imports this module lazily too

        try:
            db = self._connect()
        except LogError as error:
            raise SnapshotError(f"cannot {doing} {self._path!r}: {error}") from error
        try:
            if not self.read_only:
                # A snapshot holds persons' names: a replaced or deleted one is zeroed.
                db.execute("PRAGMA secure_delete=ON")
            yield db
        except sqlite3.Error as error:
            raise SnapshotError(f"cannot {doing} {self._path!r}: {error}") from error
        finally:
            db.close()

    def load(self, name: str) -> StoredSnapshot | None:
        """Return the projection's snapshot, or None (also when there is no table yet)."""
        with self._connection("read the projection snapshot of") as db:
            exists = db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)
            ).fetchone()
            row = db.execute(_SELECT + "?", (name,)).fetchone() if exists else None
        return None if row is None else _from_row(row, self._path)

    def save(self, snapshot: StoredSnapshot) -> None:
        """Replace the projection's snapshot (one statement: whole or not at all)."""
        if self.read_only:
            raise SnapshotError(f"the SQLite log {self._path!r} is open read-only")
        with self._connection("write a projection snapshot to") as db:
            db.execute(_SQLITE_TABLE)
            db.execute(
                f"INSERT INTO {TABLE} (name, version, position, event_id, checksum, data) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "version = excluded.version, position = excluded.position, "
                "event_id = excluded.event_id, checksum = excluded.checksum, "
                "data = excluded.data, written_at = excluded.written_at",
                _to_row(snapshot),
            )

    def delete(self, name: str) -> bool:
        """Delete the projection's snapshot; return whether there was one."""
        with self._connection("delete a projection snapshot of") as db:
            if not db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                              (TABLE,)).fetchone():
                return False
            return db.execute(f"DELETE FROM {TABLE} WHERE name = ?", (name,)).rowcount > 0


class PostgresSnapshots:
    """Snapshots in the table ``projection_snapshots`` of the log's PostgreSQL schema.

    Each operation opens a connection of its own (the log's ``connect``: its retries,
    its read-only mode) and closes it after.
    """

    def __init__(self, schema: str, connect: Callable[[], psycopg.Connection[Any]], *,
                 read_only: bool) -> None:
        self._schema = schema  # checked by the log: lower-case letters, digits and _
        self._connect = connect
        self.read_only = read_only
        """Whether the log was opened read-only (then :meth:`save` refuses)."""

    @contextlib.contextmanager
    def _connection(self, doing: str) -> Iterator[psycopg.Connection[Any]]:
        import psycopg  # noqa: PLC0415 - optional dependency, only with a PostgreSQL log

        where = f"schema {self._schema!r}"
        try:
            db = self._connect()
        except LogError as error:
            raise SnapshotError(f"cannot {doing} {where}: {error}") from error
        try:
            yield db
        except psycopg.Error as error:
            raise SnapshotError(f"cannot {doing} {where}: {error}") from error
        finally:
            with contextlib.suppress(psycopg.Error):
                db.close()

    def _table(self) -> Any:
        from psycopg import sql  # noqa: PLC0415 - optional dependency

        return sql.Identifier(self._schema, TABLE)

    def _exists(self, db: psycopg.Connection[Any]) -> bool:
        found = db.execute("SELECT to_regclass(%s) IS NOT NULL",
                           (f"{self._schema}.{TABLE}",)).fetchone()
        return bool(found and found[0])

    def load(self, name: str) -> StoredSnapshot | None:
        """Return the projection's snapshot, or None (also when there is no table yet)."""
        from psycopg import sql  # noqa: PLC0415 - optional dependency

        with self._connection("read the projection snapshot of") as db:
            row = None
            if self._exists(db):
                row = db.execute(sql.SQL(
                    "SELECT name, version, position, event_id, checksum, data FROM {} "
                    "WHERE name = %s"
                ).format(self._table()), (name,)).fetchone()
        return None if row is None else _from_row(row, f"schema {self._schema!r}")

    def save(self, snapshot: StoredSnapshot) -> None:
        """Replace the projection's snapshot (one statement: whole or not at all)."""
        from psycopg import sql  # noqa: PLC0415 - optional dependency

        if self.read_only:
            raise SnapshotError(f"the PostgreSQL log in schema {self._schema!r} is read-only")
        table = self._table()
        with self._connection("write a projection snapshot to") as db:
            db.execute(sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} (name text PRIMARY KEY, "
                "version text NOT NULL, position bigint NOT NULL CHECK (position >= 0), "
                "event_id uuid, checksum bytea NOT NULL, data bytea NOT NULL, "
                "written_at timestamptz NOT NULL DEFAULT now())"
            ).format(table))
            db.execute(sql.SQL(
                "INSERT INTO {} (name, version, position, event_id, checksum, data) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
                "version = excluded.version, position = excluded.position, "
                "event_id = excluded.event_id, checksum = excluded.checksum, "
                "data = excluded.data, written_at = now()"
            ).format(table), (snapshot.name, snapshot.version, snapshot.position,
                              snapshot.event_id, _checksum(snapshot.data), snapshot.data))

    def delete(self, name: str) -> bool:
        """Delete the projection's snapshot; return whether there was one."""
        from psycopg import sql  # noqa: PLC0415 - optional dependency

        with self._connection("delete a projection snapshot of") as db:
            if not self._exists(db):
                return False
            cursor = db.execute(sql.SQL("DELETE FROM {} WHERE name = %s").format(self._table()),
                                (name,))
            return cursor.rowcount > 0


def _to_row(snapshot: StoredSnapshot) -> tuple[Any, ...]:
    event_id = None if snapshot.event_id is None else snapshot.event_id.bytes
    return (snapshot.name, snapshot.version, snapshot.position, event_id,
            _checksum(snapshot.data), snapshot.data)


def _from_row(row: tuple[Any, ...], where: str) -> StoredSnapshot:
    name, version, position, event_id, stored_checksum, data = row
    if event_id is not None and not isinstance(event_id, uuid.UUID):
        event_id = uuid.UUID(bytes=bytes(event_id))
    snapshot = StoredSnapshot(name, version, position, event_id, bytes(data))
    return _checked(snapshot, stored_checksum, where)
