"""The outbox's worker killed (SIGKILL) at random moments, many times, by the real CLI.

`alliance-events notify run` runs as the operator runs it (the machine's clock, a SQLite
log, a real SMTP server), and is killed again and again while reminders fall due. In the
end every message that was due was delivered, none before its moment, and a message
delivered twice was the same e-mail (same Message-ID, same bytes).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import pendulum
import pytest

from alliance_events import Alliance
from alliance_events.notify import outbox_state

from .mailserver import mail_server

pytestmark = pytest.mark.slow

DEADLINES = 12
KILLS_AT_LEAST = 15


def _worker(db: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "alliance_events.cli", "--db", str(db), "notify", "run",
         "--poll-interval", "0.1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )


def _stop_gracefully(worker: subprocess.Popen[bytes]) -> None:
    """SIGTERM, once the worker says it started (it may not have yet: the messages can all
    have come from the one before): it stops between passes, with status 0."""
    assert worker.stderr is not None
    said = b""
    while b"outbox started" not in said:
        line = worker.stderr.readline()
        assert line, f"the worker ended before it started: {said.decode()}"
        said += line
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0


def test_sigkill_at_random_moments_loses_nothing_and_sends_no_two_different_messages(
    tmp_path: Path,
) -> None:
    db = tmp_path / "alliance.db"
    url = f"sqlite:///{db}"
    rng = random.Random(20270326)
    with mail_server() as server:
        env = {**os.environ, "ALLIANCE_EVENTS_SMTP_URL": server.url,
               "ALLIANCE_EVENTS_MAIL_FROM": "secretariat@alliance.example.org"}
        with Alliance.open(url) as alliance:
            organisations = []
            for name in ("North", "South", "East"):
                org = alliance.register_organisation(name=f"{name} NGO")
                person = alliance.register_person(
                    name=f"{name} Focal", email=f"focal@{name.lower()}.example", organisation=org)
                alliance.appoint_focal_point(org, person)
                organisations.append(org)
        first = subprocess.run(
            [sys.executable, "-m", "alliance_events.cli", "--db", str(db), "notify", "run",
             "--once"], env=env, capture_output=True, check=False)
        assert first.returncode == 0, first.stderr.decode()
        # Reminders falling due one after another over the next ~15 seconds.
        start = pendulum.now("Europe/Vienna").add(seconds=8)
        with Alliance.open(url) as alliance:
            for index in range(DEADLINES):
                alliance.set_deadline(
                    title=f"Report {index}", due=start.add(seconds=index + 60),
                    reminders=["PT60S"])
        last_moment = start.add(seconds=DEADLINES)
        kills = 0
        worker = _worker(db, env)
        while pendulum.now() < last_moment.add(seconds=3) or kills < KILLS_AT_LEAST:
            time.sleep(rng.uniform(0.3, 2.0))
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            kills += 1
            worker = _worker(db, env)
        # Let the last one finish what is due, then stop it gracefully.
        expected = DEADLINES * len(organisations)
        give_up = time.monotonic() + 60
        while len({str(r.message["Message-ID"]) for r in server.messages()}) < expected:
            assert time.monotonic() < give_up, "not every message came"
            assert worker.poll() is None, worker.stderr.read().decode() if worker.stderr else ""
            time.sleep(0.2)
        _stop_gracefully(worker)
        received = server.messages()

    copies: dict[str, list[bytes]] = defaultdict(list)
    for message in received:
        copies[str(message.message["Message-ID"])].append(message.raw)
        due = message.message["Date"].datetime.timestamp()
        assert message.at >= due - 0.5, "sent before its moment"
    duplicates = sum(len(c) - 1 for c in copies.values())
    print(f"\n{kills} SIGKILLs; {expected} messages due, {len(received)} delivered, "
          f"{duplicates} duplicates (same Message-ID and bytes)")
    assert len(copies) == expected
    assert all(len(set(c)) == 1 for c in copies.values())
    with Alliance.open(url) as alliance:
        decided = outbox_state(alliance).messages.values()
        assert len(decided) == expected
        assert {m.status.value for m in decided} == {"sent"}
