"""Tests of the meeting aggregate's face and state: pure decide and evolve, no log.

What ``decide`` checks before any rule (an unknown meeting, a cancelled one), ``evolve``
(state.py), the calendars' sequence, the event ids derived from commands, the errors.
The rules themselves: ``test_domain_meetings_scheduling.py`` and
``test_domain_meetings_registration.py``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import attrs
import pendulum
import pytest

from alliance_events.domain.common import (
    Command,
    LinkKind,
    MeetingStatus,
    OfficerRole,
    Role,
)
from alliance_events.domain.deadlines import (
    DeadlineExtended,
    DueBy,
    SetDeadline,
)
from alliance_events.domain.directory import (
    OfficerAppointed,
    OrganisationRegistered,
    PersonRegistered,
    RegisterOrganisation,
)
from alliance_events.domain.meetings import (
    AttachLink,
    Attendee,
    CancelMeeting,
    CapacityChanged,
    ChangeMeetingDetails,
    ConfirmMeeting,
    MeetingState,
    NominateDelegate,
    OpenRegistration,
    RecordAttendance,
    ReinstateMeeting,
    RescheduleMeeting,
    WithdrawNomination,
    decide,
    evolve,
    meeting_stream,
)
from alliance_events.errors import RuleViolation, UnknownReferenceError
from alliance_events.events import Event
from alliance_events.timing import Timed, timed

from .meeting_streams import (
    CLOSES,
    FIREARMS,
    IN_WINDOW,
    MEETING,
    OPENS,
    ORG_A,
    ORG_B,
    PEOPLE,
    REFS,
    UNKNOWN,
    Stream,
    at,
    registering,
    scheduled,
)


class TestUnknownMeeting:
    @pytest.mark.parametrize(
        ("cls", "fields"),
        [
            (ConfirmMeeting, {}),
            (CancelMeeting, {}),
            (RescheduleMeeting, {"when": FIREARMS}),
            (OpenRegistration, {"opens_at": OPENS, "closes_at": CLOSES}),
            (AttachLink, {"kind": LinkKind.REPORT, "url": "https://x.org"}),
        ],
    )
    def test_commands_on_an_unscheduled_meeting_are_refused(
        self, cls: type[Command], fields: dict[str, Any]
    ) -> None:
        """Any command but scheduling, on a meeting never scheduled, is unknown-meeting."""
        error = Stream().refuse("unknown-meeting", cls, **fields)
        assert isinstance(error, UnknownReferenceError)
        assert isinstance(error, LookupError)

    def test_not_a_meeting_command(self) -> None:
        """A command of another aggregate is a programming error, not a rule."""
        stream = scheduled()
        command = RegisterOrganisation(command_id=uuid.UUID(int=1), at=IN_WINDOW,
                                       organisation_id=ORG_A, name="x")
        with pytest.raises(TypeError):
            decide(stream.state, command, REFS)


_CHANGES: list[tuple[str, type[Command], dict[str, Any]]] = [
    ("reschedule", RescheduleMeeting, {"when": timed("2023-05-06 09:00", "18:00")}),
    ("move", ChangeMeetingDetails, {"location": "Room M3"}),
    ("online", ChangeMeetingDetails, {"online_url": "https://zoom.example/1"}),
    ("open", OpenRegistration, {"opens_at": OPENS, "closes_at": CLOSES}),
    ("deadline", SetDeadline, {"deadline_id": uuid.UUID(int=0xD1), "title": "names",
                               "due": DueBy(day=pendulum.Date(2023, 5, 1)),
                               "meeting_id": MEETING}),
    ("cancel", CancelMeeting, {}),
]
_CORRECTIONS: list[tuple[str, type[Command], dict[str, Any]]] = [
    ("link", AttachLink, {"kind": LinkKind.RECORDING, "url": "https://youtube.example/v"}),
    ("attendance", RecordAttendance, {"attendees": (Attendee(person_id=PEOPLE[0]),),
                                      "at": at("2023-05-05 10:00")}),
    ("description", ChangeMeetingDetails, {"description": "Cancelled for lack of a room."}),
    ("title", ChangeMeetingDetails, {"title": "CD on Firearms (cancelled)"}),
]


class TestCancelledMeeting:
    @pytest.mark.parametrize(("name", "cls", "fields"), _CHANGES, ids=[c[0] for c in _CHANGES])
    def test_changes_to_a_cancelled_meeting_are_refused(
        self, name: str, cls: type[Command], fields: dict[str, Any]
    ) -> None:
        """A cancelled meeting refuses changes other than corrections (meeting-cancelled)."""
        stream = scheduled()
        stream.do(CancelMeeting)
        error = stream.refuse("meeting-cancelled", cls, **fields)
        assert "is cancelled" in str(error)

    @pytest.mark.parametrize(("name", "cls", "fields"), _CORRECTIONS,
                             ids=[c[0] for c in _CORRECTIONS])
    def test_corrections_of_a_cancelled_meeting_are_accepted(
        self, name: str, cls: type[Command], fields: dict[str, Any]
    ) -> None:
        """Links, attendance and corrections of its text are accepted when cancelled."""
        stream = scheduled()
        stream.do(CancelMeeting)
        assert len(stream.do(cls, **fields)) == 1
        assert stream.state.cancelled

    def test_registration_commands_refused_when_cancelled(self) -> None:
        """Nominations for a cancelled meeting are refused (meeting-cancelled)."""
        stream = registering()
        stream.do(CancelMeeting)
        stream.refuse("meeting-cancelled", NominateDelegate, nomination_id=uuid.UUID(int=5),
                      organisation_id=ORG_A, person_id=PEOPLE[0], role=Role.SPEAKER)

    @pytest.mark.parametrize(("name", "cls", "fields"), _CHANGES, ids=[c[0] for c in _CHANGES])
    def test_changes_refused_when_an_ancestor_is_cancelled(
        self, name: str, cls: type[Command], fields: dict[str, Any]
    ) -> None:
        """A session of a cancelled meeting refuses changes too, saying why."""
        stream = scheduled()
        error = stream.refuse("meeting-cancelled", cls,
                              refs=attrs.evolve(REFS, ancestor_cancelled=True), **fields)
        assert "with the meeting it is part of" in str(error)

    @pytest.mark.parametrize(("name", "cls", "fields"), _CORRECTIONS,
                             ids=[c[0] for c in _CORRECTIONS])
    def test_corrections_accepted_when_an_ancestor_is_cancelled(
        self, name: str, cls: type[Command], fields: dict[str, Any]
    ) -> None:
        """A session of a cancelled meeting still takes links, attendance, corrections."""
        stream = scheduled()
        events = stream.do(cls, refs=attrs.evolve(REFS, ancestor_cancelled=True), **fields)
        assert len(events) == 1

    def test_reinstating_a_session_of_a_cancelled_meeting_is_refused(self) -> None:
        """A session cancelled only through its parent is not itself reinstated."""
        scheduled().refuse("not-cancelled", ReinstateMeeting, reason="mistake",
                           refs=attrs.evolve(REFS, ancestor_cancelled=True))


# -- evolve, sequence and ids ----------------------------------------------------------------------


class TestEvolve:
    @pytest.mark.parametrize("event", [
        OrganisationRegistered(event_id=uuid.UUID(int=1), organisation_id=ORG_A, name="x"),
        PersonRegistered(event_id=uuid.UUID(int=2), person_id=PEOPLE[0], name="y"),
        OfficerAppointed(event_id=uuid.UUID(int=3), body="alliance",
                         role=OfficerRole.CHAIR,
                         person_id=PEOPLE[0], since=pendulum.Date(2023, 1, 1)),
    ], ids=["organisation", "person", "officer"])
    def test_events_of_other_aggregates_are_ignored(self, event: Event) -> None:
        """Events of other aggregates leave a meeting's state as it is."""
        stream = registering(capacity=2)
        stream.nominate(0)
        assert evolve(stream.state, event) is stream.state

    def test_registration_events_without_registration_are_ignored(self) -> None:
        """A capacity change folded into a meeting without registration changes nothing."""
        state = scheduled().state
        event = CapacityChanged(event_id=uuid.UUID(int=1), meeting_id=MEETING, capacity=3)
        assert evolve(state, event) == state

    def test_deadline_events_for_other_deadlines_are_ignored(self) -> None:
        """An extension of a deadline the meeting does not have changes nothing."""
        stream = scheduled()
        stream.do(SetDeadline, deadline_id=uuid.UUID(int=0xD1), title="t", meeting_id=MEETING,
                  due=DueBy(day=pendulum.Date(2023, 5, 1)))
        with_deadline = stream.state
        other = DeadlineExtended(event_id=uuid.UUID(int=9), deadline_id=UNKNOWN,
                                 due=DueBy(day=pendulum.Date(2023, 6, 1)))
        assert evolve(with_deadline, other) == with_deadline

    def test_evolve_is_pure(self) -> None:
        """Folding an event returns a new state and leaves the old one untouched."""
        stream = scheduled()
        before = stream.state
        stream.do(CancelMeeting)
        assert before.status is MeetingStatus.CONFIRMED
        assert stream.state is not before

    def test_stream_name(self) -> None:
        """A meeting's stream is named after its id."""
        assert meeting_stream(MEETING) == f"meeting-{MEETING}"


