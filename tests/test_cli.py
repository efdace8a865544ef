"""The ``alliance-events`` command line, end to end: the console script in a subprocess.

The minutes' scenario is typed as commands once per module, on a SQLite log in a
temporary folder; the tests then read it back (``--json``), export its calendars, and
check that every refusal is one line naming its rule, with exit status 2, recording
nothing. The scenario keeps the minutes' dates (2023): registration windows that must be
open run to 2099, so that the real clock (which the commands are given at) falls in them.
"""

from __future__ import annotations

import datetime as _dt
import io
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from icalendar import Calendar
from rich.console import Console

from alliance_events import Alliance
from alliance_events.cli import catch_up
from alliance_events.log import open_log

DIALOGUE = "Constructive Dialogue on Firearms"
FIREARMS = "Constructive Dialogue following the Working Group on Firearms"
SIDE_EVENT = "Thematic side event on firearms trafficking"
JUSTICE = "Conversation with the Access to Justice section"
NAMES_DEADLINE = "Names of participants of each delegation"

ORGANISATIONS = [
    ("Alliance of NGOs on Crime Prevention and Criminal Justice", "Alliance"),
    ("Rural And Urban Aid Nigeria", "RUAN"),
    ("Drug Advisory Training Hub", "DATH"),
    ("UNODC Civil Society Unit", "CSU"),
    ("Global Initiative against Transnational Organized Crime", "GI-TOC"),
]
# Invented people: name -> organisation (by acronym).
PERSONS = {
    "Alma Reiter": "Alliance",
    "Femi Adeyemi": "RUAN",
    "Ngozi Okafor": "RUAN",
    "Chidi Eze": "RUAN",
    "Sami Haider": "DATH",
    "Laila Karim": "DATH",
    "Daniel Brooks": "GI-TOC",
    "Elena Novak": "CSU",
}


def _email(name: str) -> str:
    return name.lower().replace(" ", ".") + "@example.org"


def _console_script() -> str:
    script = Path(sys.executable).with_name("alliance-events")
    if script.exists():
        return str(script)
    found = shutil.which("alliance-events")
    if found is None:
        pytest.skip("the alliance-events console script is not installed")
    return found


class Cli:
    """Runs the console script on one log, in one folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.db = folder / "alliance.db"
        self.env = {k: v for k, v in os.environ.items() if k != "ALLIANCE_EVENTS_DB"}
        self.env["COLUMNS"] = "220"  # tables unwrapped, so that their lines can be checked

    def command(self, *args: str) -> list[str]:
        return [_console_script(), "--db", str(self.db), *args]

    def run(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            self.command(*args), cwd=self.folder, env=self.env, capture_output=True,
            text=True, timeout=60, check=False,
        )
        if ok:
            assert result.returncode == 0, (args, result.stderr)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)

    def events(self) -> list[dict[str, Any]]:
        """Every event in the log, read with ``tail --json`` (one object a line)."""
        out = self.run("tail", "--from", "0", "--timeout", "0", "--json").stdout
        return [json.loads(line) for line in out.splitlines()]

    def head(self) -> int:
        """The log's last position (read in this process: cheaper than a subprocess)."""
        with open_log(f"sqlite:///{self.db}") as log:
            return log.head()

    def refused(self, *args: str) -> str:
        """Run a command that must be refused; return its one line on stderr."""
        result = self.run(*args, ok=False)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("refused: ")
        assert "Traceback" not in result.stderr
        assert result.stdout == ""
        return lines[0]


