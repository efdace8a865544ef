"""A meeting's stream kept in memory, for the tests of the meeting aggregate's rules.

Each state is built by folding ``evolve`` over the events that ``decide`` returned for
earlier commands, as the application does. Shared by ``test_domain_meetings*.py``.
"""

from __future__ import annotations

import uuid
from typing import Any

import attrs
import pendulum
import pytest

from alliance_events.domain.common import (
    Command,
    MeetingKind,
    NominationStatus,
    Role,
)
from alliance_events.domain.directory import (
    Organisation,
    Person,
)
from alliance_events.domain.meetings import (
    CancelMeeting,
    MeetingState,
    NominateDelegate,
    OpenRegistration,
    Refs,
    ScheduleMeeting,
    decide,
    evolve,
)
from alliance_events.errors import DomainError
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
        self.state: MeetingState | None = None
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
