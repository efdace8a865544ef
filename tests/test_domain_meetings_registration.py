"""Tests of the meeting's registration rules (domain/meetings/registration.py): pure, no log.

Window, capacity and waiting list, quotas, funding, nominations and speaking: every rule
has a test that it accepts the valid case and one that it refuses the invalid case,
naming the rule.
"""

from __future__ import annotations

import uuid
from typing import Any

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alliance_events.domain.common import (
    Command,
    MeetingKind,
    NominationStatus,
    Role,
)
from alliance_events.domain.deadlines import (
    CancelDeadline,
    DeadlineKind,
    DueBy,
    ExtendDeadline,
    SetDeadline,
)
from alliance_events.domain.meetings import (
    CapacityChanged,
    ChangeCapacity,
    ChangeQuota,
    ChangeRegistrationWindow,
    CloseRegistration,
    ConfirmNomination,
    DeclineNomination,
    DelegateNominated,
    NominateDelegate,
    NominationConfirmed,
    NominationDeclined,
    NominationPromoted,
    NominationWaitlisted,
    NominationWithdrawn,
    OpenRegistration,
    Quota,
    QuotaChanged,
    RegistrationClosed,
    RegistrationOpened,
    RegistrationReopened,
    RegistrationWindowChanged,
    ReopenRegistration,
    RequestSpeaking,
    SpeakingRequested,
    WithdrawNomination,
)
from alliance_events.errors import DomainError, UnknownReferenceError
from alliance_events.timing import timed

from .meeting_streams import (
    CCPCJ,
    CLOSES,
    IN_WINDOW,
    MEETING,
    OPENS,
    ORG_A,
    ORG_B,
    PEOPLE,
    UNKNOWN,
    Stream,
    at,
    registering,
    scheduled,
)

# -- registration ---------------------------------------------------------------------------------


class TestOpenRegistration:
    def test_open_with_rules(self) -> None:
        """Registration opens with its window, capacity, quotas and funding rules."""
        stream = scheduled()
        quotas = (Quota(role=Role.SPEAKER, limit=1), Quota(role=Role.ALTERNATE, limit=1))
        events = stream.open(capacity=20, quotas=quotas, funded_places=4,
                             funded_per_delegation=2, funded_roles=(Role.SPEAKER,))
        assert isinstance(events[0], RegistrationOpened)
        registration = stream.state.registration
        assert registration is not None
        assert (registration.opens_at, registration.closes_at) == (OPENS, CLOSES)
        assert registration.capacity == 20
        assert registration.quota(Role.SPEAKER) == 1
        assert registration.quota(Role.PARTICIPANT) is None
        assert registration.is_open(IN_WINDOW)
        assert registration.status(at("2023-03-21 09:59")) == "not yet open"
        assert registration.status(CLOSES) == "closed"

    def test_opened_twice_is_refused(self) -> None:
        """Opening registration a second time is refused (registration-exists)."""
        registering().refuse("registration-exists", OpenRegistration,
                             opens_at=OPENS, closes_at=CLOSES)

    def test_window_closes_after_it_opens(self) -> None:
        """A window closing before (or when) it opens is refused (end-after-start)."""
        scheduled().refuse("end-after-start", OpenRegistration, opens_at=CLOSES, closes_at=OPENS)
        scheduled().refuse("end-after-start", OpenRegistration, opens_at=OPENS, closes_at=OPENS)

    def test_window_needs_a_zone(self) -> None:
        """A naive window is refused (zone)."""
        scheduled().refuse("zone", OpenRegistration, opens_at=pendulum.naive(2023, 3, 21),
                           closes_at=pendulum.naive(2023, 5, 2))

    @pytest.mark.parametrize(("field", "value"), [
        ("capacity", -1), ("capacity", 2.5), ("capacity", True),
        ("funded_places", -1), ("funded_per_delegation", -2),
    ])
    def test_numbers_are_whole_and_not_negative(self, field: str, value: object) -> None:
        """Capacity and funding caps are whole numbers >= 0 (the rule names the field)."""
        scheduled().refuse(field, OpenRegistration, opens_at=OPENS, closes_at=CLOSES,
                           **{field: value})

    def test_zero_capacity_is_accepted(self) -> None:
        """A capacity of 0 is a rule (everyone waits), not an error."""
        stream = scheduled()
        stream.open(capacity=0)
        assert stream.state.seats_free == 0

    def test_quota_per_role_once(self) -> None:
        """Two quotas for one role are refused (quota)."""
        scheduled().refuse("quota", OpenRegistration, opens_at=OPENS, closes_at=CLOSES,
                           quotas=(Quota(role=Role.SPEAKER, limit=1),
                                   Quota(role=Role.SPEAKER, limit=2)))

    def test_negative_quota_is_refused(self) -> None:
        """A quota below zero is refused (quota)."""
        scheduled().refuse("quota", OpenRegistration, opens_at=OPENS, closes_at=CLOSES,
                           quotas=(Quota(role=Role.SPEAKER, limit=-1),))


