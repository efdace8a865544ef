"""The organisation aggregate: a member organisation (or UNODC, or a partner) by name.

One stream per organisation, ``organisation-<id>`` (:func:`organisation_stream`), also
holding its private feed tokens (by their SHA-256 only: the token itself is never kept)
and its focal point: the person of the organisation whom the alliance's e-mails reach
(deadline reminders, urgent changes, nominations), named by id (the person's name and
address live in the person's stream only).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, Final

import attrs

from alliance_events.domain.common import (
    Command,
    event_ids,
    require,
    require_text,
)
from alliance_events.domain.streams import organisation_stream
from alliance_events.errors import UnknownReferenceError
from alliance_events.events import Event

__all__ = [
    "AppointFocalPoint",
    "FeedTokenIssued",
    "FeedTokenRevoked",
    "FocalPointAppointed",
    "IssueFeedToken",
    "Organisation",
    "OrganisationRegistered",
    "RegisterOrganisation",
    "RevokeFeedToken",
    "decide",
    "evolve",
    "organisation_stream",
]

_TOKEN_HASH = re.compile(r"^[0-9a-f]{64}$")


# -- events ---------------------------------------------------------------------------
# Registered under their type names by the list in catalog.py, not here.


@attrs.frozen(kw_only=True)
class OrganisationRegistered(Event):
    """An organisation became known to the alliance."""

    organisation_id: uuid.UUID
    name: str
    acronym: str = ""
    member: bool = True


@attrs.frozen(kw_only=True)
class FeedTokenIssued(Event):
    """An organisation got a private feed address; only the token's SHA-256 is kept."""

    organisation_id: uuid.UUID
    token_id: uuid.UUID
    token_hash: str
    label: str = ""


@attrs.frozen(kw_only=True)
class FeedTokenRevoked(Event):
    """An organisation's private feed address stopped working."""

    organisation_id: uuid.UUID
    token_id: uuid.UUID
    reason: str = ""


@attrs.frozen(kw_only=True)
class FocalPointAppointed(Event):
    """The organisation named its focal point for the alliance (``None``: no one now)."""

    organisation_id: uuid.UUID
    person_id: uuid.UUID | None


# -- state ----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Organisation:
    """A known organisation, and the hashes of its live feed tokens (by token id)."""

    organisation_id: uuid.UUID
    name: str
    acronym: str
    member: bool
    feed_tokens: Mapping[uuid.UUID, str] = attrs.field(factory=dict)
    focal_point: uuid.UUID | None = None


def _registered(_: Organisation | None, event: OrganisationRegistered) -> Organisation:
    return Organisation(organisation_id=event.organisation_id, name=event.name,
                        acronym=event.acronym, member=event.member)


def _token_issued(state: Organisation, event: FeedTokenIssued) -> Organisation:
    tokens = {**state.feed_tokens, event.token_id: event.token_hash}
    return attrs.evolve(state, feed_tokens=tokens)


def _token_revoked(state: Organisation, event: FeedTokenRevoked) -> Organisation:
    tokens = {k: v for k, v in state.feed_tokens.items() if k != event.token_id}
    return attrs.evolve(state, feed_tokens=tokens)


def _focal_point(state: Organisation, event: FocalPointAppointed) -> Organisation:
    return attrs.evolve(state, focal_point=event.person_id)


_STARTERS: Final[Mapping[type[Event], Callable[[None, Any], Organisation]]] = {
    OrganisationRegistered: _registered,
}
"""What an organisation's first event makes of it (any other first event: nothing)."""

_EVOLVERS: Final[Mapping[type[Event], Callable[[Organisation, Any], Organisation]]] = {
    OrganisationRegistered: _registered,
    FeedTokenIssued: _token_issued,
    FeedTokenRevoked: _token_revoked,
    FocalPointAppointed: _focal_point,
}


def evolve(state: Organisation | None, event: Event) -> Organisation | None:
    """Apply an organisation event (never fails)."""
    if state is None:
        start = _STARTERS.get(type(event))
        return None if start is None else start(None, event)
    change = _EVOLVERS.get(type(event))
    return state if change is None else change(state, event)


# -- commands -------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class RegisterOrganisation(Command):
    """Make an organisation known."""

    organisation_id: uuid.UUID
    name: str
    acronym: str = ""
    member: bool = True


