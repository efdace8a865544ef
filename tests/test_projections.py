"""Projections: the runner's catch-up and "as of" folds, the alliance state, the views.

``runner``: a catch-up reads only what is new; a fold stops at a position or a time.
``alliance``: effective status through cancelled ancestors, descendants. ``registration``:
the window's and the deadlines' statuses at a moment. ``history``: every event of the
domain is said in words.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import attrs
import pendulum
import pytest

from alliance_events import Alliance, Event, EventLog, Recorded, open_log
from alliance_events.domain import deadlines as dl
from alliance_events.domain import directory as dr
from alliance_events.domain import meetings as mt
from alliance_events.domain import outbox as ob
from alliance_events.domain import settings as st
from alliance_events.domain.common import (
    LinkKind,
    MeetingKind,
    MeetingStatus,
    OfficerRole,
    Role,
)
from alliance_events.events import EventRegistry, OpaqueEvent, registry
from alliance_events.projections.alliance import AllianceProjection, AllianceState
from alliance_events.projections.history import describe, history_entry
from alliance_events.projections.registration import deadline_view, registration_view
from alliance_events.projections.runner import ProjectionRunner, fold
from alliance_events.testing import FixedClock, SequentialIds
from alliance_events.timing import all_day, timed

VIENNA = "Europe/Vienna"
START = pendulum.datetime(2023, 3, 1, 9, tz=VIENNA)


class CountingLog:
    """A log that counts the records its ``read_all`` hands out (a fake around a real log)."""

    def __init__(self, log: EventLog) -> None:
        self._log = log
        self.read = 0

    def read_all(self, *, after: int = 0, limit: int | None = None) -> Iterator[Recorded]:
        for record in self._log.read_all(after=after, limit=limit):
            self.read += 1
            yield record

    def __getattr__(self, name: str) -> Any:
        return getattr(self._log, name)


def _register(log: EventLog, count: int, clock: FixedClock | None = None) -> list[uuid.UUID]:
    """Append ``count`` organisations, one per stream (the clock advancing an hour each)."""
    ids = []
    for _ in range(count):
        organisation_id = uuid.uuid4()
        log.append(
            dr.organisation_stream(organisation_id),
            [dr.OrganisationRegistered(event_id=uuid.uuid4(), organisation_id=organisation_id,
                                       name=f"Organisation {len(ids)}")],
            expected_version=0,
        )
        ids.append(organisation_id)
        if clock is not None:
            clock.advance(hours=1)
    return ids


@pytest.fixture
def clock() -> FixedClock:
    """A clock at 1 March 2023, 09:00 Vienna."""
    return FixedClock(START)


@pytest.fixture
def log(clock: FixedClock) -> Iterator[EventLog]:
    """An empty memory log stamped by ``clock``."""
    with open_log("memory:", clock=clock) as opened:
        yield opened


@pytest.fixture
def alliance(log: EventLog, clock: FixedClock) -> Alliance:
    """The façade over ``log``, with sequential ids."""
    return Alliance(log, clock=clock, ids=SequentialIds())


class TestProjectionRunner:
    """Catch-up from a checkpoint; "as of" as a fresh fold."""

    def test_catch_up_reads_only_new_records(self, log: EventLog) -> None:
        """After a catch-up, appending 5 events makes the next one read exactly 5 records."""
        counting = CountingLog(log)
        runner = ProjectionRunner(counting, AllianceProjection())  # type: ignore[arg-type]
        _register(log, 10)
        assert runner.catch_up() == 10
        assert counting.read == 10
        counting.read = 0
        _register(log, 5)
        assert runner.catch_up() == 5
        assert counting.read == 5
        assert runner.checkpoint == 15
        assert len(runner.state.organisations) == 15

    def test_catch_up_with_nothing_new_reads_nothing(self, log: EventLog) -> None:
        """A catch-up at the head applies and reads no record."""
        counting = CountingLog(log)
        runner = ProjectionRunner(counting, AllianceProjection())  # type: ignore[arg-type]
        _register(log, 3)
        runner.catch_up()
        counting.read = 0
        assert runner.catch_up() == 0
        assert counting.read == 0

    def test_as_of_with_neither_is_the_caught_up_state(self, log: EventLog) -> None:
        """as_of() with no position nor time catches up and returns the live state."""
        runner = ProjectionRunner(log, AllianceProjection())
        _register(log, 4)
        state = runner.as_of()
        assert state is runner.state
        assert runner.checkpoint == 4
        assert state == fold(log, AllianceProjection())[0]

    def test_as_of_at_the_checkpoint_is_the_live_state(self, log: EventLog) -> None:
        """as_of(position=checkpoint) is the live state, not a new fold."""
        runner = ProjectionRunner(log, AllianceProjection())
        _register(log, 4)
        runner.catch_up()
        assert runner.as_of(position=4) is runner.state

    def test_as_of_an_earlier_position_is_a_fresh_fold(self, log: EventLog) -> None:
        """as_of(position=2) sees the first two records and leaves the live state alone."""
        runner = ProjectionRunner(log, AllianceProjection())
        ids = _register(log, 4)
        runner.catch_up()
        past = runner.as_of(position=2)
        assert set(past.organisations) == set(ids[:2])
        assert set(runner.state.organisations) == set(ids)


class TestFold:
    """``fold`` from the start, stopping where asked."""

    def test_whole_log(self, log: EventLog) -> None:
        """Without a limit it applies every record and returns the last position."""
        ids = _register(log, 5)
        state, last = fold(log, AllianceProjection())
        assert last == 5
        assert state.position == 5
        assert list(state.organisations) == ids

    @pytest.mark.parametrize("position", [1, 2, 4])
    def test_stops_at_a_position(self, log: EventLog, position: int) -> None:
        """fold(position=p) applies records 1..p, inclusive, and no more."""
        ids = _register(log, 5)
        state, last = fold(log, AllianceProjection(), position=position)
        assert last == state.position == position
        assert list(state.organisations) == ids[:position]

    def test_position_zero_or_below_is_empty(self, log: EventLog) -> None:
        """Before the first record nothing is known."""
        _register(log, 2)
        for position in (0, -3):
            state, last = fold(log, AllianceProjection(), position=position)
            assert last == 0
            assert state == AllianceState()

    def test_position_beyond_the_head_is_everything(self, log: EventLog) -> None:
        """A position past the head folds the whole log."""
        _register(log, 3)
        assert fold(log, AllianceProjection(), position=99)[1] == 3

    def test_stops_at_a_time(self, log: EventLog, clock: FixedClock) -> None:
        """fold(time=t) applies the records recorded at or before t, not after."""
        ids = _register(log, 4, clock)  # recorded at 09:00, 10:00, 11:00, 12:00
        at_ten = START.add(hours=1)
        state, last = fold(log, AllianceProjection(), time=at_ten)
        assert last == 2
        assert list(state.organisations) == ids[:2]
        assert state.recorded_at == at_ten
        state, last = fold(log, AllianceProjection(), time=at_ten.add(minutes=59))
        assert last == 2
        assert fold(log, AllianceProjection(), time=START.subtract(seconds=1))[1] == 0

    def test_time_in_another_zone_is_the_same_instant(
        self, log: EventLog, clock: FixedClock
    ) -> None:
        """A time given in UTC stops at the same records as the same instant in Vienna."""
        _register(log, 4, clock)
        utc = START.add(hours=2).in_timezone("UTC")  # 11:00 Vienna = 10:00 UTC
        assert fold(log, AllianceProjection(), time=utc)[1] == 3

    def test_position_and_time_together_stop_at_the_first_limit(
        self, log: EventLog, clock: FixedClock
    ) -> None:
        """With both limits the fold stops at whichever comes first."""
        _register(log, 4, clock)
        assert fold(log, AllianceProjection(), position=3, time=START)[1] == 1
        assert fold(log, AllianceProjection(), position=1, time=START.add(hours=5))[1] == 1


class TestAllianceState:
    """The state's joins: effective status through ancestors, descendants."""

    @pytest.fixture
    def family(self, alliance: Alliance) -> dict[str, uuid.UUID]:
        """A parent with two children; the first child has a (tentative) grandchild."""
        parent = alliance.schedule_meeting(
            title="Dialogue", kind="constructive-dialogue", first_day="2023-05-04",
            last_day="2023-05-05",
        )
        child = alliance.schedule_meeting(
            title="Dialogue day", kind="session", first_day="2023-05-05", parent=parent
        )
        other = alliance.schedule_meeting(
            title="Preparatory day", kind="preparatory-day", first_day="2023-05-04", parent=parent
        )
        grandchild = alliance.schedule_meeting(
            title="Morning", kind="session", start="2023-05-05 10:00", end="13:00", parent=child
        )
        tentative = alliance.schedule_meeting(
            title="Side event", kind="side-event", start="2023-05-05 13:15", end="14:00",
            parent=child, tentative=True,
        )
        return {"parent": parent, "child": child, "other": other, "grandchild": grandchild,
                "tentative": tentative}

    def test_grandchild_of_cancelled_meeting_is_cancelled(
        self, alliance: Alliance, family: dict[str, uuid.UUID]
    ) -> None:
        """Cancelling the parent shows its grandchild cancelled; its own status is unchanged."""
        alliance.cancel_meeting(family["parent"], reason="no room")
        state = alliance.state
        assert state.effective_status(family["grandchild"]) is MeetingStatus.CANCELLED
        assert state.meetings[family["grandchild"]].status is MeetingStatus.CONFIRMED
        listed = {m.meeting_id: m.status for m in alliance.meetings()}
        assert set(listed.values()) == {MeetingStatus.CANCELLED}

    def test_reinstatement_restores_the_grandchild(
        self, alliance: Alliance, family: dict[str, uuid.UUID]
    ) -> None:
        """After reinstatement the grandchild is confirmed again, a tentative one tentative."""
        alliance.cancel_meeting(family["parent"])
        alliance.reinstate_meeting(family["parent"], reason="cancelled by mistake")
        state = alliance.state
        assert state.effective_status(family["grandchild"]) is MeetingStatus.CONFIRMED
        assert state.effective_status(family["tentative"]) is MeetingStatus.TENTATIVE
        assert state.effective_status(family["parent"]) is MeetingStatus.CONFIRMED

    def test_cancelling_a_child_leaves_parent_and_sibling(
        self, alliance: Alliance, family: dict[str, uuid.UUID]
    ) -> None:
        """A cancelled child cancels its own parts only."""
        alliance.cancel_meeting(family["child"])
        state = alliance.state
        assert state.effective_status(family["grandchild"]) is MeetingStatus.CANCELLED
        assert state.effective_status(family["parent"]) is MeetingStatus.CONFIRMED
        assert state.effective_status(family["other"]) is MeetingStatus.CONFIRMED

    def test_descendants(self, alliance: Alliance, family: dict[str, uuid.UUID]) -> None:
        """Children first, then their children, each once; none for a leaf."""
        state = alliance.state
        assert state.descendants(family["parent"]) == [
            family["child"], family["other"], family["grandchild"], family["tentative"],
        ]
        assert state.descendants(family["child"]) == [family["grandchild"], family["tentative"]]
        assert state.descendants(family["grandchild"]) == []
        assert state.descendants(uuid.uuid4()) == []

    def test_ancestors(self, alliance: Alliance, family: dict[str, uuid.UUID]) -> None:
        """A grandchild's ancestors are its parent, then its parent's parent."""
        ancestors = alliance.state.ancestors(family["grandchild"])
        assert [a.meeting_id for a in ancestors] == [family["child"], family["parent"]]

    def test_touched_records_first_and_last_change(
        self, alliance: Alliance, clock: FixedClock, family: dict[str, uuid.UUID]
    ) -> None:
        """A meeting's created time stays; its modified time and position follow changes."""
        clock.advance(days=2)
        alliance.cancel_meeting(family["other"])
        touched = alliance.state.touched[family["other"]]
        assert touched.created == START
        assert touched.modified == START.add(days=2)
        assert touched.position == alliance.log.head()


