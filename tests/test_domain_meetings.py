"""Tests of the meeting aggregate's rules: pure decide and evolve, no log.

Each state is built by folding ``evolve`` over the events that ``decide`` returned for
earlier commands, as the application does. Every rule of ``decide`` has a test that it
accepts the valid case and one that it refuses the invalid case, naming the rule.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import attrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alliance_events.domain.common import (
    Command,
    LinkKind,
    MeetingKind,
    MeetingStatus,
    NominationStatus,
    OfficerRole,
    Role,
)
from alliance_events.domain.deadlines import (
    CancelDeadline,
    DeadlineExtended,
    DeadlineKind,
    DeadlineSet,
    DueAt,
    DueBy,
    ExtendDeadline,
    RecordReminderSent,
    SetDeadline,
)
from alliance_events.domain.directory import (
    OfficerAppointed,
    Organisation,
    OrganisationRegistered,
    Person,
    PersonRegistered,
    RegisterOrganisation,
)
from alliance_events.domain.meetings import (
    AttachLink,
    AttendanceRecorded,
    Attendee,
    CancelMeeting,
    CapacityChanged,
    ChangeCapacity,
    ChangeMeetingDetails,
    ChangeQuota,
    ChangeRegistrationWindow,
    CloseRegistration,
    ConfirmMeeting,
    ConfirmNomination,
    DeclineNomination,
    DelegateNominated,
    LinkAttached,
    MeetingCancelled,
    MeetingConfirmed,
    MeetingDetailsChanged,
    MeetingReinstated,
    MeetingRescheduled,
    MeetingScheduled,
    MeetingState,
    NominateDelegate,
    NominationConfirmed,
    NominationDeclined,
    NominationPromoted,
    NominationWaitlisted,
    NominationWithdrawn,
    OpenRegistration,
    Quota,
    QuotaChanged,
    RecordAttendance,
    Refs,
    RegistrationClosed,
    RegistrationOpened,
    RegistrationReopened,
    RegistrationWindowChanged,
    ReinstateMeeting,
    ReopenRegistration,
    RequestSpeaking,
    RescheduleMeeting,
    ScheduleMeeting,
    SpeakingRequested,
    WithdrawNomination,
    decide,
    evolve,
    meeting_stream,
)
from alliance_events.errors import DomainError, RuleViolation, UnknownReferenceError
from alliance_events.events import Event
from alliance_events.testing import SequentialIds
from alliance_events.timing import AllDay, Timed, all_day, local_datetime, timed

VIENNA = "Europe/Vienna"
MEETING = uuid.UUID(int=0x100)
PARENT = uuid.UUID(int=0x101)
ORG_A = uuid.UUID(int=0xA1)
ORG_B = uuid.UUID(int=0xA2)
PEOPLE = [uuid.UUID(int=0xB00 + i) for i in range(12)]
UNKNOWN = uuid.UUID(int=0xDEAD)

ORGANISATIONS = {
    ORG_A: Organisation(
        organisation_id=ORG_A, name="Global Initiative against Transnational Organized Crime",
        acronym="GI-TOC", member=True,
    ),
    ORG_B: Organisation(
        organisation_id=ORG_B, name="Rural And Urban Aid Nigeria", acronym="", member=True
    ),
}
PERSONS = {
    person_id: Person(
        person_id=person_id, name=f"Delegate {index}", email=f"d{index}@example.org",
        organisation_id=ORG_A if index % 2 == 0 else ORG_B,
    )
    for index, person_id in enumerate(PEOPLE)
}
REFS = Refs(organisations=ORGANISATIONS, persons=PERSONS)


def at(text: str) -> pendulum.DateTime:
    """A wall time in Vienna."""
    return local_datetime(text, VIENNA)


FIREARMS = timed("2023-05-05 09:00", "18:00")  # the Constructive Dialogue on Firearms
CCPCJ = all_day("2023-05-22", "2023-05-26")  # the 32nd session of the Crime Commission
OPENS = at("2023-03-21 10:00")
CLOSES = at("2023-05-02 00:00")
IN_WINDOW = at("2023-04-01 12:00")


class Stream:
    """One meeting's stream kept in memory: decide a command, fold its events in."""

    def __init__(self, refs: Refs = REFS, meeting_id: uuid.UUID = MEETING) -> None:
        self.state = MeetingState()
        self.refs = refs
        self.meeting_id = meeting_id
        self.ids = SequentialIds(0x1000)
        self.events: list[Event] = []

    def command(self, cls: type[Command], *, at: pendulum.DateTime = IN_WINDOW,
                **fields: Any) -> Command:
        """Build a command of ``cls`` for this meeting, with a new command id."""
        if "meeting_id" in attrs.fields_dict(cls) and "meeting_id" not in fields:
            fields["meeting_id"] = self.meeting_id
        return cls(command_id=self.ids(), at=at, **fields)

    def apply(self, events: list[Event]) -> list[Event]:
        """Fold ``events`` into the state."""
        for event in events:
            self.state = evolve(self.state, event)
        self.events.extend(events)
        return events

    def do(self, cls: type[Command], *, refs: Refs | None = None, **fields: Any) -> list[Event]:
        """Decide a command and fold its events in; return them."""
        command = self.command(cls, **fields)
        return self.apply(decide(self.state, command, self.refs if refs is None else refs))

    def refuse(self, rule: str, cls: type[Command], *, refs: Refs | None = None,
               **fields: Any) -> DomainError:
        """Check that a command is refused naming ``rule`` and that nothing changed."""
        before = self.state
        with pytest.raises(DomainError) as info:
            self.do(cls, refs=refs, **fields)
        assert info.value.rule == rule, str(info.value)
        assert f"[rule: {rule}]" in str(info.value)
        assert self.state == before
        return info.value

    # -- shortcuts ------------------------------------------------------------------------

    def schedule(self, when: Timed | AllDay = FIREARMS, **fields: Any) -> list[Event]:
        """Schedule this stream's meeting."""
        fields.setdefault("title", "Constructive Dialogue on Firearms")
        fields.setdefault("kind", MeetingKind.CONSTRUCTIVE_DIALOGUE)
        return self.do(ScheduleMeeting, when=when, at=at("2023-03-01 09:00"), **fields)

    def open(self, **fields: Any) -> list[Event]:
        """Open registration from 21 March 10:00 to 2 May 00:00 Vienna."""
        fields.setdefault("opens_at", OPENS)
        fields.setdefault("closes_at", CLOSES)
        return self.do(OpenRegistration, at=at("2023-03-21 09:00"), **fields)

    def nominate(self, person: int, organisation: uuid.UUID = ORG_A,
                 role: Role = Role.SPEAKER, **fields: Any) -> uuid.UUID:
        """Nominate ``PEOPLE[person]``; return the nomination's id."""
        nomination_id = uuid.UUID(int=0xC00 + person)
        fields.setdefault("nomination_id", nomination_id)
        self.do(NominateDelegate, organisation_id=organisation, person_id=PEOPLE[person],
                role=role, **fields)
        return fields["nomination_id"]

    def status(self, nomination_id: uuid.UUID) -> NominationStatus:
        """Return where a nomination stands."""
        nomination = self.state.nomination(nomination_id)
        assert nomination is not None
        return nomination.status


def scheduled(when: Timed | AllDay = FIREARMS, **fields: Any) -> Stream:
    """A stream with its meeting scheduled."""
    stream = Stream()
    stream.schedule(when, **fields)
    return stream


def registering(**fields: Any) -> Stream:
    """A stream with its meeting scheduled and registration open (``fields``: its rules)."""
    stream = scheduled()
    stream.open(**fields)
    return stream


def parent_state(*, cancelled: bool = False) -> MeetingState:
    """The state of a parent meeting (the 32nd session of the Crime Commission)."""
    parent = Stream(meeting_id=PARENT)
    parent.schedule(CCPCJ, title="CCPCJ 32", kind=MeetingKind.COMMISSION_SESSION)
    if cancelled:
        parent.do(CancelMeeting)
    return parent.state


# -- schedule ------------------------------------------------------------------------------


