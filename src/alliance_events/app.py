"""The application: one façade, commands in and queries out (:class:`Alliance`).

    >>> from alliance_events import Alliance
    >>> from alliance_events.testing import FixedClock
    >>> import pendulum
    >>> clock = FixedClock(pendulum.datetime(2023, 3, 1, 9, tz="Europe/Vienna"))
    >>> with Alliance.open("memory:", clock=clock) as alliance:
    ...     meeting = alliance.schedule_meeting(
    ...         title="Informal Meeting", kind="informal-meeting",
    ...         start="2023-03-22 15:00", end="16:30", zone="Europe/Vienna")
    ...     [m.title for m in alliance.meetings()]
    ['Informal Meeting']

Every command method takes keyword arguments, checks them and builds its command; one
path runs them all (``Alliance._run``, driven by the table ``_ROUTES``: which aggregate
decides each command class, and on which stream): it reads the aggregate's stream, folds
it with the aggregate's ``evolve``, looks up what the decision refers to, lets the
aggregate's ``decide`` decide, and appends the events with the stream's version as the
expected one. When another writer appended first, it reads the stream again, looks the
references up again and decides again (a bounded number of times). A refused command raises a
:class:`~alliance_events.errors.DomainError` (or a ``TimingError``) and appends nothing.

Each command gets an id (``command_id=``, or a new one); its events' ids derive from it,
so calling a command again with the same ``command_id`` (after a time-out, say) returns
what the first call recorded instead of recording it twice.
"""

from __future__ import annotations

import datetime as _dt
import enum
import hashlib
import hmac
import operator
import re
import secrets
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, Literal, NamedTuple, TypeVar

import attrs
import pendulum

from alliance_events.clock import Clock, IdFactory, new_id, system_clock
from alliance_events.domain import deadlines as dl
from alliance_events.domain import directory as dr
from alliance_events.domain import meetings as mt
from alliance_events.domain import outbox as ob
from alliance_events.domain import settings as st
from alliance_events.domain.catalog import missing_library_types, with_library_types
from alliance_events.domain.common import (
    Command,
    LinkKind,
    MeetingKind,
    MeetingStatus,
    OfficerRole,
    Role,
    check_command,
    command_digest,
    fold,
)
from alliance_events.domain.deadlines import (
    CancelDeadline,
    DeadlineKind,
    Due,
    DueAt,
    DueBy,
    ExtendDeadline,
    RecordReminderSent,
    SetDeadline,
)
from alliance_events.errors import (
    ConcurrencyError,
    DuplicateEventError,
    RuleViolation,
    TokenShownOnceError,
    UnknownEventTypeError,
    UnknownReferenceError,
)
from alliance_events.events import Event, EventRegistry
from alliance_events.events import registry as default_registry
from alliance_events.ical import FeedLinks, subscribe_links
from alliance_events.log import open_log
from alliance_events.log.base import EventLog, Recorded, snapshot_store
from alliance_events.log.reseal import SealReport, seal_personal_data
from alliance_events.plugins import PluginLoad, load_event_types
from alliance_events.projections.alliance import AllianceProjection, AllianceState, LeftOut
from alliance_events.projections.history import HistoryEntry, history_entry
from alliance_events.projections.registration import (
    DeadlineView,
    MeetingView,
    RegistrationView,
    deadline_view,
    meeting_view,
    registration_view,
)
from alliance_events.projections.runner import ProjectionRunner
from alliance_events.timing import (
    DEFAULT_ZONE,
    AllDay,
    Disambiguate,
    Timed,
    When,
    all_day,
    describe_moment,
    end_of_day,
    local_date,
    local_datetime,
    timed,
    zone,
)

__all__ = [
    "REFERENCE_LENGTH",
    "Alliance",
    "AsOf",
    "FeedTokenView",
    "Moment",
    "ReferenceKind",
    "short_refs",
    "token_hash",
]

Moment = _dt.datetime | str
"""When a decision took effect (``at=``): an aware time, ISO text, a wall time in Vienna,
or a date (12:00 in Vienna that day)."""

AsOf = int | _dt.datetime | str | None
"""A past moment to look from: a log position (int), a time, or ISO text; None: now."""

ReferenceKind = Literal["meeting", "organisation", "person", "deadline"]
"""What :meth:`Alliance.references` gives the short references of."""


@attrs.frozen(kw_only=True)
class ForgetReport:
    """What forgetting a person affected (or would affect).

    Attributes:
        person_id: who.
        records: the positions of their person stream's records (sealed: now unreadable).
        mentions: the other places that name them, said as people read them ("nominated
            as speaker to Constructive Dialogue on Firearms"): these keep their shape, and
            show the person as erased.
        feeds: the feeds that showed their name (their organisation's, the secretariat's).
        key_deleted: whether their key was there and is gone now.
        already: they had been forgotten before (this was a retry).

    """

    person_id: uuid.UUID
    records: tuple[int, ...]
    mentions: tuple[str, ...]
    feeds: tuple[str, ...]
    key_deleted: bool = False
    already: bool = False


@attrs.frozen(kw_only=True)
class RetentionCandidate:
    """A delegate the retention policy erases, or keeps (``kept``: why not)."""

    person_id: uuid.UUID
    last_meeting: pendulum.Date
    kept: str = ""


class FeedTokenView(NamedTuple):
    """A live feed token of an organisation, as a person sees it (never the token)."""

    token_id: uuid.UUID
    ref: str
    """Its short reference (:func:`short_refs`, among the organisation's live tokens)."""
    label: str
    issued_at: pendulum.DateTime
    """When the log recorded its issue."""


E = TypeVar("E", bound=enum.Enum)
T = TypeVar("T")
_MAX_ATTEMPTS = 8


def _enum(cls: type[E], value: E | str, field: str) -> E:
    if isinstance(value, cls):
        return value
    try:
        return cls(value)
    except ValueError:
        choices = ", ".join(member.value for member in cls)
        raise RuleViolation(field, f"{field} must be one of {choices}; got {value!r}") from None


def _duration(value: _dt.timedelta | str | int) -> pendulum.Duration:
    if isinstance(value, pendulum.Duration):
        return value
    if isinstance(value, _dt.timedelta):
        return pendulum.duration(
            days=value.days, seconds=value.seconds, microseconds=value.microseconds
        )
    if isinstance(value, int) and not isinstance(value, bool):
        return pendulum.duration(days=value)
    try:
        parsed = pendulum.parse(str(value))
    except Exception as error:
        raise RuleViolation("reminder", f"{value!r} is not a duration such as P7D") from error
    if not isinstance(parsed, pendulum.Duration):
        raise RuleViolation("reminder", f"{value!r} is not a duration such as P7D")
    return parsed


# -- the command path -------------------------------------------------------------------


class _Aggregate(NamedTuple):
    """One aggregate as the application runs its commands: the domain's one face.

    ``refs(alliance, command, key)`` looks up what a decision needs from outside the
    stream (of the stream keyed ``key``), anew at each attempt.
    """

    stream: Callable[[Any], str]
    evolve: Callable[[Any, Event], Any]
    decide: Callable[[Any, Any, Any], list[Event]]
    refs: Callable[[Alliance, Any, Any], Any]


def _no_refs(_: Alliance, __: Command, ___: object) -> None:
    return None


def _known_organisations(alliance: Alliance, _: Command, __: object) -> Mapping[uuid.UUID, Any]:
    return alliance.state.organisations


def _known_persons(alliance: Alliance, _: Command, __: object) -> Mapping[uuid.UUID, Any]:
    return alliance.state.persons


def _meeting_refs(alliance: Alliance, command: Command, meeting_id: uuid.UUID) -> mt.Refs:
    """Look up what a meeting command refers to, as of now."""
    state = alliance.state
    parent = None
    if isinstance(command, mt.ScheduleMeeting):
        # A new meeting: its lineage is its parent's (the parent's own state is
        # checked by the domain).
        parent = None if command.parent_id is None else state.meeting(command.parent_id)
        lineage = [] if parent is None else state.ancestors(parent.meeting_id)
    else:
        lineage = state.ancestors(meeting_id)
    return mt.Refs(
        parent=parent,
        ancestor_cancelled=any(m.cancelled for m in lineage),
        organisations=state.organisations,
        persons=state.persons,
    )


_MEETING: Final = _Aggregate(mt.meeting_stream, mt.evolve, mt.decide, _meeting_refs)
_DEADLINE: Final = _Aggregate(dl.deadline_stream, dl.evolve, dl.decide, _known_organisations)
_ORGANISATION: Final = _Aggregate(
    dr.organisation_stream, dr.organisations.evolve, dr.organisations.decide, _known_persons
)
_PERSON: Final = _Aggregate(
    dr.person_stream, dr.persons.evolve, dr.persons.decide, _known_organisations
)
_BODY: Final = _Aggregate(dr.body_stream, dr.bodies.evolve, dr.bodies.decide, _known_persons)
_SETTINGS: Final = _Aggregate(st.settings_stream, st.evolve, st.decide, _no_refs)
_MESSAGE: Final = _Aggregate(ob.message_stream, ob.evolve_message, ob.decide_message, _no_refs)
_NOTIFIER: Final = _Aggregate(ob.outbox_stream, ob.evolve_notifier, ob.decide_notifier, _no_refs)

_Route = Callable[["Alliance", Any], tuple[_Aggregate, Any]]
"""Where a command is decided: its aggregate, and the key of its stream."""


def _by(aggregate: _Aggregate, field: str) -> _Route:
    """Route to ``aggregate``'s stream keyed by the command's ``field``."""
    key = operator.attrgetter(field)
    return lambda _, command: (aggregate, key(command))


def _feed_settings(_: Alliance, __: st.SetFeedAddress) -> tuple[_Aggregate, str]:
    return _SETTINGS, st.FEEDS


