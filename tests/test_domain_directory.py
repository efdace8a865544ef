"""Tests of the directory rules: organisations, persons and officers (pure, no log)."""

from __future__ import annotations

import uuid
from typing import Any

import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alliance_events.domain.common import OfficerRole
from alliance_events.domain.deadlines import DeadlineCancelled
from alliance_events.domain.directory import (
    AppointOfficer,
    Body,
    ChangePersonDetails,
    OfficerAppointed,
    OrganisationRegistered,
    PersonDetailsChanged,
    PersonRegistered,
    RegisterOrganisation,
    RegisterPerson,
    Term,
    bodies,
    body_stream,
    organisation_stream,
    organisations,
    person_stream,
    persons,
)
from alliance_events.errors import DomainError, UnknownReferenceError
from alliance_events.testing import SequentialIds

NOW = pendulum.datetime(2023, 3, 22, 14, tz="UTC")
CGR = uuid.UUID(int=0xA1)
DATH = uuid.UUID(int=0xA2)
ANNA = uuid.UUID(int=0xB1)
TOBIAS = uuid.UUID(int=0xB2)
INGEBORG = uuid.UUID(int=0xB3)
UNKNOWN = uuid.UUID(int=0xDEAD)
_ids = SequentialIds(0x3000)


def _fields() -> dict[str, Any]:
    return {"command_id": _ids(), "at": NOW}


def refused(rule: str) -> Any:
    """Expect a DomainError naming ``rule``."""
    return pytest.raises(DomainError, match=rf"\[rule: {rule}\]")


class TestOrganisation:
    def test_register(self) -> None:
        """An organisation is registered with its name, acronym and membership."""
        command = RegisterOrganisation(organisation_id=CGR, name="Centre for Global Rights",
                                       acronym="CGR", **_fields())
        events = organisations.decide(None, command)
        assert [type(e) for e in events] == [OrganisationRegistered]
        state = organisations.evolve(None, events[0])
        assert state is not None
        assert (state.organisation_id, state.name, state.acronym, state.member) == (
            CGR, "Centre for Global Rights", "CGR", True
        )

    def test_registered_twice_is_refused(self) -> None:
        """Registering an organisation a second time is refused (organisation-exists)."""
        command = RegisterOrganisation(organisation_id=CGR, name="CGR", **_fields())
        state = organisations.evolve(None, organisations.decide(None, command)[0])
        again = RegisterOrganisation(organisation_id=CGR, name="CGR", **_fields())
        with refused("organisation-exists"):
            organisations.decide(state, again)

    @pytest.mark.parametrize(("name", "acronym", "rule"), [
        ("", "", "required"),
        ("n" * 201, "", "text-length"),
        ("UNODC", "a" * 31, "text-length"),
    ])
    def test_name_and_acronym(self, name: str, acronym: str, rule: str) -> None:
        """A name is required (at most 200 characters); an acronym is at most 30."""
        command = RegisterOrganisation(organisation_id=CGR, name=name, acronym=acronym,
                                       **_fields())
        with pytest.raises(DomainError) as info:
            organisations.decide(None, command)
        assert info.value.rule == rule

    def test_non_member(self) -> None:
        """A partner such as UNODC is registered as a non-member."""
        command = RegisterOrganisation(organisation_id=CGR, name="UNODC", member=False,
                                       **_fields())
        state = organisations.evolve(None, organisations.decide(None, command)[0])
        assert state is not None
        assert not state.member

    def test_stream(self) -> None:
        """An organisation's stream is named after its id."""
        assert organisation_stream(CGR) == f"organisation-{CGR}"


def _person(person_id: uuid.UUID = ANNA, **fields: Any) -> Any:
    fields.setdefault("name", "Anna Alvazzi del Frate")
    command = RegisterPerson(person_id=person_id, **fields, **_fields())
    return persons.evolve(None, persons.decide(None, command, {CGR, DATH})[0])