class TestSequence:
    def test_rises_on_significant_changes_only(self) -> None:
        """Reschedule, status changes and a location change raise SEQUENCE; text does not."""
        stream = scheduled(tentative=True)
        steps: list[tuple[type[Command], dict[str, Any], int]] = [
            (ChangeMeetingDetails, {"title": "CD on Firearms"}, 0),
            (ChangeMeetingDetails, {"description": "Two experts, three respondents."}, 0),
            (ChangeMeetingDetails, {"organiser": "UNODC CSU"}, 0),
            (ConfirmMeeting, {}, 1),
            (RescheduleMeeting, {"when": timed("2023-05-05 10:00", "18:00")}, 2),
            (ChangeMeetingDetails, {"location": "Board Room D"}, 3),
            (AttachLink, {"kind": LinkKind.WEBSITE, "url": "https://unodc.org"}, 3),
            (CancelMeeting, {}, 4),
            (ReinstateMeeting, {"reason": "room found"}, 5),
        ]
        for cls, fields, expected in steps:
            stream.do(cls, **fields)
            assert stream.state.sequence == expected, cls.__name__


class TestEventIds:
    def test_same_command_gives_the_same_ids(self) -> None:
        """Deciding the same command twice gives events with the same ids."""
        stream = registering(capacity=1)
        seated = stream.nominate(0)
        stream.nominate(1, organisation=ORG_B)
        command = stream.command(WithdrawNomination, nomination_id=seated)
        first = decide(stream.state, command, REFS)
        second = decide(stream.state, command, REFS)
        assert len(first) == 2
        assert first == second
        assert [e.event_id for e in first] == [uuid.uuid5(command.command_id, str(i))
                                               for i in range(2)]
        assert len({e.event_id for e in first}) == 2

    def test_other_commands_give_other_ids(self) -> None:
        """Two commands with different ids give different event ids."""
        stream = scheduled()
        one = decide(stream.state, stream.command(CancelMeeting), REFS)
        two = decide(stream.state, stream.command(CancelMeeting), REFS)
        assert one[0].event_id != two[0].event_id

    @pytest.mark.parametrize("build", [
        lambda s: s.command(CancelMeeting),
        lambda s: s.command(AttachLink, kind=LinkKind.REPORT, url="https://a.org"),
        lambda s: s.command(ChangeMeetingDetails, title="new"),
    ])
    def test_schedule_and_changes_are_deterministic(
        self, build: Callable[[Stream], Command]
    ) -> None:
        """Every decision depends on the state and the command only."""
        stream = scheduled()
        command = build(stream)
        assert decide(stream.state, command, REFS) == decide(stream.state, command, REFS)


