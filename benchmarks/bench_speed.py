"""Measure each speed trick of ``alliance_events._speed`` against the plain way it replaces.

Run from the repository's root::

    .venv/bin/python benchmarks/bench_speed.py [--quick] [--repeat N]

Each trick is measured alone (per call) and where it is used (the whole job, with the
trick and with the plain way swapped in), in interleaved rounds, best of ``--repeat``:

* ``replace`` vs ``attrs.evolve``: one copy of each state the domain copies, and a full
  rebuild of the projection benchmark's 100,000-event log (``--quick``: 10,000); also
  how many copies of each class a rebuild makes, by either way;
* ``without_cyclic_gc`` vs the collector on: the same rebuild, the fold of the feed
  benchmark's 10,000-meeting log (``--quick``: 1,000) and a cold render of its public
  feed;
* ``NameUuids`` vs ``str(uuid.uuid5(...))``: one UID, new and made before, and a cold
  render of that public feed with each way;
* ``as_datetime`` vs pendulum's constructor: one date-time, the codec reading 20,000
  stored date-times in a named zone (each its own) and a log read building 20,000
  ``recorded_at`` with each way; and a date, which the same trick does not speed up.

Times are this process's CPU time (``time.process_time``), so that other processes on a
shared machine do not count (their effect on the caches still does). The logs are the
other benchmarks' cached ones (generated on the first run, see
benchmarks/README.md); every measurement runs on a copy. The figures quoted in
``src/alliance_events/_speed.py`` come from this script.
"""

import argparse
import collections
import contextlib
import datetime as _dt
import gc
import shutil
import sys
import tempfile
import time
import timeit
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pendulum

from alliance_events import Alliance, codec, open_log
from alliance_events import _speed as speed
from alliance_events.ical import Audience, FeedRenderer
from alliance_events.ical import _items as items
from alliance_events.log import base as log_base
from alliance_events.testing import FixedClock

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_feed
import bench_projection

