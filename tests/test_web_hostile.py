"""``alliance-events serve`` under hostile clients, over real sockets.

The first wave's server waited for ever for a request: 1,100 idle connections made 148 of
169 normal requests fail. Now a connection must send a whole request within
``--request-timeout`` seconds, at most ``--max-connections`` are open at once (a new one
closes the longest idle), a request with a body is answered 413 without being read, and
headers beyond 16 KiB are refused: subscribers are served throughout.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pendulum
import pytest

from alliance_events import Alliance
from alliance_events.testing import FixedClock

IDLE = 600  # idle connections opened at once: more than --max-connections
MAX_CONNECTIONS = 100
REQUEST_TIMEOUT = 2.0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, int]]:
    """A served log with one meeting: (base URL, port); stopped at the end."""
    folder = tmp_path_factory.mktemp("hostile")
    db = folder / "alliance.db"
    with Alliance.open(f"sqlite:///{db}",
                       clock=FixedClock(pendulum.datetime(2023, 3, 1, tz="UTC"))) as alliance:
        alliance.schedule_meeting(title="Informal Meeting", start="2023-04-19 15:00",
                                  end="16:30")
    port = _free_port()
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "alliance_events.cli", "--db", str(db), "serve", "--port",
         str(port), "--request-timeout", str(REQUEST_TIMEOUT), "--max-connections",
         str(MAX_CONNECTIONS)],
        stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, (folder / "server.log").read_text()
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not come up"
            time.sleep(0.1)
        yield base, port
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _connect(port: int) -> socket.socket:
    connection = socket.create_connection(("127.0.0.1", port), timeout=5)
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\0" * 8)
    return connection


def _closed_by_server(connection: socket.socket, within: float) -> bool:
    connection.settimeout(within)
    try:
        return connection.recv(1) == b""
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True


def test_idle_connections_do_not_lock_subscribers_out(server: tuple[str, int]) -> None:
    """With many more idle connections than the bound, every normal request is served;
    the idle ones are closed by the server, the oldest first, then all of them."""
    base, port = server
    idle = [_connect(port) for _ in range(IDLE)]
    slow = [_connect(port) for _ in range(20)]
    for connection in slow:  # slow-loris: a header begun, never finished
        connection.sendall(b"GET /calendar.ics HTTP/1.1\r\nHost: x\r\n")
    try:
        served = 0
        for _ in range(40):
            with httpx.Client(base_url=base, timeout=5) as client:
                response = client.get("/calendar.ics")
                assert response.status_code == 200
                assert b"Informal Meeting" in response.content
                served += 1
        assert served == 40
        assert _closed_by_server(idle[0], 1.0)  # evicted for the newer ones
        time.sleep(REQUEST_TIMEOUT + 0.5)
        still_open = [c for c in idle + slow if not _closed_by_server(c, 0.01)]
        assert still_open == []
    finally:
        for connection in idle + slow:
            connection.close()


def test_a_trickled_request_is_cut_off(server: tuple[str, int]) -> None:
    """A byte every half second: closed once the request time-out is past."""
    _, port = server
    connection = _connect(port)
    started = time.monotonic()
    request = b"GET /calendar.ics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100
    try:
        for byte in request:
            try:
                connection.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError):
                break
            if _closed_by_server(connection, 0.5):
                break
        assert time.monotonic() - started < REQUEST_TIMEOUT + 2
        assert _closed_by_server(connection, 1.0)
    finally:
        connection.close()


def test_bodies_and_huge_headers_are_refused(server: tuple[str, int]) -> None:
    """A body: 413 unread. Headers past 16 KiB: refused. The server serves on."""
    base, port = server
    with httpx.Client(base_url=base, timeout=5) as client:
        assert client.request("GET", "/calendar.ics", content=b"x" * 1000).status_code == 413
        assert client.get("/calendar.ics",
                          headers={"Transfer-Encoding": "chunked"}).status_code in (400, 413)
    connection = _connect(port)
    try:
        connection.sendall(b"GET /calendar.ics HTTP/1.1\r\nHost: x\r\nX-Big: "
                           + b"a" * 64 * 1024 + b"\r\n\r\n")
        answer = connection.recv(64)
        assert answer.startswith(b"HTTP/1.1 4") or answer == b"", answer
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        connection.close()
    assert httpx.get(f"{base}/calendar.ics", timeout=5).status_code == 200


def test_the_limits_have_ranges(tmp_path: Path) -> None:
    """--request-timeout and --max-connections refuse values outside their ranges."""
    for option, value in (("--request-timeout", "0"), ("--max-connections", "0"),
                          ("--max-connections", "1000000")):
        result = subprocess.run(
            [sys.executable, "-m", "alliance_events.cli", "--db", str(tmp_path / "x.db"),
             "serve", option, value], capture_output=True, text=True, check=False, timeout=30,
        )
        assert result.returncode == 2
        assert option in result.stderr
