"""Tests of the application façade, :class:`alliance_events.Alliance`, on memory and SQLite.

Each command is checked through the façade's own queries (registration(), meetings(),
deadlines(), history()); each refusal appends nothing and names its rule.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alliance_events import Alliance
from alliance_events.domain.common import (
    Command,
    MeetingStatus,
    NominationStatus,
    OfficerRole,
    Role,
    command_digest,
)
from alliance_events.domain.directory import RegisterOrganisation
from alliance_events.errors import (
    ConcurrencyError,
    DomainError,
    TokenShownOnceError,
    UnknownReferenceError,
)
from alliance_events.events import Event
from alliance_events.log import MemoryLog
from alliance_events.log.base import ExpectedVersion, Recorded
from alliance_events.testing import FixedClock, SequentialIds
from alliance_events.timing import AllDay, NonexistentTimeError, TimingError

VIENNA = "Europe/Vienna"
START = pendulum.datetime(2023, 3, 1, 9, tz=VIENNA)
IN_WINDOW = pendulum.datetime(2023, 3, 22, 16, tz=VIENNA)


def vienna(*args: int) -> pendulum.DateTime:
    """A time in Vienna."""
    return pendulum.datetime(*args, tz=VIENNA)


@pytest.fixture(params=["memory", "sqlite"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A URL of a fresh log on each backend."""
    return "memory:" if request.param == "memory" else f"sqlite:///{tmp_path / 'alliance.db'}"


@pytest.fixture
def clock() -> FixedClock:
    """A clock standing on 1 March 2023, 09:00 Vienna."""
    return FixedClock(START)


@pytest.fixture
def alliance(url: str, clock: FixedClock) -> Iterator[Alliance]:
    """An empty alliance on each backend."""
    with Alliance.open(url, clock=clock, ids=SequentialIds()) as opened:
        yield opened


@attrs.define
class World:
    """The minutes' organisations, some delegates, and the Dialogue on Firearms."""

    alliance: Alliance
    clock: FixedClock
    gitoc: uuid.UUID
    cgr: uuid.UUID
    dath: uuid.UUID
    people: dict[str, uuid.UUID]
    firearms: uuid.UUID

    def head(self) -> int:
        """The log's last position."""
        return self.alliance.log.head()

    def nominate(self, person: str, organisation: uuid.UUID | None = None,
                 role: str = "speaker", **fields: Any) -> uuid.UUID:
        """Nominate ``person`` for the Dialogue (for GI-TOC by default)."""
        return self.alliance.nominate(
            self.firearms, organisation=self.gitoc if organisation is None else organisation,
            person=self.people[person], role=role, **fields,
        )


@pytest.fixture
def world(alliance: Alliance, clock: FixedClock) -> World:
    """Three organisations, five people, a Dialogue with registration open from 21 March."""
    gitoc = alliance.register_organisation(
        name="Global Initiative against Transnational Organized Crime", acronym="GI-TOC"
    )
    cgr = alliance.register_organisation(name="Centre for Global Reform", acronym="CGR")
    dath = alliance.register_organisation(name="Drug Advisory Training Hub", acronym="DATH")
    people = {
        name: alliance.register_person(
            name=name, email=f"{name.split()[0].lower()}@example.org", organisation=org
        )
        for name, org in [("Alex Weber", gitoc), ("Bea Novak", gitoc), ("Chidi Okafor", cgr),
                          ("Dana Kovacs", cgr), ("Elif Demir", dath)]
    }
    firearms = alliance.schedule_meeting(
        title="Constructive Dialogue on Firearms", kind="constructive-dialogue",
        start="2023-05-05 09:00", end="18:00", location="Vienna International Centre",
        actor="secretary",
    )
    alliance.open_registration(
        firearms, opens="2023-03-21", closes="2023-05-01", capacity=2,
        quotas={"speaker": 1, "alternate": 1}, funded_places=2, funded_per_delegation=1,
        funded_roles=["speaker", "alternate"], actor="secretary",
    )
    clock.set(IN_WINDOW)
    return World(alliance, clock, gitoc, cgr, dath, people, firearms)


# -- directory ---------------------------------------------------------------------------------


class TestDirectory:
    def test_find_organisation_by_name_or_acronym(self, world: World) -> None:
        """An organisation is found by its name or acronym, in any case and spacing."""
        alliance = world.alliance
        assert alliance.find_organisation("GI-TOC") == world.gitoc
        assert alliance.find_organisation(" gi-toc ") == world.gitoc
        assert alliance.find_organisation("drug advisory training hub") == world.dath
        assert alliance.find_organisation(str(world.cgr)) == world.cgr

    def test_find_unknown_or_ambiguous_organisation_is_refused(self, world: World) -> None:
        """No match, or two, is refused (unknown-organisation)."""
        alliance = world.alliance
        with pytest.raises(UnknownReferenceError, match="no organisation") as info:
            alliance.find_organisation("UNODC")
        assert info.value.rule == "unknown-organisation"
        alliance.register_organisation(name="Civil Society Unit", acronym="CSU")
        alliance.register_organisation(name="Crime Statistics Union", acronym="CSU")
        with pytest.raises(UnknownReferenceError, match="more than one"):
            alliance.find_organisation("csu")

    def test_empty_query_finds_nothing(self, world: World) -> None:
        """An empty query matches no organisation without acronym, no person without e-mail."""
        alliance = world.alliance
        alliance.register_organisation(name="UNODC", member=False)
        alliance.register_person(name="Sam Lee")
        with pytest.raises(UnknownReferenceError, match="no organisation"):
            alliance.find_organisation("  ")
        with pytest.raises(UnknownReferenceError, match="no person"):
            alliance.find_person("")

    def test_find_person_by_name_or_email(self, world: World) -> None:
        """A person is found by name or e-mail, in any case."""
        alliance = world.alliance
        assert alliance.find_person("Alex Weber") == world.people["Alex Weber"]
        assert alliance.find_person("CHIDI@EXAMPLE.ORG") == world.people["Chidi Okafor"]

    def test_find_unknown_or_ambiguous_person_is_refused(self, world: World) -> None:
        """No match, or two, is refused (unknown-person)."""
        alliance = world.alliance
        with pytest.raises(UnknownReferenceError, match="no person") as info:
            alliance.find_person("Nobody")
        assert info.value.rule == "unknown-person"
        alliance.register_person(name="Alex Weber", email="a.weber@example.net")
        with pytest.raises(UnknownReferenceError, match="more than one"):
            alliance.find_person("alex weber")

    def test_registered_person_is_known(self, world: World) -> None:
        """A registered person's details are in the state, under their organisation."""
        person = world.alliance.state.persons[world.people["Elif Demir"]]
        assert (person.name, person.email, person.organisation_id) == (
            "Elif Demir", "elif@example.org", world.dath
        )

    def test_appoint_officers(self, world: World) -> None:
        """A new chair replaces the former one, whose term ends."""
        alliance = world.alliance
        alliance.appoint_officer(body="vngoc", role="chair", person=world.people["Alex Weber"],
                                 since="2021-06-01")
        alliance.appoint_officer(body="vngoc", role=OfficerRole.CHAIR,
                                 person=world.people["Chidi Okafor"], since="2023-03-20")
        body = alliance.state.bodies["vngoc"]
        assert body.holder(OfficerRole.CHAIR) == world.people["Chidi Okafor"]
        assert body.terms[0].until == pendulum.Date(2023, 3, 20)


