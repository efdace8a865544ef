"""The log under real processes: racing writers, and writers killed with SIGKILL.

Each child is a fresh interpreter (``python -m tests._log_workers``) that opens its own
log; nothing is shared across a fork. Every wait is bounded: a child that hangs is killed
and the test fails saying which child and what it wrote to stderr.
"""

from __future__ import annotations

import json
import os
import queue
import random
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path
from typing import IO, Any

import pytest

from alliance_events import EventLog, Recorded, new_id, open_log

from ._log_workers import event_id
from .helpers import postgres_dsn
from .sample_events import TEST_REGISTRY, Noted

ROOT = Path(__file__).resolve().parent.parent

RACE_WRITERS = 4
RACE_SECONDS = 2.5
RACE_STREAMS = ("race-a", "race-b", "race-c")

CRASH_ROUNDS = {"sqlite": 30, "postgres": 15}
CRASH_DELAY = (0.020, 0.300)  # seconds between the child's "ready" and its SIGKILL
PROBE_STREAM = "probe"

READY_TIMEOUT = 30.0  # a loaded 2-core machine may take long to start an interpreter
EXIT_TIMEOUT = 30.0

_CRASH_TEXT = re.compile(r"^(?P<batch>r(?P<round>\d+)b(?P<seq>\d+)):(?P<index>\d+)/(?P<size>\d+)$")
_RACE_TEXT = re.compile(r"^w(?P<writer>\d+)-s(?P<seq>\d+)-i(?P<index>\d+)/(?P<size>\d+)$")


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str]:
    """``(backend, url)`` of a fresh, empty store that other processes can open."""
    backend = str(request.param)
    if backend == "sqlite":
        return backend, f"sqlite:///{tmp_path / 'log.db'}"
    return backend, str(request.getfixturevalue("fresh_postgres_url"))


class Child:
    """A ``python -m tests._log_workers`` process whose stdout lines are read by a thread."""

    def __init__(self, args: list[str], stderr_path: Path, *, with_stdin: bool = False) -> None:
        self.args = args
        self.stderr_path = stderr_path
        self._stderr: IO[str] = stderr_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests._log_workers", *args],
            cwd=ROOT,
            stdin=subprocess.PIPE if with_stdin else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )
        self.lines: list[str] = []  # raw lines, a last one without "\n" if cut off
        self._queue: queue.Queue[str | None] = queue.Queue()
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._queue.put(line)
        self._queue.put(None)

    def describe(self) -> str:
        """Name the child and quote the end of its stderr, for a failure message."""
        try:
            stderr = self.stderr_path.read_text()[-3000:]
        except OSError:
            stderr = "(unreadable)"
        return (
            f"child `python -m tests._log_workers {' '.join(self.args)}` "
            f"(pid {self.process.pid}, exit {self.process.returncode}); stderr:\n{stderr}"
        )

    def expect_line(self, expected: str, timeout: float) -> None:
        """Wait for the next stdout line to be ``expected``; fail the test if it is not."""
        try:
            line = self._queue.get(timeout=timeout)
        except queue.Empty:
            self.kill()
            pytest.fail(f"no {expected!r} within {timeout} s from {self.describe()}")
        if line is None or line.rstrip("\n") != expected:
            self.finish(timeout=5)
            got = "the end of its output" if line is None else repr(line)
            pytest.fail(f"expected {expected!r}, got {got} from {self.describe()}")

    def send(self, text: str) -> None:
        """Write ``text`` to the child's stdin."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(text)
            self.process.stdin.flush()
        except OSError as error:
            self.finish(timeout=5)
            pytest.fail(f"cannot write to the child ({error}): {self.describe()}")

    def kill(self) -> None:
        """SIGKILL the child (if it still runs) and reap it."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=EXIT_TIMEOUT)

    def finish(self, timeout: float) -> list[str]:
        """Wait for the child to end (killing it after ``timeout``); return its stdout lines."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            self._drain()
            pytest.fail(f"did not finish within {timeout} s, killed: {self.describe()}")
        self._drain()
        return self.lines

    def _drain(self) -> None:
        self._reader.join(timeout=EXIT_TIMEOUT)
        while True:
            try:
                line = self._queue.get_nowait()
            except queue.Empty:
                break
            if line is not None:
                self.lines.append(line)
        self.close()

    def close(self) -> None:
        """Kill the child if still running and release its pipes and files."""
        if self.process.poll() is None:
            self.kill()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()
        self._stderr.close()


def check_log_shape(log: EventLog) -> list[Recorded]:
    """Assert positions gapless 1..head in order, versions 1..n per stream, ids unique."""
    records = list(log.read_all())
    positions = [r.position for r in records]
    assert positions == list(range(1, len(records) + 1)), "positions are not gapless from 1"
    assert log.head() == len(records)
    ids = [r.event_id for r in records]
    assert len(set(ids)) == len(ids), "an event id is stored twice"
    by_stream: dict[str, list[Recorded]] = defaultdict(list)
    for record in records:
        assert record.event.event_id == record.event_id
        by_stream[record.stream].append(record)
    for stream, stream_records in by_stream.items():
        versions = [r.version for r in stream_records]
        assert versions == list(range(1, len(versions) + 1)), f"{stream}: versions {versions}"
        assert log.stream_version(stream) == len(versions)
        read = [(r.position, r.version) for r in log.read_stream(stream)]
        assert read == [(r.position, r.version) for r in stream_records]
    return records


def assert_contiguous(batch: list[Recorded], what: str) -> None:
    """Assert a batch is one run of versions in one stream, its positions increasing.

    Positions of one batch need not be contiguous: the contract lets concurrent appends to
    other streams take positions in between (PostgreSQL does; SQLite never does).
    """
    first = batch[0]
    positions = [r.position for r in batch]
    versions = [r.version for r in batch]
    assert {r.stream for r in batch} == {first.stream}, f"{what} spans streams"
    assert positions == sorted(set(positions)), f"{what}: positions {positions} not increasing"
    assert versions == list(range(versions[0], versions[0] + len(batch))), (
        f"{what}: versions {versions} are not contiguous"
    )


def interleaved(batch: list[Recorded]) -> bool:
    """Whether other events took positions between the batch's first and last."""
    return batch[-1].position - batch[0].position != len(batch) - 1


