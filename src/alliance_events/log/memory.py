"""The in-memory log: the reference implementation of the contract, and a test fake.

It stores what the other backends store (encoded data, not live objects), so an event
read back from memory has been through the same codec round trip as one read from
SQLite or PostgreSQL. It is safe to share between threads.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import attrs

from alliance_events.clock import Clock, system_clock
from alliance_events.codec import Codec
from alliance_events.errors import ConcurrencyError, LogClosedError
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


class MemoryLog:
    """An event log held in this process's memory (gone when the process ends)."""

    def __init__(self, *, clock: Clock = system_clock, codec: Codec | None = None) -> None:
        self._codec = Codec() if codec is None else codec
        self._decoder = RecordDecoder(self._codec)
        self._clock = clock
        self._rows: list[_Row] = []
        self._streams: dict[str, list[int]] = {}
        self._ids: dict[uuid.UUID, int] = {}
        self._lock = threading.RLock()
        self._closed = False

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
            rows = [
                _Row(
                    position=start + offset + 1,
                    stream=stream,
                    version=actual + offset + 1,
                    event_id=event_id,
                    type=encoded.type,
                    schema=encoded.schema,
                    data=encoded.data,
                    metadata=batch.metadata_json,
                    recorded_at=micros,
                )
                for offset, (event_id, encoded) in enumerate(
                    zip(batch.event_ids, batch.encoded, strict=True)
                )
            ]
            self._rows.extend(rows)
            self._streams.setdefault(stream, []).extend(row.position for row in rows)
            self._ids.update((row.event_id, row.position) for row in rows)
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
        for position in positions:
            yield self._record(self._rows[position - 1])

    def read_all(self, *, after: int = 0, limit: int | None = None) -> Iterator[Recorded]:
        """Iterate over every record with a position above ``after``, in order."""
        remaining = limit
        cursor = max(after, 0)
        while remaining is None or remaining > 0:
            size = DEFAULT_PAGE_SIZE if remaining is None else min(remaining, DEFAULT_PAGE_SIZE)
            with self._lock:
                self._check_open()
                page = self._rows[cursor : cursor + size]
            if not page:
                return
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

    def close(self) -> None:
        """Forget nothing (the data stays for a reopened handle) but refuse further use."""
        self._closed = True

    def __enter__(self) -> MemoryLog:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise LogClosedError("the memory log is closed")

    def _record(self, row: _Row) -> Recorded:
        return self._decoder(
            row.position, row.stream, row.version, row.event_id, row.type, row.schema,
            row.data, row.metadata, row.recorded_at,
        )
