"""The log's contract: the :class:`EventLog` protocol, the :class:`Recorded` envelope.

Every backend (memory, SQLite, PostgreSQL) implements the same protocol and passes the
same contract test suite (``tests/test_log_contract.py``). The rules they share:

* ``append`` is atomic: the whole batch is stored, or nothing is.
* ``expected_version`` is the stream's current version (``0``: the stream must not
  exist yet) or :data:`ANY`; a mismatch raises :class:`ConcurrencyError` and writes nothing.
* Appending events whose ids are all stored already, in the same stream and with the same
  content, returns the stored envelopes and writes nothing (a retried command never
  duplicates); any other reuse of an id raises :class:`DuplicateEventError`.
* Positions are global, start at 1, increase by one per event, and a reader that has
  seen position *P* never later finds a new event at a position <= *P*.
* Versions are per stream, start at 1 and increase by one per event.
"""

from __future__ import annotations

import datetime as _dt
import enum
import functools
import uuid
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping, Sequence
from types import MappingProxyType
from typing import Any, Final, Literal, NamedTuple, Protocol, runtime_checkable

import pendulum

from alliance_events._speed import as_datetime
from alliance_events.clock import Clock
from alliance_events.codec import (  # the private two: uuid_from_bytes written out
    _BIN_16,
    _UUID_FROM_BIN,
    Codec,
    EncodedEvent,
    loads,
    uuid_from_bytes,
)
from alliance_events.errors import (
    DuplicateEventError,
    InvalidAppendError,
    InvalidStreamNameError,
    UndecodableRecordError,
)
from alliance_events.events import Event, OpaqueEvent

__all__ = [
    "ANY",
    "MAX_STREAM_LENGTH",
    "AnyVersion",
    "EventLog",
    "ExpectedVersion",
    "PreparedBatch",
    "RecordDecoder",
    "Recorded",
    "SnapshotStore",
    "StoredSnapshot",
    "check_expected_version",
    "check_retry",
    "check_stream",
    "make_recorded",
    "prepare_batch",
    "recorded_time",
    "snapshot_store",
    "to_micros",
]

MAX_STREAM_LENGTH: Final = 200
"""The longest stream name a log accepts, in characters."""

DEFAULT_PAGE_SIZE: Final = 2_000
"""How many records a read fetches at once: memory stays flat whatever the log's size."""


class AnyVersion(enum.Enum):
    """The type of :data:`ANY`."""

    ANY = "any"

    def __repr__(self) -> str:
        return "ANY"


ANY: Final = AnyVersion.ANY
"""``expected_version=ANY``: append whatever the stream's current version is."""

ExpectedVersion = int | Literal[AnyVersion.ANY]


@functools.cache
def _zones() -> frozenset[str]:
    """Return the IANA zone names this machine knows."""
    return frozenset(zoneinfo.available_timezones())


class Recorded(NamedTuple):
    """An event as the log recorded it: the envelope and the decoded event.

    An immutable named tuple rather than an attrs class: a read builds one per event,
    and a tuple is built several times faster (it is on the hot path of every replay).

    Attributes:
        position: global order in the log, from 1, gapless.
        stream: the stream the event belongs to.
        version: the event's number within its stream, from 1.
        event_id: the event's id (the same as ``event.event_id``).
        type: the event's type name, as stored.
        schema: the schema the data was *stored* under (``event`` has been upcast to the
            class's current schema).
        recorded_at: when the log stored it, in UTC, from the log's clock.
        metadata: actor, correlation and causation ids and the like (a dict).
        event: the decoded event; an :class:`~alliance_events.events.OpaqueEvent`
            (the stored type name, schema and JSON text) if the reader's registry does
            not know the type.

    """

    position: int
    stream: str
    version: int
    event_id: uuid.UUID
    type: str
    schema: int
    recorded_at: pendulum.DateTime
    metadata: Mapping[str, Any]
    event: Event

    @property
    def effective_at(self) -> pendulum.DateTime:
        """When the recorded fact took effect: ``metadata["effective_at"]``, or when recorded.

        A command given with ``at=`` (a decision written up later) keeps that moment in
        its records' metadata; every other record took effect when it was recorded.
        """
        text = self.metadata.get("effective_at")
        if isinstance(text, str):
            try:
                moment = _dt.datetime.fromisoformat(text)
            except ValueError:
                return self.recorded_at  # another tool's metadata: the recording time stands
            if moment.utcoffset() is not None:
                zone = self.metadata.get("effective_zone")
                if isinstance(zone, str) and zone in _zones():
                    return pendulum.instance(moment).in_timezone(zone)
                return pendulum.instance(moment)
        return self.recorded_at

    def __repr__(self) -> str:  # the event says it all; metadata and times would drown it
        return (
            f"Recorded(position={self.position}, stream={self.stream!r}, "
            f"version={self.version}, type={self.type!r}, event={self.event!r})"
        )