class TestSchedule:
    def test_timed_meeting_is_scheduled_confirmed(self) -> None:
        """A timed meeting is scheduled, confirmed unless tentative."""
        stream = Stream()
        events = stream.schedule()
        assert [type(e) for e in events] == [MeetingScheduled]
        assert stream.state.exists
        assert stream.state.when == FIREARMS
        assert stream.state.status is MeetingStatus.CONFIRMED
        assert stream.state.sequence == 0

    def test_tentative_meeting(self) -> None:
        """'Maybe a week before, subject to availability' is a tentative meeting."""
        stream = Stream()
        stream.schedule(timed("2023-04-12 15:00", "16:30"), tentative=True)
        assert stream.state.status is MeetingStatus.TENTATIVE

    def test_all_day_meeting(self) -> None:
        """A two-day all-day event is scheduled with its date range."""
        stream = Stream()
        stream.schedule(all_day("2023-05-30", "2023-05-31"))
        assert stream.state.when == AllDay(
            first=pendulum.Date(2023, 5, 30), last=pendulum.Date(2023, 5, 31)
        )

    def test_end_before_start_is_refused(self) -> None:
        """A timed meeting ending before it starts is refused (end-after-start)."""
        backwards = Timed(start=at("2023-05-05 18:00"), end=at("2023-05-05 09:00"))
        Stream().refuse("end-after-start", ScheduleMeeting, title="x",
                        kind=MeetingKind.OTHER, when=backwards)

    def test_end_equal_to_start_is_refused(self) -> None:
        """A timed meeting of no length is refused (end-after-start)."""
        empty = Timed(start=at("2023-05-05 09:00"), end=at("2023-05-05 09:00"))
        Stream().refuse("end-after-start", ScheduleMeeting, title="x",
                        kind=MeetingKind.OTHER, when=empty)

    def test_all_day_last_before_first_is_refused(self) -> None:
        """An all-day meeting whose last day is before its first is refused."""
        backwards = AllDay(first=pendulum.Date(2023, 5, 31), last=pendulum.Date(2023, 5, 30))
        Stream().refuse("end-after-start", ScheduleMeeting, title="x",
                        kind=MeetingKind.OTHER, when=backwards)

    def test_zone_is_required(self) -> None:
        """A timed meeting at naive wall times (no zone) is refused (zone)."""
        naive = Timed(start=pendulum.naive(2023, 5, 5, 9), end=pendulum.naive(2023, 5, 5, 18))
        Stream().refuse("zone", ScheduleMeeting, title="x", kind=MeetingKind.OTHER, when=naive)

    def test_named_and_fixed_zones_are_not_mixed(self) -> None:
        """A start in Europe/Vienna and an end at GMT+1 is refused (zone)."""
        mixed = Timed(start=at("2023-03-22 15:00"),
                      end=local_datetime("2023-03-22 16:30", "GMT+1"))
        Stream().refuse("zone", ScheduleMeeting, title="x", kind=MeetingKind.OTHER, when=mixed)

    def test_fixed_offset_meeting_is_accepted(self) -> None:
        """'15:00 - 16:30 (GMT+1)' as the minutes write it is accepted."""
        stream = Stream()
        stream.schedule(timed("2023-03-22 15:00", "16:30", "GMT+1"))
        assert stream.state.when.start.isoformat() == "2023-03-22T15:00:00+01:00"  # type: ignore[union-attr]

    def test_when_must_be_timed_or_all_day(self) -> None:
        """A 'when' that is neither Timed nor AllDay is refused (when)."""
        Stream().refuse("when", ScheduleMeeting, title="x", kind=MeetingKind.OTHER,
                        when="22 March, 15:00")

    def test_scheduling_twice_is_refused(self) -> None:
        """The same meeting cannot be scheduled twice (meeting-exists)."""
        scheduled().refuse("meeting-exists", ScheduleMeeting, title="again",
                           kind=MeetingKind.OTHER, when=FIREARMS)

    @pytest.mark.parametrize(("title", "rule"), [("", "required"), ("   ", "required"),
                                                 (None, "text"), ("x" * 501, "text-length")])
    def test_title_is_required_text(self, title: object, rule: str) -> None:
        """A missing, blank, non-text or over-long title is refused."""
        Stream().refuse(rule, ScheduleMeeting, title=title, kind=MeetingKind.OTHER, when=FIREARMS)

    def test_long_location_is_refused(self) -> None:
        """A location over 500 characters is refused (text-length)."""
        Stream().refuse("text-length", ScheduleMeeting, title="x", kind=MeetingKind.OTHER,
                        when=FIREARMS, location="V" * 501)

    def test_description_limit(self) -> None:
        """A description may be 20,000 characters, not more."""
        Stream().schedule(description="d" * 20_000)
        Stream().refuse("text-length", ScheduleMeeting, title="x", kind=MeetingKind.OTHER,
                        when=FIREARMS, description="d" * 20_001)

    @pytest.mark.parametrize("url", ["https://unodc.org/cd", "http://example.org/x"])
    def test_online_url_http_accepted(self, url: str) -> None:
        """An http(s) online address is accepted."""
        stream = Stream()
        stream.schedule(online_url=url)
        assert stream.state.online_url == url

    @pytest.mark.parametrize("url", ["ftp://unodc.org/cd", "unodc.org", "https://a b.org"])
    def test_online_url_must_be_http(self, url: str) -> None:
        """An online address that is not http(s), or has spaces, is refused (url)."""
        Stream().refuse("url", ScheduleMeeting, title="x", kind=MeetingKind.OTHER,
                        when=FIREARMS, online_url=url)

    def test_child_of_a_scheduled_parent(self) -> None:
        """A side event of a scheduled session is accepted and names its parent."""
        stream = Stream()
        stream.schedule(all_day("2023-05-23"), parent_id=PARENT,
                        refs=attrs.evolve(REFS, parent=parent_state()))
        assert stream.state.parent_id == PARENT

    def test_parent_must_exist(self) -> None:
        """A parent that is not scheduled is refused (unknown-meeting)."""
        error = Stream().refuse("unknown-meeting", ScheduleMeeting, title="x",
                                kind=MeetingKind.SIDE_EVENT, when=FIREARMS, parent_id=PARENT)
        assert isinstance(error, UnknownReferenceError)
        error = Stream().refuse("unknown-meeting", ScheduleMeeting, title="x",
                                kind=MeetingKind.SIDE_EVENT, when=FIREARMS, parent_id=PARENT,
                                refs=attrs.evolve(REFS, parent=MeetingState()))
        assert isinstance(error, UnknownReferenceError)

    def test_meeting_is_not_its_own_parent(self) -> None:
        """A meeting naming itself as parent is refused (parent)."""
        itself = attrs.evolve(parent_state(), meeting_id=MEETING)
        Stream().refuse("parent", ScheduleMeeting, title="x", kind=MeetingKind.OTHER,
                        when=FIREARMS, parent_id=MEETING, refs=attrs.evolve(REFS, parent=itself))

    def test_parent_must_not_be_cancelled(self) -> None:
        """A side event of a cancelled session is refused (meeting-cancelled)."""
        Stream().refuse("meeting-cancelled", ScheduleMeeting, title="x",
                        kind=MeetingKind.SIDE_EVENT, when=FIREARMS, parent_id=PARENT,
                        refs=attrs.evolve(REFS, parent=parent_state(cancelled=True)))

    def test_parent_of_a_cancelled_ancestor_is_refused(self) -> None:
        """A child of a meeting whose own parent is cancelled is refused too."""
        Stream().refuse("meeting-cancelled", ScheduleMeeting, title="x",
                        kind=MeetingKind.SIDE_EVENT, when=FIREARMS, parent_id=PARENT,
                        refs=attrs.evolve(REFS, parent=parent_state(), ancestor_cancelled=True))


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


# -- schedule changes ---------------------------------------------------------------------------


