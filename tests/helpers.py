"""Helpers shared by several test modules (no test module imports another one).

The PostgreSQL server the tests use, a transaction holding a position open in a
PostgreSQL log, and the feed server run in process with its lifespan.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import pendulum
import pytest

if TYPE_CHECKING:
    import anyio.from_thread
    import httpx
    import psycopg

    from alliance_events.log.postgres import PostgresLog

__all__ = [
    "IDENTITY",
    "POSTGRES_ENV",
    "InProcess",
    "hold_open_append",
    "postgres_dsn",
    "running",
]

POSTGRES_ENV = "ALLIANCE_EVENTS_TEST_POSTGRES"
IDENTITY = {"Accept-Encoding": "identity"}
"""Request headers asking for the feed's bytes as they are (no gzip)."""


def postgres_dsn() -> str:
    """Return the test server's URL, or skip (fail in CI) with the reason."""
    dsn = os.environ.get(POSTGRES_ENV)
    reason = None
    if not dsn:
        reason = f"{POSTGRES_ENV} is not set (e.g. postgresql://postgres@127.0.0.1:5432/test)"
    else:
        try:
            import psycopg

            with psycopg.connect(dsn, connect_timeout=5):
                pass
        except Exception as error:  # noqa: BLE001
            reason = f"PostgreSQL at {POSTGRES_ENV} cannot be reached: {error}"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"in CI the PostgreSQL tests must run: {reason}")
        pytest.skip(reason)
    assert dsn
    return dsn


def hold_open_append(log: PostgresLog, stream: str, text: str) -> psycopg.Connection[Any]:
    """Run the log's own append statement in a transaction left open: positions taken."""
    import psycopg

    from alliance_events.log.base import to_micros
    from alliance_events.log.chain import GENESIS, record_tail

    event_id, data = uuid.uuid4(), f'{{"text": "{text}"}}'
    now = pendulum.now("UTC")
    micros = to_micros(now)
    connection = psycopg.connect(postgres_dsn())
    connection.execute(
        log._sql_append_many[True],  # a new stream's batch form
        {
            "stream": stream, "expected": 0, "count": 1, "ids": [event_id],
            "types": ["test.Noted"], "schemas": [1], "data": [data],
            "tails": [record_tail(stream, 1, event_id.bytes, "test.Noted", 1, data, None,
                                  micros)],
            "metadata": None, "recorded_at": now, "previous": GENESIS,
        },
    )
    return connection


class InProcess:
    """A blocking client of an app running in process, its lifespan (the follower) too.

    What Starlette's TestClient does, without its deprecated httpx glue: the lifespan and
    an ``httpx.AsyncClient`` over ``httpx.ASGITransport`` live in a portal's event loop.
    """

    def __init__(
        self, app: Any, portal: anyio.from_thread.BlockingPortal, client: httpx.AsyncClient
    ) -> None:
        self.app, self._portal, self._client = app, portal, client

    def request(self, method: str, path: str, headers: dict[str, str] | None = None
                ) -> httpx.Response:
        return self._portal.call(lambda: self._client.request(method, path, headers=headers))

    def get(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.request("GET", path, headers)

    def head(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.request("HEAD", path, headers)

    def post(self, path: str, headers: dict[str, str] | None = None) -> httpx.Response:
        return self.request("POST", path, headers)

    def raw(self, path: str, headers: dict[str, str]) -> tuple[httpx.Headers, bytes]:
        """GET and return the headers and the body as sent (not decompressed)."""

        async def fetch() -> tuple[httpx.Headers, bytes]:
            async with self._client.stream("GET", path, headers=headers) as response:
                return response.headers, b"".join([c async for c in response.aiter_raw()])

        return self._portal.call(fetch)


@contextmanager
def running(app: Any) -> Iterator[InProcess]:
    """Run ``app``'s lifespan in a portal's event loop, and yield a client of it."""
    import anyio.from_thread
    import httpx

    with (
        anyio.from_thread.start_blocking_portal() as portal,
        portal.wrap_async_context_manager(app.router.lifespan_context(app)),
    ):
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        )
        try:
            yield InProcess(app, portal, client)
        finally:
            portal.call(client.aclose)