class Scenario:
    """The minutes typed as commands, and what came of them."""

    def __init__(self, cli: Cli) -> None:
        self.cli = cli
        self.ids: dict[str, str] = {}
        self.outputs: dict[str, subprocess.CompletedProcess[str]] = {}
        self.quota_refusal = ""
        self.heads: dict[str, int] = {}

    def record(self) -> None:
        cli, ids = self.cli, self.ids
        assert "created the event log at" in cli.run("init").stdout
        assert cli.db.is_file()
        for name, acronym in ORGANISATIONS:
            ids[acronym] = cli.json("organisation", "add", name, "--acronym", acronym)[
                "organisation_id"
            ]
        for name, organisation in PERSONS.items():
            ids[name] = cli.json(
                "person", "add", name, "--email", _email(name), "--organisation", organisation
            )["person_id"]

        # 22 March, 15:00-16:30 Vienna (GMT+1), and 19 April (summer time).
        ids["march"] = cli.json(
            "meeting", "schedule", "Informal Meeting", "--kind", "informal-meeting",
            "--start", "2023-03-22 15:00", "--end", "16:30", "--zone", "Europe/Vienna",
            "--location", "Vienna International Centre, Room C3",
        )["meeting_id"]
        ids["april"] = cli.json(
            "meeting", "schedule", "Informal Meeting", "--start", "2023-04-19 15:00",
            "--end", "16:30", "--at", "2023-03-10",
        )["meeting_id"]
        # "Registration is already open": it was, until noon on the day (recorded now,
        # as in effect from 15 March: a window wholly past is refused without --at).
        cli.run("registration", "open", ids["april"], "--opens", "2023-03-15 09:00",
                "--closes", "2023-04-19 12:00", "--at", "2023-03-15 09:00")
        # "maybe a week before, subject to availability": tentative, then moved and confirmed.
        cli.run("meeting", "schedule", JUSTICE, "--kind", "briefing", "--start",
                "2023-04-12 15:00", "--end", "16:00", "--tentative")
        cli.run("meeting", "reschedule", JUSTICE, "--start", "2023-04-13 15:00", "--end",
                "16:00", "--reason", "the section is available on Thursday")
        cli.run("meeting", "confirm", JUSTICE)
        # A night call in the summer-time gap, with an explicit choice.
        ids["night"] = cli.json(
            "meeting", "schedule", "Night call", "--start", "2023-03-26 02:30", "--end",
            "04:00", "--disambiguate", "later",
        )["meeting_id"]

        # The firearms dialogue: a two-day event with a child per day, a session, a side event.
        ids["firearms"] = cli.json(
            "meeting", "schedule", FIREARMS, "--kind", "constructive-dialogue",
            "--first-day", "2023-05-04", "--last-day", "2023-05-05",
        )["meeting_id"]
        cli.run("meeting", "schedule", "Stakeholders' preparatory day", "--kind",
                "preparatory-day", "--first-day", "2023-05-04", "--parent", FIREARMS)
        ids["dialogue"] = cli.json(
            "meeting", "schedule", DIALOGUE, "--kind", "constructive-dialogue",
            "--first-day", "2023-05-05", "--parent", FIREARMS,
        )["meeting_id"]
        cli.run("meeting", "schedule", "Morning session", "--kind", "session", "--start",
                "2023-05-05 10:00", "--end", "13:00", "--parent", DIALOGUE)
        cli.run("meeting", "schedule", SIDE_EVENT, "--kind", "side-event", "--start",
                "2023-05-05 13:15", "--end", "14:45", "--parent", FIREARMS, "--tentative")

        # One speaker and one alternate per delegation, room capacity 4.
        cli.run("registration", "open", DIALOGUE, "--opens", "2023-03-21 10:00",
                "--closes", "2099-12-31", "--capacity", "4", "--quota", "speaker=1",
                "--quota", "alternate=1", "--funded-role", "speaker", "--funded-role",
                "alternate", "--funded-places", "4")
        cli.run("nominate", DIALOGUE, "Femi Adeyemi", "--role", "speaker", "--funding")
        cli.run("nominate", DIALOGUE, "Ngozi Okafor", "--role", "alternate", "--funding")
        self.heads["before-quota"] = len(cli.events())
        self.quota_refusal = cli.refused("nominate", DIALOGUE, "Chidi Eze", "--role", "speaker")
        self.heads["after-quota"] = len(cli.events())
        cli.run("nominate", DIALOGUE, "Sami Haider", "--role", "speaker", "--funding")
        cli.run("nominate", DIALOGUE, "Elena Novak", "--role", "expert")
        laila = cli.json("nominate", DIALOGUE, "Laila Karim", "--role", "participant")
        assert (laila["status"], laila["waiting_position"]) == ("waitlisted", 1)
        cli.run("nominate", DIALOGUE, "Daniel Brooks", "--role", "participant",
                "--organisation", "GI-TOC")
        cli.run("confirm-nomination", DIALOGUE, "Femi Adeyemi", "--funded")
        cli.run("confirm-nomination", DIALOGUE, "Ngozi Okafor", "--funded")
        cli.run("confirm-nomination", DIALOGUE, "Elena Novak")

        # "send the names of participants ... by the 1st of May", with reminders.
        cli.run("deadline", "set", NAMES_DEADLINE, "--due", "2023-05-01", "--kind", "names",
                "--meeting", DIALOGUE, "--reminder", "P7D", "--reminder", "P1D")
        self.heads["before-capacity"] = cli.head()
        # "could be some opportunity to accommodate more people".
        self.outputs["capacity"] = cli.run("registration", "capacity", DIALOGUE, "5")
        cli.run("meeting", "cancel", SIDE_EVENT, "--reason", "no room during the lunch break")


