"""A meeting's nomination index, shared between a state and those evolved from it.

``meetings.evolve`` no longer copies the index for each nomination: the states of one
meeting share it, and each reads only its own nominations through it. Any state, however
many others were evolved from it or its ancestors (a fold "as of", a decision tried on
the current state), must find exactly its own nominations.
"""

from __future__ import annotations

import uuid

import pendulum
from hypothesis import given
from hypothesis import strategies as st

from alliance_events.domain import meetings as mt
from alliance_events.domain.common import MeetingKind, Role
from alliance_events.domain.meetings import MeetingState
from alliance_events.events import Event
from alliance_events.timing import timed

MEETING = uuid.UUID(int=1)
IDS = [uuid.UUID(int=100 + n) for n in range(5)]
START = pendulum.datetime(2024, 5, 6, 10, tz="Europe/Vienna")


def _first() -> MeetingState:
    state = mt.evolve(None, mt.MeetingScheduled(
        event_id=uuid.UUID(int=2), meeting_id=MEETING, title="Dialogue",
        kind=MeetingKind.INFORMAL_MEETING, when=timed(START, START.add(hours=2)),
    ))
    assert state is not None
    return state


@st.composite
def changes(draw: st.DrawFn) -> Event:
    """A nomination (of an id from a small pool) or a change of one's status."""
    nomination_id = draw(st.sampled_from(IDS))
    event_id = uuid.UUID(int=draw(st.integers(1_000, 10**9)))
    if draw(st.booleans()):
        return mt.DelegateNominated(
            event_id=event_id, meeting_id=MEETING, nomination_id=nomination_id,
            organisation_id=uuid.UUID(int=7), person_id=uuid.UUID(int=draw(st.integers(8, 9))),
            role=Role.PARTICIPANT, funding_requested=draw(st.booleans()),
            waitlisted=draw(st.booleans()),
        )
    cls = draw(st.sampled_from([mt.NominationWithdrawn, mt.NominationWaitlisted,
                                mt.NominationPromoted, mt.NominationDeclined]))
    return cls(event_id=event_id, meeting_id=MEETING, nomination_id=nomination_id)


@given(st.lists(st.tuples(st.integers(0, 10**6), changes()), max_size=30))
def test_every_state_finds_its_own_nominations(steps: list[tuple[int, Event]]) -> None:
    """States evolved from any earlier state (a tree, not a line): each finds the
    latest nomination of each id among its own, and none of the others', and equals
    the state the same events give folded alone from the start."""
    states = [(_first(), [])]
    for parent, event in steps:
        state, path = states[parent % len(states)]
        evolved = mt.evolve(state, event)
        assert evolved is not None
        states.append((evolved, [*path, event]))
    for state, path in states:
        alone = _first()
        for event in path:
            alone = mt.evolve(alone, event)
        assert state == alone
        for nomination_id in IDS:
            latest = next((n for n in reversed(state.nominations)
                           if n.nomination_id == nomination_id), None)
            assert state.nomination(nomination_id) == latest
            assert alone is not None
            assert alone.nomination(nomination_id) == latest
