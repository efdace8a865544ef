"""Running a projection over the log: catch-up from a checkpoint, and "as of" folds.

A projection is an initial state and a function applying one record to it. The runner
remembers the last position applied (its checkpoint), so a catch-up reads only the new
records: its cost is proportional to what is new, not to the log's length. "What did we
know on 1 April?" is the same fold on a fresh state, stopped at a position or a time.
"""

from __future__ import annotations

import datetime as _dt
import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Generic, Protocol, TypeVar

from alliance_events.log.base import EventLog, Recorded

__all__ = ["Projection", "ProjectionRunner", "fold"]

S = TypeVar("S")


class Projection(Protocol[S]):
    """What a runner needs of a projection."""

    def initial(self) -> S:
        """Return a new, empty state."""
        ...

    def apply(self, state: S, record: Recorded) -> S:
        """Return the state after ``record`` (it may update ``state`` in place)."""
        ...


@contextmanager
def _without_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while a fold runs.

    A fold allocates millions of small immutable objects that form no cycles; the
    collector would rescan the growing state again and again for nothing (measured: a
    quarter of a rebuild's time). Reference counting still frees everything as usual.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def fold(
    log: EventLog,
    projection: Projection[S],
    *,
    position: int | None = None,
    time: _dt.datetime | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[S, int]:
    """Fold the log from the start into a fresh state, stopping early if asked.

    Args:
        log: the log to read.
        projection: what to fold into.
        position: stop after this position (inclusive).
        time: stop before the first record recorded after this instant.
        progress: called with each record's position every 10,000 records.

    Returns:
        The state and the position of the last record applied (0 if none).

    """
    state = projection.initial()
    last = 0
    limit = None if position is None else max(position, 0)
    if limit == 0:
        return state, 0
    apply = projection.apply
    with _without_cyclic_gc():
        for record in log.read_all(limit=limit):
            if time is not None and record.recorded_at > time:
                break
            state = apply(state, record)
            last = record.position
            if progress is not None and last % 10_000 == 0:
                progress(last)
    return state, last


class ProjectionRunner(Generic[S]):
    """Keeps one projection's state up to date with the log."""

    def __init__(self, log: EventLog, projection: Projection[S]) -> None:
        self.log = log
        self.projection = projection
        self.state: S = projection.initial()
        self.checkpoint = 0

    def catch_up(self, *, progress: Callable[[int], None] | None = None) -> int:
        """Apply every record after the checkpoint; return how many were applied."""
        apply = self.projection.apply
        state = self.state
        count = 0
        checkpoint = self.checkpoint
        try:
            with _without_cyclic_gc():
                for record in self.log.read_all(after=checkpoint):
                    state = apply(state, record)
                    checkpoint = record.position
                    count += 1
                    if progress is not None and count % 10_000 == 0:
                        progress(checkpoint)
        finally:
            # What was applied stays applied, with its checkpoint, even if a later
            # record cannot be read: the next catch-up resumes after the last good one.
            self.state, self.checkpoint = state, checkpoint
        return count

    def as_of(self, *, position: int | None = None, time: _dt.datetime | None = None) -> S:
        """Return the state as it was after ``position`` or at ``time`` (a fresh fold).

        With neither, or at the checkpoint, the current state after a catch-up.
        """
        if time is None and (position is None or position == self.checkpoint):
            self.catch_up()
            return self.state
        state, _ = fold(self.log, self.projection, position=position, time=time)
        return state