class TestReschedule:
    def test_moved_meeting_keeps_its_id_and_raises_its_sequence(self) -> None:
        """Moving the meeting changes its time and raises its sequence."""
        stream = scheduled()
        later = timed("2023-05-05 10:00", "19:00")
        events = stream.do(RescheduleMeeting, when=later, reason="room")
        assert [type(e) for e in events] == [MeetingRescheduled]
        assert stream.state.when == later
        assert stream.state.meeting_id == MEETING
        assert stream.state.sequence == 1

    def test_same_time_is_refused(self) -> None:
        """Rescheduling to the time it has is refused (no-change)."""
        scheduled().refuse("no-change", RescheduleMeeting, when=FIREARMS)

    def test_end_before_start_is_refused(self) -> None:
        """Rescheduling to an end before the start is refused (end-after-start)."""
        backwards = Timed(start=at("2023-05-05 18:00"), end=at("2023-05-05 09:00"))
        scheduled().refuse("end-after-start", RescheduleMeeting, when=backwards)

    def test_timed_to_all_day(self) -> None:
        """A timed meeting may become an all-day one."""
        stream = scheduled()
        stream.do(RescheduleMeeting, when=all_day("2023-05-05"))
        assert isinstance(stream.state.when, AllDay)


class TestChangeDetails:
    def test_title_change(self) -> None:
        """A new title is recorded; only the changed fields are in the event."""
        stream = scheduled(location="Vienna International Centre")
        events = stream.do(ChangeMeetingDetails, title="CD on Firearms",
                           location="Vienna International Centre")
        assert events == [MeetingDetailsChanged(event_id=events[0].event_id,
                                                meeting_id=MEETING, title="CD on Firearms")]
        assert stream.state.title == "CD on Firearms"

    def test_nothing_changes_is_refused(self) -> None:
        """Details equal to the current ones are refused (no-change)."""
        scheduled(location="VIC").refuse("no-change", ChangeMeetingDetails, location="VIC")
        scheduled().refuse("no-change", ChangeMeetingDetails)

    def test_clearing_a_field(self) -> None:
        """An empty string clears a field; None leaves it as it is."""
        stream = scheduled(location="VIC", organiser="CSU")
        stream.do(ChangeMeetingDetails, location="")
        assert (stream.state.location, stream.state.organiser) == ("", "CSU")

    def test_blank_title_is_refused(self) -> None:
        """A blank new title is refused (required)."""
        scheduled().refuse("required", ChangeMeetingDetails, title=" ")

    def test_bad_online_url_is_refused(self) -> None:
        """A new online address must be http(s) (url)."""
        scheduled().refuse("url", ChangeMeetingDetails, online_url="zoom:123")

    def test_long_description_is_refused(self) -> None:
        """A description over 20,000 characters is refused (text-length)."""
        scheduled().refuse("text-length", ChangeMeetingDetails, description="d" * 20_001)


class TestConfirmMeeting:
    def test_tentative_meeting_is_confirmed(self) -> None:
        """A tentative meeting is confirmed; its sequence rises."""
        stream = scheduled(tentative=True)
        assert [type(e) for e in stream.do(ConfirmMeeting)] == [MeetingConfirmed]
        assert stream.state.status is MeetingStatus.CONFIRMED
        assert stream.state.sequence == 1

    def test_only_tentative_meetings_are_confirmed(self) -> None:
        """Confirming a confirmed meeting is refused (not-tentative)."""
        stream = scheduled()
        error = stream.refuse("not-tentative", ConfirmMeeting)
        assert "confirmed" in str(error)


class TestCancelAndReinstate:
    def test_cancel(self) -> None:
        """A cancelled meeting stays, marked cancelled, its sequence raised."""
        stream = scheduled()
        assert [type(e) for e in stream.do(CancelMeeting, reason="no room")] == [MeetingCancelled]
        assert stream.state.exists
        assert stream.state.cancelled
        assert stream.state.sequence == 1

    def test_cancel_twice_is_refused(self) -> None:
        """Cancelling a cancelled meeting is refused (meeting-cancelled)."""
        stream = scheduled()
        stream.do(CancelMeeting)
        stream.refuse("meeting-cancelled", CancelMeeting)

    def test_reinstate(self) -> None:
        """A cancellation made by mistake is taken back, with a reason; sequence rises."""
        stream = scheduled()
        stream.do(CancelMeeting)
        events = stream.do(ReinstateMeeting, reason="cancelled by mistake")
        assert [type(e) for e in events] == [MeetingReinstated]
        assert stream.state.status is MeetingStatus.CONFIRMED
        assert stream.state.sequence == 2

    def test_reinstating_a_tentative_meeting_makes_it_tentative_again(self) -> None:
        """Taking back a mistaken cancellation restores the status it had, not 'confirmed'."""
        stream = scheduled(tentative=True)
        stream.do(CancelMeeting)
        stream.do(ReinstateMeeting, reason="cancelled by mistake")
        assert stream.state.status is MeetingStatus.TENTATIVE
        stream.do(ConfirmMeeting)  # and it can still be confirmed
        assert stream.state.status is MeetingStatus.CONFIRMED

    def test_a_cancelled_meetings_deadline_can_be_cancelled(self) -> None:
        """Cancelling the deadline of a cancelled meeting is accepted (a correction)."""
        stream = scheduled()
        deadline_id = uuid.UUID(int=0xD1)
        stream.do(SetDeadline, deadline_id=deadline_id, title="names", meeting_id=MEETING,
                  due=DueBy(day=pendulum.Date(2023, 5, 1)), kind=DeadlineKind.NAMES)
        stream.do(CancelMeeting)
        stream.do(CancelDeadline, deadline_id=deadline_id)
        deadline = stream.state.deadline(deadline_id)
        assert deadline is not None and deadline.cancelled
        stream.refuse("meeting-cancelled", ExtendDeadline, deadline_id=deadline_id,
                      due=DueBy(day=pendulum.Date(2023, 5, 3)))

    def test_reinstate_only_a_cancelled_meeting(self) -> None:
        """Reinstating a meeting that is not cancelled is refused (not-cancelled)."""
        scheduled().refuse("not-cancelled", ReinstateMeeting, reason="why not")

    @pytest.mark.parametrize("reason", ["", "  "])
    def test_reinstate_needs_a_reason(self, reason: str) -> None:
        """Reinstating without a reason is refused (required)."""
        stream = scheduled()
        stream.do(CancelMeeting)
        stream.refuse("required", ReinstateMeeting, reason=reason)


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


# -- links and attendance -----------------------------------------------------------------------


class TestLinks:
    @pytest.mark.parametrize("url", ["https://www.youtube.com/watch?v=x", "http://alliance.org/r"])
    def test_http_links_are_attached(self, url: str) -> None:
        """A report or recording with an http(s) address is attached, in order."""
        stream = scheduled()
        stream.do(AttachLink, kind=LinkKind.REPORT, url="https://alliance.org/report")
        events = stream.do(AttachLink, kind=LinkKind.RECORDING, url=url, title="Recording")
        assert isinstance(events[0], LinkAttached)
        assert [link.url for link in stream.state.links] == ["https://alliance.org/report", url]
        assert stream.state.links[1].kind is LinkKind.RECORDING

    @pytest.mark.parametrize("url", ["", "ftp://alliance.org/r", "www.alliance.org",
                                     "https://alliance.org/a report"])
    def test_links_need_http_urls(self, url: str) -> None:
        """A link without an http(s) address is refused (url)."""
        scheduled().refuse("url", AttachLink, kind=LinkKind.REPORT, url=url)

    def test_long_link_title_is_refused(self) -> None:
        """A link title over 500 characters is refused (text-length)."""
        scheduled().refuse("text-length", AttachLink, kind=LinkKind.REPORT,
                           url="https://alliance.org/r", title="t" * 501)

    def test_links_do_not_raise_the_sequence(self) -> None:
        """Attaching a link is not a change of time or status."""
        stream = scheduled()
        stream.do(AttachLink, kind=LinkKind.REPORT, url="https://alliance.org/r")
        assert stream.state.sequence == 0


