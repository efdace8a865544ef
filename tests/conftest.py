"""Fixtures shared by the tests: one log per backend, PostgreSQL when configured.

PostgreSQL tests read their server from ``ALLIANCE_EVENTS_TEST_POSTGRES`` (a libpq URL,
as ``.ci/run`` sets it). Without it they are skipped with that reason; in CI
(``CI=true``) a missing or unreachable server is a failure, never a skip.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from alliance_events import EventLog, open_log

from .helpers import postgres_dsn
from .sample_events import TEST_REGISTRY

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", max_examples=30, deadline=None)
settings.register_profile("thorough", max_examples=1000, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))

BACKENDS = ("memory", "sqlite", "postgres")


@pytest.fixture
def fresh_postgres_url() -> Iterator[str]:
    """A URL of a PostgreSQL log in a schema of its own, dropped afterwards."""
    import psycopg

    dsn = postgres_dsn()
    schema = f"ae_test_{uuid.uuid4().hex[:12]}"
    separator = "&" if "?" in dsn else "?"
    yield f"{dsn}{separator}schema={schema}"
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def _store_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "memory":
        return "memory:"
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'log.db'}"
    return str(request.getfixturevalue("fresh_postgres_url"))


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The name of each backend in turn."""
    return str(request.param)


@pytest.fixture
def log_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A URL of a fresh, empty store of ``backend``."""
    return _store_url(backend, tmp_path, request)


@pytest.fixture
def open_test_log(log_url: str) -> Iterator[Callable[..., EventLog]]:
    """Open handles on the fresh store (memory: each call is a new, separate log).

    Keyword arguments go to ``open_log``; the registry defaults to the tests' own.
    """
    opened: list[EventLog] = []

    def factory(**kwargs: Any) -> EventLog:
        kwargs.setdefault("registry", TEST_REGISTRY)
        log = open_log(log_url, **kwargs)
        opened.append(log)
        return log

    yield factory
    for log in opened:
        log.close()


@pytest.fixture
def log(open_test_log: Callable[..., EventLog]) -> EventLog:
    """An open, empty log of each backend in turn."""
    return open_test_log()
