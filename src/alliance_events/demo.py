"""The minutes of 22 March 2023, recorded as they happened (``alliance-events demo``).

Every case of the domain's table, with the organisation names of the minutes and
invented names for the people. Each step is recorded as taking effect on the date on
which it happened (``at=``), as the secretariat records the minutes days later: the rules
are judged at that date, and the log keeps both times. With a :class:`DemoClock` (the
tests' golden feeds), the clock is moved along too, so each fact is also recorded on its
date and "what did we know on 1 April?" has an answer.

The ids of everything, and of every command, derive from fixed names, so running the
demo twice on the same log records it once: the second run finds each command done.

    >>> from alliance_events import Alliance
    >>> from alliance_events.demo import DemoClock, record_minutes
    >>> clock = DemoClock()
    >>> with Alliance.open("memory:", clock=clock) as alliance:
    ...     demo = record_minutes(alliance, clock=clock)
    ...     view = alliance.registration(demo.meetings["firearms-dialogue"])
    ...     view.seats_taken, len(view.waiting_list)
    (9, 1)
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any, Final

import attrs
import pendulum

from alliance_events.app import Alliance
from alliance_events.clock import Clock
from alliance_events.errors import DomainError

__all__ = ["DEMO_END", "Demo", "DemoClock", "record_minutes"]

_NAMESPACE: Final = uuid.UUID("4f1d6a52-8d2e-5c1b-9a53-2f3b7c0e6d11")
VIENNA: Final = "Europe/Vienna"
DEMO_END: Final = pendulum.datetime(2023, 6, 5, 9, 0, tz=VIENNA)
"""When the demo's story ends (its clock stands there afterwards)."""


def _id(name: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, name)


class DemoClock:
    """The demo's clock: set to each step's date, in Vienna."""

    def __init__(self) -> None:
        self.now = pendulum.datetime(2023, 3, 1, 9, 0, tz=VIENNA)

    def at(self, text: str) -> None:
        """Move to ``text`` (``"2023-03-22 16:45"``, Vienna time)."""
        self.now = pendulum.parse(text, tz=VIENNA)  # type: ignore[assignment]

    def __call__(self) -> pendulum.DateTime:
        """Return the time the demo is at."""
        return self.now


@attrs.define
class Demo:
    """What the demo recorded: ids by short name, and the refusals it provoked."""

    organisations: dict[str, uuid.UUID] = attrs.field(factory=dict)
    persons: dict[str, uuid.UUID] = attrs.field(factory=dict)
    meetings: dict[str, uuid.UUID] = attrs.field(factory=dict)
    nominations: dict[str, uuid.UUID] = attrs.field(factory=dict)
    deadlines: dict[str, uuid.UUID] = attrs.field(factory=dict)
    refusals: list[str] = attrs.field(factory=list)


ORGANISATIONS: Final = {
    "rua": ("Rural And Urban Aid Nigeria", "RUAN"),
    "dath": ("Drug Advisory Training Hub", "DATH"),
    "cgr": ("CGR", "CGR"),
    "gitoc": ("Global Initiative against Transnational Organized Crime", "GI-TOC"),
    "unodc": ("UNODC Civil Society Unit", "CSU"),
    "vngoc": ("Vienna NGO Committee on Drugs", "VNGOC"),
    "alliance": ("Alliance of NGOs on Crime Prevention and Criminal Justice", "Alliance"),
    "acjs": ("Academy of Criminal Justice Sciences", "ACJS"),
}

# Invented people (the minutes' names are not repeated here): key -> (name, organisation).
PERSONS: Final = {
    "chair": ("Alma Reiter", "alliance"),
    "treasurer": ("Irene Gruber", "alliance"),
    "secretary": ("Tomas Kranz", "alliance"),
    "rua-1": ("Femi Adeyemi", "rua"),
    "rua-2": ("Ngozi Okafor", "rua"),
    "rua-3": ("Chidi Eze", "rua"),
    "dath-1": ("Sami Haider", "dath"),
    "dath-2": ("Laila Karim", "dath"),
    "cgr-1": ("Omar Siddiq", "cgr"),
    "cgr-2": ("Hina Malik", "cgr"),
    "gitoc-1": ("Daniel Brooks", "gitoc"),
    "gitoc-2": ("Priya Raman", "gitoc"),
    "expert-1": ("Elena Novak", "unodc"),
    "expert-2": ("Marc Dubois", "unodc"),
    "csu-1": ("Sara Lindqvist", "unodc"),
    "vngoc-old": ("Jonas Berger", "vngoc"),
    "vngoc-new": ("Mira Kovac", "vngoc"),
    "acjs-1": ("Paul Reed", "acjs"),
}


