"""The command line for the people who use it: names they can type, output that fits.

End to end, the console script in a subprocess on a SQLite log, as tests/test_cli.py
does, but at 80 columns (a pipe's width): every table fits it without cutting a title or
a status; every table has ``--csv``; meetings, organisations, persons, nominations and
feed tokens are named by the refs the tables show, by a beginning of their ids, or (a
meeting) by title and day; confirmations name titles, refusals name flags, and every
option has help. Windows that must be open run to 2099, so that the real clock (which
the commands are given at) falls in them.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
import pytest

from alliance_events.cli import main

WIDTH = 80
FIREARMS = "Constructive Dialogue following the Working Group on Firearms"
DIALOGUE = "Constructive Dialogue on Firearms"
SESSION = "Morning session"
SIDE_EVENT = "Thematic side event on firearms trafficking"
ASSEMBLY = "General Assembly of the Alliance"
BRIEFING = "Briefing without funding"
NAMES_DEADLINE = "Names of participants of each delegation"
ORGANISATIONS = [
    ("Rural And Urban Aid Nigeria", "RUAN"),
    ("Drug Advisory Training Hub", "DATH"),
    ("Global Initiative against Transnational Organized Crime", "GI-TOC"),
    ("International Federation of Associations of Criminal Justice Practitioners", ""),
]
PERSONS = {
    "Femi Adeyemi": "RUAN",
    "Ngozi Okafor": "RUAN",
    "Sami Haider": "DATH",
    "Daniel Brooks": "GI-TOC",
}


def _console_script() -> str:
    script = Path(sys.executable).with_name("alliance-events")
    if script.exists():
        return str(script)
    found = shutil.which("alliance-events")
    if found is None:
        pytest.skip("the alliance-events console script is not installed")
    return found


class Cli:
    """Runs the console script on one log, at 80 columns."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.db = folder / "alliance.db"
        self.env = {k: v for k, v in os.environ.items() if k != "ALLIANCE_EVENTS_DB"}
        self.env["COLUMNS"] = str(WIDTH)

    def process(self, *args: str) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(
            [_console_script(), "--db", str(self.db), *args], cwd=self.folder, env=self.env,
            capture_output=True, timeout=60, check=False,
        )

    def run(self, *args: str) -> str:
        """Run a command that must succeed; return its stdout."""
        result = self.process(*args)
        assert result.returncode == 0, (args, result.stderr.decode())
        return result.stdout.decode()

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json"))

    def csv(self, *args: str) -> list[dict[str, str]]:
        """Run a command with --csv; check its CSV is RFC 4180's; return its rows."""
        data = self.process(*args, "--csv")
        assert data.returncode == 0, (args, data.stderr.decode())
        text = data.stdout.decode()
        assert text.endswith("\r\n")
        assert "\n" not in text.replace("\r\n", "")  # CRLF only (no field holds a newline)
        return list(csv.DictReader(io.StringIO(text, newline="")))

    def failed(self, *args: str, prefix: str) -> str:
        """Run a command that must fail with exit status 2; return its one line."""
        result = self.process(*args)
        stderr = result.stderr.decode()
        assert result.returncode == 2, (args, stderr)
        assert result.stdout == b""
        [line] = stderr.splitlines()
        assert line.startswith(prefix), line
        return line

    def refused(self, *args: str) -> str:
        return self.failed(*args, prefix="refused: ")

    def usage(self, *args: str) -> str:
        return self.failed(*args, prefix="usage: ")

    def refs(self) -> dict[str, str]:
        """The meetings' refs, by title and first day: ``'Informal Meeting 2023-04-19'``."""
        return {f"{row['title']} {row['first_day']}": row["ref"]
                for row in self.csv("meeting", "list")}


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    """A log with two informal meetings, a dialogue with its parts, delegates, tokens."""
    cli = Cli(tmp_path_factory.mktemp("people"))
    cli.run("init")
    for name, acronym in ORGANISATIONS:
        cli.run("organisation", "add", name, *(["--acronym", acronym] if acronym else []))
    for name, organisation in PERSONS.items():
        email = name.lower().replace(" ", ".") + "@example.org"
        cli.run("person", "add", name, "--email", email, "--organisation", organisation)
    for day in ("2023-03-22", "2023-04-19"):
        cli.run("meeting", "schedule", "Informal Meeting", "--start", f"{day} 15:00",
                "--end", "16:30")
    cli.run("meeting", "schedule", FIREARMS, "--kind", "constructive-dialogue",
            "--first-day", "2023-05-04", "--last-day", "2023-05-05")
    cli.run("meeting", "schedule", DIALOGUE, "--kind", "constructive-dialogue",
            "--first-day", "2023-05-05", "--parent", FIREARMS)
    cli.run("meeting", "schedule", SESSION, "--kind", "session", "--start",
            "2023-05-05 10:00", "--end", "13:00", "--parent", DIALOGUE)
    cli.run("meeting", "schedule", SIDE_EVENT, "--kind", "side-event", "--start",
            "2023-05-05 13:15", "--end", "14:45", "--parent", FIREARMS, "--tentative")
    cli.run("meeting", "schedule", ASSEMBLY, "--kind", "general-assembly", "--first-day",
            "2099-06-01")
    cli.run("registration", "open", DIALOGUE, "--opens", "2023-03-21 10:00", "--closes",
            "2099-12-31", "--capacity", "2", "--funded-places", "1")
    cli.run("nominate", DIALOGUE, "Femi Adeyemi", "--role", "speaker", "--funding")
    cli.run("nominate", DIALOGUE, "Sami Haider", "--role", "speaker")
    cli.run("nominate", DIALOGUE, "Daniel Brooks", "--role", "participant")
    cli.run("deadline", "set", NAMES_DEADLINE, "--due", "2023-05-01", "--kind", "names",
            "--meeting", DIALOGUE)
    # Registration for the assembly: windows given as dates.
    cli.run("registration", "open", ASSEMBLY, "--opens", "2099-03-15", "--closes",
            "2099-04-18")
    cli.run("meeting", "schedule", BRIEFING, "--first-day", "2099-07-01")
    cli.run("registration", "open", BRIEFING, "--opens", "2023-01-01", "--closes", "2099-06-30")
    cli.run("token", "issue", "RUAN", "--label", "office")
    return cli