@runtime_checkable
class EventLog(Protocol):
    """An append-only log of events in streams (see the module's rules)."""

    @property
    def codec(self) -> Codec:
        """The codec (and so the event registry) the log encodes and decodes with."""
        ...

    def append(
        self,
        stream: str,
        events: Sequence[Event],
        *,
        expected_version: ExpectedVersion,
        metadata: Mapping[str, Any] | None = None,
    ) -> list[Recorded]:
        """Append ``events`` to ``stream`` atomically and return their envelopes.

        Args:
            stream: the stream's name (1 to 200 characters).
            events: registered events, each with a unique ``event_id``.
            expected_version: the stream's current version (0: a new stream) or ANY.
            metadata: a JSON object stored with each event of the batch.

        Returns:
            One :class:`Recorded` per event, in order. When every id was stored already
            (a retry), the envelopes stored then.

        Raises:
            ConcurrencyError: the stream is not at ``expected_version``.
            DuplicateEventError: an id is stored already with other content or stream,
                or only some ids of the batch are.
            InvalidAppendError: a non-event, a bad expected version; nothing written.
            InvalidStreamNameError: an empty, over-long or non-text stream name.
            CodecError: an event cannot be encoded (a naive date-time, say).
            UnknownEventTypeError: an event's class is not registered.

        """
        ...

    def read_stream(self, stream: str, *, after_version: int = 0) -> Iterator[Recorded]:
        """Iterate over the stream's records with a version above ``after_version``."""
        ...

    def read_all(self, *, after: int = 0, limit: int | None = None) -> Iterator[Recorded]:
        """Iterate over all records with a position above ``after``, in position order.

        At most ``limit`` records when given. Records are fetched in pages, so memory does
        not grow with the log.
        """
        ...

    def head(self) -> int:
        """Return the position of the last record a reader may see (0 when empty)."""
        ...

    def stream_version(self, stream: str) -> int:
        """Return the stream's current version (0 when it does not exist)."""
        ...

    def close(self) -> None:
        """Release the log's connections; further use raises LogClosedError."""
        ...

    def __enter__(self) -> EventLog: ...

    def __exit__(self, *exc_info: object) -> None: ...


def recorded_time(clock: Clock) -> pendulum.DateTime:
    """Ask ``clock`` for the time and return it in UTC.

    Raises:
        InvalidAppendError: the clock returned something other than an aware date-time.

    """
    now = clock()
    if not isinstance(now, _dt.datetime) or now.utcoffset() is None:
        raise InvalidAppendError(f"the log's clock must return an aware date-time, got {now!r}")
    if isinstance(now, pendulum.DateTime) and now.tzinfo is pendulum.UTC:
        return now  # the system clock's own form: nothing to convert
    return pendulum.instance(now).in_timezone("UTC")