class TestCloseAndReopen:
    def test_close(self) -> None:
        """Registration closed early is closed whatever its window says."""
        stream = registering()
        assert isinstance(stream.do(CloseRegistration, reason="full")[0], RegistrationClosed)
        assert stream.state.registration is not None
        assert stream.state.registration.status(IN_WINDOW) == "closed"

    def test_close_twice_is_refused(self) -> None:
        """Closing a closed registration is refused (registration-closed)."""
        stream = registering()
        stream.do(CloseRegistration)
        stream.refuse("registration-closed", CloseRegistration)

    @pytest.mark.parametrize(("cls", "fields"), [
        (CloseRegistration, {}),
        (ReopenRegistration, {"closes_at": CLOSES}),
        (ChangeRegistrationWindow, {"opens_at": OPENS, "closes_at": CLOSES}),
        (ChangeCapacity, {"capacity": 5}),
        (ChangeQuota, {"quotas": ()}),
        (NominateDelegate, {"nomination_id": uuid.UUID(int=5), "organisation_id": ORG_A,
                            "person_id": PEOPLE[0], "role": Role.SPEAKER}),
        (ConfirmNomination, {"nomination_id": uuid.UUID(int=5)}),
    ])
    def test_no_registration(self, cls: type[Command], fields: dict[str, Any]) -> None:
        """Registration commands before registration opened are refused (no-registration)."""
        error = scheduled().refuse("no-registration", cls, **fields)
        assert isinstance(error, UnknownReferenceError)

    def test_reopen_a_closed_registration(self) -> None:
        """A closed registration reopens until a new closing time."""
        stream = registering()
        stream.do(CloseRegistration)
        later = at("2023-05-03 12:00")
        events = stream.do(ReopenRegistration, closes_at=later, at=at("2023-04-20 09:00"))
        assert isinstance(events[0], RegistrationReopened)
        registration = stream.state.registration
        assert registration is not None
        assert registration.closes_at == later
        assert registration.is_open(at("2023-05-02 12:00"))

    def test_reopen_a_registration_whose_window_ran_out(self) -> None:
        """A window that simply ended can be reopened too: it shows as closed."""
        stream = registering()
        later = at("2023-05-10 00:00")
        events = stream.do(ReopenRegistration, closes_at=later, at=at("2023-05-03 09:00"))
        assert [type(e) for e in events] == [RegistrationReopened]
        registration = stream.state.registration
        assert registration is not None
        assert registration.status(at("2023-05-04 09:00")) == "open"

    def test_reopen_only_a_closed_registration(self) -> None:
        """Reopening an open registration is refused (registration-open)."""
        registering().refuse("registration-open", ReopenRegistration, closes_at=CLOSES)

    def test_reopen_until_a_past_time_is_refused(self) -> None:
        """Reopening until a time that has passed is refused (window-in-past)."""
        stream = registering()
        stream.do(CloseRegistration)
        stream.refuse("window-in-past", ReopenRegistration, closes_at=at("2023-04-01 00:00"),
                      at=at("2023-04-02 00:00"))

    def test_reopen_until_before_the_opening_is_refused(self) -> None:
        """Reopening until before the window opened is refused (end-after-start)."""
        stream = registering()
        stream.do(CloseRegistration)
        stream.refuse("end-after-start", ReopenRegistration, closes_at=at("2023-03-01 00:00"),
                      at=at("2023-02-01 00:00"))

    def test_change_window(self) -> None:
        """The window moves; a nomination is then judged against the new window."""
        stream = registering()
        events = stream.do(ChangeRegistrationWindow, opens_at=at("2023-04-05 00:00"),
                           closes_at=at("2023-05-10 00:00"))
        assert isinstance(events[0], RegistrationWindowChanged)
        stream.refuse("registration-not-open", NominateDelegate, nomination_id=uuid.UUID(int=5),
                      organisation_id=ORG_A, person_id=PEOPLE[0], role=Role.SPEAKER)
        stream.nominate(0, at=at("2023-05-05 12:00"))

    def test_change_window_closing_first_is_refused(self) -> None:
        """A new window closing before it opens is refused (end-after-start)."""
        registering().refuse("end-after-start", ChangeRegistrationWindow,
                             opens_at=CLOSES, closes_at=OPENS)