@attrs.frozen(kw_only=True)
class IssueFeedToken(Command):
    """Record a new feed token of an organisation (by its hash: the token is not kept)."""

    __unbound__: ClassVar[frozenset[str]] = frozenset({"token_hash"})
    """A retry makes a new token: its hash is not part of what the command asks for."""

    organisation_id: uuid.UUID
    token_id: uuid.UUID
    token_hash: str
    label: str = ""


@attrs.frozen(kw_only=True)
class RevokeFeedToken(Command):
    """Revoke an organisation's feed token."""

    organisation_id: uuid.UUID
    token_id: uuid.UUID
    reason: str = ""


@attrs.frozen(kw_only=True)
class AppointFocalPoint(Command):
    """Name the organisation's focal point (a person of the organisation; ``None``: no one)."""

    organisation_id: uuid.UUID
    person_id: uuid.UUID | None


def _register(
    state: Organisation | None,
    command: RegisterOrganisation,
    ids: Iterator[uuid.UUID],
    _: object,
) -> list[Event]:
    require(state is None, "organisation-exists",
            f"organisation {command.organisation_id} is registered already")
    require_text(command.name, "name", limit=200)
    require_text(command.acronym, "acronym", limit=30, optional=True)
    return [OrganisationRegistered(event_id=next(ids),
                                   organisation_id=command.organisation_id, name=command.name,
                                   acronym=command.acronym, member=command.member)]


def _issue_token(
    state: Organisation | None, command: IssueFeedToken, ids: Iterator[uuid.UUID], _: object
) -> list[Event]:
    organisation = _existing(state, command)
    require(
        bool(_TOKEN_HASH.match(command.token_hash)),
        "token-hash",
        "a feed token is stored as the hex SHA-256 of the token, never as the token",
    )
    require(command.token_id not in organisation.feed_tokens, "token-exists",
            f"feed token {command.token_id} exists already")
    require_text(command.label, "label", limit=100, optional=True)
    return [FeedTokenIssued(event_id=next(ids), organisation_id=organisation.organisation_id,
                            token_id=command.token_id, token_hash=command.token_hash,
                            label=command.label)]


def _revoke_token(
    state: Organisation | None, command: RevokeFeedToken, ids: Iterator[uuid.UUID], _: object
) -> list[Event]:
    organisation = _existing(state, command)
    if command.token_id not in organisation.feed_tokens:
        raise UnknownReferenceError(
            "unknown-token", f"{organisation.name} has no live feed token {command.token_id}"
        )
    return [FeedTokenRevoked(event_id=next(ids), organisation_id=organisation.organisation_id,
                             token_id=command.token_id, reason=command.reason)]


def _appoint_focal_point(
    state: Organisation | None,
    command: AppointFocalPoint,
    ids: Iterator[uuid.UUID],
    persons: object,
) -> list[Event]:
    organisation = _existing(state, command)
    person_id = command.person_id
    if person_id is not None:
        person = persons.get(person_id) if isinstance(persons, Mapping) else None
        if person is None:
            raise UnknownReferenceError("unknown-person", f"no person {person_id} is registered")
        require(
            person.organisation_id == organisation.organisation_id,
            "focal-point-organisation",
            f"a focal point is a person of {organisation.name}: this person is not",
        )
    require(person_id != organisation.focal_point, "focal-point-unchanged",
            f"{organisation.name}'s focal point is that already")
    return [FocalPointAppointed(event_id=next(ids), organisation_id=organisation.organisation_id,
                                person_id=person_id)]


def _existing(
    state: Organisation | None, command: IssueFeedToken | RevokeFeedToken | AppointFocalPoint
) -> Organisation:
    if state is None:
        raise UnknownReferenceError(
            "unknown-organisation", f"no organisation {command.organisation_id} is registered"
        )
    return state


_DECIDERS: Final[
    Mapping[
        type[Command],
        Callable[[Organisation | None, Any, Iterator[uuid.UUID], object], list[Event]],
    ]
] = {
    RegisterOrganisation: _register,
    IssueFeedToken: _issue_token,
    RevokeFeedToken: _revoke_token,
    AppointFocalPoint: _appoint_focal_point,
}


def decide(state: Organisation | None, command: Command, refs: object = None) -> list[Event]:
    """Decide an organisation command (``refs``: the known persons, by id).

    Raises:
        RuleViolation: a rule is broken (registered already, a token that is not a hash,
            a focal point of another organisation).
        UnknownReferenceError: the organisation, its token or the person is unknown.
        TypeError: not an organisation command.

    """
    decider = _DECIDERS.get(type(command))
    if decider is None:
        raise TypeError(f"not an organisation command: {command!r}")
    return decider(state, command, event_ids(command), refs)
