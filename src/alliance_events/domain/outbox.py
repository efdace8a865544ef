"""The outbox: e-mails the alliance decided to send, each recorded before it is sent.

Two aggregates, with the domain's one face (``<name>_stream``, ``evolve``, ``decide``):

* a **message**, ``message-<id>`` (:func:`message_stream`): queued (the decision to
  send, recorded *before* sending: who, why, when it was due, and its text without any
  personal data), then sent, or failed for good; a failed attempt that will be retried is
  recorded too. A message whose moment passed too long ago is recorded as skipped instead
  of queued. The message's id is derived from what caused it (a deadline's reminder, a
  record of the log), so two workers, or one worker after a crash, can never decide the
  same message twice: the second decision finds the stream started and is refused.
* the **notifier**, ``outbox-notify`` (:func:`outbox_stream`): where the outbox started
  (a position of the log and a time). Nothing before it is ever sent: a first start on an
  old log, a rebuild or a replay sends nothing for the past.

Personal data stays in the person streams: a message names its recipients by person id,
and the worker reads their names and addresses only when it builds the e-mail.
"""

from __future__ import annotations

import enum
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final

import attrs
import pendulum

from alliance_events.domain.common import (
    Command,
    event_ids,
    require,
    require_text,
    shared_fields,
)
from alliance_events.domain.streams import message_stream, outbox_stream
from alliance_events.errors import UnknownReferenceError
from alliance_events.events import Event

__all__ = [
    "NOTIFIER",
    "Message",
    "MessageKind",
    "MessageQueued",
    "MessageSent",
    "MessageSkipped",
    "MessageStatus",
    "NotifierStarted",
    "NotifierState",
    "QueueMessage",
    "RecordMessageSent",
    "RecordSendFailure",
    "SendFailed",
    "SkipMessage",
    "StartNotifier",
    "decide_message",
    "decide_notifier",
    "evolve_message",
    "evolve_notifier",
    "message_stream",
    "outbox_stream",
]

NOTIFIER: Final = "notify"
"""The name of the notifier's stream key (``outbox-notify``)."""

MAX_LINES: Final = 40
"""Lines of text a message may hold (a reminder has three or four)."""


class MessageKind(enum.Enum):
    """Why a message is sent."""

    REMINDER = "reminder"  # a deadline's reminder, to an organisation that still owes
    URGENT_CHANGE = "urgent-change"  # a meeting cancelled or moved within the horizon
    NOMINATION = "nomination"  # a nomination seated, confirmed or funded


class MessageStatus(enum.Enum):
    """Where a message stands."""

    QUEUED = "queued"  # decided, not (known to be) sent: the worker sends it
    SENT = "sent"
    SKIPPED = "skipped"  # its moment passed too long ago, or nobody to send it to
    FAILED = "failed"  # the mail server refused it for good


# -- events ---------------------------------------------------------------------------
# Registered under their type names by the list in catalog.py, not here.


@attrs.frozen(kw_only=True)
class NotifierStarted(Event):
    """The outbox started: nothing before this position and this time is sent."""

    from_position: int
    from_time: pendulum.DateTime


@attrs.frozen(kw_only=True)
class MessageQueued(Event):
    """The decision to send a message, recorded before sending it.

    ``lines`` is its text, without personal data (the worker adds the recipients' names
    and addresses from their person streams when it builds the e-mail); ``item_id`` the
    meeting or deadline it attaches as iCalendar; ``due_at`` the moment it was due.
    """

    message_id: uuid.UUID
    kind: MessageKind
    organisation_id: uuid.UUID
    recipients: tuple[uuid.UUID, ...]
    due_at: pendulum.DateTime
    subject: str
    lines: tuple[str, ...] = ()
    item_id: uuid.UUID | None = None


@attrs.frozen(kw_only=True)
class MessageSkipped(Event):
    """A message that was due and is not sent (``reason`` says why)."""

    message_id: uuid.UUID
    kind: MessageKind
    organisation_id: uuid.UUID
    due_at: pendulum.DateTime
    subject: str
    reason: str