class TestRegistrationView:
    """The registration window's status at the moment looked at."""

    def test_window_statuses(self, alliance: Alliance) -> None:
        """'none' without registration; 'not yet open', 'open', then 'closed' by time."""
        meeting = alliance.schedule_meeting(title="Dialogue", first_day="2023-05-05")
        state = alliance.state
        assert registration_view(state, state.meetings[meeting], START).window == "none"
        alliance.open_registration(
            meeting, opens="2023-03-10 09:00", closes="2023-04-01 00:00", capacity=2
        )
        state = alliance.state
        registration = state.meetings[meeting]
        for at, window in (
            (START, "not yet open"),
            (pendulum.datetime(2023, 3, 10, 9, tz=VIENNA), "open"),
            (pendulum.datetime(2023, 3, 31, 23, 59, tz=VIENNA), "open"),
            (pendulum.datetime(2023, 4, 1, tz=VIENNA), "closed"),
        ):
            view = registration_view(state, registration, at)
            assert view.window == window, at
            assert view.at == at
        assert (view.capacity, view.seats_taken, view.seats_free) == (2, 0, 2)

    def test_closed_early_is_closed(self, alliance: Alliance, clock: FixedClock) -> None:
        """A registration closed before its window ends is closed inside the window."""
        meeting = alliance.schedule_meeting(title="Dialogue", first_day="2023-05-05")
        alliance.open_registration(meeting, opens="2023-03-01", closes="2023-04-30")
        alliance.close_registration(meeting)
        assert alliance.registration(meeting).window == "closed"

    def test_delegations_grouped_in_nomination_order(self, alliance: Alliance) -> None:
        """Delegations appear in the order of their first nomination, named by acronym."""
        meeting = alliance.schedule_meeting(title="Dialogue", first_day="2023-05-05")
        alliance.open_registration(meeting, opens="2023-03-01", closes="2023-04-30", capacity=2)
        first = alliance.register_organisation(name="First", acronym="F")
        second = alliance.register_organisation(name="Second")
        people = [alliance.register_person(name=f"P {i}") for i in range(3)]
        alliance.nominate(meeting, organisation=second, person=people[0], role="speaker")
        alliance.nominate(meeting, organisation=first, person=people[1], role="speaker")
        alliance.nominate(meeting, organisation=second, person=people[2], role="alternate")
        view = alliance.registration(meeting)
        assert [d.organisation for d in view.delegations] == ["Second", "F"]
        assert [len(d.delegates) for d in view.delegations] == [2, 1]
        assert [d.person for d in view.waiting_list] == ["P 2"]
        assert view.waiting_list[0].waiting_position == 1