class TestNominate:
    def test_nomination_in_the_window(self) -> None:
        """A nomination while registration is open takes a seat."""
        stream = registering(capacity=10)
        nomination = stream.nominate(0, funding_requested=True)
        assert stream.status(nomination) is NominationStatus.NOMINATED
        event = stream.events[-1]
        assert isinstance(event, DelegateNominated)
        assert not event.waitlisted
        assert event.funding_requested
        assert stream.state.seats_taken == 1
        assert stream.state.seats_free == 9

    def test_at_the_opening_is_accepted(self) -> None:
        """A nomination at the very opening instant is accepted."""
        stream = registering()
        stream.nominate(0, at=OPENS)
        assert len(stream.state.nominations) == 1

    def test_before_the_opening_is_refused(self) -> None:
        """A nomination before registration opens is refused (registration-not-open)."""
        error = registering().refuse(
            "registration-not-open", NominateDelegate, nomination_id=uuid.UUID(int=5),
            organisation_id=ORG_A, person_id=PEOPLE[0], role=Role.SPEAKER,
            at=at("2023-03-21 09:59"),
        )
        assert "not yet open" in str(error)

    @pytest.mark.parametrize("when", ["2023-05-02 00:00", "2023-05-03 12:00"])
    def test_at_or_after_the_closing_is_refused(self, when: str) -> None:
        """A nomination at or after the window's end is refused (registration-closed)."""
        registering().refuse("registration-closed", NominateDelegate,
                             nomination_id=uuid.UUID(int=5), organisation_id=ORG_A,
                             person_id=PEOPLE[0], role=Role.SPEAKER, at=at(when))

    def test_after_registration_closed_early_is_refused(self) -> None:
        """After RegistrationClosed, a nomination inside the old window is refused."""
        stream = registering()
        stream.do(CloseRegistration)
        stream.refuse("registration-closed", NominateDelegate, nomination_id=uuid.UUID(int=5),
                      organisation_id=ORG_A, person_id=PEOPLE[0], role=Role.SPEAKER)

    def _names_deadline(self, stream: Stream, kind: DeadlineKind = DeadlineKind.NAMES) -> None:
        stream.do(SetDeadline, deadline_id=uuid.UUID(int=0xD1),
                  title="send the names of participants", kind=kind,
                  due=DueBy(day=pendulum.Date(2023, 4, 20)), meeting_id=MEETING)

    def test_before_the_names_deadline_is_accepted(self) -> None:
        """Until the names deadline passes, nominations are accepted."""
        stream = registering()
        self._names_deadline(stream)
        stream.nominate(0, at=at("2023-04-20 23:59"))
        assert len(stream.state.nominations) == 1

    def test_after_the_names_deadline_is_refused(self) -> None:
        """Once a NAMES deadline of the meeting has passed, nominations are refused."""
        stream = registering()
        self._names_deadline(stream)
        error = stream.refuse("deadline-passed", NominateDelegate,
                              nomination_id=uuid.UUID(int=5), organisation_id=ORG_A,
                              person_id=PEOPLE[0], role=Role.SPEAKER,
                              at=at("2023-04-21 00:00"))
        assert "send the names of participants" in str(error)

    def test_other_deadlines_do_not_close_nominations(self) -> None:
        """A passed deadline of another kind does not stop nominations."""
        stream = registering()
        self._names_deadline(stream, DeadlineKind.SUBMISSION)
        stream.nominate(0, at=at("2023-04-25 12:00"))
        assert len(stream.state.nominations) == 1

    def test_cancelled_names_deadline_does_not_close_nominations(self) -> None:
        """A cancelled names deadline no longer closes nominations."""
        stream = registering()
        self._names_deadline(stream)
        stream.do(CancelDeadline, deadline_id=uuid.UUID(int=0xD1))
        stream.nominate(0, at=at("2023-04-25 12:00"))
        assert len(stream.state.nominations) == 1

    def test_extended_names_deadline_reopens_nominations(self) -> None:
        """After an extension, nominations are judged against the new due date."""
        stream = registering()
        self._names_deadline(stream)
        stream.do(ExtendDeadline, deadline_id=uuid.UUID(int=0xD1),
                  due=DueBy(day=pendulum.Date(2023, 4, 27)))
        stream.nominate(0, at=at("2023-04-25 12:00"))
        assert len(stream.state.nominations) == 1

    def test_unknown_organisation_is_refused(self) -> None:
        """A nomination by an unknown organisation is refused (unknown-organisation)."""
        error = registering().refuse("unknown-organisation", NominateDelegate,
                                     nomination_id=uuid.UUID(int=5), organisation_id=UNKNOWN,
                                     person_id=PEOPLE[0], role=Role.SPEAKER)
        assert isinstance(error, UnknownReferenceError)

    def test_unknown_person_is_refused(self) -> None:
        """A nomination of an unknown person is refused (unknown-person)."""
        registering().refuse("unknown-person", NominateDelegate, nomination_id=uuid.UUID(int=5),
                             organisation_id=ORG_A, person_id=UNKNOWN, role=Role.SPEAKER)

    def test_nomination_id_is_not_reused(self) -> None:
        """A second nomination with the same id is refused (nomination-exists)."""
        stream = registering()
        stream.nominate(0)
        stream.refuse("nomination-exists", NominateDelegate, nomination_id=uuid.UUID(int=0xC00),
                      organisation_id=ORG_A, person_id=PEOPLE[2], role=Role.ALTERNATE)

    def test_same_person_twice_is_refused(self) -> None:
        """A person already nominated cannot be nominated again (nominated-twice)."""
        stream = registering()
        stream.nominate(0)
        stream.refuse("nominated-twice", NominateDelegate, nomination_id=uuid.UUID(int=6),
                      organisation_id=ORG_A, person_id=PEOPLE[0], role=Role.ALTERNATE)

    def test_same_person_after_withdrawal_is_accepted(self) -> None:
        """After a withdrawal the same person may be nominated again."""
        stream = registering()
        first = stream.nominate(0)
        stream.do(WithdrawNomination, nomination_id=first)
        second = stream.nominate(0, role=Role.ALTERNATE, nomination_id=uuid.UUID(int=6))
        assert stream.status(second) is NominationStatus.NOMINATED


