"""The alliance's state: every aggregate's state, folded from the whole log.

One projection holds them all, keyed by id, because every query joins them (a
delegation names its organisation and its people; a session shows its parent's
cancellation). Each aggregate's state is the immutable value that the domain's own
``evolve`` returns, the same function the application decides with; only the dicts that
hold them are updated in place, so applying an event costs the same on a log of ten
events as on a log of ten million. A record's stream name says which aggregate's state it
changes: it is read with :func:`~alliance_events.domain.streams.parse_stream` (once per
name: the answer is kept), and the kind of stream picks the function applying its events
(``_APPLY``).

Only the library's own events change it (:data:`~alliance_events.domain.catalog.EVENT_CLASSES`):
another tool's event, decoded by its installed class or opaque because its tool is not
installed here, moves the state's position and nothing else, even in a meeting's stream.
So the calendars and their feeds are the same whether or not other tools are installed.
"""

from __future__ import annotations

import datetime as _dt
import functools
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Final, NamedTuple

import attrs
import pendulum

from alliance_events._speed import slot_setters
from alliance_events.domain import deadlines, settings
from alliance_events.domain import meetings as mt
from alliance_events.domain.catalog import EVENT_CLASSES
from alliance_events.domain.common import MAX_DURATION, MeetingStatus, check_values
from alliance_events.domain.deadlines import Deadline
from alliance_events.domain.directory import Body, Organisation, Person, bodies, organisations
from alliance_events.domain.directory import persons as ps
from alliance_events.domain.meetings import MeetingState
from alliance_events.domain.meetings.state import changes_of, unbuilt_nomination_index
from alliance_events.domain.streams import parse_stream
from alliance_events.errors import RuleViolation
from alliance_events.events import Event
from alliance_events.log.base import Recorded
from alliance_events.projections.snapshot import StateCodec
from alliance_events.timing import FIRST_YEAR, LAST_YEAR

__all__ = [
    "PROJECTION_VERSION",
    "AllianceProjection",
    "AllianceState",
    "LeftOut",
    "Touched",
    "chain_status",
]

PROJECTION_VERSION: Final = 1
"""Bump it when the same log would fold into another state (a change to an ``evolve`` or
to ``apply``): snapshots of another version are ignored and the state folded from the
log's start. (A change to the state classes' fields changes the version by itself: see
:mod:`alliance_events.projections.snapshot`.)"""

_STREAM_CACHE: Final = 1_000_000  # parsed stream names kept (bounded memory)
_DEADLINE_EVENTS: Final = (
    deadlines.DeadlineSet,
    deadlines.DeadlineExtended,
    deadlines.DeadlineCancelled,
    deadlines.DeadlineReminderSent,
)
_JOURNAL_LIMIT: Final = 200_000  # touches kept in the journal; beyond, the oldest half goes


class Touched(NamedTuple):
    """When an item was first and last changed, from the log.

    Items are meetings, deadlines (a meeting's deadline too, by its own id), persons and
    organisations (these when what a calendar shows of them changes: a name, an acronym).
    Calendar feeds take their DTSTAMP and LAST-MODIFIED from here, and know from the
    positions which items an event changed.
    """

    created: pendulum.DateTime
    modified: pendulum.DateTime
    position: int


class LeftOut(NamedTuple):
    """A stream the state leaves out, and the first record that made it so."""

    position: int
    reason: str


