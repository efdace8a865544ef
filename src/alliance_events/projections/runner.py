"""Running a projection over the log: catch-up from a checkpoint, and "as of" folds.

A projection is an initial state and a function applying one record to it. The runner
remembers the last position applied (its checkpoint), so a catch-up reads only the new
records: its cost is proportional to what is new, not to the log's length. "What did we
know on 1 April?" is the same fold on a fresh state, stopped at a position or a time.

A record of a type the log's registry does not know (another tool's, from a tool not
installed here) carries an :class:`~alliance_events.events.OpaqueEvent`. The runner
applies it like any record (a projection matches on ``record.type`` and leaves alone what
it does not know) and counts it by type name in :attr:`ProjectionRunner.unknown_types`,
so that a program can say what it could not read.

**Snapshots beside the log.** Given the log's snapshot store (``snapshots=``) and a
projection that can write its state to bytes (:class:`Persistable`), the runner starts
from the stored snapshot instead of the log's first record, and stores a new one after
a catch-up that leaves it ``persist_every`` records (10,000) past the stored one. Why
then, and not on a timer or at close: the state only changes in a catch-up (a timer
would write the same state again, and a process that dies never runs its close); a
restart folds at most those 10,000 records after loading, a fraction of the load
itself; and a snapshot's cost (encoding the state and writing it, a few seconds for a
1,000,000-record log: ``benchmarks/bench_projection.py``'s restart rows) is paid at
most once per 10,000 new records, which a real log gathers over days or weeks. A first
start on a long log folds it all and then writes its snapshot, once. A snapshot is
ignored, and the log folded from its start, whenever it cannot be trusted to give what
that fold gives: another projection version (the code changed), another set of known
event types, a position the log does not hold or holds with another record (a log
restored from an older backup), a damaged or unreadable one. Each such case is logged
(logger ``alliance_events.projections``) with its reason.
"""

from __future__ import annotations

import datetime as _dt
import gc
import hashlib
import logging
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from types import MappingProxyType
from typing import Final, Generic, NamedTuple, Protocol, TypeVar

import msgspec

from alliance_events._speed import without_cyclic_gc  # re-exported
from alliance_events.events import OpaqueEvent
from alliance_events.log.base import EventLog, Recorded, SnapshotStore, StoredSnapshot

__all__ = [
    "PERSIST_EVERY",
    "SNAPSHOTS_KEPT",
    "Persistable",
    "Projection",
    "ProjectionRunner",
    "fold",
    "without_cyclic_gc",
]

S = TypeVar("S")
logger = logging.getLogger("alliance_events.projections")

_FREEZE_AFTER: Final = 100_000  # records applied in one catch-up before gc.freeze()
PERSIST_EVERY: Final = 10_000
"""Records a catch-up must leave the state past the stored snapshot to store a new one."""
SNAPSHOTS_KEPT: Final = 10
"""In-memory copies of the state a runner keeps for "as of", at most (see the runner)."""


class Projection(Protocol[S]):
    """What a runner needs of a projection."""

    def initial(self) -> S:
        """Return a new, empty state."""
        ...

    def apply(self, state: S, record: Recorded) -> S:
        """Return the state after ``record`` (it may update ``state`` in place)."""
        ...

    def copy(self, state: S) -> S:
        """Return a copy that later ``apply`` calls on ``state`` leave unchanged.

        (For an immutable state, the state itself.) Used for the runner's snapshots.
        """
        ...


def fold(
    log: EventLog,
    projection: Projection[S],
    *,
    position: int | None = None,
    time: _dt.datetime | None = None,
    progress: Callable[[int], None] | None = None,
    start: tuple[int, S] | None = None,
) -> tuple[S, int]:
    """Fold the log into a fresh state (or on from ``start``), stopping early if asked.

    Args:
        log: the log to read.
        projection: what to fold into.
        position: stop after this position (inclusive).
        time: stop before the first record recorded after this instant.
        progress: called with each record's position every 10,000 records.
        start: ``(position, state)`` to go on from instead of the beginning; the state
            is updated in place if the projection does so (pass a copy).

    Returns:
        The state and the position of the last record applied (0 if none).

    """
    last, state = (0, projection.initial()) if start is None else start
    limit = None if position is None else max(position - last, 0)
    if limit == 0:
        return state, last
    apply = projection.apply
    with without_cyclic_gc(), _building(projection, state):
        for record in log.read_all(after=last, limit=limit):
            if time is not None and record.recorded_at > time:
                break
            state = apply(state, record)
            last = record.position
            if progress is not None and last % 10_000 == 0:
                progress(last)
    return state, last


