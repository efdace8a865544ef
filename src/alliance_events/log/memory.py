"""The in-memory log: the reference implementation of the contract, and a test fake.

It stores what the other backends store (encoded data, not live objects), so an event
read back from memory has been through the same codec round trip as one read from
SQLite or PostgreSQL. It is safe to share between threads. Its consumers' checkpoints
(:mod:`alliance_events.log.follow`) live beside its records, and a follower waiting on it
is woken at once by an append. Its records carry the same chained checksums as the
others' (:mod:`alliance_events.log.chain`), checked on read and by
:func:`alliance_events.log.verify`.
"""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import attrs

from alliance_events.clock import Clock, system_clock
from alliance_events.codec import Codec
from alliance_events.errors import (
    ConcurrencyError,
    ConsumerBusyError,
    ConsumerSupersededError,
    LogClosedError,
)
from alliance_events.events import Event
from alliance_events.log.base import (
    ANY,
    DEFAULT_PAGE_SIZE,
    ExpectedVersion,
    RecordDecoder,
    Recorded,
    check_retry,
    check_stream,
    prepare_batch,
    recorded_time,
    to_micros,
)
from alliance_events.log.chain import (
    GENESIS,
    ChainChecker,
    StoredRow,
    VerifyReport,
    checksum,
    verify_rows,
)
from alliance_events.log.follow import Claim
from alliance_events.log.keys import MemoryKeys, attach_keys
from alliance_events.log.snapshots import MemorySnapshots

__all__ = ["MemoryLog"]


@attrs.frozen
class _Row:
    position: int
    stream: str
    version: int
    event_id: uuid.UUID
    type: str
    schema: int
    data: str
    metadata: str | None
    recorded_at: int  # microseconds since the epoch, as the other backends store it
    checksum: bytes


class MemoryLog:
    """An event log held in this process's memory (gone when the process ends)."""

    def __init__(self, *, clock: Clock = system_clock, codec: Codec | None = None) -> None:
        self._codec = Codec() if codec is None else codec
        attach_keys(self._codec, MemoryKeys())  # personal fields: log/keys.py
        self._decoder = RecordDecoder(self._codec)
        self._clock = clock
        self._rows: list[_Row] = []
        self._streams: dict[str, list[int]] = {}
        self._snapshots = MemorySnapshots()
        self._ids: dict[uuid.UUID, int] = {}
        self._lock = threading.RLock()
        self._closed = False
        # Followers: checkpoints by consumer name ((position or None, generation)), the
        # names claimed by a follower, and a condition notified by every append.
        self._checkpoints: dict[str, tuple[int | None, int]] = {}
        self._claimed: set[str] = set()
        self._changed = threading.Condition(self._lock)

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
            self._check_open()
            known = [self._ids[i] for i in batch.event_ids if i in self._ids]
            if known:
                return check_retry(batch, [self._record(self._rows[p - 1]) for p in known])
            positions = self._streams.get(stream, [])
            actual = len(positions)
            if batch.expected_version is not ANY and batch.expected_version != actual:
                raise ConcurrencyError(stream, batch.expected_version, actual)
            if not batch.events:
                return []
            now = recorded_time(self._clock)
            micros = to_micros(now)
            start = len(self._rows)
            previous = self._rows[positions[-1] - 1].checksum if positions else GENESIS
            rows = []
            for offset, (event_id, encoded) in enumerate(
                zip(batch.event_ids, batch.encoded, strict=True)
            ):
                position, version = start + offset + 1, actual + offset + 1
                previous = checksum(
                    previous, position, stream, version, event_id.bytes, encoded.type,
                    encoded.schema, encoded.data, batch.metadata_json, micros,
                )
                rows.append(_Row(
                    position=position,
                    stream=stream,
                    version=version,
                    event_id=event_id,
                    type=encoded.type,
                    schema=encoded.schema,
                    data=encoded.data,
                    metadata=batch.metadata_json,
                    recorded_at=micros,
                    checksum=previous,
                ))
            self._rows.extend(rows)
            self._streams.setdefault(stream, []).extend(row.position for row in rows)
            self._ids.update((row.event_id, row.position) for row in rows)
            self._changed.notify_all()
            return [
                Recorded(
                    position=row.position,
                    stream=row.stream,
                    version=row.version,
                    event_id=row.event_id,
                    type=row.type,
                    schema=row.schema,
                    recorded_at=now,
                    metadata=dict(batch.metadata),
                    event=event,
                )
                for row, event in zip(rows, batch.events, strict=True)
            ]

    def read_stream(self, stream: str, *, after_version: int = 0) -> Iterator[Recorded]:
        """Iterate over the stream's records with a version above ``after_version``."""
        check_stream(stream)
        with self._lock:
            self._check_open()
            positions = list(self._streams.get(stream, [])[max(after_version, 0) :])
            rows = [self._rows[position - 1] for position in positions]
        checker = ChainChecker(self._lookup)
        stored = [_stored(row) for row in rows]
        checker.prefetch(stored[:1])
        checker.check_page(stored)
        for row in rows:
            yield self._record(row)

    def read_all(self, *, after: int = 0, limit: int | None = None) -> Iterator[Recorded]:
        """Iterate over every record with a position above ``after``, in order."""
        remaining = limit
        cursor = max(after, 0)
        checker = ChainChecker(self._lookup)
        while remaining is None or remaining > 0:
            size = DEFAULT_PAGE_SIZE if remaining is None else min(remaining, DEFAULT_PAGE_SIZE)
            with self._lock:
                self._check_open()
                page = self._rows[cursor : cursor + size]
            if not page:
                return
            stored = [_stored(row) for row in page]
            checker.prefetch(stored)
            checker.check_page(stored)
            for row in page:
                yield self._record(row)
            cursor += len(page)
            if remaining is not None:
                remaining -= len(page)

    def head(self) -> int:
        """Return the last position (0 when empty)."""
        with self._lock:
            self._check_open()
            return len(self._rows)

    def stream_version(self, stream: str) -> int:
        """Return the stream's current version (0 when it does not exist)."""
        check_stream(stream)
        with self._lock:
            self._check_open()
            return len(self._streams.get(stream, ()))

    def snapshot_store(self) -> MemorySnapshots:
        """Return the store of projection snapshots kept with this log (gone with it)."""
        return self._snapshots

    def consumer_store(self, *, poll_interval: float, fallback_interval: float) -> _Consumers:
        """Return a store of checkpoints and wake-ups (see :mod:`alliance_events.log.follow`).

        The intervals are not used: an append wakes a waiting follower at once.
        """
        del poll_interval, fallback_interval
        return _Consumers(self)

    def close(self) -> None:
        """Forget nothing (the data stays for a reopened handle) but refuse further use."""
        with self._lock:
            self._closed = True
            self._changed.notify_all()

    def __enter__(self) -> MemoryLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise LogClosedError("the memory log is closed")

    def verify(self) -> VerifyReport:
        """Check every record's checksum (see :func:`alliance_events.log.verify`)."""
        with self._lock:
            self._check_open()
            rows = list(self._rows)
        return verify_rows((_stored(row) for row in rows), gapless=True)

    def _lookup(self, wanted: Sequence[tuple[str, int]]) -> dict[tuple[str, int], bytes | None]:
        with self._lock:
            return {
                (stream, version): self._rows[self._streams[stream][version - 1] - 1].checksum
                for stream, version in wanted
                if len(self._streams.get(stream, ())) >= version
            }

    def _record(self, row: _Row) -> Recorded:
        return self._decoder(
            row.position, row.stream, row.version, row.event_id, row.type, row.schema,
            row.data, row.metadata, row.recorded_at,
        )