class TestAttendance:
    def test_attendance_after_the_start(self) -> None:
        """Who was present is recorded once the meeting has started."""
        stream = scheduled()
        present = (Attendee(person_id=PEOPLE[0], organisation_id=ORG_A, capacity="Chair"),
                   Attendee(person_id=PEOPLE[1]))
        events = stream.do(RecordAttendance, attendees=present, at=at("2023-05-05 18:30"))
        assert isinstance(events[0], AttendanceRecorded)
        assert stream.state.attendance == present

    def test_attendance_at_the_start_is_accepted(self) -> None:
        """At the very start, attendance may be recorded."""
        stream = scheduled()
        stream.do(RecordAttendance, attendees=(Attendee(person_id=PEOPLE[0]),),
                  at=FIREARMS.start)
        assert len(stream.state.attendance) == 1

    def test_attendance_before_the_start_is_refused(self) -> None:
        """Attendance before the meeting starts is refused (attendance-before-start)."""
        scheduled().refuse("attendance-before-start", RecordAttendance,
                           attendees=(Attendee(person_id=PEOPLE[0]),),
                           at=at("2023-05-05 08:59"))

    def test_all_day_meeting_starts_at_its_first_midnight(self) -> None:
        """An all-day meeting takes attendance from its first day, not the day before."""
        stream = scheduled(all_day("2023-05-30", "2023-05-31"))
        stream.refuse("attendance-before-start", RecordAttendance,
                      attendees=(Attendee(person_id=PEOPLE[0]),), at=at("2023-05-29 09:00"))
        stream.do(RecordAttendance, attendees=(Attendee(person_id=PEOPLE[0]),),
                  at=at("2023-05-30 00:00"))
        assert len(stream.state.attendance) == 1

    def test_attendee_must_be_known(self) -> None:
        """An unknown person is refused (unknown-person)."""
        error = scheduled().refuse("unknown-person", RecordAttendance,
                                   attendees=(Attendee(person_id=UNKNOWN),),
                                   at=at("2023-05-05 18:00"))
        assert isinstance(error, UnknownReferenceError)

    def test_attendee_organisation_must_be_known(self) -> None:
        """An attendee for an unknown organisation is refused (unknown-organisation)."""
        scheduled().refuse("unknown-organisation", RecordAttendance,
                           attendees=(Attendee(person_id=PEOPLE[0], organisation_id=UNKNOWN),),
                           at=at("2023-05-05 18:00"))

    def test_no_one_twice(self) -> None:
        """A person listed twice is refused (attendee-twice)."""
        scheduled().refuse("attendee-twice", RecordAttendance,
                           attendees=(Attendee(person_id=PEOPLE[0]),
                                      Attendee(person_id=PEOPLE[0], capacity="Chair")),
                           at=at("2023-05-05 18:00"))

    def test_start_is_compared_as_an_instant(self) -> None:
        """09:00 Vienna in May is 07:00 UTC: attendance at 06:59 UTC is too early."""
        stream = scheduled()
        stream.refuse("attendance-before-start", RecordAttendance,
                      attendees=(Attendee(person_id=PEOPLE[0]),),
                      at=pendulum.datetime(2023, 5, 5, 6, 59, tz="UTC"))
        stream.do(RecordAttendance, attendees=(Attendee(person_id=PEOPLE[0]),),
                  at=pendulum.datetime(2023, 5, 5, 7, tz="UTC"))
        assert len(stream.state.attendance) == 1

    def test_a_later_record_replaces_the_earlier(self) -> None:
        """Recording attendance again replaces the earlier list."""
        stream = scheduled()
        late = at("2023-05-05 18:00")
        stream.do(RecordAttendance, attendees=(Attendee(person_id=PEOPLE[0]),), at=late)
        stream.do(RecordAttendance, attendees=(Attendee(person_id=PEOPLE[1]),), at=late)
        assert [a.person_id for a in stream.state.attendance] == [PEOPLE[1]]


# -- registration ---------------------------------------------------------------------------------


class TestOpenRegistration:
    def test_open_with_rules(self) -> None:
        """Registration opens with its window, capacity, quotas and funding rules."""
        stream = scheduled()
        quotas = (Quota(role=Role.SPEAKER, limit=1), Quota(role=Role.ALTERNATE, limit=1))
        events = stream.open(capacity=20, quotas=quotas, funded_places=4,
                             funded_per_delegation=2, funded_roles=(Role.SPEAKER,))
        assert isinstance(events[0], RegistrationOpened)
        registration = stream.state.registration
        assert registration is not None
        assert (registration.opens_at, registration.closes_at) == (OPENS, CLOSES)
        assert registration.capacity == 20
        assert registration.quota(Role.SPEAKER) == 1
        assert registration.quota(Role.PARTICIPANT) is None
        assert registration.is_open(IN_WINDOW)
        assert registration.status(at("2023-03-21 09:59")) == "not yet open"
        assert registration.status(CLOSES) == "closed"

    def test_opened_twice_is_refused(self) -> None:
        """Opening registration a second time is refused (registration-exists)."""
        registering().refuse("registration-exists", OpenRegistration,
                             opens_at=OPENS, closes_at=CLOSES)

    def test_window_closes_after_it_opens(self) -> None:
        """A window closing before (or when) it opens is refused (end-after-start)."""
        scheduled().refuse("end-after-start", OpenRegistration, opens_at=CLOSES, closes_at=OPENS)
        scheduled().refuse("end-after-start", OpenRegistration, opens_at=OPENS, closes_at=OPENS)

    def test_window_needs_a_zone(self) -> None:
        """A naive window is refused (zone)."""
        scheduled().refuse("zone", OpenRegistration, opens_at=pendulum.naive(2023, 3, 21),
                           closes_at=pendulum.naive(2023, 5, 2))

    @pytest.mark.parametrize(("field", "value"), [
        ("capacity", -1), ("capacity", 2.5), ("capacity", True),
        ("funded_places", -1), ("funded_per_delegation", -2),
    ])
    def test_numbers_are_whole_and_not_negative(self, field: str, value: object) -> None:
        """Capacity and funding caps are whole numbers >= 0 (the rule names the field)."""
        scheduled().refuse(field, OpenRegistration, opens_at=OPENS, closes_at=CLOSES,
                           **{field: value})

    def test_zero_capacity_is_accepted(self) -> None:
        """A capacity of 0 is a rule (everyone waits), not an error."""
        stream = scheduled()
        stream.open(capacity=0)
        assert stream.state.seats_free == 0

    def test_quota_per_role_once(self) -> None:
        """Two quotas for one role are refused (quota)."""
        scheduled().refuse("quota", OpenRegistration, opens_at=OPENS, closes_at=CLOSES,
                           quotas=(Quota(role=Role.SPEAKER, limit=1),
                                   Quota(role=Role.SPEAKER, limit=2)))

    def test_negative_quota_is_refused(self) -> None:
        """A quota below zero is refused (quota)."""
        scheduled().refuse("quota", OpenRegistration, opens_at=OPENS, closes_at=CLOSES,
                           quotas=(Quota(role=Role.SPEAKER, limit=-1),))


