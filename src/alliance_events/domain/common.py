"""What every aggregate shares: commands, event ids derived from them, and the vocabulary.

A command carries everything its decision needs from outside the domain: its id (from
which its events' ids are derived, so that a retried command never records twice), the
time it was given at (from the application's clock: the domain reads no clock), and who
gave it.

Every aggregate module has the same face: ``<name>_stream(id)`` names its stream,
``evolve(state | None, event) -> state | None`` applies one event (``None`` is the state
before the first event, and stays ``None`` for an event that creates nothing), and
``decide(state | None, command, refs) -> list[Event]`` returns the command's events or
raises naming the broken rule (``refs``: what the decision needs from outside the stream,
looked up by the application). :func:`fold` folds a stream's events with an ``evolve``.
"""

from __future__ import annotations

import datetime as _dt
import enum
import hashlib
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Final, TypeVar, cast

import attrs
import pendulum

from alliance_events._speed import replace  # re-exported: the states' copy
from alliance_events.errors import RuleViolation, UnknownReferenceError

__all__ = [
    "Command",
    "LinkKind",
    "MeetingKind",
    "MeetingStatus",
    "NominationStatus",
    "OfficerRole",
    "Role",
    "command_digest",
    "event_ids",
    "fold",
    "replace",
    "require",
    "require_known",
    "require_text",
]


@attrs.frozen(kw_only=True)
class Command:
    """The base of every command.

    Attributes:
        command_id: the command's identity; its events' ids are derived from it.
        at: when the command was given (the application's clock), in any zone.
        actor: who gave it (a name or an account), recorded in each event's metadata.

    """

    command_id: uuid.UUID
    at: pendulum.DateTime
    actor: str | None = None


_NOT_CONTENT: Final = frozenset({"command_id", "at", "actor"})


def command_digest(command: Command) -> str:
    """Return a digest of what ``command`` asks for: its class and its content's fields.

    Not its id, the time it was given at or who gave it, nor the fields its class names
    in ``__unbound__`` (a value the application makes anew at each call, such as a new
    feed token's hash). The application records it with the command's events; a command
    given again with the same id must have the same digest (a retry), or it is refused.

    >>> import pendulum, uuid
    >>> at = pendulum.datetime(2023, 3, 1)
    >>> a = Command(command_id=uuid.UUID(int=1), at=at, actor="ana")
    >>> b = Command(command_id=uuid.UUID(int=2), at=at.add(hours=1))
    >>> command_digest(a) == command_digest(b)
    True
    """
    skipped = _NOT_CONTENT | getattr(type(command), "__unbound__", frozenset())
    text = _canonical(command, skipped)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def _canonical(value: object, skipped: frozenset[str] = frozenset()) -> str:  # noqa: PLR0911
    """Text that is equal for equal values, whatever the order of a mapping or a set."""
    if attrs.has(type(value)):
        fields = (
            f"{f.name}={_canonical(getattr(value, f.name))}"
            for f in attrs.fields(cast("type[attrs.AttrsInstance]", type(value)))
            if f.name not in skipped
        )
        return f"{type(value).__qualname__}({','.join(fields)})"
    if isinstance(value, enum.Enum):
        return f"{type(value).__qualname__}.{value.value!r}"
    if isinstance(value, Mapping):
        pairs = sorted(f"{_canonical(k)}:{_canonical(v)}" for k, v in value.items())
        return "{" + ",".join(pairs) + "}"
    if isinstance(value, (set, frozenset)):
        return "{" + ",".join(sorted(_canonical(v) for v in value)) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(_canonical(v) for v in value) + "]"
    if isinstance(value, _dt.datetime):
        zone = getattr(value.tzinfo, "name", None) or str(value.tzinfo)
        return f"{value.isoformat()}[{zone}]"
    return repr(value)


def event_ids(command: Command) -> Iterator[uuid.UUID]:
    """Yield the ids of the command's events: the same ids every time it is decided."""
    index = 0
    while True:
        yield uuid.uuid5(command.command_id, str(index))
        index += 1


S = TypeVar("S")
E = TypeVar("E")