# Who the alliance's e-mails reach in each organisation: organisation -> person.
FOCAL_POINTS: Final = {
    "rua": "rua-1", "dath": "dath-1", "cgr": "cgr-1", "gitoc": "gitoc-1", "acjs": "acjs-1",
    "unodc": "csu-1", "vngoc": "vngoc-new",
}


def record_minutes(
    alliance: Alliance,
    *,
    clock: DemoClock | None = None,
    passing: Callable[[pendulum.DateTime], None] | None = None,
) -> Demo:
    """Record the minutes' whole story into ``alliance`` (idempotent: ids are fixed).

    Each fact takes effect at its date (``at=``); with a :class:`DemoClock` (``clock``)
    it is also recorded then, with the real clock it is recorded now.

    ``passing(moment)`` is called each time the story moves on to ``moment``, before the
    clock does: a reminder outbox can do what falls due in between (see
    ``docs/how-to/reminders.md``).
    """
    clock = clock if clock is not None else _clock_of(alliance)
    demo = Demo()
    steps = _Steps(alliance, clock, demo, passing)
    steps.before_the_minutes()
    steps.the_day_of_the_minutes()
    steps.after_the_minutes()
    if passing is not None:
        passing(DEMO_END)
    if clock is not None:
        clock.at(DEMO_END.to_datetime_string())
    return demo


def _clock_of(alliance: Alliance) -> DemoClock | None:
    clock: Clock = alliance.clock
    return clock if isinstance(clock, DemoClock) else None