class TestCloseAndReopen:
    def test_close(self) -> None:
        """Registration closed early is closed whatever its window says."""
        stream = registering()
        assert isinstance(stream.do(CloseRegistration, reason="full")[0], RegistrationClosed)
        assert stream.state.registration is not None
        assert stream.state.registration.status(IN_WINDOW) == "closed"

    def test_close_twice_is_refused(self) -> None:
        """Closing a closed registration is refused (registration-closed)."""
        stream = registering()
        stream.do(CloseRegistration)
        stream.refuse("registration-closed", CloseRegistration)

    @pytest.mark.parametrize(("cls", "fields"), [
        (CloseRegistration, {}),
        (ReopenRegistration, {"closes_at": CLOSES}),
        (ChangeRegistrationWindow, {"opens_at": OPENS, "closes_at": CLOSES}),
        (ChangeCapacity, {"capacity": 5}),
        (ChangeQuota, {"quotas": ()}),
        (NominateDelegate, {"nomination_id": uuid.UUID(int=5), "organisation_id": ORG_A,
                            "person_id": PEOPLE[0], "role": Role.SPEAKER}),
        (ConfirmNomination, {"nomination_id": uuid.UUID(int=5)}),
    ])
    def test_no_registration(self, cls: type[Command], fields: dict[str, Any]) -> None:
        """Registration commands before registration opened are refused (no-registration)."""
        error = scheduled().refuse("no-registration", cls, **fields)
        assert isinstance(error, UnknownReferenceError)

    def test_reopen_a_closed_registration(self) -> None:
        """A closed registration reopens until a new closing time."""
        stream = registering()
        stream.do(CloseRegistration)
        later = at("2023-05-03 12:00")
        events = stream.do(ReopenRegistration, closes_at=later, at=at("2023-04-20 09:00"))
        assert isinstance(events[0], RegistrationReopened)
        registration = stream.state.registration
        assert registration is not None
        assert registration.closes_at == later
        assert registration.is_open(at("2023-05-02 12:00"))

    def test_reopen_a_registration_whose_window_ran_out(self) -> None:
        """A window that simply ended can be reopened too: it shows as closed."""
        stream = registering()
        later = at("2023-05-10 00:00")
        events = stream.do(ReopenRegistration, closes_at=later, at=at("2023-05-03 09:00"))
        assert [type(e) for e in events] == [RegistrationReopened]
        registration = stream.state.registration
        assert registration is not None
        assert registration.status(at("2023-05-04 09:00")) == "open"

    def test_reopen_only_a_closed_registration(self) -> None:
        """Reopening an open registration is refused (registration-open)."""
        registering().refuse("registration-open", ReopenRegistration, closes_at=CLOSES)

    def test_reopen_until_a_past_time_is_refused(self) -> None:
        """Reopening until a time that has passed is refused (window-in-past)."""
        stream = registering()
        stream.do(CloseRegistration)
        stream.refuse("window-in-past", ReopenRegistration, closes_at=at("2023-04-01 00:00"),
                      at=at("2023-04-02 00:00"))

    def test_reopen_until_before_the_opening_is_refused(self) -> None:
        """Reopening until before the window opened is refused (end-after-start)."""
        stream = registering()
        stream.do(CloseRegistration)
        stream.refuse("end-after-start", ReopenRegistration, closes_at=at("2023-03-01 00:00"),
                      at=at("2023-02-01 00:00"))

    def test_change_window(self) -> None:
        """The window moves; a nomination is then judged against the new window."""
        stream = registering()
        events = stream.do(ChangeRegistrationWindow, opens_at=at("2023-04-05 00:00"),
                           closes_at=at("2023-05-10 00:00"))
        assert isinstance(events[0], RegistrationWindowChanged)
        stream.refuse("registration-not-open", NominateDelegate, nomination_id=uuid.UUID(int=5),
                      organisation_id=ORG_A, person_id=PEOPLE[0], role=Role.SPEAKER)
        stream.nominate(0, at=at("2023-05-05 12:00"))

    def test_change_window_closing_first_is_refused(self) -> None:
        """A new window closing before it opens is refused (end-after-start)."""
        registering().refuse("end-after-start", ChangeRegistrationWindow,
                             opens_at=CLOSES, closes_at=OPENS)


class TestNominate:
    def test_nomination_in_the_window(self) -> None:
        """A nomination while registration is open takes a seat."""
        stream = registering(capacity=10)
        nomination = stream.nominate(0, funding_requested=True)
        assert stream.status(nomination) is NominationStatus.NOMINATED
        event = stream.events[-1]
        assert isinstance(event, DelegateNominated)
        assert not event.waitlisted
        assert event.funding_requested
        assert stream.state.seats_taken == 1
        assert stream.state.seats_free == 9

    def test_at_the_opening_is_accepted(self) -> None:
        """A nomination at the very opening instant is accepted."""
        stream = registering()
        stream.nominate(0, at=OPENS)
        assert len(stream.state.nominations) == 1

    def test_before_the_opening_is_refused(self) -> None:
        """A nomination before registration opens is refused (registration-not-open)."""
        error = registering().refuse(
            "registration-not-open", NominateDelegate, nomination_id=uuid.UUID(int=5),
            organisation_id=ORG_A, person_id=PEOPLE[0], role=Role.SPEAKER,
            at=at("2023-03-21 09:59"),
        )
        assert "not yet open" in str(error)

    @pytest.mark.parametrize("when", ["2023-05-02 00:00", "2023-05-03 12:00"])
    def test_at_or_after_the_closing_is_refused(self, when: str) -> None:
        """A nomination at or after the window's end is refused (registration-closed)."""
        registering().refuse("registration-closed", NominateDelegate,
                             nomination_id=uuid.UUID(int=5), organisation_id=ORG_A,
                             person_id=PEOPLE[0], role=Role.SPEAKER, at=at(when))

    def test_after_registration_closed_early_is_refused(self) -> None:
        """After RegistrationClosed, a nomination inside the old window is refused."""
        stream = registering()
        stream.do(CloseRegistration)
        stream.refuse("registration-closed", NominateDelegate, nomination_id=uuid.UUID(int=5),
                      organisation_id=ORG_A, person_id=PEOPLE[0], role=Role.SPEAKER)

    def _names_deadline(self, stream: Stream, kind: DeadlineKind = DeadlineKind.NAMES) -> None:
        stream.do(SetDeadline, deadline_id=uuid.UUID(int=0xD1),
                  title="send the names of participants", kind=kind,
                  due=DueBy(day=pendulum.Date(2023, 4, 20)), meeting_id=MEETING)

    def test_before_the_names_deadline_is_accepted(self) -> None:
        """Until the names deadline passes, nominations are accepted."""
        stream = registering()
        self._names_deadline(stream)
        stream.nominate(0, at=at("2023-04-20 23:59"))
        assert len(stream.state.nominations) == 1

    def test_after_the_names_deadline_is_refused(self) -> None:
        """Once a NAMES deadline of the meeting has passed, nominations are refused."""
        stream = registering()
        self._names_deadline(stream)
        error = stream.refuse("deadline-passed", NominateDelegate,
                              nomination_id=uuid.UUID(int=5), organisation_id=ORG_A,
                              person_id=PEOPLE[0], role=Role.SPEAKER,
                              at=at("2023-04-21 00:00"))
        assert "send the names of participants" in str(error)

    def test_other_deadlines_do_not_close_nominations(self) -> None:
        """A passed deadline of another kind does not stop nominations."""
        stream = registering()
        self._names_deadline(stream, DeadlineKind.SUBMISSION)
        stream.nominate(0, at=at("2023-04-25 12:00"))
        assert len(stream.state.nominations) == 1

    def test_cancelled_names_deadline_does_not_close_nominations(self) -> None:
        """A cancelled names deadline no longer closes nominations."""
        stream = registering()
        self._names_deadline(stream)
        stream.do(CancelDeadline, deadline_id=uuid.UUID(int=0xD1))
        stream.nominate(0, at=at("2023-04-25 12:00"))
        assert len(stream.state.nominations) == 1

    def test_extended_names_deadline_reopens_nominations(self) -> None:
        """After an extension, nominations are judged against the new due date."""
        stream = registering()
        self._names_deadline(stream)
        stream.do(ExtendDeadline, deadline_id=uuid.UUID(int=0xD1),
                  due=DueBy(day=pendulum.Date(2023, 4, 27)))
        stream.nominate(0, at=at("2023-04-25 12:00"))
        assert len(stream.state.nominations) == 1

    def test_unknown_organisation_is_refused(self) -> None:
        """A nomination by an unknown organisation is refused (unknown-organisation)."""
        error = registering().refuse("unknown-organisation", NominateDelegate,
                                     nomination_id=uuid.UUID(int=5), organisation_id=UNKNOWN,
                                     person_id=PEOPLE[0], role=Role.SPEAKER)
        assert isinstance(error, UnknownReferenceError)

    def test_unknown_person_is_refused(self) -> None:
        """A nomination of an unknown person is refused (unknown-person)."""
        registering().refuse("unknown-person", NominateDelegate, nomination_id=uuid.UUID(int=5),
                             organisation_id=ORG_A, person_id=UNKNOWN, role=Role.SPEAKER)

    def test_nomination_id_is_not_reused(self) -> None:
        """A second nomination with the same id is refused (nomination-exists)."""
        stream = registering()
        stream.nominate(0)
        stream.refuse("nomination-exists", NominateDelegate, nomination_id=uuid.UUID(int=0xC00),
                      organisation_id=ORG_A, person_id=PEOPLE[2], role=Role.ALTERNATE)

    def test_same_person_twice_is_refused(self) -> None:
        """A person already nominated cannot be nominated again (nominated-twice)."""
        stream = registering()
        stream.nominate(0)
        stream.refuse("nominated-twice", NominateDelegate, nomination_id=uuid.UUID(int=6),
                      organisation_id=ORG_A, person_id=PEOPLE[0], role=Role.ALTERNATE)

    def test_same_person_after_withdrawal_is_accepted(self) -> None:
        """After a withdrawal the same person may be nominated again."""
        stream = registering()
        first = stream.nominate(0)
        stream.do(WithdrawNomination, nomination_id=first)
        second = stream.nominate(0, role=Role.ALTERNATE, nomination_id=uuid.UUID(int=6))
        assert stream.status(second) is NominationStatus.NOMINATED


