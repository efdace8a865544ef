"""Storage faults: each a library error with a one-line message, nothing half-written.

SQLite: not a database, read-only file and folder, full disk, the file-size limit, a lock
held too long. PostgreSQL: connections killed (``pg_terminate_backend``) while idle, while
waiting and mid-append, and a real stop and start of the local server (slow).

What works on this kind of machine (root in a container with CAP_SYS_ADMIN): ``chmod``
does not stop root, so a read-only *file* is made with ``chattr +i`` and a read-only
*folder* with a read-only bind mount (``mount --bind`` then ``mount -o remount,bind,ro``);
a full disk is a 1 MiB ``tmpfs``. Each test skips, saying why, where that is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from alliance_events import Alliance, open_log
from alliance_events.errors import (
    NotALogError,
    ReadOnlyStorageError,
    StorageFullError,
    StorageLockedError,
    StorageUnavailableError,
    UnknownOutcomeError,
)
from alliance_events.log import LogWatcher, verify

from .helpers import IDENTITY, postgres_dsn, running
from .sample_events import TEST_REGISTRY, Noted


def note(text: str = "x") -> Noted:
    return Noted(event_id=uuid.uuid4(), text=text)


def one_line(error: BaseException) -> str:
    text = str(error)
    assert "\n" not in text
    return text


def make_log(path: Path, count: int = 5) -> None:
    with open_log(path, registry=TEST_REGISTRY) as log:
        for n in range(count):
            log.append("s", [note(f"n{n}")], expected_version=n)


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "alliance_events.cli", *args],
                          capture_output=True, text=True, check=False)


# -- SQLite -----------------------------------------------------------------------------------


class TestNotALog:
    def test_a_text_file(self, tmp_path: Path) -> None:
        """A file that is not SQLite: NotALogError saying to check --db."""
        path = tmp_path / "notes.txt"
        path.write_text("shopping list\n" * 100)
        with pytest.raises(NotALogError, match=r"is not a SQLite database .* check --db") as caught:
            open_log(path)
        one_line(caught.value)
        assert path.read_text() == "shopping list\n" * 100

    def test_another_programs_database(self, tmp_path: Path) -> None:
        """A SQLite database of other tables is refused, not filled with ours."""
        path = tmp_path / "other.db"
        with contextlib.closing(sqlite3.connect(path)) as db:
            db.execute("CREATE TABLE invoices (id INTEGER)")
            db.commit()
        with pytest.raises(NotALogError, match=r"not an event log .*invoices"):
            open_log(path)
        with contextlib.closing(sqlite3.connect(path)) as db:
            tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        assert tables == {"invoices"}

    def test_the_cli_says_it_in_one_line(self, tmp_path: Path) -> None:
        """Exit status 3 and one 'error:' line, no traceback."""
        path = tmp_path / "notes.db"
        path.write_text("not a database" * 100)
        result = run_cli("--db", str(path), "person", "list")
        assert result.returncode == 3
        assert result.stderr.startswith("error: ")
        assert len(result.stderr.strip().splitlines()) == 1
        assert "Traceback" not in result.stderr


class TestReadOnly:
    def test_a_read_only_open_writes_nothing(self, tmp_path: Path) -> None:
        """mode=ro: the file's bytes stay the same; an append is refused in one line."""
        path = tmp_path / "log.db"
        make_log(path)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        with open_log(f"sqlite:///{path}?mode=ro", registry=TEST_REGISTRY) as log:
            assert log.head() == 5
            assert len(list(log.read_all())) == 5
            assert verify(log).ok
            with pytest.raises(ReadOnlyStorageError, match="opened read-only; nothing"):
                log.append("s", [note()], expected_version=5)
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest

    def test_a_read_only_open_takes_no_lock(self, tmp_path: Path) -> None:
        """Another process holding the write lock does not stop a read-only reader."""
        path = tmp_path / "log.db"
        make_log(path)
        with contextlib.closing(sqlite3.connect(path, isolation_level=None)) as other:
            other.execute("BEGIN IMMEDIATE")
            started = time.monotonic()
            with open_log(f"sqlite:///{path}?mode=ro&busy_timeout=3",
                          registry=TEST_REGISTRY) as log:
                assert len(list(log.read_all())) == 5
            assert time.monotonic() - started < 1
            other.execute("ROLLBACK")

    def test_a_read_only_file(self, tmp_path: Path) -> None:
        """chattr +i (root ignores chmod): appends fail as read-only; reads work."""
        path = tmp_path / "log.db"
        make_log(path)
        if subprocess.run(["chattr", "+i", str(path)], capture_output=True,
                          check=False).returncode:
            pytest.skip("chattr +i is not supported here")
        try:
            with open_log(path, registry=TEST_REGISTRY) as log:
                with pytest.raises(ReadOnlyStorageError, match=r"read-only .* nothing was rec"):
                    log.append("s", [note()], expected_version=5)
                assert [r.version for r in log.read_all()] == [1, 2, 3, 4, 5]
            with open_log(path, registry=TEST_REGISTRY, read_only=True) as log:
                assert log.head() == 5
        finally:
            subprocess.run(["chattr", "-i", str(path)], check=False)
        with open_log(path, registry=TEST_REGISTRY) as log:
            assert verify(log).ok and log.head() == 5

    def test_a_read_only_folder(self, tmp_path: Path) -> None:
        """A read-only bind mount: a read-write open says so; a read-only open reads."""
        source, mounted = tmp_path / "source", tmp_path / "mounted"
        source.mkdir()
        mounted.mkdir()
        make_log(source / "log.db")
        if subprocess.run(["mount", "--bind", str(source), str(mounted)],
                          capture_output=True, check=False).returncode:
            pytest.skip("bind mounts are not permitted here")
        try:
            if subprocess.run(["mount", "-o", "remount,bind,ro", str(mounted)],
                              capture_output=True, check=False).returncode:
                pytest.skip("a read-only remount is not permitted here")
            path = mounted / "log.db"
            with pytest.raises(ReadOnlyStorageError, match="folder is read-only") as caught:
                open_log(path, registry=TEST_REGISTRY)
            one_line(caught.value)
            with open_log(path, registry=TEST_REGISTRY, read_only=True) as log:
                assert [r.version for r in log.read_all()] == [1, 2, 3, 4, 5]
                assert verify(log).ok
            result = run_cli("--db", str(path), "verify")
            assert result.returncode == 0, result.stderr
            # The CLI's reading commands open the log read-only: they work on the mount.
            for args in (["meeting", "list", "--json"], ["deadline", "list"],
                         ["organisation", "list"], ["tail", "--from", "0", "--timeout", "0"],
                         ["export", "--output", str(tmp_path / "public.ics")]):
                result = run_cli("--db", str(path), *args)
                assert result.returncode == 0, (args, result.stderr)
            # A recording command says, in one line, that the log is read-only.
            result = run_cli("--db", str(path), "organisation", "add", "Vienna NGO Committee")
            assert result.returncode == 3, result.stderr
            [line] = result.stderr.splitlines()
            assert line.startswith("error: ") and "read-only" in line
        finally:
            subprocess.run(["umount", "-l", str(mounted)], check=False)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs, unmounted afterwards."""
    mounted = tmp_path / "small"
    mounted.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mounted)],
                      capture_output=True, check=False).returncode:
        pytest.skip("mounting a tmpfs is not permitted here")
    try:
        yield mounted
    finally:
        subprocess.run(["umount", "-l", str(mounted)], check=False)


class TestFull:
    def test_a_full_disk(self, small_disk: Path) -> None:
        """Appends until the disk is full: StorageFullError, then the log reads whole."""
        path = small_disk / "log.db"
        appended = 0
        with open_log(path, registry=TEST_REGISTRY) as log:
            def fill_up() -> None:
                nonlocal appended
                for n in range(10_000):
                    log.append("s", [note("x" * 20_000)], expected_version=n)
                    appended += 1

            with pytest.raises(StorageFullError, match="disk is full") as caught:
                fill_up()
            one_line(caught.value)
            assert "nothing was recorded" in str(caught.value)
            assert log.head() == appended
        shutil.copy(path, small_disk.parent / "copy.db")  # free the space, then reopen
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                shutil.copy(f"{path}{suffix}", f"{small_disk.parent / 'copy.db'}{suffix}")
        with open_log(small_disk.parent / "copy.db", registry=TEST_REGISTRY) as log:
            assert [r.version for r in log.read_all()] == list(range(1, appended + 1))
            assert verify(log).ok

    def test_the_file_size_limit(self, tmp_path: Path) -> None:
        """RLIMIT_FSIZE in a child process: StorageFullError naming ulimit -f, no signal."""
        path = tmp_path / "log.db"
        make_log(path, 1)
        script = f"""