class TestPerson:
    def test_register(self) -> None:
        """A person is registered with name, e-mail and organisation (personal data)."""
        command = RegisterPerson(person_id=ANNA, name="Anna", email="anna@example.org",
                                 organisation_id=CGR, **_fields())
        events = persons.decide(None, command, {CGR})
        assert [type(e) for e in events] == [PersonRegistered]
        state = persons.evolve(None, events[0])
        assert state is not None
        assert (state.name, state.email, state.organisation_id) == (
            "Anna", "anna@example.org", CGR
        )

    def test_without_email_or_organisation(self) -> None:
        """E-mail and organisation are optional."""
        state = _person()
        assert (state.email, state.organisation_id) == ("", None)

    def test_unknown_organisation_is_refused(self) -> None:
        """A person of an unknown organisation is refused (unknown-organisation)."""
        command = RegisterPerson(person_id=ANNA, name="Anna", organisation_id=UNKNOWN,
                                 **_fields())
        with refused("unknown-organisation") as info:
            persons.decide(None, command, {CGR})
        assert isinstance(info.value, UnknownReferenceError)

    @pytest.mark.parametrize("email", ["anna", "anna@", "anna@example", "an na@example.org",
                                       "a@b@example.org", "a@" + "e" * 250 + ".org"])
    def test_invalid_email_is_refused(self, email: str) -> None:
        """Something that is not an e-mail address is refused (email)."""
        command = RegisterPerson(person_id=ANNA, name="Anna", email=email, **_fields())
        with refused("email"):
            persons.decide(None, command)

    @given(st.from_regex(r"[a-z0-9._+-]{1,20}@[a-z0-9-]{1,20}\.[a-z]{2,6}", fullmatch=True))
    def test_plausible_emails_are_accepted(self, email: str) -> None:
        """Any plausible address local@domain.tld is accepted and kept as given."""
        command = RegisterPerson(person_id=ANNA, name="Anna", email=email, **_fields())
        event = persons.decide(None, command)[0]
        assert isinstance(event, PersonRegistered)
        assert event.email == email

    def test_registered_twice_is_refused(self) -> None:
        """Registering a person a second time is refused (person-exists)."""
        state = _person()
        with refused("person-exists"):
            persons.decide(state, RegisterPerson(person_id=ANNA, name="Anna", **_fields()))

    def test_name_is_required(self) -> None:
        """A person needs a name (required)."""
        with refused("required"):
            persons.decide(None, RegisterPerson(person_id=ANNA, name=" ", **_fields()))

    def test_change_details(self) -> None:
        """Correcting an e-mail and organisation keeps the rest."""
        state = _person(email="anna@old.org")
        command = ChangePersonDetails(person_id=ANNA, email="anna@new.org", organisation_id=DATH,
                                      **_fields())
        events = persons.decide(state, command, {CGR, DATH})
        assert [type(e) for e in events] == [PersonDetailsChanged]
        changed = persons.evolve(state, events[0])
        assert changed is not None
        assert (changed.name, changed.email, changed.organisation_id) == (
            "Anna Alvazzi del Frate", "anna@new.org", DATH
        )

    def test_change_of_unknown_person_is_refused(self) -> None:
        """Changing a person never registered is refused (unknown-person)."""
        with refused("unknown-person"):
            persons.decide(None, ChangePersonDetails(person_id=ANNA, name="x", **_fields()))

    def test_change_to_unknown_organisation_is_refused(self) -> None:
        """Moving a person to an unknown organisation is refused (unknown-organisation)."""
        command = ChangePersonDetails(person_id=ANNA, organisation_id=UNKNOWN, **_fields())
        with refused("unknown-organisation"):
            persons.decide(_person(), command, {CGR})

    def test_change_to_invalid_email_or_blank_name_is_refused(self) -> None:
        """A corrected e-mail must be an address, a corrected name not blank."""
        with refused("email"):
            persons.decide(_person(), ChangePersonDetails(person_id=ANNA, email="x",
                                                         **_fields()))
        with refused("required"):
            persons.decide(_person(), ChangePersonDetails(person_id=ANNA, name="", **_fields()))

    def test_change_before_registration_is_ignored_by_evolve(self) -> None:
        """A details change folded before the registration gives no person."""
        event = PersonDetailsChanged(event_id=uuid.UUID(int=1), person_id=ANNA, name="x")
        assert persons.evolve(None, event) is None

    def test_stream(self) -> None:
        """A person's stream is named after their id."""
        assert person_stream(ANNA) == f"person-{ANNA}"


def _appoint(state: Body | None, person: uuid.UUID, since: str,
             role: OfficerRole = OfficerRole.CHAIR, body: str = "vngoc") -> Body:
    command = AppointOfficer(body=body, role=role, person_id=person,
                             since=pendulum.Date.fromisoformat(since), **_fields())
    events = bodies.decide(state, command, {ANNA, TOBIAS, INGEBORG})
    assert len(events) == 1
    new_state = bodies.evolve(state, events[0])
    assert new_state is not None
    return new_state