class TestQuota:
    QUOTAS = (Quota(role=Role.SPEAKER, limit=2), Quota(role=Role.ALTERNATE, limit=1))

    def test_up_to_the_quota_is_accepted(self) -> None:
        """Two speakers and an alternate per delegation fit a 2+1 quota."""
        stream = registering(quotas=self.QUOTAS)
        stream.nominate(0)
        stream.nominate(2)
        stream.nominate(4, role=Role.ALTERNATE)
        assert len(stream.state.delegation(ORG_A)) == 3

    def test_third_speaker_is_refused(self) -> None:
        """A third speaker of one delegation is refused (quota), naming the organisation."""
        stream = registering(quotas=self.QUOTAS)
        stream.nominate(0)
        stream.nominate(2)
        error = stream.refuse("quota", NominateDelegate, nomination_id=uuid.UUID(int=5),
                              organisation_id=ORG_A, person_id=PEOPLE[4], role=Role.SPEAKER)
        assert "GI-TOC" in str(error)
        assert "quota is 2" in str(error)

    def test_quota_is_per_delegation(self) -> None:
        """Another organisation's speakers do not count against this one's quota."""
        stream = registering(quotas=self.QUOTAS)
        stream.nominate(0)
        stream.nominate(2)
        stream.nominate(1, organisation=ORG_B)
        assert len(stream.state.delegation(ORG_B)) == 1

    def test_quota_is_per_role(self) -> None:
        """A role without a quota is unlimited."""
        stream = registering(quotas=self.QUOTAS)
        for person in (0, 2, 4):
            stream.nominate(person, role=Role.PARTICIPANT)
        assert len(stream.state.delegation(ORG_A)) == 3

    def test_withdrawn_and_declined_do_not_count(self) -> None:
        """Withdrawn or declined speakers free their place in the quota."""
        stream = registering(quotas=self.QUOTAS)
        first = stream.nominate(0)
        second = stream.nominate(2)
        stream.do(WithdrawNomination, nomination_id=first)
        stream.do(DeclineNomination, nomination_id=second)
        stream.nominate(4)
        stream.nominate(6)
        assert stream.state.nomination(uuid.UUID(int=0xC06)) is not None

    def test_waitlisted_count(self) -> None:
        """Speakers on the waiting list count against the quota."""
        stream = registering(quotas=self.QUOTAS, capacity=1)
        stream.nominate(0)
        waiting = stream.nominate(2)
        assert stream.status(waiting) is NominationStatus.WAITLISTED
        stream.refuse("quota", NominateDelegate, nomination_id=uuid.UUID(int=5),
                      organisation_id=ORG_A, person_id=PEOPLE[4], role=Role.SPEAKER)

    def test_change_quota(self) -> None:
        """Quotas can be replaced; roles no longer listed have none."""
        stream = registering(quotas=self.QUOTAS)
        events = stream.do(ChangeQuota, quotas=(Quota(role=Role.SPEAKER, limit=3),))
        assert isinstance(events[0], QuotaChanged)
        assert stream.state.registration is not None
        assert stream.state.registration.quota(Role.SPEAKER) == 3
        assert stream.state.registration.quota(Role.ALTERNATE) is None

    def test_quota_below_current_counts_is_refused(self) -> None:
        """A quota below what a delegation has already is refused (quota)."""
        stream = registering(quotas=self.QUOTAS)
        stream.nominate(0)
        stream.nominate(2)
        stream.refuse("quota", ChangeQuota, quotas=(Quota(role=Role.SPEAKER, limit=1),))

    def test_quota_change_counts_waiting_not_withdrawn(self) -> None:
        """Waiting speakers count against a new quota; withdrawn ones do not."""
        stream = registering(quotas=self.QUOTAS, capacity=1)
        first = stream.nominate(0)
        stream.nominate(2)  # waiting
        stream.refuse("quota", ChangeQuota, quotas=(Quota(role=Role.SPEAKER, limit=1),))
        stream.do(WithdrawNomination, nomination_id=first)
        stream.do(ChangeQuota, quotas=(Quota(role=Role.SPEAKER, limit=1),))
        assert stream.state.registration is not None
        assert stream.state.registration.quota(Role.SPEAKER) == 1

    def test_change_quota_twice_for_a_role_is_refused(self) -> None:
        """A new set of quotas with a role twice is refused (quota)."""
        registering().refuse("quota", ChangeQuota, quotas=(Quota(role=Role.SPEAKER, limit=1),
                                                           Quota(role=Role.SPEAKER, limit=1)))


