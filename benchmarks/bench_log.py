"""Benchmark the event log against a raw-driver baseline and the `eventsourcing` library.

Run from the repository's root::

    .venv/bin/python benchmarks/bench_log.py [--quick] [--events N] [--postgres DSN]
                                             [--json FILE] [--only WHAT ...] [--profile]

Every figure is measured beside its baselines in the same run, in interleaved rounds
(alliance, raw, eventsourcing, alliance, ...), and the table reports the best round of
each: the machines are shared and noisy, so the ratios matter more than the rates.
See benchmarks/README.md for what each row means.
"""

import argparse
import contextlib
import cProfile
import datetime
import enum
import functools
import hashlib
import io
import json
import os
import platform
import pstats
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import attrs
import orjson
import pendulum

from alliance_events import Event, EventRegistry, open_log
from alliance_events.clock import new_id
from alliance_events.errors import UnsupportedURLError

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/test"
PAGE = 2_000  # the SQLite log's default page size; every contender reads pages this big
VIENNA = pendulum.timezone("Europe/Vienna")
CACHE_FORMAT = 3  # bump when the generated 1M-event file must be rebuilt (3: unique values)

# -- the event ---------------------------------------------------------------------------

registry = EventRegistry()


class Status(enum.Enum):
    TENTATIVE = "tentative"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


@registry.register("bench.MeetingScheduled", schema=1)
@attrs.frozen(kw_only=True)
class MeetingScheduled(Event):
    meeting_id: uuid.UUID
    starts_at: pendulum.DateTime
    ends_at: pendulum.DateTime
    registration_closes: pendulum.Date
    title: str
    capacity: int
    status: Status
    rooms: tuple[str, str]


WORDS = ("Plenary", "Working group", "Side event", "Briefing", "Consultation")
TOPICS = ("on drug policy", "on crime prevention", "with member states", "on youth")
FIRST_START = pendulum.datetime(2025, 1, 6, 9, 0, tz=VIENNA)


def fresh(k: int) -> MeetingScheduled:
    """The ``k``-th event: its own values, as in a real log (and a fresh event id).

    Its meeting id and title are unique; it starts 7 minutes after the ``k - 1``-th
    (so its times are unique too, across summer-time changes); its date of closing
    registration is shared with the events of the same day (~200 of them).
    """
    digest = hashlib.blake2b(k.to_bytes(8, "big"), digest_size=16).digest()
    pick = digest[0]
    start = FIRST_START.add(minutes=7 * k)
    title = f"#{k} {WORDS[pick % 5]} {TOPICS[pick % 4]}"
    return MeetingScheduled(
        event_id=new_id(),
        meeting_id=uuid.UUID(bytes=digest, version=4),
        starts_at=start,
        ends_at=start.add(hours=1 + digest[1] % 3),
        registration_closes=start.date().subtract(days=14),
        title=(title + " " * 40)[:40],
        capacity=10 + digest[2] * 390 // 256,
        status=list(Status)[digest[3] % 3],
        rooms=(f"M{1 + digest[4] % 7}", f"Board room {1 + digest[5] % 3}"),
    )


# -- plans: the same work for every contender ------------------------------------------


@dataclass(frozen=True)
class Append:
    stream: str
    expected_version: int
    events: tuple[MeetingScheduled, ...]


def plan(calls: int, size: int, streams: int, seed: int, prefix: str) -> list[Append]:
    """``calls`` appends of ``size`` events, each to a new or an existing stream."""
    rng = random.Random(seed)
    versions: dict[str, int] = {}
    result = []
    for call in range(calls):
        stream = f"{prefix}-{rng.randrange(streams)}"
        version = versions.get(stream, 0)
        events = tuple(fresh(call * size + i) for i in range(size))
        result.append(Append(stream, version, events))
        versions[stream] = version + size
    return result


def raw_payload(e: MeetingScheduled) -> dict[str, Any]:
    """What hand-written code would give orjson (which serialises UUIDs, enums and tuples
    itself, but not pendulum's subclasses of datetime and date)."""
    return {
        "meeting_id": e.meeting_id,
        "starts_at": f"{e.starts_at.isoformat()}[{e.starts_at.timezone_name}]",
        "ends_at": f"{e.ends_at.isoformat()}[{e.ends_at.timezone_name}]",
        "registration_closes": e.registration_closes.isoformat(),
        "title": e.title,
        "capacity": e.capacity,
        "status": e.status,
        "rooms": e.rooms,
    }


def micros_now() -> int:
    return time.time_ns() // 1_000


# -- contenders ------------------------------------------------------------------------


class UnavailableError(Exception):
    """A contender that cannot run here (library or backend missing)."""


class Contender:
    name = "?"
    reads_only = False  # a variant measured on read_all only
    batches_only = False  # a variant measured on appends of 100 events only

    def open_fresh(self) -> None:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def prepare(self, appends: Sequence[Append]) -> Any:
        return appends

    def run(self, prepared: Any) -> None:
        raise NotImplementedError

    def read_all(self, limit: int | None = None) -> int:
        raise NotImplementedError


# alliance ---------------------------------------------------------------------------


class Alliance(Contender):
    name = "alliance"

    def __init__(self, url_for: Callable[[], str], cleanup: Callable[[], None]) -> None:
        self._url_for = url_for
        self._cleanup = cleanup
        self.log: Any = None

    def open_fresh(self) -> None:
        self.log = open_log(self._url_for(), registry=registry)

    def close(self) -> None:
        if self.log is not None:
            self.log.close()
            self.log = None
        self._cleanup()

    def run(self, prepared: Sequence[Append]) -> None:
        append = self.log.append
        for a in prepared:
            append(a.stream, a.events, expected_version=a.expected_version)

    def read_all(self, limit: int | None = None) -> int:
        n = 0
        for _ in self.log.read_all(limit=limit):
            n += 1
        return n


# raw SQLite ---------------------------------------------------------------------------

