"""What sealing personal data costs: person events appended and read, sealed and not.

Two event classes with the same fields as ``PersonRegistered`` (a name, an e-mail, a
person id, an organisation id): the library's own, whose name and e-mail are sealed with
the person's key (AES-256-SIV, a key per person from the key store), and a plain copy
without ``__personal__``. Each is appended to its own SQLite log (``synchronous=NORMAL``,
so the disk's flush does not hide the CPU), in batches of 100 to streams of one person
each, then read back whole. Both run in the same process, alternately, ``--repeat`` times;
the table gives the best rates and sealed / plain.

    .venv/bin/python benchmarks/bench_personal.py            # 20,000 persons, 3 rounds
    .venv/bin/python benchmarks/bench_personal.py --persons 5000 --repeat 1
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path
from typing import ClassVar

import attrs

from alliance_events import Event, EventRegistry, open_log
from alliance_events.domain.catalog import library_registry
from alliance_events.domain.directory import PersonRegistered


@attrs.frozen(kw_only=True)
class PlainPerson(Event):
    """The same fields as PersonRegistered, not sealed."""

    __personal__: ClassVar[dict[str, object]] = {}

    person_id: uuid.UUID
    name: str
    email: str = ""
    organisation_id: uuid.UUID | None = None


def _registries() -> tuple[EventRegistry, EventRegistry]:
    sealed = library_registry()
    plain = EventRegistry()
    plain.add(PlainPerson, "bench.PlainPerson", schema=1)
    return sealed, plain


def _events(cls: type[Event], persons: int) -> list[Event]:
    organisation = uuid.uuid4()
    return [
        cls(event_id=uuid.uuid4(), person_id=uuid.uuid4(), name=f"Delegate Number {i:06d}",
            email=f"delegate.{i:06d}@ngo{i % 97}.example.org", organisation_id=organisation)
        for i in range(persons)
    ]


def _round(folder: Path, registry: EventRegistry, events: list[Event]) -> tuple[float, float]:
    path = folder / f"log-{uuid.uuid4().hex}.db"
    log = open_log(f"sqlite:///{path}?synchronous=NORMAL", registry=registry)
    try:
        started = time.perf_counter()
        for start in range(0, len(events), 100):
            batch = events[start:start + 100]
            for event in batch:  # one stream per person, as the library writes them
                log.append(f"person-{event.person_id}", [event], expected_version=0)
        appended = time.perf_counter() - started
        log.close()
        log = open_log(f"sqlite:///{path}", registry=registry)  # a new process's keys, cold
        started = time.perf_counter()
        count = sum(1 for _ in log.read_all())
        read = time.perf_counter() - started
        assert count == len(events)
    finally:
        log.close()
    return len(events) / appended, len(events) / read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    sealed_registry, plain_registry = _registries()
    sealed_events = _events(PersonRegistered, args.persons)
    plain_events = _events(PlainPerson, args.persons)
    folder = Path(tempfile.mkdtemp(prefix="bench-personal-", dir=Path(__file__).parent))
    best: dict[str, list[float]] = {"sealed": [0.0, 0.0], "plain": [0.0, 0.0]}
    try:
        print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        for _ in range(args.repeat):
            for name, registry, events in (("plain", plain_registry, plain_events),
                                           ("sealed", sealed_registry, sealed_events)):
                rates = _round(folder, registry, events)
                best[name] = [max(a, b) for a, b in zip(best[name], rates, strict=True)]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(f"{args.persons:,} person events, SQLite synchronous=NORMAL, one append each, "
          f"best of {args.repeat}")
    print(f"{'':24}{'plain ev/s':>12}{'sealed ev/s':>13}{'sealed/plain':>14}")
    for index, what in enumerate(("append (1 event/call)", "read_all + decode")):
        plain, sealed = best["plain"][index], best["sealed"][index]
        print(f"{what:24}{plain:12,.0f}{sealed:13,.0f}{sealed / plain:14.2f}")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()


