"""The outbox's state: every message decided, and where the outbox started.

Folded from the ``message-<id>`` and ``outbox-<name>`` streams with the domain's own
``evolve`` functions (:mod:`alliance_events.domain.outbox`); every other record only moves
the position. The reminder worker reads it to know what it decided already and what it
still has to send; ``notify status`` reads it to report.
"""

from __future__ import annotations

import uuid

import attrs

from alliance_events.domain import outbox as ob
from alliance_events.domain.streams import outbox_stream, parse_stream
from alliance_events.log.base import Recorded

__all__ = ["OutboxProjection", "OutboxState"]

_NOTIFIER_STREAM = outbox_stream(ob.NOTIFIER)


@attrs.define
class OutboxState:
    """Every message by id, the notifier's start, and the last position applied."""

    messages: dict[uuid.UUID, ob.Message] = attrs.field(factory=dict)
    notifier: ob.NotifierState | None = None
    position: int = 0

    def pending(self) -> list[ob.Message]:
        """Return the messages still to send, the earliest due first."""
        return sorted((m for m in self.messages.values() if m.pending),
                      key=lambda m: (m.due_at, str(m.message_id)))


class OutboxProjection:
    """The outbox's projection (see the module)."""

    def initial(self) -> OutboxState:
        """Return an empty state."""
        return OutboxState()

    def apply(self, state: OutboxState, record: Recorded) -> OutboxState:
        """Apply one record (in place) and return the state."""
        state.position = record.position
        stream = record.stream
        if stream.startswith("message-"):
            parsed = parse_stream(stream)
            if parsed is not None and isinstance(parsed[1], uuid.UUID):
                key = parsed[1]
                after = ob.evolve_message(state.messages.get(key), record.event)
                if after is not None:
                    state.messages[key] = after
        elif stream == _NOTIFIER_STREAM:
            state.notifier = ob.evolve_notifier(state.notifier, record.event)
        return state

    def copy(self, state: OutboxState) -> OutboxState:
        """Return a copy later applies leave alone."""
        return OutboxState(messages=dict(state.messages), notifier=state.notifier,
                           position=state.position)