@attrs.define
class AllianceState:
    """Every aggregate's current state (see the module)."""

    meetings: dict[uuid.UUID, MeetingState] = attrs.field(factory=dict)
    deadlines: dict[uuid.UUID, Deadline] = attrs.field(factory=dict)
    organisations: dict[uuid.UUID, Organisation] = attrs.field(factory=dict)
    persons: dict[uuid.UUID, Person] = attrs.field(factory=dict)
    bodies: dict[str, Body] = attrs.field(factory=dict)
    children: dict[uuid.UUID, list[uuid.UUID]] = attrs.field(factory=dict)
    touched: dict[uuid.UUID, Touched] = attrs.field(factory=dict)
    # The SHA-256 (hex) of each live feed token -> the organisation it opens.
    feed_tokens: dict[str, uuid.UUID] = attrs.field(factory=dict)
    # When each meeting that was moved was last moved (calendars say so for a while).
    moved_at: dict[uuid.UUID, pendulum.DateTime] = attrs.field(factory=dict)
    feed_settings: settings.FeedSettings = attrs.field(factory=settings.FeedSettings)
    # Streams left out of the state: an event of theirs holds a value outside the
    # domain's range (written by an older version that did not check it), so their item
    # is out of every calendar and query. Stream -> why, and where.
    left_out: dict[str, LeftOut] = attrs.field(factory=dict)
    position: int = 0
    recorded_at: pendulum.DateTime | None = None
    # The ids touched, in log order (one entry per touch, so an id may recur): what the
    # calendar feeds re-plan after new events. Bounded: when it grows past a limit its
    # older half is dropped, and ``journal_start`` counts the entries dropped so far.
    # Not part of the state's value (a copy or another fold of the same log is equal).
    journal: list[uuid.UUID] = attrs.field(factory=list, eq=False, repr=False)
    journal_start: int = attrs.field(default=0, eq=False, repr=False)

    @property
    def journal_mark(self) -> int:
        """How many touches this state has journaled (dropped ones included)."""
        return self.journal_start + len(self.journal)

    def touched_since(self, mark: int) -> list[uuid.UUID] | None:
        """Return the ids touched after ``mark`` (a :attr:`journal_mark`), in log order.

        ``None`` if the journal no longer reaches back so far (or ``mark`` is not this
        state's): the caller must then look at everything.
        """
        offset = mark - self.journal_start
        if offset < 0 or offset > len(self.journal):
            return None
        return self.journal[offset:]

    def meeting(self, meeting_id: uuid.UUID) -> MeetingState | None:
        """Return the meeting's state, if it was scheduled."""
        return self.meetings.get(meeting_id)

    def ancestors(self, meeting_id: uuid.UUID) -> list[MeetingState]:
        """Return the meeting's parent, its parent's parent, and so on."""
        result: list[MeetingState] = []
        state = self.meetings.get(meeting_id)
        if state is None or state.parent_id is None:  # most meetings: no lookup more
            return result
        seen = {meeting_id}
        while state is not None and state.parent_id is not None and state.parent_id not in seen:
            seen.add(state.parent_id)
            state = self.meetings.get(state.parent_id)
            if state is not None:
                result.append(state)
        return result

    def effective_status(self, meeting_id: uuid.UUID) -> MeetingStatus:
        """Return the status to show: cancelled if the meeting or one it is part of is."""
        return chain_status([self.meetings[meeting_id], *self.ancestors(meeting_id)])

    def descendants(self, meeting_id: uuid.UUID) -> list[uuid.UUID]:
        """Return the ids of the meeting's sessions, side events, and theirs."""
        result: list[uuid.UUID] = []
        pending = list(self.children.get(meeting_id, ()))
        while pending:
            child = pending.pop(0)
            if child not in result:
                result.append(child)
                pending.extend(self.children.get(child, ()))
        return result

    def all_deadlines(self) -> list[Deadline]:
        """Return every deadline, of meetings and stand-alone, in the order they were set."""
        found = [d for m in self.meetings.values() for d in m.deadlines]
        found.extend(self.deadlines.values())
        return found

    def person_name(self, person_id: uuid.UUID) -> str:
        """Return the person's name, or their id if unknown."""
        person = self.persons.get(person_id)
        return person.name if person is not None else str(person_id)

    def organisation_name(self, organisation_id: uuid.UUID | None) -> str:
        """Return the organisation's short name (acronym if any), or its id."""
        if organisation_id is None:
            return ""
        organisation = self.organisations.get(organisation_id)
        if organisation is None:
            return str(organisation_id)
        return organisation.acronym or organisation.name