def _whole(word: str, text: str) -> bool:
    """Whether ``word`` is in ``text`` whole: not a piece of a longer word, not cut."""
    return re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text) is not None


# -- output that fits --------------------------------------------------------------------

TABLES = {
    "meeting list": (("meeting", "list"), [
        "Informal Meeting", FIREARMS, SESSION, SIDE_EVENT, ASSEMBLY, "confirmed", "tentative",
        "15:00-16:30", "19 Apr 2023",
    ]),
    "meeting show": (("meeting", "show", DIALOGUE), [DIALOGUE, FIREARMS, SESSION, "confirmed"]),
    "registration show": (("registration", "show", DIALOGUE), [
        "Femi Adeyemi", "Sami Haider", "Daniel Brooks", "RUAN", "GI-TOC", "nominated",
        "waitlisted #1", "requested", "participant",
    ]),
    "registration list": (("registration", "list"), [DIALOGUE, ASSEMBLY, "opens 15 Mar 2099"]),
    "deadline list": (("deadline", "list"), [NAMES_DEADLINE, DIALOGUE, "overdue", "1 May 2023"]),
    "organisation list": (("organisation", "list"), [n for n, _ in ORGANISATIONS]),
    "person list": (("person", "list"), [*PERSONS, "daniel.brooks@example.org"]),
    "history": (("history", FIREARMS), [SESSION, SIDE_EVENT, "[Morning session]"]),
}


class TestTablesFit:
    """Every table at 80 columns: no line longer, no title or status cut."""

    @pytest.mark.parametrize(("args", "texts"), list(TABLES.values()), ids=list(TABLES))
    def test_fits_80_columns(self, cli: Cli, args: tuple[str, ...], texts: list[str]) -> None:
        """Each line fits; every word of the titles, names and statuses is whole."""
        out = cli.run(*args)
        assert out.strip()
        assert max(len(line) for line in out.splitlines()) <= WIDTH, out
        assert "…" not in out, out
        for text in texts:
            for word in text.split():
                assert _whole(word, out), (word, out)

    def test_ids_shortened_to_refs(self, cli: Cli) -> None:
        """The meeting list shows refs (the ends of the ids), not 36-character ids."""
        out = cli.run("meeting", "list")
        for row in cli.csv("meeting", "list"):
            assert row["meeting_id"] not in out
            assert _whole(row["ref"], out)
            assert row["meeting_id"].replace("-", "").endswith(row["ref"])