class _Steps:
    """The story, chapter by chapter."""

    def __init__(
        self,
        alliance: Alliance,
        clock: DemoClock | None,
        demo: Demo,
        passing: Callable[[pendulum.DateTime], None] | None = None,
    ) -> None:
        self.a = alliance
        self.clock = clock
        self.demo = demo
        self.passing = passing
        self.when = pendulum.datetime(2023, 3, 1, 9, 0, tz=VIENNA)

    def at(self, text: str) -> None:
        """Move the story to ``text`` (Vienna): the next steps took effect then."""
        self.when = pendulum.parse(text, tz=VIENNA)  # type: ignore[assignment]
        if self.passing is not None:
            self.passing(self.when)
        if self.clock is not None:
            self.clock.at(text)

    def do(self, step: str, method: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Any:
        """Run a command taking effect at the story's time.

        Its ids derive from ``step``, so a rerun is recognised.
        """
        return method(*args, command_id=_id(f"command:{step}"), actor="secretary",
                      at=self.when, **kwargs)

    def refuse(self, step: str, method: Callable[..., Any], /, *args: Any, **kwargs: Any) -> None:
        """Run a command the rules must refuse, and keep the refusal's message."""
        try:
            self.do(step, method, *args, **kwargs)
        except DomainError as error:
            self.demo.refusals.append(str(error))
        else:  # pragma: no cover - the demo's tests would fail first
            raise AssertionError(f"{step}: the rules accepted what they must refuse")

    # -- the story, in the order it happened -------------------------------------------

    def before_the_minutes(self) -> None:
        """1-21 March: who is who, and the calendar as it stood before the meeting."""
        a, d = self.a, self.demo
        self.at("2023-03-01 09:00")
        for key, (name, acronym) in ORGANISATIONS.items():
            d.organisations[key] = self.do(
                f"organisation:{key}", a.register_organisation, name=name, acronym=acronym,
                organisation_id=_id(f"organisation:{key}"),
            )
        for key, (name, organisation) in PERSONS.items():
            email = name.lower().replace(" ", ".") + "@example.org"
            d.persons[key] = self.do(
                f"person:{key}", a.register_person, name=name, email=email,
                organisation=d.organisations[organisation], person_id=_id(f"person:{key}"),
            )
        for organisation, person in FOCAL_POINTS.items():
            self.do(f"focal-point:{organisation}", a.appoint_focal_point,
                    d.organisations[organisation], d.persons[person])
        for role in ("chair", "secretary", "treasurer"):
            self.do(f"officer:alliance:{role}", a.appoint_officer, body="alliance", role=role,
                    person=d.persons[role], since="2022-06-01")
        self.do("officer:vngoc:chair:old", a.appoint_officer, body="vngoc", role="chair",
                person=d.persons["vngoc-old"], since="2019-03-15")

        self.at("2023-03-01 10:00")
        d.meetings["csw-cyber-gap"] = self.do(
            "meeting:csw-cyber-gap", a.schedule_meeting,
            title="Gender gaps in cybersecurity (side event to the CSW)", kind="side-event",
            start="2023-03-09 13:00", end="14:00", zone="America/New_York",
            online_url="https://alliance.example.org/live/csw-cyber",
            meeting_id=_id("meeting:csw-cyber-gap"),
        )
        d.meetings["informal-march"] = self.do(
            "meeting:informal-march", a.schedule_meeting,
            title="Informal Meeting", kind="informal-meeting",
            start="2023-03-22 15:00", end="16:30", zone=VIENNA,
            location="Vienna International Centre, Room C3",
            online_url="https://alliance.example.org/meet/informal",
            organiser="Alliance secretariat", meeting_id=_id("meeting:informal-march"),
        )

        self.at("2023-03-13 11:00")
        d.meetings["fifth-session"] = self.do(
            "meeting:fifth-session", a.schedule_meeting,
            title="Ad Hoc Committee on Cybercrime, fifth session", kind="commission-session",
            first_day="2023-04-11", last_day="2023-04-20", location="Vienna International Centre",
            meeting_id=_id("meeting:fifth-session"),
        )
        self.do("registration:fifth-session", a.open_registration, d.meetings["fifth-session"],
                opens="2023-03-14", closes="2023-04-07")
        d.meetings["informal-april"] = self.do(
            "meeting:informal-april", a.schedule_meeting,
            title="Informal Meeting", kind="informal-meeting",
            start="2023-04-19 15:00", end="16:30", zone=VIENNA,
            description="The Secretary of the Commission briefs on the functioning of the CCPCJ.",
            online_url="https://alliance.example.org/meet/informal",
            meeting_id=_id("meeting:informal-april"),
        )
        self.do("registration:informal-april", a.open_registration, d.meetings["informal-april"],
                opens="2023-03-15 09:00", closes="2023-04-19 12:00")
        d.deadlines["call-nominations"] = self.do(
            "deadline:call-nominations", a.set_deadline,
            title="Call for nominations (nominations committee)", kind="nominations",
            due="2023-04-14 17:00", reminders=["P14D", "P7D", "P1D"],
            deadline_id=_id("deadline:call-nominations"),
        )

        self.at("2023-03-20 14:00")
        parent = d.meetings["firearms"] = self.do(
            "meeting:firearms", a.schedule_meeting,
            title="Constructive Dialogue following the Working Group on Firearms",
            kind="constructive-dialogue", first_day="2023-05-04", last_day="2023-05-05",
            location="Vienna International Centre", organiser="UNODC Civil Society Unit",
            meeting_id=_id("meeting:firearms"),
        )
        d.meetings["firearms-prep"] = self.do(
            "meeting:firearms-prep", a.schedule_meeting,
            title="Stakeholders' preparatory day", kind="preparatory-day",
            first_day="2023-05-04", parent=parent, meeting_id=_id("meeting:firearms-prep"),
        )
        dialogue = d.meetings["firearms-dialogue"] = self.do(
            "meeting:firearms-dialogue", a.schedule_meeting,
            title="Constructive Dialogue on Firearms", kind="constructive-dialogue",
            first_day="2023-05-05", parent=parent, meeting_id=_id("meeting:firearms-dialogue"),
        )
        for key, title, start, end in (
            ("firearms-morning", "Morning session: two expert inputs and three respondents",
             "2023-05-05 10:00", "13:00"),
            ("firearms-afternoon", "Afternoon session: open floor", "2023-05-05 15:00", "18:00"),
        ):
            d.meetings[key] = self.do(
                f"meeting:{key}", a.schedule_meeting, title=title, kind="session", start=start,
                end=end, zone=VIENNA, parent=dialogue, meeting_id=_id(f"meeting:{key}"),
            )
        d.meetings["firearms-side-event"] = self.do(
            "meeting:firearms-side-event", a.schedule_meeting,
            title="Thematic side event on firearms trafficking", kind="side-event",
            start="2023-05-05 13:15", end="14:45", zone=VIENNA, parent=parent, tentative=True,
            meeting_id=_id("meeting:firearms-side-event"),
        )

        self.at("2023-03-21 10:00")
        self.do("registration:firearms-dialogue", a.open_registration, dialogue,
                opens="2023-03-21 10:00", closes="2023-05-01", capacity=8,
                quotas={"speaker": 1, "alternate": 1, "expert": 2, "respondent": 1},
                funded_roles=["speaker", "alternate"], funded_per_delegation=2, funded_places=6)
        d.deadlines["firearms-names"] = self.do(
            "deadline:firearms-names", a.set_deadline,
            title="Names of participants of each delegation", kind="names", meeting=dialogue,
            due="2023-05-01", reminders=["P7D", "P1D"], deadline_id=_id("deadline:firearms-names"),
        )

    def the_day_of_the_minutes(self) -> None:
        """22 March: the informal meeting, and what it decided."""
        a, d = self.a, self.demo
        self.at("2023-03-22 16:45")
        self.do("attendance:informal-march", a.record_attendance, d.meetings["informal-march"],
                attendees=[
                    (d.persons["chair"], d.organisations["alliance"], "Chair"),
                    (d.persons["treasurer"], d.organisations["alliance"], "Treasurer"),
                    (d.persons["secretary"], d.organisations["alliance"], "Secretary"),
                    (d.persons["rua-1"], d.organisations["rua"], ""),
                    (d.persons["dath-1"], d.organisations["dath"], ""),
                    (d.persons["cgr-1"], d.organisations["cgr"], ""),
                    (d.persons["gitoc-1"], d.organisations["gitoc"], ""),
                    (d.persons["acjs-1"], d.organisations["acjs"], ""),
                    (d.persons["csu-1"], d.organisations["unodc"], "UNODC"),
                ])
        d.meetings["justice-talk"] = self.do(
            "meeting:justice-talk", a.schedule_meeting,
            title="Conversation with the Access to Justice section", kind="briefing",
            start="2023-04-12 15:00", end="16:00", zone=VIENNA, tentative=True,
            description="Subject to the availability of the Access to Justice section, once "
            "the discussion guide is released.", meeting_id=_id("meeting:justice-talk"),
        )
        self.do("speaking:csu-19-april", a.request_speaking, d.meetings["fifth-session"],
                organisation=d.organisations["unodc"], day="2023-04-19",
                topic="Civil society in the implementation mechanism",
                request_id=_id("speaking:csu-19-april"))
        self.refuse("refused:speak-outside", a.request_speaking, d.meetings["fifth-session"],
                    organisation=d.organisations["unodc"], day="2023-04-21")
        self.do("officer:vngoc:chair:new", a.appoint_officer, body="vngoc", role="chair",
                person=d.persons["vngoc-new"], since="2023-03-17")
        self.do("reminder:call-nominations:1", a.record_reminder_sent,
                d.deadlines["call-nominations"], note="Reminder of the call for nominations")

        self.at("2023-03-22 17:00")
        ccpcj = d.meetings["ccpcj"] = self.do(
            "meeting:ccpcj", a.schedule_meeting,
            title="32nd session of the Commission on Crime Prevention and Criminal Justice",
            kind="commission-session", first_day="2023-05-22", last_day="2023-05-26",
            location="Vienna International Centre", description="Main theme: access to justice.",
            meeting_id=_id("meeting:ccpcj"),
        )
        d.meetings["ccpcj-femicide"] = self.do(
            "meeting:ccpcj-femicide", a.schedule_meeting,
            title="Towards a Femicide Declaration (side event with UNODC)", kind="side-event",
            start="2023-05-23 13:10", end="14:00", zone=VIENNA, parent=ccpcj, tentative=True,
            meeting_id=_id("meeting:ccpcj-femicide"),
        )
        d.meetings["ccpcj-exhibition"] = self.do(
            "meeting:ccpcj-exhibition", a.schedule_meeting,
            title="Exhibition: documenting femicide", kind="exhibition",
            first_day="2023-05-22", last_day="2023-05-26", parent=ccpcj,
            meeting_id=_id("meeting:ccpcj-exhibition"),
        )
        d.meetings["technical-assistance"] = self.do(
            "meeting:technical-assistance", a.schedule_meeting,
            title="Constructive Dialogue on Technical Assistance", kind="constructive-dialogue",
            first_day="2023-05-30", last_day="2023-05-31", location="Vienna International Centre",
            meeting_id=_id("meeting:technical-assistance"),
        )
        self.refuse("refused:dst-gap", a.schedule_meeting, title="Night call",
                    start="2023-03-26 02:30", end="03:30", zone=VIENNA)

    def after_the_minutes(self) -> None:
        """28 March to 2 June: delegations, confirmations, changes, reports."""
        a, d, o, p = self.a, self.demo, self.demo.organisations, self.demo.persons
        dialogue = d.meetings["firearms-dialogue"]
        self.at("2023-03-28 11:00")
        nominations = (
            ("expert-1", "unodc", "expert-1", "expert", False),
            ("expert-2", "unodc", "expert-2", "expert", False),
            ("rua-speaker", "rua", "rua-1", "speaker", True),
            ("rua-alternate", "rua", "rua-2", "alternate", True),
            ("dath-speaker", "dath", "dath-1", "speaker", True),
            ("gitoc-respondent", "gitoc", "gitoc-1", "respondent", False),
            ("cgr-respondent", "cgr", "cgr-1", "respondent", False),
            ("dath-respondent", "dath", "dath-2", "respondent", False),
            ("cgr-participant", "cgr", "cgr-2", "participant", False),
        )
        for key, organisation, person, role, funding in nominations:
            d.nominations[key] = self.do(
                f"nomination:{key}", a.nominate, dialogue, organisation=o[organisation],
                person=p[person], role=role, funding_requested=funding,
                nomination_id=_id(f"nomination:{key}"),
            )
        self.refuse("refused:third-speaker", a.nominate, dialogue, organisation=o["rua"],
                    person=p["rua-3"], role="speaker")

        self.at("2023-03-29 10:00")
        self.do("link:informal-march-report", a.attach_link, d.meetings["informal-march"],
                kind="report", url="https://alliance.example.org/reports/2023-03-22",
                title="Report of the informal meeting")
        self.do("link:csw-recording", a.attach_link, d.meetings["csw-cyber-gap"],
                kind="recording", url="https://www.youtube.com/watch?v=alliance-csw-2023",
                title="Recording on the Alliance YouTube channel")

        self.at("2023-04-03 12:00")
        self.do("reschedule:justice-talk", a.reschedule_meeting, d.meetings["justice-talk"],
                start="2023-04-13 15:00", end="16:00", zone=VIENNA,
                reason="the section is available on Thursday")
        self.do("confirm:justice-talk", a.confirm_meeting, d.meetings["justice-talk"])

        self.at("2023-04-04 15:00")
        for key in ("rua-speaker", "rua-alternate", "dath-speaker"):
            self.do(f"confirm:{key}", a.confirm_nomination, dialogue, d.nominations[key],
                    funded=True)
        for key in ("expert-1", "expert-2"):
            self.do(f"confirm:{key}", a.confirm_nomination, dialogue, d.nominations[key])
        self.refuse("refused:fund-respondent", a.confirm_nomination, dialogue,
                    d.nominations["gitoc-respondent"], funded=True)

        self.at("2023-04-07 16:00")
        self.do("reminder:call-nominations:2", a.record_reminder_sent,
                d.deadlines["call-nominations"], note="Last reminder")

        self.at("2023-04-18 10:00")  # "some opportunity to accommodate more people"
        self.do("capacity:firearms-dialogue", a.change_capacity, dialogue, capacity=9)

        self.at("2023-04-20 09:30")
        self.do("withdraw:dath-respondent", a.withdraw_nomination, dialogue,
                d.nominations["dath-respondent"], reason="travel not possible")
        for key, organisation, person in (
            ("gitoc-participant", "gitoc", "gitoc-2"),
            ("acjs-participant", "acjs", "acjs-1"),
        ):
            d.nominations[key] = self.do(
                f"nomination:{key}", a.nominate, dialogue, organisation=o[organisation],
                person=p[person], role="participant", nomination_id=_id(f"nomination:{key}"),
            )

        self.at("2023-04-25 10:00")
        self.do("cancel:firearms-side-event", a.cancel_meeting, d.meetings["firearms-side-event"],
                reason="no room available during the lunch break")

        self.at("2023-05-02 09:00")
        self.refuse("refused:after-deadline", a.nominate, dialogue, organisation=o["rua"],
                    person=p["rua-3"], role="participant")

        self.at("2023-05-10 12:00")
        self.do("confirm:ccpcj-femicide", a.confirm_meeting, d.meetings["ccpcj-femicide"])

        self.at("2023-06-02 10:00")
        self.do("link:technical-assistance", a.attach_link, d.meetings["technical-assistance"],
                kind="recording", url="https://www.youtube.com/watch?v=alliance-ta-2023",
                title="Recording")
