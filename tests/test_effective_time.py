"""Two times for every fact: when a decision took effect (``at=``) and when it was recorded.

The secretariat writes the minutes up days after the meeting, on the machine's real
clock. A command given ``at=`` a past moment is judged by the rules at that moment,
against the stream as it stood then; the log keeps both times; a backdated decision that
would change what was recorded since is refused; queries answer both "what was in effect
at T" (``in_effect_at``) and "what did the log know at T" (``as_of``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pendulum
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alliance_events import Alliance, DomainError
from alliance_events.testing import FixedClock, SequentialIds

VIENNA = "Europe/Vienna"
NOW = pendulum.datetime(2023, 6, 20, 9, tz=VIENNA)  # the minutes are written up in June


@pytest.fixture
def alliance() -> Iterator[Alliance]:
    """An organisation, three people, a dialogue whose window ran 21 March to 1 May."""
    with Alliance.open("memory:", clock=FixedClock(NOW)) as opened:
        yield opened


def _world(a: Alliance, capacity: int = 8) -> dict[str, uuid.UUID]:
    ids = {"ruan": a.register_organisation(name="Rural And Urban Aid Nigeria", acronym="RUAN",
                                           at="2023-03-01")}
    for name in ("Femi Adeyemi", "Ngozi Okafor", "Chidi Eze"):
        ids[name] = a.register_person(name=name, organisation=ids["ruan"], at="2023-03-01")
    ids["dialogue"] = a.schedule_meeting(
        title="Constructive Dialogue", kind="constructive-dialogue", first_day="2023-05-05",
        at="2023-03-01")
    a.open_registration(ids["dialogue"], opens="2023-03-21", closes="2023-05-01",
                        capacity=capacity, at="2023-03-21 10:00")
    return ids


def test_the_minutes_of_a_past_meeting_can_be_recorded(alliance: Alliance) -> None:
    """Refused now (the window closed in May), accepted as decided on 22 March; the log
    keeps both times and the history says both."""
    ids = _world(alliance)
    with pytest.raises(DomainError) as refused:
        alliance.nominate(ids["dialogue"], organisation=ids["ruan"], person=ids["Femi Adeyemi"],
                          role="speaker")
    assert refused.value.rule == "registration-closed"
    alliance.nominate(ids["dialogue"], organisation=ids["ruan"], person=ids["Femi Adeyemi"],
                      role="speaker", at="2023-03-22 16:45", actor="Anna")
    record = list(alliance.log.read_all())[-1]
    assert record.recorded_at == NOW
    assert record.effective_at == pendulum.datetime(2023, 3, 22, 16, 45, tz=VIENNA)
    [entry] = [e for e in alliance.history(ids["dialogue"]) if e.type == "DelegateNominated"]
    assert entry.when == ("decided 22 Mar 2023 16:45 Europe/Vienna, recorded 20 Jun 2023 "
                          "07:00 UTC by Anna")
    # A fact recorded as it happens says one time.
    alliance.cancel_meeting(ids["dialogue"], actor="Anna")
    assert alliance.history(ids["dialogue"])[-1].when == "20 Jun 2023 07:00 UTC by Anna"


def test_rules_are_judged_at_the_effective_time(alliance: Alliance) -> None:
    """Before registration was opened (21 March), or after it closed: refused as it
    stood at that time."""
    ids = _world(alliance)
    for moment, rule in (("2023-03-20", "no-registration"),
                         ("2023-05-02", "registration-closed")):
        with pytest.raises(DomainError) as refused:
            alliance.nominate(ids["dialogue"], organisation=ids["ruan"],
                              person=ids["Femi Adeyemi"], role="speaker", at=moment)
        assert refused.value.rule == rule, moment


def test_a_future_time_or_garbage_is_refused(alliance: Alliance) -> None:
    """A decision is recorded once taken: ``at`` after the clock is refused, as is text
    that is not a time; nothing is written."""
    ids = _world(alliance)
    head = alliance.log.head()
    for moment, rule in (("2023-06-21", "at"), ("next week", "at"), ("9999-01-01", "date-range")):
        with pytest.raises(DomainError) as refused:
            alliance.cancel_meeting(ids["dialogue"], at=moment)
        assert refused.value.rule == rule, moment
    assert alliance.log.head() == head


def test_a_registration_window_wholly_past_needs_at(alliance: Alliance) -> None:
    """Opened now with a window that closed: refused; with at= inside it: accepted."""
    meeting = alliance.schedule_meeting(title="Informal Meeting", start="2023-04-19 15:00",
                                        end="16:30", at="2023-03-10")
    with pytest.raises(DomainError) as refused:
        alliance.open_registration(meeting, opens="2023-03-15", closes="2023-04-19 12:00")
    assert refused.value.rule == "window-in-past"
    alliance.open_registration(meeting, opens="2023-03-15", closes="2023-04-19 12:00",
                               at="2023-03-15 09:00")


def test_in_effect_at_and_as_of_answer_two_questions(alliance: Alliance) -> None:
    """In effect on 1 April: Femi's nomination; as the log knew it on 1 April: nothing."""
    ids = _world(alliance)
    alliance.nominate(ids["dialogue"], organisation=ids["ruan"], person=ids["Femi Adeyemi"],
                      role="speaker", at="2023-03-22 16:45")
    in_effect = alliance.registration(ids["dialogue"], in_effect_at="2023-04-01")
    assert [d.person for g in in_effect.delegations for d in g.delegates] == ["Femi Adeyemi"]
    before = alliance.registration(ids["dialogue"], in_effect_at="2023-03-22 12:00")
    assert before.delegations == ()
    with pytest.raises(DomainError, match="no meeting"):
        alliance.registration(ids["dialogue"], as_of="2023-04-01")  # recorded in June
    known = alliance.registration(ids["dialogue"], as_of=NOW, in_effect_at="2023-04-01")
    assert known.seats_taken == 1


