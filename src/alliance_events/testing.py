"""Helpers for the library's users' tests: a clock that stands still, and ids on demand.

>>> import pendulum
>>> from alliance_events.testing import FixedClock
>>> clock = FixedClock(pendulum.datetime(2023, 3, 22, 14, tz="UTC"))
>>> clock()
DateTime(2023, 3, 22, 14, 0, 0, tzinfo=Timezone('UTC'))
>>> clock.advance(minutes=90)
>>> clock().isoformat()
'2023-03-22T15:30:00+00:00'
"""

from __future__ import annotations

import uuid
from typing import Any

import pendulum

__all__ = ["FixedClock", "SequentialIds"]


class FixedClock:
    """A clock that returns the time it was set to until moved (``set``, ``advance``)."""

    def __init__(self, now: pendulum.DateTime) -> None:
        self.set(now)

    def set(self, now: pendulum.DateTime) -> None:
        """Make the clock show ``now`` (an aware date-time)."""
        if now.utcoffset() is None:
            raise ValueError(f"FixedClock needs an aware date-time, got {now!r}")
        self._now = pendulum.instance(now)

    def advance(self, **delta: Any) -> None:
        """Move the clock forward by ``pendulum.duration(**delta)``."""
        self._now = self._now + pendulum.duration(**delta)

    def __call__(self) -> pendulum.DateTime:
        """Return the time the clock shows."""
        return self._now


class SequentialIds:
    """An id factory giving UUIDs 00000000-0000-0000-0000-000000000001, …2, and so on."""

    def __init__(self, start: int = 1) -> None:
        self._next = start

    def __call__(self) -> uuid.UUID:
        """Return the next id."""
        value = uuid.UUID(int=self._next)
        self._next += 1
        return value