def _building(projection: Projection[S], state: S) -> AbstractContextManager[object]:
    """Return the projection's ``building(state)`` if it has one, else a null context.

    (A fold that no one reads meanwhile: see ``AllianceProjection.building``.)
    """
    building: Callable[[S], AbstractContextManager[object]] | None = getattr(
        projection, "building", None)
    return nullcontext() if building is None else building(state)


class Persistable(Projection[S], Protocol):
    """A projection whose state a runner can keep in a snapshot beside the log."""

    snapshot_name: str
    """The snapshot's name in the log's store (one snapshot per name)."""
    snapshot_version: str
    """Changes whenever the code would fold the same log into another state (or the
    state's shape changes): a snapshot of another version is never loaded."""

    def encode(self, state: S) -> bytes:
        """Return the state as bytes (it is not changed)."""
        ...

    def decode(self, data: bytes) -> S:
        """Return the state that ``encode`` wrote as ``data`` (raises if it cannot)."""
        ...


class _Snapshot(NamedTuple, Generic[S]):
    position: int
    recorded_at: _dt.datetime | None
    state: S


class ProjectionRunner(Generic[S]):
    """Keeps one projection's state up to date with the log.

    While catching up it keeps a copy of the state every ``snapshot_every`` positions,
    so that "as of" a past moment folds from the nearest snapshot before it rather than
    from the start of the log (on a million events: seconds become a fraction of one).
    It keeps at most ``snapshots_kept`` of them, spread over the log: each copy keeps
    alive the states that changed after it (a meeting's nominations before their
    confirmation...) and its own dicts, ~2.6 MiB a copy on the projection benchmark's
    1,000,000-event log (20 copies: 52 MiB, a fifth of the rebuild's peak).
    """

    def __init__(
        self,
        log: EventLog,
        projection: Projection[S],
        *,
        snapshot_every: int | None = 50_000,
        snapshots: SnapshotStore | None = None,
        persist_every: int = PERSIST_EVERY,
        snapshots_kept: int | None = SNAPSHOTS_KEPT,
    ) -> None:
        """Run ``projection`` over ``log``.

        Args:
            log: the log to fold.
            projection: what to fold it into.
            snapshot_every: keep a copy of the state in memory every so many positions,
                for "as of" (None: none).
            snapshots: the log's snapshot store (:func:`~alliance_events.log.base.snapshot_store`),
                to start from the stored snapshot and store new ones (see the module);
                the projection must then be :class:`Persistable`. None: always fold
                the whole log.
            persist_every: records past the stored snapshot after which a catch-up
                stores a new one.
            snapshots_kept: keep at most so many in-memory copies (None: all). Past it,
                the copy whose going leaves the shortest stretch of the log between its
                neighbours goes (the oldest of equals), so those kept stay spread over
                the log: with the defaults, a copy every ~100,000 positions of a
                1,000,000-record log, and "as of" folds at most that far.

        """
        self.log = log
        self.projection = projection
        self.state: S = projection.initial()
        self.checkpoint = 0
        self.snapshot_every = snapshot_every
        self.snapshots = snapshots
        self.persist_every = persist_every
        self.snapshots_kept = snapshots_kept
        self.restored_from: int | None = None
        """The position of the stored snapshot the state started from (None: none)."""
        self._snapshots: list[_Snapshot[S]] = []
        self._last_snapshot = 0
        self._unknown: dict[str, int] = {}
        self._restore_pending = snapshots is not None
        self._persisted = 0

    @property
    def unknown_types(self) -> Mapping[str, int]:
        """How many records of types the log's registry does not know were applied, by type.

        Counted as catch-ups read them (a read-only view, up to date as it is read).
        """
        return MappingProxyType(self._unknown)

    def catch_up(self, *, progress: Callable[[int], None] | None = None) -> int:
        """Apply every record after the checkpoint; return how many were applied.

        The first catch-up starts from the stored snapshot if there is a good one; a
        catch-up that leaves the state ``persist_every`` records past the stored
        snapshot stores a new one (see the module).
        """
        if self._restore_pending:
            self._restore_pending = False
            self.restore()
        count = self._catch_up(progress)
        if self.snapshots is not None and self.checkpoint - self._persisted >= self.persist_every:
            self.persist()
        return count

    def _catch_up(self, progress: Callable[[int], None] | None) -> int:
        apply = self.projection.apply
        state = self.state
        count = 0
        checkpoint = self.checkpoint
        every = self.snapshot_every or 0
        unknown = self._unknown
        try:
            with without_cyclic_gc(), _building(self.projection, state):
                for record in self.log.read_all(after=checkpoint):
                    if type(record.event) is OpaqueEvent:
                        unknown[record.type] = unknown.get(record.type, 0) + 1
                    state = apply(state, record)
                    checkpoint = record.position
                    count += 1
                    if every and checkpoint - self._last_snapshot >= every:
                        self._last_snapshot = checkpoint
                        self._keep(_Snapshot(checkpoint, record.recorded_at,
                                             self.projection.copy(state)))
                    if progress is not None and count % 10_000 == 0:
                        progress(checkpoint)
                if count >= _FREEZE_AFTER:
                    # The state just built is kept for the process's life and holds no
                    # cycles: leave it out of every later collection instead of letting
                    # the collector, once on again, scan the millions of objects it
                    # holds (the first full pass after a rebuild of 1,000,000 records
                    # took ~1 s, and each later one as long).
                    gc.freeze()
        finally:
            # What was applied stays applied, with its checkpoint, even if a later
            # record cannot be read: the next catch-up resumes after the last good one.
            self.state, self.checkpoint = state, checkpoint
        return count

    def _keep(self, snapshot: _Snapshot[S]) -> None:
        """Keep an in-memory copy; past ``snapshots_kept``, let one go (see ``__init__``)."""
        kept = self._snapshots
        kept.append(snapshot)
        limit = self.snapshots_kept
        if limit is None or len(kept) <= max(limit, 1):
            return
        # The newest stays; of the others, the one between the closest neighbours goes.
        gaps = [kept[i + 1].position - (kept[i - 1].position if i else 0)
                for i in range(len(kept) - 1)]
        del kept[gaps.index(min(gaps))]

    def _persistable(self) -> Persistable[S] | None:
        projection = self.projection
        if all(hasattr(projection, name) for name in
               ("snapshot_name", "snapshot_version", "encode", "decode")):
            return projection  # type: ignore[return-value]
        return None

    def _version(self, projection: Persistable[S]) -> str:
        """Return the projection's version, with the event types this log's registry knows.

        The state does not depend on the types known (only the library's own events
        change it), but :attr:`unknown_types` does: a tool installed since the snapshot
        reads its records as its own events, no longer as unknown ones.
        """
        registry = self.log.codec.registry
        known = sorted(f"{name}/{schema}" for name, schema in map(registry.type_of, registry))
        digest = hashlib.sha256("\n".join(known).encode()).hexdigest()[:12]
        return f"{projection.snapshot_version}+types.{digest}"

    def restore(self) -> bool:
        """Start from the stored snapshot if it can be trusted; return whether it was.

        Only before anything was folded (the checkpoint at 0); otherwise, or without a
        good snapshot, nothing changes (each reason is logged).
        """
        store, projection = self.snapshots, self._persistable()
        if store is None or projection is None or self.checkpoint != 0:
            return False
        name = projection.snapshot_name
        try:
            stored = store.load(name)
            if stored is None:
                logger.info("projection %r: no snapshot: folding the log from its start", name)
                return False
            with without_cyclic_gc():  # millions of new objects, none in a cycle
                recorded_at, unknown, state = self._trusted(stored, projection)
                gc.freeze()  # kept for the process's life: see _catch_up
        except Exception as error:  # noqa: BLE001 - any failure: fold the log instead
            logger.warning("projection %r: its snapshot is ignored (%s): folding the log from "
                           "its start", name, error)
            return False
        self.state, self.checkpoint = state, stored.position
        self._unknown.update(unknown)
        self._persisted = self._last_snapshot = self.restored_from = stored.position
        if self.snapshot_every:
            self._keep(_Snapshot(stored.position, recorded_at, projection.copy(state)))
        logger.info("projection %r: started from its snapshot at position %d", name,
                    stored.position)
        return True

    def _trusted(
        self, stored: StoredSnapshot, projection: Persistable[S]
    ) -> tuple[_dt.datetime | None, dict[str, int], S]:
        """Return the snapshot's time, counts and state, or raise why it is not trusted."""
        version = self._version(projection)
        if stored.version != version:
            raise _Untrusted(f"it is of version {stored.version}, this code folds {version}")
        recorded_at = None
        if stored.position > 0:
            found = list(self.log.read_all(after=stored.position - 1, limit=1))
            if not found or found[0].position != stored.position or (
                found[0].event_id != stored.event_id
            ):
                raise _Untrusted(f"it is of position {stored.position}, which this log does "
                                 "not hold or holds with another record")
            recorded_at = found[0].recorded_at
        unknown, data = _ENVELOPE.decode(stored.data)
        return recorded_at, unknown, projection.decode(data)

    def persist(self) -> bool:
        """Store the state as the projection's snapshot now; return whether it was stored.

        A failure (a full disk, a state it cannot encode) is logged, never raised: the
        next attempt comes ``persist_every`` records later. A log opened read-only (the
        feed server opens it so) stores none and says nothing: a command that writes
        stores one at its next catch-up of ``persist_every`` records.
        """
        store, projection = self.snapshots, self._persistable()
        if (store is None or projection is None or self.checkpoint <= 0
                or getattr(store, "read_only", False)):
            return False
        position = self.checkpoint
        self._persisted = position  # a failure is not retried at every catch-up
        name = projection.snapshot_name
        try:
            [record] = self.log.read_all(after=position - 1, limit=1)
            with without_cyclic_gc():
                data = _ENVELOPE_ENCODE([dict(self._unknown), projection.encode(self.state)])
            store.save(StoredSnapshot(name, self._version(projection), position,
                                      record.event_id, data))
        except Exception as error:  # noqa: BLE001 - a snapshot is an optimisation only
            logger.warning("projection %r: its snapshot at position %d could not be stored "
                           "(%s): a restart folds from the one before", name, position, error)
            return False
        logger.info("projection %r: snapshot stored at position %d (%d bytes)", name,
                    position, len(data))
        return True

    def as_of(self, *, position: int | None = None, time: _dt.datetime | None = None) -> S:
        """Return the state as it was after ``position`` or at ``time``.

        With neither, or at the checkpoint, the current state after a catch-up;
        otherwise a fold from the nearest snapshot before that moment, on a copy.
        """
        self.catch_up()
        if time is None and (position is None or position >= self.checkpoint):
            return self.state
        start = None
        for snapshot in reversed(self._snapshots):
            if (position is None or snapshot.position <= position) and (
                time is None
                or (snapshot.recorded_at is not None and snapshot.recorded_at <= time)
            ):
                start = (snapshot.position, self.projection.copy(snapshot.state))
                break
        state, _ = fold(self.log, self.projection, position=position, time=time, start=start)
        return state


class _Untrusted(Exception):  # noqa: N818 - says why a snapshot is not used
    """Why a stored snapshot is not used (logged, never raised to the caller)."""


_ENVELOPE: Final = msgspec.msgpack.Decoder(tuple[dict[str, int], bytes])
"""A stored snapshot's data: the runner's counts of unknown types, the projection's bytes."""
_ENVELOPE_ENCODE: Final = msgspec.msgpack.encode