@pytest.fixture(scope="module")
def scenario(tmp_path_factory: pytest.TempPathFactory) -> Scenario:
    """The scenario, recorded once for the module."""
    story = Scenario(Cli(tmp_path_factory.mktemp("cli")))
    story.record()
    return story


def _utc(text: str) -> _dt.datetime:
    return _dt.datetime.fromisoformat(text).astimezone(_dt.UTC)


class TestScenario:
    """The scenario as the read commands show it."""

    def test_refused_third_speaker_names_the_quota_and_records_nothing(
        self, scenario: Scenario
    ) -> None:
        """A third speaker of RUAN: one line with '[rule: quota]', the log unchanged."""
        assert "[rule: quota]" in scenario.quota_refusal
        assert "RUAN" in scenario.quota_refusal
        assert scenario.heads["before-quota"] == scenario.heads["after-quota"]
        view = scenario.cli.json("registration", "show", DIALOGUE)
        persons = [d["person"] for g in view["delegations"] for d in g["delegates"]]
        assert "Chidi Eze" not in persons

    def test_registration_as_json(self, scenario: Scenario) -> None:
        """Delegations by organisation, statuses, waiting list, funding, seats, deadline."""
        view = scenario.cli.json("registration", "show", DIALOGUE)
        assert view["meeting"]["meeting_id"] == scenario.ids["dialogue"]
        statuses = {
            d["person"]: (g["organisation"], d["role"], d["status"], d["waiting_position"])
            for g in view["delegations"]
            for d in g["delegates"]
        }
        assert statuses == {
            "Femi Adeyemi": ("RUAN", "speaker", "confirmed", None),
            "Ngozi Okafor": ("RUAN", "alternate", "confirmed", None),
            "Sami Haider": ("DATH", "speaker", "nominated", None),
            "Elena Novak": ("CSU", "expert", "confirmed", None),
            "Laila Karim": ("DATH", "participant", "nominated", None),
            "Daniel Brooks": ("GI-TOC", "participant", "waitlisted", 1),
        }
        assert (view["capacity"], view["seats_taken"], view["seats_free"]) == (5, 5, 0)
        assert (view["funded_used"], view["funded_places"]) == (2, 4)
        assert view["window"] == "open"
        assert [(d["title"], d["status"]) for d in view["deadlines"]] == [
            (NAMES_DEADLINE, "overdue")
        ]
        uuid.UUID(view["deadlines"][0]["deadline_id"])
        assert _dt.datetime.fromisoformat(view["deadlines"][0]["due"]).utcoffset() is not None

    def test_capacity_change_seated_the_first_waiting(self, scenario: Scenario) -> None:
        """Capacity 4 -> 5: the command says who moved up from the waiting list."""
        assert "seated from the waiting list: Laila Karim" in scenario.outputs["capacity"].stdout

    def test_as_of_a_position_shows_the_waiting_list_before(self, scenario: Scenario) -> None:
        """--as-of the position before the capacity change: Laila still waiting, #1."""
        view = scenario.cli.json(
            "registration", "show", DIALOGUE, "--as-of", str(scenario.heads["before-capacity"])
        )
        waiting = [(d["person"], d["waiting_position"]) for d in view["waiting_list"]]
        assert waiting == [("Laila Karim", 1), ("Daniel Brooks", 2)]
        assert view["capacity"] == 4

    def test_registration_table(self, scenario: Scenario) -> None:
        """The table shows delegations, statuses with waiting positions, seats, deadlines."""
        out = scenario.cli.run("registration", "show", DIALOGUE).stdout
        for text in ("RUAN", "Femi Adeyemi", "confirmed", "funded", "waitlisted #1",
                     "5/5 taken", "1 speaker, 1 alternate", "overdue", "registration open"):
            assert text in out, text

    def test_meeting_list_as_json(self, scenario: Scenario) -> None:
        """Times in ISO with their zone; UTC right across summer time; statuses."""
        meetings = scenario.cli.json("meeting", "list")
        by_id = {m["meeting_id"]: m for m in meetings}
        march, april = by_id[scenario.ids["march"]], by_id[scenario.ids["april"]]
        assert march["when"]["zone"] == "Europe/Vienna"
        assert _utc(march["when"]["start"]).time() == _dt.time(14, 0)
        assert _utc(april["when"]["start"]).time() == _dt.time(13, 0)
        night = by_id[scenario.ids["night"]]
        assert night["when"]["start"] == "2023-03-26T03:30:00+02:00"
        by_title = {m["title"]: m for m in meetings}
        assert by_title[SIDE_EVENT]["status"] == "cancelled"
        assert by_title[JUSTICE]["status"] == "confirmed"
        assert by_title[JUSTICE]["when"]["start"].startswith("2023-04-13T15:00")
        assert by_title[JUSTICE]["sequence"] > 0
        assert by_title[FIREARMS]["when"] == {
            "type": "all-day", "first_day": "2023-05-04", "last_day": "2023-05-05"
        }

    def test_meeting_list_filters(self, scenario: Scenario) -> None:
        """--parent lists the parts; --no-cancelled leaves the side event out."""
        parts = scenario.cli.json("meeting", "list", "--parent", FIREARMS)
        assert {m["title"] for m in parts} == {
            "Stakeholders' preparatory day", DIALOGUE, SIDE_EVENT
        }
        live = scenario.cli.json("meeting", "list", "--parent", FIREARMS, "--no-cancelled")
        assert SIDE_EVENT not in {m["title"] for m in live}

    def test_meeting_show_as_json(self, scenario: Scenario) -> None:
        """The dialogue: its parent, its session, its registration and deadline."""
        shown = scenario.cli.json("meeting", "show", DIALOGUE)
        assert shown["parent_id"] == scenario.ids["firearms"]
        assert len(shown["children"]) == 1
        assert shown["registration"]["capacity"] == 5
        assert shown["deadlines"][0]["title"] == NAMES_DEADLINE

    def test_meeting_show_by_id_and_table(self, scenario: Scenario) -> None:
        """An id names one of two meetings with the same title."""
        out = scenario.cli.run("meeting", "show", scenario.ids["march"]).stdout
        assert "22 Mar 2023 15:00-16:30 Europe/Vienna" in out
        assert "Room C3" in out

    def test_history(self, scenario: Scenario) -> None:
        """The audit trail in words, in order; --as-of stops it earlier."""
        entries = scenario.cli.json("history", DIALOGUE)
        texts = [e["text"] for e in entries]
        assert texts[0].startswith("scheduled constructive-dialogue")
        assert any("gave a seat to Laila Karim" in t for t in texts)
        positions = [e["position"] for e in entries]
        assert positions == sorted(positions)
        earlier = scenario.cli.json(
            "history", DIALOGUE, "--as-of", str(scenario.heads["before-capacity"])
        )
        assert len(earlier) < len(entries)
        assert not any("gave a seat" in e["text"] for e in earlier)
        table = scenario.cli.run("history", DIALOGUE).stdout
        assert "changed the capacity to 5" in table

    def test_deadline_list(self, scenario: Scenario) -> None:
        """The names deadline: overdue, with its meeting and reminders."""
        deadlines = scenario.cli.json("deadline", "list", "--meeting", DIALOGUE)
        assert [(d["title"], d["kind"], d["status"]) for d in deadlines] == [
            (NAMES_DEADLINE, "names", "overdue")
        ]
        assert deadlines[0]["meeting_id"] == scenario.ids["dialogue"]
        assert len(deadlines[0]["reminders"]) == 2
        assert "│ 1 May 2023 " in scenario.cli.run("deadline", "list").stdout  # as typed

    def test_deadline_extend_and_cancel(self, scenario: Scenario) -> None:
        """A stand-alone deadline named by its title: extended, then cancelled."""
        cli = scenario.cli
        cli.run("deadline", "set", "Call for nominations", "--due", "2023-04-14 17:00")
        cli.run("deadline", "extend", "Call for nominations", "--due", "2023-04-21 17:00")
        extended = next(d for d in cli.json("deadline", "list")
                        if d["title"] == "Call for nominations")
        assert extended["extensions"] == 1
        assert extended["due"].startswith("2023-04-21T17:00")
        cli.run("deadline", "cancel", "Call for nominations")
        assert "Call for nominations" not in {d["title"] for d in cli.json("deadline", "list")}
        every = cli.json("deadline", "list", "--cancelled")
        assert {d["title"]: d["status"] for d in every}["Call for nominations"] == "cancelled"

    def test_registration_list(self, scenario: Scenario) -> None:
        """The meetings with a registration: April's (closed) and the dialogue's (open)."""
        views = scenario.cli.json("registration", "list")
        assert {v["meeting"]["meeting_id"]: v["window"] for v in views} == {
            scenario.ids["april"]: "closed", scenario.ids["dialogue"]: "open"
        }

    def test_directory_lists(self, scenario: Scenario) -> None:
        """Organisations and persons as JSON, with ids as text."""
        organisations = scenario.cli.json("organisation", "list")
        assert {o["acronym"] for o in organisations} >= {a for _, a in ORGANISATIONS}
        persons = scenario.cli.json("person", "list", "--organisation", "RUAN")
        assert {p["name"] for p in persons} == {"Femi Adeyemi", "Ngozi Okafor", "Chidi Eze"}
        assert all(uuid.UUID(p["person_id"]) for p in persons)


