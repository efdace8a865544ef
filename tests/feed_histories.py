"""Random commands on an alliance, for the feeds' incremental-render properties.

Shared by tests/test_ical.py (incremental render equals a cold one) and
tests/test_ical_pieces.py (the pieces, ETag and gzip follow the bytes).
"""

from __future__ import annotations

import uuid
from typing import Any

from hypothesis import strategies as st

from alliance_events import Alliance
from alliance_events.domain.directory import (
    OrganisationRegistered,
    PersonDetailsChanged,
    organisation_stream,
    person_stream,
)
from alliance_events.log import ANY

ZONES = ("Europe/Vienna", "America/New_York", "UTC", "GMT+1")


def random_command(  # noqa: PLR0912 - one branch per command
    a: Alliance, data: st.DataObject, people: dict[str, list[uuid.UUID]],
    meetings: list[uuid.UUID], deadlines: list[uuid.UUID],
) -> int:
    """Run one random command; return by how many days to move `now`."""
    draw = data.draw
    action = draw(st.sampled_from([
        "schedule", "schedule", "schedule", "reschedule", "details", "cancel", "cancel",
        "reinstate",
        "rename-person", "rename-organisation", "nominate", "deadline", "deadline",
        "extend", "cancel-deadline", "day",
    ]))
    if action != "schedule" and not meetings and action not in ("day", "deadline") and (
        not action.startswith("rename")
    ):
        action = "schedule"
    day = draw(st.sampled_from(["2023-03-", "2023-03-", "2023-03-", "2024-01-"])) + (
        f"{draw(st.integers(1, 9)):02d}")
    if action == "schedule":
        parent = draw(st.sampled_from([None, None, *meetings]))
        if draw(st.booleans()):
            when: dict[str, Any] = {"first_day": day}
        else:
            when = {"start": f"{day} {draw(st.integers(8, 18)):02d}:00", "end": "19:30",
                    "zone": draw(st.sampled_from(ZONES))}
        meetings.append(a.schedule_meeting(
            title=f"Meeting {len(meetings)}", parent=parent,
            tentative=draw(st.booleans()), **when))
    elif action == "reschedule":
        a.reschedule_meeting(draw(st.sampled_from(meetings)), first_day=day,
                             reason=draw(st.sampled_from(["", "room taken"])))
    elif action == "details":
        a.change_meeting_details(draw(st.sampled_from(meetings)),
                                 title=f"Renamed {draw(st.integers(0, 99))}")
    elif action == "cancel":
        a.cancel_meeting(draw(st.sampled_from(meetings)),
                         reason=draw(st.sampled_from(["", "no quorum"])))
    elif action == "reinstate":
        a.reinstate_meeting(draw(st.sampled_from(meetings)), reason="by mistake")
    elif action == "rename-person":
        person = draw(st.sampled_from(people["persons"]))
        a.log.append(person_stream(person), [PersonDetailsChanged(
            event_id=uuid.uuid4(), person_id=person,
            name=f"Person {draw(st.integers(0, 99))}")], expected_version=ANY)
    elif action == "rename-organisation":
        organisation = draw(st.sampled_from(people["organisations"]))
        a.log.append(organisation_stream(organisation), [OrganisationRegistered(
            event_id=uuid.uuid4(), organisation_id=organisation,
            name=f"Organisation {draw(st.integers(0, 99))}",
            acronym=draw(st.sampled_from(["", "ORG", "NEW"])))], expected_version=ANY)
    elif action == "nominate":
        index = draw(st.integers(0, len(people["persons"]) - 1))
        a.nominate(draw(st.sampled_from(meetings)), person=people["persons"][index],
                   organisation=people["organisations"][index % 2], role="participant")
    elif action == "deadline":
        deadlines.append(a.set_deadline(
            title=f"Deadline {len(deadlines)}",
            due=day if draw(st.booleans()) else f"{day} 17:00",
            meeting=draw(st.sampled_from([None, *meetings])),
            organisation=draw(st.sampled_from([None, *people["organisations"]])),
            public=draw(st.booleans()), reminders=[1]))
    elif action == "extend" and deadlines:
        a.extend_deadline(draw(st.sampled_from(deadlines)), due="2024-02-01")
    elif action == "cancel-deadline" and deadlines:
        a.cancel_deadline(draw(st.sampled_from(deadlines)))
    elif action == "day":
        return draw(st.sampled_from([1, 5, 30, 300, -3]))
    return 0
