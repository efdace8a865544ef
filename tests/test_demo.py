"""The demo: the minutes of 22 March 2023 recorded as a story, and ``alliance-events demo``.

The story is recorded once per module on a ``memory:`` log with the demo's own clock,
and its facts are checked against the minutes (DOMAIN.md). The last classes run the
console script in a subprocess, and map each row of DOMAIN.md's table to the events
that represent it.
"""

from __future__ import annotations

import datetime as _dt
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pendulum
import pytest

from alliance_events import Alliance
from alliance_events.demo import DEMO_END, Demo, DemoClock, record_minutes
from alliance_events.domain import meetings as mt
from alliance_events.domain.common import (
    LinkKind,
    MeetingKind,
    MeetingStatus,
    NominationStatus,
    OfficerRole,
    Role,
)
from alliance_events.domain.deadlines import DeadlineKind, DueBy
from alliance_events.projections.registration import DeadlineView
from alliance_events.timing import AllDay, Timed

VIENNA = "Europe/Vienna"


class Story:
    """The recorded demo: the façade over its log, and what it recorded."""

    def __init__(self, alliance: Alliance, demo: Demo, clock: DemoClock) -> None:
        self.alliance = alliance
        self.demo = demo
        self.clock = clock

    def meeting(self, key: str) -> mt.MeetingState:
        state = self.alliance.state.meeting(self.demo.meetings[key])
        assert state is not None
        return state

    def key_of(self, meeting_id: uuid.UUID | None) -> str:
        return {v: k for k, v in self.demo.meetings.items()}[meeting_id]  # type: ignore[index]


@pytest.fixture(scope="module")
def story() -> Iterator[Story]:
    """The whole demo, recorded once for the module."""
    clock = DemoClock()
    alliance = Alliance.open("memory:", clock=clock)
    demo = record_minutes(alliance, clock=clock)
    yield Story(alliance, demo, clock)
    alliance.close()


def _utc(moment: _dt.datetime) -> tuple[int, int]:
    utc = pendulum.instance(moment).in_timezone("UTC")
    return utc.hour, utc.minute


class TestTimes:
    """Wall times in Vienna, across the change to summer time on 26 March."""

    def test_informal_meeting_of_22_march_is_14_to_15_30_utc(self, story: Story) -> None:
        """15:00-16:30 Vienna in March (GMT+1) is 14:00-15:30 UTC."""
        when = story.meeting("informal-march").when
        assert isinstance(when, Timed)
        assert (when.start.hour, when.start.minute, when.end.hour, when.end.minute) == (
            15, 0, 16, 30,
        )
        assert _utc(when.start) == (14, 0)
        assert _utc(when.end) == (15, 30)

    def test_informal_meeting_of_19_april_is_13_utc(self, story: Story) -> None:
        """15:00 Vienna on 19 April (summer time, GMT+2) is 13:00 UTC."""
        when = story.meeting("informal-april").when
        assert isinstance(when, Timed)
        assert when.start.date() == pendulum.date(2023, 4, 19)
        assert (when.start.hour, when.start.minute) == (15, 0)
        assert _utc(when.start) == (13, 0)

    def test_zone_name_is_kept_not_an_offset(self, story: Story) -> None:
        """Both informal meetings keep the zone name Europe/Vienna, not a fixed offset."""
        for key in ("informal-march", "informal-april", "justice-talk", "firearms-morning"):
            when = story.meeting(key).when
            assert isinstance(when, Timed)
            assert when.start.tzinfo.name == VIENNA  # type: ignore[union-attr]
            assert when.end.tzinfo.name == VIENNA  # type: ignore[union-attr]

    def test_new_york_side_event_keeps_its_zone(self, story: Story) -> None:
        """The CSW side event is 13:00 New York (EST on 9 March), 18:00 UTC."""
        when = story.meeting("csw-cyber-gap").when
        assert isinstance(when, Timed)
        assert when.start.tzinfo.name == "America/New_York"  # type: ignore[union-attr]
        assert _utc(when.start) == (18, 0)


