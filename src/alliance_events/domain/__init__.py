"""The domain: pure ``decide`` and ``evolve`` functions per aggregate, no I/O, no clock.

* :mod:`~alliance_events.domain.meetings`: meetings, registration, delegations.
* :mod:`~alliance_events.domain.deadlines`: deadlines (of a meeting, or on their own).
* :mod:`~alliance_events.domain.directory`: organisations, persons, officers.
* :mod:`~alliance_events.domain.common`: commands and the shared vocabulary.
"""

from __future__ import annotations

from alliance_events.domain import common, deadlines, directory, meetings

__all__ = ["common", "deadlines", "directory", "meetings"]
