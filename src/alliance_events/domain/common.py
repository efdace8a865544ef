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
import types
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final, Literal, TypeVar, Union, cast, get_args, get_origin

import attrs
import pendulum

from alliance_events._speed import replace  # re-exported: the states' copy
from alliance_events.errors import RuleViolation, UnknownReferenceError
from alliance_events.timing import check_in_range

__all__ = [
    "MAX_COUNT",
    "MAX_DURATION",
    "Command",
    "LinkKind",
    "MeetingKind",
    "MeetingStatus",
    "NominationStatus",
    "OfficerRole",
    "Role",
    "check_command",
    "check_values",
    "command_digest",
    "event_ids",
    "fold",
    "replace",
    "require",
    "require_known",
    "require_text",
    "shared_fields",
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


MAX_COUNT: Final = 100_000
"""The largest count a command may give (seats, places, a quota)."""
MAX_DURATION: Final = _dt.timedelta(days=366)
"""The longest duration a command may give (a reminder: at most a year before)."""


def check_command(command: Command) -> None:
    """Refuse a command with a value of the wrong type or outside its domain range.

    Every field (not the id, time and actor the application gives) is checked against
    its annotation, into tuples, mappings and the attrs values it holds (a ``When``, a
    ``Due``, a ``Quota``): a ``bool`` is not a count, text is not a date. Then ranges:
    dates and times in the years :data:`~alliance_events.timing.FIRST_YEAR` to
    :data:`~alliance_events.timing.LAST_YEAR`, counts from 0 to :data:`MAX_COUNT`,
    durations from 0 to :data:`MAX_DURATION`. The rule's own limits (a capacity of at
    least 1, say) are the deciders'.

    Raises:
        RuleViolation: ``field-type``, ``count-range`` or ``duration-range``, naming the
            field (``due.day``, ``quotas[1].limit``) and the value.
        OutOfRangeError: a date or time outside the years (rule ``date-range``).

    """
    _check_fields(command, "", _NOT_CONTENT)


def check_values(value: object, names: Iterable[str]) -> None:
    """Check the fields ``names`` of an attrs ``value`` as :func:`check_command` does.

    For readers: a projection checks the dated fields of a stored event with it.
    """
    fields = attrs.fields_dict(_resolved(type(value)))
    for name in names:
        _check_value(getattr(value, name), fields[name].type, name)


def _resolved(cls: type) -> type[attrs.AttrsInstance]:
    return attrs.resolve_types(cast("type[attrs.AttrsInstance]", cls))


def _check_fields(value: object, prefix: str, skipped: frozenset[str] = frozenset()) -> None:
    for field in attrs.fields(_resolved(type(value))):
        if field.name not in skipped:
            _check_value(getattr(value, field.name), field.type, f"{prefix}{field.name}")


def _check_value(value: object, annotation: Any, field: str) -> None:
    if not _matches(value, annotation):
        raise RuleViolation(
            "field-type", f"{field} must be {_describe(annotation)}, got {value!r}"
        )
    if attrs.has(type(value)):
        _check_fields(value, f"{field}.")
    elif isinstance(value, (tuple, list)):
        item = _item_annotation(annotation)
        for index, element in enumerate(value):
            _check_value(element, item, f"{field}[{index}]")
    elif isinstance(value, _dt.date):
        check_in_range(value, field)
    elif isinstance(value, _dt.timedelta):
        require(_dt.timedelta(0) <= value <= MAX_DURATION, "duration-range",
                f"{field} {value} is outside 0 to {MAX_DURATION.days} days")
    elif isinstance(value, int) and not isinstance(value, (bool, enum.Enum)):
        require(0 <= value <= MAX_COUNT, "count-range",
                f"{field} {value} is outside 0 to {MAX_COUNT:,}")


def _item_annotation(annotation: Any) -> Any:
    """Return the annotation of a sequence's items (``X`` of ``tuple[X, ...] | None``)."""
    options = get_args(annotation) if _is_union(annotation) else (annotation,)
    for option in options:
        if get_origin(option) in (tuple, list) and get_args(option):
            return get_args(option)[0]
    return Any


def _is_union(annotation: Any) -> bool:
    return get_origin(annotation) in (Union, types.UnionType)


def _matches(value: object, annotation: Any) -> bool:  # noqa: PLR0911 - one per kind
    if annotation is Any:
        return True
    if annotation is None or annotation is type(None):
        return value is None
    if _is_union(annotation):
        return any(_matches(value, option) for option in get_args(annotation))
    origin = get_origin(annotation)
    if origin is Literal:
        return value in get_args(annotation)
    if origin is not None:  # tuple[X, ...], Mapping[K, V]...: the container; elements later
        return isinstance(value, origin)
    if annotation is bool:
        return isinstance(value, bool)
    if annotation in (int, float):
        return isinstance(value, (int, float) if annotation is float else int) and not \
            isinstance(value, bool)
    if isinstance(annotation, type) and issubclass(annotation, _dt.date) and not issubclass(
        annotation, _dt.datetime
    ):
        return isinstance(value, _dt.date) and not isinstance(value, _dt.datetime)
    if isinstance(annotation, type) and issubclass(annotation, _dt.datetime):
        return isinstance(value, _dt.datetime) and value.utcoffset() is not None
    if isinstance(annotation, type):
        return isinstance(value, annotation)
    return True  # an annotation this check does not know: the decider's to judge


def _describe(annotation: Any) -> str:  # noqa: PLR0911 - one per kind
    if _is_union(annotation):
        return " or ".join(_describe(option) for option in get_args(annotation))
    if annotation is None or annotation is type(None):
        return "none"
    if get_origin(annotation) is not None:
        return f"a {get_origin(annotation).__name__}"
    names = {bool: "true or false", int: "a whole number", str: "text",
             uuid.UUID: "an id (UUID)", _dt.datetime: "a time with its zone"}
    if annotation in names:
        return names[annotation]
    if isinstance(annotation, type) and issubclass(annotation, _dt.datetime):
        return "a time with its zone"
    if isinstance(annotation, type) and issubclass(annotation, _dt.date):
        return "a date"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return "one of " + ", ".join(str(member.value) for member in annotation)
    return f"a {getattr(annotation, '__name__', annotation)}"


def event_ids(command: Command) -> Iterator[uuid.UUID]:
    """Yield the ids of the command's events: the same ids every time it is decided."""
    index = 0
    while True:
        yield uuid.uuid5(command.command_id, str(index))
        index += 1


def shared_fields(command: Command, event: type[attrs.AttrsInstance]) -> dict[str, Any]:
    """Return the command's fields that the event has too (not its id, nor the command's)."""
    names = {field.name for field in attrs.fields(event)} - {"event_id"}
    return {name: getattr(command, name) for name in names if hasattr(command, name)}


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