CSV = {
    "meeting list": (("meeting", "list"), "meeting_id"),
    "meeting show": (("meeting", "show", DIALOGUE), "field"),
    "registration show": (("registration", "show", DIALOGUE), "meeting_id"),
    "registration list": (("registration", "list"), "meeting_id"),
    "deadline list": (("deadline", "list"), "deadline_id"),
    "organisation list": (("organisation", "list"), "organisation_id"),
    "person list": (("person", "list"), "person_id"),
    "token list": (("token", "list", "RUAN"), "token_id"),
    "token list (none)": (("token", "list", "GI-TOC"), "token_id"),
    "history": (("history", DIALOGUE), "position"),
}


class TestCsv:
    """``--csv`` on every table: a header row, full ids; not with ``--json``."""

    @pytest.mark.parametrize(("args", "first"), list(CSV.values()), ids=list(CSV))
    def test_csv(self, cli: Cli, args: tuple[str, ...], first: str) -> None:
        """RFC 4180 with a header; every *_id column holds whole ids."""
        data = cli.process(*args, "--csv").stdout.decode()
        assert data.split(",", 1)[0] == first  # the header, even with no rows
        rows = cli.csv(*args)
        for row in rows:
            for column, value in row.items():
                if column.endswith("_id") and value:
                    assert str(uuid.UUID(value)) == value

    def test_rows_as_json(self, cli: Cli) -> None:
        """The CSV has a row for each item --json gives, and the same ids."""
        rows = cli.csv("meeting", "list")
        meetings = cli.json("meeting", "list")
        assert [r["meeting_id"] for r in rows] == [m["meeting_id"] for m in meetings]
        assert [r["title"] for r in rows] == [m["title"] for m in meetings]

    def test_json_and_csv_together_is_a_usage_error(self, cli: Cli) -> None:
        """--json --csv: one usage line, exit status 2."""
        assert "--csv" in cli.usage("meeting", "list", "--json", "--csv")


# -- names people type -------------------------------------------------------------------


class TestNames:
    """A meeting by its title and day, its ref, a beginning of its id; the rest too."""

    def test_meeting_by_title_and_day_ref_and_prefix(self, cli: Cli) -> None:
        """The three ways name the April meeting; its id is in --json."""
        april = next(r for r in cli.csv("meeting", "list")
                     if r["title"] == "Informal Meeting" and r["first_day"] == "2023-04-19")
        for name in ("Informal Meeting 2023-04-19", april["ref"], april["meeting_id"][:8]):
            assert cli.json("meeting", "show", name)["meeting_id"] == april["meeting_id"], name

    def test_ambiguous_title_lists_the_candidates(self, cli: Cli) -> None:
        """One line listing each by title, day and ref, and how to name one."""
        refs = cli.refs()
        line = cli.refused("meeting", "show", "Informal Meeting")
        assert line.endswith("[rule: ambiguous-meeting]")
        for day in ("2023-03-22", "2023-04-19"):
            assert f"'Informal Meeting' {day} 15:00 (ref {refs[f'Informal Meeting {day}']})" \
                in line
        assert "'TITLE YYYY-MM-DD'" in line

    def test_organisation_and_person_by_ref(self, cli: Cli) -> None:
        """The refs the lists show name organisations and persons."""
        ruan = next(r for r in cli.csv("organisation", "list") if r["acronym"] == "RUAN")
        femi = next(r for r in cli.csv("person", "list") if r["name"] == "Femi Adeyemi")
        persons = cli.json("person", "list", "--organisation", ruan["ref"])
        assert femi["person_id"] in {p["person_id"] for p in persons}
        nominated = cli.json("nominate", BRIEFING, femi["ref"], "--role", "speaker",
                             "--organisation", ruan["organisation_id"][:8])
        assert (nominated["person_id"], nominated["organisation_id"]) == (
            femi["person_id"], ruan["organisation_id"]
        )

    def test_nomination_by_the_ref_registration_show_gives(self, cli: Cli) -> None:
        """registration show's ref names a nomination to confirm-nomination."""
        sami = next(r for r in cli.csv("registration", "show", DIALOGUE)
                    if r["person"] == "Sami Haider")
        out = cli.run("confirm-nomination", DIALOGUE, sami["ref"])
        assert out.startswith("Sami Haider (DATH, speaker): confirmed")