def _new_deadline(_: Alliance, command: SetDeadline) -> tuple[_Aggregate, uuid.UUID]:
    """Route a new deadline to its meeting's stream, or (on its own) to a new one."""
    if command.meeting_id is not None:
        return _MEETING, command.meeting_id
    return _DEADLINE, command.deadline_id


def _deadline(
    alliance: Alliance, command: ExtendDeadline | CancelDeadline | RecordReminderSent
) -> tuple[_Aggregate, uuid.UUID]:
    """Find the stream a deadline lives in: its meeting's, or its own."""
    state = alliance.state
    for meeting in state.meetings.values():
        if meeting.deadline(command.deadline_id) is not None:
            return _MEETING, meeting.meeting_id
    if command.deadline_id not in state.deadlines:
        raise UnknownReferenceError(
            "unknown-deadline", f"no deadline {command.deadline_id} is set"
        )
    return _DEADLINE, command.deadline_id


_ON_MEETING: Final = _by(_MEETING, "meeting_id")

_ROUTES: Final[Mapping[type[Command], _Route]] = {
    # the directory
    dr.RegisterOrganisation: _by(_ORGANISATION, "organisation_id"),
    dr.IssueFeedToken: _by(_ORGANISATION, "organisation_id"),
    dr.RevokeFeedToken: _by(_ORGANISATION, "organisation_id"),
    dr.AppointFocalPoint: _by(_ORGANISATION, "organisation_id"),
    dr.RegisterPerson: _by(_PERSON, "person_id"),
    dr.ChangePersonDetails: _by(_PERSON, "person_id"),
    dr.ForgetPerson: _by(_PERSON, "person_id"),
    dr.AppointOfficer: _by(_BODY, "body"),
    # settings
    st.SetFeedAddress: _feed_settings,
    # meetings: scheduling
    mt.ScheduleMeeting: _ON_MEETING,
    mt.RescheduleMeeting: _ON_MEETING,
    mt.ChangeMeetingDetails: _ON_MEETING,
    mt.ConfirmMeeting: _ON_MEETING,
    mt.CancelMeeting: _ON_MEETING,
    mt.ReinstateMeeting: _ON_MEETING,
    mt.AttachLink: _ON_MEETING,
    mt.RecordAttendance: _ON_MEETING,
    # meetings: registration
    mt.OpenRegistration: _ON_MEETING,
    mt.CloseRegistration: _ON_MEETING,
    mt.ReopenRegistration: _ON_MEETING,
    mt.ChangeRegistrationWindow: _ON_MEETING,
    mt.ChangeCapacity: _ON_MEETING,
    mt.ChangeQuota: _ON_MEETING,
    mt.NominateDelegate: _ON_MEETING,
    mt.WithdrawNomination: _ON_MEETING,
    mt.ConfirmNomination: _ON_MEETING,
    mt.DeclineNomination: _ON_MEETING,
    mt.RequestSpeaking: _ON_MEETING,
    # deadlines: of a meeting (in its stream), or on their own
    SetDeadline: _new_deadline,
    ExtendDeadline: _deadline,
    CancelDeadline: _deadline,
    RecordReminderSent: _deadline,
    # the outbox: its e-mails, and where it started
    ob.QueueMessage: _by(_MESSAGE, "message_id"),
    ob.SkipMessage: _by(_MESSAGE, "message_id"),
    ob.RecordSendFailure: _by(_MESSAGE, "message_id"),
    ob.RecordMessageSent: _by(_MESSAGE, "message_id"),
    ob.StartNotifier: lambda _, __: (_NOTIFIER, ob.NOTIFIER),
}
"""Every command the application runs: which aggregate decides it, on which stream."""


def _split_at(
    records: Sequence[Recorded], moment: _dt.datetime
) -> tuple[list[Recorded], list[Recorded]]:
    """Split a stream's records: those in effect at ``moment``, and those after it.

    The first in the order they took effect, the second in log order.
    """
    timed = [(r.effective_at, r.position, r) for r in records]
    earlier = [r for when, _, r in sorted(timed, key=lambda t: (t[0], t[1])) if when <= moment]
    later = [r for when, _, r in timed if when > moment]
    return earlier, later


def _before_the_first(first: Recorded, command: Command) -> RuleViolation:
    return RuleViolation(
        "backdated-conflict",
        f"{type(command).__name__} at {describe_moment(command.at)} comes before the "
        f"{first.type} it depends on, in effect from {describe_moment(first.effective_at)}: "
        "record that one as of an earlier time too (at=, --at), or give a later time",
    )


def _check_backdated(
    evolve: Callable[[Any, Event], Any],
    records: Sequence[Recorded],
    before: Any,
    later: Sequence[Recorded],
    events: Sequence[Event],
    command: Command,
) -> None:
    """Refuse a backdated decision that would change what was recorded since its time.

    Recorded in the order the facts took effect (this one before those recorded since,
    effective later) or in the order they were recorded (this one last, as every reader
    folds the log), the stream must come to the same state: then the facts recorded
    since stand as they were decided, and every reader agrees with the order of effect.
    Otherwise the command is refused naming the first fact it would change. So is one
    backdated before a decision whose outcome depended on the seats taken (a
    nomination seated or waitlisted, a withdrawal moving the first waiting up:
    ``DECIDED_ON_THE_SEATS``): that decision would have to be taken again.
    """
    after = fold(evolve, events, before)  # ``before``: the stream as it stood then
    touches_seats = isinstance(after, mt.MeetingState) and mt.seats_changed(before, after)
    decided_on_seats = {cls.__name__ for cls in mt.DECIDED_ON_THE_SEATS}
    for record in later:
        if touches_seats and record.metadata.get("command") in decided_on_seats:
            raise RuleViolation(
                "backdated-conflict",
                f"{type(command).__name__} at {describe_moment(command.at)} comes before "
                f"{record.metadata['command']} in effect from "
                f"{describe_moment(record.effective_at)} (position {record.position}), "
                "whose outcome (who was seated, who moved up from the waiting list) was "
                "decided on the seats taken then; record it at a later time, or correct "
                "the later facts first",
            )
    in_effect_order = fold(evolve, (r.event for r in later), after)
    in_log_order = fold(evolve, [*(r.event for r in records), *events])
    if in_effect_order == in_log_order:
        return
    first = min(later, key=lambda r: r.effective_at)
    raise RuleViolation(
        "backdated-conflict",
        f"{type(command).__name__} at {describe_moment(command.at)} would change what was "
        f"recorded since: {first.type} in effect from {describe_moment(first.effective_at)} "
        f"(position {first.position}); record it at a later time, or correct the later "
        "facts first",
    )


def _reused(metadata: Mapping[str, Any], what: str) -> RuleViolation:
    return RuleViolation(
        "command-id",
        f"command id {metadata['command_id']} was used already {what}; a command id names "
        f"one command ({metadata['command']} here): give this one a new id (or none)",
    )


def _check_same_command(recorded: Recorded, metadata: Mapping[str, Any], stream: str) -> None:
    """Refuse a command id recorded for another command (another class or content).

    Records written before digests were kept (no ``command_digest``) are compared by the
    command's class only.
    """
    stored = recorded.metadata
    if stored.get("command") != metadata["command"]:
        raise _reused(metadata, f"for {stored.get('command')} on {stream!r}")
    digest = stored.get("command_digest")
    if digest is not None and digest != metadata["command_digest"]:
        raise _reused(metadata, f"for a {stored.get('command')} with other content on {stream!r}")