class TestTentativeMeeting:
    """'another meeting, maybe a week before, subject to availability'."""

    def test_was_tentative_on_the_day_of_the_minutes(self, story: Story) -> None:
        """As of the evening of 22 March the talk is tentative, on 12 April."""
        state, _ = story.alliance.state_as_of("2023-03-22")
        talk = state.meetings[story.demo.meetings["justice-talk"]]
        assert talk.status is MeetingStatus.TENTATIVE
        assert talk.sequence == 0
        assert talk.when.first_day == pendulum.date(2023, 4, 12)  # type: ignore[union-attr]

    def test_moved_and_confirmed(self, story: Story) -> None:
        """Moved to 13 April and confirmed: the same meeting, its sequence raised twice."""
        talk = story.meeting("justice-talk")
        assert talk.status is MeetingStatus.CONFIRMED
        assert talk.sequence == 2  # one move + one confirmation
        assert isinstance(talk.when, Timed)
        assert talk.when.start == pendulum.datetime(2023, 4, 13, 15, tz=VIENNA)
        history = story.alliance.history(story.demo.meetings["justice-talk"])
        assert [h.type for h in history] == [
            "MeetingScheduled", "MeetingRescheduled", "MeetingConfirmed",
        ]
        assert "the section is available on Thursday" in history[1].text


class TestFirearmsDialogue:
    """A multi-day event: a preparatory day, the dialogue with two sessions, a side event."""

    def test_parent_and_its_parts(self, story: Story) -> None:
        """The dialogue's parent holds the preparatory day, the dialogue and the side event."""
        state = story.alliance.state
        parent = story.demo.meetings["firearms"]
        children = {story.key_of(c) for c in state.children[parent]}
        assert children == {"firearms-prep", "firearms-dialogue", "firearms-side-event"}
        dialogue = story.demo.meetings["firearms-dialogue"]
        sessions = {story.key_of(c) for c in state.children[dialogue]}
        assert sessions == {"firearms-morning", "firearms-afternoon"}
        assert len(state.descendants(parent)) == 5

    def test_days(self, story: Story) -> None:
        """4-5 May all day; the preparatory day on 4 May, the dialogue on 5 May."""
        assert story.meeting("firearms").when == AllDay(
            first=pendulum.date(2023, 5, 4), last=pendulum.date(2023, 5, 5)
        )
        prep = story.meeting("firearms-prep")
        assert prep.kind is MeetingKind.PREPARATORY_DAY
        assert prep.when == AllDay(first=pendulum.date(2023, 5, 4), last=pendulum.date(2023, 5, 4))
        dialogue = story.meeting("firearms-dialogue")
        assert dialogue.when == AllDay(
            first=pendulum.date(2023, 5, 5), last=pendulum.date(2023, 5, 5)
        )

    def test_morning_and_afternoon_sessions(self, story: Story) -> None:
        """The morning session ends before the afternoon one starts, both on 5 May."""
        morning = story.meeting("firearms-morning").when
        afternoon = story.meeting("firearms-afternoon").when
        assert isinstance(morning, Timed)
        assert isinstance(afternoon, Timed)
        assert morning.start.date() == afternoon.start.date() == pendulum.date(2023, 5, 5)
        assert morning.end <= afternoon.start
        assert story.meeting("firearms-morning").kind is MeetingKind.SESSION

    def test_side_event_cancelled_and_still_listed(self, story: Story) -> None:
        """The thematic side event is cancelled, yet stays in the listing, marked so."""
        side = story.demo.meetings["firearms-side-event"]
        assert story.meeting("firearms-side-event").status is MeetingStatus.CANCELLED
        listed = {m.meeting_id: m for m in story.alliance.meetings()}
        assert listed[side].status is MeetingStatus.CANCELLED
        assert side not in {m.meeting_id for m in story.alliance.meetings(include_cancelled=False)}
        assert story.alliance.state.effective_status(story.demo.meetings["firearms"]) is (
            MeetingStatus.CONFIRMED
        )


class TestTechnicalAssistance:
    """Constructive Dialogue on Technical Assistance, 30-31 May."""

    def test_two_whole_days_with_exclusive_end(self, story: Story) -> None:
        """All day from 30 to 31 May; iCalendar's exclusive end is 1 June."""
        when = story.meeting("technical-assistance").when
        assert isinstance(when, AllDay)
        assert (when.first, when.last) == (pendulum.date(2023, 5, 30), pendulum.date(2023, 5, 31))
        assert when.end_exclusive == pendulum.date(2023, 6, 1)