class TestCapacityAndWaitingList:
    def test_over_capacity_waits(self) -> None:
        """Over capacity a nomination goes on the waiting list, not lost."""
        stream = registering(capacity=1)
        seated = stream.nominate(0)
        waiting = stream.nominate(1, organisation=ORG_B)
        event = stream.events[-1]
        assert isinstance(event, DelegateNominated)
        assert event.waitlisted
        assert stream.status(seated) is NominationStatus.NOMINATED
        assert stream.status(waiting) is NominationStatus.WAITLISTED
        assert [n.nomination_id for n in stream.state.waiting_list] == [waiting]
        assert stream.state.seats_free == 0

    def test_no_capacity_means_no_waiting(self) -> None:
        """Without a capacity, nobody waits."""
        stream = registering()
        for person in range(6):
            stream.nominate(person, role=Role.PARTICIPANT)
        assert stream.state.waiting_list == ()
        assert stream.state.seats_free is None

    def test_later_nomination_waits_behind_a_waiting_list(self) -> None:
        """While anyone waits, a new nomination waits too, even if a seat looks free."""
        stream = registering(capacity=2)
        stream.nominate(0)
        # A state the rules never produce alone: a free seat and someone waiting (say an
        # event written by an older version). First come, first served still holds.
        stream.apply([DelegateNominated(
            event_id=uuid.UUID(int=0xE1), meeting_id=MEETING, nomination_id=uuid.UUID(int=0xE2),
            organisation_id=ORG_B, person_id=PEOPLE[1], role=Role.SPEAKER, waitlisted=True,
        )])
        assert stream.state.seats_free == 1
        later = stream.nominate(2)
        assert stream.status(later) is NominationStatus.WAITLISTED

    def test_withdrawal_promotes_the_first_waiting(self) -> None:
        """A seated delegate's withdrawal gives the seat to the first on the waiting list."""
        stream = registering(capacity=1)
        seated = stream.nominate(0)
        first = stream.nominate(1, organisation=ORG_B)
        second = stream.nominate(2)
        events = stream.do(WithdrawNomination, nomination_id=seated, reason="ill")
        assert [type(e) for e in events] == [NominationWithdrawn, NominationPromoted]
        assert events[1].nomination_id == first  # type: ignore[attr-defined]
        assert stream.status(seated) is NominationStatus.WITHDRAWN
        assert stream.status(first) is NominationStatus.NOMINATED
        assert stream.status(second) is NominationStatus.WAITLISTED

    def test_decline_promotes_the_first_waiting(self) -> None:
        """A seated delegate declined by the secretariat frees the seat for the next."""
        stream = registering(capacity=1)
        seated = stream.nominate(0)
        first = stream.nominate(1, organisation=ORG_B)
        events = stream.do(DeclineNomination, nomination_id=seated, reason="no badge")
        assert [type(e) for e in events] == [NominationDeclined, NominationPromoted]
        assert stream.status(first) is NominationStatus.NOMINATED

    def test_confirmed_withdrawal_promotes(self) -> None:
        """A confirmed, funded delegate's withdrawal frees the seat and the funding."""
        stream = registering(capacity=1, funded_places=1)
        seated = stream.nominate(0)
        first = stream.nominate(1, organisation=ORG_B)
        stream.do(ConfirmNomination, nomination_id=seated, funded=True)
        assert stream.state.funded_count == 1
        stream.do(WithdrawNomination, nomination_id=seated)
        assert stream.status(first) is NominationStatus.NOMINATED
        assert stream.state.funded_count == 0
        withdrawn = stream.state.nomination(seated)
        assert withdrawn is not None
        assert not withdrawn.funded

    def test_waiting_withdrawal_promotes_no_one(self) -> None:
        """A waiting nomination's withdrawal frees no seat: nobody moves up."""
        stream = registering(capacity=1)
        stream.nominate(0)
        first = stream.nominate(1, organisation=ORG_B)
        second = stream.nominate(2)
        events = stream.do(WithdrawNomination, nomination_id=first)
        assert [type(e) for e in events] == [NominationWithdrawn]
        assert [n.nomination_id for n in stream.state.waiting_list] == [second]

    def test_withdraw_twice_is_refused(self) -> None:
        """A withdrawn nomination cannot be withdrawn or declined again (nomination-ended)."""
        stream = registering()
        nomination = stream.nominate(0)
        stream.do(WithdrawNomination, nomination_id=nomination)
        stream.refuse("nomination-ended", WithdrawNomination, nomination_id=nomination)
        stream.refuse("nomination-ended", DeclineNomination, nomination_id=nomination)

    def test_unknown_nomination_is_refused(self) -> None:
        """Withdrawing a nomination that does not exist is refused (unknown-nomination)."""
        error = registering().refuse("unknown-nomination", WithdrawNomination,
                                     nomination_id=UNKNOWN)
        assert isinstance(error, UnknownReferenceError)
        registering().refuse("unknown-nomination", DeclineNomination, nomination_id=UNKNOWN)

    def test_capacity_increase_promotes_in_nomination_order(self) -> None:
        """More seats go to the waiting nominations first come, first served."""
        stream = registering(capacity=1)
        stream.nominate(0)
        waiting = [stream.nominate(person, organisation=ORG_B) for person in (1, 3, 5)]
        events = stream.do(ChangeCapacity, capacity=3)
        assert isinstance(events[0], CapacityChanged)
        promoted = [e.nomination_id for e in events[1:]]  # type: ignore[attr-defined]
        assert promoted == waiting[:2]
        assert [n.nomination_id for n in stream.state.waiting_list] == waiting[2:]
        assert stream.state.seats_free == 0

    def test_no_limit_promotes_everyone(self) -> None:
        """Removing the capacity seats everyone waiting."""
        stream = registering(capacity=1)
        stream.nominate(0)
        for person in (1, 3):
            stream.nominate(person, organisation=ORG_B)
        events = stream.do(ChangeCapacity, capacity=None)
        assert [type(e) for e in events] == [CapacityChanged, NominationPromoted,
                                             NominationPromoted]
        assert stream.state.waiting_list == ()

    def test_capacity_decrease_moves_the_latest_unconfirmed_back(self) -> None:
        """A smaller room sends the latest unconfirmed delegates back, ahead of later ones."""
        stream = registering(capacity=3)
        first, second, third = (stream.nominate(p, organisation=ORG_B) for p in (1, 3, 5))
        waiting = stream.nominate(0)
        stream.do(ConfirmNomination, nomination_id=third)
        events = stream.do(ChangeCapacity, capacity=2)
        assert [type(e) for e in events] == [CapacityChanged, NominationWaitlisted]
        assert events[1].nomination_id == second  # type: ignore[attr-defined]
        assert stream.status(first) is NominationStatus.NOMINATED
        assert stream.status(third) is NominationStatus.CONFIRMED
        assert [n.nomination_id for n in stream.state.waiting_list] == [second, waiting]

    def test_capacity_below_confirmed_is_refused(self) -> None:
        """A capacity below the confirmed delegates is refused (capacity)."""
        stream = registering(capacity=3)
        for person in (0, 1):
            stream.do(ConfirmNomination, nomination_id=stream.nominate(
                person, organisation=ORG_A if person == 0 else ORG_B))
        error = stream.refuse("capacity", ChangeCapacity, capacity=1)
        assert "2 confirmed" in str(error)
        stream.do(ChangeCapacity, capacity=2)
        assert stream.state.registration is not None
        assert stream.state.registration.capacity == 2

    def test_same_capacity_is_refused(self) -> None:
        """Changing the capacity to what it is already is refused (no-change)."""
        registering(capacity=3).refuse("no-change", ChangeCapacity, capacity=3)

    def test_negative_capacity_is_refused(self) -> None:
        """A negative capacity is refused (capacity)."""
        registering(capacity=3).refuse("capacity", ChangeCapacity, capacity=-1)

    @given(st.lists(st.one_of(
        st.tuples(st.just("nominate"), st.integers(0, 11)),
        st.tuples(st.just("withdraw"), st.integers(0, 11)),
        st.tuples(st.just("confirm"), st.integers(0, 11)),
        st.tuples(st.just("capacity"), st.one_of(st.none(), st.integers(0, 6))),
    ), max_size=25))
    def test_seats_never_exceed_capacity_and_no_seat_idles(
        self, steps: list[tuple[str, Any]]
    ) -> None:
        """After any sequence of changes the seated fit the room; no one waits by a free seat."""
        stream = registering(capacity=2)
        for action, value in steps:
            try:
                if action == "nominate":
                    stream.nominate(value, organisation=ORG_A if value % 2 == 0 else ORG_B,
                                    role=Role.PARTICIPANT)
                elif action == "withdraw":
                    stream.do(WithdrawNomination, nomination_id=uuid.UUID(int=0xC00 + value))
                elif action == "confirm":
                    stream.do(ConfirmNomination, nomination_id=uuid.UUID(int=0xC00 + value))
                else:
                    stream.do(ChangeCapacity, capacity=value)
            except DomainError:
                pass
            registration = stream.state.registration
            assert registration is not None
            if registration.capacity is not None:
                assert stream.state.seats_taken <= registration.capacity
                if stream.state.seats_taken < registration.capacity:
                    assert stream.state.waiting_list == ()
            else:
                assert stream.state.waiting_list == ()