class TestOfficers:
    def test_first_appointment(self) -> None:
        """A chair appointed to a body with no chair replaces no one."""
        command = AppointOfficer(body="alliance", role=OfficerRole.CHAIR, person_id=ANNA,
                                 since=pendulum.Date(2022, 6, 1), **_fields())
        events = bodies.decide(None, command, {ANNA})
        assert isinstance(events[0], OfficerAppointed)
        assert events[0].replaces is None
        state = bodies.evolve(None, events[0])
        assert state is not None
        assert state.holder(OfficerRole.CHAIR) == ANNA
        assert state.holder(OfficerRole.SECRETARY) is None

    def test_replaced_officer_term_ends(self) -> None:
        """'Elected a new chair replacing the former one': the old term gets an until."""
        state = _appoint(None, ANNA, "2021-01-01")
        command = AppointOfficer(body="vngoc", role=OfficerRole.CHAIR, person_id=TOBIAS,
                                 since=pendulum.Date(2023, 3, 1), **_fields())
        event = bodies.decide(state, command, {ANNA, TOBIAS})[0]
        assert isinstance(event, OfficerAppointed)
        assert event.replaces == ANNA
        state = bodies.evolve(state, event)
        assert state is not None
        assert state.terms == (
            Term(role=OfficerRole.CHAIR, person_id=ANNA, since=pendulum.Date(2021, 1, 1),
                 until=pendulum.Date(2023, 3, 1)),
            Term(role=OfficerRole.CHAIR, person_id=TOBIAS, since=pendulum.Date(2023, 3, 1)),
        )
        assert state.holder(OfficerRole.CHAIR) == TOBIAS

    def test_roles_are_independent(self) -> None:
        """Appointing a treasurer leaves the chair's term open."""
        state = _appoint(None, ANNA, "2021-01-01")
        state = _appoint(state, INGEBORG, "2022-01-01", role=OfficerRole.TREASURER)
        assert state.holder(OfficerRole.CHAIR) == ANNA
        assert state.holder(OfficerRole.TREASURER) == INGEBORG
        assert all(term.until is None for term in state.terms)

    def test_former_holder_may_return(self) -> None:
        """A former chair may be appointed again after someone else's term."""
        state = _appoint(None, ANNA, "2019-01-01")
        state = _appoint(state, TOBIAS, "2021-01-01")
        state = _appoint(state, ANNA, "2023-01-01")
        assert state.holder(OfficerRole.CHAIR) == ANNA
        assert [t.until for t in state.terms] == [
            pendulum.Date(2021, 1, 1), pendulum.Date(2023, 1, 1), None
        ]

    @pytest.mark.parametrize("body", ["", "VNGOC", "-alliance", "the alliance", "a" * 64])
    def test_body_is_a_slug(self, body: str) -> None:
        """A body's name must be a lower-case slug (body)."""
        command = AppointOfficer(body=body, role=OfficerRole.CHAIR, person_id=ANNA,
                                 since=pendulum.Date(2023, 1, 1), **_fields())
        with refused("body"):
            bodies.decide(None, command, {ANNA})

    def test_person_must_be_known(self) -> None:
        """Appointing an unknown person is refused (unknown-person)."""
        command = AppointOfficer(body="alliance", role=OfficerRole.CHAIR, person_id=UNKNOWN,
                                 since=pendulum.Date(2023, 1, 1), **_fields())
        with refused("unknown-person") as info:
            bodies.decide(None, command, {ANNA})
        assert isinstance(info.value, UnknownReferenceError)

    def test_same_holder_is_refused(self) -> None:
        """Appointing the current holder again is refused (no-change)."""
        state = _appoint(None, ANNA, "2021-01-01")
        command = AppointOfficer(body="vngoc", role=OfficerRole.CHAIR, person_id=ANNA,
                                 since=pendulum.Date(2023, 1, 1), **_fields())
        with refused("no-change"):
            bodies.decide(state, command, {ANNA})

    def test_appointment_before_the_latest_change_is_refused(self) -> None:
        """An appointment dated before the role's latest change is refused (officer-history)."""
        state = _appoint(None, ANNA, "2021-01-01")
        state = _appoint(state, TOBIAS, "2023-03-01")
        command = AppointOfficer(body="vngoc", role=OfficerRole.CHAIR, person_id=INGEBORG,
                                 since=pendulum.Date(2022, 1, 1), **_fields())
        with refused("officer-history"):
            bodies.decide(state, command, {ANNA, TOBIAS, INGEBORG})

    def test_appointment_on_the_day_of_the_latest_change_is_accepted(self) -> None:
        """An appointment on the same day as the latest change does not rewrite history."""
        state = _appoint(None, ANNA, "2023-03-01")
        state = _appoint(state, TOBIAS, "2023-03-01")
        assert state.holder(OfficerRole.CHAIR) == TOBIAS

    def test_earlier_date_for_another_role_is_accepted(self) -> None:
        """The history rule is per role: an earlier-dated secretary is fine."""
        state = _appoint(None, ANNA, "2023-03-01")
        state = _appoint(state, TOBIAS, "2020-01-01", role=OfficerRole.SECRETARY)
        assert state.holder(OfficerRole.SECRETARY) == TOBIAS

    def test_evolve_ignores_other_events(self) -> None:
        """Events other than appointments leave a body as it is (or absent)."""
        state = _appoint(None, ANNA, "2023-03-01")
        event = DeadlineCancelled(event_id=uuid.UUID(int=1), deadline_id=uuid.UUID(int=2))
        assert bodies.evolve(state, event) is state
        assert bodies.evolve(None, event) is None

    def test_same_command_same_ids(self) -> None:
        """Deciding the same appointment twice gives the same event id."""
        command = AppointOfficer(body="alliance", role=OfficerRole.CHAIR, person_id=ANNA,
                                 since=pendulum.Date(2023, 1, 1), **_fields())
        assert bodies.decide(None, command, {ANNA}) == bodies.decide(None, command, {ANNA})
        assert bodies.decide(None, command, {ANNA})[0].event_id == uuid.uuid5(
            command.command_id, "0"
        )

    def test_stream(self) -> None:
        """A body's stream is named after its slug."""
        assert body_stream("vngoc") == "body-vngoc"