class TestCrimeCommission:
    """The 32nd session of the CCPCJ, 22-26 May, with a side event and an exhibition."""

    def test_dates_and_children(self, story: Story) -> None:
        """22-26 May, with the Femicide Declaration side event and the exhibition as parts."""
        ccpcj = story.meeting("ccpcj")
        assert ccpcj.kind is MeetingKind.COMMISSION_SESSION
        assert ccpcj.when == AllDay(
            first=pendulum.date(2023, 5, 22), last=pendulum.date(2023, 5, 26)
        )
        children = story.alliance.meetings(parent=story.demo.meetings["ccpcj"])
        assert {(m.kind, story.key_of(m.meeting_id)) for m in children} == {
            (MeetingKind.SIDE_EVENT, "ccpcj-femicide"),
            (MeetingKind.EXHIBITION, "ccpcj-exhibition"),
        }

    def test_femicide_side_event_confirmed_later(self, story: Story) -> None:
        """The side event was tentative on 22 March and confirmed on 10 May."""
        femicide = story.demo.meetings["ccpcj-femicide"]
        before = story.alliance.meetings(as_of="2023-05-09", parent=story.demo.meetings["ccpcj"])
        assert {m.meeting_id: m.status for m in before}[femicide] is MeetingStatus.TENTATIVE
        assert story.meeting("ccpcj-femicide").status is MeetingStatus.CONFIRMED


class TestFirearmsRegistration:
    """Quotas of 1 speaker + 1 alternate, a room that grows, a waiting list, funding."""

    def test_quotas(self, story: Story) -> None:
        """One speaker and one alternate per delegation (and the experts' and respondents')."""
        view = story.alliance.registration(story.demo.meetings["firearms-dialogue"])
        quotas = dict(view.quotas)
        assert quotas[Role.SPEAKER] == 1
        assert quotas[Role.ALTERNATE] == 1
        assert Role.PARTICIPANT not in quotas

    def test_capacity_changed_from_8_to_9(self, story: Story) -> None:
        """The room held 8, then 9 ('some opportunity to accommodate more people')."""
        dialogue = story.demo.meetings["firearms-dialogue"]
        assert story.alliance.registration(dialogue, as_of="2023-04-17").capacity == 8
        assert story.alliance.registration(dialogue).capacity == 9
        records = list(story.alliance.log.read_stream(mt.meeting_stream(dialogue)))
        changes = [r.event.capacity for r in records if isinstance(r.event, mt.CapacityChanged)]
        assert changes == [9]

    def test_growing_room_seats_the_first_waiting(self, story: Story) -> None:
        """On 1 April CGR's participant waits; the ninth seat goes to them on 18 April."""
        dialogue = story.demo.meetings["firearms-dialogue"]
        waiting = story.demo.nominations["cgr-participant"]
        before = story.alliance.registration(dialogue, as_of="2023-04-17")
        assert [d.nomination_id for d in before.waiting_list] == [waiting]
        after = story.alliance.registration(dialogue, as_of="2023-04-18")
        assert after.waiting_list == ()
        assert after.seats_taken == 9

    def test_waiting_list_at_the_end(self, story: Story) -> None:
        """Full at 9 seats, ACJS's participant waits, first in line."""
        view = story.alliance.registration(story.demo.meetings["firearms-dialogue"])
        assert (view.seats_taken, view.seats_free) == (9, 0)
        assert [(d.organisation, d.role, d.waiting_position) for d in view.waiting_list] == [
            ("ACJS", Role.PARTICIPANT, 1)
        ]

    def test_open_with_one_waiting_as_of_1_april(self, story: Story) -> None:
        """'What did we know on 1 April?': registration open, one nomination waiting."""
        view = story.alliance.registration(
            story.demo.meetings["firearms-dialogue"], as_of="2023-04-01"
        )
        assert view.window == "open"
        assert view.capacity == 8
        assert (view.seats_taken, view.seats_free) == (8, 0)
        assert len(view.waiting_list) == 1
        assert view.waiting_list[0].organisation == "CGR"
        assert view.funded_used == 0

    def test_funded_places(self, story: Story) -> None:
        """Only speakers and alternates are funded: 3 of 6 places, at most 2 per delegation."""
        view = story.alliance.registration(story.demo.meetings["firearms-dialogue"])
        assert (view.funded_used, view.funded_places, view.funded_per_delegation) == (3, 6, 2)
        funded = [
            (d.organisation, d.role)
            for delegation in view.delegations
            for d in delegation.delegates
            if d.funded
        ]
        assert sorted(funded, key=str) == sorted(
            [("RUAN", Role.SPEAKER), ("RUAN", Role.ALTERNATE), ("DATH", Role.SPEAKER)], key=str
        )

    def test_statuses_at_the_end(self, story: Story) -> None:
        """Five confirmed, four seated unconfirmed, one withdrawn, one waiting."""
        meeting = story.meeting("firearms-dialogue")
        counts: dict[NominationStatus, int] = {}
        for nomination in meeting.nominations:
            counts[nomination.status] = counts.get(nomination.status, 0) + 1
        assert counts == {
            NominationStatus.CONFIRMED: 5,
            NominationStatus.NOMINATED: 4,
            NominationStatus.WITHDRAWN: 1,
            NominationStatus.WAITLISTED: 1,
        }

    def test_roles_within_the_session(self, story: Story) -> None:
        """Experts, respondents and participants as the minutes describe the dialogue."""
        roles = {n.role for n in story.meeting("firearms-dialogue").nominations}
        assert {Role.EXPERT, Role.RESPONDENT, Role.PARTICIPANT} <= roles