class TestConfirmNomination:
    def test_confirm_a_seated_nomination(self) -> None:
        """A seated nomination is confirmed, unfunded by default."""
        stream = registering()
        nomination = stream.nominate(0)
        events = stream.do(ConfirmNomination, nomination_id=nomination)
        assert isinstance(events[0], NominationConfirmed)
        assert stream.status(nomination) is NominationStatus.CONFIRMED
        assert stream.state.funded_count == 0

    def test_waitlisted_is_refused(self) -> None:
        """A waiting nomination cannot be confirmed (waitlisted)."""
        stream = registering(capacity=1)
        stream.nominate(0)
        waiting = stream.nominate(2, role=Role.ALTERNATE)
        stream.refuse("waitlisted", ConfirmNomination, nomination_id=waiting)

    def test_ended_or_confirmed_is_refused(self) -> None:
        """A withdrawn or already confirmed nomination is refused (nomination-ended)."""
        stream = registering()
        withdrawn = stream.nominate(0)
        stream.do(WithdrawNomination, nomination_id=withdrawn)
        stream.refuse("nomination-ended", ConfirmNomination, nomination_id=withdrawn)
        confirmed = stream.nominate(2)
        stream.do(ConfirmNomination, nomination_id=confirmed)
        stream.refuse("nomination-ended", ConfirmNomination, nomination_id=confirmed)

    def test_unknown_nomination_is_refused(self) -> None:
        """Confirming an unknown nomination is refused (unknown-nomination)."""
        registering().refuse("unknown-nomination", ConfirmNomination, nomination_id=UNKNOWN)

    def test_funded_role(self) -> None:
        """A speaker is funded when speakers are the funded role."""
        stream = registering(funded_roles=(Role.SPEAKER, Role.ALTERNATE))
        nomination = stream.nominate(0)
        stream.do(ConfirmNomination, nomination_id=nomination, funded=True)
        confirmed = stream.state.nomination(nomination)
        assert confirmed is not None
        assert confirmed.funded
        assert stream.state.funded_count == 1

    def test_unfunded_role_is_refused(self) -> None:
        """Funding a participant when only panelists are funded is refused (funding-role)."""
        stream = registering(funded_roles=(Role.SPEAKER, Role.ALTERNATE))
        nomination = stream.nominate(0, role=Role.PARTICIPANT)
        error = stream.refuse("funding-role", ConfirmNomination, nomination_id=nomination,
                              funded=True)
        assert "participant" in str(error)
        stream.do(ConfirmNomination, nomination_id=nomination)  # unfunded: fine
        assert stream.status(nomination) is NominationStatus.CONFIRMED

    def test_no_funded_roles_means_any_role(self) -> None:
        """Without funded roles, any role may be funded."""
        stream = registering()
        nomination = stream.nominate(0, role=Role.PARTICIPANT)
        stream.do(ConfirmNomination, nomination_id=nomination, funded=True)
        assert stream.state.funded_count == 1

    def test_funded_places_cap(self) -> None:
        """Funding beyond the funded places is refused (funding-cap)."""
        stream = registering(funded_places=1)
        first = stream.nominate(0)
        second = stream.nominate(1, organisation=ORG_B)
        stream.do(ConfirmNomination, nomination_id=first, funded=True)
        error = stream.refuse("funding-cap", ConfirmNomination, nomination_id=second,
                              funded=True)
        assert "all 1 funded places" in str(error)

    def test_funded_place_freed_by_withdrawal(self) -> None:
        """A withdrawn funded delegate's place can be funded again."""
        stream = registering(funded_places=1)
        first = stream.nominate(0)
        second = stream.nominate(1, organisation=ORG_B)
        stream.do(ConfirmNomination, nomination_id=first, funded=True)
        stream.do(WithdrawNomination, nomination_id=first)
        stream.do(ConfirmNomination, nomination_id=second, funded=True)
        assert stream.state.funded_count == 1

    def test_funded_per_delegation_cap(self) -> None:
        """A delegation's funded places are capped; another delegation's are not affected."""
        stream = registering(funded_per_delegation=1)
        first = stream.nominate(0)
        second = stream.nominate(2, role=Role.ALTERNATE)
        other = stream.nominate(1, organisation=ORG_B)
        stream.do(ConfirmNomination, nomination_id=first, funded=True)
        error = stream.refuse("funding-cap", ConfirmNomination, nomination_id=second,
                              funded=True)
        assert "per delegation" in str(error)
        stream.do(ConfirmNomination, nomination_id=other, funded=True)
        assert stream.state.funded_count == 2


class TestSpeaking:
    def _session(self) -> Stream:
        return scheduled(CCPCJ, title="CCPCJ 32", kind=MeetingKind.COMMISSION_SESSION)

    def test_request_on_a_day_of_the_session(self) -> None:
        """'The CSU has requested to speak on the 19th': a day of the session is accepted."""
        stream = self._session()
        events = stream.do(RequestSpeaking, request_id=uuid.UUID(int=1), organisation_id=ORG_A,
                           day=pendulum.Date(2023, 5, 24), topic="Access to justice",
                           person_id=PEOPLE[0])
        assert isinstance(events[0], SpeakingRequested)
        assert [(r.organisation_id, r.day) for r in stream.state.speaking] == [
            (ORG_A, pendulum.Date(2023, 5, 24))
        ]

    @pytest.mark.parametrize("day", [pendulum.Date(2023, 5, 21), pendulum.Date(2023, 5, 27)])
    def test_day_outside_the_session_is_refused(self, day: pendulum.Date) -> None:
        """A day before or after the session is refused (day-outside-meeting)."""
        self._session().refuse("day-outside-meeting", RequestSpeaking,
                               request_id=uuid.UUID(int=1), organisation_id=ORG_A, day=day)

    def test_first_and_last_days_are_days_of_the_session(self) -> None:
        """The session's first and last days are both accepted."""
        stream = self._session()
        for index, day in enumerate((CCPCJ.first, CCPCJ.last)):
            stream.do(RequestSpeaking, request_id=uuid.UUID(int=index), organisation_id=ORG_A,
                      day=day)
        assert len(stream.state.speaking) == 2

    def test_timed_meeting_ending_at_midnight(self) -> None:
        """A meeting ending at midnight has no speaking day after it."""
        stream = scheduled(timed("2023-05-04 09:00", "2023-05-05 00:00"))
        stream.refuse("day-outside-meeting", RequestSpeaking, request_id=uuid.UUID(int=1),
                      organisation_id=ORG_A, day=pendulum.Date(2023, 5, 5))

    def test_one_request_per_organisation_and_day(self) -> None:
        """A second request by one organisation for one day is refused (speaking-twice)."""
        stream = self._session()
        day = pendulum.Date(2023, 5, 24)
        stream.do(RequestSpeaking, request_id=uuid.UUID(int=1), organisation_id=ORG_A, day=day)
        error = stream.refuse("speaking-twice", RequestSpeaking, request_id=uuid.UUID(int=2),
                              organisation_id=ORG_A, day=day)
        assert "GI-TOC" in str(error)
        stream.do(RequestSpeaking, request_id=uuid.UUID(int=3), organisation_id=ORG_B, day=day)
        stream.do(RequestSpeaking, request_id=uuid.UUID(int=4), organisation_id=ORG_A,
                  day=pendulum.Date(2023, 5, 25))
        assert len(stream.state.speaking) == 3

    def test_unknown_organisation_or_person_is_refused(self) -> None:
        """An unknown organisation or speaker is refused (unknown-...)."""
        stream = self._session()
        day = pendulum.Date(2023, 5, 24)
        stream.refuse("unknown-organisation", RequestSpeaking, request_id=uuid.UUID(int=1),
                      organisation_id=UNKNOWN, day=day)
        stream.refuse("unknown-person", RequestSpeaking, request_id=uuid.UUID(int=1),
                      organisation_id=ORG_A, day=day, person_id=UNKNOWN)

    def test_long_topic_is_refused(self) -> None:
        """A topic over 500 characters is refused (text-length)."""
        self._session().refuse("text-length", RequestSpeaking, request_id=uuid.UUID(int=1),
                               organisation_id=ORG_A, day=pendulum.Date(2023, 5, 24),
                               topic="t" * 501)


class TestMeetingDeadlines:
    DEADLINE = uuid.UUID(int=0xD1)

    def test_deadline_in_the_meeting_stream(self) -> None:
        """A meeting's deadline lives in its state, and changes there."""
        stream = scheduled()
        events = stream.do(SetDeadline, deadline_id=self.DEADLINE, title="names",
                           kind=DeadlineKind.NAMES, meeting_id=MEETING,
                           due=DueBy(day=pendulum.Date(2023, 5, 1)))
        assert isinstance(events[0], DeadlineSet)
        stream.do(ExtendDeadline, deadline_id=self.DEADLINE,
                  due=DueAt(at=at("2023-05-02 17:00")))
        stream.do(RecordReminderSent, deadline_id=self.DEADLINE)
        deadline = stream.state.deadline(self.DEADLINE)
        assert deadline is not None
        assert (deadline.extensions, deadline.reminders_sent) == (1, 1)

    def test_deadline_of_another_meeting_is_refused(self) -> None:
        """A deadline naming another meeting is refused in this one (deadline-meeting)."""
        scheduled().refuse("deadline-meeting", SetDeadline, deadline_id=self.DEADLINE,
                           title="names", meeting_id=PARENT,
                           due=DueBy(day=pendulum.Date(2023, 5, 1)))

    def test_unknown_deadline_of_the_meeting_is_refused(self) -> None:
        """Extending a deadline the meeting does not have is refused (unknown-deadline)."""
        scheduled().refuse("unknown-deadline", ExtendDeadline, deadline_id=self.DEADLINE,
                           due=DueBy(day=pendulum.Date(2023, 5, 1)))


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
            replace(MeetingState(), nope=1)