def fold(
    evolve: Callable[[S | None, E], S | None], events: Iterable[E], initial: S | None = None
) -> S | None:
    """Return the state after applying ``events``, in order, to ``initial`` with ``evolve``.

    The one fold of a stream: the application decides on it, and a projection of one
    aggregate is the same fold.

    >>> fold(lambda total, n: (total or 0) + n, [1, 2, 3])
    6
    """
    state = initial
    for event in events:
        state = evolve(state, event)
    return state


def require(condition: bool, rule: str, message: str) -> None:  # noqa: FBT001
    """Raise :class:`RuleViolation` naming ``rule`` unless ``condition`` holds."""
    if not condition:
        raise RuleViolation(rule, message)


def require_known(condition: bool, what: str, identifier: object) -> None:  # noqa: FBT001
    """Raise :class:`UnknownReferenceError` (rule ``unknown-<what>``) unless ``condition``."""
    if not condition:
        raise UnknownReferenceError(f"unknown-{what}", f"no {what} {identifier} is registered")


def require_text(
    value: str | None, field: str, *, limit: int = 500, optional: bool = False
) -> None:
    """Refuse text that is missing (unless optional), too long, or not a string."""
    if value is None and optional:
        return
    require(isinstance(value, str), "text", f"{field} must be text, got {value!r}")
    assert isinstance(value, str)  # noqa: S101 - narrowed by the line above
    require(optional or bool(value.strip()), "required", f"{field} must not be empty")
    require(
        len(value) <= limit,
        "text-length",
        f"{field} is {len(value)} characters, the limit is {limit}",
    )


class MeetingKind(enum.Enum):
    """What kind of meeting it is (the minutes' vocabulary)."""

    INFORMAL_MEETING = "informal-meeting"
    CONSTRUCTIVE_DIALOGUE = "constructive-dialogue"
    PREPARATORY_DAY = "preparatory-day"
    SESSION = "session"
    COMMISSION_SESSION = "commission-session"
    SIDE_EVENT = "side-event"
    HIGH_LEVEL_EVENT = "high-level-event"
    EXHIBITION = "exhibition"
    BRIEFING = "briefing"
    GENERAL_ASSEMBLY = "general-assembly"
    OTHER = "other"


class MeetingStatus(enum.Enum):
    """A meeting's status, as calendars show it."""

    TENTATIVE = "tentative"
    CONFIRMED = "confirmed"
    CANCELLED = "cancelled"


class Role(enum.Enum):
    """A delegate's role in a meeting or session."""

    SPEAKER = "speaker"
    ALTERNATE = "alternate"
    PARTICIPANT = "participant"
    EXPERT = "expert"
    RESPONDENT = "respondent"


class NominationStatus(enum.Enum):
    """Where a nomination stands.

    ``NOMINATED`` and ``CONFIRMED`` hold a seat; ``WAITLISTED`` waits for one;
    ``DECLINED`` (by the secretariat) and ``WITHDRAWN`` (by the organisation) hold none.
    """

    NOMINATED = "nominated"
    WAITLISTED = "waitlisted"
    CONFIRMED = "confirmed"
    DECLINED = "declined"
    WITHDRAWN = "withdrawn"

    @property
    def holds_seat(self) -> bool:
        """Whether a nomination in this status takes a seat in the room."""
        return self in (NominationStatus.NOMINATED, NominationStatus.CONFIRMED)

    @property
    def active(self) -> bool:
        """Whether it still counts for its delegation (seated or waiting)."""
        return self in (
            NominationStatus.NOMINATED, NominationStatus.CONFIRMED, NominationStatus.WAITLISTED
        )


class OfficerRole(enum.Enum):
    """An officer's role in a body (the alliance, the VNGOC, ...)."""

    CHAIR = "chair"
    VICE_CHAIR = "vice-chair"
    SECRETARY = "secretary"
    TREASURER = "treasurer"


class LinkKind(enum.Enum):
    """What a link attached to a meeting leads to."""

    REPORT = "report"
    RECORDING = "recording"
    DOCUMENTS = "documents"
    PRESENTATION = "presentation"
    WEBSITE = "website"
    OTHER = "other"