import resource, uuid
from alliance_events import open_log
from alliance_events.errors import StorageError
from tests.sample_events import TEST_REGISTRY, Noted
resource.setrlimit(resource.RLIMIT_FSIZE, (300_000, 300_000))
count = 0
with open_log({str(path)!r}, registry=TEST_REGISTRY) as log:
    try:
        for n in range(1, 10_000):
            log.append("s", [Noted(event_id=uuid.uuid4(), text="y" * 5000)],
                       expected_version=n)
            count += 1
    except StorageError as error:
        print(count, type(error).__name__, error, sep="|")
"""
        result = subprocess.run([sys.executable, "-c", script], capture_output=True,
                                text=True, check=False, cwd=Path(__file__).parent.parent)
        assert result.returncode == 0, result.stderr
        count, name, message = result.stdout.strip().split("|")
        assert name == "StorageFullError"
        assert "file-size limit (ulimit -f: 300000 bytes)" in message
        with open_log(path, registry=TEST_REGISTRY) as log:
            assert log.head() == int(count) + 1
            assert verify(log).ok


class TestLocked:
    def test_a_lock_held_beyond_the_time_out(self, tmp_path: Path) -> None:
        """Another connection holds BEGIN IMMEDIATE: StorageLockedError, nothing written."""
        path = tmp_path / "log.db"
        make_log(path)
        with (contextlib.closing(sqlite3.connect(path, isolation_level=None)) as other,
              open_log(f"sqlite:///{path}?busy_timeout=0.2", registry=TEST_REGISTRY) as log):
            other.execute("BEGIN IMMEDIATE")
            with pytest.raises(StorageLockedError, match=r"more than 0.2 s .*busy_timeout"):
                log.append("s", [note()], expected_version=5)
            other.execute("ROLLBACK")
            assert log.head() == 5
            log.append("s", [note()], expected_version=5)
            assert log.head() == 6


# -- PostgreSQL: connections killed ---------------------------------------------------------


def _terminate(pid: int) -> None:
    with psycopg.connect(postgres_dsn(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    time.sleep(0.1)


def _backend_waiting_on_a_lock(besides: int, timeout: float = 30.0) -> int:
    """Return the pid of a backend (not ``besides``) waiting for a lock."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(postgres_dsn(), autocommit=True) as admin:
        while time.monotonic() < deadline:
            row = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND pid <> %s AND pid <> pg_backend_pid()", (besides,)
            ).fetchone()
            if row:
                return int(row[0])
            time.sleep(0.05)
    raise AssertionError("no backend waited for a lock")