class TestNamesDeadline:
    """'send the names of participants ... by the 1st of May'."""

    def _view(self, story: Story, as_of: str | None = None) -> DeadlineView:
        views = story.alliance.deadlines(
            meeting=story.demo.meetings["firearms-dialogue"], as_of=as_of
        )
        assert len(views) == 1
        return views[0]

    def test_due_by_1_may_in_vienna(self, story: Story) -> None:
        """Due by the end of 1 May, Vienna time: overdue from midnight."""
        deadline = story.meeting("firearms-dialogue").deadlines[0]
        assert deadline.kind is DeadlineKind.NAMES
        assert deadline.due == DueBy(day=pendulum.date(2023, 5, 1), zone=VIENNA)
        assert self._view(story).due == pendulum.datetime(2023, 5, 2, tz=VIENNA)

    def test_reminders_7_and_1_days_before(self, story: Story) -> None:
        """Reminders fall 7 days and 1 day before the deadline."""
        view = self._view(story)
        assert view.reminders == (
            view.due - pendulum.duration(days=7),
            view.due - pendulum.duration(days=1),
        )

    def test_status_over_time(self, story: Story) -> None:
        """Upcoming on 1 April, due soon on 26 April, overdue at the story's end."""
        assert self._view(story, "2023-04-01").status == "upcoming"
        assert self._view(story, "2023-04-26").status == "due soon"
        assert self._view(story).status == "overdue"
        assert story.clock() == DEMO_END

    def test_call_for_nominations_with_reminders_sent(self, story: Story) -> None:
        """The nominations committee's call stands alone, with two reminders sent."""
        deadline = story.alliance.state.deadlines[story.demo.deadlines["call-nominations"]]
        assert deadline.kind is DeadlineKind.NOMINATIONS
        assert deadline.meeting_id is None
        assert deadline.reminders_sent == 2


class TestSpeakingRequest:
    """'The CSU has requested to speak on the 19th of April'."""

    def test_csu_speaks_on_19_april(self, story: Story) -> None:
        """One request, by the CSU, on 19 April of the fifth session."""
        view = story.alliance.registration(story.demo.meetings["fifth-session"])
        assert [(org, day) for org, day, _ in view.speaking] == [
            ("CSU", pendulum.date(2023, 4, 19))
        ]

    def test_fifth_session_window(self, story: Story) -> None:
        """The fifth session's registration is open on 1 April, closed after the first week."""
        session = story.demo.meetings["fifth-session"]
        view = story.alliance.registration(session, as_of="2023-04-01")
        assert view.window == "open"
        assert view.closes_at is not None
        assert view.closes_at.date() <= pendulum.date(2023, 4, 8)
        assert story.alliance.registration(session).window == "closed"