CLOCK = time.process_time  # this process's CPU time: other processes' load does not count


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def best(function: Callable[[], Any], *, repeat: int, number: int) -> float:
    """The best time of one call, in seconds, over ``repeat`` rounds of ``number`` calls.

    Short rounds, many of them: the best is the round no other process interrupted.
    """
    rounds = max(repeat * 10, 20)
    number = max(number // 10, 1)
    return min(timeit.repeat(function, number=number, repeat=rounds, timer=CLOCK)) / number


@contextlib.contextmanager
def plain_copies() -> Iterator[None]:
    """``replace`` as ``attrs.evolve`` while the block runs (the generated copies put back)."""
    saved = dict(speed._REPLACERS)
    original = speed._make_replacer
    speed._REPLACERS.clear()
    speed._make_replacer = lambda cls, instance: lambda obj, changes: attrs.evolve(obj, **changes)
    try:
        yield
    finally:
        speed._make_replacer = original
        speed._REPLACERS.clear()
        speed._REPLACERS.update(saved)


@contextlib.contextmanager
def collector_on() -> Iterator[None]:
    """``without_cyclic_gc`` pausing nothing while the block runs."""
    disable = gc.disable
    gc.disable = lambda: None
    try:
        yield
    finally:
        gc.disable = disable


@contextlib.contextmanager
def plain_uids() -> Iterator[None]:
    """The feeds' UIDs as ``str(uuid.uuid5(...))``, each made anew, while the block runs."""
    saved = items._UIDS
    namespace = items.ALLIANCE_NAMESPACE
    items._UIDS = lambda kind, item_id: str(uuid.uuid5(namespace, f"{kind}:{item_id}"))
    try:
        yield
    finally:
        items._UIDS = saved


@contextlib.contextmanager
def counted_copies() -> Iterator[collections.Counter[str]]:
    """Count the copies made by ``replace`` and by ``attrs.evolve``, by class."""
    counts: collections.Counter[str] = collections.Counter()
    evolve = attrs.evolve
    replace_of = dict(speed._REPLACERS)
    make = speed._make_replacer

    def counting_evolve(instance: Any, **changes: Any) -> Any:
        counts[f"attrs.evolve {type(instance).__name__}"] += 1
        return evolve(instance, **changes)

    def counting_make(cls: type, instance: object) -> Any:
        copy = make(cls, instance)

        def counting(obj: Any, changes: dict[str, Any]) -> Any:
            counts[f"replace {cls.__name__}"] += 1
            return copy(obj, changes)

        return counting

    attrs.evolve = counting_evolve
    speed._make_replacer = counting_make
    speed._REPLACERS.clear()
    try:
        yield counts
    finally:
        attrs.evolve = evolve
        speed._make_replacer = make
        speed._REPLACERS.clear()
        speed._REPLACERS.update(replace_of)


def timed(function: Callable[[], Any]) -> float:
    gc.collect()
    started = CLOCK()
    function()
    return CLOCK() - started


def interleaved(ways: dict[str, Callable[[], float]], repeat: int) -> dict[str, float]:
    """Run each way once per round, in turn; return the best of each."""
    results: dict[str, list[float]] = {name: [] for name in ways}
    for _ in range(repeat):
        for name, way in ways.items():
            results[name].append(way())
    return {name: min(values) for name, values in results.items()}


def rebuild(log: Any, clock: FixedClock) -> float:
    alliance = Alliance(log, clock=clock)
    seconds = timed(alliance.catch_up)
    if alliance.state.position != log.head():
        raise RuntimeError("the rebuild stopped early")
    return seconds


def line(label: str, trick: float, plain: float, unit: str = "s") -> str:
    scale, fmt = (1e6, "9.2f") if unit == "µs" else (1.0, "9.3f")
    return (f"  {label:54} {trick * scale:{fmt}} {plain * scale:{fmt}} {unit}"
            f"   {plain / trick:5.2f}x   {1 - trick / plain:6.1%} saved")


def copy_section(out: list[str], log: Any, clock: FixedClock, repeat: int) -> None:
    alliance = Alliance(log, clock=clock)
    alliance.catch_up()
    state = alliance.state
    meeting = max(state.meetings.values(), key=lambda m: len(m.nominations))
    registration = meeting.registration
    nomination = meeting.nominations[0]
    samples: list[tuple[str, Any, dict[str, Any]]] = [
        (f"MeetingState ({len(attrs.fields(type(meeting)))} fields)", meeting,
         {"sequence": meeting.sequence + 1}),
    ]
    if registration is not None:
        samples.append((f"Registration ({len(attrs.fields(type(registration)))} fields)",
                        registration, {"capacity": 7}))
    samples.append((f"Nomination ({len(attrs.fields(type(nomination)))} fields)", nomination,
                    {"funded": True}))
    for name, mapping in (("Deadline", state.deadlines), ("Organisation", state.organisations),
                          ("Person", state.persons)):
        value = next(iter(mapping.values()), None)
        if value is not None:
            field = attrs.fields(type(value))[1].name
            samples.append((f"{name} ({len(attrs.fields(type(value)))} fields)", value,
                            {field: getattr(value, field)}))
    out.append("replace vs attrs.evolve, one copy with one change (best of "
               f"{repeat} x 20,000)                    replace  evolve")
    for label, value, changes in samples:
        trick = best(lambda v=value, c=changes: speed.replace(v, **c), repeat=repeat,
                     number=20_000)
        plain = best(lambda v=value, c=changes: attrs.evolve(v, **c), repeat=repeat,
                     number=20_000)
        out.append(line(label, trick, plain, "µs"))
    del alliance, state

    with counted_copies() as counts:
        Alliance(log, clock=clock).catch_up()
    out.append(f"  copies in one rebuild of {log.head():,} events: "
               + ", ".join(f"{name} {n:,}" for name, n in counts.most_common()))

    def plain_rebuild() -> float:
        with plain_copies():
            return rebuild(log, clock)

    figures = interleaved({"trick": lambda: rebuild(log, clock), "plain": plain_rebuild}, repeat)
    out.append(line(f"rebuild of {log.head():,} events (GC paused)", figures["trick"],
                    figures["plain"]))


def gc_section(out: list[str], projection_log: Any, projection_clock: FixedClock,
               feed_log: Any, feed_clock: FixedClock, repeat: int) -> Any:
    out.append("without_cyclic_gc vs the collector on                                  "
               "paused   GC on")

    def plain_rebuild(log: Any, clock: FixedClock) -> float:
        with collector_on():
            return rebuild(log, clock)

    for log, clock in ((projection_log, projection_clock), (feed_log, feed_clock)):
        figures = interleaved({"trick": lambda lg=log, c=clock: rebuild(lg, c),
                               "plain": lambda lg=log, c=clock: plain_rebuild(lg, c)}, repeat)
        out.append(line(f"rebuild of {log.head():,} events", figures["trick"], figures["plain"]))

    alliance = Alliance(feed_log, clock=feed_clock)
    alliance.catch_up()
    state = alliance.state
    now = feed_clock()

    def render() -> float:
        renderer = FeedRenderer()
        return timed(lambda: renderer.render(state, Audience.public(), now=now))

    def plain_render() -> float:
        with collector_on():
            return render()

    render()  # warm: the zones' VTIMEZONEs and the UIDs, alike for both ways
    figures = interleaved({"trick": render, "plain": plain_render}, repeat)
    out.append(line(f"cold render, public feed of {len(state.meetings):,} meetings",
                    figures["trick"], figures["plain"]))
    return alliance


def uid_section(out: list[str], alliance: Any, clock: FixedClock, repeat: int) -> None:
    namespace = items.ALLIANCE_NAMESPACE
    ids = [uuid.UUID(int=(n * 0x9E3779B97F4A7C15) % (1 << 128)) for n in range(20_000)]
    out.append("NameUuids vs str(uuid.uuid5(namespace, f'{kind}:{id}'))                "
               "  trick   plain")

    def plain_all() -> None:
        for item_id in ids:
            str(uuid.uuid5(namespace, f"meeting:{item_id}"))

    def new_all() -> None:
        uids = speed.NameUuids(namespace)
        for item_id in ids:
            uids("meeting", item_id)

    warm = speed.NameUuids(namespace)
    new_all()

    def again_all() -> None:
        for item_id in ids:
            warm("meeting", item_id)

    again_all()
    plain = best(plain_all, repeat=repeat, number=1) / len(ids)
    out.append(line("one UID, new", best(new_all, repeat=repeat, number=1) / len(ids), plain,
                    "µs"))
    out.append(line("one UID, made before", best(again_all, repeat=repeat, number=1) / len(ids),
                    plain, "µs"))

    state = alliance.state
    now = clock()

    def render(*, memo_warm: bool) -> float:
        if not memo_warm:
            items._UIDS = speed.NameUuids(namespace)
        renderer = FeedRenderer()
        return timed(lambda: renderer.render(state, Audience.public(), now=now))

    def plain_render() -> float:
        with plain_uids():
            return render(memo_warm=True)

    saved = items._UIDS
    try:
        render(memo_warm=True)
        figures = interleaved({"new": lambda: render(memo_warm=False),
                               "warm": lambda: render(memo_warm=True),
                               "plain": plain_render}, repeat)
    finally:
        items._UIDS = saved
    out.append(line(f"cold render of {len(state.meetings):,} meetings, UIDs new",
                    figures["new"], figures["plain"]))
    out.append(line("  the same, the UIDs made before (a second renderer)", figures["warm"],
                    figures["plain"]))


def plain_as_datetime(cls: Any, value: _dt.datetime, tzinfo: Any) -> Any:
    return cls(value.year, value.month, value.day, value.hour, value.minute, value.second,
               value.microsecond, tzinfo=tzinfo)


def datetime_section(out: list[str], repeat: int) -> None:
    zone = pendulum.timezone("Europe/Vienna")
    value = _dt.datetime(2025, 3, 22, 15, 45, 10, 5)  # noqa: DTZ001 - a wall time
    day = _dt.date(2025, 3, 22)
    state = _dt.date.__reduce__
    out.append("as_datetime vs pendulum's constructor                                   "
               "  trick   plain")
    out.append(line(
        "one date-time in a zone",
        best(lambda: speed.as_datetime(pendulum.DateTime, value, zone), repeat=repeat,
             number=100_000),
        best(lambda: plain_as_datetime(pendulum.DateTime, value, zone), repeat=repeat,
             number=100_000), "µs"))
    out.append(line(
        "  a date the same way (not used: no faster)",
        best(lambda: pendulum.Date(state(day)[1][0]), repeat=repeat, number=100_000),
        best(lambda: pendulum.Date(day.year, day.month, day.day), repeat=repeat,
             number=100_000), "µs"))
    start = pendulum.datetime(2025, 1, 6, 9, 0, tz=zone)
    texts = [codec._encode_datetime(start.add(minutes=7 * k)) for k in range(20_000)]

    def read_all() -> None:
        for text in texts:
            codec._decode_datetime(text)

    def plain_read_all() -> None:
        saved = codec.as_datetime
        codec.as_datetime = plain_as_datetime
        try:
            read_all()
        finally:
            codec.as_datetime = saved

    trick = best(read_all, repeat=repeat, number=1) / len(texts)
    plain = best(plain_read_all, repeat=repeat, number=1) / len(texts)
    out.append(line("the codec reading a stored date-time in a zone", trick, plain, "µs"))

    decoder = log_base.RecordDecoder(codec.Codec())
    moments = [1_700_000_000_000_000 + 7_919_993 * k for k in range(20_000)]

    def recorded_all() -> None:
        for micros in moments:
            decoder.recorded_at(micros)

    def plain_recorded_all() -> None:
        saved = log_base.as_datetime
        log_base.as_datetime = plain_as_datetime
        try:
            recorded_all()
        finally:
            log_base.as_datetime = saved

    trick = best(recorded_all, repeat=repeat, number=1) / len(moments)
    plain = best(plain_recorded_all, repeat=repeat, number=1) / len(moments)
    out.append(line("a log read's recorded_at, each its own", trick, plain, "µs"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the smaller logs, one round")
    parser.add_argument("--repeat", type=int, default=None, help="rounds (5; --quick: 2)")
    args = parser.parse_args(argv)
    repeat = args.repeat or (2 if args.quick else 5)
    events = 10_000 if args.quick else 100_000
    meetings = 1_000 if args.quick else 10_000
    projection_cached, _ = bench_projection.cached_log(events)
    feed_cached, info, _ = bench_feed.cached_log(meetings)
    workdir = Path(tempfile.mkdtemp(prefix="bench-speed-", dir=bench_projection.CACHE))
    out = [f"Python {sys.version.split()[0]}, {bench_projection.git_state()}"]
    try:
        projection_db = shutil.copyfile(projection_cached, workdir / "projection.db")
        feed_db = shutil.copyfile(feed_cached, workdir / "feed.db")
        feed_now = pendulum.parse(info["last_recorded"]).add(hours=1)  # type: ignore[union-attr]
        feed_clock = FixedClock(feed_now)
        with (open_log(f"sqlite:///{projection_db}") as projection_log,
              open_log(f"sqlite:///{feed_db}") as feed_log):
            projection_clock = FixedClock(bench_projection.last_time(projection_log))
            say("[replace]")
            copy_section(out, projection_log, projection_clock, repeat)
            say("[without_cyclic_gc]")
            alliance = gc_section(out, projection_log, projection_clock, feed_log, feed_clock,
                                  repeat)
            say("[NameUuids]")
            uid_section(out, alliance, feed_clock, repeat)
            say("[as_datetime]")
            datetime_section(out, repeat)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
