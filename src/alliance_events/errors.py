"""One error hierarchy for the whole library, under :class:`AllianceEventsError`.

Every message names the rule or the field that was broken and the values involved, so
that a refusal can be shown to a user as it is. An operation that raises one of these
has changed nothing: no partial batch in the log, no half-written file.

The tree::

    AllianceEventsError
    ├── EventDefinitionError      an event class is not a valid event type
    ├── UnknownEventTypeError     an event's class, or a requested type name, is not registered
    ├── CodecError                an event cannot be encoded, or stored data decoded
    │   └── UndecodableRecordError    a stored row of a known type does not decode (names
    │                                 its position)
    ├── DomainError               a command broke a rule of the domain (names the rule)
    │   ├── RuleViolation             the command is refused by a rule
    │   ├── UnknownReferenceError     it names a meeting, organisation, ... that is unknown
    │   └── TokenShownOnceError       a retried token issue: issued, but shown only once
    ├── DeliveryError             an e-mail could not be handed to the mail server
    │                             (``permanent``: refused for good; else retried)
    └── LogError                  the log refused an operation
        ├── InvalidAppendError    a non-event, a bad expected version, a bad batch
        ├── InvalidStreamNameError    an empty, over-long or non-text stream name
        ├── ConcurrencyError      the stream's version is not the expected one
        ├── DuplicateEventError   an event id is reused with other content
        ├── UnsupportedURLError   open_log() cannot open that URL
        ├── LogClosedError        the log was used after close()
        ├── FollowerError         a follower or checkpoint operation was refused
        │   ├── ConsumerBusyError         another follower of that name is running
        │   └── ConsumerSupersededError   the checkpoint was taken over or moved
        └── StorageError          the storage failed (not a refusal of the operation)
            ├── StorageUnavailableError   the database cannot be reached (nothing recorded)
            ├── UnknownOutcomeError       the connection broke after an append was sent:
            │                             it may or may not be stored (retry it the same)
            ├── StorageFullError          the disk, or the file-size limit, is full
            ├── ReadOnlyStorageError      the log can only be read (file, mount or mode)
            ├── NotALogError              not a database, not a log, or a schema to migrate
            ├── StorageLockedError        another writer held the lock beyond the timeout
            └── CorruptLogError           the stored bytes are damaged
                └── CorruptRecordError        a record does not match its checksum (names
                                              its position)

A :class:`StorageError` is a fault of the storage, not a refusal: every message says what
happened and what to do, in one line. Apart from :class:`UnknownOutcomeError`, an
operation that raised one recorded nothing.
"""

from __future__ import annotations

__all__ = [
    "AllianceEventsError",
    "CodecError",
    "ConcurrencyError",
    "ConsumerBusyError",
    "ConsumerSupersededError",
    "CorruptLogError",
    "CorruptRecordError",
    "DeliveryError",
    "DomainError",
    "DuplicateEventError",
    "EventDefinitionError",
    "FollowerError",
    "InvalidAppendError",
    "InvalidStreamNameError",
    "LogClosedError",
    "LogError",
    "NotALogError",
    "ReadOnlyStorageError",
    "RuleViolation",
    "StorageError",
    "StorageFullError",
    "StorageLockedError",
    "StorageUnavailableError",
    "TokenShownOnceError",
    "UndecodableRecordError",
    "UnknownEventTypeError",
    "UnknownOutcomeError",
    "UnknownReferenceError",
    "UnsupportedURLError",
]


class AllianceEventsError(Exception):
    """The root of every error this library raises on purpose."""


class EventDefinitionError(AllianceEventsError, TypeError):
    """An event class cannot be registered (not frozen attrs, name taken, bad schema)."""


class UnknownEventTypeError(AllianceEventsError, LookupError):
    """A type name (or an event class) is not in the event registry asked.

    Reading never raises it: a stored record of a type the reader does not know comes
    back as an :class:`~alliance_events.events.OpaqueEvent`. Encoding an event of an
    unregistered class, or asking a registry about a name it lacks, does.

    Attributes:
        type_name: the type name asked for (for a class that was never registered
            anywhere, its class name).

    """

    def __init__(self, type_name: str, message: str | None = None) -> None:
        self.type_name = type_name
        super().__init__(
            message
            or f"unknown event type {type_name!r}: register its class in the registry "
            "(registry.register or @event_type)"
        )


class CodecError(AllianceEventsError, ValueError):
    """An event cannot be turned into stored data, or stored data back into an event."""