# -- refusals -------------------------------------------------------------------------

REFUSALS = {
    "unknown meeting": (("meeting", "confirm", "Annual Gala"), "unknown-meeting"),
    "DST gap": (
        ("meeting", "schedule", "Night call 2", "--start", "2023-03-26 02:30", "--end", "03:30"),
        "nonexistent-time",
    ),
    "end before start": (
        ("meeting", "schedule", "Backwards", "--start", "2023-04-19 15:00", "--end", "14:00"),
        "time",
    ),
    "unknown zone": (
        ("meeting", "schedule", "Nowhere", "--start", "2023-04-19 15:00", "--end", "16:00",
         "--zone", "Europe/Atlantis"),
        "time",
    ),
    "ambiguous title": (("meeting", "show", "Informal Meeting"), "ambiguous-meeting"),
    "unknown organisation": (
        ("person", "add", "Nobody", "--organisation", "Nowhere Institute"),
        "unknown-organisation",
    ),
    "unknown person": (("nominate", DIALOGUE, "Nobody", "--role", "participant"),
                       "unknown-person"),
    "nomination after the names deadline": (
        ("nominate", DIALOGUE, "Chidi Eze", "--role", "participant"), "deadline-passed"
    ),
    "nomination when the window is closed": (
        ("nominate", "{april}", "Chidi Eze", "--role", "participant"), "registration-closed"
    ),
    "capacity below the confirmed": (("registration", "capacity", DIALOGUE, "2"), "capacity"),
    "confirming a cancelled meeting": (("meeting", "confirm", SIDE_EVENT), None),
    "registration opened twice": (
        ("registration", "open", DIALOGUE, "--opens", "2023-03-21", "--closes", "2099-12-31"),
        "registration-exists",
    ),
    "unreadable --as-of": (("meeting", "list", "--as-of", "last Tuesday"), "as-of"),
    "export for an unknown organisation": (
        ("export", "--audience", "organisation:Nowhere", "-o", "never.ics"),
        "unknown-organisation",
    ),
}


