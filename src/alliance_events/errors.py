"""One error hierarchy for the whole library, under :class:`AllianceEventsError`.

Every message names the rule or the field that was broken and the values involved, so
that a refusal can be shown to a user as it is. An operation that raises one of these
has changed nothing: no partial batch in the log, no half-written file.

The tree::

    AllianceEventsError
    ├── EventDefinitionError      an event class is not a valid event type
    ├── UnknownEventTypeError     a stored or requested type name is not registered
    ├── CodecError                an event cannot be encoded, or stored data decoded
    │   └── UndecodableRecordError    a stored row cannot be read (names its position)
    ├── DomainError               a command broke a rule of the domain (names the rule)
    │   ├── RuleViolation             the command is refused by a rule
    │   └── UnknownReferenceError     it names a meeting, organisation, ... that is unknown
    └── LogError                  the log refused an operation
        ├── InvalidAppendError    a non-event, a bad expected version, a bad batch
        ├── InvalidStreamNameError    an empty, over-long or non-text stream name
        ├── ConcurrencyError      the stream's version is not the expected one
        ├── DuplicateEventError   an event id is reused with other content
        ├── UnsupportedURLError   open_log() cannot open that URL
        └── LogClosedError        the log was used after close()
"""

from __future__ import annotations

__all__ = [
    "AllianceEventsError",
    "CodecError",
    "ConcurrencyError",
    "DomainError",
    "DuplicateEventError",
    "EventDefinitionError",
    "InvalidAppendError",
    "InvalidStreamNameError",
    "LogClosedError",
    "LogError",
    "RuleViolation",
    "UndecodableRecordError",
    "UnknownEventTypeError",
    "UnknownReferenceError",
    "UnsupportedURLError",
]


class AllianceEventsError(Exception):
    """The root of every error this library raises on purpose."""


class EventDefinitionError(AllianceEventsError, TypeError):
    """An event class cannot be registered (not frozen attrs, name taken, bad schema)."""


class UnknownEventTypeError(AllianceEventsError, LookupError):
    """A type name (stored, or asked for) is not in the event registry."""

    def __init__(self, type_name: str) -> None:
        self.type_name = type_name
        super().__init__(
            f"unknown event type {type_name!r}: register its class with @event_type"
        )


class CodecError(AllianceEventsError, ValueError):
    """An event cannot be turned into stored data, or stored data back into an event."""


class UndecodableRecordError(CodecError):
    """A stored record cannot be decoded; the message names its position."""

    def __init__(self, position: int, type_name: str, schema: int, reason: str) -> None:
        self.position = position
        self.type_name = type_name
        self.schema = schema
        super().__init__(
            f"record at position {position} ({type_name} schema {schema}) "
            f"cannot be decoded: {reason}"
        )


class DomainError(AllianceEventsError):
    """A command was refused by the domain; nothing was appended.

    Attributes:
        rule: a short, stable name of the rule (``"quota"``, ``"capacity"``, ...), for
            programs; the message says it in words, with the values involved.

    """

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        super().__init__(f"{message} [rule: {rule}]")


class RuleViolation(DomainError, ValueError):  # noqa: N818 - reads as what it is: a violation
    """The command breaks a rule (a third speaker, a nomination after the deadline, ...)."""


class UnknownReferenceError(DomainError, LookupError):
    """The command names a meeting, organisation, person or nomination that is unknown."""


class LogError(AllianceEventsError):
    """The event log refused an operation."""


class InvalidAppendError(LogError, ValueError):
    """An append was refused before anything was written (its arguments are wrong)."""


class InvalidStreamNameError(LogError, ValueError):
    """A stream name is empty, too long, or not a string."""


class ConcurrencyError(LogError):
    """The stream is not at the version the append expected; nothing was written.

    Attributes:
        stream: the stream appended to.
        expected: the version the caller expected.
        actual: the version the stream had.

    """

    def __init__(self, stream: str, expected: int, actual: int) -> None:
        self.stream = stream
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"stream {stream!r} is at version {actual}, not at the expected version "
            f"{expected}: another writer appended first; re-read the stream and decide again"
        )


class DuplicateEventError(LogError):
    """An event id is already in the log with other content, stream or batch."""


class UnsupportedURLError(LogError, ValueError):
    """``open_log`` does not know how to open the URL."""


class LogClosedError(LogError):
    """The log was used after it was closed."""