def _deadline(**changes: Any) -> dl.Deadline:
    fields: dict[str, Any] = {
        "deadline_id": uuid.uuid4(),
        "title": "Names",
        "due": dl.DueBy(day=pendulum.date(2023, 5, 1)),
        "kind": dl.DeadlineKind.NAMES,
        "meeting_id": None,
        "organisation_id": None,
        "reminders": (pendulum.duration(days=7), pendulum.duration(days=1)),
        "public": True,
        "description": "",
    }
    fields.update(changes)
    return dl.Deadline(**fields)


class TestDeadlineView:
    """A deadline's status: upcoming, due soon (within its reminders), overdue, cancelled."""

    DUE = pendulum.datetime(2023, 5, 2, tz=VIENNA)  # by 1 May: overdue from midnight

    @pytest.mark.parametrize(
        ("at", "status"),
        [
            (pendulum.datetime(2023, 4, 1, tz=VIENNA), "upcoming"),
            (DUE.subtract(days=7, microseconds=1), "upcoming"),
            (DUE.subtract(days=7), "due soon"),
            (DUE.subtract(microseconds=1), "due soon"),
            (DUE, "overdue"),
            (DUE.add(days=30), "overdue"),
        ],
    )
    def test_status_by_time(self, at: pendulum.DateTime, status: str) -> None:
        """The status turns at the first reminder and at the due instant."""
        assert deadline_view(_deadline(), at).status == status

    def test_without_reminders_never_due_soon(self) -> None:
        """Without reminders a deadline is upcoming until it is overdue."""
        deadline = _deadline(reminders=())
        assert deadline_view(deadline, self.DUE.subtract(minutes=1)).status == "upcoming"

    def test_cancelled_wins(self) -> None:
        """A cancelled deadline is shown cancelled, even after its due time."""
        deadline = _deadline(cancelled=True)
        assert deadline_view(deadline, self.DUE.add(days=1)).status == "cancelled"

    def test_fields(self) -> None:
        """The view carries the due instant, reminder instants and extensions."""
        view = deadline_view(_deadline(extensions=2), self.DUE)
        assert view.due == self.DUE
        assert view.reminders == (self.DUE.subtract(days=7), self.DUE.subtract(days=1))
        assert view.extensions == 2

    def test_due_at_an_instant(self) -> None:
        """A deadline due at 17:00 is overdue at 17:00, not before."""
        at = pendulum.datetime(2023, 5, 1, 17, tz=VIENNA)
        deadline = _deadline(due=dl.DueAt(at=at), reminders=())
        assert deadline_view(deadline, at.subtract(seconds=1)).status == "upcoming"
        assert deadline_view(deadline, at).status == "overdue"