class TestRefusals:
    """Every refusal: exit status 2, one line on stderr naming the rule, nothing recorded."""

    @pytest.mark.parametrize(("args", "rule"), list(REFUSALS.values()), ids=list(REFUSALS))
    def test_refused(self, scenario: Scenario, args: tuple[str, ...], rule: str | None) -> None:
        """The command is refused with its rule named, and the log does not move."""
        cli = scenario.cli
        before = cli.head()
        line = cli.refused(*(a.format(**scenario.ids) for a in args))
        if rule is not None:
            assert line.endswith(f"[rule: {rule}]"), line
        else:
            assert "[rule: " in line
        assert cli.head() == before

    def test_ambiguous_title_lists_the_candidates(self, scenario: Scenario) -> None:
        """Both informal meetings are in the refusal, by day and ref, to name one by."""
        line = scenario.cli.refused("meeting", "show", "Informal Meeting")
        with Alliance.open(f"sqlite:///{scenario.cli.db}") as alliance:
            refs = alliance.references("meeting")
        for key, day in (("march", "2023-03-22"), ("april", "2023-04-19")):
            ref = refs[uuid.UUID(scenario.ids[key])]
            assert f"'Informal Meeting' {day} 15:00 (ref {ref})" in line

    @pytest.mark.parametrize(
        "args",
        [
            ("meeting", "schedule"),
            ("registration", "open", DIALOGUE, "--opens", "2023-03-21", "--closes",
             "2099-12-31", "--quota", "speaker"),
            ("export", "--audience", "friends", "-o", "x.ics"),
            ("meeting", "schedule", "X", "--start", "2023-03-26 02:30", "--end", "04:00",
             "--disambiguate", "sometime"),
            ("nominate", DIALOGUE, "Chidi Eze", "--role", "mascot"),
            ("no-such-command",),
        ],
        ids=["missing title", "bad quota", "bad audience", "bad disambiguate", "bad role",
             "unknown command"],
    )
    def test_usage_error_exits_2(self, scenario: Scenario, args: tuple[str, ...]) -> None:
        """A usage error: one line naming it and the command's --help, exit status 2,
        nothing recorded."""
        cli = scenario.cli
        before = cli.head()
        result = cli.run(*args, ok=False)
        assert result.returncode == 2
        [line] = result.stderr.splitlines()
        assert line.startswith("usage: ")
        assert line.endswith(" --help')")
        assert cli.head() == before


