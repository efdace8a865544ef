"""Following the log: consumers with a durable checkpoint, woken when the log moves.

A tool that reacts to new events (send a mail when a meeting is cancelled, mirror the
registrations into a spreadsheet) follows the log with a :class:`Follower` under a name
of its own. The rules, the same on every backend:

* **The checkpoint** is the position of the last record the consumer acknowledged. It is
  stored in the same database as the log (the table ``checkpoints``, beside the events;
  on the memory log, beside its records), by consumer name.
* **Where a consumer starts.** The first run of a name starts at the origin
  (``start="origin"``: every record), after a position (``start=1200``), or at ``"now"``
  (the log's head at that moment, stored at once, so that a restart does not jump further:
  a consumer deployed today does not act on years of history). Every later run resumes
  from the stored checkpoint, whatever ``start`` says (:attr:`Follower.resumed` tells).
* **Delivery.** Records come in batches, in position order, from the log's own reader,
  which never skips a record that commits late (PostgreSQL: see
  :mod:`alliance_events.log.postgres`).
* **Acknowledged is durable.** Once :meth:`Follower.ack` returns (or the block of
  :meth:`Follower.transaction` has committed), a crash never delivers those records
  again. Records after the checkpoint are delivered again to the next run: delivery is
  *at least once*.
* **Effectively once**, two ways: write the consumer's own rows inside
  :meth:`Follower.transaction`, which moves the checkpoint in the same database
  transaction (both or neither); or make the handling idempotent (appending events whose
  ids derive from the handled record's id, say: a repeated append is a no-op).
* **One follower per name.** A second follower of a name that is being followed waits up
  to ``lock_timeout`` seconds (0 by default) for the first to stop, then raises
  :class:`~alliance_events.errors.ConsumerBusyError`. The lock is PostgreSQL's
  session-level advisory lock, an ``flock`` on a file beside a SQLite database
  (``<database>-follower-<hash>.lock``), a set of names in memory; the operating system
  or the server releases it when a process dies, even by ``SIGKILL``. As a second line,
  every claim of a name moves its *generation*, and an acknowledgement moves the
  checkpoint only at the generation it claimed: a follower whose claim was taken over
  (or whose checkpoint an operator moved with :class:`Checkpoints`) gets
  :class:`~alliance_events.errors.ConsumerSupersededError`, and nothing of that
  acknowledgement is written.
* **Waiting** for new records: ``LISTEN``/``NOTIFY`` on PostgreSQL (a follower also looks
  every ``fallback_interval`` seconds, for a ``NOTIFY`` lost with a writer that died
  between its commit and its ``NOTIFY``), a look every ``poll_interval`` seconds on
  SQLite (and on PostgreSQL with ``?notify=off``), at once on the memory log.
* **When the database goes away** (PostgreSQL restarted, a connection killed), a
  follower's connection is replaced on its next use, with the bounded back-off of
  :mod:`alliance_events.log.postgres`; it listens again, takes its name's lock again
  (the generation still fences it out if another follower claimed the name meanwhile) and
  its next wait returns at once (something may have been appended while it was away). A
  wait or a read that cannot reconnect within the bound raises
  :class:`~alliance_events.errors.StorageUnavailableError`; call it again later.

:class:`LogWatcher` is the waiting alone, for a reader that keeps its own position (the
feed server); :class:`Checkpoints` lists, moves and deletes checkpoints (for operators
and tests).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Final, Literal, NamedTuple, Protocol, runtime_checkable

from alliance_events.errors import FollowerError
from alliance_events.log.base import EventLog, Recorded

__all__ = [
    "DEFAULT_BATCH_SIZE",
    "DEFAULT_FALLBACK_INTERVAL",
    "DEFAULT_POLL_INTERVAL",
    "Checkpoints",
    "Claim",
    "ConsumerStore",
    "FollowableLog",
    "Follower",
    "LogWatcher",
    "Start",
    "check_consumer_name",
]

Start = int | Literal["origin", "now"]
"""Where the first run of a consumer starts: ``"origin"``, ``"now"`` or after a position."""

DEFAULT_BATCH_SIZE: Final = 1_000
DEFAULT_POLL_INTERVAL: Final = 0.5
DEFAULT_FALLBACK_INTERVAL: Final = 10.0
MAX_CONSUMER_NAME_LENGTH: Final = 200


class Claim(NamedTuple):
    """A follower's hold on a consumer name, as its store returned it.

    Attributes:
        name: the consumer's name.
        position: the checkpoint when claimed (where delivery starts).
        generation: the claim's number; an acknowledgement writes only at it.
        resumed: whether the checkpoint existed (False: the first run of the name).

    """

    name: str
    position: int
    generation: int
    resumed: bool


class ConsumerStore(Protocol):
    """What a backend provides for following it (one per follower, watcher or view).

    It owns what it needs (PostgreSQL: a connection of its own; SQLite: a connection and
    the lock files) and releases it on :meth:`close`, claims included. Positions are
    checked by the caller; a store trusts them.
    """

    def get(self, name: str) -> int | None:
        """Return the stored checkpoint of ``name`` (None: none stored)."""
        ...

    def items(self) -> dict[str, int]:
        """Return every stored checkpoint by name."""
        ...

    def put(self, name: str, position: int) -> None:
        """Store ``position`` as the checkpoint of ``name``, fencing out its follower."""
        ...

    def delete(self, name: str) -> bool:
        """Forget the checkpoint of ``name``, fencing out its follower; return if it existed."""
        ...

    def claim(self, name: str, start: int | None, lock_timeout: float | None) -> Claim:
        """Take the name's lock, move its generation, create its checkpoint if missing.

        ``start`` is the first run's position, None for the head at this moment.

        Raises:
            ConsumerBusyError: another follower holds the name after ``lock_timeout``.

        """
        ...

    def move(self, claim: Claim, position: int) -> None:
        """Store ``position`` as the claim's checkpoint, durably.

        Raises:
            ConsumerSupersededError: the claim's generation is no longer the name's.

        """
        ...

    def transaction(self, claim: Claim, position: int) -> AbstractContextManager[Any]:
        """Move the checkpoint in a transaction that the caller's block writes in too."""
        ...

    def listen(self) -> None:
        """Start listening for appends (before the first read, so that none is missed)."""
        ...

    def wait(self, after: int, timeout: float) -> bool:
        """Block until the log may hold a record after ``after`` (True) or until timeout."""
        ...

    def interrupt(self) -> None:
        """Make the running (or else the next) :meth:`wait` return False at once."""
        ...

    def close(self) -> None:
        """Release the claim, the lock and the connections."""
        ...


