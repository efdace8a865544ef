"""The event log: one contract, three backends, opened by URL with :func:`open_log`.

=================================  =========================================================
URL                                backend
=================================  =========================================================
``memory:``                        :class:`MemoryLog`, in this process only
``sqlite:///alliance.db``          :class:`SQLiteLog`, path relative to the working folder
``sqlite:////var/lib/ae/log.db``   :class:`SQLiteLog`, absolute path (four slashes)
``alliance.db`` (a plain path)     :class:`SQLiteLog`
``postgresql://user@host/db``      :class:`PostgresLog` (needs ``alliance-events[postgres]``)
=================================  =========================================================

SQLite takes ``?synchronous=NORMAL`` (faster, may lose the last appends to a power cut:
see :mod:`alliance_events.log.sqlite`) and ``?busy_timeout=SECONDS``. SQLite and
PostgreSQL take ``?mode=ro`` (the same as ``read_only=True``: never write, never lock,
never migrate) and ``?verify=off`` (do not check the records' checksums as they are read;
:func:`verify` still checks them all).

Every record carries a checksum chained to its stream's previous record
(:mod:`alliance_events.log.chain`); :func:`verify` checks a whole log. Storage faults are
raised as the :class:`~alliance_events.errors.StorageError` family, never as a driver's
own exception.

To follow the log from another tool, with a checkpoint stored beside it:
:class:`Follower` (see :mod:`alliance_events.log.follow`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from alliance_events.clock import Clock, system_clock
from alliance_events.codec import Codec
from alliance_events.errors import UnsupportedURLError
from alliance_events.events import EventRegistry
from alliance_events.log.base import (
    ANY,
    MAX_STREAM_LENGTH,
    AnyVersion,
    EventLog,
    ExpectedVersion,
    Recorded,
)
from alliance_events.log.chain import VerifyReport, verify
from alliance_events.log.follow import (
    Checkpoints,
    FollowableLog,
    Follower,
    LogWatcher,
    Start,
)
from alliance_events.log.memory import MemoryLog
from alliance_events.log.sqlite import SQLiteLog

if TYPE_CHECKING:
    from alliance_events.log.postgres import PostgresLog

__all__ = [
    "ANY",
    "MAX_STREAM_LENGTH",
    "AnyVersion",
    "Checkpoints",
    "EventLog",
    "ExpectedVersion",
    "FollowableLog",
    "Follower",
    "LogWatcher",
    "MemoryLog",
    "PostgresLog",
    "Recorded",
    "SQLiteLog",
    "Start",
    "VerifyReport",
    "open_log",
    "verify",
]


def open_log(
    url: str | Path,
    *,
    clock: Clock = system_clock,
    registry: EventRegistry | None = None,
    read_only: bool = False,
) -> EventLog:
    """Open the event log at ``url`` (see the module's table); use it as a context manager.

    Args:
        url: where the log is.
        clock: where each record's ``recorded_at`` comes from; inject one to record
            history at the dates it happened.
        registry: the event types to encode and decode; the default registry (the
            library's types) if omitted. A stored type it lacks is read as an
            :class:`~alliance_events.events.OpaqueEvent`, never refused.
        read_only: open the log for reading only (as ``?mode=ro``): nothing is ever
            written or locked, an older schema is refused rather than migrated, and an
            append raises :class:`~alliance_events.errors.ReadOnlyStorageError`. The
            memory log ignores it.

    Returns:
        An open :class:`EventLog`.

    Raises:
        UnsupportedURLError: the URL's scheme or options are not known.
        StorageError: the storage cannot be opened (unreachable, not a log, read-only,
            locked...: the message says which and what to do).

    Example:
        >>> from alliance_events import open_log
        >>> with open_log("memory:") as log:
        ...     log.head()
        0

    """
    codec = Codec(registry)
    text = str(url)
    if isinstance(url, Path) or ("://" not in text and not text.startswith("memory:")):
        return SQLiteLog(text, clock=clock, codec=codec, read_only=read_only)
    parts = urlsplit(text)
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    scheme = parts.scheme.lower()
    if scheme == "memory":
        _no_options(text, options, set())
        return MemoryLog(clock=clock, codec=codec)
    if scheme == "sqlite":
        return _open_sqlite(text, parts.netloc, parts.path, options, clock, codec,
                            read_only=read_only)
    if scheme in ("postgresql", "postgres"):
        try:
            from alliance_events.log.postgres import PostgresLog  # noqa: PLC0415
        except ImportError as error:
            raise UnsupportedURLError(
                f"{scheme}:// needs psycopg: pip install 'alliance-events[postgres]' ({error})"
            ) from error
        return PostgresLog(text, clock=clock, codec=codec, read_only=read_only)
    raise UnsupportedURLError(
        f"cannot open a log at {text!r}: the scheme must be memory:, sqlite:/// or postgresql://"
    )


def _open_sqlite(
    url: str, host: str, path: str, options: dict[str, str], clock: Clock, codec: Codec,
    *, read_only: bool,
) -> SQLiteLog:
    if host:
        raise UnsupportedURLError(
            f"{url!r}: a SQLite URL has no host; write sqlite:///relative.db or "
            "sqlite:////absolute/path.db"
        )
    _no_options(url, options, {"synchronous", "busy_timeout", "mode", "verify"})
    file = unquote(path[1:] if path.startswith("/") else path)
    if not file:
        raise UnsupportedURLError(f"{url!r} names no database file")
    synchronous = options.get("synchronous", "FULL").upper()
    if synchronous not in ("FULL", "NORMAL"):
        raise UnsupportedURLError(f"{url!r}: synchronous must be FULL or NORMAL")
    kwargs: dict[str, Any] = {
        "synchronous": synchronous,
        "read_only": read_only or read_only_option(url, options),
        "verify_reads": verify_option(url, options),
    }
    if "busy_timeout" in options:
        try:
            kwargs["busy_timeout"] = float(options["busy_timeout"])
        except ValueError:
            message = f"{url!r}: busy_timeout must be a number of seconds"
            raise UnsupportedURLError(message) from None
    return SQLiteLog(file, clock=clock, codec=codec, **kwargs)


def read_only_option(url: str, options: dict[str, str]) -> bool:
    """Return whether ``?mode=`` asks for a read-only log (``ro``; ``rw`` is the default)."""
    mode = options.get("mode", "rw").lower()
    if mode not in ("ro", "rw"):
        raise UnsupportedURLError(f"{url!r}: mode must be ro or rw")
    return mode == "ro"


def verify_option(url: str, options: dict[str, str]) -> bool:
    """Return whether ``?verify=`` asks to check checksums on read (``on``, the default)."""
    value = options.get("verify", "on").lower()
    if value not in ("on", "off"):
        raise UnsupportedURLError(f"{url!r}: verify must be on or off")
    return value == "on"


def _no_options(url: str, options: dict[str, str], allowed: set[str]) -> None:
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise UnsupportedURLError(
            f"{url!r}: unknown option(s) {unknown}; allowed: {sorted(allowed) or 'none'}"
        )


def __getattr__(name: str) -> Any:
    if name == "PostgresLog":
        from alliance_events.log.postgres import PostgresLog  # noqa: PLC0415

        return PostgresLog
    raise AttributeError(name)
