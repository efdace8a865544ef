"""Sealing the personal data of a log written before it was sealed (a one-time migration).

Before personal fields were sealed with their person's key (:mod:`alliance_events.log.keys`),
person records held names and e-mail addresses in plaintext, which no key deletion can
erase. :func:`seal_personal_data` rewrites those records *in place*, once: each record of
a type with personal fields whose data is still plaintext gets its data sealed (the same
event, the same position, version, id and time), its metadata marked
(``"sealed_in_place": "<when>"``), and every checksum of its stream from that record on is
computed again, so the log still verifies. It runs in one transaction (all or nothing),
with SQLite's ``secure_delete`` on, then checkpoints the write-ahead log and ``VACUUM``s
the file, so no plaintext is left in it.

It is the one place the log is ever rewritten, on the operator's command
(``alliance-events person seal``), and it is refused on a log that is open read-only.
On PostgreSQL the same, in one transaction with the append-only trigger off (as the
log's own schema migrations do), the checksums computed again by the schema's own
``chain`` and ``record_bytes`` functions, then ``VACUUM (FULL)`` of the table, so no dead
row keeps the plaintext (the server's WAL archives and older backups still do).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import sqlite3
import uuid
from collections.abc import Iterable
from typing import Any

import attrs
import orjson

from alliance_events.codec import SEALED, Codec
from alliance_events.errors import ReadOnlyStorageError, UnsupportedURLError
from alliance_events.log.chain import GENESIS, checksum

__all__ = ["SealReport", "seal_personal_data"]


@attrs.frozen(kw_only=True)
class SealReport:
    """What :func:`seal_personal_data` did."""

    records: tuple[int, ...]  # the positions sealed in place
    persons: tuple[uuid.UUID, ...]
    streams_rechained: int


def _personal_types(codec: Codec) -> dict[str, Any]:
    return {
        name: cls for name, cls in codec.registry.types.items() if cls.__personal__
    }


def seal_personal_data(log: Any, *, now: _dt.datetime) -> SealReport:
    """Seal, in place, every record of ``log`` holding personal data in plaintext.

    ``now`` (the application's clock) goes into each record's mark.

    Raises:
        ReadOnlyStorageError: the log is open read-only.
        UnsupportedURLError: not a SQLite log (memory logs are always sealed).

    """
    if type(log).__name__ == "MemoryLog":
        return SealReport(records=(), persons=(), streams_rechained=0)
    if type(log).__name__ not in ("SQLiteLog", "PostgresLog"):
        raise UnsupportedURLError(f"cannot seal a {type(log).__name__} in place")
    if log.read_only:
        raise ReadOnlyStorageError("the log is open read-only: it cannot be sealed")
    codec: Codec = log.codec
    types = _personal_types(codec)
    when = now.isoformat()
    if type(log).__name__ == "PostgresLog":
        return _seal_postgres(log, codec, types, when)
    db = sqlite3.connect(str(log.path), timeout=float(log.busy_timeout), isolation_level=None)
    try:
        db.execute("PRAGMA secure_delete=ON")
        # The keys first, outside the transaction: the key store writes to the same file.
        for row in _plaintext_rows(db, types):
            event = codec.decode(row[4], row[5], row[6], uuid.UUID(bytes=bytes(row[3])))
            codec.ensure_key(getattr(event, type(event).__subject__))
        db.execute("BEGIN IMMEDIATE")
        try:
            report = _seal(db, codec, types, when)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        if report.records:
            # secure_delete zeroed the old cells; the checkpoint moves the new pages into
            # the file and empties the WAL. VACUUM also compacts the file, when no other
            # connection holds it open (else it is left to the next `VACUUM`).
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            with contextlib.suppress(sqlite3.OperationalError):
                db.execute("VACUUM")
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.close()
    return report


def _plaintext_rows(db: sqlite3.Connection, types: dict[str, Any]) -> list[tuple[Any, ...]]:
    marks = ",".join("?" * len(types))
    return [
        row for row in db.execute(
            "SELECT position, stream, version, event_id, type, schema, data, metadata "
            f"FROM events WHERE type IN ({marks}) ORDER BY position",
            tuple(types),
        )
        if SEALED not in orjson.loads(row[6])
    ]


def _seal(db: sqlite3.Connection, codec: Codec, types: dict[str, Any], when: str
          ) -> SealReport:
    plain = _plaintext_rows(db, types)
    if not plain:
        return SealReport(records=(), persons=(), streams_rechained=0)
    persons: set[uuid.UUID] = set()
    updates: dict[int, tuple[str, int, str]] = {}
    for position, _stream, _version, event_id, type_name, schema, data, metadata in plain:
        event = codec.decode(type_name, schema, data, uuid.UUID(bytes=bytes(event_id)))
        persons.add(getattr(event, type(event).__subject__))
        encoded = codec.encode(event)
        marked = {**(orjson.loads(metadata) if metadata else {}), "sealed_in_place": when}
        updates[position] = (encoded.data, encoded.schema, codec.encode_metadata(marked) or "")
    db.execute("DROP TRIGGER IF EXISTS events_no_update")
    for position, (data, schema, metadata) in updates.items():
        db.execute("UPDATE events SET data = ?, schema = ?, metadata = ? WHERE position = ?",
                   (data, schema, metadata, position))
    streams = sorted({row[1] for row in plain})
    for stream in streams:
        _rechain(db, stream, min(row[2] for row in plain if row[1] == stream))
    from alliance_events.log.sqlite import _TRIGGERS  # noqa: PLC0415 - the one definition

    db.execute(_TRIGGERS[0])
    codec.plaintext.difference_update(persons)
    return SealReport(records=tuple(sorted(updates)), persons=tuple(sorted(persons, key=str)),
                      streams_rechained=len(streams))


def _rechain(db: sqlite3.Connection, stream: str, first: int) -> None:
    """Compute the checksums of ``stream`` again from version ``first`` on."""
    previous = GENESIS
    if first > 1:
        row = db.execute("SELECT checksum FROM events WHERE stream = ? AND version = ?",
                         (stream, first - 1)).fetchone()
        previous = bytes(row[0])
    rows: Iterable[tuple[Any, ...]] = db.execute(
        "SELECT position, version, event_id, type, schema, data, metadata, recorded_at "
        "FROM events WHERE stream = ? AND version >= ? ORDER BY version", (stream, first),
    ).fetchall()
    for position, version, event_id, type_name, schema, data, metadata, recorded_at in rows:
        previous = checksum(previous, position, stream, version, bytes(event_id), type_name,
                            schema, data, metadata, recorded_at)
        db.execute("UPDATE events SET checksum = ? WHERE position = ?", (previous, position))


def _seal_postgres(log: Any, codec: Codec, types: dict[str, Any], when: str) -> SealReport:
    """Seal on PostgreSQL (see the module)."""
    schema = '"' + str(log.schema).replace('"', '""') + '"'
    db = log.connect()
    try:
        select = (f"SELECT position, stream, version, event_id, type, schema, data::text, "
                  f"metadata::text FROM {schema}.events WHERE type = ANY(%s) ORDER BY position")
        rows = [r for r in db.execute(select, (list(types),)).fetchall()
                if SEALED not in orjson.loads(r[6])]
        if not rows:
            return SealReport(records=(), persons=(), streams_rechained=0)
        persons: set[uuid.UUID] = set()
        updates = []
        for position, _stream, _version, event_id, type_name, schema_no, data, metadata in rows:
            event = codec.decode(type_name, schema_no, data, event_id)
            subject = getattr(event, type(event).__subject__)
            codec.ensure_key(subject)
            persons.add(subject)
            encoded = codec.encode(event)
            marked = {**(orjson.loads(metadata) if metadata else {}), "sealed_in_place": when}
            updates.append((encoded.data, encoded.schema, codec.encode_metadata(marked),
                            position))
        streams = sorted({row[1] for row in rows})
        with db.transaction():
            db.execute(f"LOCK TABLE {schema}.events IN EXCLUSIVE MODE")
            db.execute(f"ALTER TABLE {schema}.events DISABLE TRIGGER events_append_only")
            with db.cursor() as cursor:
                cursor.executemany(
                    f"UPDATE {schema}.events SET data = %s::json, schema = %s, "
                    "metadata = %s::json WHERE position = %s", updates)
            db.execute(
                f"UPDATE {schema}.events AS e SET checksum = c.checksum FROM ("
                f"SELECT position, {schema}.chain(CASE WHEN version = 1 THEN "
                "decode(repeat('00', 32), 'hex') ELSE ''::bytea END || "
                f"{schema}.record_bytes(position, stream, version, event_id, type, schema, "
                "data::text, metadata::text, "
                "(extract(epoch FROM recorded_at) * 1000000)::bigint)) "
                "OVER (PARTITION BY stream ORDER BY version) AS checksum "
                f"FROM {schema}.events WHERE stream = ANY(%s)) AS c "
                "WHERE e.position = c.position", (streams,))
            db.execute(f"ALTER TABLE {schema}.events ENABLE TRIGGER events_append_only")
        db.execute(f"VACUUM (FULL) {schema}.events")
    finally:
        db.close()
    codec.plaintext.difference_update(persons)
    return SealReport(records=tuple(r[0] for r in rows),
                      persons=tuple(sorted(persons, key=str)), streams_rechained=len(streams))