_Apply = Callable[["AllianceState", Any, Event, Recorded], None]
"""Applies one library event of one stream (its parsed key given) to the state in place."""


class AllianceProjection:
    """The projection building :class:`AllianceState` (for a :class:`ProjectionRunner`)."""

    def __init__(self) -> None:
        # Each stream name read, parsed once: how to apply its events, and its key.
        self._routes: dict[str, tuple[_Apply | None, Any]] = {}
        # While a fold builds a state no one reads (``building``): that state, and the
        # meeting states apply created in it since (by id, kept alive so that no other
        # object takes an id), which it updates in place.
        self._owner: AllianceState | None = None
        self._owned: dict[int, MeetingState] = {}

    @contextmanager
    def building(self, state: AllianceState) -> Iterator[None]:
        """Let ``apply`` update in place the meeting states it creates in ``state``.

        While the block runs; the caller promises that no one reads ``state`` meanwhile.

        ``evolve`` copies a meeting's state (23 fields) for each event of its stream,
        so that a state once read never changes. A fold that no one reads before it is
        done (a runner's catch-up, :func:`~alliance_events.projections.runner.fold`)
        need not: a meeting state that ``apply`` created in the block, and that no copy
        (``copy``, taken for a runner's "as of" snapshots) shares, gets the fields the
        event changes set in place (:func:`~alliance_events.domain.meetings.state.changes_of`),
        the same values ``evolve`` would give a copy. When the block ends, every state
        is an immutable value again: later events copy it as usual.
        """
        self._owner, self._owned = state, {}
        try:
            yield
        finally:
            self._owner, self._owned = None, {}

    def initial(self) -> AllianceState:
        """Return an empty state."""
        return AllianceState()

    def copy(self, state: AllianceState) -> AllianceState:
        """Return a copy that later ``apply`` calls leave unchanged (for snapshots).

        Shallow: the aggregates' states are immutable values, shared; only the dicts
        (and the lists of children) that ``apply`` updates in place are copied. The
        meeting states a fold in progress was updating in place (``building``) are
        shared with the copy now, so they are copied again at their next event.
        """
        self._owned = {}
        return attrs.evolve(
            state,
            meetings=dict(state.meetings),
            deadlines=dict(state.deadlines),
            organisations=dict(state.organisations),
            persons=dict(state.persons),
            bodies=dict(state.bodies),
            children={key: list(value) for key, value in state.children.items()},
            touched=dict(state.touched),
            feed_tokens=dict(state.feed_tokens),
            moved_at=dict(state.moved_at),
            left_out=dict(state.left_out),
            journal=[],  # a copy's journal starts afresh (its readers know the original)
            journal_start=state.journal_mark,
        )

    snapshot_name: Final = "alliance"
    """The name of this projection's snapshot in the log's store."""

    @property
    def snapshot_version(self) -> str:
        """:data:`PROJECTION_VERSION` and the state classes' fingerprint (see ``snapshot``)."""
        return f"{PROJECTION_VERSION}.{_state_codec().fingerprint}"

    def encode(self, state: AllianceState) -> bytes:
        """Return the state as a snapshot's bytes (its journal is not kept: see ``copy``)."""
        return _state_codec().encode(self.copy(state))

    def decode(self, data: bytes) -> AllianceState:
        """Return the state that :meth:`encode` wrote.

        Raises:
            SnapshotFormatError: another format or state classes' fingerprint.
            Exception: the data is damaged (any error reading it).

        """
        return _state_codec().decode(data)

    def _route(self, stream: str) -> tuple[_Apply | None, Any]:
        parsed = parse_stream(stream)
        # Not a library stream (another tool's): not ours to fold.
        route = (None, None) if parsed is None else (_APPLY.get(parsed[0]), parsed[1])
        if len(self._routes) < _STREAM_CACHE:
            self._routes[stream] = route
        return route

    def apply(self, state: AllianceState, record: Recorded) -> AllianceState:
        """Apply one record to the state (in place) and return it."""
        event = record.event
        # Another tool's event (or an opaque one) only moves the position.
        if type(event) in EVENT_CLASSES:
            apply, key = self._routes.get(record.stream) or self._route(record.stream)
            if apply is not None and not (state.left_out and record.stream in state.left_out):
                reason = _out_of_range(event) if type(event) in _DATED else None
                if reason is None:
                    if apply is _meeting and state is self._owner:
                        _meeting_in_place(state, key, event, record, self._owned)
                    else:
                        apply(state, key, event, record)
                else:
                    _leave_out(state, key, record, reason)
        state.position = record.position
        state.recorded_at = record.recorded_at
        return state


