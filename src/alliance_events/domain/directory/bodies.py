"""The body aggregate: the officers of a body (the alliance, the VNGOC), with a history.

One stream per body, ``body-<slug>`` (:func:`body_stream`): roles with a history,
"elected a new chair replacing the former one".
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Container, Iterator, Mapping
from typing import Any, Final

import attrs
import pendulum

from alliance_events.domain.common import (
    Command,
    OfficerRole,
    event_ids,
    require,
    require_known,
)
from alliance_events.domain.streams import body_stream
from alliance_events.events import Event

__all__ = [
    "AppointOfficer",
    "Body",
    "OfficerAppointed",
    "Term",
    "body_stream",
    "decide",
    "evolve",
]

_SLUG = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")


# -- events ---------------------------------------------------------------------------
# Registered under its type name by the list in catalog.py, not here.


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


def _appointed(state: Body | None, event: OfficerAppointed) -> Body:
    body = Body(body=event.body) if state is None else state
    terms = tuple(
        attrs.evolve(t, until=event.since) if t.role is event.role and t.until is None else t
        for t in body.terms
    )
    term = Term(role=event.role, person_id=event.person_id, since=event.since)
    return attrs.evolve(body, terms=(*terms, term))


_EVOLVERS: Final[Mapping[type[Event], Callable[[Body | None, Any], Body]]] = {
    OfficerAppointed: _appointed,  # the first appointment makes the body
}


def evolve(state: Body | None, event: Event) -> Body | None:
    """Apply an officer event (never fails)."""
    change = _EVOLVERS.get(type(event))
    return state if change is None else change(state, event)


# -- commands -------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AppointOfficer(Command):
    """Appoint a person to an officer's role in a body."""

    body: str
    role: OfficerRole
    person_id: uuid.UUID
    since: pendulum.Date


def _appoint(
    state: Body | None,
    command: AppointOfficer,
    persons: Container[uuid.UUID],
    ids: Iterator[uuid.UUID],
) -> list[Event]:
    require(bool(_SLUG.match(command.body)), "body",
            f"a body's name is a lower-case slug such as 'alliance', got {command.body!r}")
    require_known(command.person_id in persons, "person", command.person_id)
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
    return [OfficerAppointed(event_id=next(ids), body=command.body,
                             role=command.role, person_id=command.person_id,
                             since=command.since, replaces=current)]


_DECIDERS: Final[
    Mapping[
        type[Command],
        Callable[[Body | None, Any, Container[uuid.UUID], Iterator[uuid.UUID]], list[Event]],
    ]
] = {AppointOfficer: _appoint}


def decide(
    state: Body | None, command: Command, refs: Container[uuid.UUID] = frozenset()
) -> list[Event]:
    """Decide an officer appointment (``refs``: the known persons' ids).

    Raises:
        RuleViolation: a rule is broken (not a slug, no change, rewriting history).
        UnknownReferenceError: the person is unknown.
        TypeError: not a body command.

    """
    decider = _DECIDERS.get(type(command))
    if decider is None:
        raise TypeError(f"not a body command: {command!r}")
    return decider(state, command, refs, event_ids(command))