class UndecodableRecordError(CodecError):
    """A stored record of a *known* type cannot be decoded; the message names its position.

    Its type is registered, so its data is corrupt, or of a schema newer than the class
    (the tool that defines it is older here than the one that wrote it), or of an older
    shape no upcaster turns into the class's. The message says how to repair it: see
    "Repairing a record that does not decode" in the event log's explanation.
    """

    def __init__(self, position: int, type_name: str, schema: int, reason: str) -> None:
        self.position = position
        self.type_name = type_name
        self.schema = schema
        super().__init__(
            f"record at position {position} ({type_name} schema {schema}) "
            f"cannot be decoded: {reason}; its type is known, so its data does not fit the "
            f"class: upgrade the tool that defines {type_name!r} if it is older than the "
            "writer, or register an upcaster that turns this data into the class's shape "
            "(the log itself never changes)"
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


class TokenShownOnceError(DomainError):
    """A token issue was given again with the command id of one recorded already.

    The first call issued the token (the log keeps its hash, never the token) and was the
    only one that could show it; this call records nothing.

    Attributes:
        token_id: the id of the token the first call issued.

    """

    def __init__(self, token_id: object, command_id: object) -> None:
        self.token_id = token_id
        super().__init__(
            "token-shown-once",
            f"command {command_id} issued feed token {token_id} already, and a token is "
            f"shown only when it is issued: if it was lost, revoke {token_id} and issue "
            "another",
        )


class DeliveryError(AllianceEventsError):
    """The mail server did not take a message.

    Attributes:
        permanent: it refused the message for good (an SMTP 5xx reply, a bad address):
            retrying sends nothing more. Otherwise (4xx, a time-out, no connection) the
            outbox retries with back-off.

    """

    def __init__(self, message: str, *, permanent: bool = False) -> None:
        self.permanent = permanent
        super().__init__(message)


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


class FollowerError(LogError):
    """A follower or checkpoint operation was refused (a bad name, an ack out of range)."""


class ConsumerBusyError(FollowerError):
    """Another follower of the same consumer name is running; this one did not start.

    Attributes:
        name: the consumer's name.

    """

    def __init__(self, name: str, waited: float) -> None:
        self.name = name
        super().__init__(
            f"consumer {name!r} is being followed by another process or handle (waited "
            f"{waited:g} s): at most one follower per name runs at a time"
        )


class ConsumerSupersededError(FollowerError):
    """The consumer's checkpoint was taken over or moved since this follower claimed it.

    Raised by an acknowledgement (and the transaction it belongs to, which is rolled
    back): nothing of it was written. Another follower of the name claimed the checkpoint
    after this one lost its lock, or an operator moved or deleted it
    (:class:`~alliance_events.log.follow.Checkpoints`). Stop this follower; a new one
    resumes from the stored checkpoint.

    Attributes:
        name: the consumer's name.

    """

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(
            f"the checkpoint of consumer {name!r} was taken over or moved by someone else "
            "since this follower claimed it: nothing was acknowledged; stop and start again"
        )


class StorageError(LogError):
    """The log's storage failed: the message says what happened and what to do.

    Not a refusal of the operation (nothing was wrong with it), and, except for
    :class:`UnknownOutcomeError`, nothing of it was recorded: the same call may succeed
    once the cause is gone.
    """


class StorageUnavailableError(StorageError):
    """The database cannot be reached, or the connection broke before a request was sent.

    Nothing was recorded; try again later (a PostgreSQL log reconnects by itself).
    """


class UnknownOutcomeError(StorageError):
    """The connection broke after an append was sent and before the server's answer.

    The append may or may not be stored. Repeating it with the same events (the same
    event ids: for a command of the application, the same command id) is safe: an append
    whose ids are all stored already returns the stored records and writes nothing.

    Attributes:
        stream: the stream appended to.
        command_id: the command id found in the append's metadata, if any.

    """

    def __init__(self, stream: str, reason: str, command_id: str | None = None) -> None:
        self.stream = stream
        self.command_id = command_id
        retry = (
            f"safe to retry with the same command id {command_id}"
            if command_id
            else "safe to retry with the same events (the same event ids)"
        )
        super().__init__(
            f"unknown outcome: the connection to the database broke after the append to "
            f"{stream!r} was sent ({reason}), so it may or may not be recorded; {retry}: "
            "a repeated append records nothing twice"
        )


class StorageFullError(StorageError):
    """The disk (or the process's file-size limit) is full; nothing was recorded."""


class ReadOnlyStorageError(StorageError):
    """The log can only be read: a read-only file, folder, mount, or a read-only open."""


class NotALogError(StorageError):
    """The file or schema is not an event log of this library (or one to migrate first)."""


class StorageLockedError(StorageError):
    """Another writer held the database's lock for longer than the time-out."""


class CorruptLogError(StorageError):
    """The stored bytes are damaged (the database says so, or a checksum does not match)."""


class CorruptRecordError(CorruptLogError):
    """A stored record does not match its checksum: its bytes changed after it was written.

    Attributes:
        position: the record's position.

    """

    def __init__(self, position: int, reason: str) -> None:
        self.position = position
        super().__init__(
            f"record at position {position} is corrupt: {reason}; the log was changed "
            "outside alliance-events (or its disk is failing): run 'alliance-events verify' "
            "and restore the log from a backup taken before that position"
        )