# -- meetings ----------------------------------------------------------------------------------


class TestMeetings:
    def test_schedule_and_list(self, world: World) -> None:
        """A scheduled meeting is listed with its time in its zone, confirmed."""
        [view] = world.alliance.meetings()
        assert view.meeting_id == world.firearms
        assert view.title == "Constructive Dialogue on Firearms"
        assert view.status is MeetingStatus.CONFIRMED
        assert view.when.start.isoformat() == "2023-05-05T09:00:00+02:00"  # type: ignore[union-attr]
        assert view.when.start.timezone_name == VIENNA  # type: ignore[union-attr]

    def test_meetings_sorted_by_start(self, world: World) -> None:
        """Meetings are listed by start, whatever order they were scheduled in."""
        alliance = world.alliance
        alliance.schedule_meeting(title="Informal Meeting", start="2023-04-19 15:00", end="16:30")
        alliance.schedule_meeting(title="CD on Technical Assistance",
                                  kind="constructive-dialogue", first_day="2023-05-30",
                                  last_day="2023-05-31")
        titles = [v.title for v in alliance.meetings()]
        assert titles == ["Informal Meeting", "Constructive Dialogue on Firearms",
                          "CD on Technical Assistance"]
        ta = alliance.meetings()[-1]
        assert isinstance(ta.when, AllDay)
        assert ta.when.end_exclusive == pendulum.Date(2023, 6, 1)

    def test_gmt_plus_one_meeting(self, alliance: Alliance) -> None:
        """'15:00 - 16:30 (GMT+1)' is scheduled at that fixed offset."""
        alliance.schedule_meeting(title="Informal Meeting", start="2023-03-22 15:00",
                                  end="16:30", zone="GMT+1")
        [view] = alliance.meetings()
        assert view.when.start.isoformat() == "2023-03-22T15:00:00+01:00"  # type: ignore[union-attr]

    def test_tentative_then_confirmed(self, world: World) -> None:
        """A tentative meeting is listed as such until confirmed."""
        alliance = world.alliance
        meeting = alliance.schedule_meeting(title="Briefing with the justice section",
                                            kind="briefing", start="2023-04-12 15:00",
                                            end="16:00", tentative=True)
        assert alliance.meetings(kind="briefing")[0].status is MeetingStatus.TENTATIVE
        alliance.confirm_meeting(meeting)
        view = alliance.meetings(kind="briefing")[0]
        assert view.status is MeetingStatus.CONFIRMED
        assert view.sequence == 1

    def test_reschedule(self, world: World) -> None:
        """A moved meeting keeps its id, shows the new time and a higher sequence."""
        world.alliance.reschedule_meeting(world.firearms, start="2023-05-05 10:00", end="18:30",
                                          reason="room")
        [view] = world.alliance.meetings()
        assert view.meeting_id == world.firearms
        assert view.when.start.isoformat() == "2023-05-05T10:00:00+02:00"  # type: ignore[union-attr]
        assert view.sequence == 1

    def test_change_details(self, world: World) -> None:
        """A title or description change shows; it does not raise the sequence."""
        world.alliance.change_meeting_details(world.firearms, title="CD on Firearms",
                                              description="Two experts, three respondents.")
        [view] = world.alliance.meetings()
        assert (view.title, view.description, view.sequence) == (
            "CD on Firearms", "Two experts, three respondents.", 0
        )

    def test_cancel_and_reinstate(self, world: World) -> None:
        """A cancelled meeting stays listed as cancelled, hidden on request; reinstating."""
        alliance = world.alliance
        alliance.cancel_meeting(world.firearms, reason="no room")
        assert alliance.meetings()[0].status is MeetingStatus.CANCELLED
        assert alliance.meetings(include_cancelled=False) == []
        alliance.reinstate_meeting(world.firearms, reason="room found")
        assert alliance.meetings(include_cancelled=False)[0].status is MeetingStatus.CONFIRMED

    def test_child_of_a_cancelled_parent_shows_cancelled(self, world: World) -> None:
        """Sessions of a cancelled session show cancelled; include_cancelled=False hides them."""
        alliance = world.alliance
        ccpcj = alliance.schedule_meeting(title="CCPCJ 32", kind="commission-session",
                                          first_day="2023-05-22", last_day="2023-05-26")
        side = alliance.schedule_meeting(title="Femicide Declaration", kind="side-event",
                                         start="2023-05-23 13:00", end="14:00", parent=ccpcj)
        deeper = alliance.schedule_meeting(title="Exhibition opening", kind="exhibition",
                                           start="2023-05-23 13:30", end="13:45", parent=side)
        alliance.cancel_meeting(ccpcj)
        views = {v.meeting_id: v for v in alliance.meetings(parent=side)}
        assert views[deeper].status is MeetingStatus.CANCELLED
        statuses = {v.meeting_id: v.status for v in alliance.meetings()}
        assert statuses[side] is MeetingStatus.CANCELLED
        assert statuses[world.firearms] is MeetingStatus.CONFIRMED
        shown = {v.meeting_id for v in alliance.meetings(include_cancelled=False)}
        assert shown == {world.firearms}
        # The side event itself is not cancelled: it refuses changes, with the parent's reason.
        head = world.head()
        with pytest.raises(DomainError, match="part of") as info:
            alliance.reschedule_meeting(side, start="2023-05-24 13:00", end="14:00")
        assert info.value.rule == "meeting-cancelled"
        assert world.head() == head

    def test_attach_link_and_attendance(self, world: World) -> None:
        """Links and attendance are recorded after the meeting; history names the people."""
        alliance = world.alliance
        world.clock.set(vienna(2023, 5, 5, 18, 30))
        alliance.attach_link(world.firearms, url="https://www.youtube.com/watch?v=cd",
                             kind="recording", title="Recording")
        alliance.record_attendance(world.firearms, attendees=[
            world.people["Alex Weber"],
            (world.people["Chidi Okafor"], world.cgr, "Chair"),
        ], actor="secretary")
        [view] = alliance.meetings()
        assert view.links == (("recording", "https://www.youtube.com/watch?v=cd", "Recording"),)
        last = alliance.history(world.firearms)[-1]
        assert last.actor == "secretary"
        assert "Alex Weber" in last.text
        assert "Chidi Okafor (Chair)" in last.text

    def test_history_in_plain_words(self, world: World) -> None:
        """The history says who did what: scheduling, registration, nominations."""
        alliance = world.alliance
        world.nominate("Alex Weber", actor="GI-TOC focal point", funding_requested=True)
        entries = alliance.history(world.firearms)
        assert [e.type for e in entries] == [
            "MeetingScheduled", "RegistrationOpened", "DelegateNominated"
        ]
        assert entries[0].actor == "secretary"
        assert "Constructive Dialogue on Firearms" in entries[0].text
        assert "05 May 2023 09:00-18:00 Europe/Vienna" in entries[0].text
        assert "2 seats" in entries[1].text
        assert entries[2].actor == "GI-TOC focal point"
        assert entries[2].text == "GI-TOC nominated Alex Weber as speaker (funding requested)"
        assert [e.position for e in entries] == sorted(e.position for e in entries)

    def test_history_of_unknown_meeting_is_refused(self, alliance: Alliance) -> None:
        """History of a meeting never scheduled is refused (unknown-meeting)."""
        with pytest.raises(UnknownReferenceError) as info:
            alliance.history(uuid.UUID(int=0xDEAD))
        assert info.value.rule == "unknown-meeting"


