"""Registration for a meeting: its window, capacity, quotas, funding, nominations, speaking.

The commands of a meeting's registration, and the rules that decide them, each findable
by name:

* the window: :func:`_check_window`, :func:`_check_open` (and the names deadline,
  :func:`_check_names_deadline`);
* the room's capacity and the waiting list: :func:`_seat_or_waitlist` (a new nomination),
  :func:`_promote_waiting` (seats freed or added), :func:`_waitlist_latest` (seats
  taken away);
* quotas per delegation: :func:`_check_quota` (a new nomination),
  :func:`_check_quotas_hold` (new quotas);
* funding: :func:`_funding_cap` (a funded confirmation);
* the numbers themselves: :func:`_check_registration_rules`.

Nominations refer to organisations and persons by id; ``refs`` says which exist.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from collections.abc import Iterator, Mapping
from typing import Final

import attrs
import pendulum

from alliance_events.domain.common import (
    Command,
    NominationStatus,
    Role,
    require,
    require_known,
    require_text,
)
from alliance_events.domain.deadlines import DeadlineKind
from alliance_events.domain.meetings.events import (
    CapacityChanged,
    DelegateNominated,
    NominationConfirmed,
    NominationDeclined,
    NominationPromoted,
    NominationWaitlisted,
    NominationWithdrawn,
    Quota,
    QuotaChanged,
    RegistrationClosed,
    RegistrationOpened,
    RegistrationReopened,
    RegistrationWindowChanged,
    SpeakingRequested,
)
from alliance_events.domain.meetings.state import (
    Decider,
    MeetingState,
    Nomination,
    Refs,
    Registration,
)
from alliance_events.errors import UnknownReferenceError
from alliance_events.events import Event
from alliance_events.timing import describe_moment

__all__ = [
    "DECIDED_ON_THE_SEATS",
    "DECIDERS",
    "ChangeCapacity",
    "ChangeQuota",
    "ChangeRegistrationWindow",
    "CloseRegistration",
    "ConfirmNomination",
    "DeclineNomination",
    "NominateDelegate",
    "OpenRegistration",
    "ReopenRegistration",
    "RequestSpeaking",
    "WithdrawNomination",
    "seats_changed",
]

# -- commands ---------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class OpenRegistration(Command):
    """Open registration with its window, capacity, quotas and funding."""

    meeting_id: uuid.UUID
    opens_at: pendulum.DateTime
    closes_at: pendulum.DateTime
    capacity: int | None = None
    quotas: tuple[Quota, ...] = ()
    funded_places: int | None = None
    funded_per_delegation: int | None = None
    funded_roles: tuple[Role, ...] = ()


@attrs.frozen(kw_only=True)
class CloseRegistration(Command):
    """Close registration now."""

    meeting_id: uuid.UUID
    reason: str = ""


@attrs.frozen(kw_only=True)
class ReopenRegistration(Command):
    """Open a closed registration again, until ``closes_at``."""

    meeting_id: uuid.UUID
    closes_at: pendulum.DateTime


@attrs.frozen(kw_only=True)
class ChangeRegistrationWindow(Command):
    """Move the registration window."""

    meeting_id: uuid.UUID
    opens_at: pendulum.DateTime
    closes_at: pendulum.DateTime


@attrs.frozen(kw_only=True)
class ChangeCapacity(Command):
    """Change the room's capacity (``None``: no limit)."""

    meeting_id: uuid.UUID
    capacity: int | None


@attrs.frozen(kw_only=True)
class ChangeQuota(Command):
    """Change the per-delegation quotas."""

    meeting_id: uuid.UUID
    quotas: tuple[Quota, ...]


@attrs.frozen(kw_only=True)
class NominateDelegate(Command):
    """Nominate a delegate of an organisation in a role."""

    meeting_id: uuid.UUID
    nomination_id: uuid.UUID
    organisation_id: uuid.UUID
    person_id: uuid.UUID
    role: Role
    funding_requested: bool = False


@attrs.frozen(kw_only=True)
class WithdrawNomination(Command):
    """The organisation withdraws a nomination."""

    meeting_id: uuid.UUID
    nomination_id: uuid.UUID
    reason: str = ""


