"""What every aggregate shares: one face (stream, evolve, decide) and one fold."""

from __future__ import annotations

import inspect
import types
import uuid

import pendulum
import pytest

from alliance_events.domain import deadlines, meetings, settings
from alliance_events.domain.common import Command, MeetingKind, fold
from alliance_events.domain.directory import bodies, organisations, persons
from alliance_events.events import Event
from alliance_events.testing import SequentialIds
from alliance_events.timing import timed

from .sample_events import Noted

AGGREGATES: dict[str, types.ModuleType] = {
    "meeting": meetings,
    "deadline": deadlines,
    "organisation": organisations,
    "person": persons,
    "body": bodies,
    "settings": settings,
}
NOW = pendulum.datetime(2023, 3, 1, 9, tz="Europe/Vienna")
FOREIGN = Noted(event_id=uuid.UUID(int=1), text="another tool's")


class TestTheFace:
    @pytest.mark.parametrize("name", sorted(AGGREGATES))
    def test_every_aggregate_has_the_same_face(self, name: str) -> None:
        """A stream builder, evolve(state, event) and decide(state, command, refs)."""
        module = AGGREGATES[name]
        assert callable(getattr(module, f"{name}_stream"))
        assert list(inspect.signature(module.evolve).parameters) == ["state", "event"]
        assert list(inspect.signature(module.decide).parameters) == ["state", "command", "refs"]
        assert {"evolve", "decide", f"{name}_stream"} <= set(module.__all__)

    @pytest.mark.parametrize("name", sorted(AGGREGATES))
    def test_none_is_the_state_before_the_first_event(self, name: str) -> None:
        """An event that creates nothing leaves None as it is, and any state as it is."""
        module = AGGREGATES[name]
        assert module.evolve(None, FOREIGN) is None

    @pytest.mark.parametrize("name", sorted(AGGREGATES))
    def test_a_command_of_another_aggregate_is_refused(self, name: str) -> None:
        """decide raises (a TypeError or an unknown reference), never returns nothing."""
        command = Command(command_id=uuid.UUID(int=2), at=NOW)
        with pytest.raises((TypeError, LookupError)):
            AGGREGATES[name].decide(None, command)


class TestFold:
    def test_fold_applies_the_events_in_order(self) -> None:
        """fold gives the state evolve gives, one event after another, from None."""
        ids = SequentialIds(0x10)
        meeting_id = uuid.UUID(int=0x100)
        schedule = meetings.ScheduleMeeting(
            command_id=ids(), at=NOW, meeting_id=meeting_id, title="Informal Meeting",
            kind=MeetingKind.INFORMAL_MEETING, when=timed("2023-03-22 15:00", "16:30"),
        )
        events: list[Event] = meetings.decide(None, schedule)
        state = fold(meetings.evolve, events)
        events += meetings.decide(
            state, meetings.CancelMeeting(command_id=ids(), at=NOW, meeting_id=meeting_id)
        )
        by_hand = None
        for event in events:
            by_hand = meetings.evolve(by_hand, event)
        assert fold(meetings.evolve, events) == by_hand
        assert by_hand is not None and by_hand.cancelled

    def test_fold_of_nothing_is_the_initial_state(self) -> None:
        """No events: the initial state (None unless given)."""
        assert fold(meetings.evolve, []) is None
        settings_state = settings.FeedSettings(base_url="https://calendar.example.org")
        assert fold(settings.evolve, [], settings_state) is settings_state

    def test_fold_goes_on_from_a_state(self) -> None:
        """From a given state, fold applies only the events given."""
        address = settings.FeedAddressSet(event_id=uuid.UUID(int=3), base_url="https://a.example")
        state = fold(settings.evolve, [address])
        assert state == settings.FeedSettings(base_url="https://a.example")
        assert fold(settings.evolve, [FOREIGN], state) is state