class TestOfficers:
    """Officers with a history: the VNGOC's chair replaced, the alliance's officers."""

    def test_vngoc_chair_replaced(self, story: Story) -> None:
        """The former chair's term ends the day the new chair's begins; the new one is current."""
        body = story.alliance.state.bodies["vngoc"]
        old, new = body.terms
        assert (old.person_id, new.person_id) == (
            story.demo.persons["vngoc-old"], story.demo.persons["vngoc-new"],
        )
        assert old.until == new.since == pendulum.date(2023, 3, 17)
        assert new.until is None
        assert body.holder(OfficerRole.CHAIR) == story.demo.persons["vngoc-new"]

    def test_alliance_officers(self, story: Story) -> None:
        """The alliance has a chair, a secretary and a treasurer."""
        body = story.alliance.state.bodies["alliance"]
        for role in ("chair", "secretary", "treasurer"):
            assert body.holder(OfficerRole(role)) == story.demo.persons[role]


class TestRecord:
    """What was attached and recorded after meetings took place."""

    def test_links(self, story: Story) -> None:
        """A report of the informal meeting, and recordings of two events."""
        def links(key: str) -> list[tuple[LinkKind, str]]:
            return [(link.kind, link.url) for link in story.meeting(key).links]

        assert links("informal-march") == [
            (LinkKind.REPORT, "https://alliance.example.org/reports/2023-03-22")
        ]
        assert [kind for kind, _ in links("csw-cyber-gap")] == [LinkKind.RECORDING]
        assert [kind for kind, _ in links("technical-assistance")] == [LinkKind.RECORDING]

    def test_attendance_with_officers(self, story: Story) -> None:
        """The chair, treasurer and secretary are recorded present, in their capacities."""
        attendance = story.meeting("informal-march").attendance
        capacities = {a.person_id: a.capacity for a in attendance}
        persons = story.demo.persons
        assert capacities[persons["chair"]] == "Chair"
        assert capacities[persons["treasurer"]] == "Treasurer"
        assert capacities[persons["secretary"]] == "Secretary"
        assert len(attendance) == 9


class TestRefusals:
    """Each rule the story breaks on purpose is refused, naming the rule."""

    @pytest.mark.parametrize(
        "rule",
        ["quota", "nonexistent-time", "funding-role", "registration-closed", "day-outside-meeting"],
    )
    def test_refusal_names_its_rule(self, story: Story, rule: str) -> None:
        """One refusal ends with its rule's name."""
        assert sum(r.endswith(f"[rule: {rule}]") for r in story.demo.refusals) == 1

    def test_five_refusals(self, story: Story) -> None:
        """The story provokes exactly five refusals."""
        assert len(story.demo.refusals) == 5


class TestLog:
    """The log the story leaves."""

    def test_recorded_at_never_goes_back(self, story: Story) -> None:
        """Records are stamped at the story's dates, non-decreasing in position order."""
        records = list(story.alliance.log.read_all())
        assert [r.position for r in records] == list(range(1, len(records) + 1))
        times = [r.recorded_at for r in records]
        assert times == sorted(times)
        assert times[0] == pendulum.datetime(2023, 3, 1, 9, tz=VIENNA)
        assert times[-1] == pendulum.datetime(2023, 6, 2, 10, tz=VIENNA)

    def test_every_record_has_the_secretary_as_actor(self, story: Story) -> None:
        """Every command of the story is the secretary's."""
        assert {r.metadata.get("actor") for r in story.alliance.log.read_all()} == {"secretary"}

    def test_running_twice_appends_nothing(self) -> None:
        """The second run finds every command done and appends nothing, refusing the same."""
        clock = DemoClock()
        with Alliance.open("memory:", clock=clock) as alliance:
            first = record_minutes(alliance, clock=clock)
            head = alliance.log.head()
            second = record_minutes(alliance, clock=clock)
            assert alliance.log.head() == head
            assert second.meetings == first.meetings
            assert second.nominations == first.nominations
            assert len(second.refusals) == len(first.refusals)
            assert alliance.state.position == head


