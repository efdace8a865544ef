"""Who is who: organisations, persons (the only personal data), and officers of bodies.

* ``organisation-<id>``: a member organisation (or UNODC, or a partner), by name.
* ``person-<id>``: a delegate or officer: their name and e-mail live *here only*, so that
  every other event refers to them by id and erasure stays possible (DESIGN.md).
* ``body-<slug>``: the officers of a body (the alliance, the VNGOC): roles with a
  history, "elected a new chair replacing the former one".
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping

import attrs
import pendulum

from alliance_events.domain.common import Command, OfficerRole, event_ids, require, require_text
from alliance_events.errors import UnknownReferenceError
from alliance_events.events import Event

__all__ = [
    "AppointOfficer",
    "Body",
    "ChangePersonDetails",
    "FeedTokenIssued",
    "FeedTokenRevoked",
    "IssueFeedToken",
    "OfficerAppointed",
    "Organisation",
    "OrganisationRegistered",
    "Person",
    "PersonDetailsChanged",
    "PersonRegistered",
    "RegisterOrganisation",
    "RegisterPerson",
    "RevokeFeedToken",
    "Term",
    "body_stream",
    "decide_body",
    "decide_organisation",
    "decide_person",
    "evolve_body",
    "evolve_organisation",
    "evolve_person",
    "organisation_stream",
    "person_stream",
]

_TOKEN_HASH = re.compile(r"^[0-9a-f]{64}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


def organisation_stream(organisation_id: uuid.UUID) -> str:
    """Return the organisation's stream."""
    return f"organisation-{organisation_id}"


def person_stream(person_id: uuid.UUID) -> str:
    """Return the person's stream (the only one holding personal data)."""
    return f"person-{person_id}"


def body_stream(body: str) -> str:
    """Return the stream of a body's officers."""
    return f"body-{body}"


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
class PersonRegistered(Event):
    """A person became known (personal data: name and e-mail)."""

    person_id: uuid.UUID
    name: str
    email: str = ""
    organisation_id: uuid.UUID | None = None


@attrs.frozen(kw_only=True)
class PersonDetailsChanged(Event):
    """A person's name, e-mail or organisation changed (``None``: unchanged)."""

    person_id: uuid.UUID
    name: str | None = None
    email: str | None = None
    organisation_id: uuid.UUID | None = None


@attrs.frozen(kw_only=True)
class OfficerAppointed(Event):
    """A person took an officer's role in a body, from a date (replacing whoever held it)."""

    body: str
    role: OfficerRole
    person_id: uuid.UUID
    since: pendulum.Date
    replaces: uuid.UUID | None = None


# -- state ----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Organisation:
    """A known organisation, and the hashes of its live feed tokens (by token id)."""

    organisation_id: uuid.UUID
    name: str
    acronym: str
    member: bool
    feed_tokens: Mapping[uuid.UUID, str] = attrs.field(factory=dict)


@attrs.frozen(kw_only=True)
class Person:
    """A known person (personal data)."""

    person_id: uuid.UUID
    name: str
    email: str
    organisation_id: uuid.UUID | None


@attrs.frozen(kw_only=True)
class Term:
    """One person's term in one role: from ``since`` until ``until`` (None: current)."""

    role: OfficerRole
    person_id: uuid.UUID
    since: pendulum.Date
    until: pendulum.Date | None = None


@attrs.frozen(kw_only=True)
class Body:
    """The officers of a body, with their history."""

    body: str
    terms: tuple[Term, ...] = ()

    def holder(self, role: OfficerRole) -> uuid.UUID | None:
        """Who holds ``role`` now."""
        for term in reversed(self.terms):
            if term.role is role and term.until is None:
                return term.person_id
        return None


def evolve_organisation(state: Organisation | None, event: Event) -> Organisation | None:
    """Apply an organisation event (never fails)."""
    if isinstance(event, OrganisationRegistered):
        return Organisation(organisation_id=event.organisation_id, name=event.name,
                            acronym=event.acronym, member=event.member)
    if state is None:
        return None
    if isinstance(event, FeedTokenIssued):
        tokens = {**state.feed_tokens, event.token_id: event.token_hash}
        return attrs.evolve(state, feed_tokens=tokens)
    if isinstance(event, FeedTokenRevoked):
        tokens = {k: v for k, v in state.feed_tokens.items() if k != event.token_id}
        return attrs.evolve(state, feed_tokens=tokens)
    return state


def evolve_person(state: Person | None, event: Event) -> Person | None:
    """Apply a person event (never fails)."""
    if isinstance(event, PersonRegistered):
        return Person(person_id=event.person_id, name=event.name, email=event.email,
                      organisation_id=event.organisation_id)
    if isinstance(event, PersonDetailsChanged) and state is not None:
        changes = {
            name: getattr(event, name)
            for name in ("name", "email", "organisation_id")
            if getattr(event, name) is not None
        }
        return attrs.evolve(state, **changes)
    return state


def evolve_body(state: Body | None, event: Event) -> Body | None:
    """Apply an officer event (never fails)."""
    if not isinstance(event, OfficerAppointed):
        return state
    body = Body(body=event.body) if state is None else state
    terms = tuple(
        attrs.evolve(t, until=event.since) if t.role is event.role and t.until is None else t
        for t in body.terms
    )
    term = Term(role=event.role, person_id=event.person_id, since=event.since)
    return attrs.evolve(body, terms=(*terms, term))


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
class RegisterPerson(Command):
    """Make a person known."""

    person_id: uuid.UUID
    name: str
    email: str = ""
    organisation_id: uuid.UUID | None = None