@attrs.frozen(kw_only=True)
class ConfirmNomination(Command):
    """The secretariat confirms a seated nomination, funded or not."""

    meeting_id: uuid.UUID
    nomination_id: uuid.UUID
    funded: bool = False


@attrs.frozen(kw_only=True)
class DeclineNomination(Command):
    """The secretariat declines a nomination."""

    meeting_id: uuid.UUID
    nomination_id: uuid.UUID
    reason: str = ""


@attrs.frozen(kw_only=True)
class RequestSpeaking(Command):
    """An organisation asks to speak on one day of the meeting."""

    meeting_id: uuid.UUID
    request_id: uuid.UUID
    organisation_id: uuid.UUID
    day: pendulum.Date
    topic: str = ""
    person_id: uuid.UUID | None = None


# -- rules ------------------------------------------------------------------------------


def _check_registration_rules(
    capacity: int | None,
    quotas: tuple[Quota, ...],
    funded_places: int | None,
    funded_per_delegation: int | None,
) -> None:
    """Refuse a capacity, funding or quota that is not a whole number >= 0; one quota a role."""
    for name, value in (
        ("capacity", capacity),
        ("funded_places", funded_places),
        ("funded_per_delegation", funded_per_delegation),
    ):
        require(
            value is None or (type(value) is int and value >= 0),
            name,
            f"{name} must be a whole number >= 0 (or none), got {value!r}",
        )
    roles = [quota.role for quota in quotas]
    require(len(set(roles)) == len(roles), "quota", "a role has two quotas")
    for quota in quotas:
        require(
            isinstance(quota.limit, int) and quota.limit >= 0,
            "quota",
            f"the quota for {quota.role.value} must be a whole number >= 0, got {quota.limit!r}",
        )


def _check_window(opens_at: _dt.datetime, closes_at: _dt.datetime) -> None:
    """Refuse a window without zones, or one that does not close after it opens."""
    require(
        opens_at.utcoffset() is not None and closes_at.utcoffset() is not None,
        "zone",
        "the registration window's times need a zone",
    )
    require(
        closes_at > opens_at,
        "end-after-start",
        f"registration must close ({describe_moment(closes_at)}) after it opens "
        f"({describe_moment(opens_at)})",
    )


def _registration_of(state: MeetingState) -> Registration:
    registration = state.registration
    if registration is None:
        raise UnknownReferenceError(
            "no-registration", f"registration for {state.title!r} has not been opened"
        )
    return registration


def _nomination_of(state: MeetingState, nomination_id: uuid.UUID) -> Nomination:
    nomination = state.nomination(nomination_id)
    if nomination is None:
        raise UnknownReferenceError(
            "unknown-nomination", f"no nomination {nomination_id} for {state.title!r}"
        )
    return nomination


def _check_open(state: MeetingState, registration: Registration, at: pendulum.DateTime) -> None:
    """Refuse a nomination outside the window, or once registration was closed."""
    status = registration.status(at)
    require(
        status == "open",
        "registration-closed" if status == "closed" else "registration-not-open",
        f"registration for {state.title!r} is {status} at {describe_moment(at)} (window "
        f"{describe_moment(registration.opens_at)} to {describe_moment(registration.closes_at)})",
    )


def _check_names_deadline(state: MeetingState, at: pendulum.DateTime) -> None:
    """Refuse a nomination once the meeting's deadline for the delegates' names has passed."""
    for deadline in state.deadlines:
        if deadline.kind is DeadlineKind.NAMES and deadline.overdue(at):
            require(
                False,  # noqa: FBT003
                "deadline-passed",
                f"the deadline {deadline.title!r} for {state.title!r} has passed",
            )


def _check_quota(
    state: MeetingState, registration: Registration, command: NominateDelegate, refs: Refs
) -> None:
    """Refuse a nomination beyond its delegation's quota for the role (active ones count)."""
    limit = registration.quota(command.role)
    if limit is None:
        return
    taken = sum(
        1
        for n in state.delegation(command.organisation_id)
        if n.role is command.role and n.status.active
    )
    require(
        taken < limit,
        "quota",
        f"{refs.organisation_name(command.organisation_id)} has {taken} "
        f"{command.role.value}(s) for {state.title!r} already; the quota is {limit} per "
        "delegation",
    )


