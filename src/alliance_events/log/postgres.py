"""The PostgreSQL log (psycopg 3): for many processes on many hosts.

How appends work
----------------
One statement, so one round trip and one implicit transaction, per append. Its first
part moves the stream's version in ``streams`` from the expected one to the new one
(``UPDATE ... WHERE version = expected``; an ``INSERT`` for a new stream). That locks the
stream's row, so writers of one stream take turns while writers of different streams run
in parallel, and it gives the transaction its id. It writes nothing if the stream is
elsewhere, if one of the batch's ids is stored already, or if the stream's last checksum
is not the one the client chained the batch to (below); then the second part, which takes
one position per event from a sequence and inserts the events, has no row to work on, and
the client finds out which it was (a retry returns the stored envelopes, a conflict raises
``ConcurrencyError``, a stale checksum is read again and the append sent again). (A
PL/pgSQL function doing the same in several statements measured 2-4x slower than the
plain statement.) Each form of the statement is rendered to bytes once per log and
prepared by the server; a one-event append sends plain parameters (a batch, binary
arrays) and its ``recorded_at`` as a standard ``datetime``.

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
serialise all writers again. It is sent by a thread of the log with a connection of its
own (:class:`_Notifier`), signalled by the append once it committed: the appending thread
pays no second round trip; after a quiet spell the ``NOTIFY`` leaves at once, and during
a burst of appends one leaves every 5 ms for all of them. Closing the log sends the last
one. A
follower must still poll now and then (a process that dies between its commit and its
``NOTIFY`` wakes nobody).

Consumers' checkpoints (:mod:`alliance_events.log.follow`) live in the table
``checkpoints`` of the same schema. A follower has a connection of its own: it holds its
consumer name with a session-level advisory lock (released by the server when the
follower's process or connection dies), listens on the channel, and runs the consumer's
own writes in the transaction that moves its checkpoint.

Checksums with concurrent writers and late commits
--------------------------------------------------
Each record's checksum is chained to its *stream's* previous record
(:mod:`alliance_events.log.chain` says why not to the previous position, and what is
hashed). The client builds every byte a checksum covers but the position, which only the
sequence gives (:func:`~alliance_events.log.chain.record_tail`); the statement computes
``sha256(previous || int8send(position) || tail)`` with built-in functions as it takes
each position, the records of a batch one after the other (a recursive CTE). The client
knows ``previous``, the stream's last checksum, because it remembers the last checksum of
each stream it appended to or read (``read_stream``, which the application reads before
each command); otherwise (another process appended since) it reads it first, in one more
round trip. A record never changes once committed, so a remembered checksum is a fact, and
the statement checks it anyway: its first part moves the stream only if the stored
checksum at the expected version is the one sent (a remembered tip of a commit lost in a
server crash is refused, read again, and the append sent again). A stream's writers take
turns on its row, so the records of a stream commit in version order whatever their
positions, and a late commit changes nothing. An append at ``ANY`` version does not know
its version before the lock: it computes the whole checksum in SQL instead, from the
stream's last checksum read after the lock by a ``VOLATILE`` function (``stream_tip``,
whose query takes a fresh snapshot under ``READ COMMITTED``), chained by a window
aggregate (``chain``). ``verify`` reads every record in position order and checks each
against its stream's previous one; it reports too a stream whose version in ``streams``
is not its last record's (its last records were deleted). It cannot tell a permanent hole
from a record deleted with the rest of its stream (see the chain's notes).

Reconnecting
------------
A connection that broke (a server restart, a network cut, ``pg_terminate_backend``) is
replaced by the next call that needs it: it tries at once, then after 0.1 s, doubling to
1 s between tries, for ``reconnect_timeout`` seconds (5 by default) in all, then raises
:class:`~alliance_events.errors.StorageUnavailableError`; the next call tries again.

* **Reads** are retried on the new connection (a page is read whole or not at all, and a
  read resumes after the last record it returned), so a reader sees no error at all when
  the server is back within the bound.
* **Appends** are never retried blindly. Before an append is sent, the connection is
  checked without a round trip (a server that went away has closed the socket, which
  then reads as ready): a dead connection is replaced first, so an append on a connection
  that died while idle is sent on the new one. A connection that breaks after the append
  was sent and before its answer raises
  :class:`~alliance_events.errors.UnknownOutcomeError`: it may have committed. Repeating
  the append with the same events is safe (an append whose ids are stored returns the
  stored records); the application's commands derive their events' ids from the command
  id, so repeating a command with the same ``command_id`` is safe too. A connection that
  fails while *sending* (so nothing reached the server) raises
  :class:`~alliance_events.errors.StorageUnavailableError`.
* **Followers and watchers** (:class:`_Consumers`) reconnect the same way, ``LISTEN``
  again, take their consumers' advisory locks again (the generation still fences out a
  follower whose name was taken over meanwhile), and wake once: something may have been
  appended while they were away.

Every other ``psycopg`` error is mapped into the
:class:`~alliance_events.errors.StorageError` family by its SQLSTATE (full disk,
read-only transaction or missing privilege, lock and statement time-outs, missing tables,
data corruption): nothing raw escapes.

Schema versions (the ``meta`` table): 5 is the events, streams and positions; 6 adds
``checkpoints``; 7 the records' ``checksum`` (computed for the existing records when
migrating). Opening an older schema brings it up to date; a newer one is refused.

URL options (removed before connecting): ``schema`` (default ``alliance_events``),
``notify`` (``on`` or ``off``, default ``on``), ``mode`` (``ro``: read-only, as
``read_only=True``: every transaction is read-only and nothing is migrated), ``verify``
(``off``: do not check checksums on read).
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import math
import re
import select
import selectors
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

import pendulum
import psycopg
from psycopg import sql

from alliance_events.clock import Clock, system_clock
from alliance_events.codec import Codec
from alliance_events.errors import (
    ConcurrencyError,
    ConsumerBusyError,
    ConsumerSupersededError,
    CorruptLogError,
    LogClosedError,
    LogError,
    NotALogError,
    ReadOnlyStorageError,
    StorageError,
    StorageFullError,
    StorageLockedError,
    StorageUnavailableError,
    UnknownOutcomeError,
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
    to_micros,
)
from alliance_events.log.chain import (
    GENESIS,
    ChainChecker,
    StoredRow,
    VerifyReport,
    record_tail,
    verify_rows,
)
from alliance_events.log.follow import Claim
from alliance_events.log.keys import PostgresKeys, attach_keys
from alliance_events.log.snapshots import PostgresSnapshots

__all__ = ["DEFAULT_SCHEMA", "RECONNECT_TIMEOUT", "PostgresLog", "storage_fault"]

DEFAULT_SCHEMA: Final = "alliance_events"
_IDENTIFIER: Final = re.compile(r"^[a-z_][a-z0-9_]{0,47}$")
_SCHEMA_VERSION: Final = 7
RECONNECT_TIMEOUT: Final = 5.0
"""Seconds a call tries to (re)connect before raising StorageUnavailableError."""
_FIRST_DELAY: Final = 0.1
_APPEND_ATTEMPTS: Final = 3
"""Tries of one append chained to a remembered tip found stale (read again each time)."""
_TIPS_REMEMBERED: Final = 50_000
"""Streams whose last checksum a log remembers; then it forgets them all (bounded)."""
_UTC_EPOCH: Final = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_MAX_DELAY: Final = 1.0
_T = TypeVar("_T")

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
    checksum    bytea       NOT NULL, -- see alliance_events.log.chain
    UNIQUE (stream, version)
);
ALTER TABLE {schema}.events ADD COLUMN IF NOT EXISTS checksum bytea;

-- The bytes a record's checksum covers after its predecessor's (log/chain.py).
CREATE OR REPLACE FUNCTION {schema}.record_bytes(
    bigint, text, bigint, uuid, text, integer, text, text, bigint
) RETURNS bytea LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT int8send($1) || int8send($3) || int8send($6::bigint) || int8send($9)
        || uuid_send($4) || int4send(char_length($2)) || int4send(char_length($5))
        || int4send(char_length($7)) || int4send(coalesce(char_length($8), -1))
        || convert_to($2 || $5 || $7 || coalesce($8, ''), 'UTF8')
$$;
CREATE OR REPLACE FUNCTION {schema}.chain_step(bytea, bytea) RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT sha256(coalesce($1, ''::bytea) || $2) $$;
CREATE OR REPLACE AGGREGATE {schema}.chain(bytea) (
    SFUNC = {schema}.chain_step, STYPE = bytea
);
-- The checksum of a stream's record at a version (32 zero bytes for version 0), read
-- with a snapshot of its own: VOLATILE, so it sees what committed while the append
-- waited for the stream's lock.
CREATE OR REPLACE FUNCTION {schema}.stream_tip(p_stream text, p_version bigint)
RETURNS bytea LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    IF p_version = 0 THEN
        RETURN decode(repeat('00', 32), 'hex');
    END IF;
    RETURN (SELECT e.checksum FROM {schema}.events AS e
            WHERE e.stream = p_stream AND e.version = p_version);
END $$;

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

-- Records written before schema 7: chain them (the append-only trigger is off meanwhile,
-- inside this transaction).
ALTER TABLE {schema}.events DISABLE TRIGGER events_append_only;
UPDATE {schema}.events AS e SET checksum = c.checksum
FROM (
    SELECT position, {schema}.chain(
        CASE WHEN version = 1 THEN decode(repeat('00', 32), 'hex') ELSE ''::bytea END
        || {schema}.record_bytes(position, stream, version, event_id, type, schema,
                                 data::text, metadata::text,
                                 (extract(epoch FROM recorded_at) * 1000000)::bigint)
    ) OVER (PARTITION BY stream ORDER BY version) AS checksum
    FROM {schema}.events
) AS c
WHERE e.position = c.position AND e.checksum IS NULL;
ALTER TABLE {schema}.events ENABLE TRIGGER events_append_only;
ALTER TABLE {schema}.events ALTER COLUMN checksum SET NOT NULL;
"""