SQLITE_DDL = """
CREATE TABLE IF NOT EXISTS events (
    position    INTEGER PRIMARY KEY,
    stream      TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    event_id    BLOB    NOT NULL,
    type        TEXT    NOT NULL,
    schema      INTEGER NOT NULL,
    data        TEXT    NOT NULL,
    metadata    TEXT,
    recorded_at INTEGER NOT NULL,
    UNIQUE (stream, version)
);
CREATE UNIQUE INDEX IF NOT EXISTS events_event_id ON events (event_id);
"""
SQLITE_COLUMNS = "position, stream, version, event_id, type, schema, data, metadata, recorded_at"
SQLITE_INSERT = f"INSERT INTO events ({SQLITE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"


class RawSQLite(Contender):
    name = "raw"

    def __init__(self, path_for: Callable[[], Path], synchronous: str) -> None:
        self._path_for = path_for
        self.synchronous = synchronous
        self.db: sqlite3.Connection | None = None
        self.path: Path | None = None

    def open_fresh(self) -> None:
        self.path = self._path_for()
        db = sqlite3.connect(self.path, isolation_level=None)
        db.execute("PRAGMA journal_mode = WAL")
        db.execute(f"PRAGMA synchronous = {self.synchronous}")
        db.executescript(SQLITE_DDL)
        self.db = db

    def close(self) -> None:
        if self.db is not None:
            self.db.close()
            self.db = None
        remove_sqlite(self.path)

    def run(self, prepared: Sequence[Append]) -> None:
        db = self.db
        assert db is not None
        execute = db.execute
        dumps = orjson.dumps
        for a in prepared:
            execute("BEGIN IMMEDIATE")
            actual = execute(
                "SELECT max(version) FROM events WHERE stream = ?", (a.stream,)
            ).fetchone()[0] or 0
            if actual != a.expected_version:
                execute("ROLLBACK")
                raise RuntimeError("concurrency")
            head = execute("SELECT max(position) FROM events").fetchone()[0] or 0
            now = micros_now()
            rows = [
                (
                    head + i + 1, a.stream, actual + i + 1, e.event_id.bytes,
                    "bench.MeetingScheduled", 1, dumps(raw_payload(e)).decode(), None, now,
                )
                for i, e in enumerate(a.events)
            ]
            db.executemany(SQLITE_INSERT, rows)
            execute("COMMIT")

    def read_all(self, limit: int | None = None) -> int:
        db = self.db
        assert db is not None
        loads = orjson.loads
        query = f"SELECT {SQLITE_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?"
        cursor, n = 0, 0
        while limit is None or n < limit:
            rows = db.execute(query, (cursor, PAGE)).fetchall()
            for row in rows:
                loads(row[6])
            n += len(rows)
            if len(rows) < PAGE:
                break
            cursor = rows[-1][0]
        return n


class RawSQLiteTyped(RawSQLite):
    """Raw reads that also build the event by hand, in plain Python (typed decoding as
    hand-written code does it)."""

    reads_only = True

    def read_all(self, limit: int | None = None) -> int:
        db = self.db
        assert db is not None
        loads = orjson.loads
        make_uuid = uuid.UUID
        query = f"SELECT {SQLITE_COLUMNS} FROM events WHERE position > ? ORDER BY position LIMIT ?"
        cursor, n = 0, 0
        while limit is None or n < limit:
            rows = db.execute(query, (cursor, PAGE)).fetchall()
            for row in rows:
                d = loads(row[6])
                MeetingScheduled(
                    event_id=make_uuid(bytes=row[3]), meeting_id=make_uuid(d["meeting_id"]),
                    starts_at=hand_datetime(d["starts_at"]), ends_at=hand_datetime(d["ends_at"]),
                    registration_closes=pendulum.Date.fromisoformat(d["registration_closes"]),
                    title=d["title"], capacity=d["capacity"], status=Status(d["status"]),
                    rooms=tuple(d["rooms"]),
                )
            n += len(rows)
            if len(rows) < PAGE:
                break
            cursor = rows[-1][0]
        return n


def hand_datetime(text: str) -> pendulum.DateTime:
    """``2025-02-13T10:15:00+01:00[Europe/Vienna]`` as a pendulum date-time in its zone
    (no check of the fold: the least a typed decoder must do)."""
    bracket = text.find("[")
    p = datetime.datetime.fromisoformat(text[:bracket])
    return pendulum.DateTime(p.year, p.month, p.day, p.hour, p.minute, p.second,
                             p.microsecond, tzinfo=zone(text[bracket + 1 : -1]))


def remove_sqlite(path: Path | None) -> None:
    if path is None:
        return
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


# eventsourcing ------------------------------------------------------------------------


@functools.cache
def eventsourcing_parts() -> dict[str, Any]:
    """Import eventsourcing and build its event class, transcoder and mapper."""
    try:
        from dataclasses import dataclass as _dc

        from eventsourcing.persistence import (
            JSONTranscoder,
            Mapper,
            Transcoding,
            UUIDAsHex,
        )
    except ImportError as error:
        raise UnavailableError(f"eventsourcing not installed: {error}") from error

    @_dc(frozen=True)
    class EsMeetingScheduled:
        originator_id: str
        originator_version: int
        event_id: uuid.UUID
        meeting_id: uuid.UUID
        starts_at: pendulum.DateTime
        ends_at: pendulum.DateTime
        registration_closes: pendulum.Date
        title: str
        capacity: int
        status: Status
        rooms: tuple[str, str]

    EsMeetingScheduled.__module__ = __name__
    EsMeetingScheduled.__qualname__ = "EsMeetingScheduled"
    globals()["EsMeetingScheduled"] = EsMeetingScheduled

    class PendulumDateTimeAsISO(Transcoding):
        type = pendulum.DateTime
        name = "pendulum_datetime"

        def encode(self, obj: pendulum.DateTime) -> str:
            return f"{obj.isoformat()}[{obj.timezone_name}]"

        def decode(self, data: str) -> pendulum.DateTime:
            bracket = data.find("[")
            parsed = pendulum.DateTime.fromisoformat(data[:bracket])
            return pendulum.DateTime(
                parsed.year, parsed.month, parsed.day, parsed.hour, parsed.minute,
                parsed.second, parsed.microsecond, tzinfo=zone(data[bracket + 1 : -1]),
            )

    class PendulumDateAsISO(Transcoding):
        type = pendulum.Date
        name = "pendulum_date"

        def encode(self, obj: pendulum.Date) -> str:
            return obj.isoformat()

        def decode(self, data: str) -> pendulum.Date:
            return pendulum.Date.fromisoformat(data)

    class StatusAsValue(Transcoding):
        type = Status
        name = "status"

        def encode(self, obj: Status) -> str:
            return obj.value

        def decode(self, data: str) -> Status:
            return Status(data)

    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), PendulumDateTimeAsISO(), PendulumDateAsISO(), StatusAsValue()):
        transcoder.register(transcoding)
    return {"event": EsMeetingScheduled, "mapper": Mapper(transcoder=transcoder)}