def _stored(row: _Row) -> StoredRow:
    return StoredRow(row.position, row.stream, row.version, row.event_id.bytes, row.type,
                     row.schema, row.data, row.metadata, row.recorded_at, row.checksum)


class _Consumers:
    """The memory log's consumer store: its checkpoints live in the log object."""

    def __init__(self, log: MemoryLog) -> None:
        self._log = log
        self._claims: list[str] = []
        self._interrupted = False
        self._closed = False

    def get(self, name: str) -> int | None:
        with self._log._lock:
            return self._log._checkpoints.get(name, (None, 0))[0]

    def items(self) -> dict[str, int]:
        with self._log._lock:
            return {
                name: position
                for name, (position, _) in sorted(self._log._checkpoints.items())
                if position is not None
            }

    def put(self, name: str, position: int) -> None:
        with self._log._lock:
            generation = self._log._checkpoints.get(name, (None, 0))[1]
            self._log._checkpoints[name] = (position, generation + 1)

    def delete(self, name: str) -> bool:
        with self._log._lock:
            entry = self._log._checkpoints.get(name)
            if entry is None or entry[0] is None:
                return False
            self._log._checkpoints[name] = (None, entry[1] + 1)
            return True

    def claim(self, name: str, start: int | None, lock_timeout: float | None) -> Claim:
        log = self._log
        deadline = math.inf if lock_timeout is None else time.monotonic() + lock_timeout
        with log._lock:
            while name in log._claimed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ConsumerBusyError(name, lock_timeout or 0.0)
                log._changed.wait(None if remaining == math.inf else remaining)
                log._check_open()
            stored, generation = log._checkpoints.get(name, (None, 0))
            if stored is None:
                stored = len(log._rows) if start is None else start
                claim = Claim(name, stored, generation + 1, resumed=False)
            else:
                claim = Claim(name, stored, generation + 1, resumed=True)
            log._checkpoints[name] = (claim.position, claim.generation)
            log._claimed.add(name)
            self._claims.append(name)
            return claim

    def move(self, claim: Claim, position: int) -> None:
        with self._log._lock:
            self._fence(claim)
            self._log._checkpoints[claim.name] = (position, claim.generation)

    @contextmanager
    def transaction(self, claim: Claim, position: int) -> Iterator[None]:
        with self._log._lock:
            self._fence(claim)
        yield None
        self.move(claim, position)

    def _fence(self, claim: Claim) -> None:
        self._log._check_open()
        entry = self._log._checkpoints.get(claim.name)
        if entry is None or entry[1] != claim.generation:
            raise ConsumerSupersededError(claim.name)

    def listen(self) -> None:
        """Nothing to do: appends notify the log's condition."""

    def wait(self, after: int, timeout: float) -> bool:
        log = self._log
        deadline = time.monotonic() + timeout
        with log._lock:
            while True:
                log._check_open()
                if len(log._rows) > after:
                    return True
                if self._interrupted or self._closed:
                    self._interrupted = False
                    return False
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                log._changed.wait(None if remaining == math.inf else remaining)

    def interrupt(self) -> None:
        with self._log._lock:
            self._interrupted = True
            self._log._changed.notify_all()

    def close(self) -> None:
        with self._log._lock:
            self._closed = True
            for name in self._claims:
                self._log._claimed.discard(name)
            self._claims.clear()
            self._log._changed.notify_all()