# -- registration ------------------------------------------------------------------------------


class TestRegistration:
    def test_open_registration_shows_its_rules(self, world: World) -> None:
        """The registration view shows the window, capacity, quotas and funding."""
        view = world.alliance.registration(world.firearms)
        assert view.window == "open"
        assert view.opens_at.isoformat() == "2023-03-21T00:00:00+01:00"  # type: ignore[union-attr]
        assert view.closes_at.isoformat() == "2023-05-02T00:00:00+02:00"  # type: ignore[union-attr]
        assert (view.capacity, view.seats_taken, view.seats_free) == (2, 0, 2)
        assert dict(view.quotas) == {Role.SPEAKER: 1, Role.ALTERNATE: 1}
        assert (view.funded_places, view.funded_per_delegation) == (2, 1)

    def test_not_yet_open(self, world: World) -> None:
        """Before the window opens the view says so and a nomination is refused."""
        world.clock.set(vienna(2023, 3, 20, 23, 59))
        assert world.alliance.registration(world.firearms).window == "not yet open"
        with pytest.raises(DomainError) as info:
            world.nominate("Alex Weber")
        assert info.value.rule == "registration-not-open"

    def test_nominations_and_delegations(self, world: World) -> None:
        """Nominations show per delegation with names; over capacity they wait."""
        alex = world.nominate("Alex Weber")
        bea = world.nominate("Bea Novak", role="alternate")
        chidi = world.nominate("Chidi Okafor", organisation=world.cgr)
        view = world.alliance.registration(world.firearms)
        delegations = {d.organisation: [p.person for p in d.delegates] for d in view.delegations}
        assert delegations == {"GI-TOC": ["Alex Weber", "Bea Novak"], "CGR": ["Chidi Okafor"]}
        assert (view.seats_taken, view.seats_free) == (2, 0)
        assert [(d.nomination_id, d.waiting_position) for d in view.waiting_list] == [(chidi, 1)]
        statuses = {d.nomination_id: d.status for d in view.delegations[0].delegates}
        assert statuses == {alex: NominationStatus.NOMINATED, bea: NominationStatus.NOMINATED}
        texts = [e.text for e in world.alliance.history(world.firearms)]
        assert texts[-1] == (
            "CGR nominated Chidi Okafor as speaker: over capacity, on the waiting list"
        )

    def test_withdrawal_promotes(self, world: World) -> None:
        """A withdrawn delegate's seat goes to the first waiting."""
        alex = world.nominate("Alex Weber")
        world.nominate("Chidi Okafor", organisation=world.cgr)
        elif_ = world.nominate("Elif Demir", organisation=world.dath)
        world.alliance.withdraw_nomination(world.firearms, alex, reason="ill")
        view = world.alliance.registration(world.firearms)
        assert view.waiting_list == ()
        assert {d.nomination_id for d in view.delegations[2].delegates} == {elif_}
        assert view.delegations[2].delegates[0].status is NominationStatus.NOMINATED
        texts = [e.text for e in world.alliance.history(world.firearms)]
        assert texts[-2:] == [
            "withdrew Alex Weber (GI-TOC, speaker) (ill)",
            "gave a seat to Elif Demir (DATH, speaker) from the waiting list",
        ]

    def test_confirm_and_decline(self, world: World) -> None:
        """A confirmed, funded delegate counts against the funding; declining frees a seat."""
        alex = world.nominate("Alex Weber")
        chidi = world.nominate("Chidi Okafor", organisation=world.cgr)
        elif_ = world.nominate("Elif Demir", organisation=world.dath)
        world.alliance.confirm_nomination(world.firearms, alex, funded=True)
        world.alliance.decline_nomination(world.firearms, chidi, reason="late")
        view = world.alliance.registration(world.firearms)
        delegates = {d.nomination_id: d for d in (p for g in view.delegations for p in g.delegates)}
        assert delegates[alex].status is NominationStatus.CONFIRMED
        assert delegates[alex].funded
        assert delegates[chidi].status is NominationStatus.DECLINED
        assert delegates[elif_].status is NominationStatus.NOMINATED
        assert view.funded_used == 1

    def test_change_capacity(self, world: World) -> None:
        """More seats promote the waiting list in order; fewer move the latest back."""
        alliance = world.alliance
        names = ["Alex Weber", "Chidi Okafor", "Elif Demir"]
        orgs = [world.gitoc, world.cgr, world.dath]
        ids = [world.nominate(n, organisation=o) for n, o in zip(names, orgs, strict=True)]
        alliance.change_capacity(world.firearms, capacity=3)
        view = alliance.registration(world.firearms)
        assert (view.capacity, view.seats_taken, view.waiting_list) == (3, 3, ())
        alliance.change_capacity(world.firearms, capacity=1)
        view = alliance.registration(world.firearms)
        assert [d.nomination_id for d in view.waiting_list] == ids[1:]

    def test_change_quota(self, world: World) -> None:
        """A larger quota lets a second speaker in."""
        world.nominate("Alex Weber")
        world.alliance.change_quota(world.firearms, quotas={"speaker": 2})
        world.nominate("Bea Novak")
        assert dict(world.alliance.registration(world.firearms).quotas) == {Role.SPEAKER: 2}

    def test_close_and_reopen(self, world: World) -> None:
        """A closed registration refuses nominations; reopened, it takes them again."""
        alliance = world.alliance
        alliance.close_registration(world.firearms, reason="full")
        assert alliance.registration(world.firearms).window == "closed"
        with pytest.raises(DomainError) as info:
            world.nominate("Alex Weber")
        assert info.value.rule == "registration-closed"
        alliance.reopen_registration(world.firearms, closes="2023-05-10")
        view = alliance.registration(world.firearms)
        assert view.window == "open"
        assert view.closes_at.isoformat() == "2023-05-11T00:00:00+02:00"  # type: ignore[union-attr]
        world.nominate("Alex Weber")
        assert alliance.registration(world.firearms).seats_taken == 1

    def test_change_registration_window(self, world: World) -> None:
        """A moved window shows, and decides what 'open' means."""
        alliance = world.alliance
        alliance.change_registration_window(world.firearms, opens="2023-03-25 12:00",
                                            closes="2023-04-30")
        view = alliance.registration(world.firearms)
        assert view.window == "not yet open"
        assert view.opens_at.isoformat() == "2023-03-25T12:00:00+01:00"  # type: ignore[union-attr]
        world.clock.set(vienna(2023, 3, 25, 12))
        assert alliance.registration(world.firearms).window == "open"

    def test_request_speaking(self, world: World) -> None:
        """A speaking request on a day of a session is listed."""
        alliance = world.alliance
        session = alliance.schedule_meeting(title="Fifth session", kind="session",
                                            first_day="2023-04-11", last_day="2023-04-20")
        alliance.request_speaking(session, organisation=world.cgr, day="2023-04-19",
                                  topic="Victims' rights")
        assert alliance.registration(session).speaking == (
            ("CGR", pendulum.Date(2023, 4, 19), "Victims' rights"),
        )


