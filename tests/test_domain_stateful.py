"""The application driven by random command sequences, its rules checked after every step.

A :class:`~hypothesis.stateful.RuleBasedStateMachine` schedules meetings, opens
registrations, nominates, withdraws, declines and confirms delegates, changes capacities,
quotas and deadlines, cancels and reinstates meetings, and moves a fixed clock forward,
all through :class:`~alliance_events.Alliance` on a ``memory:`` log. A refused command
must append nothing. After every step the registration rules must hold in the live
state, in the registration views and in the stream itself, and the state rebuilt from
the log (whole, or as of an earlier position or time) must equal what the live state was.
"""

from __future__ import annotations

import uuid
from collections import Counter
from typing import Any, Final

import pendulum
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    multiple,
    precondition,
    rule,
)

from alliance_events import Alliance, DomainError
from alliance_events.domain import meetings as mt
from alliance_events.domain.common import MeetingStatus, NominationStatus, Role
from alliance_events.domain.deadlines import DeadlineKind, DueBy
from alliance_events.log.base import Recorded
from alliance_events.projections.alliance import AllianceProjection, AllianceState
from alliance_events.projections.registration import registration_view
from alliance_events.projections.runner import fold
from alliance_events.testing import FixedClock, SequentialIds

VIENNA: Final = "Europe/Vienna"
START: Final = pendulum.datetime(2023, 3, 1, 9, 0, tz=VIENNA)
ROLES: Final = [role.value for role in Role]
ORGANISATIONS: Final = 3
PERSONS: Final = 10
REFUSED: Final = object()

capacities = st.none() | st.integers(min_value=0, max_value=5)
quotas = st.dictionaries(st.sampled_from(ROLES), st.integers(min_value=0, max_value=2), max_size=3)
caps = st.none() | st.integers(min_value=0, max_value=3)


def _snapshot(state: AllianceState) -> AllianceState:
    """Copy the state as the projection copies it for snapshots (later events leave it be)."""
    return AllianceProjection().copy(state)


def _batches(records: list[Recorded]) -> list[list[Recorded]]:
    """Split a stream's records into the batches that one command each appended."""
    batches: list[list[Recorded]] = []
    for record in records:
        command = record.metadata.get("command_id")
        if batches and batches[-1][0].metadata.get("command_id") == command:
            batches[-1].append(record)
        else:
            batches.append([record])
    return batches