def _run_racers(url: str, tmp_path: Path) -> list[dict[str, Any]]:
    children: list[Child] = []
    try:
        children.extend(
            Child(
                ["race", url, str(writer), str(RACE_SECONDS), *RACE_STREAMS],
                tmp_path / f"race-{writer}.stderr",
                with_stdin=True,
            )
            for writer in range(RACE_WRITERS)
        )
        for child in children:
            child.expect_line("ready", READY_TIMEOUT)
        for child in children:  # start together: every child is open and waiting
            child.send("go\n")
        reports = []
        for child in children:
            lines = child.finish(RACE_SECONDS + EXIT_TIMEOUT)
            if child.process.returncode != 0 or not lines:
                pytest.fail(f"racer failed: {child.describe()}")
            reports.append(json.loads(lines[-1]))
        return reports
    finally:
        for child in children:
            child.close()


@pytest.mark.slow
def test_racing_processes_store_each_acknowledged_batch_once_and_whole(
    store: tuple[str, str], tmp_path: Path, record_property: Any
) -> None:
    """Processes racing on shared streams store every acknowledged batch once, whole, in order."""
    backend, url = store
    with open_log(url, registry=TEST_REGISTRY) as log:  # create the tables before the race
        assert log.head() == 0
    reports = _run_racers(url, tmp_path)

    errors = [f"writer {r['writer']}: {e}" for r in reports for e in r["errors"]]
    assert not errors, "appends failed with other errors than a conflict:\n" + "\n".join(errors)
    batches = [batch for report in reports for batch in report["acknowledged"]]
    appends = len(batches)
    conflicts = sum(report["conflicts"] for report in reports)
    attempts = sum(report["attempts"] for report in reports)
    acknowledged = [uuid.UUID(i) for batch in batches for i in batch["ids"]]
    assert len(set(acknowledged)) == len(acknowledged), "two appends acknowledged one id"

    with open_log(url, registry=TEST_REGISTRY) as log:
        records = check_log_shape(log)
    by_id = {r.event_id: r for r in records}
    assert set(by_id) == set(acknowledged), (
        f"{len(set(acknowledged) - set(by_id))} acknowledged events missing, "
        f"{len(set(by_id) - set(acknowledged))} stored events never acknowledged"
    )
    interleaved_batches = 0
    for batch in batches:
        stored = [by_id[uuid.UUID(i)] for i in batch["ids"]]
        what = f"batch {batch['ids'][0]}"
        assert_contiguous(stored, what)
        interleaved_batches += interleaved(stored)
        assert stored[0].stream == batch["stream"]
        assert stored[0].version == batch["expected"] + 1, f"{what} not at expected + 1"
        assert [r.position for r in stored] == batch["positions"], f"{what}: positions moved"
        assert [r.version for r in stored] == batch["versions"], f"{what}: versions moved"
    for record in records:
        assert isinstance(record.event, Noted)
        match = _RACE_TEXT.match(record.event.text)
        assert match, record
        writer, seq, index = (int(match[k]) for k in ("writer", "seq", "index"))
        assert record.event_id == event_id(writer, seq, index), f"data and id mixed up: {record}"

    per_stream = {s: sum(1 for r in records if r.stream == s) for s in RACE_STREAMS}
    summary = (
        f"{backend}: {RACE_WRITERS} processes x {RACE_SECONDS} s on {len(RACE_STREAMS)} streams: "
        f"{attempts} attempts, {appends} appends acknowledged ({len(records)} events, "
        f"{per_stream}), {conflicts} conflicts; {interleaved_batches} batches had other "
        "streams' events between their positions"
    )
    print(summary)
    record_property("appends", appends)
    record_property("conflicts", conflicts)
    record_property("events", len(records))
    record_property("interleaved_batches", interleaved_batches)
    assert appends > 0
    assert conflicts > 0, f"no conflict happened, so the version check was not exercised: {summary}"


