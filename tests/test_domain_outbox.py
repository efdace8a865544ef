"""The outbox's aggregates (a message, the notifier) and the organisation's focal point."""

from __future__ import annotations

import uuid

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alliance_events import RuleViolation, UnknownReferenceError
from alliance_events.domain import outbox as ob
from alliance_events.domain.common import fold
from alliance_events.domain.directory import organisations as org
from alliance_events.domain.directory import persons

NOW = pendulum.datetime(2027, 3, 26, tz="Europe/Vienna")
MESSAGE = uuid.UUID(int=7)
ORG = uuid.UUID(int=1)


def command(cls: type, n: int = 0, **fields: object) -> object:
    return cls(command_id=uuid.UUID(int=1000 + n), at=NOW, actor="notify", **fields)


def queue(n: int = 0) -> ob.QueueMessage:
    return command(ob.QueueMessage, n, message_id=MESSAGE, kind=ob.MessageKind.REMINDER,
                   organisation_id=ORG, recipients=(uuid.UUID(int=2),), due_at=NOW,
                   subject="Reminder: names", lines=("Names are due.",))


def run(commands: list[object]) -> ob.Message | None:
    state = None
    for c in commands:
        for event in ob.decide_message(state, c):
            state = ob.evolve_message(state, event)
    return state


class TestMessage:
    def test_queued_then_sent(self) -> None:
        state = run([queue(), command(ob.RecordMessageSent, 1, message_id=MESSAGE)])
        assert state is not None and state.status is ob.MessageStatus.SENT
        assert state.attempts == 1

    def test_decided_once(self) -> None:
        with pytest.raises(RuleViolation, match="message-decided"):
            run([queue(), queue(1)])
        skip = command(ob.SkipMessage, 1, message_id=MESSAGE, kind=ob.MessageKind.REMINDER,
                       organisation_id=ORG, due_at=NOW, subject="s", reason="late")
        with pytest.raises(RuleViolation, match="message-decided"):
            run([queue(), skip])

    def test_sent_once_and_only_when_queued(self) -> None:
        sent = command(ob.RecordMessageSent, 1, message_id=MESSAGE)
        with pytest.raises(UnknownReferenceError, match="unknown-message"):
            run([sent])
        with pytest.raises(RuleViolation, match="message-done"):
            run([queue(), sent, command(ob.RecordMessageSent, 2, message_id=MESSAGE)])

    def test_a_failure_that_is_not_permanent_says_when_to_retry(self) -> None:
        with pytest.raises(RuleViolation, match="retry-at"):
            run([queue(), command(ob.RecordSendFailure, 1, message_id=MESSAGE, error="451")])
        state = run([queue(), command(ob.RecordSendFailure, 1, message_id=MESSAGE,
                                      error="451", retry_at=NOW.add(seconds=30))])
        assert state is not None and state.pending and state.attempts == 1
        state = run([queue(), command(ob.RecordSendFailure, 1, message_id=MESSAGE,
                                      error="550", permanent=True)])
        assert state is not None and state.status is ob.MessageStatus.FAILED

    def test_a_message_needs_a_recipient(self) -> None:
        empty = command(ob.QueueMessage, 0, message_id=MESSAGE, kind=ob.MessageKind.REMINDER,
                        organisation_id=ORG, recipients=(), due_at=NOW, subject="s")
        with pytest.raises(RuleViolation, match="recipients"):
            run([empty])

    @given(st.lists(st.sampled_from(["fail", "sent", "permanent"]), max_size=8))
    def test_replay_gives_the_same_state(self, steps: list[str]) -> None:
        """Folding the recorded events again gives the state the decisions saw."""
        events = []
        state = None
        for index, step in enumerate(["queue", *steps]):
            if step == "queue":
                c: object = queue()
            elif step == "fail":
                c = command(ob.RecordSendFailure, index, message_id=MESSAGE, error="451",
                            retry_at=NOW.add(minutes=index))
            elif step == "permanent":
                c = command(ob.RecordSendFailure, index, message_id=MESSAGE, error="550",
                            permanent=True)
            else:
                c = command(ob.RecordMessageSent, index, message_id=MESSAGE)
            try:
                new = ob.decide_message(state, c)
            except RuleViolation:
                assert state is not None and not state.pending
                continue
            events.extend(new)
            for event in new:
                state = ob.evolve_message(state, event)
        assert fold(ob.evolve_message, events) == state
        assert state is not None
        assert state.attempts == sum(1 for e in events if not isinstance(e, ob.MessageQueued))


class TestNotifier:
    def test_started_once(self) -> None:
        start = command(ob.StartNotifier, 0, from_position=12, from_time=NOW)
        (event,) = ob.decide_notifier(None, start)
        state = ob.evolve_notifier(None, event)
        assert state == ob.NotifierState(from_position=12, from_time=NOW)
        with pytest.raises(RuleViolation, match="notifier-started"):
            ob.decide_notifier(state, start)


class TestFocalPoint:
    ngo = org.Organisation(organisation_id=ORG, name="Vienna NGO", acronym="", member=True)
    ada = persons.Person(person_id=uuid.UUID(int=2), name="Ada", email="a@x.example",
                         organisation_id=ORG)
    other = persons.Person(person_id=uuid.UUID(int=3), name="Bo", email="b@y.example",
                           organisation_id=uuid.UUID(int=9))

    def appoint(self, person: uuid.UUID | None) -> object:
        return command(org.AppointFocalPoint, 0, organisation_id=ORG, person_id=person)

    def test_a_person_of_the_organisation(self) -> None:
        refs = {p.person_id: p for p in (self.ada, self.other)}
        (event,) = org.decide(self.ngo, self.appoint(self.ada.person_id), refs)
        assert org.evolve(self.ngo, event).focal_point == self.ada.person_id
        with pytest.raises(RuleViolation, match="focal-point-organisation"):
            org.decide(self.ngo, self.appoint(self.other.person_id), refs)
        with pytest.raises(UnknownReferenceError, match="unknown-person"):
            org.decide(self.ngo, self.appoint(uuid.UUID(int=99)), refs)
        with pytest.raises(RuleViolation, match="focal-point-unchanged"):
            org.decide(self.ngo, self.appoint(None), refs)