# -- what the commands say ---------------------------------------------------------------


class TestConfirmations:
    """Confirmations name titles and days, not ids."""

    def test_schedule_confirm_cancel(self, cli: Cli) -> None:
        """A new meeting: scheduled with its ref; confirmed and cancelled by title."""
        scheduled = cli.run("meeting", "schedule", "Bureau call", "--start", "2099-06-02 10:00",
                            "--end", "11:00", "--tentative")
        ref = cli.refs()["Bureau call 2099-06-02"]
        assert scheduled == (
            f"scheduled tentatively 'Bureau call', 02 Jun 2099 10:00-11:00 Europe/Vienna "
            f"(ref {ref})\n"
        )
        assert cli.run("meeting", "confirm", ref) == "confirmed 'Bureau call' (2 Jun 2099)\n"
        assert cli.run("meeting", "cancel", "Bureau call 2099-06-02") == (
            "cancelled 'Bureau call' (2 Jun 2099)\n"
        )
        assert not re.search(r"[0-9a-f]{8}-[0-9a-f]{4}", scheduled)

    def test_deadline_and_registration(self, cli: Cli) -> None:
        """Deadlines and registrations are named by title; dates as typed."""
        set_line = cli.run("deadline", "set", "Side events", "--due", "2099-05-01")
        assert set_line.startswith("set the deadline 'Side events', due 1 May 2099 (upcoming; ")
        assert cli.run("deadline", "extend", "Side events", "--due", "2099-05-08 17:00") == (
            "extended the deadline 'Side events' to 8 May 2099 17:00 (upcoming)\n"
        )
        assert cli.run("deadline", "cancel", "Side events") == (
            "cancelled the deadline 'Side events' (due 8 May 2099 17:00)\n"
        )
        assert cli.run("registration", "close", ASSEMBLY) == (
            f"closed registration for '{ASSEMBLY}' (1 Jun 2099)\n"
        )


class TestRefusalsNameFlags:
    """Refusals name the command line's flags, not the application's parameters."""

    def test_no_time_given(self, cli: Cli) -> None:
        """Neither --start nor --first-day: a usage line naming both."""
        line = cli.usage("meeting", "schedule", "Nowhen")
        assert "--start" in line
        assert "--first-day" in line
        assert "first_day" not in line

    def test_start_without_end(self, cli: Cli) -> None:
        """--start alone: the line names --end."""
        assert "needs --end" in cli.usage("meeting", "schedule", "Open-ended", "--start",
                                          "2099-04-19 15:00")

    @pytest.mark.parametrize(
        ("start", "rule"),
        [("2023-03-26 02:30", "nonexistent-time"), ("2023-10-29 02:30", "ambiguous-time")],
        ids=["gap", "overlap"],
    )
    def test_summer_time(self, cli: Cli, start: str, rule: str) -> None:
        """A wall time in a gap or overlap: the refusal names --disambiguate."""
        line = cli.refused("meeting", "schedule", "Night call", "--start", start, "--end",
                           "04:00")
        assert "--disambiguate earlier or --disambiguate later" in line
        assert "disambiguate=" not in line
        assert line.endswith(f"[rule: {rule}]")

    def test_quota_of_an_unknown_role(self, cli: Cli) -> None:
        """--quota mascot=1: a usage line naming --quota and the roles."""
        line = cli.usage("registration", "quota", DIALOGUE, "--quota", "mascot=1")
        assert "--quota" in line
        assert "speaker" in line

    def test_funding_when_no_funded_places(self, cli: Cli) -> None:
        """confirm-nomination --funded where no funded places exist is refused."""
        cli.run("nominate", BRIEFING, "Ngozi Okafor", "--role", "alternate")
        line = cli.refused("confirm-nomination", BRIEFING, "Ngozi Okafor", "--funded")
        assert line.endswith("[rule: no-funding]")
        assert "offers no funded places" in line
        out = cli.run("confirm-nomination", BRIEFING, "Ngozi Okafor")
        assert out.startswith("Ngozi Okafor (RUAN, alternate): confirmed")


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[
    tuple[str, click.Command]
]:
    yield " ".join(path) or "alliance-events", group
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))
        else:
            yield " ".join((*path, name)), command