def _crash_batches(records: list[Recorded]) -> dict[str, list[Recorded]]:
    """Group the crash worker's records by batch id, checking each is whole and in order."""
    batches: dict[str, list[Recorded]] = defaultdict(list)
    indexes: dict[str, list[int]] = defaultdict(list)
    sizes: dict[str, int] = {}
    for record in records:
        if record.stream == PROBE_STREAM:
            continue
        assert isinstance(record.event, Noted)
        match = _CRASH_TEXT.match(record.event.text)
        assert match, f"unexpected record {record}"
        batch, index = match["batch"], int(match["index"])
        batches[batch].append(record)
        indexes[batch].append(index)
        sizes.setdefault(batch, int(match["size"]))
        assert sizes[batch] == int(match["size"]), f"{batch}: sizes disagree"
        assert record.event_id == event_id(int(match["round"]), int(match["seq"]), index)
    for batch, stored in batches.items():
        assert indexes[batch] == list(range(sizes[batch])), (
            f"partial or reordered batch {batch}: indexes {indexes[batch]} of {sizes[batch]}"
        )
        assert_contiguous(stored, f"batch {batch}")
    return batches


class GrowthCheck:
    """Checks, after each round, the records appended since the last check.

    Re-reading the whole log each round would cost time growing with the square of the
    rounds; the part checked before is append-only, so each round checks that its end is
    unchanged and the new part continues it. The test checks the whole log at its end.
    """

    def __init__(self) -> None:
        self.head = 0
        self.versions: dict[str, int] = {}
        self.ids: set[uuid.UUID] = set()
        self.batches: set[str] = set()
        self.last: Recorded | None = None

    def check(self, log: EventLog) -> set[str]:
        """Check the new records; return the ids of the batches among them."""
        if self.last is not None:
            again = list(log.read_all(after=self.last.position - 1, limit=1))
            assert again, f"position {self.last.position}, checked before, is gone"
            assert (again[0].event_id, again[0].stream, again[0].version) == (
                self.last.event_id,
                self.last.stream,
                self.last.version,
            ), f"position {self.last.position} changed"
        new = list(log.read_all(after=self.head))
        assert [r.position for r in new] == list(range(self.head + 1, self.head + len(new) + 1)), (
            f"positions after {self.head} are not gapless"
        )
        assert log.head() == self.head + len(new)
        for record in new:
            version = self.versions.get(record.stream, 0) + 1
            assert record.version == version, f"{record}: expected version {version}"
            self.versions[record.stream] = version
            assert record.event_id not in self.ids, f"{record}: id stored twice"
            self.ids.add(record.event_id)
        for stream in {r.stream for r in new}:
            assert log.stream_version(stream) == self.versions[stream]
        batches = set(_crash_batches(new))
        assert not batches & self.batches, f"batches stored twice: {batches & self.batches}"
        self.batches |= batches
        if new:
            self.head, self.last = new[-1].position, new[-1]
        return batches