# -- deadlines -----------------------------------------------------------------------------------


class TestDeadlines:
    def test_meeting_deadline_status_by_clock(self, world: World) -> None:
        """'By the 1st of May': upcoming, due soon (within its reminders), then overdue."""
        alliance = world.alliance
        deadline = alliance.set_deadline(title="Send the names of participants",
                                         due="2023-05-01", kind="names", meeting=world.firearms,
                                         reminders=["P7D", 1])
        world.clock.set(vienna(2023, 4, 1, 12))
        [view] = alliance.deadlines()
        assert (view.deadline_id, view.status, view.meeting_id) == (
            deadline, "upcoming", world.firearms
        )
        assert view.due.isoformat() == "2023-05-02T00:00:00+02:00"
        world.clock.set(vienna(2023, 4, 25, 0))
        assert alliance.deadlines()[0].status == "due soon"
        world.clock.set(vienna(2023, 5, 2, 0))
        assert alliance.deadlines()[0].status == "overdue"
        assert alliance.registration(world.firearms).deadlines[0].status == "overdue"

    def test_names_deadline_stops_nominations(self, world: World) -> None:
        """After the names deadline, a nomination is refused and nothing is appended."""
        alliance = world.alliance
        alliance.set_deadline(title="names", due="2023-04-20", kind="names",
                              meeting=world.firearms)
        world.clock.set(vienna(2023, 4, 21, 9))
        head = world.head()
        with pytest.raises(DomainError) as info:
            world.nominate("Alex Weber")
        assert info.value.rule == "deadline-passed"
        assert world.head() == head

    def test_stand_alone_deadline(self, world: World) -> None:
        """A call for nominations with reminders; extended, reminded, then cancelled."""
        alliance = world.alliance
        call = alliance.set_deadline(title="Call for nominations", due="2023-04-15 17:00",
                                     kind="nominations", reminders=[_dt.timedelta(days=3)])
        alliance.extend_deadline(call, due="2023-04-22 17:00", reason="few candidates")
        alliance.record_reminder_sent(call, note="second reminder")
        [view] = alliance.deadlines()
        assert view.due.isoformat() == "2023-04-22T17:00:00+02:00"
        assert view.extensions == 1
        assert alliance.state.deadlines[call].reminders_sent == 1
        alliance.cancel_deadline(call, reason="postponed")
        assert alliance.deadlines() == []
        [cancelled] = alliance.deadlines(include_cancelled=True)
        assert cancelled.status == "cancelled"

    def test_reminder_on_a_meeting_deadline(self, world: World) -> None:
        """A reminder of a meeting's deadline is recorded in the meeting's history."""
        alliance = world.alliance
        deadline = alliance.set_deadline(title="names", due="2023-05-01", meeting=world.firearms)
        alliance.record_reminder_sent(deadline, channel="newsletter")
        meeting = alliance.state.meeting(world.firearms)
        assert meeting is not None
        found = meeting.deadline(deadline)
        assert found is not None
        assert found.reminders_sent == 1
        assert alliance.history(world.firearms)[-1].text == (
            "sent a reminder of the deadline 'names' by newsletter"
        )
        alliance.extend_deadline(deadline, due="2023-05-03")
        assert alliance.deadlines(meeting=world.firearms)[0].extensions == 1

    def test_organisation_deadlines(self, world: World) -> None:
        """An organisation sees the public deadlines and its own, not another's."""
        alliance = world.alliance
        alliance.set_deadline(title="everyone", due="2023-04-10")
        alliance.set_deadline(title="CGR only", due="2023-04-11", organisation=world.cgr)
        alliance.set_deadline(title="secretariat only", due="2023-04-12", public=False)
        assert [v.title for v in alliance.deadlines(organisation=world.cgr)] == [
            "everyone", "CGR only"
        ]
        assert [v.title for v in alliance.deadlines(organisation=world.dath)] == ["everyone"]
        assert [v.title for v in alliance.deadlines()] == [
            "everyone", "CGR only", "secretariat only"
        ]


# -- refusals ------------------------------------------------------------------------------------

# (name, rule, scene, command): ``scene(world)`` sets the scene (its appends are allowed) and
# returns what ``command(world, scene_value)`` needs; the command must append nothing.
_Refusal = tuple[str, str, Callable[[World], Any], Callable[[World, Any], Any]]


def _nothing(world: World) -> None:
    return None


def _two_seated(world: World) -> uuid.UUID:
    world.nominate("Alex Weber")
    world.nominate("Chidi Okafor", organisation=world.cgr)
    return world.nominate("Elif Demir", organisation=world.dath)


def _two_confirmed(world: World) -> None:
    world.alliance.confirm_nomination(world.firearms, world.nominate("Alex Weber"))
    world.alliance.confirm_nomination(
        world.firearms, world.nominate("Chidi Okafor", organisation=world.cgr)
    )


def _funded_speaker(world: World) -> uuid.UUID:
    world.alliance.confirm_nomination(world.firearms, world.nominate("Alex Weber"), funded=True)
    return world.nominate("Bea Novak", role="alternate")