class TestErrors:
    def test_rule_violations_are_value_errors(self) -> None:
        """A broken rule is a RuleViolation (a DomainError and a ValueError)."""
        error = scheduled().refuse("not-tentative", ConfirmMeeting)
        assert isinstance(error, RuleViolation)
        assert isinstance(error, ValueError)

    def test_messages_name_the_values(self) -> None:
        """A refusal message names the meeting and the values involved."""
        backwards = Timed(start=at("2023-05-05 18:00"), end=at("2023-05-05 09:00"))
        error = scheduled().refuse("end-after-start", RescheduleMeeting, when=backwards)
        assert "2023-05-05T09:00:00+02:00" in str(error)
        assert "2023-05-05T18:00:00+02:00" in str(error)



class TestReplace:
    def test_replace_equals_attrs_evolve(self) -> None:
        """The fast copy gives exactly what attrs.evolve gives, for every field changed."""
        from alliance_events.domain.common import replace

        stream = registering(capacity=3)
        state = stream.state
        for field in attrs.fields(MeetingState):
            value = getattr(state, field.name)
            assert replace(state, **{field.name: value}) == attrs.evolve(
                state, **{field.name: value}
            )
        assert replace(state, title="x") == attrs.evolve(state, title="x")
        assert replace(state) == state and replace(state) is not state

    def test_replace_refuses_unknown_fields(self) -> None:
        """A field the class does not have is a TypeError, as with attrs.evolve."""
        from alliance_events.domain.common import replace

        with pytest.raises(TypeError, match="no field 'nope'"):
            replace(scheduled().state, nope=1)