def _kill_a_writer(
    backend: str, url: str, round_number: int, seed: int, rng: random.Random, tmp_path: Path
) -> list[str]:
    """Start a writer, SIGKILL it at a random moment; return the lines it printed."""
    # On PostgreSQL the writer's connection is named, so that this can wait for the server
    # to end its session: a COMMIT the server received before the kill may still land
    # after it (stored, not acknowledged), and must land before the check reads the log,
    # or the log grows while it is read.
    name = f"crash-{uuid.uuid4().hex[:12]}"
    child = Child(
        ["crash", url if backend == "sqlite" else f"{url}&application_name={name}",
         str(round_number), str(seed)],
        tmp_path / f"crash-{round_number}.stderr",
    )
    try:
        child.expect_line("ready", READY_TIMEOUT)
        time.sleep(rng.uniform(*CRASH_DELAY))
        if child.process.poll() is not None:
            child.finish(EXIT_TIMEOUT)
            pytest.fail(f"round {round_number}: the writer ended before the kill: "
                        f"{child.describe()}")
        child.kill()
        lines = child.finish(EXIT_TIMEOUT)
    finally:
        child.close()
    assert child.process.returncode == -signal.SIGKILL, child.describe()
    if backend == "postgres":
        _wait_session_gone(name)
    return lines


def _wait_session_gone(application_name: str, timeout: float = 30.0) -> None:
    """Wait until the PostgreSQL server has no session of that name any more."""
    import psycopg

    deadline = time.monotonic() + timeout
    with psycopg.connect(postgres_dsn(), autocommit=True) as connection:
        while connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            (application_name,),
        ).fetchone() != (0,):
            assert time.monotonic() < deadline, f"the session {application_name} lives on"
            time.sleep(0.02)


def _wait_visible(log: EventLog, position: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while log.head() < position:
        if time.monotonic() > deadline:
            pytest.fail(f"position {position} appended but not visible after {timeout} s")
        time.sleep(0.01)


@pytest.mark.slow
def test_writer_killed_mid_append_leaves_only_whole_batches(
    store: tuple[str, str], tmp_path: Path, record_property: Any
) -> None:
    """A writer killed at random leaves every acknowledged batch, and no partial one, behind."""
    backend, url = store
    rounds = CRASH_ROUNDS[backend]
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    print(f"{backend}: crash test seed {seed}")
    record_property("seed", seed)
    with open_log(url, registry=TEST_REGISTRY) as log:  # create the tables first
        assert log.head() == 0
    growth = GrowthCheck()
    acknowledged: set[str] = set()
    stored_not_acknowledged = 0
    ack_counts = []
    started = time.monotonic()
    for round_number in range(1, rounds + 1):
        lines = _kill_a_writer(backend, url, round_number, seed + round_number, rng, tmp_path)
        # A line cut off by the kill has no newline: that batch was not acknowledged.
        acked_now = {line[:-1] for line in lines if line.endswith("\n")}
        ack_counts.append(len(acked_now))
        acknowledged |= acked_now

        with open_log(url, registry=TEST_REGISTRY) as log:
            stored_now = growth.check(log)
            missing = acknowledged - growth.batches
            assert not missing, f"round {round_number} (seed {seed}): acknowledged {missing} lost"
            assert stored_now >= acked_now
            unacknowledged = stored_now - acked_now
            assert len(unacknowledged) <= 1, (
                f"more than the last append unacknowledged: {unacknowledged}"
            )
            stored_not_acknowledged += len(unacknowledged)
            # Still appendable, and the append is visible to readers.
            probe = log.append(
                PROBE_STREAM,
                [Noted(event_id=new_id(), text=f"probe {round_number}")],
                expected_version=round_number - 1,
            )
            assert probe[0].version == round_number
            assert log.stream_version(PROBE_STREAM) == round_number
            _wait_visible(log, probe[0].position)

    with open_log(url, registry=TEST_REGISTRY) as log:
        records = check_log_shape(log)
        assert set(_crash_batches(records)) == growth.batches
    summary = (
        f"{backend}: {rounds} kills in {time.monotonic() - started:.1f} s (seed {seed}), "
        f"{sum(ack_counts)} appends acknowledged (per round min {min(ack_counts)}, "
        f"max {max(ack_counts)}), {len(records)} events; {stored_not_acknowledged} kills "
        "landed inside append after its commit reached the log (stored, not acknowledged)"
    )
    print(summary)
    record_property("kills", rounds)
    record_property("appends", sum(ack_counts))
    record_property("stored_not_acknowledged", stored_not_acknowledged)