@attrs.frozen(kw_only=True)
class ChangePersonDetails(Command):
    """Correct a person's details."""

    person_id: uuid.UUID
    name: str | None = None
    email: str | None = None
    organisation_id: uuid.UUID | None = None


@attrs.frozen(kw_only=True)
class AppointOfficer(Command):
    """Appoint a person to an officer's role in a body."""

    body: str
    role: OfficerRole
    person_id: uuid.UUID
    since: pendulum.Date


def _check_email(email: str | None) -> None:
    if email:
        require(
            bool(_EMAIL.match(email)) and len(email) <= 254,  # noqa: PLR2004 - RFC 5321
            "email",
            f"{email!r} is not an e-mail address",
        )


def _unknown_person(person_id: uuid.UUID) -> UnknownReferenceError:
    return UnknownReferenceError("unknown-person", f"no person {person_id} is registered")


def decide_organisation(
    state: Organisation | None,
    command: RegisterOrganisation | IssueFeedToken | RevokeFeedToken,
) -> list[Event]:
    """Decide an organisation command."""
    if isinstance(command, (IssueFeedToken, RevokeFeedToken)):
        return _decide_token(state, command)
    require(state is None, "organisation-exists",
            f"organisation {command.organisation_id} is registered already")
    require_text(command.name, "name", limit=200)
    require_text(command.acronym, "acronym", limit=30, optional=True)
    return [OrganisationRegistered(event_id=next(event_ids(command)),
                                   organisation_id=command.organisation_id, name=command.name,
                                   acronym=command.acronym, member=command.member)]


def _decide_token(
    state: Organisation | None, command: IssueFeedToken | RevokeFeedToken
) -> list[Event]:
    if state is None:
        raise UnknownReferenceError(
            "unknown-organisation", f"no organisation {command.organisation_id} is registered"
        )
    ids = event_ids(command)
    if isinstance(command, IssueFeedToken):
        require(
            bool(_TOKEN_HASH.match(command.token_hash)),
            "token-hash",
            "a feed token is stored as the hex SHA-256 of the token, never as the token",
        )
        require(command.token_id not in state.feed_tokens, "token-exists",
                f"feed token {command.token_id} exists already")
        require_text(command.label, "label", limit=100, optional=True)
        return [FeedTokenIssued(event_id=next(ids), organisation_id=state.organisation_id,
                                token_id=command.token_id, token_hash=command.token_hash,
                                label=command.label)]
    if command.token_id not in state.feed_tokens:
        raise UnknownReferenceError(
            "unknown-token", f"{state.name} has no live feed token {command.token_id}"
        )
    return [FeedTokenRevoked(event_id=next(ids), organisation_id=state.organisation_id,
                             token_id=command.token_id, reason=command.reason)]


def decide_person(
    state: Person | None,
    command: RegisterPerson | ChangePersonDetails,
    organisations: frozenset[uuid.UUID] | set[uuid.UUID] = frozenset(),
) -> list[Event]:
    """Decide a person command (``organisations``: the known organisations' ids)."""
    ids = event_ids(command)
    if command.organisation_id is not None and command.organisation_id not in organisations:
        raise UnknownReferenceError(
            "unknown-organisation", f"no organisation {command.organisation_id} is registered"
        )
    _check_email(command.email)
    if isinstance(command, RegisterPerson):
        require(state is None, "person-exists", f"person {command.person_id} is registered already")
        require_text(command.name, "name", limit=200)
        return [PersonRegistered(event_id=next(ids), person_id=command.person_id,
                                 name=command.name, email=command.email,
                                 organisation_id=command.organisation_id)]
    if state is None:
        raise _unknown_person(command.person_id)
    if command.name is not None:
        require_text(command.name, "name", limit=200)
    return [PersonDetailsChanged(event_id=next(ids), person_id=command.person_id,
                                 name=command.name, email=command.email,
                                 organisation_id=command.organisation_id)]


def decide_body(
    state: Body | None,
    command: AppointOfficer,
    persons: frozenset[uuid.UUID] | set[uuid.UUID] = frozenset(),
) -> list[Event]:
    """Decide an officer appointment (``persons``: the known persons' ids)."""
    require(bool(_SLUG.match(command.body)), "body",
            f"a body's name is a lower-case slug such as 'alliance', got {command.body!r}")
    if command.person_id not in persons:
        raise _unknown_person(command.person_id)
    current = None if state is None else state.holder(command.role)
    require(
        current != command.person_id,
        "no-change",
        f"person {command.person_id} is {command.role.value} of {command.body} already",
    )
    if state is not None:
        latest = max((t.since for t in state.terms if t.role is command.role), default=None)
        require(
            latest is None or command.since >= latest,
            "officer-history",
            f"the {command.role.value} of {command.body} changed on {latest} already; "
            f"an appointment from {command.since} would rewrite that history",
        )
    return [OfficerAppointed(event_id=next(event_ids(command)), body=command.body,
                             role=command.role, person_id=command.person_id,
                             since=command.since, replaces=current)]
