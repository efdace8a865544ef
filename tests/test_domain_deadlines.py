"""Tests of the deadline rules: pure decide and evolve, no log."""

from __future__ import annotations

import uuid
from typing import Any

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alliance_events.domain.common import Command
from alliance_events.domain.deadlines import (
    CancelDeadline,
    Deadline,
    DeadlineCancelled,
    DeadlineExtended,
    DeadlineKind,
    DeadlineReminderSent,
    DeadlineSet,
    DueAt,
    DueBy,
    ExtendDeadline,
    RecordReminderSent,
    SetDeadline,
    deadline_stream,
    decide,
    due_instant,
    evolve,
)
from alliance_events.domain.directory import OrganisationRegistered
from alliance_events.errors import DomainError, UnknownReferenceError
from alliance_events.events import Event
from alliance_events.testing import SequentialIds
from alliance_events.timing import local_datetime

DEADLINE = uuid.UUID(int=0xD1)
NOW = pendulum.datetime(2023, 3, 22, 14, tz="UTC")
FIRST_OF_MAY = DueBy(day=pendulum.Date(2023, 5, 1))


KNOWN_ORGANISATIONS = frozenset({uuid.UUID(int=0xA1)})


class Deadlines:
    """One deadline's events kept in memory: decide a command, fold its events in."""

    def __init__(self) -> None:
        self.state: Deadline | None = None
        self.ids = SequentialIds(0x2000)

    def command(self, cls: type[Command], **fields: Any) -> Command:
        """Build a command of ``cls`` for the deadline, with a new command id."""
        fields.setdefault("deadline_id", DEADLINE)
        return cls(command_id=self.ids(), at=NOW, **fields)

    def do(self, cls: type[Command], **fields: Any) -> list[Event]:
        """Decide a command and fold its events in; return them."""
        events = decide(self.state, self.command(cls, **fields), KNOWN_ORGANISATIONS)
        for event in events:
            self.state = evolve(self.state, event)
        return events

    def refuse(self, rule: str, cls: type[Command], **fields: Any) -> DomainError:
        """Check that a command is refused naming ``rule``, changing nothing."""
        before = self.state
        with pytest.raises(DomainError) as info:
            self.do(cls, **fields)
        assert info.value.rule == rule, str(info.value)
        assert self.state == before
        return info.value

    def set(self, **fields: Any) -> list[Event]:
        """Set the deadline: 'send the names of participants by the 1st of May'."""
        fields.setdefault("title", "Send the names of participants")
        fields.setdefault("due", FIRST_OF_MAY)
        return self.do(SetDeadline, **fields)

    @property
    def deadline(self) -> Deadline:
        """The deadline's state (it must be set)."""
        assert self.state is not None
        return self.state


def is_set(**fields: Any) -> Deadlines:
    """A deadline that is set."""
    deadlines = Deadlines()
    deadlines.set(**fields)
    return deadlines


class TestDue:
    def test_due_by_a_day_is_overdue_from_the_next_midnight(self) -> None:
        """'By the 1st of May' in Vienna is overdue from 2 May 00:00 Vienna (22:00 UTC)."""
        instant = due_instant(FIRST_OF_MAY)
        assert instant.isoformat() == "2023-05-02T00:00:00+02:00"
        assert instant.in_timezone("UTC").isoformat() == "2023-05-01T22:00:00+00:00"

    def test_due_by_a_day_in_another_zone(self) -> None:
        """A day in New York ends at New York's midnight."""
        instant = due_instant(DueBy(day=pendulum.Date(2023, 5, 1), zone="America/New_York"))
        assert instant.in_timezone("UTC").isoformat() == "2023-05-02T04:00:00+00:00"

    def test_due_at_an_instant(self) -> None:
        """A deadline due at 17:00 Vienna is due at that instant."""
        moment = local_datetime("2023-05-01 17:00", "Europe/Vienna")
        assert due_instant(DueAt(at=moment)) == moment