class Alliance:
    """The alliance's calendar and registrations over one event log."""

    def __init__(
        self,
        log: EventLog,
        *,
        clock: Clock | None = None,
        ids: IdFactory | None = None,
    ) -> None:
        """Serve commands and queries over ``log``.

        Args:
            log: an open event log (see :func:`alliance_events.open_log`) whose registry
                holds the library's event types (the default registry does).
            clock: the time commands are given at; the system clock by default.
            ids: where new ids come from; random time-ordered UUIDs by default.

        Raises:
            UnknownEventTypeError: the log's registry lacks some of the library's types
                (it would read the library's own events as opaque ones).

        """
        _check_library_types(log.codec.registry)
        self.log = log
        self.clock: Clock = system_clock if clock is None else clock
        self.ids: IdFactory = new_id if ids is None else ids
        self.plugins: tuple[PluginLoad, ...] = ()
        """The installed tools whose event types were loaded (``open(plugins=True)``)."""
        # Started from the snapshot stored beside the log, if a good one is there, and
        # stored again now and then (see alliance_events.projections.runner).
        self._runner = ProjectionRunner(log, AllianceProjection(), snapshots=snapshot_store(log))
        # The last state "in effect at" folded, by (moment, what the log knew, head): a
        # listing asks for it once per meeting.
        self._in_effect: tuple[tuple[object, ...], AllianceState] | None = None

    @classmethod
    def open(
        cls,
        url: str,
        *,
        clock: Clock | None = None,
        ids: IdFactory | None = None,
        registry: EventRegistry | None = None,
        plugins: bool = False,
    ) -> Alliance:
        """Open the log at ``url`` (``memory:``, ``sqlite:///…``, ``postgresql://…``).

        The log's ``recorded_at`` times come from the same clock as the commands'.

        Args:
            url: where the log is.
            clock: the time commands are given at (and the log's clock).
            ids: where new ids come from.
            registry: the event types to read and write besides the library's own: the
                log is opened with a registry holding the library's types and this one's
                (this one itself if it holds them already, as the default registry and its
                copies do). By default, the default registry.
            plugins: also load the event types of the installed tools (the entry-point
                group ``alliance_events.event_types``, :mod:`alliance_events.plugins`)
                into a copy of that registry; :attr:`plugins` says what came of each. A
                broken tool is reported there, never raised.

        Raises:
            EventDefinitionError: ``registry`` holds one of the library's type names for
                a class of its own.

        """
        chosen = with_library_types(default_registry if registry is None else registry)
        loads: list[PluginLoad] = []
        if plugins:
            chosen = chosen.copy()
            loads = load_event_types(chosen)
        log = open_log(url, clock=system_clock if clock is None else clock, registry=chosen)
        alliance = cls(log, clock=clock, ids=ids)
        alliance.plugins = tuple(loads)
        return alliance

    def close(self) -> None:
        """Close the log."""
        self.log.close()

    def __enter__(self) -> Alliance:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- state ---------------------------------------------------------------------------

    @property
    def state(self) -> AllianceState:
        """The current state of everything, caught up with the log."""
        self._runner.catch_up()
        return self._runner.state

    def catch_up(self, *, progress: Callable[[int], None] | None = None) -> int:
        """Apply new events to the in-memory state; return how many there were."""
        return self._runner.catch_up(progress=progress)

    @property
    def unknown_types(self) -> Mapping[str, int]:
        """Records of types this process does not know, read so far, by type name.

        Another tool's events, when that tool is not installed here: they are read as
        opaque events and change nothing in the state. Counted as the state catches up.
        """
        return self._runner.unknown_types

    @property
    def left_out(self) -> Mapping[str, LeftOut]:
        """Streams whose item is left out of the state, read so far: stream -> why.

        An event of theirs holds a value outside the domain's ranges (a date in the year
        9999, written by a version that did not check it): its meeting, deadline...
        is in no calendar or query, instead of breaking them all.
        """
        return self._runner.state.left_out

    def state_as_of(
        self, as_of: AsOf = None, *, in_effect_at: AsOf = None
    ) -> tuple[AllianceState, pendulum.DateTime]:
        """Return the state at a moment, and the time it is looked at from.

        Two questions, two keywords. ``as_of``: what the log knew then (its records up
        to a position or a recording time). ``in_effect_at``: what was in effect then,
        as the log knows it (now, or ``as_of``): the records whose decisions had taken
        effect by then, whenever they were recorded, folded in the order they took
        effect. The minutes of 22 March written up on 24 March are in effect at 22 March
        18:00, but the log knew nothing of them then.

        Args:
            as_of: a log position (``int``), an aware time, ISO text (a date means the
                end of that day in Europe/Vienna), or ``None`` for now.
            in_effect_at: an aware time or ISO text (a date: the end of that day in
                Vienna), or ``None``: what is in effect now.

        """
        if in_effect_at is not None:
            if isinstance(in_effect_at, bool | int):
                raise RuleViolation(
                    "in-effect-at", f"in effect at {in_effect_at!r}: give a date or a time"
                )
            moment = self._instant(in_effect_at)
            return self._state_in_effect(moment, as_of), moment
        if as_of is None:
            return self.state, pendulum.instance(self.clock())
        if isinstance(as_of, bool):
            raise RuleViolation("as-of", f"as of {as_of!r}: give a position or a time")
        if isinstance(as_of, int):
            state = self._runner.as_of(position=as_of)
            return state, state.recorded_at or pendulum.instance(self.clock())
        moment = self._instant(as_of)
        return self._runner.as_of(time=moment), moment

    def _state_in_effect(self, moment: pendulum.DateTime, known: AsOf) -> AllianceState:
        """Fold the records known at ``known`` that had taken effect by ``moment``.

        The last one folded is kept while the log does not move: a listing asks for the
        same state once per meeting.
        """
        key = (moment, known, self.log.head())
        if self._in_effect is not None and self._in_effect[0] == key:
            return self._in_effect[1]
        state = self._fold_in_effect(moment, known)
        self._in_effect = (key, state)
        return state

    def _fold_in_effect(self, moment: pendulum.DateTime, known: AsOf) -> AllianceState:
        if isinstance(known, bool):
            raise RuleViolation("as-of", f"as of {known!r}: give a position or a time")
        if known is None:
            last, until = self.log.head(), None
        elif isinstance(known, int):
            last, until = known, None
        else:
            last, until = self.log.head(), self._instant(known)
        chosen = []
        for record in self.log.read_all():
            if record.position > last or (until is not None and record.recorded_at > until):
                break
            when = record.effective_at
            if when <= moment:
                chosen.append((when, record.position, record))
        chosen.sort(key=lambda item: (item[0], item[1]))
        projection = AllianceProjection()
        state = projection.initial()
        for _, _, record in chosen:
            state = projection.apply(state, record)
        if chosen:
            state.position = max(position for _, position, _ in chosen)
        return state

    @staticmethod
    def _instant(value: _dt.datetime | str) -> pendulum.DateTime:
        if isinstance(value, _dt.datetime):
            if value.utcoffset() is None:
                raise RuleViolation("as-of", f"as of {value!r}: give a time with a zone")
            return pendulum.instance(value)
        text = str(value).strip()
        if len(text) == 10:  # noqa: PLR2004 - a bare date: the end of that day in Vienna
            return end_of_day(local_date(text))
        try:
            parsed = _dt.datetime.fromisoformat(text)
        except ValueError:
            raise RuleViolation("as-of", f"as of {value!r}: not a date or time") from None
        if parsed.tzinfo is None:
            return local_datetime(parsed, DEFAULT_ZONE, disambiguate="earlier")
        return pendulum.instance(parsed)

    # -- running commands ----------------------------------------------------------------

    def _command_id(self, given: uuid.UUID | None) -> uuid.UUID:
        """Return ``given``, or a new command id."""
        return self.ids() if given is None else given

    @staticmethod
    def _new_id(given: uuid.UUID | None, command_id: uuid.UUID, kind: str) -> uuid.UUID:
        """Return ``given``, or the id of what the command creates, derived from its id.

        A command repeated with the same ``command_id`` (after an unknown outcome, say,
        whose error names the id the first call was given, even one the application
        made) then names the same meeting, nomination... and finds itself recorded,
        instead of minting a second id and clashing with its own event ids in another
        stream.
        """
        return uuid.uuid5(command_id, kind) if given is None else given

    def _do(
        self,
        command_class: type[Command],
        command_id: uuid.UUID | None,
        actor: str | None,
        at: Moment | None,
        **fields: Any,
    ) -> list[Recorded]:
        """Build a command of ``command_class`` and run it.

        It is given now (the clock's time), or at ``at``: when the decision took effect,
        a moment past (the minutes of a meeting written up later). It gets a new id if
        none is given.
        """
        now = pendulum.instance(self.clock())
        effective = now if at is None else self.effective_time(at, now=now)
        command = command_class(
            command_id=self.ids() if command_id is None else command_id,
            at=effective,
            actor=actor,
            **fields,
        )
        return self._run(command, backdated=effective < now)

    def execute(self, command: Command, *, backdated: bool = False) -> list[Recorded]:
        """Run a domain command as it is (its id, time and actor given); return its records.

        For tools that build the domain's commands themselves (the reminder outbox of
        :mod:`alliance_events.notify` does): the same path as every method of this class,
        so the same rules, ranges and command-id checks. ``backdated``: its time is a
        moment past, judged against the stream as it stood then (as ``at=`` does).

        Raises:
            KeyError: not a command this application runs.

        """
        if type(command) not in _ROUTES:
            raise KeyError(f"not a command of the application: {type(command).__name__}")
        return self._run(command, backdated=backdated)

    def effective_time(self, at: Moment, *, now: _dt.datetime | None = None) -> pendulum.DateTime:
        """Return the moment ``at`` names, as a command's effective time.

        ``at``: an aware date-time, ISO text with an offset, a wall time (in Vienna), or a
        bare date, meaning 12:00 in Vienna that day (a decision of that day, inside any
        window open that day).

        Raises:
            RuleViolation: not a moment, or one after ``now`` (rule ``at``).
            OutOfRangeError: outside the years 1900 to 2200.

        """
        if isinstance(at, _dt.datetime):
            moment = local_datetime(at, DEFAULT_ZONE, field="at")
        elif isinstance(at, str) and len(at.strip()) == 10:  # noqa: PLR2004 - a bare date
            day = local_date(at, "at")
            moment = local_datetime(_dt.datetime(day.year, day.month, day.day, 12),  # noqa: DTZ001
                                    DEFAULT_ZONE, field="at")
        elif isinstance(at, str):
            text = at.strip()
            try:
                parsed = _dt.datetime.fromisoformat(text)
            except ValueError:
                raise RuleViolation(
                    "at", f"at {at!r} is not a date or a time (2023-03-22, 2023-03-22 15:00)"
                ) from None
            moment = local_datetime(parsed, DEFAULT_ZONE, disambiguate="earlier", field="at")
        else:
            raise RuleViolation("field-type", f"at must be a date or a time, got {at!r}")
        now = pendulum.instance(self.clock()) if now is None else now
        if moment > now:
            raise RuleViolation(
                "at", f"at {moment.isoformat()} is in the future: a decision is recorded "
                "when it has been taken"
            )
        return pendulum.instance(moment)

    def _run(self, command: Command, *, backdated: bool = False) -> list[Recorded]:
        """Decide ``command`` on its aggregate's stream and append, retrying on conflicts.

        The stream's records in effect at the command's time (all of them, for a command
        given now) are folded with the aggregate's ``evolve``, in the order they took
        effect; its ``refs`` are looked up at each attempt. A backdated command that
        would change what records made since its time did (see :func:`_check_backdated`)
        is refused. A command whose id is recorded already returns those records instead
        of recording again.
        """
        check_command(command)
        aggregate, key = _ROUTES[type(command)](self, command)
        stream = aggregate.stream(key)
        metadata: dict[str, Any] = {
            "actor": command.actor,
            "command": type(command).__name__,
            "command_id": str(command.command_id),
            "command_digest": command_digest(command),
        }
        if backdated:
            metadata["effective_at"] = command.at.isoformat()
            if command.at.timezone_name and not command.at.timezone_name.startswith(("+", "-")):
                metadata["effective_zone"] = command.at.timezone_name
        for _attempt in range(_MAX_ATTEMPTS):
            records = list(self.log.read_stream(stream))
            done = [r for r in records if r.metadata.get("command_id") == metadata["command_id"]]
            if done:  # the same command id, recorded already: a retry records nothing twice
                _check_same_command(done[0], metadata, stream)
                return done
            earlier, later = _split_at(records, command.at) if backdated else (records, [])
            if records and not earlier:
                raise _before_the_first(records[0], command)
            state = fold(aggregate.evolve, (record.event for record in earlier))
            events = aggregate.decide(state, command, aggregate.refs(self, command, key))
            if not events:
                return []
            if later:
                _check_backdated(aggregate.evolve, records, state, later, events, command)
            try:
                return self.log.append(
                    stream, events, expected_version=len(records), metadata=metadata
                )
            except ConcurrencyError:
                continue
            except DuplicateEventError as error:
                # Event ids derive from the command id: it was used in another stream.
                raise _reused(metadata, f"for a command on another stream than {stream!r}") \
                    from error
        raise ConcurrencyError(stream, len(records), self.log.stream_version(stream))

    # -- directory -----------------------------------------------------------------------

    def register_organisation(
        self,
        *,
        name: str,
        acronym: str = "",
        member: bool = True,
        organisation_id: uuid.UUID | None = None,
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> uuid.UUID:
        """Make an organisation known; return its id."""
        command_id = self._command_id(command_id)
        organisation_id = self._new_id(organisation_id, command_id, "organisation")
        self._do(dr.RegisterOrganisation, command_id, actor, at, organisation_id=organisation_id,
                 name=name, acronym=acronym, member=member)
        return organisation_id

    def issue_feed_token(
        self,
        organisation: uuid.UUID,
        *,
        label: str = "",
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> tuple[uuid.UUID, str]:
        """Give an organisation a private feed address; return ``(token id, token)``.

        The token (256 random bits, URL-safe) is shown this once: the log keeps only its
        SHA-256, so a copy of the database opens no feed. Revoke it with
        :meth:`revoke_feed_token`; issue another to rotate it.

        Raises:
            TokenShownOnceError: ``command_id`` names a token issue recorded already (a
                retry after an unknown outcome): the token was issued, with the id the
                error gives, but only the first call could show it.

        """
        token = secrets.token_urlsafe(32)
        command_id = self._command_id(command_id)
        token_id = self._new_id(None, command_id, "feed-token")
        records = self._do(dr.IssueFeedToken, command_id, actor, at, organisation_id=organisation,
                           token_id=token_id, token_hash=token_hash(token), label=label)
        issued = next(
            (r.event for r in records if isinstance(r.event, dr.FeedTokenIssued)), None
        )
        if issued is not None and issued.token_hash != token_hash(token):
            # A retry of a command recorded already: its token was made by the first call.
            raise TokenShownOnceError(issued.token_id, command_id)
        return token_id, token

    def revoke_feed_token(
        self,
        organisation: uuid.UUID,
        token_id: uuid.UUID,
        *,
        reason: str = "",
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> None:
        """Stop a private feed address from working."""
        self._do(dr.RevokeFeedToken, command_id, actor, at, organisation_id=organisation,
                 token_id=token_id, reason=reason)

    def organisation_for_token(self, token: str) -> uuid.UUID | None:
        """Return the organisation a live feed token opens, or None (wrong or revoked).

        The token is hashed and the stored hash compared in constant time.
        """
        wanted = token_hash(token)
        state = self.state
        found = state.feed_tokens.get(wanted)
        if found is None:
            hmac.compare_digest(wanted, wanted)  # the same work either way
            return None
        live = state.organisations[found].feed_tokens.values()
        return found if any(hmac.compare_digest(wanted, h) for h in live) else None

    # -- settings ------------------------------------------------------------------------

    def set_feed_address(
        self,
        base_url: str,
        *,
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> str:
        """Record the feed server's public address; return it as recorded.

        Every subscribe link is built from it: the server's pages and ``token issue``
        read this one value, so they cannot disagree.

        Raises:
            RuleViolation: not an ``https://`` (or ``http://``) address with a host, or
                one with a query, fragment or credentials (rule ``base-url``).

        """
        self._do(st.SetFeedAddress, command_id, actor, at, base_url=base_url)
        return st.normalise_base_url(base_url)

    @property
    def feed_address(self) -> str | None:
        """The feed server's public address, or None if it was never set."""
        return self.state.feed_settings.base_url or None

    def feed_links(self, token: str | None = None) -> FeedLinks | None:
        """Return the public feed's addresses (with ``token``: an organisation's).

        None when no feed address was set (:meth:`set_feed_address`).
        """
        base_url = self.feed_address
        return None if base_url is None else subscribe_links(base_url, token)

    def appoint_focal_point(
        self,
        organisation: uuid.UUID,
        person: uuid.UUID | None,
        *,
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> None:
        """Name the organisation's focal point: the person its alliance e-mails go to.

        ``person`` must be a person of that organisation (``None``: nobody any more). The
        reminder outbox (:mod:`alliance_events.notify`) writes to the focal point.
        """
        self._do(dr.AppointFocalPoint, command_id, actor, at, organisation_id=organisation,
                 person_id=person)

    def register_person(
        self,
        *,
        name: str,
        email: str = "",
        organisation: uuid.UUID | None = None,
        person_id: uuid.UUID | None = None,
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> uuid.UUID:
        """Make a person known (their name and e-mail are personal data); return the id."""
        command_id = self._command_id(command_id)
        person_id = self._new_id(person_id, command_id, "person")
        self._do(dr.RegisterPerson, command_id, actor, at, person_id=person_id, name=name,
                 email=email, organisation_id=organisation)
        return person_id

    def forget_person(
        self,
        person: uuid.UUID,
        *,
        reason: str = "",
        dry_run: bool = False,
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> ForgetReport:
        """Forget a person (GDPR Article 17): delete their key, record it; return the report.

        Their name and e-mail are stored sealed with their own key, beside the log; the
        key is deleted first, then :class:`~alliance_events.domain.directory.PersonForgotten`
        is recorded (holding no personal data). From then on every replay, projection,
        feed and history shows them as erased; the log itself is not rewritten, so its
        hash chain still verifies. A retry (after a failure, or on a person forgotten
        already) deletes the key again if it is somehow back, and records nothing twice.

        ``reason`` stays in the log: it must not name the person. ``dry_run``: only say
        what would be affected.

        Raises:
            UnknownReferenceError: no such person.
            RuleViolation: some of their records were written before personal data was
                sealed (rule ``plaintext-personal-data``, naming the positions): they
                cannot be erased until the log is sealed (``seal_personal_data``); nothing
                was erased.

        """
        found = self.state.persons.get(person)
        if found is None:
            raise UnknownReferenceError("unknown-person", f"no person {person} is registered")
        records = list(self.log.read_stream(dr.person_stream(person)))
        report = self._forget_report(person, records)
        plain = [r.position for r in records
                 if type(r.event).__personal__ and person in self.log.codec.plaintext]
        if plain:
            raise RuleViolation(
                "plaintext-personal-data",
                f"cannot erase this person: the records at positions "
                f"{', '.join(map(str, plain))} hold their data in plaintext (written before "
                "personal data was sealed); run `alliance-events person seal` first. "
                "Nothing was erased",
            )
        if dry_run:
            return attrs.evolve(report, already=found.erased)
        deleted = self.log.codec.forget(person)
        if not found.erased:
            self._do(dr.ForgetPerson, command_id, actor, at, person_id=person, reason=reason)
        # A stored projection snapshot holds the state's names in clear: it goes (it is
        # written again, without them), and the key store's clean-up runs once more
        # (SQLite: the WAL checkpointed and truncated after the snapshot's deletion).
        self.catch_up()
        store = snapshot_store(self.log)
        if store is not None:
            store.delete(AllianceProjection.snapshot_name)
            self.log.codec.forget(person)
        return attrs.evolve(report, key_deleted=deleted, already=found.erased)

    def seal_personal_data(self) -> SealReport:
        """Seal, in place, the personal data a log written before sealing holds in plaintext.

        A one-time migration (SQLite and PostgreSQL), after which every person can be
        forgotten (see :mod:`alliance_events.log.reseal`).

        Raises:
            ReadOnlyStorageError: the log is open read-only.

        """
        return seal_personal_data(self.log, now=self.clock())

    def _forget_report(self, person: uuid.UUID, records: list[Recorded]) -> ForgetReport:
        state = self.state
        mentions: list[str] = []
        for meeting in state.meetings.values():
            mentions.extend(
                f"nominated as {n.role.value} to {meeting.title} ({_day_and_time(meeting.when)})"
                for n in meeting.nominations if n.person_id == person)
            if any(a.person_id == person for a in meeting.attendance):
                mentions.append(f"present at {meeting.title} ({_day_and_time(meeting.when)})")
            mentions.extend(
                f"asked to speak at {meeting.title}" for request in meeting.speaking
                if request.person_id == person)
        for body in state.bodies.values():
            mentions.extend(f"{term.role.value} of {body.body} from {term.since}"
                            for term in body.terms if term.person_id == person)
        organisation = state.persons[person].organisation_id
        feeds = ["secretariat"]
        for organisation_id, holder in state.organisations.items():
            if holder.focal_point == person:
                mentions.append(f"focal point of {state.organisation_name(organisation_id)}")
        if organisation is not None:
            feeds.insert(0, f"organisation {state.organisation_name(organisation)}")
        return ForgetReport(person_id=person, records=tuple(r.position for r in records),
                            mentions=tuple(mentions), feeds=tuple(feeds))

    def retention(self, *, years: int, now: _dt.datetime | None = None) -> list[RetentionCandidate]:
        """Return the delegates whose last meeting ended more than ``years`` years ago.

        The retention policy (off unless run: ``alliance-events person retention``):
        a person nominated to meetings is erased ``years`` years after the last of them
        ends. Kept (``kept`` says why): the focal point of an organisation and a current
        officer, who are more than delegates.

        Raises:
            RuleViolation: ``years`` is not from 1 to 100.

        """
        if isinstance(years, bool) or not isinstance(years, int) or not 1 <= years <= 100:  # noqa: PLR2004
            raise RuleViolation("years", f"years must be from 1 to 100, got {years!r}")
        state = self.state
        today = pendulum.instance(self.clock() if now is None else now).in_timezone(
            DEFAULT_ZONE).date()
        limit = today.subtract(years=years)
        last: dict[uuid.UUID, pendulum.Date] = {}
        for meeting in state.meetings.values():
            for nomination in meeting.nominations:
                day = meeting.when.last_day
                if last.get(nomination.person_id, day) <= day:
                    last[nomination.person_id] = day
        focal = {o.focal_point for o in state.organisations.values()}
        officers = {t.person_id for b in state.bodies.values() for t in b.terms if t.until is None}
        found = []
        for person_id, day in sorted(last.items(), key=lambda item: (item[1], str(item[0]))):
            person = state.persons.get(person_id)
            if person is None or person.erased or day >= limit:
                continue
            kept = ("focal point of an organisation" if person_id in focal else
                    "a current officer" if person_id in officers else "")
            found.append(RetentionCandidate(person_id=person_id, last_meeting=day, kept=kept))
        return found

    def appoint_officer(
        self,
        *,
        body: str,
        role: OfficerRole | str,
        person: uuid.UUID,
        since: _dt.date | str,
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> None:
        """Appoint ``person`` to ``role`` in ``body`` from ``since`` (replacing the holder)."""
        self._do(dr.AppointOfficer, command_id, actor, at, body=body,
                 role=_enum(OfficerRole, role, "role"), person_id=person,
                 since=local_date(since, "since"))

    # -- names people type ---------------------------------------------------------------
    # Each thing is named by its id, by its short reference (what the command line's
    # tables show: see short_refs), by a beginning of its id, or by what people call it
    # (a title, a name, an acronym, an e-mail address; a meeting's title and date).

    def references(self, kind: ReferenceKind) -> dict[uuid.UUID, str]:
        """Return the short reference of every meeting, organisation, person or deadline.

        What the command line's tables show, and what the ``find_*`` methods accept:
        both take the references among all things of the ``kind`` (``"meeting"``,
        ``"organisation"``, ``"person"`` or ``"deadline"``) known now.
        """
        state = self.state
        if kind == "meeting":
            return short_refs(state.meetings)
        if kind == "organisation":
            return short_refs(state.organisations)
        if kind == "person":
            return short_refs(state.persons)
        if kind == "deadline":
            return short_refs(d.deadline_id for d in state.all_deadlines())
        raise RuleViolation("kind", f"references of {kind!r}: of a meeting, organisation, "
                            "person or deadline")

    def nomination_references(self, meeting: uuid.UUID) -> dict[uuid.UUID, str]:
        """Return the short reference of each of the meeting's nominations (see above).

        Raises:
            UnknownReferenceError: no such meeting.

        """
        return short_refs(n.nomination_id for n in self._meeting_state(meeting).nominations)

    def _meeting_state(self, meeting: uuid.UUID) -> mt.MeetingState:
        found = self.state.meeting(meeting)
        if found is None:
            raise UnknownReferenceError("unknown-meeting", f"no meeting {meeting} is scheduled")
        return found

    def find_organisation(self, name: str) -> uuid.UUID:
        """Return the id of the organisation with this name, acronym (any case) or reference.

        ``name`` may also be its id, its short reference or a beginning of its id.

        Raises:
            UnknownReferenceError: none has it (rule ``unknown-organisation``), or more
                than one (rule ``ambiguous-organisation``; the message lists them).

        """
        organisations = self.state.organisations
        wanted = name.strip().casefold()
        matches = [
            o.organisation_id
            for o in organisations.values()
            # An empty query must not match an organisation that has no acronym.
            if wanted
            and wanted in (o.name.casefold(), o.acronym.casefold(), str(o.organisation_id))
        ] or _referenced(name, organisations)

        def candidate(organisation_id: uuid.UUID, ref: str) -> str:
            found = organisations[organisation_id]
            return f"{found.name!r} ({', '.join(filter(None, [found.acronym, f'ref {ref}']))})"

        return _one("organisation", name, matches, organisations, candidate,
                    "name one by its acronym or its ref")

    def find_person(self, name: str) -> uuid.UUID:
        """Return the id of the person with this name or e-mail (any case) or reference.

        ``name`` may also be their id, their short reference or a beginning of their id.

        Raises:
            UnknownReferenceError: none has it (rule ``unknown-person``), or more than
                one (rule ``ambiguous-person``; the message lists them).

        """
        state = self.state
        persons = state.persons
        wanted = name.strip().casefold()
        matches = [
            p.person_id
            for p in persons.values()
            # An empty query must not match a person who has no e-mail address.
            if wanted and wanted in (p.name.casefold(), p.email.casefold(), str(p.person_id))
        ] or _referenced(name, persons)

        def candidate(person_id: uuid.UUID, ref: str) -> str:
            found = persons[person_id]
            known = [state.organisation_name(found.organisation_id), found.email]
            return f"{found.name!r} ({', '.join([*filter(None, known), f'ref {ref}'])})"

        return _one("person", name, matches, persons, candidate,
                    "name one by their e-mail or their ref")

    def find_meeting(self, name: str) -> uuid.UUID:
        """Return the id of the meeting ``name`` names.

        ``name`` is its whole title (any case); its title and one of its days
        (``"Informal Meeting 2023-04-19"``, local to its zone); a day (the one meeting
        on it); its short reference (``"c243c6"``, as the tables show it); a beginning
        of its id (at least 4 hex digits); or its id.

        Raises:
            UnknownReferenceError: no meeting has it (rule ``unknown-meeting``), or more
                than one (rule ``ambiguous-meeting``; the message lists them by title,
                day and ref, to name one of them by).

        """
        text = name.strip()
        state = self.state
        meetings = state.meetings
        meeting_id = _as_uuid(text)
        if meeting_id is not None:
            if meeting_id not in meetings:
                raise UnknownReferenceError("unknown-meeting", f"no meeting {text} is scheduled")
            return meeting_id
        wanted = text.casefold()
        matches = [
            m.meeting_id for m in meetings.values() if wanted and m.title.casefold() == wanted
        ]
        dated = _TITLE_AND_DAY.fullmatch(text)
        if not matches and dated is not None:
            title = dated["title"].strip().casefold()
            day = _day_or_none(dated["day"])
            matches = [
                m.meeting_id for m in meetings.values()
                if day is not None and m.title.casefold() == title and m.when.contains_day(day)
            ]
        if not matches and _DAY.fullmatch(text):
            day = _day_or_none(text)
            matches = [
                m.meeting_id for m in meetings.values()
                if day is not None and m.when.contains_day(day)
            ]
        elif not matches:
            matches = _referenced(text, meetings)
        matches.sort(key=lambda m: (_sort_key(meetings[m].when), meetings[m].title))

        def candidate(meeting_id: uuid.UUID, ref: str) -> str:
            found = meetings[meeting_id]
            return f"{found.title!r} {_day_and_time(found.when)} (ref {ref})"

        return _one("meeting", name, matches, meetings, candidate,
                    "name one by 'TITLE YYYY-MM-DD' or by its ref")

    def find_deadline(self, name: str) -> uuid.UUID:
        """Return the id of the deadline with this title (a whole title, any case).

        ``name`` may also be its id, its short reference or a beginning of its id.

        Raises:
            UnknownReferenceError: no deadline has it (rule ``unknown-deadline``), or more
                than one (rule ``ambiguous-deadline``, listing them with their refs).

        """
        text = name.strip()
        deadlines = {d.deadline_id: d for d in self.state.all_deadlines()}
        deadline_id = _as_uuid(text)
        if deadline_id is not None:
            if deadline_id not in deadlines:
                raise UnknownReferenceError("unknown-deadline", f"no deadline {text} is set")
            return deadline_id
        wanted = text.casefold()
        matches = [
            d.deadline_id for d in deadlines.values() if wanted and d.title.casefold() == wanted
        ] or _referenced(text, deadlines)

        def candidate(deadline_id: uuid.UUID, ref: str) -> str:
            found = deadlines[deadline_id]
            return f"{found.title!r} due {_due_day(found.due).isoformat()} (ref {ref})"

        return _one("deadline", name, matches, deadlines, candidate, "name one by its ref")

    def find_nomination(self, meeting: uuid.UUID, name: str) -> uuid.UUID:
        """Return the id of the meeting's nomination ``name`` names.

        ``name`` is its id, its short reference (among the meeting's nominations) or a
        beginning of its id; or its delegate, by name, e-mail, reference or id. A person
        has at most one active nomination per meeting; if none is active, their latest
        one is named (and a command says why it cannot apply to it).

        Raises:
            UnknownReferenceError: no such meeting (``unknown-meeting``); no such person
                (``unknown-person``); nobody of that name is nominated
                (``unknown-nomination``); or the name fits more than one
                (``ambiguous-nomination``, listing them).

        """
        state = self.state
        meeting_state = self._meeting_state(meeting)
        nominations = {n.nomination_id: n for n in meeting_state.nominations}
        text = name.strip()
        wanted = text.casefold()
        as_id = _as_uuid(text)
        by_ref: list[uuid.UUID] = []
        if as_id is not None:
            if as_id in nominations:
                return as_id
            persons = {self.find_person(text)}
        else:
            persons = {
                n.person_id for n in nominations.values()
                if (p := state.persons.get(n.person_id)) is not None and wanted
                and wanted in (p.name.casefold(), p.email.casefold())
            }
            by_ref = [] if persons else _referenced(text, nominations)
            if not persons and not by_ref:
                persons = {self.find_person(text)}
        # Each person's active nomination, or their latest one.
        matches = list(by_ref)
        for person in persons:
            theirs = [n for n in nominations.values() if n.person_id == person]
            active = [n for n in theirs if n.status.active]
            matches.extend(n.nomination_id for n in (active or theirs)[-1:])
        if not matches:
            raise UnknownReferenceError(
                "unknown-nomination",
                f"{name!r} is not nominated for {meeting_state.title!r}",
            )

        def candidate(nomination_id: uuid.UUID, ref: str) -> str:
            found = nominations[nomination_id]
            return (
                f"{state.person_name(found.person_id)!r} "
                f"({state.organisation_name(found.organisation_id)}, {found.role.value}, "
                f"{found.status.value}, ref {ref})"
            )

        return _one("nomination", name, matches, nominations, candidate,
                    "name one by its ref", where=f" for {meeting_state.title!r}")

    def feed_tokens(self, organisation: uuid.UUID) -> list[FeedTokenView]:
        """Return the organisation's live feed tokens in the order they were issued.

        Each with its id, its short reference, its label and when it was issued (as
        the log recorded it): the tokens themselves are not kept.

        Raises:
            UnknownReferenceError: no such organisation.

        """
        found = self.state.organisations.get(organisation)
        if found is None:
            raise UnknownReferenceError(
                "unknown-organisation", f"no organisation {organisation} is registered"
            )
        live = found.feed_tokens
        refs = short_refs(live)
        return [
            FeedTokenView(token_id=record.event.token_id, ref=refs[record.event.token_id],
                          label=record.event.label, issued_at=record.recorded_at)
            for record in self.log.read_stream(dr.organisation_stream(organisation))
            if isinstance(record.event, dr.FeedTokenIssued) and record.event.token_id in live
        ]

    def find_feed_token(self, organisation: uuid.UUID, name: str) -> uuid.UUID:
        """Return the id of the organisation's live feed token ``name`` names.

        ``name`` is its id, its short reference or a beginning of its id, or its label.

        Raises:
            UnknownReferenceError: no such organisation, no such live token
                (``unknown-token``), or more than one (``ambiguous-token``).

        """
        tokens = {t.token_id: t for t in self.feed_tokens(organisation)}
        text = name.strip()
        as_id = _as_uuid(text)
        wanted = text.casefold()
        matches = (
            [as_id] if as_id is not None and as_id in tokens
            else [t.token_id for t in tokens.values() if wanted and t.label.casefold() == wanted]
            or _referenced(text, tokens)
        )

        def candidate(token_id: uuid.UUID, ref: str) -> str:
            token = tokens[token_id]
            label = f"{token.label!r}, " if token.label else ""
            return f"ref {ref} ({label}issued {token.issued_at.date().isoformat()})"

        name_of = self.state.organisations[organisation].name
        return _one("token", name, matches, tokens, candidate, "name one by its ref",
                    where=f" of {name_of!r}", noun="live feed token")

    # -- meetings ------------------------------------------------------------------------

    @staticmethod
    def _when(
        start: str | _dt.datetime | None,
        end: str | _dt.datetime | None,
        zone_name: str,
        first_day: str | _dt.date | None,
        last_day: str | _dt.date | None,
        disambiguate: Disambiguate,
    ) -> When:
        if (start is None) == (first_day is None):
            raise RuleViolation(
                "when", "give either start (and end) for a timed meeting, or first_day "
                "(and last_day) for an all-day one"
            )
        if first_day is not None:
            return all_day(first_day, last_day)
        if end is None:
            raise RuleViolation("when", "a timed meeting needs an end")
        assert start is not None  # noqa: S101 - checked above
        return timed(start, end, zone_name, disambiguate=disambiguate)

    def schedule_meeting(
        self,
        *,
        title: str,
        kind: MeetingKind | str = MeetingKind.INFORMAL_MEETING,
        start: str | _dt.datetime | None = None,
        end: str | _dt.datetime | None = None,
        zone: str = DEFAULT_ZONE,
        first_day: str | _dt.date | None = None,
        last_day: str | _dt.date | None = None,
        disambiguate: Disambiguate = "raise",
        location: str = "",
        online_url: str = "",
        parent: uuid.UUID | None = None,
        tentative: bool = False,
        organiser: str = "",
        description: str = "",
        meeting_id: uuid.UUID | None = None,
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> uuid.UUID:
        """Put a meeting in the calendar; return its id.

        Timed (``start``, ``end`` wall times in ``zone``; ``end`` may be a time of day)
        or all-day (``first_day``, ``last_day`` inclusive). ``zone`` is an IANA name, or
        a fixed offset such as ``GMT+1``. A wall time in a summer-time gap or overlap is
        refused unless ``disambiguate`` says "earlier" or "later".
        """
        command_id = self._command_id(command_id)
        meeting_id = self._new_id(meeting_id, command_id, "meeting")
        self._do(
            mt.ScheduleMeeting, command_id, actor, at,
            meeting_id=meeting_id,
            title=title,
            kind=_enum(MeetingKind, kind, "kind"),
            when=self._when(start, end, zone, first_day, last_day, disambiguate),
            location=location,
            online_url=online_url,
            parent_id=parent,
            tentative=tentative,
            organiser=organiser,
            description=description,
        )
        return meeting_id

    def reschedule_meeting(
        self,
        meeting: uuid.UUID,
        *,
        start: str | _dt.datetime | None = None,
        end: str | _dt.datetime | None = None,
        zone: str = DEFAULT_ZONE,
        first_day: str | _dt.date | None = None,
        last_day: str | _dt.date | None = None,
        disambiguate: Disambiguate = "raise",
        reason: str = "",
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> None:
        """Move a meeting (its UID stays, its calendar SEQUENCE rises)."""
        self._do(mt.RescheduleMeeting, command_id, actor, at, meeting_id=meeting,
                 when=self._when(start, end, zone, first_day, last_day, disambiguate),
                 reason=reason)

    def change_meeting_details(
        self,
        meeting: uuid.UUID,
        *,
        title: str | None = None,
        location: str | None = None,
        online_url: str | None = None,
        organiser: str | None = None,
        description: str | None = None,
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> None:
        """Change a meeting's details (``None``: unchanged; ``""``: cleared)."""
        self._do(mt.ChangeMeetingDetails, command_id, actor, at, meeting_id=meeting, title=title,
                 location=location, online_url=online_url, organiser=organiser,
                 description=description)

    def confirm_meeting(
        self,
        meeting: uuid.UUID,
        *,
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> None:
        """Confirm a tentative meeting."""
        self._do(mt.ConfirmMeeting, command_id, actor, at, meeting_id=meeting)

    def cancel_meeting(
        self,
        meeting: uuid.UUID,
        *,
        reason: str = "",
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> None:
        """Cancel a meeting; its sessions and side events show as cancelled too."""
        self._do(mt.CancelMeeting, command_id, actor, at, meeting_id=meeting, reason=reason)

    def reinstate_meeting(
        self,
        meeting: uuid.UUID,
        *,
        reason: str,
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> None:
        """Take back a cancellation made by mistake (a reason is required)."""
        self._do(mt.ReinstateMeeting, command_id, actor, at, meeting_id=meeting, reason=reason)

    def attach_link(
        self,
        meeting: uuid.UUID,
        *,
        url: str,
        kind: LinkKind | str = LinkKind.REPORT,
        title: str = "",
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> None:
        """Attach a report, recording or document to a meeting."""
        self._do(mt.AttachLink, command_id, actor, at, meeting_id=meeting,
                 kind=_enum(LinkKind, kind, "kind"), url=url, title=title)

    def record_attendance(
        self,
        meeting: uuid.UUID,
        *,
        attendees: Iterable[uuid.UUID | tuple[uuid.UUID, uuid.UUID | None, str]],
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> None:
        """Record who was present: person ids, or ``(person, organisation, capacity)``."""
        people = tuple(_attendee(a) for a in _sequence(attendees, "attendees"))
        self._do(mt.RecordAttendance, command_id, actor, at, meeting_id=meeting, attendees=people)

    # -- registration --------------------------------------------------------------------

    @staticmethod
    def _moment(
        value: str | _dt.datetime | _dt.date, zone_name: str, *, end: bool
    ) -> pendulum.DateTime:
        """Return a registration time: a date means its start (for ``end``: its end)."""
        field = "closes" if end else "opens"
        bare_date = isinstance(value, str) and len(value.strip()) == 10  # noqa: PLR2004
        if bare_date or (isinstance(value, _dt.date) and not isinstance(value, _dt.datetime)):
            return _day_edge(local_date(value, field), zone_name, end=end)
        return local_datetime(value, zone_name, field=field)

    def open_registration(
        self,
        meeting: uuid.UUID,
        *,
        opens: str | _dt.datetime | _dt.date,
        closes: str | _dt.datetime | _dt.date,
        zone: str = DEFAULT_ZONE,
        capacity: int | None = None,
        quotas: Mapping[Role | str, int] | None = None,
        funded_places: int | None = None,
        funded_per_delegation: int | None = None,
        funded_roles: Sequence[Role | str] = (),
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> None:
        """Open registration: window (a date means its whole day), capacity, quotas, funding.

        ``quotas`` maps roles to the most delegates of that role per delegation, e.g.
        ``{"speaker": 1, "alternate": 1}``.
        """
        self._do(
            mt.OpenRegistration, command_id, actor, at,
            meeting_id=meeting,
            opens_at=self._moment(opens, zone, end=False),
            closes_at=self._moment(closes, zone, end=True),
            capacity=capacity,
            quotas=_quotas(quotas or {}),
            funded_places=funded_places,
            funded_per_delegation=funded_per_delegation,
            funded_roles=tuple(
                _enum(Role, r, "funded_roles") for r in _sequence(funded_roles, "funded_roles")
            ),
        )

    def close_registration(
        self,
        meeting: uuid.UUID,
        *,
        reason: str = "",
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> None:
        """Close registration now."""
        self._do(mt.CloseRegistration, command_id, actor, at, meeting_id=meeting, reason=reason)

    def reopen_registration(
        self,
        meeting: uuid.UUID,
        *,
        closes: str | _dt.datetime | _dt.date,
        zone: str = DEFAULT_ZONE,
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> None:
        """Open a closed registration again until ``closes``."""
        self._do(mt.ReopenRegistration, command_id, actor, at, meeting_id=meeting,
                 closes_at=self._moment(closes, zone, end=True))

    def change_registration_window(
        self,
        meeting: uuid.UUID,
        *,
        opens: str | _dt.datetime | _dt.date,
        closes: str | _dt.datetime | _dt.date,
        zone: str = DEFAULT_ZONE,
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> None:
        """Move the registration window."""
        self._do(mt.ChangeRegistrationWindow, command_id, actor, at, meeting_id=meeting,
                 opens_at=self._moment(opens, zone, end=False),
                 closes_at=self._moment(closes, zone, end=True))

    def change_capacity(
        self,
        meeting: uuid.UUID,
        *,
        capacity: int | None,
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> None:
        """Change the room's capacity; the waiting list moves up (or back) accordingly."""
        self._do(mt.ChangeCapacity, command_id, actor, at, meeting_id=meeting, capacity=capacity)

    def change_quota(
        self,
        meeting: uuid.UUID,
        *,
        quotas: Mapping[Role | str, int],
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> None:
        """Replace the per-delegation quotas."""
        self._do(mt.ChangeQuota, command_id, actor, at, meeting_id=meeting, quotas=_quotas(quotas))

    def nominate(
        self,
        meeting: uuid.UUID,
        *,
        organisation: uuid.UUID,
        person: uuid.UUID,
        role: Role | str,
        funding_requested: bool = False,
        nomination_id: uuid.UUID | None = None,
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> uuid.UUID:
        """Nominate a delegate; over capacity it goes on the waiting list. Return its id."""
        command_id = self._command_id(command_id)
        nomination_id = self._new_id(nomination_id, command_id, "nomination")
        self._do(mt.NominateDelegate, command_id, actor, at, meeting_id=meeting,
                 nomination_id=nomination_id, organisation_id=organisation, person_id=person,
                 role=_enum(Role, role, "role"), funding_requested=funding_requested)
        return nomination_id

    def withdraw_nomination(
        self,
        meeting: uuid.UUID,
        nomination: uuid.UUID,
        *,
        reason: str = "",
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> None:
        """Withdraw a nomination (its seat goes to the first on the waiting list)."""
        self._do(mt.WithdrawNomination, command_id, actor, at, meeting_id=meeting,
                 nomination_id=nomination, reason=reason)

    def confirm_nomination(
        self,
        meeting: uuid.UUID,
        nomination: uuid.UUID,
        *,
        funded: bool = False,
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> None:
        """Confirm a seated nomination, funded or not (within the funding caps)."""
        self._do(mt.ConfirmNomination, command_id, actor, at, meeting_id=meeting,
                 nomination_id=nomination, funded=funded)

    def decline_nomination(
        self,
        meeting: uuid.UUID,
        nomination: uuid.UUID,
        *,
        reason: str = "",
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> None:
        """Decline a nomination (its seat goes to the first on the waiting list)."""
        self._do(mt.DeclineNomination, command_id, actor, at, meeting_id=meeting,
                 nomination_id=nomination, reason=reason)

    def request_speaking(
        self,
        meeting: uuid.UUID,
        *,
        organisation: uuid.UUID,
        day: str | _dt.date,
        topic: str = "",
        person: uuid.UUID | None = None,
        request_id: uuid.UUID | None = None,
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> uuid.UUID:
        """Record an organisation's request to speak on one day of the meeting."""
        command_id = self._command_id(command_id)
        request_id = self._new_id(request_id, command_id, "speaking-request")
        self._do(mt.RequestSpeaking, command_id, actor, at, meeting_id=meeting,
                 request_id=request_id, organisation_id=organisation, day=local_date(day, "day"),
                 topic=topic, person_id=person)
        return request_id

    # -- deadlines -----------------------------------------------------------------------

    @staticmethod
    def _due(due: str | _dt.datetime | _dt.date, zone_name: str) -> Due:
        if isinstance(due, _dt.date) and not isinstance(due, _dt.datetime):
            zone(zone_name)
            return DueBy(day=local_date(due, "due"), zone=zone_name)
        if isinstance(due, str) and len(due.strip()) == 10:  # noqa: PLR2004 - a bare date
            zone(zone_name)
            return DueBy(day=local_date(due, "due"), zone=zone_name)
        return DueAt(at=local_datetime(due, zone_name, field="due"))

    def set_deadline(
        self,
        *,
        title: str,
        due: str | _dt.datetime | _dt.date,
        zone: str = DEFAULT_ZONE,
        kind: DeadlineKind | str = DeadlineKind.OTHER,
        meeting: uuid.UUID | None = None,
        organisation: uuid.UUID | None = None,
        reminders: Iterable[_dt.timedelta | str | int] = (),
        public: bool = True,
        description: str = "",
        deadline_id: uuid.UUID | None = None,
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> uuid.UUID:
        """Set a deadline (a date: by the end of that day; a time: at it); return its id.

        ``reminders`` are durations before it: ``"P7D"``, ``timedelta(days=1)``, or a
        number of days.
        """
        command_id = self._command_id(command_id)
        deadline_id = self._new_id(deadline_id, command_id, "deadline")
        self._do(
            SetDeadline, command_id, actor, at,
            deadline_id=deadline_id,
            title=title,
            due=self._due(due, zone),
            kind=_enum(DeadlineKind, kind, "kind"),
            meeting_id=meeting,
            organisation_id=organisation,
            reminders=tuple(_duration(r) for r in _sequence(reminders, "reminders")),
            public=public,
            description=description,
        )
        return deadline_id

    def extend_deadline(
        self,
        deadline: uuid.UUID,
        *,
        due: str | _dt.datetime | _dt.date,
        zone: str = DEFAULT_ZONE,
        reason: str = "",
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> None:
        """Move a deadline later."""
        self._do(ExtendDeadline, command_id, actor, at, deadline_id=deadline,
                 due=self._due(due, zone), reason=reason)

    def cancel_deadline(
        self,
        deadline: uuid.UUID,
        *,
        reason: str = "",
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> None:
        """Cancel a deadline."""
        self._do(CancelDeadline, command_id, actor, at, deadline_id=deadline, reason=reason)

    def record_reminder_sent(
        self,
        deadline: uuid.UUID,
        *,
        channel: str = "e-mail",
        note: str = "",
        actor: str | None = None,
        command_id: uuid.UUID | None = None,
        at: Moment | None = None,
    ) -> None:
        """Record that a reminder of the deadline went out (the mailing tool calls this)."""
        self._do(RecordReminderSent, command_id, actor, at, deadline_id=deadline, channel=channel,
                 note=note)

    # -- queries -------------------------------------------------------------------------

    def registration(
        self, meeting_id: uuid.UUID, *, as_of: AsOf = None, in_effect_at: AsOf = None
    ) -> RegistrationView:
        """Return the meeting's registration state, now or at a past moment.

        ``as_of``: as the log knew it then; ``in_effect_at``: as it was in effect then
        (see :meth:`state_as_of`).

        Raises:
            UnknownReferenceError: no such meeting (at that moment).

        """
        state, at = self.state_as_of(as_of, in_effect_at=in_effect_at)
        meeting = state.meeting(meeting_id)
        if meeting is None:
            raise UnknownReferenceError("unknown-meeting", f"no meeting {meeting_id} is scheduled")
        return registration_view(state, meeting, at)

    def meetings(
        self,
        *,
        as_of: AsOf = None,
        include_cancelled: bool = True,
        kind: MeetingKind | str | None = None,
        parent: uuid.UUID | None = None,
        from_day: _dt.date | str | None = None,
        to_day: _dt.date | str | None = None,
        upcoming: bool = False,
        in_effect_at: AsOf = None,
    ) -> list[MeetingView]:
        """Return the scheduled meetings, by start time.

        ``from_day`` and ``to_day`` keep those taking place on one of the days between
        them (inclusive; each meeting's days are local to its zone). ``upcoming`` keeps
        those not ended at the moment looked from (now, or ``as_of``); an all-day
        meeting ends with its last day in Europe/Vienna. ``as_of`` and ``in_effect_at``:
        as the log knew them then, or as they were in effect then (:meth:`state_as_of`).
        """
        state, at = self.state_as_of(as_of, in_effect_at=in_effect_at)
        wanted = None if kind is None else _enum(MeetingKind, kind, "kind")
        first = None if from_day is None else local_date(from_day, "from day")
        last = None if to_day is None else local_date(to_day, "to day")
        views = [
            meeting_view(state, m)
            for m in state.meetings.values()
            if (wanted is None or m.kind is wanted)
            and (parent is None or m.parent_id == parent)
            and (first is None or m.when.last_day >= first)
            and (last is None or m.when.first_day <= last)
            and (not upcoming or _ends(m.when) > at)
        ]
        if not include_cancelled:
            views = [v for v in views if v.status is not MeetingStatus.CANCELLED]
        return sorted(views, key=lambda v: (_sort_key(v.when), v.title))

    def deadlines(
        self,
        *,
        as_of: AsOf = None,
        organisation: uuid.UUID | None = None,
        meeting: uuid.UUID | None = None,
        include_cancelled: bool = False,
        in_effect_at: AsOf = None,
    ) -> list[DeadlineView]:
        """Return deadlines by due time, with their status at that moment.

        ``as_of``: as the log knew them then; ``in_effect_at``: as they were in effect
        then (see :meth:`state_as_of`).
        """
        state, at = self.state_as_of(as_of, in_effect_at=in_effect_at)
        views = [
            deadline_view(
                d,
                at,
                meeting_cancelled=d.meeting_id is not None
                and d.meeting_id in state.meetings
                and state.effective_status(d.meeting_id) is MeetingStatus.CANCELLED,
            )
            for d in state.all_deadlines()
            # An organisation sees its own deadlines and the public ones.
            if (organisation is None or d.organisation_id == organisation
                or (d.organisation_id is None and d.public))
            and (meeting is None or d.meeting_id == meeting)
        ]
        if not include_cancelled:
            views = [v for v in views if v.status != "cancelled"]
        return sorted(views, key=lambda v: (v.due, v.title))

    def history(
        self, meeting_id: uuid.UUID, *, as_of: AsOf = None, in_effect_at: AsOf = None
    ) -> list[HistoryEntry]:
        """Return the meeting's audit trail in plain words: who did what, when.

        Each entry says when its decision took effect and when it was recorded.

        Args:
            meeting_id: the meeting.
            as_of: stop at a past moment (as :meth:`state_as_of`), naming people and
                organisations as they were known then.
            in_effect_at: only what had taken effect by then (as :meth:`state_as_of`).

        Raises:
            UnknownReferenceError: no such meeting (at that moment).

        """
        return [entry for _, entry in self.history_with_parts(
            meeting_id, as_of=as_of, in_effect_at=in_effect_at, parts=False)]

    def history_with_parts(
        self,
        meeting_id: uuid.UUID,
        *,
        as_of: AsOf = None,
        in_effect_at: AsOf = None,
        parts: bool = True,
    ) -> list[tuple[uuid.UUID, HistoryEntry]]:
        """Return the audit trail of the meeting and of its parts, in the order recorded.

        Its parts are its sessions and side events, and theirs: each entry comes with
        the id of the meeting it is about. ``as_of`` and ``in_effect_at`` as for
        :meth:`history` (the parts are those known, or in effect, then); ``parts=False``:
        the meeting's own entries only.

        Raises:
            UnknownReferenceError: no such meeting (at that moment).

        """
        state, moment = self.state_as_of(as_of, in_effect_at=in_effect_at)
        if state.meeting(meeting_id) is None:
            raise UnknownReferenceError("unknown-meeting", f"no meeting {meeting_id} is scheduled")
        known = as_of is not None or in_effect_at is not None
        entries = [
            (about, history_entry(record, state))
            for about in (meeting_id, *(state.descendants(meeting_id) if parts else ()))
            for record in self.log.read_stream(mt.meeting_stream(about))
            if (not known or record.position <= state.position)
            and (in_effect_at is None or record.effective_at <= moment)
        ]
        return sorted(entries, key=lambda pair: pair[1].position)

    # -- queries for the edges -------------------------------------------------------------
    # (The command line and the feed server reach the projections through the
    # application only: tests/test_layers.py.)

    def history_entries(self, records: Iterable[Recorded]) -> list[HistoryEntry]:
        """Return ``records`` in plain words, as :meth:`history` does, in the same order.

        People and organisations are named as the state knows them now (it is caught
        up first, so records just read from the log are included).
        """
        state = self.state
        return [history_entry(record, state) for record in records]


def _check_library_types(registry: EventRegistry) -> None:
    missing = missing_library_types(registry)
    if missing:
        shown = ", ".join(repr(name) for name in missing[:3])
        more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""  # noqa: PLR2004
        raise UnknownEventTypeError(
            missing[0],
            f"the log's registry lacks the library's event types {shown}{more}: the "
            "application would read its own events as opaque ones; open the log with the "
            "default registry, alliance_events.library_registry() or a copy of either, "
            "with your own types added to it (Alliance.open does that for you)",
        )


def token_hash(token: str) -> str:
    """Return the hex SHA-256 of a feed token: what the log stores instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


def _as_uuid(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


# -- references people type -------------------------------------------------------------

REFERENCE_LENGTH: Final = 6
"""The length of a short reference, unless another id ends with the same digits."""
_PREFIX_LENGTH: Final = 4
"""The shortest beginning of an id that names it."""
_CANDIDATES_SHOWN: Final = 8
_HEX: Final = re.compile(r"[0-9a-f]+")
_DAY: Final = re.compile(r"\d{4}-\d{2}-\d{2}")
_TITLE_AND_DAY: Final = re.compile(r"(?P<title>.*\S)\s+(?P<day>\d{4}-\d{2}-\d{2})")


def short_refs(ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Return each id's short reference: the shortest end of its hex digits no other shares.

    The end, not the beginning: ids made one after another (time-ordered UUIDv7) share
    their first digits, while their last ones are random. A reference has
    :data:`REFERENCE_LENGTH` digits, one more for each further digit another id ends
    with too: 8 at most among thousands of ids (longer only for two ids sharing their
    last 8 digits, one pair in about 4 billion).

    >>> first = uuid.UUID("0188a0e4-5d1c-7a3f-8b2e-5eb1a2c243c6")
    >>> second = uuid.UUID("0188a0e4-5d1d-7c10-9d4a-0a91f3c243c6")
    >>> short_refs([first])[first]
    'c243c6'
    >>> refs = short_refs([first, second])
    >>> refs[first], refs[second]
    ('2c243c6', '3c243c6')
    """
    pending = {i: i.hex for i in ids}
    everyone = list(pending.values())
    refs: dict[uuid.UUID, str] = {}
    length = REFERENCE_LENGTH
    while pending:
        ends = Counter(digits[-length:] for digits in everyone)
        for key, digits in list(pending.items()):
            if ends[digits[-length:]] == 1:
                refs[key] = digits[-length:]
                del pending[key]
        length += 1
    return refs


def _referenced(text: str, ids: Iterable[uuid.UUID]) -> list[uuid.UUID]:
    """Return the ids ``text`` names as a reference.

    A reference is an end of an id's hex digits (at least :data:`REFERENCE_LENGTH`: the
    short reference, or more), or a beginning (at least 4 digits; dashes optional).
    """
    wanted = text.strip().lower().replace("-", "")
    if len(wanted) < _PREFIX_LENGTH or not _HEX.fullmatch(wanted):
        return []
    return [
        i for i in ids
        if i.hex.startswith(wanted)
        or (len(wanted) >= REFERENCE_LENGTH and i.hex.endswith(wanted))
    ]


def _one(
    what: str,
    name: str,
    matches: Sequence[uuid.UUID],
    known: Iterable[uuid.UUID],
    candidate: Callable[[uuid.UUID, str], str],
    hint: str,
    *,
    where: str = "",
    noun: str | None = None,
) -> uuid.UUID:
    """Return the one id in ``matches``, or refuse none (``unknown-<what>``) or several.

    Several are refused as ``ambiguous-<what>``, in one line listing them (each as
    ``candidate(id, its short reference)``) and ``hint``, how to name one of them.
    """
    noun = noun or what
    unique = list(dict.fromkeys(matches))
    if len(unique) == 1:
        return unique[0]
    shown = name.strip()
    if not unique:
        raise UnknownReferenceError(f"unknown-{what}", f"no {noun}{where} matches {shown!r}")
    refs = short_refs(known)
    listed = "; ".join(candidate(i, refs[i]) for i in unique[:_CANDIDATES_SHOWN])
    if len(unique) > _CANDIDATES_SHOWN:
        listed += f"; and {len(unique) - _CANDIDATES_SHOWN} more"
    raise UnknownReferenceError(
        f"ambiguous-{what}",
        f"more than one {noun}{where} matches {shown!r}: {listed}; {hint}",
    )


def _day_or_none(text: str) -> _dt.date | None:
    try:
        return _dt.date.fromisoformat(text)
    except ValueError:
        return None


def _day_and_time(when: When) -> str:
    """Say when a meeting starts as people type it: ``2023-04-19 15:00``, ``2023-05-04``."""
    if isinstance(when, Timed):
        return when.start.strftime("%Y-%m-%d %H:%M")
    if when.first == when.last:
        return when.first.isoformat()
    return f"{when.first.isoformat()} to {when.last.isoformat()}"


def _due_day(due: Due) -> _dt.date:
    return due.day if isinstance(due, DueBy) else due.at.date()


def _quotas(quotas: Mapping[Role | str, int]) -> tuple[mt.Quota, ...]:
    if not isinstance(quotas, Mapping):
        raise RuleViolation(
            "field-type", f"quotas must map roles to limits ({{'speaker': 1}}), got {quotas!r}"
        )
    return tuple(
        mt.Quota(role=_enum(Role, role, "quotas"), limit=limit) for role, limit in quotas.items()
    )


def _sequence(value: Iterable[T], field: str) -> Sequence[T]:
    """Return ``value`` as a tuple, refusing what is not a list of items (text included)."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise RuleViolation("field-type", f"{field} must be a list, got {value!r}")
    return tuple(value)


def _attendee(value: object) -> mt.Attendee:
    """Return the attendee a person's id or ``(person, organisation, capacity)`` names."""
    if isinstance(value, uuid.UUID):
        return mt.Attendee(person_id=value)
    if isinstance(value, tuple) and len(value) == 3:  # noqa: PLR2004 - the three parts
        return mt.Attendee(person_id=value[0], organisation_id=value[1], capacity=value[2])
    raise RuleViolation(
        "field-type",
        f"an attendee must be a person's id or (person, organisation, capacity), got {value!r}",
    )


def _day_edge(day: pendulum.Date, zone_name: str, *, end: bool) -> pendulum.DateTime:
    if end:
        return end_of_day(day, zone_name)
    return local_datetime(
        _dt.datetime(day.year, day.month, day.day),  # noqa: DTZ001 - a wall time
        zone_name,
        disambiguate="later",
    )


def _ends(when: When) -> pendulum.DateTime:
    """Return the instant a meeting ends (an all-day one: its last day's end in Vienna)."""
    if isinstance(when, Timed):
        return pendulum.instance(when.end)
    return end_of_day(when.last)


def _sort_key(when: When) -> pendulum.DateTime:
    if isinstance(when, Timed):
        return pendulum.instance(when.start).in_timezone("UTC")
    assert isinstance(when, AllDay)  # noqa: S101 - When is Timed or AllDay
    return pendulum.datetime(when.first.year, when.first.month, when.first.day, tz="UTC")