@functools.cache
def _state_codec() -> StateCodec[AllianceState]:
    """Return the snapshot codec of the state (its code generated once, on first use)."""
    return StateCodec(
        AllianceState,
        derived={(MeetingState, "nomination_index"): unbuilt_nomination_index},
        shared=(mt.Attendee,),
    )


def _out_of_range(event: Event) -> str | None:
    """Say which value of ``event`` is outside the domain's ranges, or None.

    The ranges :func:`~alliance_events.domain.common.check_command` refuses commands
    outside of; a log written before they were checked may hold such a value, and a
    reader must survive it. Only the fields that can hold one are looked at.
    """
    names = _DATED[type(event)]
    if all(_within(getattr(event, name)) for name in names):
        return None  # the usual case, checked quickly; the check below says why not
    try:
        check_values(event, names)
    except RuleViolation as refused:
        return str(refused)
    return None  # pragma: no cover - _within and check_values agree


def _within(value: object) -> bool:
    """Whether the dates, times and durations in ``value`` are in the domain's ranges."""
    if isinstance(value, _dt.date):
        return FIRST_YEAR <= value.year <= LAST_YEAR
    if isinstance(value, _dt.timedelta):
        return _dt.timedelta(0) <= value <= MAX_DURATION
    if isinstance(value, tuple):
        return all(_within(item) for item in value)
    fields = getattr(type(value), "__attrs_attrs__", None)  # a When, a Due...
    return fields is None or all(_within(getattr(value, a.name)) for a in fields)


def _leave_out(state: AllianceState, key: Any, record: Recorded, reason: str) -> None:
    """Take the stream's item out of the state for good, and say why."""
    state.left_out[record.stream] = LeftOut(record.position, reason)
    for items in (state.meetings, state.deadlines, state.organisations, state.persons):
        if isinstance(key, uuid.UUID) and items.pop(key, None) is not None:
            _touch(state, key, record)


def _dated_fields(cls: type) -> tuple[str, ...]:
    """Return the fields of an event class that hold dates, times or durations."""
    words = ("When", "Due", "Date", "date", "Duration", "timedelta")
    return tuple(
        field.name
        for field in attrs.fields(cls)
        if field.name != "event_id" and any(word in str(field.type) for word in words)
    )


_DATED: Final = {
    cls: names for cls in EVENT_CLASSES if (names := _dated_fields(cls))
}
"""The library's event classes that hold dates, times or durations: their fields."""


def _meeting(state: AllianceState, key: uuid.UUID, event: Event, record: Recorded) -> None:
    meeting = mt.evolve(state.meetings.get(key), event)
    if meeting is not None:
        state.meetings[key] = meeting
    _meeting_links(state, key, event, record)


def _meeting_links(state: AllianceState, key: uuid.UUID, event: Event, record: Recorded) -> None:
    """Apply what a meeting's event changes beside its state: children, moves, touches."""
    if isinstance(event, mt.MeetingScheduled) and event.parent_id is not None:
        state.children.setdefault(event.parent_id, []).append(key)
    elif isinstance(event, mt.MeetingRescheduled):
        state.moved_at[key] = record.recorded_at
    _touch(state, key, record)
    if isinstance(event, _DEADLINE_EVENTS):
        _touch(state, event.deadline_id, record)