class TestQuota:
    QUOTAS = (Quota(role=Role.SPEAKER, limit=2), Quota(role=Role.ALTERNATE, limit=1))

    def test_up_to_the_quota_is_accepted(self) -> None:
        """Two speakers and an alternate per delegation fit a 2+1 quota."""
        stream = registering(quotas=self.QUOTAS)
        stream.nominate(0)
        stream.nominate(2)
        stream.nominate(4, role=Role.ALTERNATE)
        assert len(stream.state.delegation(ORG_A)) == 3

    def test_third_speaker_is_refused(self) -> None:
        """A third speaker of one delegation is refused (quota), naming the organisation."""
        stream = registering(quotas=self.QUOTAS)
        stream.nominate(0)
        stream.nominate(2)
        error = stream.refuse("quota", NominateDelegate, nomination_id=uuid.UUID(int=5),
                              organisation_id=ORG_A, person_id=PEOPLE[4], role=Role.SPEAKER)
        assert "GI-TOC" in str(error)
        assert "quota is 2" in str(error)

    def test_quota_is_per_delegation(self) -> None:
        """Another organisation's speakers do not count against this one's quota."""
        stream = registering(quotas=self.QUOTAS)
        stream.nominate(0)
        stream.nominate(2)
        stream.nominate(1, organisation=ORG_B)
        assert len(stream.state.delegation(ORG_B)) == 1

    def test_quota_is_per_role(self) -> None:
        """A role without a quota is unlimited."""
        stream = registering(quotas=self.QUOTAS)
        for person in (0, 2, 4):
            stream.nominate(person, role=Role.PARTICIPANT)
        assert len(stream.state.delegation(ORG_A)) == 3

    def test_withdrawn_and_declined_do_not_count(self) -> None:
        """Withdrawn or declined speakers free their place in the quota."""
        stream = registering(quotas=self.QUOTAS)
        first = stream.nominate(0)
        second = stream.nominate(2)
        stream.do(WithdrawNomination, nomination_id=first)
        stream.do(DeclineNomination, nomination_id=second)
        stream.nominate(4)
        stream.nominate(6)
        assert stream.state.nomination(uuid.UUID(int=0xC06)) is not None

    def test_waitlisted_count(self) -> None:
        """Speakers on the waiting list count against the quota."""
        stream = registering(quotas=self.QUOTAS, capacity=1)
        stream.nominate(0)
        waiting = stream.nominate(2)
        assert stream.status(waiting) is NominationStatus.WAITLISTED
        stream.refuse("quota", NominateDelegate, nomination_id=uuid.UUID(int=5),
                      organisation_id=ORG_A, person_id=PEOPLE[4], role=Role.SPEAKER)

    def test_change_quota(self) -> None:
        """Quotas can be replaced; roles no longer listed have none."""
        stream = registering(quotas=self.QUOTAS)
        events = stream.do(ChangeQuota, quotas=(Quota(role=Role.SPEAKER, limit=3),))
        assert isinstance(events[0], QuotaChanged)
        assert stream.state.registration is not None
        assert stream.state.registration.quota(Role.SPEAKER) == 3
        assert stream.state.registration.quota(Role.ALTERNATE) is None

    def test_quota_below_current_counts_is_refused(self) -> None:
        """A quota below what a delegation has already is refused (quota)."""
        stream = registering(quotas=self.QUOTAS)
        stream.nominate(0)
        stream.nominate(2)
        stream.refuse("quota", ChangeQuota, quotas=(Quota(role=Role.SPEAKER, limit=1),))

    def test_quota_change_counts_waiting_not_withdrawn(self) -> None:
        """Waiting speakers count against a new quota; withdrawn ones do not."""
        stream = registering(quotas=self.QUOTAS, capacity=1)
        first = stream.nominate(0)
        stream.nominate(2)  # waiting
        stream.refuse("quota", ChangeQuota, quotas=(Quota(role=Role.SPEAKER, limit=1),))
        stream.do(WithdrawNomination, nomination_id=first)
        stream.do(ChangeQuota, quotas=(Quota(role=Role.SPEAKER, limit=1),))
        assert stream.state.registration is not None
        assert stream.state.registration.quota(Role.SPEAKER) == 1

    def test_change_quota_twice_for_a_role_is_refused(self) -> None:
        """A new set of quotas with a role twice is refused (quota)."""
        registering().refuse("quota", ChangeQuota, quotas=(Quota(role=Role.SPEAKER, limit=1),
                                                           Quota(role=Role.SPEAKER, limit=1)))