_zones: dict[str, Any] = {}


def zone(name: str) -> Any:
    z = _zones.get(name)
    if z is None:
        z = _zones[name] = pendulum.timezone(name)
    return z


class Eventsourcing(Contender):
    """eventsourcing's application recorder, with its mapper and JSON transcoder."""

    name = "eventsourcing"

    def __init__(self) -> None:
        parts = eventsourcing_parts()
        self.event_cls = parts["event"]
        self.mapper = parts["mapper"]
        self.recorder: Any = None
        self.page = PAGE

    def prepare(self, appends: Sequence[Append]) -> Any:
        cls = self.event_cls
        return [
            [
                cls(
                    originator_id=a.stream, originator_version=a.expected_version + i + 1,
                    event_id=e.event_id, meeting_id=e.meeting_id, starts_at=e.starts_at,
                    ends_at=e.ends_at, registration_closes=e.registration_closes,
                    title=e.title, capacity=e.capacity, status=e.status, rooms=e.rooms,
                )
                for i, e in enumerate(a.events)
            ]
            for a in appends
        ]

    def run(self, prepared: Any) -> None:
        to_stored = self.mapper.to_stored_event
        insert = self.recorder.insert_events
        for batch in prepared:
            insert([to_stored(e) for e in batch])

    def read_all(self, limit: int | None = None) -> int:
        select = self.recorder.select_notifications
        to_domain = self.mapper.to_domain_event
        start, n = 1, 0
        while limit is None or n < limit:
            page = select(start=start, limit=self.page)
            for notification in page:
                to_domain(notification)
            n += len(page)
            if len(page) < self.page:
                break
            start = page[-1].id + 1
        return n


class EventsourcingSQLite(Eventsourcing):
    def __init__(self, path_for: Callable[[], Path], synchronous: str) -> None:
        super().__init__()
        self._path_for = path_for
        self.synchronous = synchronous
        self.datastore: Any = None
        self.path: Path | None = None

    def open_fresh(self) -> None:
        from eventsourcing.sqlite import (
            SQLiteApplicationRecorder,
            SQLiteConnectionPool,
            SQLiteDatastore,
        )

        synchronous = self.synchronous

        class Pool(SQLiteConnectionPool):
            def _create_connection(self) -> Any:
                connection = super()._create_connection()
                connection._sqlite_conn.execute(f"PRAGMA synchronous = {synchronous}")
                return connection

        self.path = self._path_for()
        datastore = SQLiteDatastore(db_name=str(self.path), originator_id_type="text")
        datastore.pool.close()
        datastore.pool = Pool(db_name=str(self.path))
        self.datastore = datastore
        self.recorder = SQLiteApplicationRecorder(datastore)
        self.recorder.create_table()

    def close(self) -> None:
        if self.datastore is not None:
            self.datastore.close()
            self.datastore = None
        remove_sqlite(self.path)


# PostgreSQL -------------------------------------------------------------------------


class PgSchemas:
    """Fresh schemas in the benchmark database, each dropped when its contender closes."""

    def __init__(self, dsn: str) -> None:
        import psycopg

        self.dsn = dsn
        self.admin = psycopg.connect(dsn, autocommit=True)
        self.counter = 0

    def new_name(self) -> str:
        self.counter += 1
        return f"bench_{os.getpid()}_{self.counter}"

    def create(self, name: str) -> None:
        self.admin.execute(f'CREATE SCHEMA IF NOT EXISTS "{name}"')

    def drop(self, name: str | None) -> None:
        if name:
            self.admin.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')

    def url(self, name: str) -> str:
        return f"{self.dsn}{'&' if '?' in self.dsn else '?'}schema={name}"

    def settings(self) -> dict[str, str]:
        names = ("server_version", "synchronous_commit", "fsync", "wal_sync_method",
                 "shared_buffers")
        return {n: str(self.admin.execute(f"SHOW {n}").fetchone()[0]) for n in names}


class AlliancePG(Alliance):
    def __init__(self, schemas: PgSchemas, options: str = "") -> None:
        self.schemas = schemas
        self.options = options
        self.schema: str | None = None
        super().__init__(self._url, self._drop)

    def _url(self) -> str:
        self.schema = self.schemas.new_name()
        return self.schemas.url(self.schema) + self.options

    def _drop(self) -> None:
        self.schemas.drop(self.schema)
        self.schema = None

    def open_fresh(self) -> None:
        url = self._url()
        try:
            self.log = open_log(url, registry=registry)
        except (ImportError, UnsupportedURLError) as error:
            raise UnavailableError(f"alliance PostgreSQL backend: {error}") from error
        except Exception:
            # Perhaps the backend wants the schema to exist already: create it, retry once.
            assert self.schema is not None
            self.schemas.create(self.schema)
            self.log = open_log(url, registry=registry)


PG_DDL = """
CREATE TABLE {s}.events (
    position    bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    stream      text        NOT NULL,
    version     integer     NOT NULL,
    event_id    uuid        NOT NULL UNIQUE,
    type        text        NOT NULL,
    schema      integer     NOT NULL,
    data        jsonb       NOT NULL,
    metadata    jsonb,
    recorded_at timestamptz NOT NULL,
    UNIQUE (stream, version)
)
"""