@attrs.frozen(kw_only=True)
class SendFailed(Event):
    """An attempt to send failed: retried at ``retry_at``, or never (``permanent``)."""

    message_id: uuid.UUID
    attempt: int
    error: str
    permanent: bool = False
    retry_at: pendulum.DateTime | None = None


@attrs.frozen(kw_only=True)
class MessageSent(Event):
    """The mail server accepted the message (at the record's time)."""

    message_id: uuid.UUID
    attempt: int


# -- state ----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Message:
    """What is known of one message."""

    message_id: uuid.UUID
    kind: MessageKind
    organisation_id: uuid.UUID
    due_at: pendulum.DateTime
    subject: str
    status: MessageStatus
    recipients: tuple[uuid.UUID, ...] = ()
    lines: tuple[str, ...] = ()
    item_id: uuid.UUID | None = None
    attempts: int = 0
    retry_at: pendulum.DateTime | None = None
    error: str = ""  # the last failure, or why it was skipped

    @property
    def pending(self) -> bool:
        """Whether the worker still has to send it."""
        return self.status is MessageStatus.QUEUED


@attrs.frozen(kw_only=True)
class NotifierState:
    """Where the outbox started."""

    from_position: int
    from_time: pendulum.DateTime


def _queued(_: Message | None, event: MessageQueued) -> Message:
    return Message(
        message_id=event.message_id, kind=event.kind, organisation_id=event.organisation_id,
        due_at=event.due_at, subject=event.subject, status=MessageStatus.QUEUED,
        recipients=event.recipients, lines=event.lines, item_id=event.item_id,
    )


def _skipped(_: Message | None, event: MessageSkipped) -> Message:
    return Message(
        message_id=event.message_id, kind=event.kind, organisation_id=event.organisation_id,
        due_at=event.due_at, subject=event.subject, status=MessageStatus.SKIPPED,
        error=event.reason,
    )


def _failed(state: Message, event: SendFailed) -> Message:
    return attrs.evolve(
        state,
        status=MessageStatus.FAILED if event.permanent else state.status,
        attempts=max(state.attempts, event.attempt),
        retry_at=event.retry_at,
        error=event.error,
    )


def _sent(state: Message, event: MessageSent) -> Message:
    return attrs.evolve(state, status=MessageStatus.SENT, attempts=max(state.attempts,
                                                                       event.attempt),
                        retry_at=None)


_STARTERS: Final[Mapping[type[Event], Callable[[None, Any], Message]]] = {
    MessageQueued: _queued,
    MessageSkipped: _skipped,
}
_EVOLVERS: Final[Mapping[type[Event], Callable[[Message, Any], Message]]] = {
    SendFailed: _failed,
    MessageSent: _sent,
}


def evolve_message(state: Message | None, event: Event) -> Message | None:
    """Apply one message event (never fails; a second start changes nothing)."""
    if state is None:
        start = _STARTERS.get(type(event))
        return None if start is None else start(None, event)
    change = _EVOLVERS.get(type(event))
    return state if change is None else change(state, event)


def evolve_notifier(state: NotifierState | None, event: Event) -> NotifierState | None:
    """Apply one notifier event: the first start counts, later ones change nothing."""
    if state is None and isinstance(event, NotifierStarted):
        return NotifierState(from_position=event.from_position, from_time=event.from_time)
    return state


# -- commands -------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class StartNotifier(Command):
    """Start the outbox at a position and a time (once: a later start is refused)."""

    from_position: int
    from_time: pendulum.DateTime


@attrs.frozen(kw_only=True)
class QueueMessage(Command):
    """Decide to send a message (see :class:`MessageQueued`)."""

    message_id: uuid.UUID
    kind: MessageKind
    organisation_id: uuid.UUID
    recipients: tuple[uuid.UUID, ...]
    due_at: pendulum.DateTime
    subject: str
    lines: tuple[str, ...] = ()
    item_id: uuid.UUID | None = None


@attrs.frozen(kw_only=True)
class SkipMessage(Command):
    """Record that a message that was due is not sent, and why."""

    message_id: uuid.UUID
    kind: MessageKind
    organisation_id: uuid.UUID
    due_at: pendulum.DateTime
    subject: str
    reason: str


