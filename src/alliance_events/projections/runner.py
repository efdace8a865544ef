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
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Generic, NamedTuple, Protocol, TypeVar

from alliance_events._speed import without_cyclic_gc  # re-exported
from alliance_events.events import OpaqueEvent
from alliance_events.log.base import EventLog, Recorded

__all__ = ["Projection", "ProjectionRunner", "fold", "without_cyclic_gc"]

S = TypeVar("S")


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
    with without_cyclic_gc():
        for record in log.read_all(after=last, limit=limit):
            if time is not None and record.recorded_at > time:
                break
            state = apply(state, record)
            last = record.position
            if progress is not None and last % 10_000 == 0:
                progress(last)
    return state, last


class _Snapshot(NamedTuple, Generic[S]):
    position: int
    recorded_at: _dt.datetime | None
    state: S


class ProjectionRunner(Generic[S]):
    """Keeps one projection's state up to date with the log.

    While catching up it keeps a copy of the state every ``snapshot_every`` positions,
    so that "as of" a past moment folds from the nearest snapshot before it rather than
    from the start of the log (on a million events: seconds become a fraction of one).
    """

    def __init__(
        self, log: EventLog, projection: Projection[S], *, snapshot_every: int | None = 50_000
    ) -> None:
        self.log = log
        self.projection = projection
        self.state: S = projection.initial()
        self.checkpoint = 0
        self.snapshot_every = snapshot_every
        self._snapshots: list[_Snapshot[S]] = []
        self._last_snapshot = 0
        self._unknown: dict[str, int] = {}

    @property
    def unknown_types(self) -> Mapping[str, int]:
        """How many records of types the log's registry does not know were applied, by type.

        Counted as catch-ups read them (a read-only view, up to date as it is read).
        """
        return MappingProxyType(self._unknown)

    def catch_up(self, *, progress: Callable[[int], None] | None = None) -> int:
        """Apply every record after the checkpoint; return how many were applied."""
        apply = self.projection.apply
        state = self.state
        count = 0
        checkpoint = self.checkpoint
        every = self.snapshot_every or 0
        unknown = self._unknown
        try:
            with without_cyclic_gc():
                for record in self.log.read_all(after=checkpoint):
                    if type(record.event) is OpaqueEvent:
                        unknown[record.type] = unknown.get(record.type, 0) + 1
                    state = apply(state, record)
                    checkpoint = record.position
                    count += 1
                    if every and checkpoint - self._last_snapshot >= every:
                        self._last_snapshot = checkpoint
                        self._snapshots.append(
                            _Snapshot(checkpoint, record.recorded_at, self.projection.copy(state))
                        )
                    if progress is not None and count % 10_000 == 0:
                        progress(checkpoint)
        finally:
            # What was applied stays applied, with its checkpoint, even if a later
            # record cannot be read: the next catch-up resumes after the last good one.
            self.state, self.checkpoint = state, checkpoint
        return count

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