REFUSALS: list[_Refusal] = [
    ("end-before-start", "time", _nothing, lambda w, _: w.alliance.schedule_meeting(
        title="x", start="2023-04-19 15:00", end="14:00")),
    ("summer-gap", "nonexistent-time", _nothing, lambda w, _: w.alliance.schedule_meeting(
        title="x", start="2023-03-26 02:30", end="04:00")),
    ("unknown-zone", "time", _nothing, lambda w, _: w.alliance.schedule_meeting(
        title="x", start="2023-04-19 15:00", end="16:00", zone="Vienna")),
    ("no-end", "when", _nothing, lambda w, _: w.alliance.schedule_meeting(
        title="x", start="2023-04-19 15:00")),
    ("bad-kind", "kind", _nothing, lambda w, _: w.alliance.schedule_meeting(
        title="x", kind="party", first_day="2023-04-19")),
    ("unknown-parent", "unknown-meeting", _nothing, lambda w, _: w.alliance.schedule_meeting(
        title="x", first_day="2023-04-19", parent=uuid.UUID(int=0xDEAD))),
    ("cancelled-parent", "meeting-cancelled",
     lambda w: w.alliance.cancel_meeting(w.firearms),
     lambda w, _: w.alliance.schedule_meeting(
         title="side event", kind="side-event", first_day="2023-05-05", parent=w.firearms)),
    ("unknown-meeting", "unknown-meeting", _nothing, lambda w, _: w.alliance.cancel_meeting(
        uuid.UUID(int=0xDEAD))),
    ("confirm-confirmed", "not-tentative", _nothing,
     lambda w, _: w.alliance.confirm_meeting(w.firearms)),
    ("reinstate-not-cancelled", "not-cancelled", _nothing,
     lambda w, _: w.alliance.reinstate_meeting(w.firearms, reason="r")),
    ("reinstate-no-reason", "required", lambda w: w.alliance.cancel_meeting(w.firearms),
     lambda w, _: w.alliance.reinstate_meeting(w.firearms, reason="")),
    ("move-cancelled", "meeting-cancelled", lambda w: w.alliance.cancel_meeting(w.firearms),
     lambda w, _: w.alliance.change_meeting_details(w.firearms, location="Room M3")),
    ("bad-link", "url", _nothing,
     lambda w, _: w.alliance.attach_link(w.firearms, url="www.x.org")),
    ("attendance-too-early", "attendance-before-start", _nothing,
     lambda w, _: w.alliance.record_attendance(w.firearms, attendees=[w.people["Alex Weber"]])),
    ("open-twice", "registration-exists", _nothing, lambda w, _: w.alliance.open_registration(
        w.firearms, opens="2023-03-21", closes="2023-05-01")),
    ("second-speaker", "quota", lambda w: w.nominate("Alex Weber"),
     lambda w, _: w.nominate("Bea Novak")),
    ("unknown-person", "unknown-person", _nothing, lambda w, _: w.alliance.nominate(
        w.firearms, organisation=w.gitoc, person=uuid.UUID(int=0xDEAD), role="speaker")),
    ("unknown-organisation", "unknown-organisation", _nothing, lambda w, _: w.alliance.nominate(
        w.firearms, organisation=uuid.UUID(int=0xDEAD), person=w.people["Alex Weber"],
        role="speaker")),
    ("bad-role", "role", _nothing, lambda w, _: w.nominate("Alex Weber", role="keynote")),
    ("nominated-twice", "nominated-twice", lambda w: w.nominate("Alex Weber"),
     lambda w, _: w.nominate("Alex Weber", role="alternate")),
    ("confirm-waitlisted", "waitlisted", _two_seated,
     lambda w, waiting: w.alliance.confirm_nomination(w.firearms, waiting)),
    ("unfunded-role", "funding-role", lambda w: w.nominate("Alex Weber", role="participant"),
     lambda w, n: w.alliance.confirm_nomination(w.firearms, n, funded=True)),
    ("funding-per-delegation", "funding-cap", _funded_speaker,
     lambda w, n: w.alliance.confirm_nomination(w.firearms, n, funded=True)),
    ("capacity-below-confirmed", "capacity", _two_confirmed,
     lambda w, _: w.alliance.change_capacity(w.firearms, capacity=1)),
    ("same-capacity", "no-change", _nothing,
     lambda w, _: w.alliance.change_capacity(w.firearms, capacity=2)),
    ("quota-below-counts", "quota", lambda w: w.nominate("Alex Weber"),
     lambda w, _: w.alliance.change_quota(w.firearms, quotas={"speaker": 0})),
    ("withdraw-unknown", "unknown-nomination", _nothing,
     lambda w, _: w.alliance.withdraw_nomination(w.firearms, uuid.UUID(int=0xDEAD))),
    ("withdraw-twice", "nomination-ended", lambda w: w.alliance.withdraw_nomination(
        w.firearms, w.nominate("Alex Weber", nomination_id=uuid.UUID(int=0xC1))),
     lambda w, _: w.alliance.withdraw_nomination(w.firearms, uuid.UUID(int=0xC1))),
    ("close-twice", "registration-closed",
     lambda w: w.alliance.close_registration(w.firearms),
     lambda w, _: w.alliance.close_registration(w.firearms)),
    ("reopen-open", "registration-open", _nothing, lambda w, _: w.alliance.reopen_registration(
        w.firearms, closes="2023-05-10")),
    ("window-backwards", "end-after-start", _nothing,
     lambda w, _: w.alliance.change_registration_window(
         w.firearms, opens="2023-05-01", closes="2023-04-01")),
    ("speaking-day", "day-outside-meeting", _nothing, lambda w, _: w.alliance.request_speaking(
        w.firearms, organisation=w.cgr, day="2023-05-06")),
    ("speaking-twice", "speaking-twice", lambda w: w.alliance.request_speaking(
        w.firearms, organisation=w.cgr, day="2023-05-05"),
     lambda w, _: w.alliance.request_speaking(w.firearms, organisation=w.cgr, day="2023-05-05")),
    ("deadline-unknown-org", "unknown-organisation", _nothing,
     lambda w, _: w.alliance.set_deadline(title="t", due="2023-05-01",
                                          organisation=uuid.UUID(int=0xDEAD))),
    ("deadline-bad-reminder", "reminder", _nothing, lambda w, _: w.alliance.set_deadline(
        title="t", due="2023-05-01", reminders=["soon"])),
    ("deadline-twice", "deadline-exists",
     lambda w: w.alliance.set_deadline(title="t", due="2023-05-01",
                                       deadline_id=uuid.UUID(int=0xD1)),
     lambda w, _: w.alliance.set_deadline(title="t", due="2023-05-02",
                                          deadline_id=uuid.UUID(int=0xD1))),
    ("extend-unknown", "unknown-deadline", _nothing, lambda w, _: w.alliance.extend_deadline(
        uuid.UUID(int=0xDEAD), due="2023-05-01")),
    ("extend-earlier", "extend-later",
     lambda w: w.alliance.set_deadline(title="t", due="2023-05-01"),
     lambda w, d: w.alliance.extend_deadline(d, due="2023-04-01")),
    ("remind-cancelled", "deadline-cancelled",
     lambda w: w.alliance.cancel_deadline(w.alliance.set_deadline(
         title="t", due="2023-05-01", deadline_id=uuid.UUID(int=0xD2))),
     lambda w, _: w.alliance.record_reminder_sent(uuid.UUID(int=0xD2))),
    ("person-bad-email", "email", _nothing, lambda w, _: w.alliance.register_person(
        name="x", email="not-an-address")),
    ("person-unknown-org", "unknown-organisation", _nothing,
     lambda w, _: w.alliance.register_person(name="x", organisation=uuid.UUID(int=0xDEAD))),
    ("organisation-twice", "organisation-exists", _nothing,
     lambda w, _: w.alliance.register_organisation(name="again", organisation_id=w.cgr)),
    ("officer-unknown", "unknown-person", _nothing, lambda w, _: w.alliance.appoint_officer(
        body="alliance", role="chair", person=uuid.UUID(int=0xDEAD), since="2023-01-01")),
    ("officer-bad-role", "role", _nothing, lambda w, _: w.alliance.appoint_officer(
        body="alliance", role="king", person=w.people["Alex Weber"], since="2023-01-01")),
    ("as-of-naive", "as-of", _nothing, lambda w, _: w.alliance.registration(
        w.firearms, as_of=_dt.datetime(2023, 4, 1))),  # noqa: DTZ001 - refused for that
    ("as-of-garbage", "as-of", _nothing,
     lambda w, _: w.alliance.meetings(as_of="last tuesday")),
]