@attrs.frozen(kw_only=True)
class RecordSendFailure(Command):
    """Record a failed attempt (``permanent``: the server refused it for good)."""

    message_id: uuid.UUID
    error: str
    permanent: bool = False
    retry_at: pendulum.DateTime | None = None


@attrs.frozen(kw_only=True)
class RecordMessageSent(Command):
    """Record that the mail server accepted the message."""

    message_id: uuid.UUID


def _new(state: Message | None, command: QueueMessage | SkipMessage) -> None:
    require(
        state is None,
        "message-decided",
        f"message {command.message_id} was decided already ({state.status.value if state else ''})",
    )
    require_text(command.subject, "subject", limit=300)


def _queue(state: Message | None, command: QueueMessage, ids: Iterator[uuid.UUID]) -> list[Event]:
    _new(state, command)
    require(len(command.lines) <= MAX_LINES, "lines", f"a message holds at most {MAX_LINES} lines")
    require(bool(command.recipients), "recipients", "a message needs a recipient")
    for line in command.lines:
        require_text(line, "lines", limit=2000, optional=True)
    return [MessageQueued(event_id=next(ids), **shared_fields(command, MessageQueued))]


def _skip(state: Message | None, command: SkipMessage, ids: Iterator[uuid.UUID]) -> list[Event]:
    _new(state, command)
    require_text(command.reason, "reason", limit=300)
    return [MessageSkipped(event_id=next(ids), **shared_fields(command, MessageSkipped))]


def _pending(state: Message | None, command: RecordSendFailure | RecordMessageSent) -> Message:
    if state is None:
        raise UnknownReferenceError("unknown-message", f"no message {command.message_id} is queued")
    require(state.pending, "message-done",
            f"message {command.message_id} is {state.status.value} already")
    return state


def _failure(
    state: Message | None, command: RecordSendFailure, ids: Iterator[uuid.UUID]
) -> list[Event]:
    message = _pending(state, command)
    require(command.permanent or command.retry_at is not None, "retry-at",
            "a failure that is not permanent says when it is retried")
    return [SendFailed(event_id=next(ids), message_id=command.message_id,
                       attempt=message.attempts + 1, error=command.error[:500],
                       permanent=command.permanent,
                       retry_at=None if command.permanent else command.retry_at)]


def _record_sent(
    state: Message | None, command: RecordMessageSent, ids: Iterator[uuid.UUID]
) -> list[Event]:
    message = _pending(state, command)
    return [MessageSent(event_id=next(ids), message_id=command.message_id,
                        attempt=message.attempts + 1)]


_DECIDERS: Final[Mapping[type[Command], Callable[[Any, Any, Iterator[uuid.UUID]], list[Event]]]] = {
    QueueMessage: _queue,
    SkipMessage: _skip,
    RecordSendFailure: _failure,
    RecordMessageSent: _record_sent,
}


def decide_message(state: Message | None, command: Command, refs: object = None) -> list[Event]:
    """Decide a message command (``refs``: none needed).

    Raises:
        RuleViolation: decided already, sent already, no recipient, a text too long.
        UnknownReferenceError: a send recorded for a message never queued.
        TypeError: not a message command.

    """
    decider = _DECIDERS.get(type(command))
    if decider is None:
        raise TypeError(f"not a message command: {command!r}")
    return decider(state, command, event_ids(command))


def decide_notifier(
    state: NotifierState | None, command: Command, refs: object = None
) -> list[Event]:
    """Decide the notifier's start (once).

    Raises:
        RuleViolation: started already, or at a negative position.
        TypeError: not a notifier command.

    """
    if not isinstance(command, StartNotifier):
        raise TypeError(f"not a notifier command: {command!r}")
    require(state is None, "notifier-started",
            f"the outbox started already, at position {state.from_position if state else 0}")
    require(command.from_position >= 0, "from-position", "a position is 0 or more")
    return [NotifierStarted(event_id=next(event_ids(command)),
                            from_position=command.from_position, from_time=command.from_time)]