# One statement per append, the version check inside it (DESIGN: measured facts).
PG_APPEND_ONE = """
WITH cur AS (SELECT coalesce(max(version), 0) AS v FROM {s}.events WHERE stream = %(stream)s)
INSERT INTO {s}.events (stream, version, event_id, type, schema, data, metadata, recorded_at)
SELECT %(stream)s, cur.v + 1, %(id)s, %(type)s, 1, %(data)s::jsonb, NULL, %(now)s
FROM cur WHERE cur.v = %(expected)s
RETURNING position
"""

# Batches: INSERT ... SELECT FROM unnest(...) with binary array parameters.
PG_APPEND_MANY = """
WITH cur AS (SELECT coalesce(max(version), 0) AS v FROM {s}.events WHERE stream = %(stream)b)
INSERT INTO {s}.events (stream, version, event_id, type, schema, data, metadata, recorded_at)
SELECT %(stream)b, cur.v + u.n, u.id, %(type)b, 1, u.data::jsonb, NULL, %(now)b
FROM cur, unnest(%(ids)b::uuid[], %(datas)b::text[]) WITH ORDINALITY AS u(id, data, n)
WHERE cur.v = %(expected)b
RETURNING position
"""

PG_READ = """
SELECT position, stream, version, event_id, type, schema, data::text, metadata::text,
       recorded_at
FROM {s}.events WHERE position > %s ORDER BY position LIMIT %s
"""


class RawPG(Contender):
    name = "raw"

    def __init__(self, schemas: PgSchemas) -> None:
        import psycopg

        self.psycopg = psycopg
        self.schemas = schemas
        self.schema: str | None = None
        self.conn: Any = None

    def open_fresh(self) -> None:
        self.schema = self.schemas.new_name()
        self.schemas.create(self.schema)
        self.conn = self.psycopg.connect(self.schemas.dsn, autocommit=True)
        self.conn.execute(PG_DDL.format(s=f'"{self.schema}"'))

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None
        self.schemas.drop(self.schema)
        self.schema = None

    def run(self, prepared: Sequence[Append]) -> None:
        s = f'"{self.schema}"'
        one, many = PG_APPEND_ONE.format(s=s), PG_APPEND_MANY.format(s=s)
        dumps = orjson.dumps
        cur = self.conn.cursor()
        utc = pendulum.UTC
        for a in prepared:
            now = pendulum.DateTime.fromtimestamp(time.time_ns() / 1e9, tz=utc)
            if len(a.events) == 1:
                e = a.events[0]
                params = {
                    "stream": a.stream, "id": e.event_id, "type": "bench.MeetingScheduled",
                    "data": dumps(raw_payload(e)).decode(), "now": now,
                    "expected": a.expected_version,
                }
                cur.execute(one, params, prepare=True)
            else:
                params = {
                    "stream": a.stream, "type": "bench.MeetingScheduled", "now": now,
                    "ids": [e.event_id for e in a.events],
                    "datas": [dumps(raw_payload(e)).decode() for e in a.events],
                    "expected": a.expected_version,
                }
                cur.execute(many, params, prepare=True)
            if len(cur.fetchall()) != len(a.events):
                raise RuntimeError("concurrency")

    def read_all(self, limit: int | None = None) -> int:
        query = PG_READ.format(s=f'"{self.schema}"')
        loads = orjson.loads
        cursor, n = 0, 0
        cur = self.conn.cursor()
        while limit is None or n < limit:
            rows = cur.execute(query, (cursor, PAGE), prepare=True).fetchall()
            for row in rows:
                loads(row[6])
            n += len(rows)
            if len(rows) < PAGE:
                break
            cursor = rows[-1][0]
        return n


class RawPGCopy(RawPG):
    """Raw batches by COPY: in one transaction, the stream's version checked by a SELECT,
    then ``COPY ... FROM STDIN`` of the rows (text format), then COMMIT. Measured on the
    batch row only (a one-event COPY would make no sense)."""

    name = "raw COPY"
    batches_only = True

    def run(self, prepared: Sequence[Append]) -> None:
        s = f'"{self.schema}"'
        check = f"SELECT coalesce(max(version), 0) FROM {s}.events WHERE stream = %s"
        copy_sql = (f"COPY {s}.events (stream, version, event_id, type, schema, data, "
                    "metadata, recorded_at) FROM STDIN")
        dumps = orjson.dumps
        conn = self.conn
        cur = conn.cursor()
        for a in prepared:
            now = datetime.datetime.fromtimestamp(time.time_ns() / 1e9, tz=datetime.UTC)
            with conn.transaction():
                actual = cur.execute(check, (a.stream,), prepare=True).fetchone()[0]
                if actual != a.expected_version:
                    raise RuntimeError("concurrency")
                with cur.copy(copy_sql) as copy:
                    for i, e in enumerate(a.events, 1):
                        copy.write_row((a.stream, actual + i, e.event_id,
                                        "bench.MeetingScheduled", 1,
                                        dumps(raw_payload(e)).decode(), None, now))


class EventsourcingPG(Eventsourcing):
    def __init__(self, schemas: PgSchemas) -> None:
        super().__init__()
        try:
            import eventsourcing.postgres  # noqa: F401
        except ImportError as error:
            raise UnavailableError(f"eventsourcing.postgres: {error}") from error
        self.schemas = schemas
        self.schema: str | None = None
        self.datastore: Any = None

    def open_fresh(self) -> None:
        from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
        from psycopg.conninfo import conninfo_to_dict

        info = conninfo_to_dict(self.schemas.dsn)
        self.schema = self.schemas.new_name()
        self.schemas.create(self.schema)
        self.datastore = PostgresDatastore(
            dbname=str(info.get("dbname", "postgres")), host=str(info.get("host", "")),
            port=str(info.get("port", "5432")), user=str(info.get("user", "postgres")),
            password=str(info.get("password", "")), schema=self.schema,
            originator_id_type="text",
        )
        self.recorder = PostgresApplicationRecorder(self.datastore)
        self.recorder.create_table()

    def close(self) -> None:
        if self.datastore is not None:
            self.datastore.close()
            self.datastore = None
        self.schemas.drop(self.schema)
        self.schema = None