# -- export ---------------------------------------------------------------------------


def _events(path: Path) -> dict[str, list[Any]]:
    calendar = Calendar.from_ical(path.read_bytes())
    found: dict[str, list[Any]] = {}
    for component in calendar.walk("VEVENT"):
        found.setdefault(str(component["SUMMARY"]), []).append(component)
    return found


def _start_utc(component: Any) -> _dt.datetime:
    start = component.decoded("DTSTART")
    assert isinstance(start, _dt.datetime)
    return start.astimezone(_dt.UTC)


class TestExport:
    """``export`` per audience, checked by parsing the .ics with icalendar."""

    def test_public(self, scenario: Scenario) -> None:
        """Every meeting, the right UTC times across summer time, and nobody's name."""
        target = scenario.cli.folder / "public.ics"
        report = scenario.cli.json("export", "--audience", "public", "-o", str(target))
        assert report["audience"] == "public"
        events = _events(target)
        assert report["items"] == sum(len(v) for v in events.values())
        informal = sorted(_start_utc(e) for e in events["Informal Meeting"])
        assert informal == [
            _dt.datetime(2023, 3, 22, 14, 0, tzinfo=_dt.UTC),
            _dt.datetime(2023, 4, 19, 13, 0, tzinfo=_dt.UTC),
        ]
        assert _start_utc(events["Night call"][0]) == _dt.datetime(
            2023, 3, 26, 1, 30, tzinfo=_dt.UTC
        )
        assert {FIREARMS, DIALOGUE, "Morning session", JUSTICE} <= set(events)
        assert events[FIREARMS][0].decoded("DTSTART") == _dt.date(2023, 5, 4)
        assert events[FIREARMS][0].decoded("DTEND") == _dt.date(2023, 5, 6)  # exclusive
        body = target.read_text()
        for name in PERSONS:
            assert name not in body
            assert _email(name) not in body

    def test_secretariat_sees_the_delegates(self, scenario: Scenario) -> None:
        """The secretariat's calendar names the delegates."""
        target = scenario.cli.folder / "secretariat.ics"
        scenario.cli.run("export", "--audience", "secretariat", "-o", str(target))
        body = Calendar.from_ical(target.read_bytes()).to_ical().decode()
        assert "Femi Adeyemi" in body.replace("\r\n ", "")
        assert "Sami Haider" in body.replace("\r\n ", "")

    def test_organisation_sees_its_own_delegation_only(self, scenario: Scenario) -> None:
        """RUAN's calendar: its delegates, not DATH's."""
        target = scenario.cli.folder / "ruan.ics"
        scenario.cli.run("export", "--audience", "organisation:RUAN", "-o", str(target))
        body = target.read_text().replace("\r\n ", "")
        assert "Femi Adeyemi" in body
        assert "Sami Haider" not in body
        assert DIALOGUE in body

    def test_refused_export_writes_nothing(self, scenario: Scenario) -> None:
        """A refused export leaves an existing file as it was and no temporary file."""
        folder = scenario.cli.folder
        target = folder / "kept.ics"
        target.write_bytes(b"old contents")
        before = sorted(p.name for p in folder.iterdir())
        scenario.cli.refused("export", "--audience", "organisation:Nowhere", "-o", str(target))
        assert target.read_bytes() == b"old contents"
        assert not (folder / "never.ics").exists()
        assert sorted(p.name for p in folder.iterdir()) == before

    def test_export_replaces_a_file_whole(self, scenario: Scenario) -> None:
        """An existing file is replaced by the whole feed; no temporary file is left."""
        folder = scenario.cli.folder
        target = folder / "replaced.ics"
        target.write_bytes(b"old contents")
        scenario.cli.run("export", "-o", str(target))
        assert target.read_bytes().startswith(b"BEGIN:VCALENDAR")
        assert not [p for p in folder.iterdir() if p.name.endswith(".tmp")]