def check_stream(stream: object) -> str:
    """Return ``stream`` if it is a valid stream name.

    Raises:
        InvalidStreamNameError: it is not a string, is empty, is longer than 200, holds
            a NUL or a lone surrogate (no UTF-8 for it: SQLite and PostgreSQL refuse it).

    """
    if not isinstance(stream, str):
        raise InvalidStreamNameError(f"stream name must be a string, got {type(stream).__name__}")
    if not stream:
        raise InvalidStreamNameError("stream name must not be empty")
    if len(stream) > MAX_STREAM_LENGTH:
        raise InvalidStreamNameError(
            f"stream name is {len(stream)} characters long, the limit is {MAX_STREAM_LENGTH}: "
            f"{stream[:40]!r}..."
        )
    if "\x00" in stream:
        raise InvalidStreamNameError(f"stream name must not contain NUL: {stream!r}")
    if not stream.isascii():
        try:
            stream.encode()
        except UnicodeEncodeError:
            raise InvalidStreamNameError(
                f"stream name must be text a database can store (UTF-8): {stream!r} holds a "
                "lone surrogate"
            ) from None
    return stream


def check_expected_version(expected_version: object) -> ExpectedVersion:
    """Return ``expected_version`` if it is ANY or an integer >= 0.

    Raises:
        InvalidAppendError: it is neither.

    """
    if expected_version is ANY:
        return ANY
    if (
        isinstance(expected_version, bool)
        or not isinstance(expected_version, int)
        or expected_version < 0
    ):
        raise InvalidAppendError(
            f"expected_version must be an integer >= 0 or ANY, got {expected_version!r}"
        )
    return expected_version


class PreparedBatch(NamedTuple):
    """A batch checked and encoded before any backend touches its storage."""

    stream: str
    expected_version: ExpectedVersion
    events: tuple[Event, ...]
    encoded: tuple[EncodedEvent, ...]
    event_ids: tuple[uuid.UUID, ...]
    metadata: Mapping[str, Any]
    metadata_json: str | None


def prepare_batch(
    codec: Codec,
    stream: str,
    events: Sequence[Event],
    expected_version: object,
    metadata: Mapping[str, Any] | None,
) -> PreparedBatch:
    """Validate and encode an append's arguments; every refusal happens here, before I/O.

    Raises:
        InvalidStreamNameError, InvalidAppendError, DuplicateEventError (an id twice in
        the batch), CodecError, UnknownEventTypeError.

    """
    if (type(stream) is not str or not 0 < len(stream) <= MAX_STREAM_LENGTH or "\x00" in stream
            or not stream.isascii()):
        check_stream(stream)  # raises, naming what is wrong (non-ASCII: if not UTF-8)
    expected = (
        expected_version
        if type(expected_version) is int and expected_version >= 0
        else check_expected_version(expected_version)
    )
    # list and tuple first: an isinstance check against the Sequence ABC is slow.
    if type(events) not in (list, tuple) and (
        isinstance(events, (str, bytes, Event)) or not isinstance(events, Sequence)
    ):
        raise InvalidAppendError(
            f"events must be a list of events, got {type(events).__name__}"
        )
    events = tuple(events)
    opaque = False
    for index, event in enumerate(events):
        if not isinstance(event, Event):
            raise InvalidAppendError(
                f"events[{index}] is a {type(event).__name__}, not an alliance_events.Event"
            )
        if isinstance(event, OpaqueEvent):
            opaque = True
        if type(event.event_id) is not uuid.UUID:
            raise InvalidAppendError(
                f"events[{index}].event_id must be a uuid.UUID, got {event.event_id!r}"
            )
    ids = tuple(event.event_id for event in events)
    if len(set(ids)) != len(ids):
        seen: set[uuid.UUID] = set()
        twice = next(i for i in ids if i in seen or seen.add(i))  # type: ignore[func-returns-value]
        raise DuplicateEventError(f"event id {twice} appears twice in one batch")
    encoded = tuple(codec.encode(event) for event in events)
    if opaque:
        # Stored as they are; returned as a reader will see them (decoded if the type
        # is known here), so that append returns what read_all and a retry return.
        events = tuple(
            codec.decode(e.type_name, e.schema, e.data, e.event_id)
            if isinstance(e, OpaqueEvent) else e
            for e in events
        )
    metadata_json = codec.encode_metadata(metadata)
    return PreparedBatch(
        stream,
        expected,
        events,
        encoded,
        ids,
        # As a reader will see it (UUIDs as text...), so that append returns what
        # read_all and a retry return.
        _EMPTY if metadata_json is None else MappingProxyType(loads(metadata_json)),
        metadata_json,
    )