# -- measuring -------------------------------------------------------------------------


@dataclass
class Row:
    backend: str
    workload: str
    events: int
    rates: dict[str, float | None]  # best events/s per contender
    samples: dict[str, list[float]]
    notes: list[str]
    target_raw: float | None
    target_es: float | None

    def ratio(self, other: str) -> float | None:
        a, b = self.rates.get("alliance"), self.rates.get(other)
        return a / b if a and b else None

    def verdict(self) -> str:
        checks = []
        if self.target_raw is not None and self.ratio("raw") is not None:
            checks.append(self.ratio("raw") >= self.target_raw)  # type: ignore[operator]
        if self.target_es is not None and self.ratio("eventsourcing") is not None:
            checks.append(self.ratio("eventsourcing") >= self.target_es)  # type: ignore[operator]
        if not checks:
            return "-"
        return "ok" if all(checks) else "MISS"

    def as_json(self) -> dict[str, Any]:
        return {
            "backend": self.backend, "workload": self.workload, "events": self.events,
            "events_per_s_best": self.rates, "events_per_s_samples": self.samples,
            "ratio_to_raw": self.ratio("raw"), "target_to_raw": self.target_raw,
            "ratio_to_eventsourcing": self.ratio("eventsourcing"),
            "target_to_eventsourcing": self.target_es, "verdict": self.verdict(),
            "notes": self.notes,
        }


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def bench_writes(
    contenders: dict[str, Contender], appends: list[Append], warm: list[Append], repeat: int,
    notes: list[str],
) -> dict[str, list[float]]:
    """Each round: every contender on a fresh store, warmed up, then timed on ``appends``."""
    events = sum(len(a.events) for a in appends)
    single = all(len(a.events) == 1 for a in appends)
    contenders = {name: c for name, c in contenders.items()
                  if not c.reads_only and not (single and c.batches_only)}
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, c in list(contenders.items()):
            try:
                c.open_fresh()
            except UnavailableError as error:
                notes.append(f"{name} skipped: {error}")
                del contenders[name]
                samples[name] = []
                continue
            try:
                c.run(c.prepare(warm))
                prepared = c.prepare(appends)
                started = time.perf_counter()
                c.run(prepared)
                samples[name].append(events / (time.perf_counter() - started))
            finally:
                c.close()
    return samples


