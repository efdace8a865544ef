"""The PostgreSQL log (psycopg 3): for many processes on many hosts.

How appends work
----------------
One statement, so one round trip and one implicit transaction, per append. Its first
part moves the stream's version in ``streams`` from the expected one to the new one
(``UPDATE ... WHERE version = expected``; an ``INSERT`` for a new stream, an upsert for
``ANY``). That locks the stream's row, so writers of one stream take turns while writers
of different streams run in parallel, and it gives the transaction its id. It writes
nothing if the stream is elsewhere or if one of the batch's ids is stored already; then
the second part, which takes one position per event from a sequence and inserts the
events, has no row to work on, and the client finds out which it was (a retry returns
the stored envelopes, a conflict raises ``ConcurrencyError``). (A PL/pgSQL function doing
the same in several statements measured 2-4x slower than the plain statement.)

Positions come from a sequence, so writers never wait for each other's commits, and
they are gapless in practice: a refusal takes no position. A position is lost (a
permanent hole) only when the server crashes (a sequence skips the up to 32 values it had
logged ahead), or when a statement that had taken positions fails anyway: a connection
killed mid-append, or the same event id appended at the same instant to two streams (or
twice with ``ANY``), which the unique index refuses after the positions were taken.
Readers skip permanent holes (below).

How readers never skip an event that commits late
-------------------------------------------------
Writers commit in any order, so position 11 can become visible while position 10, taken
earlier, is still being committed. A reader that simply read "position > last seen"
would read 11, remember it, and never see 10. Ours reads in a ``REPEATABLE READ``
snapshot and yields records only while positions are contiguous. At the first hole it
asks whether a writer of this log that was running when the snapshot was taken
(``pg_snapshot_xip``, matched against ``pg_locks``) is still running:

* if so, the hole may still fill: the read ends before it (a later read resumes there);
* if not, every position below the snapshot's highest is settled: the hole's rows, if
  they committed meanwhile, are read now; otherwise the hole is permanent and skipped.

That is sound because a writer takes its transaction id before its positions: a writer
holding a position below a visible one was running when the snapshot was taken, so it is
in the snapshot's list of running transactions. The cost falls on readers only, and only
when they meet a hole: one query to ``pg_locks``. Writers are never serialised (the
alternative, a table or advisory lock around every append, cuts the throughput of four
concurrent writers to a third or less).

Followers are woken with ``LISTEN``/``NOTIFY`` (channel ``<schema>_events``). The
``NOTIFY`` is sent just *after* the append commits, not inside it: a ``NOTIFY`` inside a
transaction takes a database-wide lock held through the commit's disk flush, which would
serialise all writers again. A follower must therefore also poll now and then (a client
that dies between its commit and its ``NOTIFY`` wakes nobody).

Consumers' checkpoints (:mod:`alliance_events.log.follow`) live in the table
``checkpoints`` of the same schema. A follower has a connection of its own: it holds its
consumer name with a session-level advisory lock (released by the server when the
follower's process or connection dies), listens on the channel, and runs the consumer's
own writes in the transaction that moves its checkpoint.

Schema versions (the ``meta`` table): 5 is the events, streams and positions; 6 adds
``checkpoints``. Opening an older schema brings it up to date.

URL options (removed before connecting): ``schema`` (default ``alliance_events``),
``notify`` (``on`` or ``off``, default ``on``).
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import re
import selectors
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from alliance_events.clock import Clock, system_clock
from alliance_events.codec import Codec
from alliance_events.errors import (
    ConcurrencyError,
    ConsumerBusyError,
    ConsumerSupersededError,
    LogClosedError,
    LogError,
    UnsupportedURLError,
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
)
from alliance_events.log.follow import Claim

__all__ = ["DEFAULT_SCHEMA", "PostgresLog"]

DEFAULT_SCHEMA: Final = "alliance_events"
_IDENTIFIER: Final = re.compile(r"^[a-z_][a-z0-9_]{0,47}$")
_SCHEMA_VERSION: Final = 6

_DDL: Final = """
CREATE SCHEMA IF NOT EXISTS {schema};

CREATE TABLE IF NOT EXISTS {schema}.meta (
    key   text PRIMARY KEY,
    value text NOT NULL
);

CREATE SEQUENCE IF NOT EXISTS {schema}.positions AS bigint START 1 CACHE 1;