def check_retry(batch: PreparedBatch, stored: Sequence[Recorded]) -> list[Recorded]:
    """Decide what an append whose ids are (partly) stored already returns.

    ``stored`` holds the stored records among the batch's ids, in any order.

    Returns:
        The stored envelopes in the batch's order, when every id is stored, in the
        batch's stream, with equal content: the append is a retry.

    Raises:
        DuplicateEventError: only some ids are stored, or in another stream, or with
            other content.

    """
    by_id = {record.event_id: record for record in stored}
    missing = [i for i in batch.event_ids if i not in by_id]
    if missing:
        present = [str(i) for i in batch.event_ids if i in by_id]
        raise DuplicateEventError(
            f"event ids {present} are stored already but {[str(i) for i in missing]} are "
            "not: a batch is appended whole or not at all, so it cannot be partly a retry"
        )
    result = []
    for event in batch.events:
        record = by_id[event.event_id]
        if record.stream != batch.stream:
            raise DuplicateEventError(
                f"event id {event.event_id} is stored already in stream {record.stream!r}, "
                f"not in {batch.stream!r}"
            )
        if record.event != event:
            raise DuplicateEventError(
                f"event id {event.event_id} is stored already with other content: "
                f"stored {record.event!r}, appended {event!r}"
            )
        result.append(record)
    return result


_EPOCH: Final = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_NAIVE_EPOCH: Final = _dt.datetime(1970, 1, 1)  # noqa: DTZ001 - UTC's wall time, for recorded_at
_EMPTY: Final[Mapping[str, Any]] = MappingProxyType({})
make_recorded: Final = tuple.__new__
"""``make_recorded(Recorded, (position, ...))``: a Recorded from its fields in order,
without NamedTuple's keyword parsing (the read path builds one per event)."""


_SUBTRACT: Final = _dt.datetime.__sub__  # not pendulum's, which builds an Interval (~20 µs)


def to_micros(moment: _dt.datetime) -> int:
    """Return an aware date-time as whole microseconds since 1970-01-01T00:00:00Z."""
    delta: _dt.timedelta = _SUBTRACT(moment, _EPOCH)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


