"""Child processes for tests/test_log_processes.py: each opens its own log and appends.

Run from the repository's root::

    python -m tests._log_workers race URL WRITER SECONDS STREAM [STREAM ...]
    python -m tests._log_workers crash URL ROUND SEED

``race``: print ``ready``, wait for a line on stdin, then for SECONDS append batches of
1-3 events to random streams at the version just read, and print one JSON line: the
batches acknowledged (ids, versions and positions ``append`` returned), the number of
conflicts, and any other error.

``crash``: print ``ready``, then append batches of 1-20 events to two streams forever,
printing each batch's id (flushed) once ``append`` returned. The parent kills it.
"""

from __future__ import annotations

import json
import random
import sys
import time
import uuid

from alliance_events import ConcurrencyError, open_log

from .sample_events import TEST_REGISTRY, Noted

CRASH_STREAMS = ("crash-a", "crash-b")
CRASH_MAX_BATCH = 20
CRASH_MAX_BATCHES = 1_000_000  # bounded even if nobody kills the process
CRASH_MAX_SECONDS = 60.0


def event_id(writer: int, sequence: int, index: int) -> uuid.UUID:
    """A unique, reproducible id: writer, batch sequence and index packed in 128 bits."""
    return uuid.UUID(int=(1 << 127) | (writer << 80) | (sequence << 16) | index)


def race(url: str, writer: int, seconds: float, streams: list[str]) -> int:
    """Append to shared streams at the version just read; report acks and conflicts."""
    rng = random.Random(writer)
    acknowledged: list[dict[str, object]] = []
    conflicts = 0
    errors: list[str] = []
    with open_log(url, registry=TEST_REGISTRY) as log:
        print("ready", flush=True)
        if sys.stdin.readline().strip() != "go":
            return 2
        deadline = time.monotonic() + seconds
        sequence = 0
        while time.monotonic() < deadline and sequence < 1_000_000:
            sequence += 1
            stream = rng.choice(streams)
            size = rng.randint(1, 3)
            events = [
                Noted(
                    event_id=event_id(writer, sequence, index),
                    text=f"w{writer}-s{sequence}-i{index}/{size}",
                )
                for index in range(size)
            ]
            version = log.stream_version(stream)
            if rng.random() < 0.5:  # a command deciding takes a moment: others may append
                time.sleep(rng.uniform(0, 0.001))
            try:
                records = log.append(stream, events, expected_version=version)
            except ConcurrencyError:
                conflicts += 1
                continue
            except Exception as error:  # noqa: BLE001 - reported to the parent, which fails
                errors.append(f"{type(error).__name__}: {error}")
                if len(errors) >= 10:
                    break
                continue
            acknowledged.append(
                {
                    "stream": stream,
                    "expected": version,
                    "ids": [str(r.event_id) for r in records],
                    "versions": [r.version for r in records],
                    "positions": [r.position for r in records],
                }
            )
    report = {
        "writer": writer,
        "attempts": sequence,
        "acknowledged": acknowledged,
        "conflicts": conflicts,
        "errors": errors,
    }
    print(json.dumps(report), flush=True)
    return 0


def crash(url: str, round_number: int, seed: int) -> int:
    """Append batches until killed, printing each batch's id once its append returned."""
    rng = random.Random(seed)
    with open_log(url, registry=TEST_REGISTRY) as log:
        versions = {stream: log.stream_version(stream) for stream in CRASH_STREAMS}
        print("ready", flush=True)
        deadline = time.monotonic() + CRASH_MAX_SECONDS
        for sequence in range(1, CRASH_MAX_BATCHES + 1):
            if time.monotonic() > deadline:
                break
            stream = rng.choice(CRASH_STREAMS)
            size = rng.randint(1, CRASH_MAX_BATCH)
            batch = f"r{round_number}b{sequence}"
            events = [
                Noted(
                    event_id=event_id(round_number, sequence, index),
                    text=f"{batch}:{index}/{size}",
                )
                for index in range(size)
            ]
            log.append(stream, events, expected_version=versions[stream])
            versions[stream] += size
            sys.stdout.write(f"{batch}\n")
            sys.stdout.flush()
    return 0


def main(argv: list[str]) -> int:
    """Dispatch on the first argument (``race`` or ``crash``)."""
    if len(argv) >= 5 and argv[0] == "race":
        return race(argv[1], int(argv[2]), float(argv[3]), argv[4:])
    if len(argv) == 4 and argv[0] == "crash":
        return crash(argv[1], int(argv[2]), int(argv[3]))
    sys.stderr.write(__doc__ or "")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
