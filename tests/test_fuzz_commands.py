"""Every command, given arguments a careless user or program could give: refused with a
library error and nothing written, or accepted, and every reader still works.

Hypothesis picks a command of :class:`~alliance_events.Alliance` and fills each argument
from a pool for its kind: good values (an existing meeting, a valid date) beside wrong
ones (another type, an unknown id, a date in the year 9999, text of 10,000 characters,
``True`` for a count, NUL bytes, an impossible zone). The log is a SQLite file followed by
a feed server running in process, as in production. After each command:

* a refusal raised an :class:`~alliance_events.AllianceEventsError` (never a raw
  ``TypeError``, ``AttributeError``, ``OverflowError``...) and the log's head did not move;
* the state's lists, every registration and history, every audience's feed (parsed back
  by icalendar) and the server's ``/calendar.ics`` and ``/healthz`` still work.

At the end the command line's ``export`` and ``deadline list`` read the log the fuzzing
left behind.
"""

from __future__ import annotations

import datetime as _dt
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pendulum
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from icalendar import Calendar

from alliance_events import Alliance, AllianceEventsError
from alliance_events.ical import Audience, FeedRenderer
from alliance_events.web import create_app

from .helpers import InProcess, running

NOW = pendulum.now("UTC")  # the real clock: windows and deadlines relative to today


class World:
    """A SQLite alliance with something of everything, and a feed server following it."""

    def __init__(self, path: Path, client: InProcess, alliance: Alliance) -> None:
        self.path, self.client, self.alliance = path, client, alliance
        a = alliance
        self.org = a.register_organisation(name="Rural And Urban Aid Nigeria", acronym="RUAN")
        self.person = a.register_person(name="Femi Adeyemi", email="femi@example.org",
                                        organisation=self.org)
        today = NOW.in_timezone("Europe/Vienna").date()
        self.meeting = a.schedule_meeting(
            title="Constructive Dialogue", first_day=today.add(days=30).isoformat())
        a.open_registration(self.meeting, opens=today.subtract(days=1).isoformat(),
                            closes=today.add(days=20).isoformat(), capacity=5,
                            quotas={"speaker": 2})
        self.nomination = a.nominate(self.meeting, organisation=self.org, person=self.person,
                                     role="speaker")
        self.deadline = a.set_deadline(title="Names", due=today.add(days=10).isoformat())
        self.token_id, _ = a.issue_feed_token(self.org)


def _ids(world: World, name: str) -> st.SearchStrategy[Any]:
    known = {"meeting": world.meeting, "parent": world.meeting, "organisation": world.org,
             "person": world.person, "deadline": world.deadline,
             "nomination": world.nomination, "token_id": world.token_id}
    return st.sampled_from([known[name], uuid.uuid4(), str(known[name]), "x", None, 7])


_DATES = st.sampled_from([
    "2030-05-01", "2030-05-01 10:00", "2030-05-01T10:00:00+02:00", "0001-01-01",
    "9999-12-31", "9999-12-31 23:30", "1899-12-31", "2201-01-01", "2030-02-30",
    "2030-03-31 02:30", "2030-10-27 02:30", "", "yesterday", None, 20300501,
    _dt.date(9999, 12, 31), _dt.datetime(2030, 5, 1, 10),  # noqa: DTZ001 - a wall time
    pendulum.date(2030, 5, 2),
    pendulum.datetime(2030, 5, 1, 12, tz="Asia/Tokyo"), _dt.date.max, "16:30",
])
_ZONES = st.sampled_from(["Europe/Vienna", "America/Santiago", "Mars/Olympus", "",
                          "UTC+01:00", "GMT-14", "localtime", "posix/Europe/Vienna", None, 1])
_COUNTS = st.sampled_from([0, 1, 5, -1, True, False, 10**9, 10**30, None, "3", 2.5,
                           float("nan")])
_TEXT = st.sampled_from(["x", "", " ", "a" * 10_000, None, 5, "nul\x00byte", "\ud800",
                         "Grüße 😀", "line\nbreak", "<script>", "https://x.org"]) | st.text(
    max_size=20)