def _check_quotas_hold(state: MeetingState, quotas: tuple[Quota, ...], refs: Refs) -> None:
    """Refuse quotas below what a delegation has already."""
    for quota in quotas:
        for organisation_id in {n.organisation_id for n in state.nominations}:
            count = sum(
                1
                for n in state.delegation(organisation_id)
                if n.role is quota.role and n.status.active
            )
            require(
                count <= quota.limit,
                "quota",
                f"{refs.organisation_name(organisation_id)} has {count} {quota.role.value}(s) "
                "already, "
                f"more than the new quota of {quota.limit}",
            )


def _seat_or_waitlist(state: MeetingState, registration: Registration) -> bool:
    """Return whether a new nomination waits: the room is full, or others wait already."""
    capacity = registration.capacity
    return capacity is not None and (state.seats_taken >= capacity or bool(state.waiting_list))


def _promote_waiting(
    state: MeetingState, capacity: int | None, ids: Iterator[uuid.UUID], freed: int = 0
) -> list[Event]:
    """Seat waiting nominations, first come first, while seats are free."""
    waiting = state.waiting_list
    free = len(waiting) if capacity is None else capacity - state.seats_taken + freed
    return [
        NominationPromoted(event_id=next(ids), meeting_id=state.meeting_id,
                           nomination_id=n.nomination_id)
        for n in waiting[: max(free, 0)]
    ]


def _waitlist_latest(
    state: MeetingState, seated: list[Nomination], capacity: int, ids: Iterator[uuid.UUID]
) -> list[Event]:
    """Over a smaller capacity, the latest unconfirmed nominations wait again.

    They go in front of later ones (the waiting list is in nomination order).
    """
    unconfirmed = [n for n in seated if n.status is NominationStatus.NOMINATED]
    return [
        NominationWaitlisted(event_id=next(ids), meeting_id=state.meeting_id,
                             nomination_id=nomination.nomination_id)
        for nomination in unconfirmed[len(unconfirmed) - (len(seated) - capacity) :]
    ]


def _funding_cap(
    state: MeetingState, registration: Registration, nomination: Nomination, refs: Refs
) -> None:
    """Refuse funding beyond the funded roles, the funded places or the cap per delegation.

    A registration opened with no funding terms at all (no funded places, no cap per
    delegation, no funded roles), or with no funded places, funds nobody.
    """
    require(
        registration.funded_places != 0
        and (
            registration.funded_places is not None
            or registration.funded_per_delegation is not None
            or bool(registration.funded_roles)
        ),
        "no-funding",
        f"registration for {state.title!r} offers no funded places: confirm the "
        "nomination without funding",
    )
    require(
        not registration.funded_roles or nomination.role in registration.funded_roles,
        "funding-role",
        f"only {', '.join(r.value for r in registration.funded_roles)} are funded, "
        f"not a {nomination.role.value}",
    )
    places = registration.funded_places
    require(
        places is None or state.funded_count < places,
        "funding-cap",
        f"all {places} funded places of {state.title!r} are taken",
    )
    per_delegation = registration.funded_per_delegation
    funded_here = sum(1 for n in state.delegation(nomination.organisation_id) if n.funded)
    require(
        per_delegation is None or funded_here < per_delegation,
        "funding-cap",
        f"{refs.organisation_name(nomination.organisation_id)} has {funded_here} funded place(s) "
        f"already; the cap is {per_delegation} per delegation",
    )


# -- deciders ---------------------------------------------------------------------------