CREATE TABLE IF NOT EXISTS {schema}.streams (
    stream  text   PRIMARY KEY,
    version bigint NOT NULL
);

CREATE TABLE IF NOT EXISTS {schema}.events (
    position    bigint      PRIMARY KEY,
    stream      text        NOT NULL,
    version     bigint      NOT NULL,
    event_id    uuid        NOT NULL UNIQUE,
    type        text        NOT NULL,
    schema      integer     NOT NULL,
    data        json        NOT NULL,
    metadata    json,
    recorded_at timestamptz NOT NULL,
    UNIQUE (stream, version)
);

CREATE OR REPLACE FUNCTION {schema}.refuse_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the event log is append-only: % refused', TG_OP
        USING ERRCODE = 'restrict_violation';
END $$;

DROP TRIGGER IF EXISTS events_append_only ON {schema}.events;
CREATE TRIGGER events_append_only BEFORE UPDATE OR DELETE ON {schema}.events
    FOR EACH ROW EXECUTE FUNCTION {schema}.refuse_change();
DROP TRIGGER IF EXISTS events_no_truncate ON {schema}.events;
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON {schema}.events
    FOR EACH STATEMENT EXECUTE FUNCTION {schema}.refuse_change();

DROP FUNCTION IF EXISTS {schema}.append_events(
    text, bigint, uuid[], text[], integer[], text[], text, timestamptz);

CREATE TABLE IF NOT EXISTS {schema}.checkpoints (
    name       text   PRIMARY KEY,
    position   bigint CHECK (position >= 0), -- NULL: deleted (the generation stays)
    generation bigint NOT NULL
);
"""

_COLUMNS: Final = (
    "position, stream, version, event_id, type, schema, data::text, metadata::text, "
    "(extract(epoch FROM recorded_at) * 1000000)::bigint"
)

# The three forms of an append: one statement each. The first CTE moves the stream's
# version (locking its row); it writes nothing if the stream is not where expected or
# if an id is stored already, and then no position is taken.
_APPEND_AT_VERSION: Final = """
WITH moved AS (
    UPDATE {schema}.streams SET version = version + %(count)s
    WHERE stream = %(stream)s AND version = %(expected)s
      AND NOT EXISTS (SELECT 1 FROM {schema}.events WHERE event_id = ANY (%(ids)b))
    RETURNING version - %(count)s AS before
), {insert}
"""
_APPEND_NEW_STREAM: Final = """
WITH moved AS (
    INSERT INTO {schema}.streams (stream, version)
    SELECT %(stream)s, %(count)s
    WHERE NOT EXISTS (SELECT 1 FROM {schema}.events WHERE event_id = ANY (%(ids)b))
    ON CONFLICT (stream) DO NOTHING
    RETURNING 0::bigint AS before
), {insert}
"""
_APPEND_ANY_VERSION: Final = """
WITH moved AS (
    INSERT INTO {schema}.streams AS s (stream, version)
    SELECT %(stream)s, %(count)s
    WHERE NOT EXISTS (SELECT 1 FROM {schema}.events WHERE event_id = ANY (%(ids)b))
    ON CONFLICT (stream) DO UPDATE SET version = s.version + %(count)s
    RETURNING s.version - %(count)s AS before
), {insert}
"""
# Positions are taken row by row in the batch's order, only for a row the CTE returned.
_APPEND_INSERT: Final = """
inserted AS (
    INSERT INTO {schema}.events
        (position, stream, version, event_id, type, schema, data, metadata, recorded_at)
    SELECT nextval('{schema}.positions'), %(stream)s, moved.before + batch.i, batch.id,
           batch.type, batch.schema, batch.data::json, %(metadata)s::json, %(recorded_at)s
    FROM moved, (
        SELECT * FROM unnest(%(ids)b, %(types)b, %(schemas)b, %(data)b)
            WITH ORDINALITY AS b (id, type, schema, data, i)
        ORDER BY i
    ) AS batch
    RETURNING position, version
)
SELECT (SELECT before FROM moved),
       (SELECT array_agg(position ORDER BY version) FROM inserted)