# DOMAIN.md's table: each case of the minutes, and the events that represent it.
DOMAIN_ROWS: dict[str, tuple[str, ...]] = {
    "Informal Meeting, 22 Mar 2023, 15:00-16:30 (GMT+1), officers, present list": (
        "MeetingScheduled", "OfficerAppointed", "AttendanceRecorded",
    ),
    "the next informal meeting on 19 April; registration is already open": (
        "MeetingScheduled", "RegistrationOpened",
    ),
    "another meeting, maybe a week before, subject to availability": (
        "MeetingScheduled", "MeetingRescheduled", "MeetingConfirmed",
    ),
    "Constructive Dialogue on Firearms: preparatory day, dialogue, sessions, side event": (
        "MeetingScheduled", "MeetingCancelled",
    ),
    "Constructive Dialogue on Technical Assistance, 30-31 May": ("MeetingScheduled",),
    "send the names of participants by the 1st of May": ("DeadlineSet",),
    "one person with one alternate speaker, room capacity, more people later": (
        "RegistrationOpened", "DelegateNominated", "CapacityChanged", "NominationPromoted",
        "NominationWithdrawn",
    ),
    "UNODC will prioritize financing the panelists only": ("NominationConfirmed",),
    "two experts, three respondents, then the open floor": ("DelegateNominated",),
    "32nd session of the CCPCJ, 22-26 May, with side events and an exhibition": (
        "MeetingScheduled", "MeetingConfirmed",
    ),
    "fifth session; registration window; the CSU requested to speak on 19 April": (
        "RegistrationOpened", "SpeakingRequested",
    ),
    "nominations committee: another reminder of the call will be sent": (
        "DeadlineSet", "DeadlineReminderSent",
    ),
    "VNGOC elected a new chair replacing the former one": ("OfficerAppointed",),
    "reports and recordings available on the website / YouTube": ("LinkAttached",),
}


class TestDomainTable:
    """Every case of DOMAIN.md's table is represented by events in the demo's log."""

    @pytest.mark.parametrize(("case", "types"), list(DOMAIN_ROWS.items()), ids=list(DOMAIN_ROWS))
    def test_case_is_in_the_log(self, story: Story, case: str, types: tuple[str, ...]) -> None:
        """The demo's log holds each event type that represents the case."""
        recorded = {r.type for r in story.alliance.log.read_all()}
        missing = set(types) - recorded
        assert not missing, f"{case}: no {sorted(missing)} in the demo's log"

    def test_table_covers_the_meeting_and_deadline_events_the_demo_uses(self, story: Story) -> None:
        """Every event type the demo records, except the directory's, documents some row."""
        documented = {t for types in DOMAIN_ROWS.values() for t in types}
        recorded = {r.type for r in story.alliance.log.read_all()}
        assert recorded - documented == {
            "OrganisationRegistered", "PersonRegistered", "FocalPointAppointed"}


def _console_script() -> str:
    script = Path(sys.executable).with_name("alliance-events")
    if script.exists():
        return str(script)
    found = shutil.which("alliance-events")
    if found is None:
        pytest.skip("the alliance-events console script is not installed")
    return found


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "ALLIANCE_EVENTS_DB"}
    return subprocess.run(
        [_console_script(), *args], cwd=cwd, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )


class TestConsoleScript:
    """``alliance-events demo`` end to end, in a subprocess."""

    def test_demo_creates_the_database_and_prints_registrations(self, tmp_path: Path) -> None:
        """In an empty folder: exit 0, alliance.db created, the registrations shown."""
        result = _run("demo", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert (tmp_path / "alliance.db").is_file()
        assert "Recorded 88 events" in result.stdout
        assert "Constructive Dialogue on Firearms" in result.stdout
        assert "waitlisted" in result.stdout
        assert "[rule: quota]" in result.stdout

    def test_second_run_records_nothing(self, tmp_path: Path) -> None:
        """Run twice on the same database: 'Recorded 0 events' the second time."""
        assert _run("demo", cwd=tmp_path).returncode == 0
        again = _run("demo", cwd=tmp_path)
        assert again.returncode == 0, again.stderr
        assert "Recorded 0 events" in again.stdout
        assert "(88 in the log)" in again.stdout

    def test_db_option_points_elsewhere(self, tmp_path: Path) -> None:
        """--db puts the log where it says, and no alliance.db in the working folder."""
        work = tmp_path / "work"
        work.mkdir()
        target = tmp_path / "elsewhere.db"
        result = _run("--db", str(target), "demo", cwd=work)
        assert result.returncode == 0, result.stderr
        assert target.is_file()
        assert not (work / "alliance.db").exists()
        assert str(target) in result.stdout
