"""The secretary's tutorial (docs/tutorials/secretary.md) is typed at a shell, as a test.

Each ``console`` block of the page holds commands (lines starting with ``$ ``) and what
they print. The commands run in order, in one empty folder, with the machine's real
clock, through ``bash`` with the project's console script on the ``PATH`` (an ``export``
line sets a variable for the next ones, as the shell would); each must end
with status 0 (or the status a ``# exit N`` comment after it says), and print what the
page shows: the page's lines, in order, among the output's (a line ``...`` stands for any
lines, and ``...`` inside a line for any text).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[1] / "docs" / "tutorials" / "secretary.md"
_BLOCK = re.compile(r"```console\n(.*?)```", re.DOTALL)


def _steps(text: str) -> list[tuple[str, int, list[str]]]:
    """(command, expected status, expected lines) for each ``$`` line of the page."""
    steps: list[tuple[str, int, list[str]]] = []
    for block in _BLOCK.findall(text):
        for line in block.splitlines():
            if line.startswith("$ "):
                command = line[2:]
                status = 0
                found = re.search(r"\s+# exit (\d+)$", command)
                if found:
                    status = int(found.group(1))
                    command = command[: found.start()]
                steps.append((command, status, []))
            elif steps:
                steps[-1][2].append(line)
    return steps


def _pattern(line: str) -> re.Pattern[str]:
    return re.compile(".*".join(re.escape(part) for part in line.rstrip().split("...")) + r"\s*")


def _shows(expected: list[str], output: str) -> bool:
    """Whether the expected lines appear in the output, in order (``...``: any lines)."""
    lines = output.splitlines()
    at = 0
    for wanted in expected:
        if wanted.strip() in ("", "..."):
            continue
        pattern = _pattern(wanted)
        while at < len(lines) and not pattern.fullmatch(lines[at].rstrip()):
            at += 1
        if at == len(lines):
            return False
        at += 1
    return True


def test_the_page_has_the_minutes_typed_as_commands() -> None:
    """The page exists, is linked from the home page, and has the minutes in it."""
    steps = _steps(PAGE.read_text())
    assert len(steps) >= 15
    assert any("--at" in command for command, _, _ in steps)
    assert "tutorials/secretary.md" in (PAGE.parents[1] / "index.md").read_text()


def test_the_tutorial_runs_at_a_shell(tmp_path: Path) -> None:
    """Every command of the page, typed in order: its status and its output as shown."""
    script = Path(sys.executable).with_name("alliance-events")
    if not script.exists():
        pytest.skip("the alliance-events console script is not installed")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALLIANCE_EVENTS_")}
    env["PATH"] = f"{script.parent}{os.pathsep}{env.get('PATH', '')}"
    env["COLUMNS"] = "80"
    for command, status, expected in _steps(PAGE.read_text()):
        exported = re.fullmatch(r"export (\w+)=(\S+)", command)
        if exported:  # the shell keeps it for the next commands
            env[exported[1]] = exported[2]
            continue
        result = subprocess.run(["bash", "-c", command], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=120, check=False)
        output = result.stdout + result.stderr
        assert result.returncode == status, (command, output)
        assert _shows(expected, output), (command, expected, output)