# -- tail and tokens ------------------------------------------------------------------


class TestTail:
    """``tail``: the log's events, one line each, bounded for tests."""

    def test_from_and_limit(self, scenario: Scenario) -> None:
        """--from 0 --limit 3: the first three events, as JSON lines."""
        out = scenario.cli.run("tail", "--from", "0", "--limit", "3", "--json").stdout
        lines = [json.loads(line) for line in out.splitlines()]
        assert [e["position"] for e in lines] == [1, 2, 3]
        assert {e["type"] for e in lines} == {"OrganisationRegistered"}
        assert lines[0]["event"]["name"] == ORGANISATIONS[0][0]
        _dt.datetime.fromisoformat(lines[0]["recorded_at"])

    def test_text_lines(self, scenario: Scenario) -> None:
        """Without --json: one line per event, position first."""
        out = scenario.cli.run("tail", "--from", "1", "--limit", "2").stdout.splitlines()
        assert len(out) == 2
        assert out[0].split()[0] == "2"
        assert "PersonRegistered" in out[-1] or "OrganisationRegistered" in out[-1]

    def test_follows_new_events(self, scenario: Scenario) -> None:
        """A running tail prints an event appended after it started."""
        cli = scenario.cli
        head = cli.head()
        follower = subprocess.Popen(
            cli.command("tail", "--from", str(head), "--limit", "1", "--timeout", "30",
                        "--interval", "0.05", "--json"),
            cwd=cli.folder, env=cli.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True,
        )
        try:
            time.sleep(0.3)
            cli.run("organisation", "add", "Academy of Criminal Justice Sciences",
                    "--acronym", "ACJS")
            out, err = follower.communicate(timeout=30)
        finally:
            if follower.poll() is None:
                follower.kill()
        assert follower.returncode == 0, err
        event = json.loads(out)
        assert (event["position"], event["type"]) == (head + 1, "OrganisationRegistered")
        assert event["event"]["acronym"] == "ACJS"

    def test_timeout_with_nothing_new(self, scenario: Scenario) -> None:
        """No new events: --timeout ends it with nothing printed."""
        result = scenario.cli.run("tail", "--timeout", "0.2")
        assert result.stdout == ""


class TestTokens:
    """``token issue`` shows the token once; ``token revoke`` closes the feed."""

    def test_issue_then_revoke(self, scenario: Scenario) -> None:
        """The issued token opens RUAN's feed until it is revoked."""
        cli = scenario.cli
        unset = cli.run("token", "issue", "RUAN", "--json")
        assert json.loads(unset.stdout)["feed_url"].startswith("/o/")
        assert "no feed address is set" in unset.stderr
        cli.refused("settings", "feed-address", "ftp://events.example.org")
        cli.run("settings", "feed-address", "https://Events.Example.org/")
        assert cli.json("settings", "feed-address")["feed_address"] == (
            "https://events.example.org")
        result = cli.run("token", "issue", "RUAN", "--label", "test", "--json")
        issued = json.loads(result.stdout)
        assert "shown only this once" in result.stderr
        token = issued["token"]
        assert issued["feed_url"] == f"https://events.example.org/o/{token}/calendar.ics"
        assert issued["page_url"] == f"https://events.example.org/o/{token}/"
        cli.run("token", "revoke", "RUAN", "--token", json.loads(unset.stdout)["token"])
        ruan = uuid.UUID(scenario.ids["RUAN"])
        with Alliance.open(f"sqlite:///{cli.db}") as alliance:
            assert alliance.organisation_for_token(token) == ruan
        assert cli.json("token", "list", "RUAN")["token_ids"] == [issued["token_id"]]
        text = cli.run("token", "issue", "RUAN").stdout
        assert "/o/" in text
        cli.refused("token", "revoke", "RUAN")  # two live tokens: name one
        cli.run("token", "revoke", "RUAN", "--token", token)
        with Alliance.open(f"sqlite:///{cli.db}") as alliance:
            assert alliance.organisation_for_token(token) is None
        cli.run("token", "revoke", "RUAN")  # the only one left
        assert cli.json("token", "list", "RUAN")["token_ids"] == []