# Read with binary results (psycopg's binary loaders: no text to parse for the numbers
# and the checksum) and the event id as its 16 bytes (what the checksum covers; the
# UUID is built from them in C): 0.3 us less per record than text results and psycopg's
# UUID, which the check then turned back into bytes.
_COLUMNS: Final = (
    "position, stream, version, uuid_send(event_id), type, schema, data::text, "
    "metadata::text, (extract(epoch FROM recorded_at) * 1000000)::bigint, checksum"
)

# The forms of an append: one statement each, rendered to bytes once per log. The first
# CTE moves the stream's version (locking its row); it writes nothing if the stream is not
# where expected, if one of the batch's ids is stored already, or if the stream's last
# checksum is not the one the client chained the batch to (its cache was stale: the
# client reads the tip and tries again). Then no position is taken.
#
# The client computes every byte a checksum covers but the position, which only the
# sequence gives: each record's checksum is ``sha256(previous || int8send(position) ||
# tail)`` (log/chain.py: record_tail), computed here by built-in functions alone.
_MOVE_ONE_AT_VERSION: Final = """
WITH moved AS (
    UPDATE {schema}.streams SET version = version + 1
    WHERE stream = %(stream)s AND version = %(expected)s
      AND NOT EXISTS (SELECT 1 FROM {schema}.events WHERE event_id = %(id)s)
      AND (SELECT checksum FROM {schema}.events
           WHERE stream = %(stream)s AND version = %(expected)s) = %(previous)s
    RETURNING version
)
"""
_MOVE_ONE_NEW_STREAM: Final = """
WITH moved AS (
    INSERT INTO {schema}.streams (stream, version)
    SELECT %(stream)s, 1
    WHERE NOT EXISTS (SELECT 1 FROM {schema}.events WHERE event_id = %(id)s)
    ON CONFLICT (stream) DO NOTHING
    RETURNING version
)
"""
_INSERT_ONE: Final = """
INSERT INTO {schema}.events
    (position, stream, version, event_id, type, schema, data, metadata, recorded_at,
     checksum)
SELECT position, %(stream)s, version, %(id)s, %(type)s, %(schema)s, %(data)s::json,
       %(metadata)s::json, %(recorded_at)s,
       sha256(%(previous)s || int8send(position) || %(tail)s)
FROM (SELECT nextval('{schema}.positions') AS position, version FROM moved) AS numbered
RETURNING position, checksum
"""
_MOVE_MANY_AT_VERSION: Final = """
WITH RECURSIVE moved AS (
    UPDATE {schema}.streams SET version = version + %(count)s
    WHERE stream = %(stream)s AND version = %(expected)s
      AND NOT EXISTS (SELECT 1 FROM {schema}.events WHERE event_id = ANY (%(ids)b))
      AND (SELECT checksum FROM {schema}.events
           WHERE stream = %(stream)s AND version = %(expected)s) = %(previous)s
    RETURNING version - %(count)s AS before
),
"""
_MOVE_MANY_NEW_STREAM: Final = """
WITH RECURSIVE moved AS (
    INSERT INTO {schema}.streams (stream, version)
    SELECT %(stream)s, %(count)s
    WHERE NOT EXISTS (SELECT 1 FROM {schema}.events WHERE event_id = ANY (%(ids)b))
    ON CONFLICT (stream) DO NOTHING
    RETURNING 0::bigint AS before
),
"""
# Positions are taken row by row in the batch's order, only for the rows of a moved
# stream (the subquery holding nextval is materialised: once per row); then the records
# are chained one after the other, from the stream's last checksum, by a recursive CTE
# that indexes arrays (joining the numbered rows at each step instead cost ~70 µs a step).
_INSERT_MANY: Final = """
numbered AS (
    SELECT nextval('{schema}.positions') AS position, moved.before + batch.i AS version,
           batch.*
    FROM moved, (
        SELECT * FROM unnest(%(ids)b, %(types)b, %(schemas)b, %(data)b)
            WITH ORDINALITY AS b (id, type, schema, data, i)
        ORDER BY i
    ) AS batch
),
taken AS MATERIALIZED (
    SELECT array_agg(position ORDER BY i) AS positions FROM numbered
),
chained (i, checksum) AS (
    SELECT 0::bigint, %(previous)s::bytea
    UNION ALL
    SELECT c.i + 1,
           sha256(c.checksum || int8send(t.positions[c.i + 1]) || (%(tails)b)[c.i + 1])
    FROM chained AS c, taken AS t
    WHERE c.i < cardinality(t.positions)
),
inserted AS (
    INSERT INTO {schema}.events
        (position, stream, version, event_id, type, schema, data, metadata, recorded_at,
         checksum)
    SELECT n.position, %(stream)s, n.version, n.id, n.type, n.schema, n.data::json,
           %(metadata)s::json, %(recorded_at)s, c.checksum
    FROM numbered AS n JOIN chained AS c ON c.i = n.i
    RETURNING position, version, checksum
)
SELECT (SELECT before FROM moved),
       (SELECT array_agg(position ORDER BY version) FROM inserted),
       (SELECT checksum FROM inserted ORDER BY version DESC LIMIT 1)
"""