class AllianceMachine(RuleBasedStateMachine):
    """Random commands through the façade, with the registration rules as invariants."""

    meetings = Bundle("meetings")
    deadlines = Bundle("deadlines")

    def __init__(self) -> None:
        super().__init__()
        self.clock = FixedClock(START)
        self.alliance = Alliance.open("memory:", clock=self.clock, ids=SequentialIds())
        self.log = self.alliance.log
        self.organisations = [
            self.alliance.register_organisation(name=f"Organisation {i}", acronym=f"O{i}")
            for i in range(ORGANISATIONS)
        ]
        self.persons = [
            self.alliance.register_person(
                name=f"Person {i}", organisation=self.organisations[i % ORGANISATIONS]
            )
            for i in range(PERSONS)
        ]
        self.snapshots: dict[int, AllianceState] = {}
        self.outcomes: Counter[str] = Counter()

    def teardown(self) -> None:
        self.alliance.close()

    # -- running commands ------------------------------------------------------------

    def _attempt(self, name: str, command: Any, /, *args: Any, **kwargs: Any) -> Any:
        """Run a command; a refusal must name its rule and append nothing."""
        head = self.log.head()
        refusal: DomainError | None = None
        try:
            result = command(*args, **kwargs)
        except DomainError as error:
            refusal = error
        if refusal is not None:
            assert self.log.head() == head, f"{name} was refused ({refusal}) but appended"
            assert refusal.rule, f"{name}: a refusal without a rule: {refusal}"
            assert str(refusal).endswith(f"[rule: {refusal.rule}]")
            event(f"{name} refused: {refusal.rule}")
            self.outcomes[f"{name} refused: {refusal.rule}"] += 1
            return REFUSED
        assert self.log.head() > head, f"{name} appended nothing"
        event(f"{name} done")
        self.outcomes[f"{name} done"] += 1
        return result

    def _now(self) -> pendulum.DateTime:
        return self.clock().in_timezone(VIENNA)

    # -- a registration to start from ---------------------------------------------

    @initialize(
        target=meetings,
        capacity=capacities,
        role_quotas=quotas,
        funded_places=caps,
        funded_per_delegation=caps,
        funded_roles=st.lists(st.sampled_from(ROLES), unique=True, max_size=3),
    )
    def dialogue(
        self,
        capacity: int | None,
        role_quotas: dict[str, int],
        funded_places: int | None,
        funded_per_delegation: int | None,
        funded_roles: list[str],
    ) -> uuid.UUID:
        """A dialogue whose registration is open for a month, with random rules."""
        meeting = self.alliance.schedule_meeting(
            title="Constructive Dialogue", kind="constructive-dialogue",
            first_day="2023-05-05",
        )
        self.alliance.open_registration(
            meeting, opens=self._now(), closes=self._now().add(days=30), capacity=capacity,
            quotas=role_quotas, funded_places=funded_places,
            funded_per_delegation=funded_per_delegation, funded_roles=funded_roles,
        )
        return meeting

    # -- meetings --------------------------------------------------------------------

    @rule(
        target=meetings,
        day=st.integers(min_value=0, max_value=90),
        length=st.integers(min_value=0, max_value=3),
        hour=st.integers(min_value=8, max_value=17),
        is_timed=st.booleans(),
        parent=st.none() | meetings,
        tentative=st.booleans(),
    )
    def schedule(
        self,
        day: int,
        length: int,
        hour: int,
        is_timed: bool,
        parent: uuid.UUID | None,
        tentative: bool,
    ) -> Any:
        """Schedule a timed or all-day meeting, perhaps as part of another."""
        first = START.date().add(days=day)
        when: dict[str, Any]
        if is_timed:
            when = {
                "start": f"{first.isoformat()} {hour:02d}:00",
                "end": f"{hour + 1 + min(length, 5):02d}:30",
                "zone": VIENNA,
            }
        else:
            when = {"first_day": first, "last_day": first.add(days=length)}
        result = self._attempt(
            "schedule", self.alliance.schedule_meeting, title=f"Meeting on day {day}",
            kind="session" if parent else "informal-meeting", parent=parent,
            tentative=tentative, **when,
        )
        return multiple() if result is REFUSED else result

    @rule(meeting=meetings, action=st.sampled_from(["cancel", "reinstate", "confirm"]))
    def change_status(self, meeting: uuid.UUID, action: str) -> None:
        """Cancel a meeting (its parts show as cancelled), reinstate it, or confirm it."""
        if action == "cancel":
            self._attempt("cancel", self.alliance.cancel_meeting, meeting, reason="random")
        elif action == "reinstate":
            self._attempt(
                "reinstate", self.alliance.reinstate_meeting, meeting,
                reason="cancelled by mistake",
            )
        else:
            self._attempt("confirm meeting", self.alliance.confirm_meeting, meeting)

    def _cancelled(self) -> list[uuid.UUID]:
        return sorted(m for m, s in self.alliance.state.meetings.items() if s.cancelled)

    @precondition(lambda self: bool(self._cancelled()))
    @rule(choice=st.integers(min_value=0, max_value=10**6))
    def reinstate(self, choice: int) -> None:
        """Take back a cancellation (of a meeting inside a cancelled one: refused)."""
        cancelled = self._cancelled()
        self._attempt(
            "reinstate", self.alliance.reinstate_meeting, cancelled[choice % len(cancelled)],
            reason="cancelled by mistake",
        )

    # -- registration ----------------------------------------------------------------

    @rule(
        meeting=meetings,
        opens_in_hours=st.integers(min_value=-72, max_value=24),
        open_days=st.integers(min_value=1, max_value=40),
        capacity=capacities,
        role_quotas=quotas,
        funded_places=caps,
        funded_per_delegation=caps,
        funded_roles=st.lists(st.sampled_from(ROLES), unique=True, max_size=2),
    )
    def open_registration(
        self,
        meeting: uuid.UUID,
        opens_in_hours: int,
        open_days: int,
        capacity: int | None,
        role_quotas: dict[str, int],
        funded_places: int | None,
        funded_per_delegation: int | None,
        funded_roles: list[str],
    ) -> None:
        """Open registration with a random window, capacity, quotas and funding caps."""
        opens = self._now().add(hours=opens_in_hours)
        self._attempt(
            "open registration", self.alliance.open_registration, meeting,
            opens=opens, closes=opens.add(days=open_days), capacity=capacity,
            quotas=role_quotas, funded_places=funded_places,
            funded_per_delegation=funded_per_delegation, funded_roles=funded_roles,
        )

    def _registered(self) -> list[uuid.UUID]:
        """Meetings with a registration, not cancelled (nor part of a cancelled one)."""
        state = self.alliance.state
        return sorted(
            meeting_id
            for meeting_id, meeting in state.meetings.items()
            if meeting.registration is not None
            and state.effective_status(meeting_id) is not MeetingStatus.CANCELLED
        )

    @precondition(lambda self: bool(self._registered()))
    @rule(choice=st.integers(min_value=0, max_value=10**6), capacity=capacities)
    def change_capacity(self, choice: int, capacity: int | None) -> None:
        """Change the room's capacity: the waiting list moves up, or seats move back."""
        registered = self._registered()
        self._attempt(
            "change capacity", self.alliance.change_capacity,
            registered[choice % len(registered)], capacity=capacity,
        )

    @precondition(lambda self: bool(self._registered()))
    @rule(choice=st.integers(min_value=0, max_value=10**6), role_quotas=quotas)
    def change_quota(self, choice: int, role_quotas: dict[str, int]) -> None:
        """Replace the quotas per delegation (below what a delegation has: refused)."""
        registered = self._registered()
        self._attempt(
            "change quota", self.alliance.change_quota,
            registered[choice % len(registered)], quotas=role_quotas,
        )

    @rule(
        meeting=meetings,
        action=st.sampled_from(["close", "reopen", "move"]),
        opens_in_hours=st.integers(min_value=-72, max_value=24),
        days=st.integers(min_value=-2, max_value=30),
    )
    def change_window(
        self, meeting: uuid.UUID, action: str, opens_in_hours: int, days: int
    ) -> None:
        """Close registration, reopen it (until a past time: refused), or move its window."""
        now = self._now()
        if action == "close":
            self._attempt("close registration", self.alliance.close_registration, meeting)
        elif action == "reopen":
            self._attempt(
                "reopen registration", self.alliance.reopen_registration, meeting,
                closes=now.add(days=days, hours=1),
            )
        else:
            opens = now.add(hours=opens_in_hours)
            self._attempt(
                "move window", self.alliance.change_registration_window, meeting,
                opens=opens, closes=opens.add(days=days),
            )

    # -- nominations -----------------------------------------------------------------

    @rule(
        meeting=meetings,
        organisation=st.integers(min_value=0, max_value=ORGANISATIONS - 1),
        person=st.integers(min_value=0, max_value=PERSONS - 1),
        role=st.sampled_from(ROLES),
        funding_requested=st.booleans(),
    )
    def nominate(
        self,
        meeting: uuid.UUID,
        organisation: int,
        person: int,
        role: str,
        funding_requested: bool,
    ) -> Any:
        """Nominate a delegate (refused: closed, quota, twice, deadline, cancelled...)."""
        self._attempt(
            "nominate", self.alliance.nominate, meeting,
            organisation=self.organisations[organisation], person=self.persons[person],
            role=role, funding_requested=funding_requested,
        )

    @precondition(lambda self: bool(self._open_registrations()))
    @rule(
        choice=st.integers(min_value=0, max_value=10**6),
        delegates=st.lists(
            st.tuples(
                st.integers(min_value=0, max_value=ORGANISATIONS - 1),
                st.integers(min_value=0, max_value=PERSONS - 1),
                st.sampled_from(ROLES),
                st.booleans(),
            ),
            min_size=1,
            max_size=4,
        ),
    )
    def nominate_where_open(
        self, choice: int, delegates: list[tuple[int, int, str, bool]]
    ) -> None:
        """Nominate a few delegates for a meeting whose registration is open now."""
        open_now = self._open_registrations()
        for organisation, person, role, funding_requested in delegates:
            self.nominate(
                open_now[choice % len(open_now)], organisation, person, role, funding_requested
            )

    def _open_registrations(self) -> list[uuid.UUID]:
        now = self.clock()
        state = self.alliance.state
        return [
            meeting_id
            for meeting_id in self._registered()
            if state.meetings[meeting_id].registration.is_open(now)  # type: ignore[union-attr]
        ]

    def _nominations(self) -> list[tuple[uuid.UUID, uuid.UUID]]:
        state = self.alliance.state
        return [
            (meeting_id, nomination.nomination_id)
            for meeting_id in self._registered()
            for nomination in state.meetings[meeting_id].nominations
        ]

    @precondition(lambda self: bool(self._nominations()))
    @rule(
        choice=st.integers(min_value=0, max_value=10**6),
        action=st.sampled_from(["withdraw", "decline", "confirm", "confirm funded"]),
    )
    def settle(self, choice: int, action: str) -> None:
        """Withdraw, decline, or confirm (funded or not) a nomination (ended: refused)."""
        nominations = self._nominations()
        meeting, nomination = nominations[choice % len(nominations)]
        if action == "withdraw":
            self._attempt(
                action, self.alliance.withdraw_nomination, meeting, nomination, reason="r"
            )
        elif action == "decline":
            self._attempt(
                action, self.alliance.decline_nomination, meeting, nomination, reason="r"
            )
        else:
            self._attempt(
                action, self.alliance.confirm_nomination, meeting, nomination,
                funded=action == "confirm funded",
            )

    # -- deadlines and time ----------------------------------------------------------

    @rule(
        target=deadlines,
        meeting=meetings,
        days=st.integers(min_value=1, max_value=6),
        reminders=st.lists(st.sampled_from([7, 1]), unique=True),
    )
    def set_names_deadline(self, meeting: uuid.UUID, days: int, reminders: list[int]) -> Any:
        """Set a 'names' deadline for a meeting: nominations close when it passes."""
        result = self._attempt(
            "set deadline", self.alliance.set_deadline, title="Names of participants",
            kind="names", meeting=meeting, due=self._now().date().add(days=days),
            reminders=reminders,
        )
        return multiple() if result is REFUSED else result

    @rule(
        deadline=deadlines,
        action=st.sampled_from(["extend", "extend", "cancel"]),
        days=st.integers(min_value=-1, max_value=10),
    )
    def change_deadline(self, deadline: uuid.UUID, action: str, days: int) -> None:
        """Move a deadline later (not later: refused), or cancel it."""
        if action == "cancel":
            self._attempt("cancel deadline", self.alliance.cancel_deadline, deadline)
            return
        found = [d for d in self.alliance.state.all_deadlines() if d.deadline_id == deadline]
        assert len(found) == 1
        due = found[0].due
        assert isinstance(due, DueBy)
        self._attempt(
            "extend deadline", self.alliance.extend_deadline, deadline,
            due=due.day.add(days=days), reason="more time",
        )

    @rule(minutes=st.integers(min_value=1, max_value=60 * 24 * 3))
    def advance_clock(self, minutes: int) -> None:
        """Time passes (windows open and close, deadlines fall due)."""
        self.clock.advance(minutes=minutes)

    # -- looking back ----------------------------------------------------------------

    @precondition(lambda self: bool(self.snapshots))
    @rule(choice=st.integers(min_value=0, max_value=10**6))
    def look_back(self, choice: int) -> None:
        """The state as of an earlier position, or time, is what the live state was then."""
        positions = sorted(self.snapshots)
        position = positions[choice % len(positions)]
        then = self.snapshots[position]
        past, at = self.alliance.state_as_of(position)
        assert past == then
        assert at == then.recorded_at
        stopped, last = fold(self.log, AllianceProjection(), position=position)
        assert (stopped, last) == (then, position)
        assert then.recorded_at is not None
        # As of a time: everything recorded up to that instant, and nothing after.
        latest = max(p for p, s in self.snapshots.items() if s.recorded_at == then.recorded_at)
        by_time, moment = self.alliance.state_as_of(then.recorded_at)
        assert moment == then.recorded_at
        assert by_time == self.snapshots[latest]
        for meeting_id, meeting in then.meetings.items():
            view = self.alliance.registration(meeting_id, as_of=position)
            assert view == registration_view(then, meeting, then.recorded_at)

    # -- invariants ------------------------------------------------------------------

    @invariant()
    def quotas_capacity_and_funding_hold(self) -> None:
        """Quotas, capacity and funding caps hold in the live state."""
        for meeting in self.alliance.state.meetings.values():
            registration = meeting.registration
            if registration is None:
                assert meeting.nominations == ()
                continue
            for organisation in {n.organisation_id for n in meeting.nominations}:
                delegation = meeting.delegation(organisation)
                for quota in registration.quotas:
                    active = [n for n in delegation if n.role is quota.role and n.status.active]
                    assert len(active) <= quota.limit, (quota, active)
                funded_here = [n for n in delegation if n.funded]
                if registration.funded_per_delegation is not None:
                    assert len(funded_here) <= registration.funded_per_delegation
            seated = [n for n in meeting.nominations if n.status.holds_seat]
            confirmed = [n for n in seated if n.status is NominationStatus.CONFIRMED]
            waiting = meeting.waiting_list
            if registration.capacity is None:
                assert waiting == ()
            else:
                assert len(confirmed) <= len(seated) <= registration.capacity
                # No one waits while a seat is free (every command ends with a promotion pass).
                assert not waiting or len(seated) == registration.capacity
            funded = [n for n in meeting.nominations if n.funded]
            assert all(n.status is NominationStatus.CONFIRMED for n in funded)
            assert meeting.funded_count == len(funded)
            if registration.funded_places is not None:
                assert len(funded) <= registration.funded_places
            if registration.funded_roles:
                assert all(n.role in registration.funded_roles for n in funded)

    @invariant()
    def views_agree_with_the_state(self) -> None:
        """The registration views show the state: seats, waiting positions, funding."""
        state = self.alliance.state
        for meeting_id, meeting in state.meetings.items():
            view = self.alliance.registration(meeting_id)
            delegates = [d for delegation in view.delegations for d in delegation.delegates]
            assert sorted(d.nomination_id for d in delegates) == sorted(
                n.nomination_id for n in meeting.nominations
            )
            assert view.seats_taken == sum(d.status.holds_seat for d in delegates)
            assert view.funded_used == sum(d.funded for d in delegates)
            assert [d.nomination_id for d in view.waiting_list] == [
                n.nomination_id for n in meeting.waiting_list
            ]
            assert [d.waiting_position for d in view.waiting_list] == list(
                range(1, len(view.waiting_list) + 1)
            )
            assert all(d.status is NominationStatus.WAITLISTED for d in view.waiting_list)
            if view.capacity is None:
                assert view.seats_free is None
            else:
                assert view.seats_free == view.capacity - view.seats_taken >= 0
            for delegation in view.delegations:
                assert {d.organisation_id for d in delegation.delegates} == {
                    delegation.organisation_id
                }

    @invariant()
    def the_stream_explains_the_waiting_list(self) -> None:
        """The waiting list is in nomination order, and each waits for a reason in the log."""
        for meeting_id, meeting in self.alliance.state.meetings.items():
            records = list(self.log.read_stream(mt.meeting_stream(meeting_id)))
            order = [
                r.event.nomination_id
                for r in records
                if isinstance(r.event, mt.DelegateNominated)
            ]
            assert [n.nomination_id for n in meeting.nominations] == order
            waiting = [n.nomination_id for n in meeting.waiting_list]
            assert waiting == [i for i in order if i in set(waiting)]
            self._replay(records)
            if meeting.waiting_list:
                event("a waiting list")
            if any(isinstance(r.event, mt.NominationWaitlisted) for r in records):
                event("seats moved back to the waiting list")
            if any(isinstance(r.event, mt.NominationPromoted) for r in records):
                event("waiting nominations promoted")

    @staticmethod
    def _replay(records: list[Recorded]) -> None:
        """Check each command's events against the state the stream had before it."""
        state: mt.MeetingState | None = None
        for batch in _batches(records):
            first = batch[0].event
            kinds = {type(r.event) for r in batch}
            if isinstance(first, mt.DelegateNominated):
                registration = state.registration
                assert registration is not None
                full = registration.capacity is not None and (
                    state.seats_taken >= registration.capacity or bool(state.waiting_list)
                )
                assert first.waitlisted == full, "waitlisted exactly when seats were full"
                at = batch[0].recorded_at  # the command's time: one clock serves both
                assert registration.is_open(at)
                assert not any(
                    d.kind is DeadlineKind.NAMES and d.overdue(at) for d in state.deadlines
                ), "no nomination once the names are due"
            if mt.NominationWaitlisted in kinds:
                # Only a smaller room moves seated, unconfirmed nominations back: the latest.
                assert isinstance(first, mt.CapacityChanged)
                moved = [r.event.nomination_id for r in batch[1:]]
                unconfirmed = [
                    n.nomination_id
                    for n in state.nominations
                    if n.status is NominationStatus.NOMINATED
                ]
                assert moved == unconfirmed[len(unconfirmed) - len(moved) :]
            if mt.NominationPromoted in kinds:
                assert isinstance(
                    first, mt.CapacityChanged | mt.NominationWithdrawn | mt.NominationDeclined
                )
                promoted = [
                    r.event.nomination_id
                    for r in batch
                    if isinstance(r.event, mt.NominationPromoted)
                ]
                expected = [n.nomination_id for n in state.waiting_list][: len(promoted)]
                assert promoted == expected, "promotions go first come, first served"
            for record in batch:
                state = mt.evolve(state, record.event)

    @invariant()
    def rebuilt_state_equals_live_state(self) -> None:
        """A fresh fold, a new façade and "as of the head" all equal the live state."""
        live = self.alliance.state
        head = self.log.head()
        assert live.position == head
        folded, last = fold(self.log, AllianceProjection())
        assert last == head
        assert folded.meetings == live.meetings
        assert folded == live
        assert Alliance(self.log, clock=self.clock).state == live
        as_of, _ = self.alliance.state_as_of(head)
        assert as_of == live
        self.snapshots[head] = _snapshot(live)


TestAllianceMachine = AllianceMachine.TestCase
TestAllianceMachine.settings = settings(
    max_examples=80,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