# -- history ----------------------------------------------------------------------------


def _names() -> tuple[AllianceState, dict[str, uuid.UUID]]:
    """A state knowing one organisation, one person, one meeting with a nomination."""
    clock = FixedClock(START)
    with Alliance.open("memory:", clock=clock, ids=SequentialIds()) as alliance:
        organisation = alliance.register_organisation(name="Rural And Urban Aid", acronym="RUAN")
        person = alliance.register_person(name="Femi Adeyemi", organisation=organisation)
        meeting = alliance.schedule_meeting(title="Dialogue", first_day="2023-05-05")
        alliance.open_registration(meeting, opens="2023-03-01", closes="2023-04-30")
        nomination = alliance.nominate(
            meeting, organisation=organisation, person=person, role="speaker"
        )
        deadline = alliance.set_deadline(title="Names", due="2023-05-01", meeting=meeting)
        return alliance.state, {
            "organisation": organisation, "person": person, "meeting": meeting,
            "nomination": nomination, "deadline": deadline,
        }


STATE, IDS = _names()


def _samples() -> dict[type[Event], Event]:
    """One event of each class of the domain, naming the ids ``STATE`` knows."""
    e = uuid.uuid4
    m, n, o, p, d = IDS["meeting"], IDS["nomination"], IDS["organisation"], IDS["person"], (
        IDS["deadline"]
    )
    when = timed("2023-04-13 15:00", "16:00", VIENNA)
    opens, closes = START, START.add(days=30)
    samples: list[Event] = [
        mt.MeetingScheduled(event_id=e(), meeting_id=m, title="Talk",
                            kind=MeetingKind.BRIEFING, when=when, tentative=True),
        mt.MeetingRescheduled(event_id=e(), meeting_id=m, when=all_day("2023-05-30", "2023-05-31"),
                              reason="room"),
        mt.MeetingDetailsChanged(event_id=e(), meeting_id=m, location="Room C3"),
        mt.MeetingConfirmed(event_id=e(), meeting_id=m),
        mt.MeetingCancelled(event_id=e(), meeting_id=m, reason="no room"),
        mt.MeetingReinstated(event_id=e(), meeting_id=m, reason="by mistake"),
        mt.LinkAttached(event_id=e(), meeting_id=m,
                        link=mt.Link(kind=LinkKind.REPORT, url="https://example.org/r")),
        mt.AttendanceRecorded(event_id=e(), meeting_id=m,
                              attendees=(mt.Attendee(person_id=p, capacity="Chair"),)),
        mt.RegistrationOpened(event_id=e(), meeting_id=m, opens_at=opens, closes_at=closes,
                              capacity=8, quotas=(mt.Quota(role=Role.SPEAKER, limit=1),),
                              funded_places=6),
        mt.RegistrationClosed(event_id=e(), meeting_id=m, reason="full"),
        mt.RegistrationReopened(event_id=e(), meeting_id=m, closes_at=closes),
        mt.RegistrationWindowChanged(event_id=e(), meeting_id=m, opens_at=opens,
                                     closes_at=closes),
        mt.CapacityChanged(event_id=e(), meeting_id=m, capacity=9),
        mt.QuotaChanged(event_id=e(), meeting_id=m, quotas=()),
        mt.DelegateNominated(event_id=e(), meeting_id=m, nomination_id=n, organisation_id=o,
                             person_id=p, role=Role.SPEAKER, funding_requested=True,
                             waitlisted=True),
        mt.NominationPromoted(event_id=e(), meeting_id=m, nomination_id=n),
        mt.NominationWaitlisted(event_id=e(), meeting_id=m, nomination_id=n),
        mt.NominationWithdrawn(event_id=e(), meeting_id=m, nomination_id=n, reason="travel"),
        mt.NominationConfirmed(event_id=e(), meeting_id=m, nomination_id=n, funded=True),
        mt.NominationDeclined(event_id=e(), meeting_id=m, nomination_id=n),
        mt.SpeakingRequested(event_id=e(), meeting_id=m, request_id=e(), organisation_id=o,
                             day=pendulum.date(2023, 4, 19), topic="implementation"),
        dl.DeadlineSet(event_id=e(), deadline_id=d, title="Names",
                       due=dl.DueBy(day=pendulum.date(2023, 5, 1)), meeting_id=m),
        dl.DeadlineExtended(event_id=e(), deadline_id=d,
                            due=dl.DueAt(at=pendulum.datetime(2023, 5, 3, 17, tz=VIENNA))),
        dl.DeadlineCancelled(event_id=e(), deadline_id=d, reason="not needed"),
        dl.DeadlineReminderSent(event_id=e(), deadline_id=d),
        dr.OrganisationRegistered(event_id=e(), organisation_id=o, name="Rural And Urban Aid",
                                  acronym="RUAN"),
        dr.PersonRegistered(event_id=e(), person_id=p, name="Femi Adeyemi",
                            email="femi@example.org", organisation_id=o),
        dr.PersonDetailsChanged(event_id=e(), person_id=p, email="f@example.org"),
        dr.OfficerAppointed(event_id=e(), body="vngoc", role=OfficerRole.CHAIR, person_id=p,
                            since=pendulum.date(2023, 3, 17), replaces=None),
        dr.FeedTokenIssued(event_id=e(), organisation_id=o, token_id=e(), token_hash="0" * 64,
                           label="secretary's phone"),
        dr.FeedTokenRevoked(event_id=e(), organisation_id=o, token_id=e(), reason="lost"),
        st.FeedAddressSet(event_id=e(), base_url="https://calendar.example.org"),
        dr.FocalPointAppointed(event_id=e(), organisation_id=o, person_id=p),
        dr.PersonForgotten(event_id=e(), person_id=p, reason="request of 3 May"),
        ob.NotifierStarted(event_id=e(), from_position=12, from_time=START),
        ob.MessageQueued(event_id=e(), message_id=e(), kind=ob.MessageKind.REMINDER,
                         organisation_id=o, recipients=(p,), due_at=START, subject="Names"),
        ob.MessageSkipped(event_id=e(), message_id=e(), kind=ob.MessageKind.REMINDER,
                          organisation_id=o, due_at=START, subject="Names", reason="late"),
        ob.SendFailed(event_id=e(), message_id=e(), attempt=2, error="451 try later",
                      retry_at=START),
        ob.MessageSent(event_id=e(), message_id=e(), attempt=3),
    ]
    return {type(sample): sample for sample in samples}