# An append at ANY version does not know the version its records get before it has
# locked the stream's row, so it computes the whole checksum in SQL (record_bytes), from
# the stream's last checksum read after the lock (stream_tip, a fresh snapshot) and
# chained in the batch's order (the chain aggregate). Slower, and seldom used.
_ANY_MOVE: Final = """
WITH moved AS (
    INSERT INTO {schema}.streams AS s (stream, version)
    SELECT %(stream)s, %(count)s
    WHERE NOT EXISTS (SELECT 1 FROM {schema}.events WHERE event_id = ANY (%(ids)b))
    ON CONFLICT (stream) DO UPDATE SET version = s.version + %(count)s
    RETURNING s.version - %(count)s AS before
), {insert}
"""
_ANY_INSERT: Final = """
inserted AS (
    INSERT INTO {schema}.events
        (position, stream, version, event_id, type, schema, data, metadata, recorded_at,
         checksum)
    SELECT position, %(stream)s, version, id, type, schema, data::json,
           %(metadata)s::json, %(recorded_at)s, {schema}.chain(link) OVER (ORDER BY i)
    FROM (
        SELECT numbered.*,
               CASE WHEN i = 1 THEN {schema}.stream_tip(%(stream)s, version - 1)
                    ELSE ''::bytea END
               || {schema}.record_bytes(
                   position, %(stream)s, version, id, type, schema, data, %(metadata)s,
                   (extract(epoch FROM %(recorded_at)s::timestamptz) * 1000000)::bigint
               ) AS link
        FROM (
            SELECT nextval('{schema}.positions') AS position,
                   moved.before + batch.i AS version, batch.*
            FROM moved, (
                SELECT * FROM unnest(%(ids)b, %(types)b, %(schemas)b, %(data)b)
                    WITH ORDINALITY AS b (id, type, schema, data, i)
                ORDER BY i
            ) AS batch
        ) AS numbered
    ) AS linked
    RETURNING position, version, checksum
)
SELECT (SELECT before FROM moved),
       (SELECT array_agg(position ORDER BY version) FROM inserted),
       (SELECT checksum FROM inserted ORDER BY version DESC LIMIT 1)
"""


def _split_url(url: str) -> tuple[str, str, bool, bool, bool]:
    """Return the libpq URL without our options, the schema, NOTIFY, read-only, verify."""
    parts = urlsplit(url)
    names = ("schema", "notify", "mode", "verify")
    ours: dict[str, str] = {}
    rest: list[str] = []
    # libpq's options are passed on exactly as written: decoding them and encoding them
    # again changed them (a space written %20 came back as "+", which libpq keeps as a
    # "+": options=-c%20synchronous_commit%3Doff broke).
    for piece in parts.query.split("&"):
        key, _, value = piece.partition("=")
        if unquote(key) in names:
            ours[unquote(key)] = unquote(value)
        elif piece:
            rest.append(piece)
    schema = ours.get("schema", DEFAULT_SCHEMA)
    if not _IDENTIFIER.match(schema):
        raise UnsupportedURLError(
            f"schema={schema!r}: use lower-case letters, digits and _ (at most 48)"
        )
    notify = ours.get("notify", "on").lower()
    if notify not in ("on", "off"):
        raise UnsupportedURLError(f"notify={notify!r}: use on or off")
    mode = ours.get("mode", "rw").lower()
    if mode not in ("ro", "rw"):
        raise UnsupportedURLError(f"mode={mode!r}: use ro or rw")
    verify = ours.get("verify", "on").lower()
    if verify not in ("on", "off"):
        raise UnsupportedURLError(f"verify={verify!r}: use on or off")
    return (urlunsplit(parts._replace(query="&".join(rest))), schema, notify == "on",
            mode == "ro", verify == "on")


def _sqlstate(error: BaseException) -> str:
    return getattr(error, "sqlstate", None) or ""


def _lost(db: psycopg.Connection[Any]) -> bool:
    """Whether the connection is gone (broken by the server or the network, or closed)."""
    return bool(db.closed or db.broken)


def storage_fault(error: psycopg.Error, doing: str, *, writing: bool = False  # noqa: PLR0911
                  ) -> StorageError:
    """Return the library's error for a ``psycopg`` error, by its SQLSTATE.

    Args:
        error: what psycopg raised.
        doing: what was being done, said after "cannot" ("read the log").
        writing: whether it was a write (the message then says nothing was recorded).

    """
    state = _sqlstate(error)
    said = " ".join(str(error).split())
    nothing = "; nothing was recorded" if writing else ""
    if state == "53100":
        return StorageFullError(
            f"cannot {doing}: the PostgreSQL server's disk is full ({said}){nothing}; free "
            "space on the server and retry"
        )
    if state in ("25006", "42501"):
        return ReadOnlyStorageError(
            f"cannot {doing}: PostgreSQL refuses to write ({said}){nothing}; use a user "
            "allowed to write, a primary rather than a standby, or open the log read-only"
        )
    if state in ("55P03", "57014", "40P01", "40001"):
        return StorageLockedError(
            f"cannot {doing}: PostgreSQL gave up waiting for a lock or a time-out ({said})"
            f"{nothing}; retry"
        )
    if state in ("42P01", "3F000", "42883"):
        return NotALogError(
            f"cannot {doing}: the log's tables are not there or not current ({said}); check "
            "the URL's database and ?schema=, or open the log read-write once to create them"
        )
    if state.startswith("XX0"):
        return CorruptLogError(
            f"cannot {doing}: PostgreSQL reports damaged data ({said}); restore the database "
            "from a backup and run 'alliance-events verify'"
        )
    if state.startswith("28") or state == "3D000":
        return StorageUnavailableError(
            f"cannot {doing}: PostgreSQL refuses the connection ({said}); check the URL's "
            "user, password and database"
        )
    if not state or state.startswith(("08", "57P", "53")):
        return StorageUnavailableError(
            f"cannot {doing}: PostgreSQL cannot be reached ({said}){nothing}; retry when the "
            "server is back (the log reconnects by itself)"
        )
    return StorageError(f"cannot {doing}: PostgreSQL error {state} ({said}){nothing}")


