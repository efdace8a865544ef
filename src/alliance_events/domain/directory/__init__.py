"""Who is who: organisations, persons (the only personal data), and officers of bodies.

Three aggregates, each with the domain's one face (``<name>_stream``, ``evolve``,
``decide``: :mod:`alliance_events.domain.common`):

* :mod:`~alliance_events.domain.directory.organisations`: ``organisation-<id>``, a
  member organisation (or UNODC, or a partner), by name, and its feed tokens.
* :mod:`~alliance_events.domain.directory.persons`: ``person-<id>``, a delegate or
  officer: their name and e-mail live *there only*, so that every other event refers to
  them by id and erasure stays possible (DESIGN.md).
* :mod:`~alliance_events.domain.directory.bodies`: ``body-<slug>``, the officers of a
  body (the alliance, the VNGOC): roles with a history.

This package re-exports their events, states, commands and stream names.
"""

from __future__ import annotations

from alliance_events.domain.directory import bodies, organisations, persons
from alliance_events.domain.directory.bodies import (
    AppointOfficer,
    Body,
    OfficerAppointed,
    Term,
    body_stream,
)
from alliance_events.domain.directory.organisations import (
    AppointFocalPoint,
    FeedTokenIssued,
    FeedTokenRevoked,
    FocalPointAppointed,
    IssueFeedToken,
    Organisation,
    OrganisationRegistered,
    RegisterOrganisation,
    RevokeFeedToken,
    organisation_stream,
)
from alliance_events.domain.directory.persons import (
    ERASED,
    ChangePersonDetails,
    ForgetPerson,
    Person,
    PersonDetailsChanged,
    PersonForgotten,
    PersonRegistered,
    RegisterPerson,
    person_stream,
)

__all__ = [
    "ERASED",
    "AppointFocalPoint",
    "AppointOfficer",
    "Body",
    "ChangePersonDetails",
    "FeedTokenIssued",
    "FeedTokenRevoked",
    "FocalPointAppointed",
    "ForgetPerson",
    "IssueFeedToken",
    "OfficerAppointed",
    "Organisation",
    "OrganisationRegistered",
    "Person",
    "PersonDetailsChanged",
    "PersonForgotten",
    "PersonRegistered",
    "RegisterOrganisation",
    "RegisterPerson",
    "RevokeFeedToken",
    "Term",
    "bodies",
    "body_stream",
    "organisation_stream",
    "organisations",
    "person_stream",
    "persons",
]