SAMPLES = _samples()
DOMAIN_EVENTS = sorted(
    (cls for cls in registry if cls.__module__.startswith("alliance_events.domain")),
    key=lambda cls: cls.__name__,
)


class TestHistory:
    """Every event of the domain, said in plain words."""

    def test_every_domain_event_has_a_sample(self) -> None:
        """The samples cover each domain event class in the registry (a new one needs one)."""
        assert set(DOMAIN_EVENTS) == set(SAMPLES)

    @pytest.mark.parametrize("cls", DOMAIN_EVENTS, ids=lambda cls: cls.__name__)
    def test_describe_says_more_than_the_class_name(self, cls: type[Event]) -> None:
        """describe() gives words, not the bare class name."""
        text = describe(SAMPLES[cls], STATE)
        assert text
        assert text != cls.__name__

    @pytest.mark.parametrize(
        ("cls", "words"),
        [
            (mt.MeetingScheduled, "tentatively scheduled briefing 'Talk', 13 Apr 2023 15:00-16:00 "
                                  "Europe/Vienna"),
            (mt.MeetingRescheduled, "moved it to all day 30 May to 31 May 2023 (room)"),
            (mt.MeetingCancelled, "cancelled it (no room)"),
            (mt.AttendanceRecorded, "recorded as present: Femi Adeyemi (Chair)"),
            (mt.RegistrationOpened, "8 seats, 1 speaker per delegation, 6 funded places"),
            (mt.QuotaChanged, "changed the quotas to none"),
            (mt.DelegateNominated, "RUAN nominated Femi Adeyemi as speaker (funding requested): "
                                   "over capacity, on the waiting list"),
            (mt.NominationPromoted, "gave a seat to Femi Adeyemi (RUAN, speaker) from the "
                                    "waiting list"),
            (mt.NominationConfirmed, "confirmed Femi Adeyemi (RUAN, speaker), funded"),
            (mt.SpeakingRequested, "RUAN asked to speak on 19 Apr 2023 on 'implementation'"),
            (dl.DeadlineSet, "set the deadline 'Names' by 01 May 2023 (Europe/Vienna)"),
            (dl.DeadlineExtended, "extended the deadline 'Names': now due at 03 May 2023 17:00 "
                                  "Europe/Vienna"),
            (dl.DeadlineReminderSent, "sent a reminder of the deadline 'Names' by e-mail"),
            (dr.OfficerAppointed, "appointed Femi Adeyemi chair of vngoc from 17 Mar 2023"),
            (dr.OrganisationRegistered, "registered the member organisation 'Rural And Urban "
                                        "Aid' (RUAN)"),
            (dr.PersonRegistered, "registered Femi Adeyemi of RUAN"),
            (dr.PersonDetailsChanged, "changed the e-mail of Femi Adeyemi"),
            (dr.FeedTokenIssued, "issued a private feed address to RUAN (secretary's phone)"),
            (dr.FeedTokenRevoked, "revoked a private feed address of RUAN (lost)"),
            (st.FeedAddressSet, "set the feed address to https://calendar.example.org"),
        ],
    )
    def test_wording(self, cls: type[Event], words: str) -> None:
        """The words name people and organisations, times in their zone, and reasons."""
        assert words in describe(SAMPLES[cls], STATE)

    def test_personal_values_stay_out_of_the_words(self) -> None:
        """A person's e-mail (old or new) is never written into a history line."""
        for cls in (dr.PersonRegistered, dr.PersonDetailsChanged):
            assert "@" not in describe(SAMPLES[cls], STATE)

    def test_officer_replacing_another_names_both(self) -> None:
        """An appointment replacing a holder names the one replaced."""
        event = attrs.evolve(SAMPLES[dr.OfficerAppointed], replaces=IDS["person"])
        assert describe(event, STATE).endswith(", replacing Femi Adeyemi")

    def test_unknown_nomination_is_named_by_id(self) -> None:
        """A nomination the state does not know is named by its id."""
        stray = uuid.uuid4()
        event = mt.NominationWithdrawn(event_id=uuid.uuid4(), meeting_id=IDS["meeting"],
                                       nomination_id=stray)
        assert describe(event, STATE) == f"withdrew nomination {stray}"

    def test_history_entry(self, alliance: Alliance) -> None:
        """A history line copies position, time, type and actor ('someone' if none)."""
        meeting = alliance.schedule_meeting(title="Talk", first_day="2023-05-05", actor="chair")
        alliance.cancel_meeting(meeting, reason="ill")
        first, second = alliance.history(meeting)
        assert (first.position, first.type, first.actor) == (1, "MeetingScheduled", "chair")
        assert first.recorded_at == START
        assert (second.actor, second.text) == ("someone", "cancelled it (ill)")
        record = next(iter(alliance.log.read_all(after=1)))
        assert history_entry(record, alliance.state) == second

    def test_history_entry_of_another_tools_event(self) -> None:
        """Another tool's event is named by its type name (its class's, if unregistered)."""

        @attrs.frozen(kw_only=True)
        class Noted(Event):
            text: str

        event = Noted(event_id=uuid.uuid4(), text="x")
        assert describe(event, STATE) == "an event of another tool: Noted"
        EventRegistry().add(Noted, "elsewhere.Noted")
        assert describe(event, STATE) == "an event of another tool: elsewhere.Noted"
        opaque = OpaqueEvent(event_id=uuid.uuid4(), type_name="minutes.MinutesApproved", schema=2,
                             data="{}")
        assert describe(opaque, STATE) == "an event of another tool: minutes.MinutesApproved"