def _transient(error: psycopg.Error) -> bool:
    """Whether a failure to connect may pass by itself (a server restarting or away)."""
    state = _sqlstate(error)
    return not state or state.startswith(("08", "57P", "53300"))


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
        read_only: bool = False,
        verify_reads: bool | None = None,
        reconnect_timeout: float = RECONNECT_TIMEOUT,
    ) -> None:
        """Connect, and create the schema's tables unless ``migrate`` is false.

        Args:
            url: a libpq URL, with the options ``schema``, ``notify``, ``mode`` and
                ``verify`` if wanted.
            clock: where ``recorded_at`` comes from.
            codec: the codec (and so the registry) to use.
            page_size: records fetched per query while reading.
            migrate: create or update the tables and functions now (idempotent, safe
                with several processes opening at once). Never when read-only.
            read_only: every transaction read-only, nothing migrated (or ``?mode=ro``).
            verify_reads: check checksums on read (default: the URL's ``verify``, on).
            reconnect_timeout: seconds a call tries to (re)connect before giving up.

        Raises:
            StorageError: the server cannot be reached (after ``reconnect_timeout``),
                refuses the user, or holds no current log where a read-only open
                needs one.

        """
        self._codec = Codec() if codec is None else codec
        attach_keys(self._codec, PostgresKeys(self))  # personal fields: log/keys.py
        self._decoder = RecordDecoder(self._codec)
        self._clock = clock
        self._page_size = page_size
        conninfo, self.schema, self.notify, url_read_only, url_verify = _split_url(url)
        self.read_only = read_only or url_read_only
        self.verify_reads = url_verify if verify_reads is None else verify_reads
        self.reconnect_timeout = reconnect_timeout
        self._conninfo = conninfo
        self._schema = sql.Identifier(self.schema)
        self.channel = f"{self.schema}_events"
        self._lock = threading.RLock()
        self._closed = False
        self._settled = 0
        self._tips: dict[str, tuple[int, bytes]] = {}  # stream -> (version, last checksum)
        self._notifier: _Notifier | None = None  # started by the first append
        self._cursor: psycopg.Cursor[Any] | None = None  # the appends' own
        self._db: psycopg.Connection[Any] | None = None
        self._db = self.connect()
        try:
            if self.read_only:
                self._check_current()
            elif migrate:
                self.migrate()
        except BaseException:
            self.close()
            raise
        self._prepare_statements()

    def connect(self) -> psycopg.Connection[Any]:
        """Open a new connection, retrying with back-off (see the module's notes).

        Raises:
            StorageUnavailableError: not reachable within ``reconnect_timeout`` seconds
                (or refused: a wrong password, no such database).

        """
        deadline = time.monotonic() + self.reconnect_timeout
        delay = _FIRST_DELAY
        while True:
            remaining = deadline - time.monotonic()
            try:
                db = psycopg.connect(
                    self._conninfo, autocommit=True,
                    connect_timeout=max(2, math.ceil(remaining)),
                )
                if self.read_only:
                    db.execute("SET default_transaction_read_only = on")
            except psycopg.Error as error:
                if not _transient(error) or time.monotonic() + delay > deadline:
                    raise storage_fault(error, "connect to PostgreSQL") from error
            else:
                return db
            time.sleep(delay)
            delay = min(delay * 2, _MAX_DELAY)

    def _check_current(self) -> None:
        """Refuse, for a read-only open, a schema that is missing, older or newer."""
        version = self._retrying("open the log", self._schema_version)
        if version is None:
            raise NotALogError(
                f"there is no event log in schema {self.schema!r} of this database: check the "
                "URL (and ?schema=), or open it read-write once to create it"
            )
        if version != _SCHEMA_VERSION:
            self._refuse_version(version)

    def _refuse_version(self, version: int) -> None:
        if version > _SCHEMA_VERSION:
            raise NotALogError(
                f"the log in schema {self.schema!r} has schema version {version}, newer than "
                f"this alliance-events knows ({_SCHEMA_VERSION}): upgrade alliance-events"
            )
        raise ReadOnlyStorageError(
            f"the log in schema {self.schema!r} has schema version {version} and this "
            f"alliance-events needs {_SCHEMA_VERSION} (record checksums): a read-only open "
            "cannot migrate it; open it read-write once (any command that records)"
        )

    def migrate(self) -> None:
        """Create (or bring up to date) the schema, tables, triggers and functions.

        A schema that is current already is left alone: replacing its triggers would take
        an exclusive lock on the events table and stall every reader and writer.

        Raises:
            NotALogError: the schema is newer than this library knows.
            StorageError: the storage failed; nothing was changed.

        """
        ddl = sql.SQL(_DDL).format(schema=self._schema)

        def run(db: psycopg.Connection[Any]) -> None:
            version = self._schema_version(db)
            if version == _SCHEMA_VERSION:
                return
            if version is not None and version > _SCHEMA_VERSION:
                self._refuse_version(version)
            with db.transaction():
                lock_key = f"alliance_events:migrate:{self.schema}"
                db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (lock_key,))
                if self._schema_version(db) == _SCHEMA_VERSION:
                    return  # another process migrated it while this one waited
                db.execute(ddl)
                db.execute(
                    sql.SQL(
                        "INSERT INTO {}.meta (key, value) VALUES ('schema_version', %s) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value"
                    ).format(self._schema),
                    (str(_SCHEMA_VERSION),),
                )

        self._retrying("create or migrate the log's tables", run, writing=True)

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
        # One statement per append (see the module's notes), rendered to bytes once here
        # (a sql.Composed is rendered again on every execute); a batch's arrays go in
        # binary, since psycopg's text dumping of arrays escapes every element.
        def render(*parts: str) -> bytes:
            return sql.SQL("".join(parts)).format(schema=schema).as_bytes(self._db)

        self._sql_append_one = {
            True: render(_MOVE_ONE_NEW_STREAM, _INSERT_ONE),
            False: render(_MOVE_ONE_AT_VERSION, _INSERT_ONE),
        }
        self._sql_append_many = {
            True: render(_MOVE_MANY_NEW_STREAM, _INSERT_MANY),
            False: render(_MOVE_MANY_AT_VERSION, _INSERT_MANY),
        }
        self._sql_append_any = sql.SQL(_ANY_MOVE).format(
            schema=schema, insert=sql.SQL(_ANY_INSERT).format(schema=schema)
        ).as_bytes(self._db)
        self._sql_tip = render(
            "SELECT s.version, e.checksum FROM {schema}.streams AS s "
            "LEFT JOIN {schema}.events AS e ON e.stream = s.stream AND e.version = s.version "
            "WHERE s.stream = %s"
        )
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
        self._sql_tips = sql.SQL(
            "SELECT e.stream, e.version, e.checksum FROM {}.events AS e "
            "JOIN unnest(%s::text[], %s::bigint[]) AS w (stream, version) "
            "ON e.stream = w.stream AND e.version = w.version"
        ).format(schema)
        self._sql_stream_versions = sql.SQL(
            "SELECT s.stream, s.version, e.version FROM {0}.streams AS s "
            "LEFT JOIN (SELECT stream, max(version) AS version FROM {0}.events "
            "GROUP BY stream) AS e ON e.stream = s.stream "
            "WHERE s.version IS DISTINCT FROM e.version ORDER BY s.stream LIMIT 1"
        ).format(schema)
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
        doing = f"append to stream {stream!r}"
        if self.read_only:
            raise ReadOnlyStorageError(
                f"cannot {doing}: the PostgreSQL log was opened read-only; nothing was recorded"
            )
        now = recorded_time(self._clock)
        micros = to_micros(now)
        # psycopg dumps a plain datetime far faster than a pendulum one.
        at = _UTC_EPOCH + _dt.timedelta(microseconds=micros)
        with self._lock:
            if expected is ANY:
                return self._append_any(batch, now, at, doing)
            done = self._append_at(batch, expected, micros, at, doing)
            if isinstance(done, list):  # stored already: a retry
                return done
            positions, last = done
            self._remember(batch.stream, expected + len(batch.events), last)
            if self.notify:
                self._wake(batch.stream)
        return self._recorded(batch, positions, expected, now)

    def _append_at(
        self, batch: PreparedBatch, expected: int, micros: int, at: _dt.datetime, doing: str,
    ) -> tuple[Sequence[int], bytes] | list[Recorded]:
        """Append at ``expected``, chained to the stream's last checksum.

        The last checksum is the one remembered, or read first. Returns the positions and
        the new last checksum, or the stored records of a retry.

        Raises:
            ConcurrencyError: the stream is not at ``expected``.

        """
        for _attempt in range(_APPEND_ATTEMPTS):
            tip = (0, GENESIS) if expected == 0 else self._tips.get(batch.stream)
            if tip is None or tip[0] != expected:
                tip = self._read_tip(batch.stream)
                if tip[0] != expected:
                    return self._explain_refusal(batch)
            done = self._send_append(batch, tip, micros, at, doing)
            if done is not None:
                return done
            # Refused: a retry of stored ids, a conflict, or a stale tip (read it again).
            self._tips.pop(batch.stream, None)
            stored = self._stored_ids(batch)
            if stored:
                return check_retry(batch, stored)
            actual = self._read_tip(batch.stream)[0]
            if actual != expected:
                raise ConcurrencyError(batch.stream, expected, actual)
        raise StorageLockedError(  # pragma: no cover - a tip just read is not stale
            f"cannot {doing}: the stream's last checksum kept changing during "
            f"{_APPEND_ATTEMPTS} attempts; nothing was recorded; retry"
        )

    def _append_any(self, batch: PreparedBatch, now: pendulum.DateTime, at: _dt.datetime,
                    doing: str) -> list[Recorded]:
        """Append at whatever version the stream is (the checksums computed in SQL)."""
        params = {
            "stream": batch.stream,
            "count": len(batch.events),
            "ids": list(batch.event_ids),
            "types": [encoded.type for encoded in batch.encoded],
            "schemas": [encoded.schema for encoded in batch.encoded],
            "data": [encoded.data for encoded in batch.encoded],
            "metadata": batch.metadata_json,
            "recorded_at": at,
        }
        row = self._execute_append(batch, self._sql_append_any, params, doing)
        if row is None or row[0] is None:  # the ids are stored already
            return self._explain_refusal(batch)
        version_before, positions, last = row
        self._remember(batch.stream, version_before + len(batch.events), last)
        if self.notify:
            self._wake(batch.stream)
        return self._recorded(batch, positions, version_before, now)

    def _recorded(self, batch: PreparedBatch, positions: Sequence[int], version_before: int,
                  now: pendulum.DateTime) -> list[Recorded]:
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

    def _send_append(
        self, batch: PreparedBatch, tip: tuple[int, bytes], micros: int, at: _dt.datetime,
        doing: str,
    ) -> tuple[Sequence[int], bytes] | None:
        """Send the append chained to ``tip``; its positions and last checksum, or None.

        None: nothing was written (the stream is not at the tip's version, its last
        checksum is not the tip's, or an id is stored already).
        """
        stream = batch.stream
        before, previous = tip
        metadata_json = batch.metadata_json
        new = before == 0
        if len(batch.events) == 1:
            encoded = batch.encoded[0]
            event_id = batch.event_ids[0]
            statement = self._sql_append_one[new]
            params: dict[str, Any] = {
                "stream": stream, "expected": before, "id": event_id, "type": encoded.type,
                "schema": encoded.schema, "data": encoded.data, "metadata": metadata_json,
                "recorded_at": at, "previous": previous,
                "tail": record_tail(stream, before + 1, event_id.bytes, encoded.type,
                                    encoded.schema, encoded.data, metadata_json, micros),
            }
        else:
            statement = self._sql_append_many[new]
            params = {
                "stream": stream, "expected": before, "count": len(batch.events),
                "ids": list(batch.event_ids),
                "types": [encoded.type for encoded in batch.encoded],
                "schemas": [encoded.schema for encoded in batch.encoded],
                "data": [encoded.data for encoded in batch.encoded],
                "tails": [
                    record_tail(stream, before + index, event_id.bytes, encoded.type,
                                encoded.schema, encoded.data, metadata_json, micros)
                    for index, (event_id, encoded) in enumerate(
                        zip(batch.event_ids, batch.encoded, strict=True), 1
                    )
                ],
                "metadata": metadata_json, "recorded_at": at, "previous": previous,
            }
        row = self._execute_append(batch, statement, params, doing)
        if row is None:
            return None
        if len(batch.events) == 1:
            return (row[0],), row[1]
        if row[0] is None:
            return None
        return row[1], row[2]

    def _execute_append(self, batch: PreparedBatch, statement: bytes, params: dict[str, Any],
                        doing: str) -> Any:
        """Run an append statement; its row (None: a unique index refused it).

        Raises:
            UnknownOutcomeError: the connection broke after the append was sent.
            StorageError: anything else (nothing was recorded).

        """
        stream = batch.stream
        db = self._connection()
        if _gone_while_idle(db):
            db = self._replace(db)  # nothing was sent on the dead one
        try:
            cursor = self._cursor
            if cursor is None or cursor.connection is not db:
                cursor = self._cursor = db.cursor()  # one per connection: no set-up per append
            return cursor.execute(statement, params, prepare=True).fetchone()
        except psycopg.errors.UniqueViolation:  # a concurrent retry, or ids reused
            return None
        except psycopg.Error as error:
            self._tips.pop(stream, None)
            if _lost(db) or _sqlstate(error).startswith(("08", "57P")):
                if "sending" in str(error):  # it never reached the server
                    raise StorageUnavailableError(
                        f"cannot {doing}: the connection to PostgreSQL broke before the "
                        f"append was sent ({' '.join(str(error).split())}); nothing was "
                        "recorded; retry (the log reconnects by itself)"
                    ) from error
                raise UnknownOutcomeError(
                    stream, " ".join(str(error).split()), _command_id(batch.metadata),
                ) from error
            raise storage_fault(error, doing, writing=True) from error

    def _read_tip(self, stream: str) -> tuple[int, bytes]:
        """Read the stream's version and last checksum (remembered for the next append)."""
        row = self._retrying(
            f"append to stream {stream!r}",
            lambda db: db.execute(self._sql_tip, (stream,), prepare=True).fetchone(),
            writing=True,
        )
        if row is None:
            return 0, GENESIS
        version, last = row
        if last is None:
            raise CorruptLogError(
                f"cannot append to stream {stream!r}: the streams table says version "
                f"{version} but that record is missing; nothing was recorded; run "
                "'alliance-events verify' and restore the database from a backup"
            )
        self._remember(stream, version, last)
        return version, bytes(last)

    def _remember(self, stream: str, version: int, last: bytes | None) -> None:
        """Remember a stream's last checksum: the next append to it needs it.

        A record never changes once committed, so a remembered tip is a fact; an append
        chained to one that is no longer the stream's last is refused by the statement
        itself (the tip is then read again).
        """
        if last is None:  # a damaged log (the streams table ahead of its records)
            self._tips.pop(stream, None)
            return
        tips = self._tips
        if len(tips) >= _TIPS_REMEMBERED:
            tips.clear()
        tips[stream] = (version, bytes(last))

    def _stored_ids(self, batch: PreparedBatch) -> list[Recorded]:
        rows = self._retrying(
            f"append to stream {batch.stream!r}",
            lambda db: db.execute(self._sql_by_ids, (list(batch.event_ids),),
                                  binary=True).fetchall(),
            writing=True,
        )
        return list(self._decoder.records(rows))

    def _explain_refusal(self, batch: PreparedBatch) -> list[Recorded]:
        """Explain an append that wrote nothing: a retry, a reuse of ids, or a conflict."""
        stored = self._stored_ids(batch)
        if stored:
            return check_retry(batch, stored)
        actual = self.stream_version(batch.stream)
        expected = batch.expected_version
        if expected is ANY:  # pragma: no cover - ANY is refused only for stored ids
            raise LogError(f"PostgreSQL refused the append to {batch.stream!r}")
        raise ConcurrencyError(batch.stream, expected, actual)

    def _wake(self, stream: str) -> None:
        # Followers also poll: a lost wake-up only delays them. The payload is the stream.
        notifier = self._notifier
        if notifier is None:
            notifier = self._notifier = _Notifier(self)
        notifier.wake(stream)

    # -- reading ------------------------------------------------------------------------

    def read_stream(self, stream: str, *, after_version: int = 0) -> Iterator[Recorded]:
        """Iterate over the stream's records with a version above ``after_version``.

        A stream's versions commit in order (its row lock), so no hole can appear here.
        """
        check_stream(stream)
        cursor = max(after_version, 0)
        records = self._decoder.records
        checker = self._checker()
        while True:
            rows = self._fetchall(
                "read the log", self._sql_read_stream, (stream, cursor, self._page_size),
                binary=True,
            )
            if checker is not None:
                checker.prefetch(rows)
                checker.check_page(rows)
            if rows:
                last = rows[-1]
                self._remember(stream, last[2], last[9])  # the next append chains to it
            yield from records(rows)
            if len(rows) < self._page_size:
                return
            cursor = rows[-1][2]

    def read_all(self, *, after: int = 0, limit: int | None = None) -> Iterator[Recorded]:
        """Iterate over settled records above ``after`` (see the module's notes).

        Raises:
            CorruptRecordError: a record does not match its checksum (names its position).
            StorageError: the storage failed and did not come back within the bound.

        """
        cursor = max(after, 0)
        remaining = limit
        records = self._decoder.records
        checker = self._checker()
        while remaining is None or remaining > 0:
            size = self._page_size if remaining is None else min(remaining, self._page_size)
            settled, more = self._settled_page(cursor, size)
            if checker is not None:
                # Checked in the order they are returned: a hole's rows before the rows
                # after it (a stream's previous record may be among them).
                checker.prefetch(settled)
                checker.check_page(settled)
            yield from records(settled)
            if not more or not settled:
                return
            cursor = settled[-1][0]
            if remaining is not None:
                remaining -= len(settled)

    def _settled_page(self, cursor: int, size: int) -> tuple[list[Any], bool]:
        """Return up to ``size`` settled rows after ``cursor``, and whether more may follow.

        The rows are contiguous but for permanent holes (see the module's notes): at a
        hole a writer may still fill, the page ends before it.
        """
        rows, snapshot = self._page(cursor, size)
        if not rows or rows[-1][0] == cursor + len(rows):
            # No hole (positions increase, so the last one tells): the page as it is.
            return rows, len(rows) >= size
        settled: list[Any] = []
        for row in rows:
            position = row[0]
            if position != cursor + 1:
                # A hole before this row: settled, or still being committed?
                filled = self._fill_hole(cursor, position, snapshot)
                if filled is None:
                    return settled, False
                for missing in filled[: size - len(settled)]:
                    settled.append(missing)
                    cursor = missing[0]
                if len(settled) >= size:
                    return settled, True
            settled.append(row)
            cursor = position
            if len(settled) >= size:
                return settled, True
        return settled, len(rows) >= size

    def _page(self, after: int, size: int) -> tuple[list[Any], str]:
        def read(db: psycopg.Connection[Any]) -> tuple[list[Any], str]:
            with db.transaction():
                db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                snapshot = db.execute("SELECT pg_current_snapshot()::text").fetchone()
                rows = db.execute(self._sql_read_all, (after, size), binary=True).fetchall()
            assert snapshot is not None  # noqa: S101 - a SELECT of one value returns one row
            return rows, str(snapshot[0])

        return self._retrying("read the log", read)

    def _fill_hole(self, before: int, after: int, snapshot: str) -> list[Any] | None:
        """Rows committed between two visible positions, or None if one may still come."""
        def fill(db: psycopg.Connection[Any]) -> list[Any] | None:
            if self._writers_running(db, snapshot):
                return None
            return db.execute(self._sql_read_range, (before, after), binary=True).fetchall()

        return self._retrying("read the log", fill)

    def _checker(self) -> ChainChecker | None:
        return ChainChecker(self._lookup_tips) if self.verify_reads else None

    def _lookup_tips(self, wanted: Sequence[tuple[str, int]]
                     ) -> dict[tuple[str, int], bytes | None]:
        streams = [stream for stream, _ in wanted]
        versions = [version for _, version in wanted]
        rows = self._retrying(
            "read the log",
            lambda db: db.execute(self._sql_tips, (streams, versions)).fetchall(),
        )
        return {(stream, version): stored for stream, version, stored in rows}

    def _writers_running(self, db: psycopg.Connection[Any], snapshot: str) -> bool:
        row = db.execute(self._sql_writers_running, (self._streams_table, snapshot)).fetchone()
        return bool(row and row[0])

    def head(self) -> int:
        """Return the last settled position: all positions up to it are readable."""
        def settled(db: psycopg.Connection[Any]) -> int:
            with db.transaction():
                db.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                snapshot = str(db.execute("SELECT pg_current_snapshot()::text").fetchone()[0])  # type: ignore[index]
                highest = db.execute(self._sql_max).fetchone()[0] or 0  # type: ignore[index]
            if not snapshot.endswith(":") and self._writers_running(db, snapshot):
                # A writer may still commit below `highest`: stop at the first hole.
                highest = self._first_hole(db, highest) - 1
            self._settled = max(self._settled, highest)
            return self._settled

        return self._retrying("read the log's head", settled)

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
        row = self._retrying(
            "read a stream's version",
            lambda db: db.execute(self._sql_stream_version, (stream,)).fetchone(),
        )
        return int(row[0]) if row else 0

    def verify(self) -> VerifyReport:
        """Check every record's checksum, and the streams' versions against their records.

        Returns:
            The first bad position and what is wrong, or ok (see the module's notes).

        """
        report = verify_rows(self._stored_rows(), gapless=False)
        if not report.ok:
            return report
        row = self._retrying(
            "verify the log", lambda db: db.execute(self._sql_stream_versions).fetchone()
        )
        if row is not None:
            stream, counted, last = row
            return VerifyReport(
                report.checked, None,
                f"stream {stream!r} is at version {counted} in the streams table but its "
                f"last record is version {last or 0}: records were removed",
                report.last_position,
            )
        return report

    def _stored_rows(self) -> Iterator[StoredRow]:
        cursor = 0
        while True:
            rows = self._fetchall(
                "verify the log", self._sql_read_all, (cursor, self._page_size), binary=True
            )
            for row in rows:
                (position, stream, version, event_id, type_name, schema, data, metadata,
                 micros, stored) = row
                yield StoredRow(position, stream, version, event_id, type_name, schema,
                                data, metadata, micros, stored)
            if len(rows) < self._page_size:
                return
            cursor = rows[-1][0]

    # -- lifecycle ----------------------------------------------------------------------

    def snapshot_store(self) -> PostgresSnapshots:
        """Return the store of projection snapshots in this log's schema.

        See :mod:`alliance_events.log.snapshots`; it opens a connection of its own.
        """
        return PostgresSnapshots(self.schema, self.connect, read_only=self.read_only)

    def consumer_store(self, *, poll_interval: float, fallback_interval: float) -> _Consumers:
        """Return a store of checkpoints and wake-ups (see :mod:`alliance_events.log.follow`).

        It opens a connection of its own. Waiting listens on :attr:`channel` and looks
        every ``fallback_interval`` seconds anyway; with ``?notify=off``, it looks every
        ``poll_interval`` seconds.
        """
        self._connection()
        return _Consumers(self, poll_interval, fallback_interval)

    def close(self) -> None:
        """Send the last wake-up, close the connections; further use raises LogClosedError."""
        with self._lock:
            self._closed = True
            if self._notifier is not None:
                self._notifier.close()
                self._notifier = None
            if self._db is not None:
                with contextlib.suppress(psycopg.Error):
                    self._db.close()
                self._db = None

    def __enter__(self) -> PostgresLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        mode = ", read_only=True" if self.read_only else ""
        return f"PostgresLog(schema={self.schema!r}{mode})"

    def _connection(self) -> psycopg.Connection[Any]:
        """Return the connection, replaced first if it broke (call under the lock)."""
        if self._closed:
            raise LogClosedError("the PostgreSQL log is closed")
        db = self._db
        if db is None or _lost(db):
            return self._replace(db)
        return db

    def _replace(self, old: psycopg.Connection[Any] | None) -> psycopg.Connection[Any]:
        """Close a broken connection and open a new one (call under the lock)."""
        self._db = None
        if old is not None:
            with contextlib.suppress(psycopg.Error):
                old.close()
        self._db = self.connect()
        return self._db

    def _fetchall(self, doing: str, query: sql.Composed, params: Sequence[Any], *,
                  binary: bool = False) -> list[Any]:
        return self._retrying(
            doing, lambda db: db.execute(query, params, binary=binary).fetchall()
        )

    def _retrying(
        self, doing: str, operation: Callable[[psycopg.Connection[Any]], _T], *,
        writing: bool = False,
    ) -> _T:
        """Run ``operation`` under the lock; once more on a new connection if it broke.

        Only for what is safe to repeat: reads, and writes that are one transaction
        whose failure leaves nothing behind.
        """
        with self._lock:
            for attempt in (1, 2):
                db = self._connection()
                try:
                    return operation(db)
                except psycopg.Error as error:
                    if attempt == 1 and _lost(db):
                        continue
                    raise storage_fault(error, doing, writing=writing) from error
        raise AssertionError("unreachable")  # pragma: no cover