def _waiting_on_a_lock(pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(postgres_dsn(), autocommit=True) as admin:
        while time.monotonic() < deadline:
            row = admin.execute(
                "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,)
            ).fetchone()
            if row and row[0] == "Lock":
                return
            time.sleep(0.02)
    raise AssertionError(f"backend {pid} never waited for a lock")


@pytest.mark.postgres
class TestPostgresConnectionsKilled:
    def test_an_idle_connection_killed_is_replaced(self, fresh_postgres_url: str) -> None:
        """Reads and an append after the backend was terminated: no error at all."""
        with open_log(fresh_postgres_url, registry=TEST_REGISTRY) as log:
            log.append("s", [note()], expected_version=0)
            _terminate(log._db.info.backend_pid)  # type: ignore[attr-defined]
            assert [r.version for r in log.read_all()] == [1]
            _terminate(log._db.info.backend_pid)  # type: ignore[attr-defined]
            log.append("s", [note()], expected_version=1)  # sent on a new connection
            _terminate(log._db.info.backend_pid)  # type: ignore[attr-defined]
            assert log.head() == 2
            assert verify(log).ok

    def test_a_watcher_listens_again_and_wakes_once(self, fresh_postgres_url: str) -> None:
        """A LogWatcher whose connection dies reconnects, wakes, and hears NOTIFY again."""
        with (open_log(fresh_postgres_url, registry=TEST_REGISTRY) as log,
              LogWatcher(log, fallback_interval=60) as watcher):
            store = watcher._store
            _terminate(store._db.info.backend_pid)  # type: ignore[attr-defined]
            started = time.monotonic()
            assert watcher.wait(after=0, timeout=10) is True  # woken by the reconnection
            assert time.monotonic() - started < 5
            assert watcher.wait(after=0, timeout=0.3) is False  # once only
            threading.Timer(0.3, lambda: log.append("s", [note()], expected_version=0)).start()
            started = time.monotonic()
            assert watcher.wait(after=0, timeout=20) is True
            assert time.monotonic() - started < 5  # NOTIFY, not the 60 s fallback

    def test_an_append_killed_mid_flight_is_an_unknown_outcome(
        self, fresh_postgres_url: str
    ) -> None:
        """Killed while waiting inside the append: UnknownOutcomeError naming the command
        id; the same command id again records one person, however often it is repeated."""
        command = uuid.UUID(int=42)
        with Alliance.open(fresh_postgres_url) as alliance:
            log: Any = alliance.log
            pid = log._db.info.backend_pid
            schema = log.schema
            caught: list[BaseException] = []

            def register() -> None:
                try:
                    alliance.register_person(name="Ada", command_id=command)
                except BaseException as error:  # noqa: BLE001 - checked below
                    caught.append(error)

            with psycopg.connect(postgres_dsn()) as blocker:
                blocker.execute(f'LOCK TABLE "{schema}".streams IN EXCLUSIVE MODE')
                worker = threading.Thread(target=register)
                worker.start()
                _waiting_on_a_lock(pid)
                _terminate(pid)
                worker.join(10)
                blocker.rollback()
            assert len(caught) == 1
            error = caught[0]
            assert isinstance(error, UnknownOutcomeError), repr(error)
            assert error.command_id == str(command)
            assert f"safe to retry with the same command id {command}" in one_line(error)
            first = alliance.register_person(name="Ada", command_id=command)
            again = alliance.register_person(name="Ada", command_id=command)
            assert first == again
            assert len(alliance.state.persons) == 1
            assert verify(log).ok

    def test_the_cli_says_unknown_outcome_and_a_retry_records_once(
        self, fresh_postgres_url: str
    ) -> None:
        """The CLI killed mid-append: exit status 4 and one line naming --command-id (not
        "refused"); the same command with that id then records one person, not two."""
        with Alliance.open(fresh_postgres_url) as alliance:  # the schema, made
            schema = alliance.log.schema  # type: ignore[attr-defined]
        command = [sys.executable, "-m", "alliance_events.cli", "--db", fresh_postgres_url,
                   "person", "add", "Ada Lovelace"]
        with psycopg.connect(postgres_dsn()) as blocker:
            blocker.execute(f'LOCK TABLE "{schema}".streams IN EXCLUSIVE MODE')
            cli = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   text=True)
            pid = _backend_waiting_on_a_lock(blocker.info.backend_pid)
            _terminate(pid)
            out, err = cli.communicate(timeout=60)
            blocker.rollback()
        assert cli.returncode == 4, (out, err)
        [line] = err.splitlines()
        assert line.startswith("unknown outcome: "), line
        assert "refused" not in line
        command_id = line.rsplit("--command-id ", 1)[1].rstrip(")")
        for _ in range(2):
            again = subprocess.run([*command, "--command-id", command_id], capture_output=True,
                                   text=True, check=False)
            assert again.returncode == 0, again.stderr
        with Alliance.open(fresh_postgres_url) as alliance:
            assert [p.name for p in alliance.state.persons.values()] == ["Ada Lovelace"]
            assert verify(alliance.log).ok

    def test_an_unreachable_server(self) -> None:
        """Nothing listens: StorageUnavailableError after the bounded retries, one line."""
        started = time.monotonic()
        from alliance_events.log.postgres import PostgresLog

        with pytest.raises(StorageUnavailableError, match="cannot be reached") as caught:
            PostgresLog("postgresql://postgres@127.0.0.1:1/test", reconnect_timeout=0.5)
        assert time.monotonic() - started < 5
        one_line(caught.value)