class TestCapacityAndWaitingList:
    def test_over_capacity_waits(self) -> None:
        """Over capacity a nomination goes on the waiting list, not lost."""
        stream = registering(capacity=1)
        seated = stream.nominate(0)
        waiting = stream.nominate(1, organisation=ORG_B)
        event = stream.events[-1]
        assert isinstance(event, DelegateNominated)
        assert event.waitlisted
        assert stream.status(seated) is NominationStatus.NOMINATED
        assert stream.status(waiting) is NominationStatus.WAITLISTED
        assert [n.nomination_id for n in stream.state.waiting_list] == [waiting]
        assert stream.state.seats_free == 0

    def test_no_capacity_means_no_waiting(self) -> None:
        """Without a capacity, nobody waits."""
        stream = registering()
        for person in range(6):
            stream.nominate(person, role=Role.PARTICIPANT)
        assert stream.state.waiting_list == ()
        assert stream.state.seats_free is None

    def test_later_nomination_waits_behind_a_waiting_list(self) -> None:
        """While anyone waits, a new nomination waits too, even if a seat looks free."""
        stream = registering(capacity=2)
        stream.nominate(0)
        # A state the rules never produce alone: a free seat and someone waiting (say an
        # event written by an older version). First come, first served still holds.
        stream.apply([DelegateNominated(
            event_id=uuid.UUID(int=0xE1), meeting_id=MEETING, nomination_id=uuid.UUID(int=0xE2),
            organisation_id=ORG_B, person_id=PEOPLE[1], role=Role.SPEAKER, waitlisted=True,
        )])
        assert stream.state.seats_free == 1
        later = stream.nominate(2)
        assert stream.status(later) is NominationStatus.WAITLISTED

    def test_withdrawal_promotes_the_first_waiting(self) -> None:
        """A seated delegate's withdrawal gives the seat to the first on the waiting list."""
        stream = registering(capacity=1)
        seated = stream.nominate(0)
        first = stream.nominate(1, organisation=ORG_B)
        second = stream.nominate(2)
        events = stream.do(WithdrawNomination, nomination_id=seated, reason="ill")
        assert [type(e) for e in events] == [NominationWithdrawn, NominationPromoted]
        assert events[1].nomination_id == first  # type: ignore[attr-defined]
        assert stream.status(seated) is NominationStatus.WITHDRAWN
        assert stream.status(first) is NominationStatus.NOMINATED
        assert stream.status(second) is NominationStatus.WAITLISTED

    def test_decline_promotes_the_first_waiting(self) -> None:
        """A seated delegate declined by the secretariat frees the seat for the next."""
        stream = registering(capacity=1)
        seated = stream.nominate(0)
        first = stream.nominate(1, organisation=ORG_B)
        events = stream.do(DeclineNomination, nomination_id=seated, reason="no badge")
        assert [type(e) for e in events] == [NominationDeclined, NominationPromoted]
        assert stream.status(first) is NominationStatus.NOMINATED

    def test_confirmed_withdrawal_promotes(self) -> None:
        """A confirmed, funded delegate's withdrawal frees the seat and the funding."""
        stream = registering(capacity=1, funded_places=1)
        seated = stream.nominate(0)
        first = stream.nominate(1, organisation=ORG_B)
        stream.do(ConfirmNomination, nomination_id=seated, funded=True)
        assert stream.state.funded_count == 1
        stream.do(WithdrawNomination, nomination_id=seated)
        assert stream.status(first) is NominationStatus.NOMINATED
        assert stream.state.funded_count == 0
        withdrawn = stream.state.nomination(seated)
        assert withdrawn is not None
        assert not withdrawn.funded

    def test_waiting_withdrawal_promotes_no_one(self) -> None:
        """A waiting nomination's withdrawal frees no seat: nobody moves up."""
        stream = registering(capacity=1)
        stream.nominate(0)
        first = stream.nominate(1, organisation=ORG_B)
        second = stream.nominate(2)
        events = stream.do(WithdrawNomination, nomination_id=first)
        assert [type(e) for e in events] == [NominationWithdrawn]
        assert [n.nomination_id for n in stream.state.waiting_list] == [second]

    def test_withdraw_twice_is_refused(self) -> None:
        """A withdrawn nomination cannot be withdrawn or declined again (nomination-ended)."""
        stream = registering()
        nomination = stream.nominate(0)
        stream.do(WithdrawNomination, nomination_id=nomination)
        stream.refuse("nomination-ended", WithdrawNomination, nomination_id=nomination)
        stream.refuse("nomination-ended", DeclineNomination, nomination_id=nomination)

    def test_unknown_nomination_is_refused(self) -> None:
        """Withdrawing a nomination that does not exist is refused (unknown-nomination)."""
        error = registering().refuse("unknown-nomination", WithdrawNomination,
                                     nomination_id=UNKNOWN)
        assert isinstance(error, UnknownReferenceError)
        registering().refuse("unknown-nomination", DeclineNomination, nomination_id=UNKNOWN)

    def test_capacity_increase_promotes_in_nomination_order(self) -> None:
        """More seats go to the waiting nominations first come, first served."""
        stream = registering(capacity=1)
        stream.nominate(0)
        waiting = [stream.nominate(person, organisation=ORG_B) for person in (1, 3, 5)]
        events = stream.do(ChangeCapacity, capacity=3)
        assert isinstance(events[0], CapacityChanged)
        promoted = [e.nomination_id for e in events[1:]]  # type: ignore[attr-defined]
        assert promoted == waiting[:2]
        assert [n.nomination_id for n in stream.state.waiting_list] == waiting[2:]
        assert stream.state.seats_free == 0

    def test_no_limit_promotes_everyone(self) -> None:
        """Removing the capacity seats everyone waiting."""
        stream = registering(capacity=1)
        stream.nominate(0)
        for person in (1, 3):
            stream.nominate(person, organisation=ORG_B)
        events = stream.do(ChangeCapacity, capacity=None)
        assert [type(e) for e in events] == [CapacityChanged, NominationPromoted,
                                             NominationPromoted]
        assert stream.state.waiting_list == ()

    def test_capacity_decrease_moves_the_latest_unconfirmed_back(self) -> None:
        """A smaller room sends the latest unconfirmed delegates back, ahead of later ones."""
        stream = registering(capacity=3)
        first, second, third = (stream.nominate(p, organisation=ORG_B) for p in (1, 3, 5))
        waiting = stream.nominate(0)
        stream.do(ConfirmNomination, nomination_id=third)
        events = stream.do(ChangeCapacity, capacity=2)
        assert [type(e) for e in events] == [CapacityChanged, NominationWaitlisted]
        assert events[1].nomination_id == second  # type: ignore[attr-defined]
        assert stream.status(first) is NominationStatus.NOMINATED
        assert stream.status(third) is NominationStatus.CONFIRMED
        assert [n.nomination_id for n in stream.state.waiting_list] == [second, waiting]

    def test_capacity_below_confirmed_is_refused(self) -> None:
        """A capacity below the confirmed delegates is refused (capacity)."""
        stream = registering(capacity=3)
        for person in (0, 1):
            stream.do(ConfirmNomination, nomination_id=stream.nominate(
                person, organisation=ORG_A if person == 0 else ORG_B))
        error = stream.refuse("capacity", ChangeCapacity, capacity=1)
        assert "2 confirmed" in str(error)
        stream.do(ChangeCapacity, capacity=2)
        assert stream.state.registration is not None
        assert stream.state.registration.capacity == 2

    def test_same_capacity_is_refused(self) -> None:
        """Changing the capacity to what it is already is refused (no-change)."""
        registering(capacity=3).refuse("no-change", ChangeCapacity, capacity=3)

    def test_negative_capacity_is_refused(self) -> None:
        """A negative capacity is refused (capacity)."""
        registering(capacity=3).refuse("capacity", ChangeCapacity, capacity=-1)

    @given(st.lists(st.one_of(
        st.tuples(st.just("nominate"), st.integers(0, 11)),
        st.tuples(st.just("withdraw"), st.integers(0, 11)),
        st.tuples(st.just("confirm"), st.integers(0, 11)),
        st.tuples(st.just("capacity"), st.one_of(st.none(), st.integers(0, 6))),
    ), max_size=25))
    def test_seats_never_exceed_capacity_and_no_seat_idles(
        self, steps: list[tuple[str, Any]]
    ) -> None:
        """After any sequence of changes the seated fit the room; no one waits by a free seat."""
        stream = registering(capacity=2)
        for action, value in steps:
            try:
                if action == "nominate":
                    stream.nominate(value, organisation=ORG_A if value % 2 == 0 else ORG_B,
                                    role=Role.PARTICIPANT)
                elif action == "withdraw":
                    stream.do(WithdrawNomination, nomination_id=uuid.UUID(int=0xC00 + value))
                elif action == "confirm":
                    stream.do(ConfirmNomination, nomination_id=uuid.UUID(int=0xC00 + value))
                else:
                    stream.do(ChangeCapacity, capacity=value)
            except DomainError:
                pass
            registration = stream.state.registration
            assert registration is not None
            if registration.capacity is not None:
                assert stream.state.seats_taken <= registration.capacity
                if stream.state.seats_taken < registration.capacity:
                    assert stream.state.waiting_list == ()
            else:
                assert stream.state.waiting_list == ()