@runtime_checkable
class FollowableLog(EventLog, Protocol):
    """An event log that can be followed: every backend of this package is one."""

    def consumer_store(self, *, poll_interval: float, fallback_interval: float) -> ConsumerStore:
        """Return a new store of checkpoints and wake-ups over this log's database."""
        ...


def check_consumer_name(name: object) -> str:
    """Return ``name`` if it is a valid consumer name (1 to 200 characters, no NUL).

    Raises:
        FollowerError: it is not.

    """
    if not isinstance(name, str):
        raise FollowerError(f"a consumer name must be a string, got {type(name).__name__}")
    if not 0 < len(name) <= MAX_CONSUMER_NAME_LENGTH or "\x00" in name:
        raise FollowerError(
            f"a consumer name has 1 to {MAX_CONSUMER_NAME_LENGTH} characters and no NUL: "
            f"{name[:40]!r}"
        )
    return name


def _check_position(position: object, what: str) -> int:
    if isinstance(position, bool) or not isinstance(position, int) or position < 0:
        raise FollowerError(f"{what} must be a position (an integer >= 0), got {position!r}")
    return position


def _check_start(start: object) -> int | None:
    if start == "origin":
        return 0
    if start == "now":
        return None
    if isinstance(start, str):
        raise FollowerError(f"start must be 'origin', 'now' or a position, got {start!r}")
    return _check_position(start, "start")


def _check_seconds(value: object, what: str, *, zero: bool) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or math.isnan(value)
        or value < 0
        or (value == 0 and not zero)
    ):
        bound = ">= 0" if zero else "> 0"
        raise FollowerError(f"{what} must be a number of seconds {bound}, got {value!r}")
    return float(value)