def bench_reads(
    contenders: dict[str, Contender], batches: list[Append], repeat: int, notes: list[str]
) -> dict[str, list[float]]:
    """Each contender reads its own store, filled with the same events, ``repeat`` times."""
    total = sum(len(a.events) for a in batches)
    contenders = {name: c for name, c in contenders.items() if not c.batches_only}
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    opened: list[str] = []
    try:
        for name, c in list(contenders.items()):
            try:
                c.open_fresh()
            except UnavailableError as error:
                notes.append(f"{name} skipped: {error}")
                del contenders[name]
                continue
            opened.append(name)
            for chunk in range(0, len(batches), 50):
                c.run(c.prepare(batches[chunk : chunk + 50]))
            c.read_all(limit=max(total // 10, PAGE))  # warm-up
        for _ in range(repeat):
            for name in opened:
                c = contenders[name]
                started = time.perf_counter()
                n = c.read_all()
                elapsed = time.perf_counter() - started
                if n != total:
                    raise RuntimeError(f"{name} read {n} events, expected {total}")
                samples[name].append(n / elapsed)
        es = contenders.get("eventsourcing")
        if isinstance(es, Eventsourcing):
            # eventsourcing's NotificationLog reads sections of 10: one round of that too.
            es.page = 10
            started = time.perf_counter()
            n = es.read_all()
            samples["eventsourcing page=10"] = [n / (time.perf_counter() - started)]
            es.page = PAGE
    finally:
        for name in opened:
            contenders[name].close()
    return samples


def make_row(
    backend: str, workload: str, events: int, samples: dict[str, list[float]],
    notes: list[str], *, target_raw: float | None, target_es: float | None,
) -> Row:
    notes.append(f"load average after this row: {loadavg()}")
    rates = {name: (max(s) if s else None) for name, s in samples.items()}
    for name in ("alliance", "raw", "eventsourcing"):
        rates.setdefault(name, None)
    raw = rates["raw"]
    for name, rate in rates.items():
        if name not in ("alliance", "raw", "eventsourcing") and rate:
            versus = f", {rate / raw:.2f} of raw" if raw else ""
            mine = rates["alliance"]
            versus += f", alliance is {mine / rate:.2f}x it" if mine and " " in name and \
                name.startswith("eventsourcing") else ""
            versus += f", alliance is {mine / rate:.2f} of it" if mine and \
                name.startswith("raw ") and name != "raw + typed events" else ""
            notes.append(f"{name}: {rate:,.0f} events/s{versus}")
    return Row(backend, workload, events, rates, samples, notes, target_raw, target_es)


def run_backend(
    backend: str, make: Callable[[], dict[str, Contender]], args: argparse.Namespace,
    *, durable: bool,
) -> list[Row]:
    rows = []
    single = plan(args.appends, 1, max(args.appends // 4, 1), 1, "meeting")
    warm_single = plan(min(50, args.appends), 1, 10, 2, "warm")
    say(f"[{backend}] a. {args.appends} appends of one event")
    notes: list[str] = []
    samples = bench_writes(make(), single, warm_single, args.repeat, notes)
    rows.append(make_row(backend, f"append 1 event/call x{args.appends}", args.appends,
                         samples, notes, target_raw=0.85 if durable else None, target_es=None))

    batched = plan(args.batches, 100, max(args.batches // 4, 1), 3, "meeting")
    warm_batched = plan(3, 100, 3, 4, "warm")
    say(f"[{backend}] b. {args.batches} appends of 100 events")
    notes = []
    samples = bench_writes(make(), batched, warm_batched, args.repeat, notes)
    rows.append(make_row(backend, f"append 100 events/call x{args.batches}",
                         args.batches * 100, samples, notes, target_raw=0.70, target_es=None))

    fill = plan(args.events // 100, 100, args.events // 100, 5, "meeting")
    say(f"[{backend}] c. read_all of {args.events} events (filling the stores first)")
    notes = []
    samples = bench_reads(make(), fill, args.repeat, notes)
    rows.append(make_row(backend, f"read_all + decode x{args.events}", args.events,
                         samples, notes, target_raw=0.70 if backend == "PostgreSQL" else 0.50,
                         target_es=4.0))
    return rows


def checksums_switchable() -> bool:
    """Whether this alliance-events checks checksums on read (and takes ?verify=off)."""
    try:
        from alliance_events.log import verify  # noqa: F401
    except ImportError:  # an older tree (the commit before checksums): no such switch
        return False
    return True


class ReadsOnly(Contender):
    """A variant of another contender measured on read_all only (its writes are the same)."""

    reads_only = True

    def __init__(self, inner: Contender) -> None:
        self._inner = inner

    def open_fresh(self) -> None:
        self._inner.open_fresh()

    def close(self) -> None:
        self._inner.close()

    def prepare(self, appends: Sequence[Append]) -> Any:
        return self._inner.prepare(appends)

    def run(self, prepared: Any) -> None:
        self._inner.run(prepared)

    def read_all(self, limit: int | None = None) -> int:
        return self._inner.read_all(limit)


def sqlite_contenders(workdir: Path, synchronous: str) -> Callable[[], dict[str, Contender]]:
    counter = iter(range(1_000_000))

    def new_path() -> Path:
        return workdir / f"{synchronous.lower()}-{next(counter)}.db"

    def make() -> dict[str, Contender]:
        holder: dict[str, Path] = {}

        def url() -> str:
            holder["path"] = new_path()
            return f"sqlite:///{holder['path']}?synchronous={synchronous}"

        unchecked: dict[str, Path] = {}

        def url_unchecked() -> str:
            unchecked["path"] = new_path()
            return f"sqlite:///{unchecked['path']}?synchronous={synchronous}&verify=off"

        result: dict[str, Contender] = {
            "alliance": Alliance(url, lambda: remove_sqlite(holder.get("path"))),
            "raw": RawSQLite(new_path, synchronous),
            "raw + typed events": RawSQLiteTyped(new_path, synchronous),
        }
        with contextlib.suppress(UnavailableError):
            result["eventsourcing"] = EventsourcingSQLite(new_path, synchronous)
        if checksums_switchable():
            # A variant, reported in the notes: reads without checking the checksums.
            result["alliance verify=off"] = ReadsOnly(
                Alliance(url_unchecked, lambda: remove_sqlite(unchecked.get("path")))
            )
        return result

    return make


def pg_contenders(schemas: PgSchemas) -> Callable[[], dict[str, Contender]]:
    def make() -> dict[str, Contender]:
        result: dict[str, Contender] = {"alliance": AlliancePG(schemas), "raw": RawPG(schemas),
                                        "raw COPY": RawPGCopy(schemas)}
        with contextlib.suppress(UnavailableError):
            result["eventsourcing"] = EventsourcingPG(schemas)
        # A variant, reported in the notes: without the NOTIFY round trip after each append.
        result["alliance notify=off"] = AlliancePG(schemas, "&notify=off")
        if checksums_switchable():
            # And one reading without checking the checksums.
            result["alliance verify=off"] = ReadsOnly(AlliancePG(schemas, "&verify=off"))
        return result

    return make


# -- concurrent writer processes (PostgreSQL) --------------------------------------------

WRITERS = 4


def writer_child(kind: str, target: str, schema: str, count: int, worker: int) -> None:
    """Run in a subprocess: ``count`` one-event appends to this writer's own 50 streams.

    The events are made first; then it says "ready", waits for "go" on stdin, and prints
    the wall-clock times of its first append's start and its last append's end.
    """
    appends = plan(count, 1, 50, 100 + worker, f"writer{worker}")
    if kind == "raw":
        import psycopg

        conn = psycopg.connect(target, autocommit=True)
        statement = PG_APPEND_ONE.format(s=f'"{schema}"')
        dsn_conn = conn.cursor()
        dumps = orjson.dumps

        def run() -> None:
            for a in appends:
                e = a.events[0]
                now = datetime.datetime.fromtimestamp(time.time_ns() / 1e9, tz=datetime.UTC)
                dsn_conn.execute(statement, {
                    "stream": a.stream, "id": e.event_id, "type": "bench.MeetingScheduled",
                    "data": dumps(raw_payload(e)).decode(), "now": now,
                    "expected": a.expected_version,
                }, prepare=True)
                if len(dsn_conn.fetchall()) != 1:
                    raise RuntimeError("concurrency")
    else:
        log = open_log(target, registry=registry)

        def run() -> None:
            append = log.append
            for a in appends:
                append(a.stream, a.events, expected_version=a.expected_version)
    print("ready", flush=True)
    sys.stdin.readline()
    started = time.time()
    run()
    ended = time.time()
    print(json.dumps({"start": started, "end": ended, "events": count}), flush=True)


def bench_writer_processes(schemas: PgSchemas, args: argparse.Namespace) -> Row:
    """Four processes appending one event per call at once, each to its own streams: the
    alliance log (sequence, row locks, checksums, NOTIFY) beside plain unlocked inserts
    (the raw one-statement insert with its version check). Rate: all events / wall time
    from the first start to the last end; rounds interleaved, best reported."""
    count = max(args.appends // 4, 50)
    say(f"[PostgreSQL] d. {WRITERS} writer processes x {count} appends of one event")
    kinds = {"alliance": "", "raw": None, "alliance notify=off": "&notify=off"}
    samples: dict[str, list[float]] = {name: [] for name in kinds}
    for _ in range(args.repeat):
        for name, options in kinds.items():
            schema = schemas.new_name()
            schemas.create(schema)
            url = schemas.url(schema)
            try:
                if options is None:
                    schemas.admin.execute(PG_DDL.format(s=f'"{schema}"'))
                    kind, target = "raw", schemas.dsn
                else:
                    target = url + options
                    open_log(target, registry=registry).close()  # its tables, made once
                    kind = "alliance"
                samples[name].append(run_writers(kind, target, schema, count))
            finally:
                schemas.drop(schema)
    notes = [f"{WRITERS} processes x {count} appends, each to 50 streams of its own"]
    return make_row("PostgreSQL", f"{WRITERS} writer processes, 1 event/call x{count * WRITERS}",
                    count * WRITERS, samples, notes, target_raw=0.60, target_es=None)


def run_writers(kind: str, target: str, schema: str, count: int) -> float:
    children = [
        subprocess.Popen(
            [sys.executable, __file__, "--writer-child", kind, target, schema, str(count),
             str(w)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        for w in range(WRITERS)
    ]
    try:
        for child in children:
            assert child.stdout is not None
            if child.stdout.readline().strip() != "ready":
                raise RuntimeError(f"a {kind} writer did not start")
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        results = []
        for child in children:
            out, _ = child.communicate(timeout=600)
            results.append(json.loads(out.strip().splitlines()[-1]))
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
    total = sum(r["events"] for r in results)
    return total / (max(r["end"] for r in results) - min(r["start"] for r in results))


def loadavg() -> str:
    """The machine's load average (1, 5, 15 minutes): what else ran beside a figure."""
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


# -- memory of a 1M-event read_all -----------------------------------------------------


def cached_log(count: int) -> Path:
    """A SQLite log of ``count`` events, generated once and kept in benchmarks/.cache/."""
    CACHE.mkdir(exist_ok=True)
    path = CACHE / f"read-{count}-v{CACHE_FORMAT}.db"
    if path.exists():
        try:
            with open_log(f"sqlite:///{path}", registry=registry) as log:
                if log.head() == count and next(iter(log.read_all(limit=1))) is not None:
                    return path
        except Exception as error:
            say(f"cached {path.name} unusable ({error}): generating it again")
    remove_sqlite(path)
    partial = path.with_suffix(".partial")
    remove_sqlite(partial)
    say(f"generating {count:,} events into {path} (batches of 1000, synchronous=NORMAL)")
    started = time.perf_counter()
    with open_log(f"sqlite:///{partial}?synchronous=NORMAL", registry=registry) as log:
        for call in range(0, count, 1000):
            events = [fresh(call + i) for i in range(min(1000, count - call))]
            log.append(f"meeting-{call // 1000}", events, expected_version=0)
    remove_sqlite(Path(f"{partial}-shm"))
    partial.rename(path)
    say(f"generated in {time.perf_counter() - started:.1f} s")
    return path


def peak_rss_kib() -> tuple[int, str]:
    """The process's peak RSS so far: VmHWM from /proc (Linux), else ru_maxrss."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]), "VmHWM"
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "ru_maxrss"


def reset_peak_rss() -> bool:
    """Reset the peak RSS (Linux >= 4.0); ru_maxrss cannot be reset and is inherited
    through fork and exec from the parent, so it would hide the growth being measured."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def memory_child(path: str) -> None:
    """Run in a subprocess: peak RSS growth of one full read_all."""
    with open_log(f"sqlite:///{path}", registry=registry) as log:
        log.head()
        gc_collect()
        reset = reset_peak_rss()
        before, method = peak_rss_kib()
        started = time.perf_counter()
        n = 0
        for _ in log.read_all():
            n += 1
        elapsed = time.perf_counter() - started
        after, _ = peak_rss_kib()
    if not reset:
        method += " (not reset: inherited from the parent, growth may be hidden)"
    print(json.dumps({"events": n, "peak_before_kib": before, "peak_after_kib": after,
                      "method": method, "seconds": elapsed}))


def gc_collect() -> None:
    import gc

    gc.collect()


def bench_memory(count: int) -> Row:
    path = cached_log(count)
    say(f"[memory] read_all of {count:,} events in a subprocess")
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    growth_mib = (result["peak_after_kib"] - result["peak_before_kib"]) / 1024
    return MemoryRow(growth_mib, result, count)


class MemoryRow(Row):
    def __init__(self, growth_mib: float, result: dict[str, Any], count: int) -> None:
        rate = result["events"] / result["seconds"]
        super().__init__(
            "SQLite", f"read_all x{count:,} (memory)", result["events"],
            {"alliance": rate, "raw": None, "eventsourcing": None}, {"alliance": [rate]},
            [f"peak RSS growth during the read (in a subprocess, {result['method']} delta) "
             f"{growth_mib:.1f} MiB, target < 150 MiB; RSS before the read "
             f"{result['peak_before_kib'] / 1024:.1f} MiB"],
            None, None,
        )
        self.growth_mib = growth_mib

    def verdict(self) -> str:
        return "ok" if self.growth_mib < 150 else "MISS"

    def as_json(self) -> dict[str, Any]:
        return {**super().as_json(), "peak_rss_growth_mib": self.growth_mib,
                "target_peak_rss_growth_mib": 150, "verdict": self.verdict()}


# -- profile ---------------------------------------------------------------------------


def profile_read(events: int, workdir: Path) -> str:
    """cProfile of the alliance SQLite read_all over ``events`` events; top by own time."""
    path = workdir / "profile.db"
    with open_log(f"sqlite:///{path}?synchronous=NORMAL", registry=registry) as log:
        for call in range(0, events, 1000):
            log.append(f"m-{call}", [fresh(call + i) for i in range(1000)], expected_version=0)
    with open_log(f"sqlite:///{path}", registry=registry) as log:
        for _ in log.read_all(limit=PAGE):
            pass
        profiler = cProfile.Profile()
        profiler.enable()
        for _ in log.read_all():
            pass
        profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(22)
    stats.sort_stats("cumulative").print_stats(18)
    return out.getvalue()


# -- output ----------------------------------------------------------------------------


def fmt_rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def fmt_ratio(value: float | None, target: float | None, kind: str) -> str:
    text = "n/a" if value is None else f"{value:.2f}"
    if target is None:
        return text
    return f"{text} (>= {target:g}{kind})"


def table(rows: list[Row]) -> str:
    header = ["backend", "workload", "alliance ev/s", "raw ev/s", "eventsourcing ev/s",
              "alliance/raw (target)", "alliance/es (target)", "verdict"]
    lines = [header]
    lines.extend(
        [
            r.backend, r.workload, fmt_rate(r.rates.get("alliance")), fmt_rate(r.rates.get("raw")),
            fmt_rate(r.rates.get("eventsourcing")),
            fmt_ratio(r.ratio("raw"), r.target_raw, ""),
            fmt_ratio(r.ratio("eventsourcing"), r.target_es, "x"), r.verdict(),
        ]
        for r in rows
    )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    right = {2, 3, 4}
    out = []
    for index, line in enumerate(lines):
        cells = [c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in
                 enumerate(zip(line, widths, strict=True))]
        out.append("  ".join(cells).rstrip())
        if index == 0:
            out.append("  ".join("-" * w for w in widths))
    notes = [f"  {r.backend} / {r.workload}: {n}" for r in rows for n in r.notes]
    if notes:
        out.append("")
        out.append("notes:")
        out.extend(dict.fromkeys(notes))
    return "\n".join(out)


# -- main ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="smaller runs, one round each (a smoke test, noisy)")
    parser.add_argument("--events", type=int, default=None,
                        help="events in the read_all measurement (100,000; --quick 20,000)")
    parser.add_argument("--appends", type=int, default=None,
                        help="one-event appends (2,000; --quick 300)")
    parser.add_argument("--batches", type=int, default=None,
                        help="appends of 100 events (200; --quick 30)")
    parser.add_argument("--repeat", type=int, default=None,
                        help="rounds per measurement, the best is reported (3; --quick 1)")
    parser.add_argument("--memory-events", type=int, default=1_000_000,
                        help="events in the memory measurement (1,000,000; 0 to skip)")
    parser.add_argument("--postgres", default=None, metavar="DSN",
                        help="PostgreSQL DSN (or $ALLIANCE_EVENTS_BENCH_POSTGRES; "
                        f"default {DEFAULT_DSN}); 'none' to skip PostgreSQL")
    parser.add_argument("--only", nargs="+", default=None,
                        choices=["sqlite-full", "sqlite-normal", "postgres", "memory"],
                        help="run only these parts")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="also write the rows as JSON to FILE")
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile of the alliance SQLite read_all")
    parser.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--writer-child", nargs=5, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    quick = args.quick
    args.events = args.events or (20_000 if quick else 100_000)
    args.appends = args.appends or (300 if quick else 2_000)
    args.batches = args.batches or (30 if quick else 200)
    args.repeat = args.repeat or (1 if quick else 3)
    args.events = max(100, args.events // 100 * 100)
    args.postgres = (args.postgres or os.environ.get("ALLIANCE_EVENTS_BENCH_POSTGRES")
                     or DEFAULT_DSN)
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child)
        return 0
    if args.writer_child:
        kind, target, schema, count, worker = args.writer_child
        writer_child(kind, target, schema, int(count), int(worker))
        return 0
    parts = set(args.only or ["sqlite-full", "sqlite-normal", "postgres", "memory"])
    rows: list[Row] = []
    environment = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
                   "cpus": os.cpu_count(), "machine": platform.machine()}
    environment["load_average_at_start"] = loadavg()
    started = time.perf_counter()
    CACHE.mkdir(exist_ok=True)  # scratch files on the same disk as the project, not a tmpfs
    workdir = Path(tempfile.mkdtemp(prefix="bench-log-", dir=CACHE))
    try:
        if "sqlite-full" in parts:
            rows += run_backend("SQLite FULL", sqlite_contenders(workdir, "FULL"), args,
                                durable=True)
        if "sqlite-normal" in parts:
            rows += run_backend("SQLite NORMAL", sqlite_contenders(workdir, "NORMAL"), args,
                                durable=False)
        if "postgres" in parts and args.postgres.lower() != "none":
            rows += postgres_rows(args, environment)
        if "memory" in parts and args.memory_events > 0:
            rows.append(bench_memory(args.memory_events))
        profile = profile_read(args.events, workdir) if args.profile else None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.perf_counter() - started
    environment["load_average_at_end"] = loadavg()
    print(f"alliance-events log benchmark ({'quick' if args.quick else 'full'}; "
          f"best of {args.repeat} round(s); events/s, higher is better)")
    print(" ".join(f"{k}={v}" for k, v in environment.items() if "load_average" not in k))
    print(f"load average (1, 5, 15 min): {environment['load_average_at_start']} at the start, "
          f"{environment['load_average_at_end']} at the end (2 cores: above ~1.5, other work "
          "shared the machine)")
    print()
    print(table(rows))
    print(f"\ntook {elapsed:.0f} s")
    if profile:
        print("\nprofile of alliance SQLite read_all:\n" + profile)
    if args.json:
        args.json.write_text(json.dumps(
            {"environment": environment, "quick": args.quick, "repeat": args.repeat,
             "statistic": "best of rounds", "rows": [r.as_json() for r in rows]},
            indent=2) + "\n")
    return 0


def postgres_rows(args: argparse.Namespace, environment: dict[str, Any]) -> list[Row]:
    try:
        schemas = PgSchemas(args.postgres)
    except Exception as error:
        say(f"PostgreSQL at {args.postgres} not reachable: {error}")
        return [Row("PostgreSQL", "(all)", 0, {}, {}, [f"skipped: cannot connect: {error}"],
                    None, None)]
    try:
        environment.update({f"pg_{k}": v for k, v in schemas.settings().items()})
        rows = run_backend("PostgreSQL", pg_contenders(schemas), args, durable=True)
        rows.append(bench_writer_processes(schemas, args))
        return rows
    finally:
        schemas.admin.close()


if __name__ == "__main__":
    sys.exit(main())
