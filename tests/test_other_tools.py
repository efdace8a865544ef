"""Other tools' events in the same log: read everywhere, never in the way.

The minutes tool (``tests/minutes_tool``, installed by the README's test command) appends
its own events (``minutes.MinutesApproved`` at schema 1 and 2, and
``minutes.ActionItemRecorded``) to the same SQLite and PostgreSQL logs as the library, some
in a meeting's own stream; a record of a type no package defines (``ghost.Haunted``) is
appended raw. Then, in a process that does not know those types (the default registry in
process; the command line with the tool's entry point hidden), everything keeps working and
says once how many records it skipped; with the tool installed they decode. The calendars
are those of a twin log that holds the same library story and nothing else.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pendulum
import pytest

from alliance_events import (
    ANY,
    Alliance,
    EventRegistry,
    OpaqueEvent,
    UndecodableRecordError,
    library_registry,
    new_id,
    open_log,
)
from alliance_events.ical import Audience, FeedRenderer
from alliance_events.projections.runner import ProjectionRunner

try:
    from minutes_tool import ActionItemRecorded, Minutes, MinutesApproved, minutes_registry
except ImportError:  # pragma: no cover - the README's test command installs it
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        raise
    pytest.skip("tests/minutes_tool is not installed: pip install -e tests/minutes_tool",
                allow_module_level=True)

from .helpers import postgres_dsn
from .library_story import DIALOGUE, Story, first_half, open_story, second_half

FOREIGN = {"minutes.ActionItemRecorded": 1, "minutes.MinutesApproved": 2}
AS_OF = "2023-06-01T00:00:00+00:00"
NOW = pendulum.datetime(2023, 4, 1, 12, tz="UTC")
GHOST = '{"boo":  [1, 2.50, "\\u00e9"], "z": null}'

# The command line with the entry points of alliance_events.event_types replaced: none at
# all (a process where the minutes tool is not installed), or those given as JSON.
HIDE_PLUGINS = """
import importlib.metadata as metadata, json, os, sys
real = metadata.entry_points
extra = [metadata.EntryPoint(name, value, "alliance_events.event_types")
         for name, value in json.loads(os.environ.get("TEST_ENTRY_POINTS", "[]"))]
def entry_points(**kwargs):
    if kwargs.get("group") == "alliance_events.event_types":
        return extra
    return real(**kwargs)
metadata.entry_points = entry_points
from alliance_events.cli import main
sys.argv[0] = "alliance-events"
main()
"""


# -- the logs ----------------------------------------------------------------------------


@attrs.frozen
class Logs:
    """The shared log (the library's story and the other tools' records) and its twin."""

    shared: str
    twin: str
    meeting: uuid.UUID
    folder: Path


def _pg_urls(count: int) -> Iterator[list[str]]:
    import psycopg

    dsn = postgres_dsn()
    schemas = [f"ae_test_{uuid.uuid4().hex[:12]}" for _ in range(count)]
    separator = "&" if "?" in dsn else "?"
    yield [f"{dsn}{separator}schema={schema}" for schema in schemas]
    with psycopg.connect(dsn, autocommit=True) as connection:
        for schema in schemas:
            connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _record_foreign(url: str, story: Story) -> None:
    """The minutes tool appends, with the story's clock: an old and a new approval, an item."""
    with Minutes.open(url, clock=story.clock) as minutes:
        minutes.approve_as_version_1(story.meeting, on="2023-03-22", chair="Alma Reiter")
        story.clock.advance(minutes=5)
        minutes.approve(story.meeting, on="2023-03-23", by="Alma Reiter", corrections=2)
        minutes.record_action(story.meeting, text="Send the list of speakers", owner="CSU",
                              due="2023-04-20")


@pytest.fixture(params=["sqlite", "postgres"])
def logs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Logs]:
    """The story in two logs; in the shared one, the minutes tool writes between its halves."""
    if request.param == "sqlite":
        shared, twin = f"sqlite:///{tmp_path / 'shared.db'}", f"sqlite:///{tmp_path / 'twin.db'}"
        pairs: Iterator[list[str]] | None = None
    else:
        pairs = _pg_urls(2)
        shared, twin = next(pairs)
    try:
        story = open_story(shared)
        first_half(story)
        _record_foreign(shared, story)
        second_half(story)
        story.alliance.close()
        other = open_story(twin)
        first_half(other)
        other.clock.advance(minutes=5)
        second_half(other)
        other.alliance.close()
        yield Logs(shared, twin, story.meeting, tmp_path)
    finally:
        if pairs is not None:
            next(pairs, None)