_BOOLS = st.sampled_from([True, False, None, "yes", 1, 0])
_POOLS: dict[str, st.SearchStrategy[Any]] = {
    "zone": _ZONES,
    "capacity": _COUNTS, "funded_places": _COUNTS, "funded_per_delegation": _COUNTS,
    "quotas": st.sampled_from([{"speaker": 1}, {"speaker": True}, {"nobody": 1}, {},
                               {"speaker": -1}, {"speaker": 10**12}, None, [1], "speaker"]),
    "funded_roles": st.sampled_from([["speaker"], ["x"], [], None, "speaker", [None]]),
    "reminders": st.sampled_from([["P7D"], ["P99999999D"], ["-P1D"], "P7D", None, [7],
                                  [_dt.timedelta(days=400)], ["PT1H"], [True]]),
    "attendees": st.sampled_from([[], None, ["x"], [uuid.uuid4()], "x", [(1, 2, 3)]]),
    "role": st.sampled_from(["speaker", "alternate", "chair", "x", None, 3]),
    "kind": st.sampled_from(["informal-meeting", "side-event", "website", "names", "x",
                             None, 3]),
    "disambiguate": st.sampled_from(["earlier", "later", "raise", "x", None]),
    **dict.fromkeys(("member", "tentative", "funded", "public", "funding_requested"), _BOOLS),
    **dict.fromkeys(("since", "day", "opens", "closes", "due", "first_day", "last_day",
                     "start", "end"), _DATES),
    **{name: st.sampled_from([None, uuid.uuid4(), "x"]) for name in (
        "nomination_id", "meeting_id", "organisation_id", "person_id", "deadline_id",
        "request_id")},
}
_REFERENCES = ("meeting", "parent", "organisation", "person", "deadline", "nomination",
               "token_id")
_COMMANDS = [
    "appoint_officer", "attach_link", "cancel_deadline", "cancel_meeting", "change_capacity",
    "change_meeting_details", "change_quota", "change_registration_window",
    "close_registration", "confirm_meeting", "confirm_nomination", "decline_nomination",
    "extend_deadline", "issue_feed_token", "nominate", "open_registration",
    "record_attendance", "record_reminder_sent", "register_organisation", "register_person",
    "reinstate_meeting", "reopen_registration", "request_speaking", "reschedule_meeting",
    "revoke_feed_token", "schedule_meeting", "set_deadline", "set_feed_address",
    "withdraw_nomination",
]


@st.composite
def _call(draw: st.DrawFn, world: World) -> tuple[str, dict[str, Any]]:
    import inspect

    name = draw(st.sampled_from(_COMMANDS))
    arguments: dict[str, Any] = {}
    for parameter in inspect.signature(getattr(Alliance, name)).parameters.values():
        if parameter.name in ("self", "actor", "command_id"):
            continue
        required = parameter.default is inspect.Parameter.empty
        if not required and not draw(st.booleans()):
            continue  # its default
        if parameter.name in _REFERENCES:
            arguments[parameter.name] = draw(_ids(world, parameter.name))
        else:
            arguments[parameter.name] = draw(_POOLS.get(parameter.name, _TEXT))
    return name, arguments


def _readers_work(world: World) -> None:
    alliance = world.alliance
    state = alliance.state
    meetings = alliance.meetings()
    alliance.deadlines()
    for meeting in meetings:
        alliance.registration(meeting.meeting_id)
        alliance.history(meeting.meeting_id)
    renderer = FeedRenderer()
    audiences = [Audience.public(), Audience.secretariat(),
                 *(Audience.organisation(o) for o in list(state.organisations)[:3])]
    for audience in audiences:
        Calendar.from_ical(renderer.render(state, audience, now=NOW).body)
    response = world.client.get("/calendar.ics")
    assert response.status_code == 200, response.text
    Calendar.from_ical(response.content)
    assert world.client.get("/healthz").status_code == 200


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    path = tmp_path_factory.mktemp("fuzz") / "alliance.db"
    with Alliance.open(f"sqlite:///{path}?synchronous=NORMAL") as alliance:
        app = create_app(alliance, poll_interval=0.02)
        with running(app) as client:
            yield World(path, client, alliance)
    cli = [sys.executable, "-m", "alliance_events.cli", "--db", str(path)]
    for args in (["export", "--output", str(path.with_suffix(".ics"))],
                 ["deadline", "list", "--json"], ["meeting", "list", "--json"]):
        result = subprocess.run([*cli, *args], capture_output=True, text=True, check=False)
        assert result.returncode == 0, (args, result.stderr)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_every_command_is_refused_cleanly_or_leaves_every_reader_working(
    world: World, data: st.DataObject
) -> None:
    """Refused with a library error and nothing written, or accepted and readable."""
    name, arguments = data.draw(_call(world), label="command")
    alliance = world.alliance
    head = alliance.log.head()
    refused: AllianceEventsError | None = None
    try:
        getattr(alliance, name)(**arguments)
    except AllianceEventsError as error:
        refused = error
    if refused is not None:
        assert alliance.log.head() == head, f"{name} refused after writing: {refused}"
    _readers_work(world)