_MEETING_SETTERS: Final = slot_setters(MeetingState, [f.name for f in attrs.fields(MeetingState)])


def _meeting_in_place(
    state: AllianceState, key: uuid.UUID, event: Event, record: Recorded,
    owned: dict[int, MeetingState],
) -> None:
    """``_meeting``, in a fold that no one reads (``AllianceProjection.building``)."""
    known = state.meetings.get(key)
    if known is not None and owned.get(id(known)) is known:
        changes = changes_of(known, event)
        if changes:
            for name, value in changes.items():
                setter = _MEETING_SETTERS.get(name)
                if setter is None:  # pragma: no cover - a state class without slots
                    object.__setattr__(known, name, value)
                else:
                    setter(known, value)
    else:
        meeting = mt.evolve(known, event)
        if meeting is not None and meeting is not known:
            state.meetings[key] = meeting
            owned[id(meeting)] = meeting
    _meeting_links(state, key, event, record)


def _deadline(state: AllianceState, key: uuid.UUID, event: Event, record: Recorded) -> None:
    deadline = deadlines.evolve(state.deadlines.get(key), event)
    if deadline is not None:
        state.deadlines[key] = deadline
        _touch(state, key, record)


def _organisation(state: AllianceState, key: uuid.UUID, event: Event, record: Recorded) -> None:
    known = state.organisations.get(key)
    organisation = organisations.evolve(known, event)
    if organisation is None:
        return
    state.organisations[organisation.organisation_id] = organisation
    if known is None or (known.name, known.acronym) != (
        organisation.name, organisation.acronym
    ):  # a new feed token changes nothing a calendar shows
        _touch(state, organisation.organisation_id, record)
    if known is not None and known.feed_tokens is not organisation.feed_tokens:
        for token_hash in known.feed_tokens.values():
            state.feed_tokens.pop(token_hash, None)
    for token_hash in organisation.feed_tokens.values():
        state.feed_tokens[token_hash] = organisation.organisation_id


def _person(state: AllianceState, key: uuid.UUID, event: Event, record: Recorded) -> None:
    known = state.persons.get(key)
    person = ps.evolve(known, event)
    if person is not None:
        state.persons[person.person_id] = person
        if person != known:
            _touch(state, person.person_id, record)


def _body(state: AllianceState, key: str, event: Event, _: Recorded) -> None:
    body = bodies.evolve(state.bodies.get(key), event)
    if body is not None:
        state.bodies[body.body] = body


def _settings(state: AllianceState, key: str, event: Event, _: Recorded) -> None:
    if key == settings.FEEDS:
        feeds = settings.evolve(state.feed_settings, event)
        if feeds is not None:
            state.feed_settings = feeds


_APPLY: Final[dict[str, _Apply]] = {
    "meeting": _meeting,
    "deadline": _deadline,
    "organisation": _organisation,
    "person": _person,
    "body": _body,
    "settings": _settings,
}
"""How the events of each kind of stream (:func:`~alliance_events.domain.streams.parse_stream`)
change the state."""


def _touch(state: AllianceState, key: uuid.UUID, record: Recorded) -> None:
    touched = state.touched.get(key)
    created = record.recorded_at if touched is None else touched.created
    state.touched[key] = Touched(created, record.recorded_at, record.position)
    journal = state.journal
    journal.append(key)
    if len(journal) > _JOURNAL_LIMIT:
        half = _JOURNAL_LIMIT // 2
        del journal[:half]
        state.journal_start += half


def chain_status(chain: Sequence[MeetingState]) -> MeetingStatus:
    """Return the status to show for ``chain[0]``, part of ``chain[1:]`` (nearest first).

    Cancelled if it or a meeting it is part of is (:meth:`AllianceState.effective_status`
    for a chain already walked).
    """
    if any(parent.cancelled for parent in chain[1:]):
        return MeetingStatus.CANCELLED
    return chain[0].status
