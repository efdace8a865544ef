"""Benchmark the calendar feeds: cold render, render after one event, and HTTP throughput.

Run from the repository's root::

    .venv/bin/python benchmarks/bench_feed.py [--quick] [--meetings N] [--repeat N]
                                              [--rounds N] [--duration S] [--json FILE]
                                              [--profile] [--loadgen auto|wrk|python]

On a SQLite log of N meetings (10,000; --quick 1,000) of a realistic mix (timed meetings
in Europe/Vienna and other zones, fixed offsets, all-day commission sessions with their
sessions and side events, tentative and cancelled meetings, deadlines of meetings, of one
organisation and stand-alone calls, links, nominations by a dozen organisations),
generated once and cached in benchmarks/.cache/, it measures:

* the cold render of the public feed and of one organisation's feed with a new
  ``FeedRenderer`` on the caught-up state, beside icalendar building and serialising the
  same calendar at once (``FeedRenderer.calendar(...).to_ical()``);
* the render after one new event touching one meeting (append, catch up, render);
* requests per second of a real server process (``alliance-events serve``) on loopback:
  200s, gzip 200s and 304s of the public feed, beside a bare ASGI callable under the same
  uvicorn sending the same bytes and headers, with ``wrk`` (or a Python load generator).

See benchmarks/README.md for what each row means.
"""

import argparse
import asyncio
import collections
import contextlib
import cProfile
import dataclasses
import datetime as _dt
import gc
import hashlib
import http.client
import io
import json
import os
import platform
import pstats
import random
import re
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pendulum

from alliance_events import Alliance, open_log
from alliance_events.domain import deadlines as dl
from alliance_events.domain import directory as dr
from alliance_events.domain import meetings as mt
from alliance_events.domain.common import LinkKind, MeetingKind, MeetingStatus, Role
from alliance_events.events import Event
from alliance_events.ical import Audience, FeedRenderer
from alliance_events.projections.alliance import AllianceState
from alliance_events.testing import FixedClock
from alliance_events.timing import AllDay, Timed, zone
from alliance_events.web import _Cached

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_projection import Ids, git_state, remove_sqlite, table_sql

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CACHE = HERE / ".cache"
GENERATOR_VERSION = "1"  # bump when the generated history changes
SEED = 20_250_715
START = pendulum.datetime(2021, 1, 4, 8, 0, tz="UTC")  # the first event of the history
ORGANISATIONS = 40
NOMINATING = 12  # organisations that nominate delegates ("a few")
PERSONS_EACH = 10
TARGET_COLD_MS_PER_MEETING = 0.05  # issue 14: 0.5 s at 10,000 meetings, 2.5 s at 50,000
TARGET_INCREMENTAL_MS = 20.0
TARGET_SERVED_MS = 10.0  # after one event, the server's work included (issue 14)
TARGET_304_RPS = 2_000.0
# (zone name, weight): where the meetings are held; "GMT+1" is a fixed offset (no VTIMEZONE:
# the feed writes such times in UTC).
ZONES = [("Europe/Vienna", 62), ("America/New_York", 9), ("Europe/Zurich", 6),
         ("Africa/Nairobi", 5), ("Asia/Bangkok", 5), ("America/Bogota", 4),
         ("Asia/Tokyo", 3), ("Australia/Sydney", 2), ("UTC", 2), ("GMT+1", 2)]
TOPICS = ["drug policy", "crime prevention", "youth", "human rights", "harm reduction",
          "alternative development", "gender", "prisons", "corruption", "cybercrime"]
ROOMS = ["M1", "M2", "M3", "M7", "Board room A", "Board room B", "CR3", "CR4",
         "Vienna International Centre, Wagramer Straße 5, 1220 Wien", "online"]
DESCRIPTIONS = [
    "Agenda and background documents to follow.",
    "Agenda:\n1. Opening; adoption of the agenda\n2. Statements, in the order of the list\n"
    "3. Any other business\n\nInterpretation: English, French, Spanish; Russian on request.",
    "Hybrid meeting (in person and online). Registration through the focal point; "
    "bring a photo ID for the Vienna International Centre's security check.",
    "Réunion d'information sur la préparation de la session — documents en anglais, "
    "français et espagnol; questions à l'avance au secrétariat, s'il vous plaît.",
]


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the history ------------------------------------------------------------------------

Command = tuple[int, int, str, list[Event]]  # (µs since the epoch, order, stream, events)
HOUR = 3_600_000_000
DAY = 24 * HOUR


def micros(moment: pendulum.DateTime) -> int:
    return int(moment.timestamp() * 1_000_000)


