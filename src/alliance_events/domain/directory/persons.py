"""The person aggregate: a delegate or officer, and the only personal data in the log.

One stream per person, ``person-<id>`` (:func:`person_stream`): their name and e-mail
live *here only*, so that every other event refers to them by id, and they are stored
sealed with the person's own key (``__personal__``). Forgetting a person
(:class:`ForgetPerson`) deletes that key and records :class:`PersonForgotten`, which holds
no personal data: from then on, in every replay, their name reads as :data:`ERASED` and
their e-mail as empty, while the history keeps its shape (DESIGN.md).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Container, Iterator, Mapping
from typing import Any, ClassVar, Final

import attrs

from alliance_events.domain.common import (
    Command,
    event_ids,
    require,
    require_known,
    require_text,
)
from alliance_events.domain.streams import person_stream
from alliance_events.events import Event

__all__ = [
    "ERASED",
    "ChangePersonDetails",
    "ForgetPerson",
    "Person",
    "PersonDetailsChanged",
    "PersonForgotten",
    "PersonRegistered",
    "RegisterPerson",
    "decide",
    "evolve",
    "person_stream",
]

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

ERASED: Final = "(erased)"
"""What a forgotten person's name reads as."""


# -- events ---------------------------------------------------------------------------
# Registered under their type names by the list in catalog.py, not here.


@attrs.frozen(kw_only=True)
class PersonRegistered(Event):
    """A person became known (personal data: name and e-mail, stored sealed)."""

    __personal__: ClassVar[Mapping[str, object]] = {"name": ERASED, "email": ""}
    __subject__: ClassVar[str] = "person_id"

    person_id: uuid.UUID
    name: str
    email: str = ""
    organisation_id: uuid.UUID | None = None


@attrs.frozen(kw_only=True)
class PersonDetailsChanged(Event):
    """A person's name, e-mail or organisation changed (``None``: unchanged)."""

    __personal__: ClassVar[Mapping[str, object]] = {"name": None, "email": None}
    __subject__: ClassVar[str] = "person_id"

    person_id: uuid.UUID
    name: str | None = None
    email: str | None = None
    organisation_id: uuid.UUID | None = None


@attrs.frozen(kw_only=True)
class PersonForgotten(Event):
    """A person was forgotten: their key is deleted (``reason`` holds no personal data)."""

    __forgets__: ClassVar[str] = "person_id"

    person_id: uuid.UUID
    reason: str = ""


# -- state ----------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class Person:
    """A known person (personal data)."""

    person_id: uuid.UUID
    name: str
    email: str
    organisation_id: uuid.UUID | None
    erased: bool = False


def _registered(_: Person | None, event: PersonRegistered) -> Person:
    return Person(person_id=event.person_id, name=event.name, email=event.email,
                  organisation_id=event.organisation_id)


def _details_changed(state: Person, event: PersonDetailsChanged) -> Person:
    changes = {
        name: getattr(event, name)
        for name in ("name", "email", "organisation_id")
        if getattr(event, name) is not None
    }
    return attrs.evolve(state, **changes)


def _forgotten(state: Person, _: PersonForgotten) -> Person:
    return attrs.evolve(state, name=ERASED, email="", erased=True)


_STARTERS: Final[Mapping[type[Event], Callable[[None, Any], Person]]] = {
    PersonRegistered: _registered,
}
"""What a person's first event makes of them (any other first event: nothing)."""

_EVOLVERS: Final[Mapping[type[Event], Callable[[Person, Any], Person]]] = {
    PersonRegistered: _registered,
    PersonDetailsChanged: _details_changed,
    PersonForgotten: _forgotten,
}


def evolve(state: Person | None, event: Event) -> Person | None:
    """Apply a person event (never fails)."""
    if state is None:
        start = _STARTERS.get(type(event))
        return None if start is None else start(None, event)
    change = _EVOLVERS.get(type(event))
    return state if change is None else change(state, event)


# -- commands -------------------------------------------------------------------------


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
class ForgetPerson(Command):
    """Forget a person (GDPR Article 17): their name and e-mail are erased everywhere.

    ``reason`` is kept in the log: it must not name the person ("request of 3 May").
    """

    person_id: uuid.UUID
    reason: str = ""


def _check_email(email: str | None) -> None:
    if email:
        require(
            bool(_EMAIL.match(email)) and len(email) <= 254,  # noqa: PLR2004 - RFC 5321
            "email",
            f"{email!r} is not an e-mail address",
        )


def _check_details(
    command: RegisterPerson | ChangePersonDetails, organisations: Container[uuid.UUID]
) -> None:
    if command.organisation_id is not None:
        require_known(command.organisation_id in organisations, "organisation",
                      command.organisation_id)
    _check_email(command.email)


def _register(
    state: Person | None,
    command: RegisterPerson,
    organisations: Container[uuid.UUID],
    ids: Iterator[uuid.UUID],
) -> list[Event]:
    _check_details(command, organisations)
    require(state is None, "person-exists", f"person {command.person_id} is registered already")
    require_text(command.name, "name", limit=200)
    return [PersonRegistered(event_id=next(ids), person_id=command.person_id,
                             name=command.name, email=command.email,
                             organisation_id=command.organisation_id)]


def _change_details(
    state: Person | None,
    command: ChangePersonDetails,
    organisations: Container[uuid.UUID],
    ids: Iterator[uuid.UUID],
) -> list[Event]:
    _check_details(command, organisations)
    require_known(state is not None, "person", command.person_id)
    require(state is None or not state.erased, "person-forgotten",
            f"person {command.person_id} was forgotten: nothing more is recorded of them")
    if command.name is not None:
        require_text(command.name, "name", limit=200)
    return [PersonDetailsChanged(event_id=next(ids), person_id=command.person_id,
                                 name=command.name, email=command.email,
                                 organisation_id=command.organisation_id)]


def _forget(
    state: Person | None,
    command: ForgetPerson,
    _: Container[uuid.UUID],
    ids: Iterator[uuid.UUID],
) -> list[Event]:
    require_known(state is not None, "person", command.person_id)
    require(state is None or not state.erased, "person-forgotten",
            f"person {command.person_id} is forgotten already")
    require_text(command.reason, "reason", limit=200, optional=True)
    return [PersonForgotten(event_id=next(ids), person_id=command.person_id,
                            reason=command.reason)]


_DECIDERS: Final[
    Mapping[
        type[Command],
        Callable[[Person | None, Any, Container[uuid.UUID], Iterator[uuid.UUID]], list[Event]],
    ]
] = {
    RegisterPerson: _register,
    ChangePersonDetails: _change_details,
    ForgetPerson: _forget,
}


def decide(
    state: Person | None, command: Command, refs: Container[uuid.UUID] = frozenset()
) -> list[Event]:
    """Decide a person command (``refs``: the known organisations' ids).

    Raises:
        RuleViolation: a rule is broken (registered already, no name, not an e-mail, a
            forgotten person).
        UnknownReferenceError: the person, or their organisation, is unknown.
        TypeError: not a person command.

    """
    decider = _DECIDERS.get(type(command))
    if decider is None:
        raise TypeError(f"not a person command: {command!r}")
    return decider(state, command, refs, event_ids(command))