class TestConfirmNomination:
    def test_confirm_a_seated_nomination(self) -> None:
        """A seated nomination is confirmed, unfunded by default."""
        stream = registering()
        nomination = stream.nominate(0)
        events = stream.do(ConfirmNomination, nomination_id=nomination)
        assert isinstance(events[0], NominationConfirmed)
        assert stream.status(nomination) is NominationStatus.CONFIRMED
        assert stream.state.funded_count == 0

    def test_waitlisted_is_refused(self) -> None:
        """A waiting nomination cannot be confirmed (waitlisted)."""
        stream = registering(capacity=1)
        stream.nominate(0)
        waiting = stream.nominate(2, role=Role.ALTERNATE)
        stream.refuse("waitlisted", ConfirmNomination, nomination_id=waiting)

    def test_ended_or_confirmed_is_refused(self) -> None:
        """A withdrawn or already confirmed nomination is refused (nomination-ended)."""
        stream = registering()
        withdrawn = stream.nominate(0)
        stream.do(WithdrawNomination, nomination_id=withdrawn)
        stream.refuse("nomination-ended", ConfirmNomination, nomination_id=withdrawn)
        confirmed = stream.nominate(2)
        stream.do(ConfirmNomination, nomination_id=confirmed)
        stream.refuse("nomination-ended", ConfirmNomination, nomination_id=confirmed)

    def test_unknown_nomination_is_refused(self) -> None:
        """Confirming an unknown nomination is refused (unknown-nomination)."""
        registering().refuse("unknown-nomination", ConfirmNomination, nomination_id=UNKNOWN)

    def test_funded_role(self) -> None:
        """A speaker is funded when speakers are the funded role."""
        stream = registering(funded_roles=(Role.SPEAKER, Role.ALTERNATE))
        nomination = stream.nominate(0)
        stream.do(ConfirmNomination, nomination_id=nomination, funded=True)
        confirmed = stream.state.nomination(nomination)
        assert confirmed is not None
        assert confirmed.funded
        assert stream.state.funded_count == 1

    def test_unfunded_role_is_refused(self) -> None:
        """Funding a participant when only panelists are funded is refused (funding-role)."""
        stream = registering(funded_roles=(Role.SPEAKER, Role.ALTERNATE))
        nomination = stream.nominate(0, role=Role.PARTICIPANT)
        error = stream.refuse("funding-role", ConfirmNomination, nomination_id=nomination,
                              funded=True)
        assert "participant" in str(error)
        stream.do(ConfirmNomination, nomination_id=nomination)  # unfunded: fine
        assert stream.status(nomination) is NominationStatus.CONFIRMED

    def test_no_funded_roles_means_any_role(self) -> None:
        """Without funded roles, any role may be funded (within the funded places)."""
        stream = registering(funded_places=2)
        nomination = stream.nominate(0, role=Role.PARTICIPANT)
        stream.do(ConfirmNomination, nomination_id=nomination, funded=True)
        assert stream.state.funded_count == 1

    @pytest.mark.parametrize(
        "terms", [{}, {"funded_places": 0}], ids=["no funding terms", "no funded places"]
    )
    def test_funding_when_none_is_offered_is_refused(self, terms: dict[str, int]) -> None:
        """A registration offering no funded places funds nobody (no-funding)."""
        stream = registering(**terms)
        nomination = stream.nominate(0)
        error = stream.refuse("no-funding", ConfirmNomination, nomination_id=nomination,
                              funded=True)
        assert "offers no funded places" in str(error)
        stream.do(ConfirmNomination, nomination_id=nomination)  # unfunded: fine
        assert stream.status(nomination) is NominationStatus.CONFIRMED

    def test_funded_places_cap(self) -> None:
        """Funding beyond the funded places is refused (funding-cap)."""
        stream = registering(funded_places=1)
        first = stream.nominate(0)
        second = stream.nominate(1, organisation=ORG_B)
        stream.do(ConfirmNomination, nomination_id=first, funded=True)
        error = stream.refuse("funding-cap", ConfirmNomination, nomination_id=second,
                              funded=True)
        assert "all 1 funded places" in str(error)

    def test_funded_place_freed_by_withdrawal(self) -> None:
        """A withdrawn funded delegate's place can be funded again."""
        stream = registering(funded_places=1)
        first = stream.nominate(0)
        second = stream.nominate(1, organisation=ORG_B)
        stream.do(ConfirmNomination, nomination_id=first, funded=True)
        stream.do(WithdrawNomination, nomination_id=first)
        stream.do(ConfirmNomination, nomination_id=second, funded=True)
        assert stream.state.funded_count == 1

    def test_funded_per_delegation_cap(self) -> None:
        """A delegation's funded places are capped; another delegation's are not affected."""
        stream = registering(funded_per_delegation=1)
        first = stream.nominate(0)
        second = stream.nominate(2, role=Role.ALTERNATE)
        other = stream.nominate(1, organisation=ORG_B)
        stream.do(ConfirmNomination, nomination_id=first, funded=True)
        error = stream.refuse("funding-cap", ConfirmNomination, nomination_id=second,
                              funded=True)
        assert "per delegation" in str(error)
        stream.do(ConfirmNomination, nomination_id=other, funded=True)
        assert stream.state.funded_count == 2