class TestRefusals:
    @pytest.mark.parametrize(("name", "rule", "scene", "command"), REFUSALS,
                             ids=[r[0] for r in REFUSALS])
    def test_refused_command_appends_nothing(
        self, world: World, name: str, rule: str, scene: Callable[[World], Any],
        command: Callable[[World, Any], Any],
    ) -> None:
        """A command breaking a rule raises a DomainError naming it; the log is unchanged."""
        value = scene(world)
        head = world.head()
        state_before = world.alliance.state_as_of(head)[0]
        with pytest.raises(DomainError) as info:
            command(world, value)
        assert info.value.rule == rule, str(info.value)
        assert f"[rule: {rule}]" in str(info.value)
        assert world.head() == head
        assert world.alliance.state == state_before

    def test_refusal_leaves_head_and_state(self, world: World) -> None:
        """A refused nomination leaves the head and the registration as they were."""
        world.nominate("Alex Weber")
        head = world.head()
        before = world.alliance.registration(world.firearms)
        with pytest.raises(DomainError):
            world.nominate("Bea Novak")
        assert world.head() == head
        assert world.alliance.registration(world.firearms) == before

    def test_timing_errors_are_domain_errors(self, world: World) -> None:
        """A summer-time gap is refused as a DomainError, with its own rule."""
        with pytest.raises(NonexistentTimeError):
            world.alliance.schedule_meeting(title="x", start="2023-03-26 02:30", end="04:00")
        assert issubclass(TimingError, DomainError)

    def test_gap_time_taken_when_disambiguated(self, world: World) -> None:
        """With disambiguate='later', a gap time is scheduled after the jump."""
        meeting = world.alliance.schedule_meeting(title="x", start="2023-03-26 02:30",
                                                  end="04:00", disambiguate="later")
        [view] = world.alliance.meetings(kind="informal-meeting")
        assert view.meeting_id == meeting
        assert view.when.start.isoformat() == "2023-03-26T03:30:00+02:00"  # type: ignore[union-attr]


@attrs.frozen(kw_only=True)
class _Quotas(Command):
    """A command with a mapping (the digest's order test)."""

    quotas: Mapping[str, int]


# -- idempotence ---------------------------------------------------------------------------------

# (name, scene, command): the command is called twice with one command_id after the scene.
_Repeat = tuple[str, Callable[[World], Any], Callable[[World, Any, uuid.UUID], Any]]
REPEATS: list[_Repeat] = [
    ("organisation", _nothing,
     lambda w, _, c: w.alliance.register_organisation(name="UNODC", command_id=c)),
    ("person", _nothing,
     lambda w, _, c: w.alliance.register_person(name="Sam Lee", command_id=c)),
    ("meeting", _nothing, lambda w, _, c: w.alliance.schedule_meeting(
        title="Informal Meeting", start="2023-04-19 15:00", end="16:30", command_id=c)),
    ("nomination", _nothing, lambda w, _, c: w.nominate("Alex Weber", command_id=c)),
    ("withdraw-promotes", _two_seated,
     lambda w, _, c: w.alliance.withdraw_nomination(
         w.firearms, w.alliance.registration(w.firearms).delegations[0].delegates[0]
         .nomination_id, command_id=c)),
    ("capacity", _nothing,
     lambda w, _, c: w.alliance.change_capacity(w.firearms, capacity=5, command_id=c)),
    ("cancel", _nothing, lambda w, _, c: w.alliance.cancel_meeting(w.firearms, command_id=c)),
    ("deadline", _nothing, lambda w, _, c: w.alliance.set_deadline(
        title="t", due="2023-05-01", command_id=c)),
    ("meeting-deadline", _nothing, lambda w, _, c: w.alliance.set_deadline(
        title="t", due="2023-05-01", meeting=w.firearms, command_id=c)),
    ("reminder", lambda w: w.alliance.set_deadline(title="t", due="2023-05-01"),
     lambda w, d, c: w.alliance.record_reminder_sent(d, command_id=c)),
    ("speaking", _nothing, lambda w, _, c: w.alliance.request_speaking(
        w.firearms, organisation=w.cgr, day="2023-05-05", command_id=c)),
    ("officer", _nothing, lambda w, _, c: w.alliance.appoint_officer(
        body="alliance", role="chair", person=w.people["Alex Weber"], since="2023-01-01",
        command_id=c)),
]