def _open(
    state: MeetingState, command: OpenRegistration, _: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    require(
        state.registration is None,
        "registration-exists",
        f"registration for {state.title!r} was opened already: change its window, "
        "capacity or quotas instead",
    )
    _check_window(command.opens_at, command.closes_at)
    require(
        command.closes_at > command.at,
        "window-in-past",
        f"the registration window of {state.title!r} closes "
        f"{describe_moment(command.closes_at)}, before the command's time "
        f"({describe_moment(command.at)}): nobody could register; "
        "give the time it was opened at (at=, --at) to record it as it was",
    )
    _check_registration_rules(
        command.capacity, command.quotas, command.funded_places, command.funded_per_delegation
    )
    return [
        RegistrationOpened(
            event_id=next(ids),
            meeting_id=state.meeting_id,
            opens_at=command.opens_at,
            closes_at=command.closes_at,
            capacity=command.capacity,
            quotas=command.quotas,
            funded_places=command.funded_places,
            funded_per_delegation=command.funded_per_delegation,
            funded_roles=command.funded_roles,
        )
    ]


def _close(
    state: MeetingState, command: CloseRegistration, _: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    registration = _registration_of(state)
    require(not registration.closed, "registration-closed",
            f"registration for {state.title!r} is closed already")
    return [RegistrationClosed(event_id=next(ids), meeting_id=state.meeting_id,
                               reason=command.reason)]


def _reopen(
    state: MeetingState, command: ReopenRegistration, _: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    registration = _registration_of(state)
    require(
        registration.closed or command.at >= registration.closes_at,
        "registration-open",
        f"registration for {state.title!r} is open until "
        f"{describe_moment(registration.closes_at)}:"
        " change its window instead",
    )
    _check_window(registration.opens_at, command.closes_at)
    require(
        command.closes_at > command.at,
        "window-in-past",
        f"reopening until {describe_moment(command.closes_at)}, which has passed",
    )
    return [RegistrationReopened(event_id=next(ids), meeting_id=state.meeting_id,
                                 closes_at=command.closes_at)]


def _change_window(
    state: MeetingState, command: ChangeRegistrationWindow, _: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    _registration_of(state)
    _check_window(command.opens_at, command.closes_at)
    return [RegistrationWindowChanged(event_id=next(ids), meeting_id=state.meeting_id,
                                      opens_at=command.opens_at, closes_at=command.closes_at)]


def _change_capacity(
    state: MeetingState, command: ChangeCapacity, _: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    registration = _registration_of(state)
    _check_registration_rules(command.capacity, (), None, None)
    capacity = command.capacity
    confirmed = sum(1 for n in state.nominations if n.status is NominationStatus.CONFIRMED)
    require(
        capacity is None or capacity >= confirmed,
        "capacity",
        f"capacity {capacity} is below the {confirmed} confirmed delegates of "
        f"{state.title!r}: decline or withdraw some first",
    )
    require(capacity != registration.capacity, "no-change", f"the capacity is {capacity} already")
    events: list[Event] = [CapacityChanged(event_id=next(ids), meeting_id=state.meeting_id,
                                           capacity=capacity)]
    seated = [n for n in state.nominations if n.status.holds_seat]
    if capacity is not None and len(seated) > capacity:
        events.extend(_waitlist_latest(state, seated, capacity, ids))
    else:
        events.extend(_promote_waiting(state, capacity, ids))
    return events


def _change_quota(
    state: MeetingState, command: ChangeQuota, refs: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    _registration_of(state)
    _check_registration_rules(None, command.quotas, None, None)
    _check_quotas_hold(state, command.quotas, refs)
    return [QuotaChanged(event_id=next(ids), meeting_id=state.meeting_id,
                         quotas=command.quotas)]


def _nominate(
    state: MeetingState, command: NominateDelegate, refs: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    registration = _registration_of(state)
    _check_open(state, registration, command.at)
    _check_names_deadline(state, command.at)
    require_known(command.organisation_id in refs.organisations, "organisation",
                  command.organisation_id)
    require_known(command.person_id in refs.persons, "person", command.person_id)
    require(
        state.nomination(command.nomination_id) is None,
        "nomination-exists",
        f"nomination {command.nomination_id} exists already",
    )
    require(
        not any(n.person_id == command.person_id and n.status.active for n in state.nominations),
        "nominated-twice",
        f"{refs.person_name(command.person_id)} is nominated for {state.title!r} already",
    )
    _check_quota(state, registration, command, refs)
    return [
        DelegateNominated(
            event_id=next(ids),
            meeting_id=state.meeting_id,
            nomination_id=command.nomination_id,
            organisation_id=command.organisation_id,
            person_id=command.person_id,
            role=command.role,
            funding_requested=command.funding_requested,
            waitlisted=_seat_or_waitlist(state, registration),
        )
    ]


def _leave(
    state: MeetingState,
    command: WithdrawNomination | DeclineNomination,
    refs: Refs,
    ids: Iterator[uuid.UUID],
    event_class: type[NominationWithdrawn] | type[NominationDeclined],
) -> list[Event]:
    """End a nomination; the seat it held goes to the first on the waiting list."""
    nomination = _nomination_of(state, command.nomination_id)
    require(
        nomination.status.active,
        "nomination-ended",
        f"{refs.person_name(nomination.person_id)}'s nomination is "
        f"{nomination.status.value} already",
    )
    events: list[Event] = [
        event_class(event_id=next(ids), meeting_id=state.meeting_id,
                    nomination_id=nomination.nomination_id, reason=command.reason)
    ]
    if nomination.status.holds_seat and state.registration is not None:
        events.extend(_promote_waiting(state, state.registration.capacity, ids, freed=1))
    return events


def _withdraw(
    state: MeetingState, command: WithdrawNomination, refs: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    return _leave(state, command, refs, ids, NominationWithdrawn)


def _decline(
    state: MeetingState, command: DeclineNomination, refs: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    return _leave(state, command, refs, ids, NominationDeclined)


def _confirm_nomination(
    state: MeetingState, command: ConfirmNomination, refs: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    registration = _registration_of(state)
    nomination = _nomination_of(state, command.nomination_id)
    require(
        nomination.status is NominationStatus.NOMINATED,
        "waitlisted" if nomination.status is NominationStatus.WAITLISTED else "nomination-ended",
        f"{refs.person_name(nomination.person_id)}'s nomination is "
        f"{nomination.status.value}: only a nomination holding a seat can be confirmed",
    )
    if command.funded:
        _funding_cap(state, registration, nomination, refs)
    return [NominationConfirmed(event_id=next(ids), meeting_id=state.meeting_id,
                                nomination_id=nomination.nomination_id, funded=command.funded)]


def _request_speaking(
    state: MeetingState, command: RequestSpeaking, refs: Refs, ids: Iterator[uuid.UUID]
) -> list[Event]:
    require_known(command.organisation_id in refs.organisations, "organisation",
                  command.organisation_id)
    if command.person_id is not None:
        require_known(command.person_id in refs.persons, "person", command.person_id)
    require(
        state.when.contains_day(command.day),
        "day-outside-meeting",
        f"{command.day.isoformat()} is not a day of {state.title!r} "
        f"({state.when.first_day.isoformat()} to {state.when.last_day.isoformat()})",
    )
    require(
        not any(
            r.organisation_id == command.organisation_id and r.day == command.day
            for r in state.speaking
        ),
        "speaking-twice",
        f"{refs.organisation_name(command.organisation_id)} asked to speak on "
        f"{command.day.isoformat()} already",
    )
    require_text(command.topic, "topic", optional=True)
    return [
        SpeakingRequested(
            event_id=next(ids),
            meeting_id=state.meeting_id,
            request_id=command.request_id,
            organisation_id=command.organisation_id,
            day=command.day,
            topic=command.topic,
            person_id=command.person_id,
        )
    ]


DECIDED_ON_THE_SEATS: Final[frozenset[type[Command]]] = frozenset(
    {NominateDelegate, WithdrawNomination, DeclineNomination, ChangeCapacity}
)
"""Commands whose events depend on the seats taken when they are decided: a new
nomination is seated or waitlisted, a seat freed or added moves the first waiting up, a
seat taken away waitlists the latest. A fact backdated before one of them could have
changed its outcome (the application refuses it)."""

def seats_changed(before: MeetingState | None, after: MeetingState | None) -> bool:
    """Whether going from ``before`` to ``after`` changes what seat decisions depend on.

    The capacity, or any nomination (new, or its status): what a later decision of
    :data:`DECIDED_ON_THE_SEATS` was taken on.
    """
    def seats(state: MeetingState | None) -> object:
        if state is None:
            return None
        capacity = None if state.registration is None else state.registration.capacity
        return capacity, state.nominations

    return seats(before) != seats(after)


DECIDERS: Final[Mapping[type[Command], Decider]] = {
    OpenRegistration: _open,
    CloseRegistration: _close,
    ReopenRegistration: _reopen,
    ChangeRegistrationWindow: _change_window,
    ChangeCapacity: _change_capacity,
    ChangeQuota: _change_quota,
    NominateDelegate: _nominate,
    WithdrawNomination: _withdraw,
    DeclineNomination: _decline,
    ConfirmNomination: _confirm_nomination,
    RequestSpeaking: _request_speaking,
}
"""The registration commands on a scheduled meeting, and their deciders."""