def _commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[str, Any]]:
    for name, command in group.commands.items():
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))
        else:
            yield " ".join((*path, name)), command


class TestCommandIds:
    """Every command that records takes ``--command-id``; a retry with it records once."""

    def test_every_recording_command_takes_a_command_id(self) -> None:
        """A command whose body records (passes recorded_as) has the option, and only those."""
        import inspect

        from alliance_events.cli import main

        records = ("recorded_as(", "_on_nomination(")  # the latter passes recorded_as
        recording = {name for name, command in _commands(main)
                     if any(r in inspect.getsource(command.callback) for r in records)}
        with_option = {name for name, command in _commands(main)
                       if any("--command-id" in p.opts for p in command.params)}
        assert len(recording) >= 20
        assert with_option == recording

    def test_retry_records_once_and_other_content_is_refused(self, scenario: Scenario) -> None:
        """The same --command-id twice: one event; with other content: refused, naming it."""
        cli = scenario.cli
        command_id = str(uuid.uuid4())
        cli.run("organisation", "add", "Vienna NGO Committee", "--acronym", "VNC",
                "--command-id", command_id)
        head = cli.head()
        again = cli.run("organisation", "add", "Vienna NGO Committee", "--acronym", "VNC",
                        "--command-id", command_id)
        assert cli.head() == head
        assert again.stdout
        line = cli.refused("organisation", "add", "Another Committee", "--command-id",
                           command_id)
        assert f"command id {command_id} was used already" in line
        assert "[rule: command-id]" in line
        cli.run("organisation", "add", "Another Committee", "--command-id", "not-a-uuid",
                ok=False)
        assert cli.head() == head


class TestInit:
    """``init`` says where the log is, and leaves an existing one alone."""

    def test_db_url_and_second_init(self, tmp_path: Path) -> None:
        """--db as a sqlite:/// URL; a second init says it exists."""
        cli = Cli(tmp_path)
        url = f"sqlite:///{tmp_path / 'other.db'}"
        first = subprocess.run([_console_script(), "--db", url, "init"], env=cli.env,
                               capture_output=True, text=True, check=False)
        assert first.returncode == 0, first.stderr
        assert (tmp_path / "other.db").is_file()
        again = subprocess.run([_console_script(), "--db", url, "init"], env=cli.env,
                               capture_output=True, text=True, check=False)
        assert "exists already (0 events)" in again.stdout


# -- the progress bar (in process) ----------------------------------------------------


class _Log:
    def __init__(self, head: int) -> None:
        self._head = head

    def head(self) -> int:
        return self._head


class _Application:
    """Stands in for an Alliance behind by ``head`` records."""

    def __init__(self, head: int) -> None:
        self.log = _Log(head)

    def catch_up(self, *, progress: Any = None) -> int:
        head = self.log.head()
        if progress is not None:
            for position in range(10_000, head + 1, 10_000):
                progress(position)
        return head


class TestProgress:
    """The catch-up shows a progress bar only on a large log, never on stdout."""

    def test_large_log_shows_progress(self) -> None:
        """50,000 records behind: the bar is drawn (on the console it is given)."""
        screen = io.StringIO()
        output = Console(file=screen, force_terminal=True, width=100)
        assert catch_up(_Application(50_000), output=output) == 50_000  # type: ignore[arg-type]
        assert "reading the log" in screen.getvalue()

    def test_small_log_shows_nothing(self) -> None:
        """Below the threshold, or with show=False: nothing at all."""
        screen = io.StringIO()
        output = Console(file=screen, force_terminal=True)
        catch_up(_Application(20_000), output=output)  # type: ignore[arg-type]
        catch_up(_Application(50_000), output=output, show=False)  # type: ignore[arg-type]
        assert screen.getvalue() == ""