class TestSetDeadline:
    def test_set(self) -> None:
        """A deadline is set with its title, due time, kind, reminders and audience."""
        deadlines = Deadlines()
        reminders = (pendulum.duration(days=7), pendulum.duration(days=1))
        events = deadlines.set(kind=DeadlineKind.NAMES, reminders=reminders, public=False)
        assert [type(e) for e in events] == [DeadlineSet]
        deadline = deadlines.deadline
        assert deadline.title == "Send the names of participants"
        assert deadline.kind is DeadlineKind.NAMES
        assert deadline.reminders == reminders
        assert not deadline.public
        assert (deadline.cancelled, deadline.extensions, deadline.sequence) == (False, 0, 0)

    def test_reminder_times(self) -> None:
        """Reminders fall at their durations before the due instant, earliest first."""
        deadline = is_set(reminders=(pendulum.duration(days=1), pendulum.duration(days=7)))
        times = [t.in_timezone("UTC").isoformat() for t in deadline.deadline.reminder_times()]
        assert times == ["2023-04-24T22:00:00+00:00", "2023-04-30T22:00:00+00:00"]

    def test_set_twice_is_refused(self) -> None:
        """Setting a deadline that is set is refused (deadline-exists)."""
        is_set().refuse("deadline-exists", SetDeadline, title="again", due=FIRST_OF_MAY)

    @pytest.mark.parametrize(("title", "rule"), [("", "required"), ("x" * 501, "text-length")])
    def test_title_is_required(self, title: str, rule: str) -> None:
        """A deadline needs a title of at most 500 characters."""
        Deadlines().refuse(rule, SetDeadline, title=title, due=FIRST_OF_MAY)

    def test_due_must_be_due_at_or_due_by(self) -> None:
        """A due that is neither DueAt nor DueBy is refused (due)."""
        Deadlines().refuse("due", SetDeadline, title="t", due="1 May")

    def test_due_by_needs_a_known_zone(self) -> None:
        """A day in an unknown zone is refused (zone)."""
        Deadlines().refuse("zone", SetDeadline, title="t",
                           due=DueBy(day=pendulum.Date(2023, 5, 1), zone="Europe/Atlantis"))

    def test_due_at_needs_a_zone(self) -> None:
        """A naive instant is refused (zone)."""
        Deadlines().refuse("zone", SetDeadline, title="t",
                           due=DueAt(at=pendulum.naive(2023, 5, 1, 17)))

    @pytest.mark.parametrize("reminder", [pendulum.duration(0), pendulum.duration(days=-1), 7])
    def test_reminders_are_positive_durations(self, reminder: object) -> None:
        """A reminder of zero, a negative duration or a bare number is refused (reminder)."""
        Deadlines().refuse("reminder", SetDeadline, title="t", due=FIRST_OF_MAY,
                           reminders=(reminder,))

    def test_reminders_are_unique(self) -> None:
        """The same reminder twice is refused (reminder)."""
        Deadlines().refuse("reminder", SetDeadline, title="t", due=FIRST_OF_MAY,
                           reminders=(pendulum.duration(days=7), pendulum.duration(days=7)))

    @given(st.sets(st.integers(1, 60 * 24 * 60), min_size=1, max_size=6))
    def test_distinct_positive_reminders_fall_before_the_deadline(self, minutes: set[int]) -> None:
        """Any set of distinct positive reminders is accepted; each falls before the due time."""
        reminders = tuple(pendulum.duration(minutes=m) for m in sorted(minutes))
        deadline = is_set(reminders=reminders).deadline
        times = deadline.reminder_times()
        due = due_instant(deadline.due)
        assert len(times) == len(minutes)
        assert times == sorted(times)
        assert all(t < due for t in times)


class TestChanges:
    def test_extend(self) -> None:
        """An extension moves the deadline later; extensions and sequence count it."""
        deadlines = is_set()
        new_due = DueBy(day=pendulum.Date(2023, 5, 5))
        events = deadlines.do(ExtendDeadline, due=new_due, reason="more time")
        assert [type(e) for e in events] == [DeadlineExtended]
        assert deadlines.deadline.due == new_due
        assert (deadlines.deadline.extensions, deadlines.deadline.sequence) == (1, 1)

    def test_extend_by_one_second_is_later(self) -> None:
        """An instant one second after the old due time is an extension."""
        deadlines = is_set()
        later = pendulum.datetime(2023, 5, 1, 22, 0, 1, tz="UTC")
        deadlines.do(ExtendDeadline, due=DueAt(at=later))
        assert due_instant(deadlines.deadline.due) == later

    @pytest.mark.parametrize("due", [
        DueBy(day=pendulum.Date(2023, 4, 30)),
        FIRST_OF_MAY,
        DueAt(at=pendulum.datetime(2023, 5, 1, 22, tz="UTC")),  # the same instant
    ], ids=["earlier", "same-day", "same-instant"])
    def test_extension_must_be_later(self, due: object) -> None:
        """An 'extension' to an earlier or equal time is refused (extend-later)."""
        is_set().refuse("extend-later", ExtendDeadline, due=due)

    def test_extension_due_is_checked(self) -> None:
        """An extension to a naive instant is refused (zone)."""
        is_set().refuse("zone", ExtendDeadline, due=DueAt(at=pendulum.naive(2023, 6, 1)))

    def test_cancel(self) -> None:
        """A cancelled deadline stays, marked cancelled, never overdue; sequence rises."""
        deadlines = is_set()
        events = deadlines.do(CancelDeadline, reason="meeting cancelled")
        assert [type(e) for e in events] == [DeadlineCancelled]
        deadline = deadlines.deadline
        assert deadline.cancelled
        assert deadline.sequence == 1
        assert not deadline.overdue(pendulum.datetime(2024, 1, 1, tz="UTC"))

    @pytest.mark.parametrize(("cls", "fields"), [
        (ExtendDeadline, {"due": DueBy(day=pendulum.Date(2023, 6, 1))}),
        (CancelDeadline, {}),
        (RecordReminderSent, {}),
    ])
    def test_cancelled_deadline_refuses_changes(
        self, cls: type[Command], fields: dict[str, Any]
    ) -> None:
        """A cancelled deadline refuses extensions, cancellation and reminders."""
        deadlines = is_set()
        deadlines.do(CancelDeadline)
        deadlines.refuse("deadline-cancelled", cls, **fields)

    def test_reminder_sent(self) -> None:
        """Each reminder the mailing tool sends is counted; the sequence does not rise."""
        deadlines = is_set(reminders=(pendulum.duration(days=7),))
        events = deadlines.do(RecordReminderSent, channel="e-mail", note="to all members")
        deadlines.do(RecordReminderSent)
        assert isinstance(events[0], DeadlineReminderSent)
        assert events[0].note == "to all members"
        assert (deadlines.deadline.reminders_sent, deadlines.deadline.sequence) == (2, 0)

    @pytest.mark.parametrize(("cls", "fields"), [
        (ExtendDeadline, {"due": FIRST_OF_MAY}),
        (CancelDeadline, {}),
        (RecordReminderSent, {}),
    ])
    def test_unknown_deadline_is_refused(self, cls: type[Command], fields: dict[str, Any]) -> None:
        """A command on a deadline never set is refused (unknown-deadline)."""
        error = Deadlines().refuse("unknown-deadline", cls, **fields)
        assert isinstance(error, UnknownReferenceError)

    def test_not_a_deadline_command(self) -> None:
        """Another command is a programming error."""
        deadlines = is_set()
        with pytest.raises(TypeError):
            decide(deadlines.state, Command(command_id=uuid.UUID(int=1), at=NOW))