def _gone_while_idle(db: psycopg.Connection[Any]) -> bool:
    """Return whether an idle connection's socket reads as ready (no round trip).

    It does when the server closed it, or sent a FATAL error (as on a shutdown), while
    nobody was using it.
    """
    try:
        poller = select.poll()
        poller.register(db.fileno(), select.POLLIN)
        return bool(poller.poll(0))
    except (OSError, ValueError, psycopg.Error):
        return True


def _command_id(metadata: Mapping[str, Any]) -> str | None:
    value = metadata.get("command_id")
    return None if value is None else str(value)



def _lock_key(schema: str, name: str) -> int:
    """Return the advisory lock's key of a consumer name (64 bits of a hash: no collisions)."""
    digest = hashlib.blake2b(
        f"alliance_events:follower:{schema}:{name}".encode(), digest_size=8
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


class _Notifier:
    """Sends a log's ``NOTIFY`` from a thread and a connection of its own.

    An append only signals it, so the wake-up costs the appending thread no round trip
    (a ``NOTIFY`` on the append's own connection made a one-event append ~1.4x slower).
    After a quiet spell the ``NOTIFY`` leaves as soon as the thread runs, right after the
    commit; then at most one leaves per :attr:`INTERVAL`, covering every append committed
    meanwhile. So a burst of appends costs the server a ``NOTIFY`` transaction per 5 ms,
    not one per append (each is a transaction of its own that takes the database-wide
    notification lock), and a follower learns of an append at most 5 ms later than it
    would have. ``close`` sends the last one at once.
    """

    INTERVAL: Final = 0.005
    _JOIN_TIMEOUT: Final = 2.0

    def __init__(self, log: PostgresLog) -> None:
        self._log = log
        self._sql = sql.SQL("SELECT pg_notify(%s, %s)").as_bytes(None)
        self._condition = threading.Condition(threading.Lock())
        self._pending: str | None = None  # the payload of the next NOTIFY: a stream
        self._closing = False
        self._db: psycopg.Connection[Any] | None = None
        self._thread = threading.Thread(
            target=self._run, name=f"alliance-events notifier ({log.schema})", daemon=True
        )
        self._thread.start()

    def wake(self, stream: str) -> None:
        """Have a ``NOTIFY`` sent (soon, by the thread) for an append just committed."""
        with self._condition:
            idle = self._pending is None
            self._pending = stream
            if idle:  # else the thread is sending, or waiting for the interval's end
                self._condition.notify()

    def _run(self) -> None:
        sent = -math.inf
        while True:
            with self._condition:
                while self._pending is None and not self._closing:
                    self._condition.wait()
                while not self._closing:
                    remaining = sent + self.INTERVAL - time.monotonic()
                    if remaining <= 0:
                        break
                    self._condition.wait(remaining)
                stream, self._pending = self._pending, None
                closing = self._closing
            if stream is not None:
                self._send(stream)
                sent = time.monotonic()
            if closing and stream is None:
                break
        if self._db is not None:
            with contextlib.suppress(psycopg.Error):
                self._db.close()

    def _send(self, stream: str) -> None:
        # Best effort: followers also poll, so a failed NOTIFY only delays them.
        for _attempt in (1, 2):
            try:
                if self._db is None or _lost(self._db):
                    self._db = self._log.connect()
                self._db.execute(self._sql, (self._log.channel, stream), prepare=True)
            except (psycopg.Error, StorageError):
                if self._db is not None:
                    with contextlib.suppress(psycopg.Error):
                        self._db.close()
                self._db = None
            else:
                return

    def close(self) -> None:
        """Send the pending ``NOTIFY`` (if any), then stop the thread."""
        with self._condition:
            self._closing = True
            self._condition.notify()
        self._thread.join(self._JOIN_TIMEOUT)


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
        self._closed = False
        self._keys: set[int] = set()  # the advisory locks held for claims
        self._reconnected = False  # set by a reconnection: the next wait returns True
        self._wake_read, self._wake_write = socket.socketpair()
        self._wake_read.settimeout(0.0)  # non-blocking
        self._wake_write.settimeout(0.0)
        try:
            self._db: psycopg.Connection[Any] | None = log.connect()
        except BaseException:
            self._wake_read.close()
            self._wake_write.close()
            raise
        # Selectors, not select(): a busy server's sockets may be numbered above 1024.
        self._both = selectors.DefaultSelector()
        self._fileno = self._db.fileno()
        self._both.register(self._fileno, selectors.EVENT_READ, "database")
        self._both.register(self._wake_read, selectors.EVENT_READ, "interrupt")
        self._interrupts = selectors.DefaultSelector()
        self._interrupts.register(self._wake_read, selectors.EVENT_READ, "interrupt")

    def _connection(self) -> psycopg.Connection[Any]:
        """Return the connection, replaced first if it broke (call under the lock)."""
        if self._closed:
            raise LogClosedError("the follower's connection to PostgreSQL is closed")
        db = self._db
        if db is None or _lost(db):
            return self._reconnect(db)
        return db

    def _reconnect(self, old: psycopg.Connection[Any] | None) -> psycopg.Connection[Any]:
        """Replace a broken connection: LISTEN again, take the claims' locks again."""
        self._db = None
        if old is not None:
            with contextlib.suppress(psycopg.Error):
                old.close()
        with contextlib.suppress(KeyError, ValueError):
            self._both.unregister(self._fileno)
        db = self._log.connect()
        try:
            if self._listening:
                db.execute(self._sql_listen)
            for key in self._keys:
                # Best effort: if another follower took the name meanwhile, the generation
                # fences this one out at its next acknowledgement.
                db.execute("SELECT pg_try_advisory_lock(%s)", (key,))
        except psycopg.Error as error:
            db.close()
            raise storage_fault(error, "listen to the log again") from error
        self._db = db
        self._fileno = db.fileno()
        self._both.register(self._fileno, selectors.EVENT_READ, "database")
        self._reconnected = True
        return db

    @contextlib.contextmanager
    def _errors(self, what: str, *, writing: bool = False) -> Iterator[None]:
        try:
            yield
        except psycopg.Error as error:
            raise storage_fault(error, what, writing=writing) from error

    def _retrying(self, doing: str, operation: Callable[[psycopg.Connection[Any]], _T]) -> _T:
        """Run a one-transaction ``operation``; once more on a new connection if it broke."""
        with self._lock:
            for attempt in (1, 2):
                db = self._connection()
                try:
                    return operation(db)
                except psycopg.Error as error:
                    if attempt == 1 and _lost(db):
                        continue
                    raise storage_fault(error, doing) from error
        raise AssertionError("unreachable")  # pragma: no cover

    def get(self, name: str) -> int | None:
        row = self._retrying(
            "read a checkpoint", lambda db: db.execute(self._sql_get, (name,)).fetchone()
        )
        return None if row is None else row[0]

    def items(self) -> dict[str, int]:
        return dict(self._retrying(
            "read the checkpoints", lambda db: db.execute(self._sql_items).fetchall()
        ))

    def put(self, name: str, position: int) -> None:
        # Repeating it stores the same value: safe to retry on a new connection.
        self._retrying("store a checkpoint",
                       lambda db: db.execute(self._sql_put, (name, position)))

    def delete(self, name: str) -> bool:
        with self._lock, self._errors("delete a checkpoint", writing=True):
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
                    self._keys.add(key)
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
                self._keys.discard(key)
                with contextlib.suppress(psycopg.Error):
                    db.execute("SELECT pg_advisory_unlock(%s)", (key,))
                raise
            return claim

    def move(self, claim: Claim, position: int) -> None:
        with self._lock:
            db = self._connection()
            with self._errors("move a checkpoint", writing=True):
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
        with self._lock, self._errors("listen to the log"):
            self._connection().execute(self._sql_listen)
            self._listening = True

    def wait(self, after: int, timeout: float) -> bool:  # noqa: PLR0911 - one per outcome
        # A notification is a hint to look at the (settled) head, not an answer: it may be
        # for a record read already, or for one above a position still being committed.
        with self._waiting:
            if self._take_reconnected():
                return True  # something may have been appended while it was away
            if not self._listening:
                return self._poll(after, timeout)
            deadline = time.monotonic() + timeout
            self._drain()  # notifications of earlier appends: the head covers them
            if self._take_reconnected() or self._log.head() > after:
                return True
            look = time.monotonic() + self._fallback_interval
            while True:
                now = time.monotonic()
                if now >= deadline:
                    return False
                with self._lock:
                    self._connection()
                ready = {key.data for key, _ in self._both.select(min(deadline, look) - now)}
                if "interrupt" in ready:
                    self._clear_interrupt()
                    return False
                notified = "database" in ready and self._drain()
                if self._take_reconnected():
                    return True
                if notified or time.monotonic() >= look:
                    if self._log.head() > after:
                        return True
                    look = time.monotonic() + self._fallback_interval

    def _take_reconnected(self) -> bool:
        with self._lock:
            reconnected, self._reconnected = self._reconnected, False
            return reconnected

    def _drain(self) -> bool:
        """Read the notifications received (some may wait since a query); return if any.

        A connection found broken here is replaced at once (LISTEN again).
        """
        with self._lock:
            db = self._connection()
            try:
                return sum(1 for _ in db.notifies(timeout=0)) > 0
            except psycopg.Error as error:
                if not _lost(db):
                    raise storage_fault(error, "receive the log's notifications") from error
            self._connection()  # reconnects, or raises StorageUnavailableError
            return False

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
            if not self._closed:
                self._closed = True
                # Closing the session releases its advisory locks (and its LISTEN).
                if self._db is not None:
                    with contextlib.suppress(psycopg.Error):
                        self._db.close()
                    self._db = None
                self._both.close()
                self._interrupts.close()
                self._wake_read.close()
                self._wake_write.close()