def haunt(url: str, data: str = GHOST) -> None:
    """Append a record of a type no package defines, as some tool wrote it."""
    with open_log(url) as log:
        log.append("ghosts", [OpaqueEvent(event_id=new_id(), type_name="ghost.Haunted", schema=1,
                                          data=data)],
                   expected_version=log.stream_version("ghosts"))


# -- the command line --------------------------------------------------------------------


def _script() -> str:
    return str(Path(sys.executable).with_name("alliance-events"))


def cli(
    logs: Logs, *args: str, db: str | None = None, plugins: bool = True,
    entry_points: list[tuple[str, str]] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run the command line on the shared log (or ``db``); without the tool if asked."""
    env = {k: v for k, v in os.environ.items() if k != "ALLIANCE_EVENTS_DB"}
    env["COLUMNS"] = "200"
    head = [_script()]
    if not plugins or entry_points is not None:
        head = [sys.executable, "-c", HIDE_PLUGINS]
        env["TEST_ENTRY_POINTS"] = json.dumps(entry_points or [])
    return subprocess.run(
        [*head, "--db", db or logs.shared, *args], cwd=logs.folder, env=env,
        capture_output=True, text=True, timeout=60, check=False,
    )


def notes(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("note: skipped")]


def note_for(counts: dict[str, int]) -> str:
    total = sum(counts.values())
    listed = ", ".join(f"{name} \u00d7{n}" for name, n in sorted(counts.items()))
    return (f"note: skipped {total} record{'s' if total > 1 else ''} of types this tool does "
            f"not know ({listed}); install the tool that defines them")


# -- in process, without the tool ---------------------------------------------------------


class NominationsPerOrganisation:
    """The projection of the how-to: nominations per organisation, withdrawn ones aside."""

    def initial(self) -> dict[str, Any]:
        return {"by_nomination": {}, "count": {}}

    def apply(self, state: dict[str, Any], record: Any) -> dict[str, Any]:
        event = record.event
        if record.type == "DelegateNominated":
            state["by_nomination"][event.nomination_id] = event.organisation_id
            state["count"][event.organisation_id] = state["count"].get(event.organisation_id, 0) + 1
        elif record.type == "NominationWithdrawn":
            state["count"][state["by_nomination"][event.nomination_id]] -= 1
        return state

    def copy(self, state: dict[str, Any]) -> dict[str, Any]:
        return {"by_nomination": dict(state["by_nomination"]), "count": dict(state["count"])}


def _calendar(state: Any) -> dict[str, Any]:
    """What the state says of the calendar: everything but the log's position."""
    seen = {
        name: getattr(state, name)
        for name in ("meetings", "deadlines", "organisations", "persons", "bodies", "children",
                     "feed_tokens", "moved_at", "feed_settings")
    }
    seen["touched"] = {key: (t.created, t.modified) for key, t in state.touched.items()}
    return seen


class TestInProcessWithoutTheTool:
    def test_state_and_projections_ignore_them_and_count_them(self, logs: Logs) -> None:
        """The library's state is the twin's; the runner counts the records it skipped."""
        haunt(logs.shared)
        with Alliance.open(logs.shared) as alliance, Alliance.open(logs.twin) as twin:
            assert _calendar(alliance.state) == _calendar(twin.state)
            assert alliance.state.position == alliance.log.head() == twin.log.head() + 4
            assert dict(alliance.unknown_types) == {**FOREIGN, "ghost.Haunted": 1}
            assert dict(twin.unknown_types) == {}
            runner = ProjectionRunner(alliance.log, NominationsPerOrganisation())
            other = ProjectionRunner(twin.log, NominationsPerOrganisation())
            assert runner.catch_up() == alliance.log.head()
            other.catch_up()
            assert runner.state["count"] == other.state["count"]
            assert dict(runner.unknown_types) == dict(alliance.unknown_types)

    def test_every_feed_is_the_twins(self, logs: Logs) -> None:
        """Every audience's feed is byte for byte the twin's, with the tool or without."""
        registries = {"without": None, "with": minutes_registry()}
        with Alliance.open(logs.twin) as twin:
            organisation = twin.find_organisation("RUAN")
            audiences = [Audience.public(), Audience.secretariat(),
                         Audience.organisation(organisation)]
            expected = [FeedRenderer().render(twin.state, a, now=NOW).body for a in audiences]
        for label, registry in registries.items():
            with Alliance.open(logs.shared, registry=registry) as alliance:
                got = [FeedRenderer().render(alliance.state, a, now=NOW).body for a in audiences]
            assert got == expected, label

    def test_history_shows_them_in_the_meetings_stream(self, logs: Logs) -> None:
        """The meeting's history names the other tool's records by type, as of any moment."""
        with Alliance.open(logs.shared) as alliance:
            entries = alliance.history(logs.meeting)
            foreign = [e for e in entries if e.type.startswith("minutes.")]
            assert [(e.type, e.actor, e.text) for e in foreign] == [
                ("minutes.MinutesApproved", "minutes-tool",
                 "an event of another tool: minutes.MinutesApproved"),
            ] * 2
            as_of = alliance.history(logs.meeting, as_of=foreign[0].position)
            assert as_of[-1].position == foreign[0].position

    def test_without_any_registry_of_its_own_a_reader_sees_only_opaque_events(
        self, logs: Logs
    ) -> None:
        """EventRegistry() starts empty: every record, the library's too, comes back opaque."""
        with open_log(logs.shared, registry=EventRegistry()) as log:
            records = list(log.read_all())
        assert all(isinstance(r.event, OpaqueEvent) for r in records)
        assert all(r.event.type_name == r.type for r in records)

    def test_an_alliance_never_reads_its_own_events_as_opaque(self, logs: Logs) -> None:
        """Opened with an empty registry, the Alliance still knows the library's types."""
        with Alliance.open(logs.shared, registry=EventRegistry()) as alliance:
            assert DIALOGUE in [m.title for m in alliance.meetings(include_cancelled=True)]
            assert set(alliance.unknown_types) == set(FOREIGN)
        with open_log(logs.shared, registry=EventRegistry()) as log, pytest.raises(
            Exception, match="lacks the library's event types 'MeetingScheduled'"
        ):
            Alliance(log)


# -- the command line ---------------------------------------------------------------------


class TestTheCommandLine:
    def test_without_the_tool_every_command_works_and_notes_once(self, logs: Logs) -> None:
        """Reads, writes, history, tail, export: all work; one note line on stderr each."""
        haunt(logs.shared)
        expected = note_for({**FOREIGN, "ghost.Haunted": 1})
        meeting = str(logs.meeting)
        listed = cli(logs, "meeting", "list", "--json", plugins=False)
        shown = cli(logs, "registration", "show", meeting, "--json", plugins=False)
        deadlines = cli(logs, "deadline", "list", "--json", plugins=False)
        history = cli(logs, "history", meeting, plugins=False)
        tail = cli(logs, "tail", "--from", "0", "--timeout", "0", plugins=False)
        tail_json = cli(logs, "tail", "--from", "0", "--timeout", "0", "--json", plugins=False)
        export = cli(logs, "export", "--audience", "secretariat", "-o", "x.ics", plugins=False)
        added = cli(logs, "organisation", "add", "Drug Advisory Training Hub", "--acronym",
                    "DATH", plugins=False)
        for result in (listed, shown, deadlines, history, tail, tail_json, export, added):
            assert result.returncode == 0, (result.args, result.stderr)
            assert notes(result) == [expected], result.stderr
            assert "Traceback" not in result.stderr
            assert "note:" not in result.stdout
        assert DIALOGUE in [m["title"] for m in json.loads(listed.stdout)]
        assert json.loads(shown.stdout)["meeting"]["title"] == DIALOGUE
        assert json.loads(deadlines.stdout)
        assert history.stdout.count("an event of another tool: minutes.MinutesApproved") == 2
        lines = tail.stdout.splitlines()
        for name in (*FOREIGN, "ghost.Haunted"):
            assert any(f" {name} " in line and f"another tool: {name}" in line
                       for line in lines), name
        events = [json.loads(line) for line in tail_json.stdout.splitlines()]
        ghost = next(e for e in events if e["type"] == "ghost.Haunted")
        assert ghost["event"]["data"] == GHOST
        assert ghost["event"]["schema"] == 1
        assert (logs.folder / "x.ics").read_bytes().startswith(b"BEGIN:VCALENDAR")

    def test_export_writes_the_twins_feed(self, logs: Logs) -> None:
        """With or without the tool, export writes what the twin log exports."""
        haunt(logs.shared)
        outputs = {}
        for name, db, plugins in (("twin", logs.twin, True), ("with", logs.shared, True),
                                  ("without", logs.shared, False)):
            result = cli(logs, "export", "--audience", "secretariat", "-o", f"{name}.ics",
                         "--as-of", AS_OF, db=db, plugins=plugins)
            assert result.returncode == 0, result.stderr
            outputs[name] = (logs.folder / f"{name}.ics").read_bytes()
        assert outputs["with"] == outputs["twin"] == outputs["without"]

    def test_with_the_tool_installed_they_decode(self, logs: Logs) -> None:
        """The installed tool's entry point makes its types known: no note, decoded events."""
        result = cli(logs, "tail", "--from", "0", "--timeout", "0", "--json")
        assert result.returncode == 0, result.stderr
        assert "note:" not in result.stderr
        events = [json.loads(line) for line in result.stdout.splitlines()]
        approvals = [e["event"] for e in events if e["type"] == "minutes.MinutesApproved"]
        assert [(a["approved_by"], a["corrections"]) for a in approvals] == [
            ("Alma Reiter", 0), ("Alma Reiter", 2)]  # the first one was stored at schema 1
        (item,) = [e["event"] for e in events if e["type"] == "minutes.ActionItemRecorded"]
        assert item["due"] == "2023-04-20"
        listed = cli(logs, "meeting", "list")
        assert listed.returncode == 0
        assert listed.stderr == ""

    def test_a_broken_tool_is_a_warning_and_stops_nothing(self, logs: Logs) -> None:
        """A tool that cannot be imported: one warning line; the other tools still load."""
        result = cli(logs, "meeting", "list", entry_points=[
            ("broken", "no_such_minutes_module:register"),
            ("minutes", "minutes_tool:register"),
        ])
        assert result.returncode == 0, result.stderr
        assert result.stderr.splitlines() == [
            "warning: plugin 'broken' (no_such_minutes_module:register) not loaded: cannot "
            "import no_such_minutes_module:register: ModuleNotFoundError: No module named "
            "'no_such_minutes_module'; its records are read as events of unknown types",
        ]

    def test_a_corrupt_record_of_a_known_type_is_refused_naming_its_position(
        self, logs: Logs
    ) -> None:
        """Data a known type cannot read stops the reader at its position, with the repair."""
        with open_log(logs.shared, registry=EventRegistry()) as log:
            (bad,) = log.append("minutes-x", [OpaqueEvent(
                event_id=new_id(), type_name="minutes.ActionItemRecorded", schema=1,
                data='{"text": 3}')],
                expected_version=0)
        refused = cli(logs, "meeting", "list")
        assert refused.returncode == 2
        assert refused.stderr.startswith(
            f"refused: record at position {bad.position} (minutes.ActionItemRecorded "
            "schema 1) cannot be decoded: ")
        assert "register an upcaster" in refused.stderr
        assert "upgrade the tool that defines 'minutes.ActionItemRecorded'" in refused.stderr
        # Without the tool, the same record is just another tool's record.
        without = cli(logs, "meeting", "list", plugins=False)
        assert without.returncode == 0, without.stderr
        assert notes(without) == [note_for({**FOREIGN, "minutes.ActionItemRecorded": 2})]
        # A corrupt record of the library's own type stops every reader.
        with open_log(logs.shared, registry=EventRegistry()) as log:
            (worse,) = log.append("meeting-x", [OpaqueEvent(
                event_id=new_id(), type_name="MeetingScheduled", schema=1, data='{"title": 3}')],
                expected_version=0)
        refused = cli(logs, "meeting", "list", plugins=False)
        assert refused.returncode == 2
        assert f"record at position {worse.position} (MeetingScheduled schema 1)" in (
            refused.stderr)
        with open_log(logs.shared) as log, pytest.raises(UndecodableRecordError) as caught:
            list(log.read_all())
        assert caught.value.position == worse.position


# -- a real feed server ---------------------------------------------------------------------


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait(check: Any, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = check()
        except httpx.TransportError:
            found = None
        if found:
            return found
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


class TestARealFeedServer:
    def test_serves_without_the_tool_and_reports_what_it_skipped(self, logs: Logs) -> None:
        """It starts, serves the feed, says 200 on /healthz with the counts, and follows."""
        haunt(logs.shared)
        port = _free_port()
        output = logs.folder / "server.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "TEST_ENTRY_POINTS": "[]"}
        with output.open("wb") as sink:
            process = subprocess.Popen(
                [sys.executable, "-c", HIDE_PLUGINS, "--db", logs.shared, "serve", "--port",
                 str(port), "--poll-interval", "0.1"],
                stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=logs.folder,
            )
        base = f"http://127.0.0.1:{port}"
        try:
            health = _wait(lambda: httpx.get(f"{base}/healthz", timeout=1))
            assert health.status_code == 200, output.read_text()
            report = health.json()
            assert report["status"] == "ok"
            assert report["unknown_types"] == {**FOREIGN, "ghost.Haunted": 1}
            assert report["skipped_unknown_types"] == 4
            assert report["plugins"] == {}
            feed = httpx.get(f"{base}/calendar.ics", timeout=5)
            assert feed.status_code == 200
            assert DIALOGUE.encode() in feed.content
            haunt(logs.shared, data="[]")
            with Minutes.open(logs.shared) as minutes:
                minutes.record_action(logs.meeting, text="Book the room", owner="CSU")
            with open_log(logs.shared) as log:
                log.append("ghosts-2", [OpaqueEvent(event_id=new_id(), type_name="ghost.Howled",
                                                    schema=3, data="{}")], expected_version=0)
            followed = _wait(lambda: (r := httpx.get(f"{base}/healthz", timeout=1)).json()[
                "skipped_unknown_types"] == 7 and r)
            assert followed.status_code == 200
            assert followed.json()["unknown_types"] == {
                "ghost.Haunted": 2, "ghost.Howled": 1, "minutes.ActionItemRecorded": 2,
                "minutes.MinutesApproved": 2,
            }
            again = httpx.get(f"{base}/calendar.ics", timeout=5)
            assert again.content == feed.content
        finally:
            process.terminate()
            process.wait(timeout=10)
        logged = output.read_text()
        assert logged.count("note: skipped 4 records") == 1
        assert "Traceback" not in logged
        # A type seen for the first time while serving is logged once; those known at
        # start were in the note already.
        assert logged.count("skipping records of types this server does not know") == 1
        assert "does not know (ghost.Howled); install" in logged


# -- the other tool reads the library -------------------------------------------------------


class TestTheOtherToolReadsTheLibrary:
    def test_with_its_own_registry(self, logs: Logs) -> None:
        """The tool's registry (the library's types and its own) decodes every record."""
        with Minutes.open(logs.shared) as minutes:
            records = list(minutes.log.read_all())
            assert not [r for r in records if isinstance(r.event, OpaqueEvent)]
            assert minutes.meeting_titles() == {logs.meeting: DIALOGUE}
            first, second = minutes.approvals()
        assert first == MinutesApproved(event_id=first.event_id, meeting_id=logs.meeting,
                                        approved_on=pendulum.date(2023, 3, 22),
                                        approved_by="Alma Reiter", corrections=0)
        assert second.corrections == 2
        schemas = [r.schema for r in records if r.type == "minutes.MinutesApproved"]
        assert schemas == [1, 2]

    def test_a_copy_of_the_library_registry_is_independent(self) -> None:
        """library_registry() gives the tool a registry of its own to add to."""
        registry = minutes_registry()
        assert "minutes.ActionItemRecorded" in registry
        assert "minutes.ActionItemRecorded" not in library_registry()
        assert registry.type_of(ActionItemRecorded) == ("minutes.ActionItemRecorded", 1)


# -- copying records between logs -------------------------------------------------------------


@pytest.fixture
def other_backend_url(logs: Logs) -> Iterator[str]:
    """A fresh log of the other backend than ``logs``'s."""
    if logs.shared.startswith("sqlite"):
        yield from (urls[0] for urls in _pg_urls(1))
    else:
        yield f"sqlite:///{logs.folder / 'copy.db'}"


class TestCopying:
    def test_opaque_records_copied_into_another_log_are_byte_identical(
        self, logs: Logs, other_backend_url: str
    ) -> None:
        """Read without the tool and appended elsewhere: the same type, schema and data."""
        haunt(logs.shared)
        with open_log(logs.shared) as source:
            opaque = [r for r in source.read_all() if isinstance(r.event, OpaqueEvent)]
        assert sorted({r.type for r in opaque}) == sorted({*FOREIGN, "ghost.Haunted"})
        with open_log(other_backend_url) as target:
            for record in opaque:
                target.append(record.stream, [record.event], expected_version=ANY,
                              metadata=record.metadata)
        raw = EventRegistry()  # knows nothing: every record comes back as stored
        with open_log(logs.shared, registry=raw) as source, open_log(
            other_backend_url, registry=raw
        ) as target:
            stored = {r.event_id: (r.type, r.schema, r.event.data, dict(r.metadata))
                      for r in source.read_all()}
            copied = {r.event_id: (r.type, r.schema, r.event.data, dict(r.metadata))
                      for r in target.read_all()}
        assert copied == {r.event_id: stored[r.event_id] for r in opaque}
        with Minutes.open(other_backend_url) as minutes:
            assert [a.approved_by for a in minutes.approvals()] == ["Alma Reiter"] * 2

