"""Minutes: another tool that records facts of its own in the alliance's log.

A test package (``tests/test_other_tools.py``), installed as any tool would be. It
defines two event types in its namespace, ``minutes``:

* ``minutes.MinutesApproved``, schema 2: a meeting's minutes were approved. The tool's
  first version stored schema 1, which named the chair ``chair``; schema 2 calls it
  ``approved_by`` and counts the ``corrections``. An upcaster turns the one into the other.
* ``minutes.ActionItemRecorded``, schema 1: an action item of a meeting, with its owner.

Installed, it makes them known to alliance-events' command line and feed server through
its entry point (``[project.entry-points."alliance_events.event_types"] minutes =
"minutes_tool:register"``). It reads the library's own events with a registry of its own
(:func:`minutes_registry`).
"""

from __future__ import annotations

import uuid
from typing import Any

import attrs
import pendulum

from alliance_events import (
    ANY,
    Clock,
    Event,
    EventLog,
    EventRegistry,
    OpaqueEvent,
    Recorded,
    library_registry,
    new_id,
    open_log,
)
from alliance_events.codec import dumps

__all__ = [
    "NAMESPACE",
    "ActionItemRecorded",
    "Minutes",
    "MinutesApproved",
    "minutes_registry",
    "register",
]

NAMESPACE = "minutes"
ACTOR = "minutes-tool"


@attrs.frozen(kw_only=True)
class MinutesApproved(Event):
    """The minutes of a meeting were approved (schema 2)."""

    meeting_id: uuid.UUID
    approved_on: pendulum.Date
    approved_by: str
    corrections: int = 0


@attrs.frozen(kw_only=True)
class ActionItemRecorded(Event):
    """An action item of a meeting, with who owns it."""

    meeting_id: uuid.UUID
    text: str
    owner: str
    due: pendulum.Date | None = None


def _chair_to_approved_by(data: dict[str, Any]) -> dict[str, Any]:
    """Schema 1 -> 2: ``chair`` became ``approved_by``; no corrections were counted."""
    upgraded = {key: value for key, value in data.items() if key != "chair"}
    upgraded["approved_by"] = data["chair"]
    upgraded["corrections"] = 0
    return upgraded


def register(registry: EventRegistry) -> None:
    """Register the tool's event types and upcasters (the entry point alliance-events calls)."""
    registry.add(MinutesApproved, "minutes.MinutesApproved", schema=2)
    registry.add(ActionItemRecorded, "minutes.ActionItemRecorded", schema=1)
    registry.upcaster("minutes.MinutesApproved", from_schema=1)(_chair_to_approved_by)


def minutes_registry() -> EventRegistry:
    """Return the tool's own registry: the library's event types and the tool's."""
    registry = library_registry()
    register(registry)
    return registry


class Minutes:
    """The tool's API over a log it shares with alliance-events."""

    def __init__(self, log: EventLog) -> None:
        self.log = log

    @classmethod
    def open(cls, url: str, *, clock: Clock | None = None) -> Minutes:
        """Open the shared log at ``url`` with the tool's own registry."""
        kwargs: dict[str, Any] = {} if clock is None else {"clock": clock}
        return cls(open_log(url, registry=minutes_registry(), **kwargs))

    def close(self) -> None:
        """Close the log."""
        self.log.close()

    def __enter__(self) -> Minutes:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def approve(
        self, meeting_id: uuid.UUID, *, on: str, by: str, corrections: int = 0
    ) -> Recorded:
        """Record that the meeting's minutes were approved, in the meeting's own stream."""
        event = MinutesApproved(
            event_id=new_id(), meeting_id=meeting_id, approved_on=pendulum.Date.fromisoformat(on),
            approved_by=by, corrections=corrections,
        )
        return self._append(f"meeting-{meeting_id}", event)

    def approve_as_version_1(self, meeting_id: uuid.UUID, *, on: str, chair: str) -> Recorded:
        """Record an approval as the tool's first version stored it: schema 1 data."""
        data = dumps({"meeting_id": str(meeting_id), "approved_on": on, "chair": chair})
        event = OpaqueEvent(
            event_id=new_id(), type_name="minutes.MinutesApproved", schema=1, data=data
        )
        return self._append(f"meeting-{meeting_id}", event)

    def record_action(
        self, meeting_id: uuid.UUID, *, text: str, owner: str, due: str | None = None
    ) -> Recorded:
        """Record an action item, in the tool's own stream of that meeting."""
        event = ActionItemRecorded(
            event_id=new_id(), meeting_id=meeting_id, text=text, owner=owner,
            due=None if due is None else pendulum.Date.fromisoformat(due),
        )
        return self._append(f"minutes-{meeting_id}", event)

    def approvals(self) -> list[MinutesApproved]:
        """Return every approval in the log (schema 1 ones upcast), in log order."""
        return [r.event for r in self.log.read_all() if isinstance(r.event, MinutesApproved)]

    def meeting_titles(self) -> dict[uuid.UUID, str]:
        """Return the titles of the meetings alliance-events scheduled (its own events)."""
        from alliance_events.domain.meetings import MeetingScheduled

        return {
            r.event.meeting_id: r.event.title
            for r in self.log.read_all()
            if isinstance(r.event, MeetingScheduled)
        }

    def _append(self, stream: str, event: Event) -> Recorded:
        (recorded,) = self.log.append(
            stream, [event], expected_version=ANY, metadata={"actor": ACTOR}
        )
        return recorded
