"""The domain: pure ``decide`` and ``evolve`` functions per aggregate, no I/O, no clock.

Every aggregate has the same face (``<name>_stream``, ``evolve``, ``decide``:
:mod:`~alliance_events.domain.common`):

* :mod:`~alliance_events.domain.meetings`: meetings, registration, delegations.
* :mod:`~alliance_events.domain.deadlines`: deadlines (of a meeting, or on their own).
* :mod:`~alliance_events.domain.directory`: organisations, persons, officers.
* :mod:`~alliance_events.domain.settings`: the settings every tool agrees on.
* :mod:`~alliance_events.domain.streams`: the streams' names, built and parsed.
* :mod:`~alliance_events.domain.common`: commands, ``fold`` and the shared vocabulary.
"""

from __future__ import annotations

from alliance_events.domain import common, deadlines, directory, meetings, settings, streams

__all__ = ["common", "deadlines", "directory", "meetings", "settings", "streams"]