class TestIdempotence:
    @pytest.mark.parametrize(("name", "scene", "command"), REPEATS, ids=[r[0] for r in REPEATS])
    def test_same_command_id_records_once(
        self, world: World, name: str, scene: Callable[[World], Any],
        command: Callable[[World, Any, uuid.UUID], Any],
    ) -> None:
        """A command repeated with its command_id returns the same, recording nothing more."""
        value = scene(world)
        command_id = uuid.UUID(int=0xC0FFEE)
        head = world.head()
        first = command(world, value, command_id)
        assert world.head() > head
        head = world.head()
        assert command(world, value, command_id) == first
        assert world.head() == head
        records = [r for r in world.alliance.log.read_all()
                   if r.metadata.get("command_id") == str(command_id)]
        assert len({r.event_id for r in records}) == len(records) >= 1

    def test_retry_later_by_another_actor_is_the_same_command(self, world: World) -> None:
        """The time a command is given at and its actor are not its content: a retry."""
        command_id = uuid.UUID(int=0xC0DE)
        first = world.nominate("Alex Weber", command_id=command_id, actor="secretary")
        head = world.head()
        world.clock.set(IN_WINDOW.add(hours=2))
        assert world.nominate("Alex Weber", command_id=command_id, actor="chair") == first
        assert world.head() == head

    @pytest.mark.parametrize(
        ("first", "second"),
        [
            (lambda w, c: w.nominate("Alex Weber", command_id=c),
             lambda w, c: w.nominate("Bea Novak", command_id=c)),
            (lambda w, c: w.alliance.change_capacity(w.firearms, capacity=5, command_id=c),
             lambda w, c: w.alliance.change_capacity(w.firearms, capacity=6, command_id=c)),
            (lambda w, c: w.alliance.register_organisation(name="UNODC", command_id=c),
             lambda w, c: w.alliance.register_organisation(name="UNICEF", command_id=c)),
            (lambda w, c: w.alliance.cancel_meeting(w.firearms, command_id=c),
             lambda w, c: w.alliance.confirm_meeting(w.firearms, command_id=c)),
            (lambda w, c: w.alliance.register_person(name="Sam Lee", command_id=c),
             lambda w, c: w.alliance.schedule_meeting(
                 title="Informal Meeting", start="2023-04-19 15:00", end="16:30",
                 command_id=c)),
        ],
        ids=["other-person", "other-capacity", "other-name", "other-command",
             "other-stream"],
    )
    def test_command_id_of_another_command_is_refused(
        self, world: World, first: Callable[[World, uuid.UUID], Any],
        second: Callable[[World, uuid.UUID], Any],
    ) -> None:
        """A command id names one command: another one with it is refused, naming the id."""
        command_id = uuid.UUID(int=0xD0D0)
        first(world, command_id)
        head = world.head()
        with pytest.raises(DomainError, match=f"command id {command_id} was used already") as info:
            second(world, command_id)
        assert info.value.rule == "command-id"
        assert world.head() == head

    def test_retried_token_issue_names_the_issued_token(self, world: World) -> None:
        """A retried token issue returns no new, unstored token: it names the first one."""
        command_id = uuid.UUID(int=0x70CE)
        token_id, token = world.alliance.issue_feed_token(world.cgr, command_id=command_id)
        head = world.head()
        with pytest.raises(TokenShownOnceError, match=str(token_id)) as info:
            world.alliance.issue_feed_token(world.cgr, command_id=command_id)
        assert info.value.token_id == token_id
        assert world.head() == head
        assert world.alliance.organisation_for_token(token) == world.cgr
        with pytest.raises(DomainError, match="command-id"):  # same id, other organisation
            world.alliance.issue_feed_token(world.gitoc, command_id=command_id)

    @given(
        a=st.tuples(st.sampled_from(["UNODC", "UNICEF", ""]), st.sampled_from(["", "U"]),
                    st.booleans(), st.integers(0, 2)),
        b=st.tuples(st.sampled_from(["UNODC", "UNICEF", ""]), st.sampled_from(["", "U"]),
                    st.booleans(), st.integers(0, 2)),
        ids=st.tuples(st.uuids(), st.uuids()),
        hours=st.integers(0, 10_000),
        actors=st.tuples(st.none() | st.text(max_size=3), st.none() | st.text(max_size=3)),
    )
    def test_digest_is_equal_exactly_for_equal_content(
        self, a: tuple[str, str, bool, int], b: tuple[str, str, bool, int],
        ids: tuple[uuid.UUID, uuid.UUID], hours: int, actors: tuple[str | None, str | None],
    ) -> None:
        """Two commands' digests are equal exactly when what they ask for is equal."""
        def command(fields: tuple[str, str, bool, int], index: int) -> RegisterOrganisation:
            name, acronym, member, organisation = fields
            return RegisterOrganisation(
                command_id=ids[index], at=START.add(hours=hours * index), actor=actors[index],
                organisation_id=uuid.UUID(int=organisation), name=name, acronym=acronym,
                member=member,
            )

        assert (command_digest(command(a, 0)) == command_digest(command(b, 1))) == (a == b)

    def test_digest_ignores_the_order_of_a_mapping(self) -> None:
        """Content in a mapping is compared whatever its order (a retry may build it anew)."""
        def command(quotas: dict[str, int]) -> Command:
            return _Quotas(command_id=uuid.UUID(int=1), at=START, quotas=quotas)

        assert command_digest(command({"speaker": 1, "alternate": 2})) == command_digest(
            command({"alternate": 2, "speaker": 1}))
        assert command_digest(command({"speaker": 1})) != command_digest(
            command({"speaker": 2}))

    def test_repeat_on_sqlite_after_reopening(self, tmp_path: Path, clock: FixedClock) -> None:
        """A command repeated on a reopened SQLite log is still recorded once."""
        url = f"sqlite:///{tmp_path / 'again.db'}"
        command_id = uuid.UUID(int=0xBEEF)
        with Alliance.open(url, clock=clock) as first:
            meeting = first.schedule_meeting(title="Informal Meeting", start="2023-04-19 15:00",
                                             end="16:30", command_id=command_id)
            head = first.log.head()
        with Alliance.open(url, clock=clock) as second:
            again = second.schedule_meeting(title="Informal Meeting", start="2023-04-19 15:00",
                                            end="16:30", command_id=command_id)
            assert again == meeting
            assert second.log.head() == head
            assert [m.meeting_id for m in second.meetings()] == [meeting]


# -- optimistic concurrency ----------------------------------------------------------------------


class RacingLog:
    """A MemoryLog whose next append lets a rival writer append first (a fake, not a mock)."""

    def __init__(self, inner: MemoryLog) -> None:
        self.inner = inner
        self.rivals: list[Callable[[], object]] = []
        self.conflicts = 0
        self.attempts = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def append(
        self,
        stream: str,
        events: Sequence[Event],
        *,
        expected_version: ExpectedVersion,
        metadata: Mapping[str, Any] | None = None,
    ) -> list[Recorded]:
        """Run the next rival (if any), then append: the rival's write makes ours stale."""
        self.attempts += 1
        if self.rivals:
            self.rivals.pop(0)()
        try:
            return self.inner.append(stream, events, expected_version=expected_version,
                                     metadata=metadata)
        except ConcurrencyError:
            self.conflicts += 1
            raise


@pytest.fixture
def race(clock: FixedClock) -> Iterator[tuple[RacingLog, World, Alliance]]:
    """A world over a racing log, and a rival Alliance writing to the same log directly."""
    inner = MemoryLog(clock=clock)
    racing = RacingLog(inner)
    ours = Alliance(racing, clock=clock, ids=SequentialIds())  # type: ignore[arg-type]
    rival = Alliance(inner, clock=clock, ids=SequentialIds(1_000_000))
    # Build the same world as the fixture does, through our façade.
    gitoc = ours.register_organisation(name="GI-TOC")
    cgr = ours.register_organisation(name="CGR")
    people = {name: ours.register_person(name=name) for name in ("Alex Weber", "Chidi Okafor")}
    firearms = ours.schedule_meeting(title="Constructive Dialogue on Firearms",
                                     start="2023-05-05 09:00", end="18:00")
    ours.open_registration(firearms, opens="2023-03-21", closes="2023-05-01", capacity=1)
    clock.set(IN_WINDOW)
    world = World(ours, clock, gitoc, cgr, uuid.UUID(int=0), people, firearms)
    racing.attempts = 0
    yield racing, world, rival
    ours.close()