class RecordDecoder:
    """Turns a stored row's columns into a :class:`Recorded`, the same for every backend.

    It is on the hot path of every read: the events of one batch share their
    ``recorded_at``, so the date-time is built once per run of equal values; an event of
    a type's current schema goes straight to the codec's compiled decoder (the codec's
    ``decode`` otherwise, and whenever the compiled one declines).
    """

    def __init__(self, codec: Codec) -> None:
        self._decode_event = codec.decode
        # The codec's compiled decoders by type name, as codec.decode fills it: one call
        # less per event than through codec.decode.
        self._compiled = codec._compiled
        self._last_time: tuple[int, pendulum.DateTime] = (-1, pendulum.DateTime(1970, 1, 1))

    def recorded_at(self, micros: int) -> pendulum.DateTime:
        """Return ``micros`` since the epoch as a pendulum date-time in UTC."""
        # One tuple, read and written whole, so threads never see half an update.
        last = self._last_time
        if micros == last[0]:
            return last[1]
        # Most records of a real log have a recorded_at of their own (a command each):
        # see _speed.as_datetime for what this way saves.
        value = as_datetime(pendulum.DateTime, _NAIVE_EPOCH + _dt.timedelta(0, 0, micros),
                            pendulum.UTC)
        self._last_time = (micros, value)
        return value

    def __call__(
        self,
        position: int,
        stream: str,
        version: int,
        event_id: uuid.UUID,
        type_name: str,
        schema: int,
        data: str,
        metadata: str | None,
        micros: int,
        _checksum: bytes | None = None,
    ) -> Recorded:
        """Decode one stored row (its checksum, if given, is checked elsewhere: ignored).

        Raises:
            UndecodableRecordError: the type is known but its data cannot be decoded
                (names the position); an unknown type decodes to an opaque event.

        """
        try:
            compiled = self._compiled.get(type_name)
            if compiled is not None and compiled[0] == schema:
                try:
                    event = compiled[1](data, event_id)
                except Exception:  # noqa: BLE001 - codec.decode decides: the event, or why not
                    event = self._decode_event(type_name, schema, data, event_id)
            else:
                event = self._decode_event(type_name, schema, data, event_id)
            meta = {} if metadata is None else loads(metadata)
        except Exception as error:
            raise UndecodableRecordError(position, type_name, schema, str(error)) from error
        last = self._last_time
        return make_recorded(
            Recorded,
            (position, stream, version, event_id, type_name, schema,
             last[1] if micros == last[0] else self.recorded_at(micros), meta, event),
        )

    def records(self, rows: Iterable[Sequence[Any]]) -> Iterator[Recorded]:
        """Decode stored rows one by one, as they are asked for, as :meth:`__call__` does.

        Each row holds the stored columns in the order of
        :class:`~alliance_events.log.chain.StoredRow`: the event id as its 16 stored bytes,
        the checksum last (ignored). It gives what calling :meth:`__call__` on each row
        gives (with ``uuid_from_bytes`` of the id), with the work written out in one
        generator: a read yields each record from here without a Python call per record
        for its envelope (0.5 us less per record on the benchmark's SQLite log).

        Raises:
            UndecodableRecordError: as :meth:`__call__`.

        """
        compiled_for = self._compiled.get
        decode_event = self._decode_event
        from_bin, bin_16 = _UUID_FROM_BIN, _BIN_16
        recorded = Recorded
        last_micros, last_time = self._last_time
        for (position, stream, version, raw_id, type_name, schema, data, metadata, micros,
             _checksum) in rows:
            event_id = from_bin(bin_16 + raw_id) if len(raw_id) == 16 else uuid_from_bytes(raw_id)  # noqa: PLR2004 - a UUID's length
            try:
                compiled = compiled_for(type_name)
                if compiled is not None and compiled[0] == schema:
                    try:
                        event = compiled[1](data, event_id)
                    except Exception:  # noqa: BLE001 - codec.decode decides: the event, or why not
                        event = decode_event(type_name, schema, data, event_id)
                else:
                    event = decode_event(type_name, schema, data, event_id)
                meta = {} if metadata is None else loads(metadata)
            except Exception as error:
                raise UndecodableRecordError(position, type_name, schema, str(error)) from error
            if micros != last_micros:
                last_micros, last_time = micros, self.recorded_at(micros)
            yield make_recorded(
                recorded,
                (position, stream, version, event_id, type_name, schema, last_time, meta, event),
            )


# -- projection snapshots: the protocol (stores: alliance_events.log.snapshots) ---------


class StoredSnapshot(NamedTuple):
    """One projection's encoded state at a position of the log.

    ``event_id`` is the id of the record at ``position`` (None at 0): a reader checks
    that the log still holds it. ``data`` is the projection's own encoding.
    """

    name: str
    version: str
    position: int
    event_id: uuid.UUID | None
    data: bytes


@runtime_checkable
class SnapshotStore(Protocol):
    """Where a log keeps its projections' snapshots, one per projection name.

    A snapshot is replaced whole or not at all; one whose stored checksum fails is
    never returned (:mod:`alliance_events.log.snapshots` has the three backends' stores).
    """

    def load(self, name: str) -> StoredSnapshot | None:
        """Return the projection's snapshot, or None if there is none.

        Raises:
            LogError: the snapshot is damaged, or the storage failed.

        """
        ...

    def save(self, snapshot: StoredSnapshot) -> None:
        """Replace the projection's snapshot with ``snapshot``, whole or not at all.

        Raises:
            LogError: the storage refused or failed (nothing was replaced).

        """
        ...

    def delete(self, name: str) -> bool:
        """Delete the projection's snapshot; return whether there was one."""
        ...


def snapshot_store(log: object) -> SnapshotStore | None:
    """Return the log's snapshot store, or None if it keeps none.

    A log offers one through a ``snapshot_store()`` method (the three backends do; a
    SQLite database in memory does not: nothing outlives its connection).
    """
    hook = getattr(log, "snapshot_store", None)
    store = hook() if callable(hook) else None
    return store if isinstance(store, SnapshotStore) else None