"""


def _split_url(url: str) -> tuple[str, str, bool]:
    """Return the libpq URL without our options, the schema, and whether to NOTIFY."""
    parts = urlsplit(url)
    options = parse_qsl(parts.query, keep_blank_values=True)
    ours = {key: value for key, value in options if key in ("schema", "notify")}
    rest = [(key, value) for key, value in options if key not in ours]
    schema = ours.get("schema", DEFAULT_SCHEMA)
    if not _IDENTIFIER.match(schema):
        raise UnsupportedURLError(
            f"schema={schema!r}: use lower-case letters, digits and _ (at most 48)"
        )
    notify = ours.get("notify", "on").lower()
    if notify not in ("on", "off"):
        raise UnsupportedURLError(f"notify={notify!r}: use on or off")
    return urlunsplit(parts._replace(query=urlencode(rest))), schema, notify == "on"


class PostgresLog:
    """An event log in a PostgreSQL schema (see the module's notes)."""

    def __init__(
        self,
        url: str,
        *,
        clock: Clock = system_clock,
        codec: Codec | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        migrate: bool = True,
    ) -> None:
        """Connect, and create the schema's tables unless ``migrate`` is false.

        Args:
            url: a libpq URL, with the options ``schema`` and ``notify`` if wanted.
            clock: where ``recorded_at`` comes from.
            codec: the codec (and so the registry) to use.
            page_size: records fetched per query while reading.
            migrate: create or update the tables and functions now (idempotent, safe
                with several processes opening at once).

        """
        self._codec = Codec() if codec is None else codec
        self._decoder = RecordDecoder(self._codec)
        self._clock = clock
        self._page_size = page_size
        conninfo, self.schema, self.notify = _split_url(url)
        self._conninfo = conninfo
        self._schema = sql.Identifier(self.schema)
        self.channel = f"{self.schema}_events"
        self._lock = threading.RLock()
        try:
            self._db: psycopg.Connection[Any] | None = psycopg.connect(conninfo, autocommit=True)
        except psycopg.Error as error:
            raise LogError(f"cannot connect to PostgreSQL: {error}") from error
        if migrate:
            self.migrate()
        self._prepare_statements()
        self._settled = 0

    def migrate(self) -> None:
        """Create (or bring up to date) the schema, tables, triggers and functions.

        A schema that is current already is left alone: replacing its triggers would take
        an exclusive lock on the events table and stall every reader and writer.
        """
        ddl = sql.SQL(_DDL).format(schema=self._schema)
        with self._lock:
            db = self._connection()
            if self._schema_version(db) == _SCHEMA_VERSION:
                return
            with db.transaction():
                lock_key = f"alliance_events:migrate:{self.schema}"
                db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (lock_key,))
                db.execute(ddl)
                db.execute(
                    sql.SQL(
                        "INSERT INTO {}.meta (key, value) VALUES ('schema_version', %s) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                    ).format(self._schema),
                    (str(_SCHEMA_VERSION),),
                )

    def _schema_version(self, db: psycopg.Connection[Any]) -> int | None:
        exists = db.execute(
            "SELECT to_regclass(%s) IS NOT NULL", (f"{self.schema}.meta",)
        ).fetchone()
        if not exists or not exists[0]:
            return None
        row = db.execute(
            sql.SQL("SELECT value FROM {}.meta WHERE key = 'schema_version'").format(self._schema)
        ).fetchone()
        return int(row[0]) if row else None

    def _prepare_statements(self) -> None:
        schema = self._schema
        # One statement per append (see the module's notes); arrays go in binary, since
        # psycopg's text dumping of arrays escapes every element.
        insert = sql.SQL(_APPEND_INSERT).format(schema=schema)
        self._sql_append = {
            "expected": sql.SQL(_APPEND_AT_VERSION).format(schema=schema, insert=insert),
            "new": sql.SQL(_APPEND_NEW_STREAM).format(schema=schema, insert=insert),
            "any": sql.SQL(_APPEND_ANY_VERSION).format(schema=schema, insert=insert),
        }
        self._sql_notify = sql.SQL("SELECT pg_notify(%s, %s)")
        self._sql_read_all = sql.SQL(
            "SELECT " + _COLUMNS + " FROM {}.events WHERE position > %s "
            "ORDER BY position LIMIT %s"
        ).format(schema)
        self._sql_read_range = sql.SQL(
            "SELECT " + _COLUMNS + " FROM {}.events WHERE position > %s AND position < %s "
            "ORDER BY position"
        ).format(schema)
        self._sql_read_stream = sql.SQL(
            "SELECT " + _COLUMNS + " FROM {}.events WHERE stream = %s AND version > %s "
            "ORDER BY version LIMIT %s"
        ).format(schema)
        self._sql_by_ids = sql.SQL(
            "SELECT " + _COLUMNS + " FROM {}.events WHERE event_id = ANY(%s)"
        ).format(schema)
        self._sql_stream_version = sql.SQL(
            "SELECT version FROM {}.streams WHERE stream = %s"
        ).format(schema)
        self._sql_max = sql.SQL("SELECT max(position) FROM {}.events").format(schema)
        self._sql_positions = sql.SQL(
            "SELECT position FROM {}.events WHERE position > %s AND position <= %s "
            "ORDER BY position LIMIT 100000"
        ).format(schema)
        self._streams_table = f"{self.schema}.streams"
        self._sql_writers_running = sql.SQL(
            """
            SELECT EXISTS (
                SELECT 1
                FROM pg_locks AS writer
                JOIN pg_locks AS own_xid
                  ON own_xid.pid = writer.pid
                 AND own_xid.locktype = 'transactionid'
                 AND own_xid.mode = 'ExclusiveLock'
                 AND own_xid.granted
                WHERE writer.locktype = 'relation'
                  AND writer.relation = %s::regclass
                  AND writer.mode = 'RowExclusiveLock'
                  AND writer.pid <> pg_backend_pid()
                  AND own_xid.transactionid::text::bigint IN (
                      SELECT running::text::bigint %% 4294967296
                      FROM pg_snapshot_xip(%s::pg_snapshot) AS running
                  )
            )
            """
        )


    @property
    def codec(self) -> Codec:
        """The codec this log encodes and decodes with."""
        return self._codec

    # -- writing ------------------------------------------------------------------------

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
        expected = batch.expected_version
        if not batch.events:
            actual = self.stream_version(batch.stream)
            if expected is not ANY and expected != actual:
                raise ConcurrencyError(batch.stream, expected, actual)
            return []
        now = recorded_time(self._clock)
        params = {
            "stream": batch.stream,
            "expected": 0 if expected is ANY else expected,
            "count": len(batch.events),
            "ids": list(batch.event_ids),
            "types": [encoded.type for encoded in batch.encoded],
            "schemas": [encoded.schema for encoded in batch.encoded],
            "data": [encoded.data for encoded in batch.encoded],
            "metadata": batch.metadata_json,
            "recorded_at": now,
        }
        statement = self._sql_append[
            "any" if expected is ANY else "new" if expected == 0 else "expected"
        ]
        with self._lock:
            db = self._connection()
            try:
                row = db.execute(statement, params, prepare=True).fetchone()
            except psycopg.errors.UniqueViolation:  # a concurrent retry, or ids reused
                return self._append_refused(db, batch)
            except psycopg.Error as error:
                raise LogError(f"PostgreSQL refused the append to {stream!r}: {error}") from error
            if row is None or row[0] is None:  # the stream was elsewhere, or the ids stored
                return self._append_refused(db, batch)
            version_before, positions = row
            if self.notify:
                self._wake(db, batch.stream)
        metadata = batch.metadata
        return [
            make_recorded(
                Recorded,
                (position, batch.stream, version_before + index + 1, event.event_id,
                 encoded.type, encoded.schema, now, metadata, event),
            )
            for index, (position, event, encoded) in enumerate(
                zip(positions, batch.events, batch.encoded, strict=True)
            )
        ]

    def _append_refused(self, db: psycopg.Connection[Any], batch: PreparedBatch) -> list[Recorded]:
        """Explain an append that wrote nothing: a retry, a reuse of ids, or a conflict."""
        stored = [
            self._decoder(*row) for row in db.execute(self._sql_by_ids, (list(batch.event_ids),))
        ]
        if stored:
            return check_retry(batch, stored)
        actual = self.stream_version(batch.stream)
        expected = batch.expected_version
        if expected is ANY:  # pragma: no cover - ANY is refused only for stored ids
            raise LogError(f"PostgreSQL refused the append to {batch.stream!r}")
        raise ConcurrencyError(batch.stream, expected, actual)

    def _wake(self, db: psycopg.Connection[Any], stream: str) -> None:
        # Followers also poll: a lost wake-up only delays them. The payload is the stream.
        with contextlib.suppress(psycopg.Error):
            db.execute(self._sql_notify, (self.channel, stream), prepare=True)

    # -- reading ------------------------------------------------------------------------

    def read_stream(self, stream: str, *, after_version: int = 0) -> Iterator[Recorded]:
        """Iterate over the stream's records with a version above ``after_version``.

        A stream's versions commit in order (its row lock), so no hole can appear here.
        """
        check_stream(stream)
        cursor = max(after_version, 0)
        decode = self._decoder
        while True:
            with self._lock:
                rows = self._connection().execute(
                    self._sql_read_stream, (stream, cursor, self._page_size)
                ).fetchall()
            for row in rows:
                yield decode(*row)
            if len(rows) < self._page_size:
                return
            cursor = rows[-1][2]

    def read_all(self, *, after: int = 0, limit: int | None = None) -> Iterator[Recorded]:
        """Iterate over settled records above ``after`` (see the module's notes)."""
        cursor = max(after, 0)
        remaining = limit
        decode = self._decoder
        while remaining is None or remaining > 0:
            size = self._page_size if remaining is None else min(remaining, self._page_size)
            rows, snapshot = self._page(cursor, size)
            if not rows:
                return
            for row in rows:
                position = row[0]
                if position != cursor + 1:
                    # A hole before this row: settled, or still being committed?
                    filled = self._fill_hole(cursor, position, snapshot)
                    if filled is None:
                        return
                    for missing in filled[: remaining if remaining is not None else None]:
                        yield decode(*missing)
                        cursor = missing[0]
                        if remaining is not None:
                            remaining -= 1
                    if remaining is not None and remaining <= 0:
                        return
                yield decode(*row)
                cursor = position
                if remaining is not None:
                    remaining -= 1
                    if remaining <= 0:
                        return
            if len(rows) < size:
                return

    def _page(self, after: int, size: int) -> tuple[list[Any], str]:
        with self._lock:
            db = self._connection()
            with db.transaction():
                db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                snapshot = db.execute("SELECT pg_current_snapshot()::text").fetchone()
                rows = db.execute(self._sql_read_all, (after, size)).fetchall()
        assert snapshot is not None  # noqa: S101 - a SELECT of one value returns one row
        return rows, str(snapshot[0])

    def _fill_hole(self, before: int, after: int, snapshot: str) -> list[Any] | None:
        """Rows committed between two visible positions, or None if one may still come."""
        with self._lock:
            db = self._connection()
            if self._writers_running(db, snapshot):
                return None
            return db.execute(self._sql_read_range, (before, after)).fetchall()

    def _writers_running(self, db: psycopg.Connection[Any], snapshot: str) -> bool:
        row = db.execute(self._sql_writers_running, (self._streams_table, snapshot)).fetchone()
        return bool(row and row[0])

    def head(self) -> int:
        """Return the last settled position: all positions up to it are readable."""
        with self._lock:
            db = self._connection()
            with db.transaction():
                db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                snapshot = str(db.execute("SELECT pg_current_snapshot()::text").fetchone()[0])  # type: ignore[index]
                highest = db.execute(self._sql_max).fetchone()[0] or 0  # type: ignore[index]
            if not snapshot.endswith(":") and self._writers_running(db, snapshot):
                # A writer may still commit below `highest`: stop at the first hole.
                highest = self._first_hole(db, highest) - 1
            self._settled = max(self._settled, highest)
            return self._settled

    def _first_hole(self, db: psycopg.Connection[Any], highest: int) -> int:
        cursor = self._settled
        while cursor < highest:
            rows = db.execute(self._sql_positions, (cursor, highest)).fetchall()
            if not rows:
                return cursor + 1
            for (position,) in rows:
                if position != cursor + 1:
                    return cursor + 1
                cursor = position
        return highest + 1

    def stream_version(self, stream: str) -> int:
        """Return the stream's current version (0 when it does not exist)."""
        check_stream(stream)
        with self._lock:
            row = self._connection().execute(self._sql_stream_version, (stream,)).fetchone()
        return int(row[0]) if row else 0

    # -- lifecycle ----------------------------------------------------------------------

    def consumer_store(self, *, poll_interval: float, fallback_interval: float) -> _Consumers:
        """Return a store of checkpoints and wake-ups (see :mod:`alliance_events.log.follow`).

        It opens a connection of its own. Waiting listens on :attr:`channel` and looks
        every ``fallback_interval`` seconds anyway; with ``?notify=off``, it looks every
        ``poll_interval`` seconds.
        """
        self._connection()
        return _Consumers(self, poll_interval, fallback_interval)

    def close(self) -> None:
        """Close the connection; further use raises LogClosedError."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    def __enter__(self) -> PostgresLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"PostgresLog(schema={self.schema!r})"

    def _connection(self) -> psycopg.Connection[Any]:
        if self._db is None:
            raise LogClosedError("the PostgreSQL log is closed")
        return self._db



def _lock_key(schema: str, name: str) -> int:
    """Return the advisory lock's key of a consumer name (64 bits of a hash: no collisions)."""
    digest = hashlib.blake2b(
        f"alliance_events:follower:{schema}:{name}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


class _Consumers:
    """The PostgreSQL log's consumer store: a connection that locks, listens and writes."""

    def __init__(self, log: PostgresLog, poll_interval: float, fallback_interval: float) -> None:
        self._log = log
        self._poll_interval = poll_interval
        self._fallback_interval = fallback_interval
        schema = sql.Identifier(log.schema)
        self._sql_get = sql.SQL("SELECT position FROM {}.checkpoints WHERE name = %s").format(
            schema
        )
        self._sql_items = sql.SQL(
            "SELECT name, position FROM {}.checkpoints WHERE position IS NOT NULL ORDER BY name"
        ).format(schema)
        self._sql_put = sql.SQL(
            "INSERT INTO {0}.checkpoints AS c (name, position, generation) VALUES (%s, %s, 1) "
            "ON CONFLICT (name) DO UPDATE SET position = excluded.position, "
            "generation = c.generation + 1"
        ).format(schema)
        self._sql_delete = sql.SQL(
            "UPDATE {}.checkpoints SET position = NULL, generation = generation + 1 "
            "WHERE name = %s AND position IS NOT NULL"
        ).format(schema)
        self._sql_create = sql.SQL(
            "INSERT INTO {}.checkpoints (name, position, generation) VALUES (%s, NULL, 0) "
            "ON CONFLICT (name) DO NOTHING"
        ).format(schema)
        self._sql_lock_row = sql.SQL(
            "SELECT position, generation FROM {}.checkpoints WHERE name = %s FOR UPDATE"
        ).format(schema)
        self._sql_claim = sql.SQL(
            "UPDATE {}.checkpoints SET position = %s, generation = %s WHERE name = %s"
        ).format(schema)
        self._sql_fence = sql.SQL(
            "UPDATE {}.checkpoints SET position = %s WHERE name = %s AND generation = %s"
        ).format(schema)
        self._sql_listen = sql.SQL("LISTEN {}").format(sql.Identifier(log.channel))
        self._lock = threading.RLock()  # the connection
        self._waiting = threading.Lock()  # held by a wait; close() takes it after interrupting
        self._listening = False
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.settimeout(0.0)  # non-blocking
        self._wake_write.settimeout(0.0)
        try:
            self._db: psycopg.Connection[Any] | None = psycopg.connect(
                log._conninfo, autocommit=True
            )
        except psycopg.Error as error:
            self._wake_read.close()
            self._wake_write.close()
            raise LogError(f"cannot connect to PostgreSQL to follow the log: {error}") from error
        # Selectors, not select(): a busy server's sockets may be numbered above 1024.
        self._both = selectors.DefaultSelector()
        self._both.register(self._db.fileno(), selectors.EVENT_READ, "database")
        self._both.register(self._wake_read, selectors.EVENT_READ, "interrupt")
        self._interrupts = selectors.DefaultSelector()
        self._interrupts.register(self._wake_read, selectors.EVENT_READ, "interrupt")

    def _connection(self) -> psycopg.Connection[Any]:
        if self._db is None:
            raise LogClosedError("the follower's connection to PostgreSQL is closed")
        return self._db

    @contextlib.contextmanager
    def _errors(self, what: str) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as error:
            raise LogError(f"PostgreSQL refused to {what}: {error}") from error

    def get(self, name: str) -> int | None:
        with self._lock, self._errors("read a checkpoint"):
            row = self._connection().execute(self._sql_get, (name,)).fetchone()
        return None if row is None else row[0]

    def items(self) -> dict[str, int]:
        with self._lock, self._errors("read the checkpoints"):
            rows = self._connection().execute(self._sql_items).fetchall()
        return dict(rows)

    def put(self, name: str, position: int) -> None:
        with self._lock, self._errors("store a checkpoint"):
            self._connection().execute(self._sql_put, (name, position))

    def delete(self, name: str) -> bool:
        with self._lock, self._errors("delete a checkpoint"):
            return self._connection().execute(self._sql_delete, (name,)).rowcount > 0

    def claim(self, name: str, start: int | None, lock_timeout: float | None) -> Claim:
        key = _lock_key(self._log.schema, name)
        deadline = math.inf if lock_timeout is None else time.monotonic() + lock_timeout
        pause = 0.02  # then longer: a standby waiting for ever asks twice a second
        with self._lock:
            db = self._connection()
            while True:
                with self._errors("take a follower's lock"):
                    row = db.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
                if row is not None and row[0]:
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ConsumerBusyError(name, lock_timeout or 0.0)
                time.sleep(min(pause, remaining))
                pause = min(pause * 2, 0.5)
            try:
                with self._errors("claim a checkpoint"), db.transaction():
                    db.execute(self._sql_create, (name,))
                    stored, generation = db.execute(self._sql_lock_row, (name,)).fetchone()  # type: ignore[misc]
                    if stored is None:
                        position = self._log.head() if start is None else start
                        claim = Claim(name, position, generation + 1, resumed=False)
                    else:
                        claim = Claim(name, stored, generation + 1, resumed=True)
                    db.execute(self._sql_claim, (claim.position, claim.generation, name))
            except BaseException:
                with contextlib.suppress(psycopg.Error):
                    db.execute("SELECT pg_advisory_unlock(%s)", (key,))
                raise
            return claim

    def move(self, claim: Claim, position: int) -> None:
        with self._lock:
            db = self._connection()
            with self._errors("move a checkpoint"):
                moved = db.execute(
                    self._sql_fence, (position, claim.name, claim.generation)
                ).rowcount
            if not moved:
                raise ConsumerSupersededError(claim.name)

    @contextlib.contextmanager
    def transaction(self, claim: Claim, position: int) -> Iterator[psycopg.Connection[Any]]:
        with self._lock:
            db = self._connection()
            with db.transaction():
                with self._errors("move a checkpoint"):
                    moved = db.execute(
                        self._sql_fence, (position, claim.name, claim.generation)
                    ).rowcount
                if not moved:
                    raise ConsumerSupersededError(claim.name)
                yield db

    def listen(self) -> None:
        if not self._log.notify:
            return
        with self._lock, self._errors("listen"):
            self._connection().execute(self._sql_listen)
            self._listening = True

    def wait(self, after: int, timeout: float) -> bool:
        # A notification is a hint to look at the (settled) head, not an answer: it may be
        # for a record read already, or for one above a position still being committed.
        with self._waiting:
            if not self._listening:
                return self._poll(after, timeout)
            deadline = time.monotonic() + timeout
            self._drain()  # notifications of earlier appends: the head covers them
            if self._log.head() > after:
                return True
            look = time.monotonic() + self._fallback_interval
            while True:
                now = time.monotonic()
                if now >= deadline:
                    return False
                self._connection()
                ready = {key.data for key, _ in self._both.select(min(deadline, look) - now)}
                if "interrupt" in ready:
                    self._clear_interrupt()
                    return False
                notified = "database" in ready and self._drain()
                if notified or time.monotonic() >= look:
                    if self._log.head() > after:
                        return True
                    look = time.monotonic() + self._fallback_interval

    def _drain(self) -> bool:
        """Read the notifications received (some may wait since a query); return if any."""
        with self._lock, self._errors("receive notifications"):
            return sum(1 for _ in self._connection().notifies(timeout=0)) > 0

    def _poll(self, after: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            if self._log.head() > after:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if self._interrupts.select(min(self._poll_interval, remaining)):
                self._clear_interrupt()
                return False

    def _clear_interrupt(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            while self._wake_read.recv(4096):
                pass

    def interrupt(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):  # full, or closed: woken already
            self._wake_write.send(b"!")

    def close(self) -> None:
        self.interrupt()
        with self._waiting, self._lock:
            if self._db is not None:
                # Closing the session releases its advisory locks (and its LISTEN).
                self._db.close()
                self._db = None
                self._both.close()
                self._interrupts.close()
                self._wake_read.close()
                self._wake_write.close()