class TestOverdue:
    def test_overdue_from_the_due_instant(self) -> None:
        """A deadline by 1 May is not overdue at 23:59 Vienna, and is at midnight."""
        deadline = is_set().deadline
        assert not deadline.overdue(local_datetime("2023-05-01 23:59", "Europe/Vienna"))
        assert deadline.overdue(local_datetime("2023-05-02 00:00", "Europe/Vienna"))

    def test_extension_moves_overdue(self) -> None:
        """After an extension it is not overdue until the new time."""
        deadlines = is_set()
        deadlines.do(ExtendDeadline, due=DueBy(day=pendulum.Date(2023, 5, 5)))
        assert not deadlines.deadline.overdue(local_datetime("2023-05-03 12:00", "Europe/Vienna"))


class TestEvolveDeadline:
    def test_events_before_set_are_ignored(self) -> None:
        """An extension of a deadline never set gives no deadline."""
        event = DeadlineExtended(event_id=uuid.UUID(int=1), deadline_id=DEADLINE,
                                 due=FIRST_OF_MAY)
        assert evolve(None, event) is None

    def test_events_of_other_aggregates_are_ignored(self) -> None:
        """Events of other aggregates leave the deadline as it is."""
        deadline = is_set().deadline
        event = OrganisationRegistered(event_id=uuid.UUID(int=1),
                                       organisation_id=uuid.UUID(int=2), name="x")
        assert evolve(deadline, event) is deadline

    def test_same_command_same_ids(self) -> None:
        """Deciding the same command twice gives the same event ids."""
        deadlines = is_set()
        command = deadlines.command(ExtendDeadline, due=DueBy(day=pendulum.Date(2023, 6, 1)))
        first = decide(deadlines.state, command)
        assert first == decide(deadlines.state, command)
        assert first[0].event_id == uuid.uuid5(command.command_id, "0")

    def test_an_unknown_organisations_deadline_is_refused(self) -> None:
        """An organisation's own deadline must name a registered organisation."""
        Deadlines().refuse("unknown-organisation", SetDeadline, organisation_id=uuid.UUID(int=0xB2),
                           title="names", due=DueBy(day=pendulum.Date(2023, 5, 1)))

    def test_set_carries_the_commands_fields(self) -> None:
        """DeadlineSet carries every field of SetDeadline that it has."""
        organisation = uuid.UUID(int=0xA1)
        meeting = uuid.UUID(int=0x100)
        deadlines = Deadlines()
        event = deadlines.set(organisation_id=organisation, meeting_id=meeting,
                              description="by e-mail", kind=DeadlineKind.REGISTRATION)[0]
        assert isinstance(event, DeadlineSet)
        assert (event.organisation_id, event.meeting_id, event.description, event.kind) == (
            organisation, meeting, "by e-mail", DeadlineKind.REGISTRATION
        )
        assert event.deadline_id == DEADLINE
        assert event.reminders == ()


class TestStream:
    def test_a_stand_alone_deadline_has_a_stream_of_its_own(self) -> None:
        """A deadline set on its own lives in ``deadline-<id>``."""
        assert deadline_stream(DEADLINE) == f"deadline-{DEADLINE}"
