"""Projections: states folded from the log.

* :mod:`alliance_events.projections.runner`: :class:`ProjectionRunner` (catch-up from a
  checkpoint, snapshots for "as of"), :func:`fold`, the :class:`Projection` protocol.
* :mod:`alliance_events.projections.alliance`: the alliance's state (meetings, deadlines,
  the directory) that the application, the feeds and the command line read.
* :mod:`alliance_events.projections.registration` and ``.history``: the views built on it.

The submodules are imported where they are used: this package imports none of them.
"""

__all__: list[str] = []