class TestHelp:
    def test_every_option_has_help(self) -> None:
        """Every option of every command and group says what it is for."""
        missing = [
            f"{name} {'/'.join(param.opts)}"
            for name, command in _commands(main)
            for param in command.params
            if isinstance(param, click.Option) and not (param.help or "").strip()
        ]
        assert missing == []


# -- lists, history, dates ---------------------------------------------------------------


class TestMeetingList:
    def test_upcoming(self, cli: Cli) -> None:
        """--upcoming: those not ended now (the 2023 ones are over)."""
        titles = [m["title"] for m in cli.json("meeting", "list", "--upcoming")]
        assert ASSEMBLY in titles
        assert "Informal Meeting" not in titles

    def test_from_and_to(self, cli: Cli) -> None:
        """--from/--to: the meetings on those days (a two-day one by either day)."""
        april = cli.json("meeting", "list", "--from", "2023-04-01", "--to", "2023-04-30")
        assert [(m["title"], m["when"]["start"][:10]) for m in april] == [
            ("Informal Meeting", "2023-04-19")
        ]
        fifth = {m["title"] for m in cli.json("meeting", "list", "--from", "2023-05-05",
                                                "--to", "2023-05-05")}
        assert fifth == {FIREARMS, DIALOGUE, SESSION, SIDE_EVENT}


class TestHistory:
    def test_with_its_parts(self, cli: Cli) -> None:
        """A meeting's history includes its sessions' and side events', marked as theirs."""
        entries = cli.json("history", FIREARMS)
        assert {e["meeting"] for e in entries} == {FIREARMS, DIALOGUE, SESSION, SIDE_EVENT}
        assert [e["position"] for e in entries] == sorted(e["position"] for e in entries)
        assert "│ [Morning session] scheduled session" in cli.run("history", FIREARMS)
        alone = cli.json("history", FIREARMS, "--no-parts")
        assert {e["meeting"] for e in alone} == {FIREARMS}


class TestDatesAsTyped:
    def test_window_given_as_dates(self, cli: Cli) -> None:
        """--opens 2099-03-15 --closes 2099-04-18: shown as those days, not midnights."""
        out = cli.run("registration", "show", ASSEMBLY)
        assert "15 Mar 2099 to 18 Apr 2099" in out
        assert "19 Apr 2099" not in out
        shown = cli.json("registration", "show", ASSEMBLY)
        assert shown["closes_at"] == "2099-04-19T00:00:00+02:00"  # the instant is kept

    def test_deadline_due_by_a_day(self, cli: Cli) -> None:
        """Due by 1 May: '1 May 2023', as in the registration's caption."""
        assert "due 1 May 2023: overdue" in cli.run("registration", "show", DIALOGUE)


# -- the feed server and the feed tokens -------------------------------------------------


class TestServe:
    def test_busy_port(self, cli: Cli) -> None:
        """A port in use: one line, exit status 2, nothing said about starting."""
        with socket.socket() as taken:
            taken.bind(("127.0.0.1", 0))
            taken.listen()
            port = taken.getsockname()[1]
            line = cli.refused("serve", "--port", str(port))
        assert line == (
            f"refused: port {port} on 127.0.0.1 is in use (by another server?): stop it, "
            "or choose another with --port [rule: port-in-use]"
        )


class TestTokens:
    def test_list_revoke_by_ref(self, cli: Cli) -> None:
        """token list: refs, labels, dates; two live: revoke refused; by --token-id: done."""
        cli.run("token", "issue", "DATH", "--label", "office calendar")
        cli.run("token", "issue", "DATH")
        tokens = cli.json("token", "list", "DATH")["tokens"]
        assert [t["label"] for t in tokens] == ["office calendar", ""]
        table = cli.run("token", "list", "DATH")
        for token in tokens:
            assert _whole(token["ref"], table)
        assert "office calendar" in table
        line = cli.refused("token", "revoke", "DATH")
        assert line.endswith("[rule: ambiguous-token]")
        assert all(t["ref"] in line for t in tokens)
        out = cli.run("token", "revoke", "DATH", "--token-id", tokens[0]["ref"])
        assert out.startswith(f"revoked the feed token {tokens[0]['ref']} 'office calendar', "
                              "issued ")
        assert [t["token_id"] for t in cli.json("token", "list", "DATH")["tokens"]] == [
            tokens[1]["token_id"]
        ]