class TestConcurrency:
    def test_racing_for_the_last_seat(self, race: tuple[RacingLog, World, Alliance]) -> None:
        """Two nominations race for the last seat: the loser re-decides and waits, not lost."""
        racing, world, rival = race
        rival_id = uuid.UUID(int=0xA11)
        racing.rivals.append(lambda: rival.nominate(
            world.firearms, organisation=world.cgr, person=world.people["Chidi Okafor"],
            role="speaker", nomination_id=rival_id))
        head = world.head()
        ours = world.nominate("Alex Weber")
        assert racing.conflicts == 1
        assert world.head() == head + 2
        view = world.alliance.registration(world.firearms)
        statuses = {d.nomination_id: d.status for g in view.delegations for d in g.delegates}
        assert statuses == {rival_id: NominationStatus.NOMINATED,
                            ours: NominationStatus.WAITLISTED}
        assert [d.nomination_id for d in view.waiting_list] == [ours]

    def test_rival_breaking_a_rule_makes_the_retry_refused(
        self, race: tuple[RacingLog, World, Alliance]
    ) -> None:
        """If the rival closed registration meanwhile, the retry is refused, appending nothing."""
        racing, world, rival = race
        racing.rivals.append(lambda: rival.close_registration(world.firearms))
        head = world.head()
        with pytest.raises(DomainError) as info:
            world.nominate("Alex Weber")
        assert info.value.rule == "registration-closed"
        assert world.head() == head + 1  # the rival's close only

    def test_gives_up_after_bounded_attempts(
        self, race: tuple[RacingLog, World, Alliance]
    ) -> None:
        """A stream that changes before every attempt ends in a ConcurrencyError, not a loop."""
        racing, world, rival = race
        for index in range(50):
            racing.rivals.append(lambda index=index: rival.attach_link(
                world.firearms, url=f"https://alliance.example/{index}"))
        with pytest.raises(ConcurrencyError):
            world.alliance.change_capacity(world.firearms, capacity=4)
        assert racing.conflicts == racing.attempts
        assert 1 < racing.attempts <= 10
        assert world.alliance.registration(world.firearms).capacity == 1


# -- as of ---------------------------------------------------------------------------------------


class TestAsOf:
    def _story(self, world: World) -> dict[str, int]:
        """Nominate on 1 April, close on 10 April; return the positions after each step."""
        marks = {"opened": world.head()}
        world.clock.set(vienna(2023, 4, 1, 12))
        world.nominate("Alex Weber")
        marks["nominated"] = world.head()
        world.clock.set(vienna(2023, 4, 10, 12))
        world.nominate("Chidi Okafor", organisation=world.cgr)
        world.alliance.close_registration(world.firearms)
        marks["closed"] = world.head()
        return marks

    def test_as_of_a_date(self, world: World) -> None:
        """'What did we know on 5 April?': the window was open, one seat taken."""
        self._story(world)
        now = world.alliance.registration(world.firearms)
        assert (now.window, now.seats_taken) == ("closed", 2)
        then = world.alliance.registration(world.firearms, as_of="2023-04-05")
        assert (then.window, then.seats_taken) == ("open", 1)
        assert then.at.isoformat() == "2023-04-06T00:00:00+02:00"

    @pytest.mark.parametrize("as_of", [
        "2023-04-05T12:00", "2023-04-05T10:00:00+00:00",
        pendulum.datetime(2023, 4, 5, 12, tz=VIENNA),
        _dt.datetime(2023, 4, 5, 10, tzinfo=_dt.UTC),
    ], ids=["naive-text", "aware-text", "pendulum", "datetime"])
    def test_as_of_a_time(self, world: World, as_of: Any) -> None:
        """As of a time given as ISO text or an aware datetime."""
        self._story(world)
        then = world.alliance.registration(world.firearms, as_of=as_of)
        assert (then.window, then.seats_taken) == ("open", 1)
        assert then.at == pendulum.datetime(2023, 4, 5, 10, tz="UTC")

    def test_as_of_a_position(self, world: World) -> None:
        """As of a log position, the seats as they were after that record."""
        marks = self._story(world)
        assert world.alliance.registration(world.firearms, as_of=marks["opened"]).seats_taken == 0
        after = world.alliance.registration(world.firearms, as_of=marks["nominated"])
        assert after.seats_taken == 1
        assert after.window == "open"
        assert after.at == pendulum.datetime(2023, 4, 1, 12, tz=VIENNA)

    def test_before_the_meeting_existed(self, world: World) -> None:
        """As of a time before it was scheduled, the meeting is unknown."""
        with pytest.raises(UnknownReferenceError):
            world.alliance.registration(world.firearms, as_of="2023-02-01")
        assert world.alliance.meetings(as_of="2023-02-01") == []
        assert world.alliance.meetings(as_of=0) == []

    def test_as_of_the_head_is_now(self, world: World) -> None:
        """As of the head, the state equals the current state."""
        self._story(world)
        alliance = world.alliance
        state, _ = alliance.state_as_of(alliance.log.head())
        assert state == alliance.state
        assert alliance.meetings(as_of=alliance.log.head()) == alliance.meetings()
        now = alliance.registration(world.firearms)
        at_head = alliance.registration(world.firearms, as_of=alliance.log.head())
        assert attrs.evolve(at_head, at=now.at) == now

    def test_past_meetings_and_deadlines(self, world: World) -> None:
        """A cancellation and an extension are not in the view as of before them."""
        alliance = world.alliance
        deadline = alliance.set_deadline(title="names", due="2023-05-01", meeting=world.firearms)
        world.clock.set(vienna(2023, 4, 2, 9))
        alliance.extend_deadline(deadline, due="2023-05-03")
        alliance.cancel_meeting(world.firearms)
        assert alliance.meetings(as_of="2023-04-01")[0].status is MeetingStatus.CONFIRMED
        assert alliance.meetings()[0].status is MeetingStatus.CANCELLED
        assert alliance.deadlines(as_of="2023-04-01")[0].extensions == 0
        # The meeting is cancelled now, and so, as shown, is its deadline.
        assert alliance.deadlines() == []
        [now] = alliance.deadlines(include_cancelled=True)
        assert (now.extensions, now.status) == (1, "cancelled")


class TestBackends:
    def test_reopened_sqlite_log_has_the_same_state(self, tmp_path: Path,
                                                    clock: FixedClock) -> None:
        """A second Alliance on the same SQLite file sees the same registration."""
        url = f"sqlite:///{tmp_path / 'shared.db'}"
        with Alliance.open(url, clock=clock) as first:
            org = first.register_organisation(name="CGR")
            person = first.register_person(name="Chidi Okafor", organisation=org)
            meeting = first.schedule_meeting(title="Informal Meeting",
                                             start="2023-04-19 15:00", end="16:30")
            first.open_registration(meeting, opens="2023-03-01", closes="2023-04-18")
            first.nominate(meeting, organisation=org, person=person, role="participant")
            expected = first.registration(meeting)
        with Alliance.open(url, clock=clock) as second:
            assert second.registration(meeting) == expected
            assert second.find_person("chidi okafor") == person