class History:
    """The commands of N meetings, as the domain would have recorded them (fixed seed)."""

    def __init__(self, meetings: int) -> None:
        self.rng = random.Random(SEED)
        self.ids = Ids(random.Random(self.rng.getrandbits(64)))
        self.commands: list[Command] = []
        self.order = 0
        self.meetings = 0
        self.wanted = meetings
        self.zones = [(zone(name), weight) for name, weight in ZONES]
        self.directory()

    def add(self, t: int, stream: str, events: list[Event]) -> None:
        self.order += 1
        self.commands.append((t, self.order, stream, events))

    def directory(self) -> None:
        rng, ids, t = self.rng, self.ids, micros(START)
        self.organisations: list[uuid.UUID] = []
        self.persons: dict[uuid.UUID, list[uuid.UUID]] = {}
        for i in range(ORGANISATIONS):
            oid = ids()
            self.organisations.append(oid)
            self.add(t + i, dr.organisation_stream(oid), [dr.OrganisationRegistered(
                event_id=ids(), organisation_id=oid,
                name=f"Organisation {i:02d} for {rng.choice(TOPICS)}", acronym=f"ORG{i:02d}")])
            self.persons[oid] = []
            for j in range(PERSONS_EACH):
                pid = ids()
                self.persons[oid].append(pid)
                self.add(t + i * 100 + j, dr.person_stream(pid), [dr.PersonRegistered(
                    event_id=ids(), person_id=pid, name=f"Delegate {i:02d}-{j:02d} Müller",
                    email=f"delegate.{i:02d}.{j:02d}@example.org", organisation_id=oid)])

    def build(self) -> list[Command]:
        """Every command, sorted by time (ties: in the order they were made)."""
        rng = self.rng
        t = micros(START) + DAY
        next_call = t + 20 * DAY
        while self.meetings < self.wanted:
            t += rng.randrange(3 * HOUR, 12 * HOUR)
            lead = rng.randrange(30 * DAY, 120 * DAY)
            if rng.random() < 0.75 or self.wanted - self.meetings < 16:
                self.meeting(t, lead, parent=None, kind=rng.choice([
                    MeetingKind.INFORMAL_MEETING, MeetingKind.BRIEFING,
                    MeetingKind.CONSTRUCTIVE_DIALOGUE, MeetingKind.OTHER]))
            else:
                self.session(t, lead)
            while next_call <= t:
                self.call(next_call)
                next_call += rng.randrange(20 * DAY, 40 * DAY)
        self.commands.sort()
        return self.commands

    def when_timed(self, day: pendulum.Date, tz: Any) -> Timed:
        rng = self.rng
        begin = pendulum.datetime(day.year, day.month, day.day, rng.randrange(8, 18),
                                  rng.choice([0, 15, 30, 45]), tz=tz)
        return Timed(start=begin, end=begin.add(minutes=rng.choice([60, 90, 120, 180])))

    def session(self, t: int, lead: int) -> None:
        """A commission session (all day, five days) with its sessions and side events."""
        rng = self.rng
        first = pendulum.from_timestamp((t + lead) // 1_000_000, tz="Europe/Vienna").date()
        parent = self.meeting(t, lead, parent=None, kind=MeetingKind.COMMISSION_SESSION,
                              when=AllDay(first=first, last=first.add(days=4)))
        vienna = self.zones[0][0]
        for index in range(rng.randint(5, 15)):
            on = first.add(days=rng.randrange(5))
            self.meeting(t + rng.randrange(HOUR, 20 * DAY), lead, parent=parent,
                         kind=MeetingKind.SESSION if index % 2 == 0 else MeetingKind.SIDE_EVENT,
                         when=self.when_timed(on, vienna))

    def meeting(  # noqa: PLR0912 - one meeting's history, in order
        self, t: int, lead: int, *, parent: uuid.UUID | None, kind: MeetingKind,
        when: Timed | AllDay | None = None,
    ) -> uuid.UUID:
        rng, ids = self.rng, self.ids
        self.meetings += 1
        mid = ids()
        stream = mt.meeting_stream(mid)
        if when is None:
            day = pendulum.from_timestamp((t + lead) // 1_000_000, tz="UTC").date()
            if rng.random() < 0.06:  # a one- to three-day meeting, all day
                when = AllDay(first=day, last=day.add(days=rng.randrange(3)))
            else:
                tz = rng.choices([z for z, _ in self.zones], [w for _, w in self.zones])[0]
                when = self.when_timed(day, tz)
        starts = micros(pendulum.datetime(when.first_day.year, when.first_day.month,
                                          when.first_day.day, tz="UTC"))
        label = kind.value.replace("-", " ").capitalize()
        title = f"{label} on {rng.choice(TOPICS)} #{rng.randrange(10_000)}"
        if rng.random() < 0.1:
            title += ": «Vienna Declaration», follow-up; part 2"
        tentative = rng.random() < 0.2
        first: list[Event] = [mt.MeetingScheduled(
            event_id=ids(), meeting_id=mid, title=title, kind=kind, when=when,
            location=rng.choice(ROOMS),
            online_url=f"https://meet.example.org/{str(mid)[:8]}" if rng.random() < 0.5 else "",
            parent_id=parent, tentative=tentative, organiser=f"ORG{rng.randrange(40):02d}",
            description=rng.choice(DESCRIPTIONS))]
        nominations = rng.random() < 0.3
        if nominations:
            first.append(mt.RegistrationOpened(
                event_id=ids(), meeting_id=mid,
                opens_at=pendulum.from_timestamp(t // 1_000_000, tz="Europe/Vienna"),
                closes_at=pendulum.from_timestamp((starts - 3 * DAY) // 1_000_000,
                                                  tz="Europe/Vienna"),
                capacity=rng.choice([None, 50, 100, 200]),
                quotas=(mt.Quota(role=Role.PARTICIPANT, limit=5),)))
        if rng.random() < 0.6:
            due_day = pendulum.from_timestamp((starts - 10 * DAY) // 1_000_000, tz="UTC").date()
            if rng.random() < 0.8:
                due: dl.Due = dl.DueBy(day=due_day, zone="Europe/Vienna")
            else:
                due = dl.DueAt(at=pendulum.datetime(due_day.year, due_day.month, due_day.day,
                                                    17, tz="Europe/Vienna"))
            first.append(dl.DeadlineSet(
                event_id=ids(), deadline_id=ids(), title=f"Names of participants for {title}",
                due=due, kind=dl.DeadlineKind.NAMES, meeting_id=mid,
                reminders=(pendulum.duration(days=7), pendulum.duration(days=1))))
        self.add(t, stream, first)

        # Later: confirmation, nominations (a dozen organisations), an organisation's own
        # deadline, a cancellation (of a meeting, sometimes of a whole session), links.
        later: list[Event] = []
        if tentative and rng.random() < 0.6:
            later.append(mt.MeetingConfirmed(event_id=ids(), meeting_id=mid))
        if nominations:
            for organisation in rng.sample(self.organisations[:NOMINATING], rng.randint(1, 4)):
                for person in rng.sample(self.persons[organisation], rng.randint(1, 3)):
                    nid = ids()
                    later.append(mt.DelegateNominated(
                        event_id=ids(), meeting_id=mid, nomination_id=nid,
                        organisation_id=organisation, person_id=person,
                        role=rng.choice([Role.PARTICIPANT, Role.PARTICIPANT, Role.SPEAKER]),
                        funding_requested=rng.random() < 0.3))
                    if rng.random() < 0.5:
                        later.append(mt.NominationConfirmed(
                            event_id=ids(), meeting_id=mid, nomination_id=nid,
                            funded=rng.random() < 0.2))
            if rng.random() < 0.1:
                later.append(dl.DeadlineSet(
                    event_id=ids(), deadline_id=ids(), title="Funding request documents",
                    due=dl.DueBy(day=pendulum.from_timestamp(
                        (starts - 20 * DAY) // 1_000_000, tz="UTC").date(), zone="Europe/Vienna"),
                    kind=dl.DeadlineKind.OTHER, meeting_id=mid,
                    organisation_id=rng.choice(self.organisations[:NOMINATING]), public=False))
        if rng.random() < (0.03 if parent is None else 0.02):
            later.append(mt.MeetingCancelled(event_id=ids(), meeting_id=mid,
                                             reason="postponed sine die"))
        if later:
            self.add(t + rng.randrange(HOUR, max(lead - 2 * DAY, 2 * HOUR)), stream, later)
        if rng.random() < 0.3:
            self.add(t + lead + rng.randrange(DAY, 20 * DAY), stream, [mt.LinkAttached(
                event_id=ids(), meeting_id=mid, link=mt.Link(
                    kind=LinkKind.REPORT if rng.random() < 0.7 else LinkKind.RECORDING,
                    url=f"https://docs.example.org/{mid}/report.pdf", title="Report"))])
        return mid

    def call(self, t: int) -> None:
        """A stand-alone call for nominations (its own stream), due at a time in a zone."""
        rng, ids = self.rng, self.ids
        deadline_id = ids()
        due = pendulum.from_timestamp((t + rng.randrange(20 * DAY, 40 * DAY)) // 1_000_000,
                                      tz="Europe/Vienna").set(hour=23, minute=59, second=0)
        self.add(t, f"deadline-{deadline_id}", [dl.DeadlineSet(
            event_id=ids(), deadline_id=deadline_id,
            title="Call for nominations: board of the alliance", due=dl.DueAt(at=due),
            kind=dl.DeadlineKind.NOMINATIONS, reminders=(pendulum.duration(days=7),))])


# -- the cached log --------------------------------------------------------------------


def cache_path(meetings: int) -> Path:
    key = hashlib.sha1(table_sql().encode(), usedforsecurity=False).hexdigest()[:8]
    return CACHE / f"feed-{meetings}-g{GENERATOR_VERSION}-{key}.db"


def cached_log(meetings: int) -> tuple[Path, dict[str, Any], float | None]:
    """The log of ``meetings`` meetings, generated once; its info; the seconds it took to
    generate now (``None``: it was in the cache)."""
    CACHE.mkdir(exist_ok=True)
    path = cache_path(meetings)
    info_path = Path(f"{path}.json")
    if path.exists() and info_path.exists():
        info = json.loads(info_path.read_text())
        try:
            with open_log(f"sqlite:///{path}") as log:
                head = log.head()
                for _ in log.read_all(after=info["events"] - 100):
                    pass
            if head != info["events"]:
                raise RuntimeError(f"head is {head}, expected {info['events']}")  # noqa: TRY301
        except Exception as error:
            say(f"cached {path.name} unusable ({error}): generating it again")
        else:
            return path, info, None
    started = time.perf_counter()
    info = generate(path, meetings)
    seconds = time.perf_counter() - started
    info["seconds"] = seconds
    info_path.write_text(json.dumps(info, indent=2) + "\n")
    return path, info, seconds


def generate(path: Path, meetings: int) -> dict[str, Any]:
    """Append the history to a new log through the log itself (``append`` per command,
    ``synchronous=NORMAL``, ``recorded_at`` the command's time), then fold it once."""
    say(f"generating {meetings:,} meetings into {path.name} ...")
    remove_sqlite(path)
    partial = path.with_name(path.name + ".partial")
    remove_sqlite(partial)
    commands = History(meetings).build()
    clock = FixedClock(START)
    kinds: collections.Counter[str] = collections.Counter()
    versions: dict[str, int] = {}
    with open_log(f"sqlite:///{partial}?synchronous=NORMAL", clock=clock) as log:
        for index, (t, _, stream, events) in enumerate(commands):
            clock.set(pendulum.from_timestamp(t / 1_000_000, tz="UTC"))
            log.append(stream, events, expected_version=versions.get(stream, 0),
                       metadata={"actor": "secretariat", "command": "bench-feed"})
            versions[stream] = versions.get(stream, 0) + len(events)
            kinds.update(type(e).__name__ for e in events)
            if index % 5_000 == 0 and index:
                say(f"  {index:,} of {len(commands):,} appends")
        head = log.head()
        alliance = Alliance(log, clock=clock)
        alliance.catch_up()
        state = alliance.state
        if len(state.meetings) != meetings:
            raise RuntimeError(f"the log folds into {len(state.meetings)} meetings, "
                               f"not {meetings}: the generator no longer fits the domain")
        last = clock()
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{partial}{suffix}").unlink()
    partial.rename(path)
    say(f"generated {head:,} events")
    return {"meetings": meetings, "events": head, "streams": len(versions),
            "last_recorded": last.isoformat(), "types": dict(kinds.most_common())}


def copy_log(source: Path, target: Path) -> Path:
    shutil.copyfile(source, target)
    return target


# -- in-process measurements -----------------------------------------------------------


def ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def cold_render(state: Any, audience: Audience, now: Any) -> tuple[float, Any]:
    gc.collect()
    renderer = FeedRenderer()
    started = time.perf_counter()
    feed = renderer.render(state, audience, now=now)
    return ms_since(started), feed


def cold_child(spec: dict[str, Any]) -> dict[str, Any]:
    """In a new process: fold the log, then time the first render (nothing cached at all)."""
    with open_log(f"sqlite:///{spec['db']}") as log:
        alliance = Alliance(log)
        alliance.catch_up()
        state = alliance.state
        organisation = spec["organisation"]
        audience = (Audience.public() if organisation is None
                    else Audience.organisation(uuid.UUID(organisation)))
        gc.collect()
        started = time.perf_counter()
        feed = FeedRenderer().render(state, audience, now=pendulum.parse(spec["now"]))
        ms = ms_since(started)
    return {"ms": ms, "sha256": hashlib.sha256(feed.body).hexdigest()}


def fresh_process_render(db: Path, audience: Audience, now: Any) -> tuple[float, str]:
    """The cold render as a server's first one: a new process, the log folded, one render."""
    spec = {"db": str(db), "now": now.isoformat(),
            "organisation": None if audience.organisation_id is None
            else str(audience.organisation_id)}
    out = subprocess.run([sys.executable, __file__, "--cold-child", json.dumps(spec)],
                         check=True, capture_output=True, text=True, cwd=ROOT).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return result["ms"], result["sha256"]


def icalendar_at_once(state: Any, audience: Audience, now: Any) -> tuple[float, float, bytes]:
    """``FeedRenderer().calendar(...)`` then ``.to_ical()``: build ms, serialise ms, bytes."""
    gc.collect()
    renderer = FeedRenderer()
    started = time.perf_counter()
    calendar = renderer.calendar(state, audience, now=now)
    built = ms_since(started)
    started = time.perf_counter()
    body = calendar.to_ical()
    return built, ms_since(started), body


def plans_only(state: Any, audience: Audience, now: Any) -> float:
    """The renderer's cheap pass alone: the plan (and key) of every item, no building."""
    renderer = FeedRenderer()
    today = now.astimezone(_dt.UTC).date()
    started = time.perf_counter()
    for _ in renderer._plans(state, audience, today):
        pass
    return ms_since(started)


def profile_render(state: Any, audience: Audience, now: Any, *, warm: bool,
                   own: int = 18, cumulative: int = 25) -> str:
    """A cProfile of one render by a new renderer (cold) or by a warm one (nothing new)."""
    renderer = FeedRenderer()
    if warm:
        renderer.render(state, audience, now=now)
    profiler = cProfile.Profile()
    profiler.enable()
    renderer.render(state, audience, now=now)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("tottime").print_stats(own)
    stats.sort_stats("cumulative").print_stats(cumulative)
    text = out.getvalue()
    return re.sub(r"\n\s*Ordered by: ", "\n   ordered by: ", text.strip())


def incremental_rounds(alliance: Alliance, renderers: dict[str, tuple[FeedRenderer, Audience]],
                       now: Any, rounds: int, rng: random.Random) -> dict[str, Any]:
    """Rounds of: append one event to one meeting, catch up, render every feed (timed
    apart); the meetings are picked at random among those that exist."""
    log = alliance.log
    state = alliance.state
    meetings = sorted(m for m, s in state.meetings.items()  # in the feed: not cancelled
                      if s.exists and state.effective_status(m) is not MeetingStatus.CANCELLED)
    samples: dict[str, list[float]] = collections.defaultdict(list)
    for round_ in range(rounds):
        mid = rng.choice(meetings)
        stream = mt.meeting_stream(mid)
        event = mt.MeetingDetailsChanged(
            event_id=uuid.UUID(int=rng.getrandbits(128), version=4), meeting_id=mid,
            location=f"Room {round_} ({rng.random():.6f})")
        started = time.perf_counter()
        log.append(stream, [event], expected_version=log.stream_version(stream))
        samples["append"].append(ms_since(started))
        started = time.perf_counter()
        caught = alliance.catch_up()
        samples["catch_up"].append(ms_since(started))
        assert caught == 1, caught
        state = alliance.state
        for name, (renderer, audience) in renderers.items():
            started = time.perf_counter()
            feed = renderer.render(state, audience, now=now)
            samples[f"render_{name}"].append(ms_since(started))
            started = time.perf_counter()
            prepare(feed)
            samples[f"serve_{name}"].append(ms_since(started))
            found = feed.body.count(b"Room %d (" % round_)
            assert found == 1, f"the new location is {found} times in the {name} feed"
            # The check joined the whole body (44 MB at 50,000 meetings), which no server
            # does: free it here, not in the next timed render (freeing it took ~2 ms).
            del feed
    return dict(samples)


TARGET_COLD_MS = 0.0  # set in main, by the meetings
PIECES = None  # set in main: whether the code measured has feeds in pieces


def prepare(feed: Any) -> Any:
    """What the feed server does with a new render before serving it (web._Cached): the
    ETag, the gzip body, the headers; for the code before pieces, SHA-256 and gzip of the
    joined body."""
    if PIECES:
        return _Cached(feed, last_modified=0, max_age=7200, public=True, position=1)
    return _Cached(feed.body, last_modified=0, max_age=7200, public=True, position=1,
                   item_count=1, previous=None)


def serving_cost(feed: Any, rounds: int = 3) -> dict[str, float]:
    """What the server adds to a cold render: hashing, gzip (the server's level), the headers."""
    best: dict[str, list[float]] = collections.defaultdict(list)
    for _ in range(rounds):
        started = time.perf_counter()
        hashlib.sha256(feed.body).digest()
        best["sha256_ms"].append(ms_since(started))
        if PIECES:  # a feed not served before: its pieces compressed afresh
            feed = type(feed)(feed.body, last_modified=feed.last_modified,
                              item_count=feed.item_count)
        started = time.perf_counter()
        prepare(feed)
        best["prepare_ms"].append(ms_since(started))
    return {k: min(v) for k, v in best.items()}


def process_tree(pid: int) -> list[int]:
    """A process and its descendants (a server's workers)."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children[ppid].append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, ()))
    return found


def tree_pss(pid: int) -> float:
    """MiB of memory (proportional set size: shared pages split between their users) of a
    process and its descendants (a server's workers)."""
    total = 0
    for current in process_tree(pid):
        with contextlib.suppress(OSError):
            for line in (Path("/proc") / str(current) / "smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
    return total / 1024


def best_of(loads: Sequence["Load"]) -> "Load":
    """The round with the most requests per second, with the median CPU per request of all
    rounds and every round's errors."""
    best = max(loads, key=lambda load: load.rps)
    cpu = [load.cpu_us_per_request for load in loads if load.cpu_us_per_request is not None]
    return dataclasses.replace(best, errors=sum(load.errors for load in loads),
                               cpu_us_per_request=statistics.median(cpu) if cpu else None)


def tree_cpu_seconds(pids: Sequence[int]) -> float:
    """CPU seconds (user + system) the processes have used so far."""
    ticks = 0
    for current in pids:
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = (Path("/proc") / str(current) / "stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def measured(run: Callable[..., "Load"], pid: int, *args: Any) -> "Load":
    """``run(*args)``, with the CPU time the server's processes spent per request.

    Requests per second on 2 shared cores follow the scheduler (the load generator, the
    server's processes and whatever else runs); CPU time per request is the server's own
    cost, steadier under load: the ratio of two servers' CPU per request is the ratio of
    the requests per second each would serve on the same cores alone.
    """
    pids = process_tree(pid)
    before = tree_cpu_seconds(pids)
    load = run(*args)
    spent = tree_cpu_seconds(pids) - before
    load.cpu_us_per_request = spent / load.requests * 1e6 if load.requests else None
    return load


def load_average() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


# -- HTTP -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def get(port: int, path: str, headers: dict[str, str] | None = None,
        timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path, headers=headers or {})
        response = conn.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        conn.close()


class Server:
    """A server process on loopback, killed (its process group) when done."""

    def __init__(self, argv: list[str], port: int, log: Path, env: dict[str, str] | None = None,
                 cwd: Path | None = None) -> None:
        self.port = port
        self.log = log
        self.output = log.open("wb")
        self.process = subprocess.Popen(argv, stdout=self.output, stderr=subprocess.STDOUT,
                                        env=env, cwd=cwd, start_new_session=True)

    def wait_ready(self, ready: Callable[[], bool], timeout: float) -> float:
        started = time.perf_counter()
        while time.perf_counter() - started < timeout:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited ({self.process.returncode}): "
                                   + self.log.read_text(errors="replace")[-2000:])
            with contextlib.suppress(OSError, http.client.HTTPException):
                if ready():
                    return time.perf_counter() - started
            time.sleep(0.1)
        raise RuntimeError(f"the server was not ready after {timeout:.0f} s")

    def stop(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        self.output.close()


BARE_APP = '''
"""A bare ASGI callable serving fixed bytes with fixed headers (the benchmark's baseline)."""
import json, os
spec = json.load(open(os.environ["BENCH_FEED_SPEC"]))
BODY = open(spec["body"], "rb").read()
H304 = [(k.encode(), v.encode()) for k, v in spec["headers_304"]]
H200 = H304 + [(b"content-type", b"text/calendar; charset=utf-8"),
               (b"content-length", str(len(BODY)).encode())]
ETAG = spec["etag"].encode()

async def app(scope, receive, send):
    for name, value in scope["headers"]:
        if name == b"if-none-match" and value == ETAG:
            await send({"type": "http.response.start", "status": 304, "headers": H304})
            await send({"type": "http.response.body", "body": b""})
            return
    await send({"type": "http.response.start", "status": 200, "headers": H200})
    await send({"type": "http.response.body", "body": BODY})
'''


SERVE_APP = '''
"""What `alliance-events serve` runs, for when the command line cannot be imported."""
import sys
import uvicorn
from alliance_events.app import Alliance
from alliance_events.web import create_app

with Alliance.open(f"sqlite:///{sys.argv[1]}") as alliance:
    uvicorn.run(create_app(alliance, poll_interval=0.5), host="127.0.0.1",
                port=int(sys.argv[2]), access_log=False, lifespan="on", log_level="info",
                server_header=False)
'''


@dataclass
class Load:
    rps: float
    requests: int
    seconds: float
    bytes_per_request: float
    errors: int
    p50_ms: float | None
    p99_ms: float | None
    statuses: dict[str, int] | None = None
    cpu_us_per_request: float | None = None  # the server's processes' CPU, see measured()


UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


def wrk_time_ms(text: str) -> float | None:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        return None
    return float(match[1]) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[match[2]]


def run_wrk(port: int, headers: dict[str, str], seconds: float, connections: int) -> Load:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds:g}s", "--latency", "--timeout", "10s"]
    for name, value in headers.items():
        argv += ["-H", f"{name}: {value}"]
    argv.append(f"http://127.0.0.1:{port}/calendar.ics")
    out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    m = re.search(r"(\d+) requests in ([\d.]+)(\w+), ([\d.]+)(\w+) read", out)
    if m is None:
        raise RuntimeError(f"cannot read wrk's output:\n{out}")
    requests = int(m[1])
    elapsed = float(m[2]) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[m[3]]
    read = float(m[4]) * UNITS[m[5]]
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), "
                              r"timeout (\d+)", out)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    p50 = re.search(r"^\s+50%\s+(\S+)$", out, re.MULTILINE)  # the Latency Distribution
    p99 = re.search(r"^\s+99%\s+(\S+)$", out, re.MULTILINE)
    return Load(rps=requests / elapsed, requests=requests, seconds=elapsed,
                bytes_per_request=read / max(requests, 1), errors=errors,
                p50_ms=wrk_time_ms(p50[1]) if p50 else None,
                p99_ms=wrk_time_ms(p99[1]) if p99 else None)


async def _python_load(port: int, headers: dict[str, str], seconds: float,
                       connections: int) -> dict[str, Any]:
    request = ("GET /calendar.ics HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode()
    statuses: collections.Counter[int] = collections.Counter()
    latencies: list[float] = []
    received = [0]
    errors = [0]
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                sent = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                if length:
                    await reader.readexactly(length)
                latencies.append(time.perf_counter() - sent)
                statuses[int(head[9:12])] += 1
                received[0] += len(head) + length
        except (OSError, asyncio.IncompleteReadError):
            errors[0] += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    n = len(latencies)
    return {"requests": n, "seconds": elapsed, "bytes": received[0], "errors": errors[0],
            "statuses": {str(k): v for k, v in statuses.items()},
            "p50_ms": latencies[n // 2] * 1000 if n else None,
            "p99_ms": latencies[min(n - 1, n * 99 // 100)] * 1000 if n else None}


def run_python_load(port: int, headers: dict[str, str], seconds: float,
                    connections: int) -> Load:
    """The asyncio load generator, in a subprocess of its own (no big heap to collect)."""
    spec = json.dumps({"port": port, "headers": headers, "seconds": seconds,
                       "connections": connections})
    out = subprocess.run([sys.executable, __file__, "--load-child", spec], capture_output=True,
                         text=True, check=True).stdout
    r = json.loads(out)
    expected = 304 if "If-None-Match" in headers else 200
    errors = r["errors"] + sum(v for k, v in r["statuses"].items() if int(k) != expected)
    return Load(rps=r["requests"] / r["seconds"], requests=r["requests"], seconds=r["seconds"],
                bytes_per_request=r["bytes"] / max(r["requests"], 1), errors=errors,
                p50_ms=r["p50_ms"], p99_ms=r["p99_ms"], statuses=r["statuses"])


# -- output ----------------------------------------------------------------------------


@dataclass
class Row:
    measure: str
    figure: str
    detail: str
    target: str
    verdict: str
    data: dict[str, Any]


def table(rows: list[Row]) -> str:
    header = ["measure", "figure", "baseline / detail", "target", "verdict"]
    lines = [header] + [[r.measure, r.figure, r.detail, r.target, r.verdict] for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for index, line in enumerate(lines):
        cells = [c.rjust(w) if i == 1 else c.ljust(w)
                 for i, (c, w) in enumerate(zip(line, widths, strict=True))]
        out.append("  ".join(cells).rstrip())
        if index == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def fmt_ms(value: float | None) -> str:
    return "?" if value is None else f"{value:.2f} ms"


def kib(n: float) -> str:
    if n < 10 * 1024:
        return f"{n:,.0f} B"
    return f"{n / 1024 / 1024:.1f} MiB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KiB"


# -- main ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="1,000 meetings, one cold round, 3 s per load (a smoke test)")
    parser.add_argument("--meetings", type=int, default=None,
                        help="meetings in the log (10,000; --quick 1,000)")
    parser.add_argument("--repeat", type=int, default=None,
                        help="cold-render rounds, the best is reported (3; --quick 1)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="incremental rounds: append, catch up, render (20; --quick 7)")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds per HTTP load measurement (8; --quick 3)")
    parser.add_argument("--connections", type=int, default=16,
                        help="concurrent keep-alive connections of the load generator (16)")
    parser.add_argument("--loadgen", choices=["auto", "wrk", "python"], default="auto",
                        help="the load generator: wrk if installed (auto), or the asyncio one")
    parser.add_argument("--no-http", action="store_true", help="skip the HTTP measurements")
    parser.add_argument("--http-rounds", type=int, default=None, metavar="N",
                        help="HTTP rounds, server and baseline alternately; the best round's "
                        "requests/s and the median CPU per request are reported (3; --quick 1)")
    parser.add_argument("--workers", type=int, nargs="+", default=[1], metavar="N",
                        help="serve --workers N for the HTTP rows, one server per N given "
                        "(1; say --workers 1 2)")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="also write the rows as JSON to FILE")
    parser.add_argument("--profile", action="store_true",
                        help="always print a cProfile of a cold render (else only on a MISS)")
    parser.add_argument("--load-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--cold-child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.meetings = args.meetings or (1_000 if args.quick else 10_000)
    if args.meetings < 100:
        parser.error("--meetings must be at least 100")
    args.repeat = args.repeat or (1 if args.quick else 3)
    args.rounds = args.rounds or (7 if args.quick else 20)
    args.http_rounds = args.http_rounds or (1 if args.quick else 3)
    args.duration = args.duration or (3.0 if args.quick else 8.0)
    if args.loadgen == "auto":
        args.loadgen = "wrk" if shutil.which("wrk") else "python"
    elif args.loadgen == "wrk" and not shutil.which("wrk"):
        parser.error("wrk is not installed (apt-get install wrk), use --loadgen python")
    return args


def verdict_below(value: float, target: float) -> str:
    return "ok" if value < target else "MISS"


def main(argv: Sequence[str] | None = None) -> int:  # noqa: PLR0912, PLR0915 - the run
    args = parse_args(argv)
    global PIECES, TARGET_COLD_MS  # noqa: PLW0603 - the code measured, the size: set once
    TARGET_COLD_MS = TARGET_COLD_MS_PER_MEETING * args.meetings
    PIECES = hasattr(FeedRenderer().render(AllianceState(), Audience.public(),
                                           now=START), "pieces")
    if args.cold_child:
        print(json.dumps(cold_child(json.loads(args.cold_child))))
        return 0
    if args.load_child:
        spec = json.loads(args.load_child)
        print(json.dumps(asyncio.run(_python_load(**spec))))
        return 0
    environment = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
                   "cpus": os.cpu_count(), "machine": platform.machine(), "code": git_state()}
    started_run = time.perf_counter()
    load_average_at_start = load_average()
    cached, info, generated = cached_log(args.meetings)
    rows: list[Row] = []
    profiles: list[tuple[str, str]] = []
    workdir = Path(tempfile.mkdtemp(prefix="bench-feed-", dir=CACHE))
    servers: list[Server] = []
    http_notes: list[str] = []
    try:
        db = copy_log(cached, workdir / "feed.db")
        now = pendulum.parse(info["last_recorded"]).add(hours=1)  # type: ignore[union-attr]
        with open_log(f"sqlite:///{db}", clock=FixedClock(now)) as log:
            alliance = Alliance(log, clock=FixedClock(now))
            started = time.perf_counter()
            alliance.catch_up()
            fold_s = time.perf_counter() - started
            state = alliance.state
            by_org = collections.Counter(n.organisation_id for m in state.meetings.values()
                                         for n in m.nominations)
            organisation = by_org.most_common(1)[0][0]
            audiences = {"public": Audience.public(),
                         "organisation": Audience.organisation(organisation)}

            # 1. cold renders beside icalendar at once; rounds interleave the two. The
            # figure is the first render of a new process (nothing cached, not even the
            # UIDs); a new renderer in this warm process is shown beside it.
            cold: dict[str, dict[str, Any]] = {}
            for name, audience in audiences.items():
                renders, builds, serials, fresh = [], [], [], []
                feed = body = None
                digests = set()
                for round_ in range(args.repeat):
                    say(f"[cold] {name} feed, round {round_ + 1}/{args.repeat}: render in a "
                        "new process, a new renderer here, then icalendar at once")
                    ms, digest = fresh_process_render(db, audience, now)
                    fresh.append(ms)
                    digests.add(digest)
                    ms, feed = cold_render(state, audience, now)
                    renders.append(ms)
                    built, serialised, body = icalendar_at_once(state, audience, now)
                    builds.append(built)
                    serials.append(serialised)
                assert feed is not None
                assert body is not None
                at_once = [b + s for b, s in zip(builds, serials, strict=True)]
                best, base = min(fresh), min(at_once)
                identical = feed.body == body and digests == {
                    hashlib.sha256(body).hexdigest()}
                plans = min(plans_only(state, audience, now) for _ in range(3))
                cold[name] = {"feed": feed, "ms": best}
                rows.append(Row(
                    f"cold render: {name} feed", f"{best:,.0f} ms",
                    f"first render of a new process (worst {max(fresh):,.0f}; {load_average()}); "
                    f"a new renderer "
                    f"in a warm process {min(renders):,.0f} ms; icalendar at once "
                    f"{base:,.0f} ms (build {min(builds):,.0f} + to_ical {min(serials):,.0f}): "
                    f"{best / base:.2f}x of it; {feed.item_count:,} items, "
                    f"{kib(len(feed.body))}; bytes identical: {'yes' if identical else 'NO'}; "
                    f"plans alone {plans:.0f} ms",
                    f"< {TARGET_COLD_MS:,.0f} ms",
                    verdict_below(best, TARGET_COLD_MS) if identical else "MISS (bytes differ)",
                    {"ms_samples": fresh, "warm_process_ms_samples": renders,
                     "icalendar_build_ms_samples": builds,
                     "icalendar_to_ical_ms_samples": serials, "ratio_to_icalendar": best / base,
                     "items": feed.item_count, "bytes": len(feed.body), "identical": identical,
                     "plans_ms": plans, "target_ms": TARGET_COLD_MS}))
            if args.profile or cold["public"]["ms"] >= TARGET_COLD_MS:
                say("[profile] cold render of the public feed")
                profiles.append(("a cold render of the public feed",
                                 profile_render(state, audiences["public"], now, warm=False)))

            # 2. incremental: append one event, catch up, render (renderers already warm).
            say(f"[incremental] {args.rounds} rounds: append 1 event, catch up, render both")
            renderers = {}
            for name, audience in audiences.items():
                renderer = FeedRenderer()
                prepare(renderer.render(state, audience, now=now))  # served once: gzip warm
                renderers[name] = (renderer, audience)
            unchanged = []
            for _ in range(3):
                started = time.perf_counter()
                renderers["public"][0].render(state, audiences["public"], now=now)
                unchanged.append(ms_since(started))
            samples = incremental_rounds(alliance, renderers, now, args.rounds,
                                         random.Random(SEED))
            for name in audiences:
                total = [c + r for c, r in zip(samples["catch_up"], samples[f"render_{name}"],
                                               strict=True)]
                served = [t + w for t, w in zip(total, samples[f"serve_{name}"], strict=True)]
                median, worst = statistics.median(total), max(total)
                verdict = verdict_below(median, TARGET_INCREMENTAL_MS)
                if verdict == "ok" and worst >= TARGET_INCREMENTAL_MS:
                    verdict = "ok (max over)"
                detail = (f"catch-up + render, median of {len(total)}; max {worst:.1f} ms; "
                          f"render {statistics.median(samples[f'render_{name}']):.1f} ms, "
                          f"catch-up {statistics.median(samples['catch_up']):.2f} ms")
                if name == "public":
                    detail += (f"; + the append (FULL) {statistics.median(samples['append']):.1f}"
                               f" ms; a render with nothing new {min(unchanged):.1f} ms")
                rows.append(Row(
                    f"after 1 new event: {name} feed", f"{median:.1f} ms", detail,
                    f"< {TARGET_INCREMENTAL_MS:g} ms", verdict,
                    {"catch_up_plus_render_ms_samples": total,
                     "serve_ms_samples": samples[f"serve_{name}"],
                     "render_ms_samples": samples[f"render_{name}"],
                     "catch_up_ms_samples": samples["catch_up"],
                     "append_ms_samples": samples["append"],
                     "unchanged_render_ms": min(unchanged),
                     "target_ms": TARGET_INCREMENTAL_MS}))
                served_median = statistics.median(served)
                rows.append(Row(
                    f"after 1 new event + server's work: {name}", f"{served_median:.1f} ms",
                    f"catch-up + render + web._Cached (ETag, gzip, headers), median; max "
                    f"{max(served):.1f} ms; the server's part "
                    f"{statistics.median(samples[f'serve_{name}']):.1f} ms; {load_average()}",
                    f"<= {TARGET_SERVED_MS:g} ms",
                    "ok" if served_median <= TARGET_SERVED_MS else "MISS",
                    {"served_ms_samples": served, "target_ms": TARGET_SERVED_MS}))
            public_row = rows[-4]
            if args.profile or public_row.verdict.startswith("MISS"):
                say("[profile] a render of the public feed with nothing new")
                profiles.append(("a render of the public feed by a warm renderer, nothing new "
                                 "(the floor of the incremental render)",
                                 profile_render(alliance.state, audiences["public"], now,
                                                warm=True, own=15, cumulative=20)))
            cost = serving_cost(cold["public"]["feed"])
            rows.append(Row(
                "server's work, first render (public)", f"{cost['prepare_ms']:,.0f} ms",
                f"web._Cached on a feed never served: ETag + gzip of everything + headers "
                f"(SHA-256 of the whole body alone {cost['sha256_ms']:.1f} ms); for "
                f"information", "", "", cost))
            head = log.head()
            del alliance, state, renderers, cold
        gc.collect()

        # 3. HTTP: the real server, then the bare ASGI baseline, on the same bytes.
        if not args.no_http:
            by_workers: dict[int, dict[str, Load]] = {}
            baselines: dict[int, dict[str, Load]] = {}
            memory: dict[int, float] = {}
            for workers in args.workers:
                port = free_port()
                say(f"[http] alliance-events serve on port {port} (renders the public feed first)")
                exe = Path(sys.executable).with_name("alliance-events")
                probe = subprocess.run([str(exe), "serve", "--help"], capture_output=True,
                                       check=False)
                if probe.returncode == 0:
                    argv = [str(exe), "--db", str(db), "serve", "--port", str(port)]
                    if workers > 1:
                        argv += ["--workers", str(workers)]
                    http_notes.append(f"server: alliance-events --db <copy> serve --workers "
                                      f"{workers} (access log off)")
                else:  # the command line is broken in this tree: the same app, started alike
                    (workdir / "serve_app.py").write_text(SERVE_APP)
                    argv = [sys.executable, str(workdir / "serve_app.py"), str(db), str(port)]
                    http_notes.append("server: uvicorn.run(create_app(Alliance.open(...))) as "
                                      "`serve` does it (`alliance-events serve --help` failed: "
                                      + (probe.stderr.decode(errors="replace").strip()
                                         .splitlines() or ["?"])[-1] + ")")
                server = Server(argv, port, workdir / "serve.log")
                servers.append(server)

                def ready(port: int = port) -> bool:
                    status, _, body = get(port, "/healthz", timeout=2)
                    if status != 200:  # 503 while the workers' publisher starts
                        return False
                    report = json.loads(body)
                    return report["feeds"] >= 1 and report["position"] == head

                ready_s = server.wait_ready(ready, timeout=300)
                status, headers, body = get(port, "/calendar.ics")
                assert status == 200, status
                etag = headers["etag"]
                gz_status, gz_headers, gz_body = get(port, "/calendar.ics",
                                                     {"Accept-Encoding": "gzip"})
                assert gz_status == 200
                assert gz_headers.get("content-encoding") == "gzip"
                check, _, _ = get(port, "/calendar.ics", {"If-None-Match": etag})
                assert check == 304, check
                http_notes.append(f"server ready {ready_s:.1f} s after start (catch-up of "
                                  f"{head:,} events + cold render + gzip of the public feed); "
                                  f"its feed: {kib(len(body))}, gzip {kib(len(gz_body))}")
                cases = [
                    ("200", {}, len(body), 8),
                    ("200 gzip", {"Accept-Encoding": "gzip"}, len(gz_body), 8),
                    ("304", {"If-None-Match": etag}, 0, args.connections),
                ]
                run = run_wrk if args.loadgen == "wrk" else run_python_load
                # The baseline, up beside the server: a bare ASGI callable under uvicorn with
                # as many processes (uvicorn --workers N), the same bytes and headers; the
                # rounds alternate the two, so both see the same machine.
                (workdir / "bare_asgi.py").write_text(BARE_APP)
                (workdir / "body.ics").write_bytes(body)
                spec = {"body": str(workdir / "body.ics"), "etag": etag, "headers_304": [
                    (name, headers[name]) for name in ("etag", "last-modified",
                                                       "cache-control", "vary")]}
                (workdir / "spec.json").write_text(json.dumps(spec))
                say(f"[http] baseline: a bare ASGI callable under uvicorn, {workers} worker(s)")
                bare_port = free_port()
                bare = Server([sys.executable, "-m", "uvicorn", "--app-dir", str(workdir),
                               "bare_asgi:app", "--port", str(bare_port), "--no-access-log",
                               "--log-level", "warning", "--lifespan", "off",
                               "--no-server-header", "--workers", str(workers)], bare_port,
                              workdir / "bare.log",
                              env={**os.environ, "BENCH_FEED_SPEC": str(workdir / "spec.json")})
                servers.append(bare)
                bare.wait_ready(lambda port=bare_port, etag=etag: get(
                    port, "/calendar.ics", {"If-None-Match": etag})[0] == 304, timeout=30)
                rounds: dict[str, list[Load]] = collections.defaultdict(list)
                bare_rounds: dict[str, list[Load]] = collections.defaultdict(list)
                for round_ in range(args.http_rounds):
                    for label, request_headers, size, connections in cases:
                        say(f"[http] {label}, {workers} worker(s), round {round_ + 1}/"
                            f"{args.http_rounds}: {args.duration:g} s, {connections} "
                            f"connections, the server then the baseline")
                        load = measured(run, server.process.pid, port, request_headers,
                                        args.duration, connections)
                        # Every response must be the one expected: bytes per request tell
                        # 200 from 304 (wrk prints what it read to 3 significant digits).
                        if size and load.bytes_per_request < size * 0.995:
                            load.errors += 1
                        if not size and load.bytes_per_request > 1024:
                            load.errors += 1
                        rounds[label].append(load)
                        if label != "200 gzip":
                            bare_rounds[label].append(
                                measured(run, bare.process.pid, bare_port, request_headers,
                                         args.duration, connections))
                memory[workers] = tree_pss(server.process.pid)
                by_workers[workers] = {label: best_of(loads) for label, loads in rounds.items()}
                baselines[workers] = {label: best_of(loads)
                                      for label, loads in bare_rounds.items()}
                for process in (server, bare):
                    process.stop()
                    servers.remove(process)

            for workers, results in by_workers.items():
                for label, _headers, _size, connections in cases:
                    load = results[label]
                    base = baselines[workers].get(label)
                    detail = (f"{connections} conns; p50 {fmt_ms(load.p50_ms)}, p99 "
                              f"{fmt_ms(load.p99_ms)}; {kib(load.bytes_per_request)}/response")
                    if base is not None:
                        detail = (f"bare ASGI {base.rps:,.0f} req/s, {load.rps / base.rps:.2f}x of "
                                  f"it; " + detail)
                        if load.cpu_us_per_request and base.cpu_us_per_request:
                            detail = (f"CPU per request {load.cpu_us_per_request:,.1f} µs, bare "
                                      f"{base.cpu_us_per_request:,.1f} µs: "
                                      f"{base.cpu_us_per_request / load.cpu_us_per_request:.2f}x "
                                      f"of it by CPU; " + detail)
                    if load.errors:
                        detail += f"; {load.errors} ERRORS/unexpected responses"
                    detail += (f"; server processes' memory (PSS) {memory[workers]:,.0f} MiB; "
                               f"{load_average()}")
                    is_304 = label == "304"
                    target = f">= {TARGET_304_RPS:,.0f} req/s" if is_304 else ""
                    verdict = ("ok" if load.rps >= TARGET_304_RPS else "MISS") if is_304 else ""
                    if load.errors:
                        verdict = "ERRORS"
                    rows.append(Row(
                        f"HTTP {label}, {workers} worker(s)", f"{load.rps:,.0f} req/s", detail,
                        target,
                        verdict, {"load": load.__dict__,
                                  "baseline": None if base is None else base.__dict__,
                                  "ratio_to_bare": None if base is None else load.rps / base.rps,
                                  "cpu_ratio_to_bare": (
                                      base.cpu_us_per_request / load.cpu_us_per_request
                                      if base and base.cpu_us_per_request
                                      and load.cpu_us_per_request else None),
                                  "connections": connections, "workers": workers,
                                  "pss_mib": memory[workers],
                                  "target_rps": TARGET_304_RPS if is_304 else None}))
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.perf_counter() - started_run

    generation = (f"generated now in {generated:.0f} s" if generated is not None
                  else f"cached, generated once in {info['seconds']:.0f} s")
    print(f"alliance-events feed benchmark ({'quick' if args.quick else 'full'}; cold render: "
          f"best of {args.repeat} round(s); incremental: {args.rounds} rounds)")
    print(" ".join(f"{k}={v}" for k, v in environment.items()))
    print(f"{load_average_at_start} at the start")
    print(f"log: {args.meetings:,} meetings, {info['events']:,} events, {info['streams']:,} "
          f"streams ({generation}; folded in {fold_s:.2f} s); feeds rendered as of {now}; "
          f"organisation feed: the one with the most nominations")
    if not args.no_http:
        generator = ("wrk 1 thread" if args.loadgen == "wrk"
                     else "the Python asyncio generator (1 process)")
        print(f"HTTP: {generator}, {args.duration:g} s per measurement, keep-alive, on loopback, "
              f"sharing the {os.cpu_count()} cores with the server (one uvicorn worker)")
        for note in http_notes:
            print(note)
    print()
    print(table(rows))
    print(f"\ntook {elapsed:.0f} s; {load_average()} at the end")
    for title, text in profiles:
        print(f"\ncProfile of {title} (top by own time, then by cumulative time):\n{text}")
    if args.json:
        args.json.write_text(json.dumps(
            {"environment": environment, "quick": args.quick, "repeat": args.repeat,
             "rounds": args.rounds, "log": info, "generated_seconds": generated,
             "loadgen": None if args.no_http else args.loadgen, "http_notes": http_notes,
             "rows": [{"measure": r.measure, "figure": r.figure, "detail": r.detail,
                       "target": r.target, "verdict": r.verdict, **r.data} for r in rows]},
            indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