class TestSpeaking:
    def _session(self) -> Stream:
        return scheduled(CCPCJ, title="CCPCJ 32", kind=MeetingKind.COMMISSION_SESSION)

    def test_request_on_a_day_of_the_session(self) -> None:
        """'The CSU has requested to speak on the 19th': a day of the session is accepted."""
        stream = self._session()
        events = stream.do(RequestSpeaking, request_id=uuid.UUID(int=1), organisation_id=ORG_A,
                           day=pendulum.Date(2023, 5, 24), topic="Access to justice",
                           person_id=PEOPLE[0])
        assert isinstance(events[0], SpeakingRequested)
        assert [(r.organisation_id, r.day) for r in stream.state.speaking] == [
            (ORG_A, pendulum.Date(2023, 5, 24))
        ]

    @pytest.mark.parametrize("day", [pendulum.Date(2023, 5, 21), pendulum.Date(2023, 5, 27)])
    def test_day_outside_the_session_is_refused(self, day: pendulum.Date) -> None:
        """A day before or after the session is refused (day-outside-meeting)."""
        self._session().refuse("day-outside-meeting", RequestSpeaking,
                               request_id=uuid.UUID(int=1), organisation_id=ORG_A, day=day)

    def test_first_and_last_days_are_days_of_the_session(self) -> None:
        """The session's first and last days are both accepted."""
        stream = self._session()
        for index, day in enumerate((CCPCJ.first, CCPCJ.last)):
            stream.do(RequestSpeaking, request_id=uuid.UUID(int=index), organisation_id=ORG_A,
                      day=day)
        assert len(stream.state.speaking) == 2

    def test_timed_meeting_ending_at_midnight(self) -> None:
        """A meeting ending at midnight has no speaking day after it."""
        stream = scheduled(timed("2023-05-04 09:00", "2023-05-05 00:00"))
        stream.refuse("day-outside-meeting", RequestSpeaking, request_id=uuid.UUID(int=1),
                      organisation_id=ORG_A, day=pendulum.Date(2023, 5, 5))

    def test_one_request_per_organisation_and_day(self) -> None:
        """A second request by one organisation for one day is refused (speaking-twice)."""
        stream = self._session()
        day = pendulum.Date(2023, 5, 24)
        stream.do(RequestSpeaking, request_id=uuid.UUID(int=1), organisation_id=ORG_A, day=day)
        error = stream.refuse("speaking-twice", RequestSpeaking, request_id=uuid.UUID(int=2),
                              organisation_id=ORG_A, day=day)
        assert "GI-TOC" in str(error)
        stream.do(RequestSpeaking, request_id=uuid.UUID(int=3), organisation_id=ORG_B, day=day)
        stream.do(RequestSpeaking, request_id=uuid.UUID(int=4), organisation_id=ORG_A,
                  day=pendulum.Date(2023, 5, 25))
        assert len(stream.state.speaking) == 3

    def test_unknown_organisation_or_person_is_refused(self) -> None:
        """An unknown organisation or speaker is refused (unknown-...)."""
        stream = self._session()
        day = pendulum.Date(2023, 5, 24)
        stream.refuse("unknown-organisation", RequestSpeaking, request_id=uuid.UUID(int=1),
                      organisation_id=UNKNOWN, day=day)
        stream.refuse("unknown-person", RequestSpeaking, request_id=uuid.UUID(int=1),
                      organisation_id=ORG_A, day=day, person_id=UNKNOWN)

    def test_long_topic_is_refused(self) -> None:
        """A topic over 500 characters is refused (text-length)."""
        self._session().refuse("text-length", RequestSpeaking, request_id=uuid.UUID(int=1),
                               organisation_id=ORG_A, day=pendulum.Date(2023, 5, 24),
                               topic="t" * 501)