def test_a_backdated_decision_that_changes_a_later_one_is_refused(alliance: Alliance) -> None:
    """One seat: Ngozi's nomination (23 March) took it; Femi's, backdated to 22 March,
    would have taken it first and put Ngozi on the waiting list: refused, naming it."""
    ids = _world(alliance, capacity=1)
    alliance.nominate(ids["dialogue"], organisation=ids["ruan"], person=ids["Ngozi Okafor"],
                      role="speaker", at="2023-03-23")
    head = alliance.log.head()
    with pytest.raises(DomainError) as refused:
        alliance.nominate(ids["dialogue"], organisation=ids["ruan"],
                          person=ids["Femi Adeyemi"], role="alternate", at="2023-03-22")
    assert refused.value.rule == "backdated-conflict"
    assert "comes before NominateDelegate in effect from 23 Mar 2023" in str(refused.value)
    assert alliance.log.head() == head
    # One that changes nothing recorded since is taken: a title corrected as of March.
    alliance.change_meeting_details(ids["dialogue"], location="Vienna International Centre",
                                    at="2023-03-22")
    assert alliance.log.head() == head + 1


def test_a_decision_before_what_it_depends_on_is_refused(alliance: Alliance) -> None:
    """The meeting was scheduled (recorded) now: its registration cannot be opened as
    of March, and the refusal says to give the scheduling an at= too."""
    meeting = alliance.schedule_meeting(title="Informal Meeting", start="2023-04-19 15:00",
                                        end="16:30")
    with pytest.raises(DomainError, match="record that one as of an earlier time") as refused:
        alliance.open_registration(meeting, opens="2023-03-15", closes="2023-04-19 12:00",
                                   at="2023-03-15 09:00")
    assert refused.value.rule == "backdated-conflict"


# -- the property: any interleaving of backdated and current commands ---------------------

_PEOPLE = ("Femi Adeyemi", "Ngozi Okafor", "Chidi Eze")
_DAYS = [pendulum.datetime(2023, 3, day, 12, tz=VIENNA) for day in (22, 24, 27, 30)]


@st.composite
def _commands(draw: st.DrawFn) -> list[tuple[str, int, int, int]]:
    """(what, day index, person index, command index) in the order they are recorded."""
    count = draw(st.integers(1, 7))
    return [
        (draw(st.sampled_from(["nominate", "withdraw", "capacity"])),
         draw(st.integers(0, len(_DAYS) - 1)), draw(st.integers(0, len(_PEOPLE) - 1)), index)
        for index in range(count)
    ]


def _give(a: Alliance, ids: dict[str, uuid.UUID], command: tuple[str, int, int, int]) -> bool:
    what, day, person, index = command
    command_id = uuid.uuid5(uuid.NAMESPACE_URL, f"command-{index}")
    try:
        if what == "nominate":
            a.nominate(ids["dialogue"], organisation=ids["ruan"], person=ids[_PEOPLE[person]],
                       role="participant", at=_DAYS[day], command_id=command_id)
        elif what == "withdraw":
            nomination = uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_URL, f"command-{person}"),
                                    "nomination")
            a.withdraw_nomination(ids["dialogue"], nomination, at=_DAYS[day],
                                  command_id=command_id)
        else:
            a.change_capacity(ids["dialogue"], capacity=person + 1, at=_DAYS[day],
                              command_id=command_id)
    except DomainError:
        return False
    return True


@settings(max_examples=120, deadline=None)
@given(commands=_commands())
def test_any_interleaving_equals_recording_in_order_of_effect(
    commands: list[tuple[str, int, int, int]],
) -> None:
    """Commands recorded in any order, each at its effective time: wherever they are
    accepted, and accepted again when recorded in the order they took effect, the
    meeting's state is the same either way (and the same as every reader's)."""
    with Alliance.open("memory:", clock=FixedClock(NOW), ids=SequentialIds()) as interleaved:
        ids = _world(interleaved, capacity=1)
        accepted = [c for c in commands if _give(interleaved, ids, c)]
        with Alliance.open("memory:", clock=FixedClock(NOW), ids=SequentialIds()) as ordered:
            assert _world(ordered, capacity=1) == ids
            in_order = sorted(accepted, key=lambda c: (_DAYS[c[1]], commands.index(c)))
            if all(_give(ordered, ids, c) for c in in_order):
                assert ordered.state.meetings[ids["dialogue"]] == (
                    interleaved.state.meetings[ids["dialogue"]])
                assert interleaved.registration(ids["dialogue"]) == ordered.registration(
                    ids["dialogue"])


def test_in_effect_at_sees_what_was_recorded_since_it_was_last_asked(
    alliance: Alliance,
) -> None:
    """The state "in effect at" is kept between two questions only while the log stays
    as it was: a nomination backdated in between shows in the next answer."""
    ids = _world(alliance)
    assert alliance.registration(ids["dialogue"], in_effect_at="2023-04-01").seats_taken == 0
    alliance.nominate(ids["dialogue"], organisation=ids["ruan"], person=ids["Femi Adeyemi"],
                      role="speaker", at="2023-03-22 16:45")
    assert alliance.registration(ids["dialogue"], in_effect_at="2023-04-01").seats_taken == 1
