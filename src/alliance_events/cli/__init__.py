"""The ``alliance-events`` command line (click for commands, rich for tables).

An edge over :class:`~alliance_events.app.Alliance`: each command names things on the
command line (by id, or by a unique title, name or acronym), calls the application, and
prints what came of it. It holds no rule of its own: a refusal is the application's,
printed as one line naming the rule (``refused: ... [rule: quota]``), with exit status 2.

Every command takes ``--db`` (a path or a URL; default ``./alliance.db``, or the
``ALLIANCE_EVENTS_DB`` environment variable); every read takes ``--json`` (JSON on
stdout); queries take ``--as-of`` (a log position or a date/time).

====================  =================================================================
module                commands
====================  =================================================================
``_directory``        ``init``, ``organisation``, ``person``, ``token``
``_meetings``         ``meeting``, ``history``
``_registration``     ``registration``, ``nominate``, ``withdraw``,
                      ``confirm-nomination``, ``decline-nomination``, ``deadline``
``_feeds``            ``export``, ``tail``, ``serve``, ``demo``
``_verify``           ``verify``
``_notify``           ``notify`` (the reminder outbox)
====================  =================================================================
"""

from __future__ import annotations

from alliance_events.cli import (
    _directory,
    _feeds,
    _meetings,
    _notify,
    _registration,
    _verify,
)
from alliance_events.cli._common import DB_ENV, DEFAULT_DB, catch_up, main, refusals_exit
from alliance_events.cli._feeds import write_atomically
from alliance_events.cli._tables import registration_table, summary_table

__all__ = [
    "DB_ENV",
    "DEFAULT_DB",
    "catch_up",
    "main",
    "refusals_exit",
    "registration_table",
    "summary_table",
    "write_atomically",
]

# The modules register their commands on ``main`` when imported.
del _directory, _feeds, _meetings, _notify, _registration, _verify
