"""``python -m alliance_events.cli``: the same as the ``alliance-events`` script."""

from __future__ import annotations

from alliance_events.cli import main

__all__: list[str] = []

if __name__ == "__main__":  # pragma: no cover
    main(prog_name="alliance-events")
