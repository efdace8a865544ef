"""Child processes for tests/test_follow.py: consumers that follow a log, and an appender.

Run from the repository's root::

    python -m tests._follow_workers consume-tx URL NAME SEED [UNTIL]
    python -m tests._follow_workers consume-file URL NAME FILE SEED [UNTIL]
    python -m tests._follow_workers append URL
    python -m tests._follow_workers hold URL NAME

``consume-tx``: follow the log as consumer NAME from the origin; write each record's
position into the table ``handled_tx`` in the transaction that moves the checkpoint (in
chunks of random size). ``consume-file``: write ``rec <position>`` lines to FILE for each
record, then acknowledge a random prefix of the batch and write ``ack <position>``; each
run begins with ``start <checkpoint>``. Both print ``ready`` once they hold the name, run
until killed, or with UNTIL until their checkpoint reaches it, then print ``done``.

``append``: print ``ready``, then for each ``go`` line on stdin wait 50 ms, append one
event and print the monotonic clock before and after the append.

``hold``: claim NAME, print ``ready``, and hold it until stdin closes.
"""

from __future__ import annotations

import os
import random
import sys
import time

from alliance_events import ANY, Follower, new_id, open_log
from alliance_events.log.follow import FollowableLog

from .sample_events import TEST_REGISTRY, Noted

LOCK_TIMEOUT = 30.0  # a killed predecessor's lock is released when the server notices
MAX_SECONDS = 60.0  # bounded even if nobody kills the process


def _table(log: FollowableLog) -> tuple[str, str]:
    """The consumer's table, qualified for the backend, and its parameter mark."""
    schema = getattr(log, "schema", None)
    if schema is None:
        return "handled_tx", "?"
    return f'"{schema}".handled_tx', "%s"


def consume_tx(url: str, name: str, seed: int, until: int | None) -> int:
    """Handle each record in the transaction that acknowledges it."""
    rng = random.Random(seed)
    with open_log(url, registry=TEST_REGISTRY) as log:
        assert isinstance(log, FollowableLog)
        table, mark = _table(log)
        with Follower(log, name, batch_size=rng.randint(1, 50), poll_interval=0.01,
                      fallback_interval=1.0, lock_timeout=LOCK_TIMEOUT) as follower:
            with follower.transaction(ack=follower.checkpoint) as connection:
                connection.execute(
                    f"CREATE TABLE IF NOT EXISTS {table} (position bigint NOT NULL)"
                )
            print("ready", flush=True)
            deadline = time.monotonic() + MAX_SECONDS
            while time.monotonic() < deadline:
                if until is not None and follower.checkpoint >= until:
                    print("done", flush=True)
                    return 0
                batch = follower.next_batch(0.5)
                while batch:
                    size = rng.randint(1, len(batch))
                    chunk, batch = batch[:size], batch[size:]
                    with follower.transaction(ack=chunk[-1].position) as connection:
                        for record in chunk:
                            connection.execute(
                                f"INSERT INTO {table} (position) VALUES ({mark})",
                                (record.position,),
                            )
                        if rng.random() < 0.3:  # widen the window a kill may land in
                            time.sleep(rng.uniform(0, 0.005))
    return 1


def consume_file(url: str, name: str, path: str, seed: int, until: int | None) -> int:
    """Write each record to an append-only file, then acknowledge (at least once)."""
    rng = random.Random(seed)
    out = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(line: str) -> None:
        os.write(out, line.encode())  # one write() a line: a kill never cuts one in two

    with open_log(url, registry=TEST_REGISTRY) as log, Follower(
        log, name, batch_size=rng.randint(1, 50), poll_interval=0.01, fallback_interval=1.0,
        lock_timeout=LOCK_TIMEOUT,
    ) as follower:
        write(f"start {follower.checkpoint}\n")
        print("ready", flush=True)
        deadline = time.monotonic() + MAX_SECONDS
        while time.monotonic() < deadline:
            if until is not None and follower.checkpoint >= until:
                print("done", flush=True)
                return 0
            batch = follower.next_batch(0.5)
            for record in batch:
                write(f"rec {record.position}\n")
                if rng.random() < 0.1:
                    time.sleep(rng.uniform(0, 0.002))
            if batch or follower.position > follower.checkpoint:
                # A prefix of what was delivered (all of it when catching up to the end).
                first = follower.checkpoint + 1
                last = follower.position
                position = last if until is not None else rng.randint(first, last)
                follower.ack(position)
                write(f"ack {position}\n")
    return 1


def append(url: str) -> int:
    """Append one event for each ``go`` line, printing the clock around the append."""
    with open_log(url, registry=TEST_REGISTRY) as log:
        print("ready", flush=True)
        for line in sys.stdin:
            if line.strip() != "go":
                break
            time.sleep(0.05)  # the parent is waiting by now
            before = time.monotonic()
            log.append("wake", [Noted(event_id=new_id(), text="wake")], expected_version=ANY)
            after = time.monotonic()
            print(f"{before} {after}", flush=True)
    return 0


def hold(url: str, name: str) -> int:
    """Hold the consumer name until stdin closes (or the process is killed)."""
    with open_log(url, registry=TEST_REGISTRY) as log, Follower(log, name):
        print("ready", flush=True)
        sys.stdin.read()
    return 0


def main(argv: list[str]) -> int:
    """Dispatch on the first argument."""
    command, args = (argv[0], argv[1:]) if argv else ("", [])
    until: int | None = None
    if command == "consume-tx" and len(args) in (3, 4):
        until = int(args[3]) if len(args) == 4 else None
        return consume_tx(args[0], args[1], int(args[2]), until)
    if command == "consume-file" and len(args) in (4, 5):
        until = int(args[4]) if len(args) == 5 else None
        return consume_file(args[0], args[1], args[2], int(args[3]), until)
    if command == "append" and len(args) == 1:
        return append(args[0])
    if command == "hold" and len(args) == 2:
        return hold(args[0], args[1])
    sys.stderr.write(__doc__ or "")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