def _store_of(log: EventLog, poll_interval: float, fallback_interval: float) -> ConsumerStore:
    poll = _check_seconds(poll_interval, "poll_interval", zero=False)
    fallback = _check_seconds(fallback_interval, "fallback_interval", zero=False)
    if not isinstance(log, FollowableLog):
        raise FollowerError(
            f"{type(log).__name__} cannot be followed: it has no consumer_store() "
            "(the memory, SQLite and PostgreSQL logs have one)"
        )
    return log.consumer_store(poll_interval=poll, fallback_interval=fallback)


class Follower:
    """Delivers a log's new records to one consumer, and keeps its checkpoint.

    Example (on the memory log; the same on SQLite and PostgreSQL)::

        with Follower(log, "mailer", start="now") as follower:
            for batch in follower:          # waits for new records; stop() ends it
                for record in batch:
                    handle(record)
                follower.ack()              # everything delivered so far is handled

    Use a follower from one thread; :meth:`stop` may be called from any other thread.
    See the module's notes for the guarantees.
    """

    def __init__(
        self,
        log: EventLog,
        name: str | None,
        *,
        start: Start = "origin",
        batch_size: int = DEFAULT_BATCH_SIZE,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        fallback_interval: float = DEFAULT_FALLBACK_INTERVAL,
        lock_timeout: float | None = 0.0,
    ) -> None:
        """Claim the consumer ``name`` and find its checkpoint.

        Args:
            log: the log to follow (memory, SQLite or PostgreSQL).
            name: the consumer's name (1 to 200 characters), under which its checkpoint
                is stored. ``None``: a follower whose checkpoint lives in this object only
                (for a reader that rebuilds its state on start, like ``tail``); it cannot
                open a :meth:`transaction`.
            start: where the first run of ``name`` starts: ``"origin"`` (every record),
                ``"now"`` (the records appended from now on) or a position (the records
                after it). Ignored when the checkpoint exists: a later run resumes.
            batch_size: the most records one batch holds.
            poll_interval: seconds between two looks at the log when nothing wakes the
                follower: on SQLite, and on PostgreSQL with ``?notify=off``.
            fallback_interval: on PostgreSQL with ``NOTIFY``, seconds after which the
                follower looks anyway (a ``NOTIFY`` is lost when its writer dies between
                its commit and its ``NOTIFY``).
            lock_timeout: seconds to wait for another follower of ``name`` to stop
                (``None``: for ever, a standby taking over when the active one dies).

        Raises:
            ConsumerBusyError: another follower of ``name`` still runs after
                ``lock_timeout`` seconds.
            FollowerError: a bad name, start, batch size or interval, or a log that
                cannot be followed.

        """
        initial = _check_start(start)
        if name is not None:
            check_consumer_name(name)
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise FollowerError(f"batch_size must be an integer >= 1, got {batch_size!r}")
        wait = None if lock_timeout is None else _check_seconds(
            lock_timeout, "lock_timeout", zero=True
        )
        self.name = name
        self.batch_size = batch_size
        self._log = log
        self._store = _store_of(log, poll_interval, fallback_interval)
        try:
            # Listening starts before the first read: an append committed after that read
            # wakes the follower, one committed before it is read.
            self._store.listen()
            if name is None:
                self._claim: Claim | None = None
                position = log.head() if initial is None else initial
                self.resumed = False
            else:
                self._claim = self._store.claim(name, initial, wait)
                position = self._claim.position
                self.resumed = self._claim.resumed
        except BaseException:
            self._store.close()
            raise
        self._checkpoint = position
        self._delivered = position
        self._stopped = threading.Event()
        self._closed = False

    @property
    def checkpoint(self) -> int:
        """The position of the last record acknowledged (stored, unless ``name`` is None)."""
        return self._checkpoint

    @property
    def position(self) -> int:
        """The position of the last record delivered (the checkpoint, or further on)."""
        return self._delivered

    @property
    def stopped(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stopped.is_set()

    def poll(self, limit: int | None = None) -> list[Recorded]:
        """Return the next records after those delivered, without waiting (maybe none).

        At most ``limit`` records, and never more than ``batch_size``.
        """
        self._check_open()
        size = self.batch_size if limit is None else max(0, min(limit, self.batch_size))
        if size == 0:
            return []
        batch = list(self._log.read_all(after=self._delivered, limit=size))
        if batch:
            self._delivered = batch[-1].position
        return batch

    def wait(self, timeout: float | None = None) -> bool:
        """Block until records after those delivered may be there, for ``timeout`` at most.

        Returns:
            True when the log may hold new records (look with :meth:`poll`), False when
            the time ran out or the wait was interrupted by :meth:`stop`.

        """
        self._check_open()
        if self._stopped.is_set():
            return False
        limit = math.inf if timeout is None else _check_seconds(timeout, "timeout", zero=True)
        return self._store.wait(self._delivered, limit)

    def next_batch(self, timeout: float | None = None, *, limit: int | None = None
                   ) -> list[Recorded]:
        """Return the next records, waiting up to ``timeout`` seconds for some to come.

        Args:
            timeout: seconds to wait at most (``None``: until records come or
                :meth:`stop`; 0: do not wait).
            limit: the most records to return (never more than ``batch_size``).

        Returns:
            The records, or an empty list when none came in time or the follower stopped.

        """
        deadline = None if timeout is None else time.monotonic() + _check_seconds(
            timeout, "timeout", zero=True
        )
        while True:
            batch = self.poll(limit)
            if batch or self._stopped.is_set() or limit == 0:
                return batch
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                return batch
            self.wait(remaining)

    def batches(self, *, idle_timeout: float | None = None) -> Iterator[list[Recorded]]:
        """Yield batches of new records as they come, until :meth:`stop` (or idleness).

        Args:
            idle_timeout: end once no record came for this many seconds (``None``: never;
                0: end when the log is read to its end, without waiting).

        """
        while not self._stopped.is_set():
            batch = self.next_batch(idle_timeout)
            if not batch:
                return
            yield batch

    def __iter__(self) -> Iterator[list[Recorded]]:
        """Iterate over :meth:`batches` (for ever, until :meth:`stop`)."""
        return self.batches()

    def ack(self, position: int | None = None) -> None:
        """Acknowledge every record up to ``position`` (by default, all delivered so far).

        When it returns, the checkpoint is stored durably: a later run never delivers
        those records again.

        Raises:
            FollowerError: ``position`` is before the checkpoint or after the last
                record delivered.
            ConsumerSupersededError: another follower claimed the name since, or an
                operator moved its checkpoint; nothing was stored.

        """
        target = self._target(position)
        if target == self._checkpoint:
            return
        if self._claim is not None:
            self._store.move(self._claim, target)
        self._checkpoint = target

    @contextmanager
    def transaction(self, ack: int | None = None) -> Iterator[Any]:
        """Write the consumer's own rows and move its checkpoint, in one transaction.

        ``with follower.transaction() as connection:`` gives a connection to the log's
        database inside a transaction that already moved the checkpoint to ``ack`` (by
        default, the last record delivered). When the block ends, both commit; when it
        raises, both roll back and the checkpoint stays where it was.

        The connection, by backend:

        * SQLite: a ``sqlite3.Connection`` inside ``BEGIN IMMEDIATE`` (it holds the
          database's write lock: keep the block short, and do not append to the log
          inside it);
        * PostgreSQL: a ``psycopg.Connection`` inside a transaction (the checkpoint's row
          is locked until it ends);
        * memory: ``None``, there is no database; the checkpoint moves only if the block
          ends without an exception.

        Do not commit or roll back the connection yourself.

        Raises:
            FollowerError: the follower has no name (its checkpoint is not stored), or
                ``ack`` is out of range (see :meth:`ack`).
            ConsumerSupersededError: before the block runs, as :meth:`ack` does.

        """
        if self._claim is None:
            raise FollowerError(
                "a follower without a name keeps its checkpoint in memory: there is no "
                "stored checkpoint to move in a transaction"
            )
        target = self._target(ack)
        with self._store.transaction(self._claim, target) as connection:
            yield connection
        self._checkpoint = target

    def rewind(self) -> None:
        """Deliver again the records after the checkpoint (those not acknowledged)."""
        self._check_open()
        self._delivered = self._checkpoint

    def stop(self) -> None:
        """End :meth:`batches` and any wait (from another thread); acknowledging still works."""
        self._stopped.set()
        self._store.interrupt()

    def close(self) -> None:
        """Stop, and release the name's lock and the connections.

        Records delivered and not acknowledged are delivered again to the next follower
        of the name.
        """
        if not self._closed:
            self._closed = True
            self._stopped.set()
            self._store.close()

    def __enter__(self) -> Follower:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return (
            f"Follower({self.name!r}, checkpoint={self._checkpoint}, "
            f"position={self._delivered})"
        )

    def _target(self, position: int | None) -> int:
        self._check_open()
        target = self._delivered if position is None else _check_position(position, "ack")
        if not self._checkpoint <= target <= self._delivered:
            raise FollowerError(
                f"cannot acknowledge position {target} of consumer {self.name!r}: it must "
                f"lie between its checkpoint {self._checkpoint} and the last position "
                f"delivered, {self._delivered}"
            )
        return target

    def _check_open(self) -> None:
        if self._closed:
            raise FollowerError(f"the follower of {self.name!r} is closed")


class LogWatcher:
    """Waits until a log may hold records after a position (the waiting of a Follower).

    For a reader that keeps its own position and catches up by itself (the feed server):
    ``wait(after=position)`` returns as soon as the log holds records after ``position``
    (woken by ``NOTIFY`` on PostgreSQL, looking every ``poll_interval`` seconds on SQLite,
    at once on the memory log) or when ``timeout`` runs out.
    """

    def __init__(
        self,
        log: EventLog,
        *,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        fallback_interval: float = DEFAULT_FALLBACK_INTERVAL,
    ) -> None:
        """Start listening to ``log`` (intervals as for :class:`Follower`)."""
        self._store = _store_of(log, poll_interval, fallback_interval)
        try:
            self._store.listen()
        except BaseException:
            self._store.close()
            raise

    def wait(self, after: int, timeout: float | None = None) -> bool:
        """Block until the log may hold records after ``after``, ``timeout`` at most.

        Returns:
            True when it may (read it), False when the time ran out or on
            :meth:`interrupt`.

        """
        limit = math.inf if timeout is None else _check_seconds(timeout, "timeout", zero=True)
        return self._store.wait(after, limit)

    def interrupt(self) -> None:
        """Make the running (or else the next) :meth:`wait` return False at once."""
        self._store.interrupt()

    def close(self) -> None:
        """Release the connection (a running :meth:`wait` is interrupted first)."""
        self._store.close()

    def __enter__(self) -> LogWatcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class Checkpoints:
    """The stored checkpoints of a log's consumers, by name (for operators and tests)."""

    def __init__(self, log: EventLog) -> None:
        """Open a view of the checkpoints stored beside ``log``."""
        self._store = _store_of(log, DEFAULT_POLL_INTERVAL, DEFAULT_FALLBACK_INTERVAL)

    def get(self, name: str) -> int | None:
        """Return the checkpoint of the consumer ``name`` (None: it never ran, or deleted)."""
        return self._store.get(check_consumer_name(name))

    def all(self) -> dict[str, int]:
        """Return every stored checkpoint, by consumer name."""
        return self._store.items()

    def set(self, name: str, position: int) -> None:
        """Store ``position`` as the checkpoint of ``name`` (to replay, or to skip).

        A follower of ``name`` that is running is fenced out: its next acknowledgement
        raises :class:`~alliance_events.errors.ConsumerSupersededError`, and the next
        follower resumes after ``position``.
        """
        self._store.put(check_consumer_name(name), _check_position(position, "position"))

    def delete(self, name: str) -> bool:
        """Forget the checkpoint of ``name`` (its next run starts as a first run).

        A running follower of ``name`` is fenced out, as by :meth:`set`.

        Returns:
            Whether there was a checkpoint to forget.

        """
        return self._store.delete(check_consumer_name(name))

    def close(self) -> None:
        """Release the connection."""
        self._store.close()

    def __enter__(self) -> Checkpoints:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
