"""The only place that reads the system clock or invents random ids.

Nothing below the application layer calls ``pendulum.now()`` or ``uuid.uuid4()``
(a ruff banned-api rule keeps it so): the time and the ids come in from a
:data:`Clock` and an :data:`IdFactory` that the caller may replace, so that a test or a
demonstration can record history at the dates on which it happened
(:class:`alliance_events.testing.FixedClock`).
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable

import pendulum

__all__ = ["Clock", "IdFactory", "new_id", "system_clock"]

Clock = Callable[[], pendulum.DateTime]
"""A function that returns the current time as an aware pendulum date-time."""

IdFactory = Callable[[], uuid.UUID]
"""A function that returns a new unique id."""


def system_clock() -> pendulum.DateTime:
    """Return the current time in UTC, from the machine's clock."""
    return pendulum.now("UTC")


def new_id() -> uuid.UUID:
    """Return a new time-ordered random UUID (version 7, RFC 9562).

    Version 7 rather than 4: ids minted one after another sort together, so the
    log's unique index on event ids grows at its right edge instead of being written
    all over (fewer page splits in SQLite and PostgreSQL alike). 74 random bits keep
    them unguessable enough for ids (not for secrets: tokens use ``secrets``).
    """
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & 0xFFFF_FFFF_FFFF) << 80
    value |= 0x7 << 76  # version
    value |= ((rand >> 62) & 0xFFF) << 64  # rand_a, 12 bits
    value |= 0b10 << 62  # variant
    value |= rand & 0x3FFF_FFFF_FFFF_FFFF  # rand_b, 62 bits
    return uuid.UUID(int=value)