# -- PostgreSQL: a real stop and start of a server ----------------------------------------
#
# Of a cluster of its own (pg_createcluster on a free port, dropped afterwards), not of the
# shared one: the other tests, running in parallel (pytest -n), use that one.


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateCluster:
    """A PostgreSQL cluster of this test's own, stopped and started at will."""

    def __init__(self) -> None:
        self.version = sorted(os.listdir("/etc/postgresql"))[-1]
        self.name = f"ae_restart_{os.getpid()}"
        self.port = _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", self.version,
                        self.name, *args], check=True, capture_output=True)

    def create(self) -> None:
        subprocess.run(
            ["pg_createcluster", self.version, self.name, "-p", str(self.port), "--start",
             "--", "--auth-local=trust", "--auth-host=trust"],
            check=True, capture_output=True,
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while subprocess.run(["pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)],
                             check=False).returncode:
            assert time.monotonic() < deadline, "PostgreSQL did not come back"
            time.sleep(0.2)

    @contextlib.contextmanager
    def stopped(self) -> Iterator[None]:
        """Stop the server; always start it again, and wait until it is ready."""
        try:
            self._ctl("stop", "-m", "fast")
            yield
        finally:
            with contextlib.suppress(subprocess.CalledProcessError):
                self._ctl("start")
            self.wait_ready()

    def drop(self) -> None:
        subprocess.run(["pg_dropcluster", self.version, self.name, "--stop"],
                       check=False, capture_output=True)


@pytest.fixture
def private_cluster() -> Iterator[PrivateCluster]:
    if os.geteuid() != 0 or shutil.which("pg_createcluster") is None or not Path(
        "/etc/postgresql"
    ).is_dir():
        pytest.skip("needs root and Debian's pg_createcluster to run a server of its own")
    cluster = PrivateCluster()
    cluster.create()
    try:
        yield cluster
    finally:
        cluster.drop()


def _until(predicate: Any, timeout: float = 40.0, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


@pytest.mark.slow
def test_a_postgres_restart_is_survived(private_cluster: PrivateCluster) -> None:
    """Stop and start the server: an open log reads and appends again, a watcher wakes,
    the feed server serves its last feed meanwhile (/healthz says so, tokens stay 404)
    and shows a meeting appended after the restart."""
    from alliance_events.web import create_app

    fresh_postgres_url = private_cluster.url

    with Alliance.open(fresh_postgres_url) as seeding:
        organisation = seeding.register_organisation(name="CGR", acronym="CGR")
        _, token = seeding.issue_feed_token(organisation)
        _, unseen = seeding.issue_feed_token(organisation, label="never asked for")
        seeding.schedule_meeting(title="Before the restart", start="2031-03-22 15:00",
                                 end="16:30", zone="Europe/Vienna")
    log = open_log(fresh_postgres_url, registry=TEST_REGISTRY)
    watcher = LogWatcher(log, fallback_interval=60)
    served = Alliance.open(fresh_postgres_url)
    app = create_app(served, poll_interval=0.05)
    try:
        with running(app) as client:
            before = client.get("/calendar.ics", headers=IDENTITY)
            assert before.status_code == 200 and b"Before the restart" in before.content
            assert client.get(f"/o/{token}/calendar.ics").status_code == 200
            head = log.head()
            with private_cluster.stopped():
                during = client.get("/calendar.ics", headers=IDENTITY)
                assert (during.status_code, during.content) == (200, before.content)
                assert during.headers["etag"] == before.headers["etag"]
                assert client.get("/calendar.ics", headers={
                    **IDENTITY, "If-None-Match": before.headers["etag"]}).status_code == 304
                _until(lambda: client.get("/healthz").status_code == 503, what="/healthz 503")
                health = client.get("/healthz").json()
                assert health["status"] == "database unavailable"
                assert health["position"] == head
                assert client.get("/o/wrong-token/calendar.ics").status_code == 404
                assert client.get(f"/o/{unseen}/calendar.ics").status_code == 404
                assert client.get(f"/o/{token}/calendar.ics").status_code == 200  # cached
                with pytest.raises(StorageUnavailableError):
                    log.append("s", [note()], expected_version=0)
            # Back: the open log works again without being reopened.
            assert [r.position for r in log.read_all(after=head)] == []
            assert watcher.wait(after=head, timeout=30) is True  # woken by reconnecting
            log.append("s", [note("after")], expected_version=0)
            with Alliance.open(fresh_postgres_url) as writer:
                writer.schedule_meeting(title="After the restart", start="2031-04-22 15:00",
                                        end="16:30", zone="Europe/Vienna")
            _until(lambda: b"After the restart" in client.get(
                "/calendar.ics", headers=IDENTITY).content, what="the new meeting")
            _until(lambda: client.get("/healthz").status_code == 200, what="/healthz 200")
            assert client.get("/healthz").json()["status"] == "ok"
            assert client.get(f"/o/{unseen}/calendar.ics").status_code == 200
            assert verify(log).ok
    finally:
        watcher.close()
        log.close()
        served.close()