class TestSnapshots:
    """"As of" folds from the runner's snapshots, and gives what a fold from scratch gives."""

    def _story(self, alliance: Alliance, clock: FixedClock) -> None:
        organisation = alliance.register_organisation(name="CGR")
        for index in range(4):
            clock.advance(hours=1)
            meeting = alliance.schedule_meeting(
                title=f"Meeting {index}", start=f"2023-04-1{index} 15:00", end="16:00"
            )
            clock.advance(hours=1)
            alliance.open_registration(meeting, opens="2023-03-01", closes="2023-04-01",
                                       capacity=1)
            person = alliance.register_person(name=f"Delegate {index}", organisation=organisation)
            alliance.nominate(meeting, organisation=organisation, person=person, role="speaker")

    def test_as_of_every_position_and_time_equals_a_fold_from_scratch(
        self, log: EventLog, alliance: Alliance, clock: FixedClock
    ) -> None:
        """With a snapshot every 3 positions, as_of gives the same state as folding from 0."""
        self._story(alliance, clock)
        runner = ProjectionRunner(log, AllianceProjection(), snapshot_every=3,
                                  snapshots_kept=None)
        runner.catch_up()
        assert len(runner._snapshots) == log.head() // 3
        for position in range(log.head() + 1):
            expected, _ = fold(log, AllianceProjection(), position=position)
            assert runner.as_of(position=position) == expected, position
        for record in log.read_all():
            expected, _ = fold(log, AllianceProjection(), time=record.recorded_at)
            assert runner.as_of(time=record.recorded_at) == expected

    @pytest.mark.parametrize("kept", [1, 2, 3, 5])
    def test_at_most_so_many_snapshots_spread_over_the_log(
        self, log: EventLog, alliance: Alliance, clock: FixedClock, kept: int
    ) -> None:
        """Past ``snapshots_kept`` copies, one goes: the newest stays, the others stay
        spread (no stretch between two kept is more than twice the shortest possible),
        and as_of still equals a fold from scratch."""
        self._story(alliance, clock)
        runner = ProjectionRunner(log, AllianceProjection(), snapshot_every=1,
                                  snapshots_kept=kept)
        runner.catch_up()
        positions = [snapshot.position for snapshot in runner._snapshots]
        assert len(positions) == kept
        assert positions == sorted(positions)
        assert positions[-1] == log.head()
        gaps = [b - a for a, b in zip([0, *positions], positions, strict=False)]
        assert max(gaps) <= 2 * -(-log.head() // kept)
        for position in range(log.head() + 1):
            expected, _ = fold(log, AllianceProjection(), position=position)
            assert runner.as_of(position=position) == expected, position

    def test_later_events_leave_snapshots_and_past_states_unchanged(
        self, log: EventLog, alliance: Alliance, clock: FixedClock
    ) -> None:
        """A past state read, then more events appended: reading it again gives the same."""
        self._story(alliance, clock)
        runner = ProjectionRunner(log, AllianceProjection(), snapshot_every=2)
        runner.catch_up()
        middle = log.head() // 2
        before = runner.as_of(position=middle)
        frozen = AllianceProjection().copy(before)
        clock.advance(days=1)
        [meeting] = [m.meeting_id for m in alliance.meetings() if m.title == "Meeting 0"]
        alliance.cancel_meeting(meeting)
        runner.catch_up()
        assert runner.as_of(position=middle) == frozen
        assert before == frozen
