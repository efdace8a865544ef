"""Benchmark the registration projection: a full rebuild, a catch-up, and the queries.

Run from the repository's root::

    .venv/bin/python benchmarks/bench_projection.py [--quick] [--events N] [--repeat N]
                                                    [--json FILE] [--profile]

On a SQLite log (WAL, synchronous=FULL) of N events (1,000,000; --quick 100,000) of a
realistic mix for the alliance (organisations, persons, meetings with sessions and side
events, registrations, nominations, withdrawals, confirmations, deadlines, attendance),
generated once and cached in benchmarks/.cache/, it measures:

* the rebuild: ``ProjectionRunner(log, AllianceProjection()).catch_up()`` from position 0,
  beside the bare ``read_all`` (decoding every event, no projection) over the same log;
  and its peak memory, in a subprocess;
* the catch-up of 1,000 new events on a runner already caught up, on the N-event log and
  on a log ten times smaller (the first N/10 events of the same history);
* ``Alliance.registration(meeting)`` on the caught-up state, and "as of" a position in
  the middle of the log (a fold from scratch).

See benchmarks/README.md for what each row means.
"""

import argparse
import collections
import contextlib
import cProfile
import gc
import hashlib
import heapq
import io
import itertools
import json
import os
import platform
import pstats
import random
import resource
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import attrs
import pendulum

from alliance_events import Alliance, open_log
from alliance_events.codec import Codec
from alliance_events.domain import deadlines as dl
from alliance_events.domain import directory as dr
from alliance_events.domain import meetings as mt
from alliance_events.domain.common import (
    LinkKind,
    MeetingKind,
    NominationStatus,
    Role,
)
from alliance_events.errors import UnknownReferenceError
from alliance_events.events import Event
from alliance_events.projections.alliance import AllianceProjection
from alliance_events.projections.runner import ProjectionRunner, fold
from alliance_events.testing import FixedClock
from alliance_events.timing import AllDay, Timed

HERE = Path(__file__).resolve().parent
CACHE = HERE / ".cache"
GENERATOR_VERSION = "1"  # bump when the generated history changes
SEED = 20_250_601
VIENNA = pendulum.timezone("Europe/Vienna")
DAY = 86_400_000_000  # microseconds
HOUR = 3_600_000_000
MINUTE = 60_000_000
START = pendulum.datetime(2019, 1, 7, 8, 0, tz="UTC")  # the first event of the history
ORGANISATIONS = 200
PERSONS = 5_000
TARGET_REBUILD = 60_000  # events/s (issue 14)
TARGET_RESTART_S = 2.0  # a restart on the 1,000,000-event log, with its snapshot
TARGET_PEAK_MIB = 250
TARGET_CATCH_UP_MS = 50.0  # for 1,000 events
CATCH_UP_EVENTS = 1_000
CATCH_UP_BATCHES = 10  # of 100 nominations, each to another meeting


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- the history: a realistic mix, built as domain events ------------------------------

Command = tuple[int, str, list[Event], str]  # (time in µs since the epoch, stream, events, name)


@dataclass
class Directory:
    organisations: list[uuid.UUID]
    persons_of: dict[uuid.UUID, list[uuid.UUID]]  # organisation -> its persons


@dataclass
class Nom:
    nomination_id: uuid.UUID
    organisation_id: uuid.UUID
    person_id: uuid.UUID
    role: Role
    funding_requested: bool
    status: NominationStatus
    funded: bool = False


@dataclass
class Sim:
    """What a meeting's generator tracks to emit only events its rules would allow."""

    capacity: int | None
    quotas: dict[Role, int]
    funded_places: int | None
    funded_per_delegation: int | None
    funded_roles: tuple[Role, ...]
    noms: list[Nom] = field(default_factory=list)

    def seated(self) -> list[Nom]:
        return [n for n in self.noms if n.status.holds_seat]

    def waiting(self) -> list[Nom]:
        return [n for n in self.noms if n.status is NominationStatus.WAITLISTED]


class Ids:
    """Deterministic random UUIDs (version 4) from the generator's own random source."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def __call__(self) -> uuid.UUID:
        return uuid.UUID(int=self.rng.getrandbits(128), version=4)


def to_local(micros: int) -> pendulum.DateTime:
    return pendulum.from_timestamp(micros // 1_000_000, tz=VIENNA)


def epoch_micros(moment: pendulum.DateTime) -> int:
    return int(moment.timestamp()) * 1_000_000


TOPICS = ["drug policy", "crime prevention", "youth", "human rights", "harm reduction",
          "alternative development", "gender", "prisons", "corruption", "cybercrime"]
ROOMS = ["M1", "M2", "M3", "M7", "Board room A", "Board room B", "CR3", "CR4", "online"]


def directory_commands(rng: random.Random, ids: Ids) -> tuple[Directory, list[Command]]:
    t = epoch_micros(START)
    commands: list[Command] = []
    organisations = []
    for i in range(ORGANISATIONS):
        oid = ids()
        organisations.append(oid)
        event = dr.OrganisationRegistered(
            event_id=ids(), organisation_id=oid,
            name=f"Organisation number {i:03d} for {rng.choice(TOPICS)}",
            acronym=f"ORG{i:03d}", member=rng.random() < 0.9,
        )
        t += rng.randrange(MINUTE)
        commands.append((t, dr.organisation_stream(oid), [event], "RegisterOrganisation"))
    persons_of: dict[uuid.UUID, list[uuid.UUID]] = {o: [] for o in organisations}
    for i in range(PERSONS):
        pid = ids()
        organisation = rng.choice(organisations)
        persons_of[organisation].append(pid)
        event = dr.PersonRegistered(
            event_id=ids(), person_id=pid, name=f"Delegate Person-{i:05d}",
            email=f"delegate.{i:05d}@example.org", organisation_id=organisation,
        )
        t += rng.randrange(10_000_000)
        commands.append((t, dr.person_stream(pid), [event], "RegisterPerson"))
    return Directory(organisations, persons_of), commands


def meeting_life(  # noqa: PLR0912, PLR0915 - one meeting's whole history, in order
    rng: random.Random,
    ids: Ids,
    people: Directory,
    *,
    meeting_id: uuid.UUID,
    kind: MeetingKind,
    when: Timed | AllDay,
    start: int,
    scheduled_at: int,
    parent_id: uuid.UUID | None,
    may_cancel: bool,
) -> Iterator[Command]:
    """Yield one meeting's commands, in time order, as the domain would have decided them."""
    stream = mt.meeting_stream(meeting_id)
    mid = meeting_id
    label = kind.value.replace("-", " ").capitalize()
    title = f"{label} on {rng.choice(TOPICS)} #{rng.randrange(10_000)}"
    tentative = rng.random() < 0.2
    yield (scheduled_at, stream, [mt.MeetingScheduled(
        event_id=ids(), meeting_id=mid, title=title, kind=kind, when=when,
        location=rng.choice(ROOMS), online_url="https://meet.example.org/" + str(mid)[:8],
        parent_id=parent_id, tentative=tentative, organiser=f"ORG{rng.randrange(200):03d}",
        description="Agenda and background documents to follow.",
    )], "ScheduleMeeting")
    t = scheduled_at
    if tentative:
        t += rng.randrange(DAY, 15 * DAY)
        yield (t, stream, [mt.MeetingConfirmed(event_id=ids(), meeting_id=mid)], "ConfirmMeeting")
    # Registration: opens now, closes three days before; names due ten days before.
    t += rng.randrange(HOUR, 3 * DAY)
    opens, closes = t, start - 3 * DAY
    capacity = rng.choice([None, *range(20, 301, 10)])
    quotas = {Role.SPEAKER: 1, Role.ALTERNATE: 1, Role.PARTICIPANT: rng.randrange(3, 6)}
    funded_places = rng.choice([None, 5, 10, 20])
    sim = Sim(capacity=capacity, quotas=quotas, funded_places=funded_places,
              funded_per_delegation=rng.choice([None, 1, 2]),
              funded_roles=rng.choice([(), (Role.SPEAKER,), (Role.SPEAKER, Role.PARTICIPANT)]))
    yield (t, stream, [mt.RegistrationOpened(
        event_id=ids(), meeting_id=mid, opens_at=to_local(opens), closes_at=to_local(closes),
        capacity=capacity, quotas=tuple(mt.Quota(role=r, limit=n) for r, n in quotas.items()),
        funded_places=funded_places, funded_per_delegation=sim.funded_per_delegation,
        funded_roles=sim.funded_roles,
    )], "OpenRegistration")
    t += rng.randrange(MINUTE, HOUR)
    deadline_id = ids()
    due_day = to_local(start - 10 * DAY).date()
    yield (t, stream, [dl.DeadlineSet(
        event_id=ids(), deadline_id=deadline_id, title=f"Names of participants for {title}",
        due=dl.DueBy(day=due_day, zone="Europe/Vienna"), kind=dl.DeadlineKind.NAMES,
        meeting_id=mid, reminders=(pendulum.duration(days=7), pendulum.duration(days=1)),
    )], "SetDeadline")
    names_due = start - 10 * DAY

    # The agenda of what happens until the meeting, in time order.
    agenda: list[tuple[int, str]] = []
    nominations = rng.randint(10, 80)
    agenda += [(rng.randrange(t + MINUTE, names_due), "nominate") for _ in range(nominations)]
    agenda += [(rng.randrange(t + DAY, names_due + 5 * DAY), "withdraw")
               for _ in range(binomial(rng, nominations, 0.08))]
    agenda += [(rng.randrange(t + DAY, names_due + 5 * DAY), "decline")
               for _ in range(binomial(rng, nominations, 0.02))]
    if capacity is not None and rng.random() < 0.12:
        agenda.append((rng.randrange(t + DAY, names_due), "capacity"))
    if rng.random() < 0.06:
        agenda.append((rng.randrange(t + DAY, names_due), "reschedule"))
    if rng.random() < 0.05:
        agenda.append((rng.randrange(t + DAY, names_due), "details"))
    if rng.random() < 0.05:
        agenda.append((rng.randrange(t + DAY, names_due - DAY), "extend"))
    agenda += [(names_due - 7 * DAY + rng.randrange(HOUR), "reminder"),
               (names_due - DAY + rng.randrange(HOUR), "reminder")]
    agenda += [(rng.randrange(names_due + HOUR, closes), "confirm") for _ in range(nominations)]
    if kind is MeetingKind.SESSION and rng.random() < 0.4:
        agenda += [(rng.randrange(t + DAY, closes), "speak") for _ in range(rng.randint(2, 6))]
    if may_cancel and rng.random() < 0.02:
        agenda.append((rng.randrange(t + DAY, start), "cancel"))
    agenda.append((start + DAY + rng.randrange(DAY), "attendance"))
    if rng.random() < 0.6:
        agenda.append((start + rng.randrange(3 * DAY, 30 * DAY), "report"))
    if rng.random() < 0.3:
        agenda.append((start + rng.randrange(DAY, 10 * DAY), "recording"))
    agenda.sort()

    def promotions(free: int) -> list[Event]:
        result: list[Event] = []
        for n in sim.waiting()[: max(free, 0)]:
            n.status = NominationStatus.NOMINATED
            result.append(mt.NominationPromoted(event_id=ids(), meeting_id=mid,
                                                nomination_id=n.nomination_id))
        return result

    speaking_orgs: set[tuple[uuid.UUID, Any]] = set()
    for moment, action in agenda:
        events: list[Event]
        if action == "nominate":
            event = nominate(rng, ids, people, sim, mid)
            if event is None:
                continue
            events, name = [event], "NominateDelegate"
        elif action in ("withdraw", "decline"):
            active = [n for n in sim.noms if n.status.active]
            if not active:
                continue
            n = rng.choice(active)
            held = n.status.holds_seat
            n.status = (NominationStatus.WITHDRAWN if action == "withdraw"
                        else NominationStatus.DECLINED)
            n.funded = False
            cls = mt.NominationWithdrawn if action == "withdraw" else mt.NominationDeclined
            events = [cls(event_id=ids(), meeting_id=mid, nomination_id=n.nomination_id,
                          reason=rng.choice(["visa", "illness", "travel", ""]))]
            if held and sim.capacity is not None:
                events += promotions(sim.capacity - len(sim.seated()))
            name = "WithdrawNomination" if action == "withdraw" else "DeclineNomination"
        elif action == "capacity":
            assert sim.capacity is not None
            confirmed = sum(1 for n in sim.noms if n.status is NominationStatus.CONFIRMED)
            new = max(confirmed, sim.capacity + rng.choice([-30, -20, -10, 10, 20, 50]), 5)
            if new == sim.capacity:
                continue
            sim.capacity = new
            events = [mt.CapacityChanged(event_id=ids(), meeting_id=mid, capacity=new)]
            seated = sim.seated()
            if len(seated) > new:
                unconfirmed = [n for n in seated if n.status is NominationStatus.NOMINATED]
                for n in unconfirmed[len(unconfirmed) - (len(seated) - new):]:
                    n.status = NominationStatus.WAITLISTED
                    events.append(mt.NominationWaitlisted(event_id=ids(), meeting_id=mid,
                                                          nomination_id=n.nomination_id))
            else:
                events += promotions(new - len(seated))
            name = "ChangeCapacity"
        elif action == "reschedule":
            shift = pendulum.duration(days=rng.choice([-2, -1, 1, 2, 7]))
            moved = (Timed(start=when.start + shift, end=when.end + shift)
                     if isinstance(when, Timed)
                     else AllDay(first=when.first + shift, last=when.last + shift))
            events = [mt.MeetingRescheduled(event_id=ids(), meeting_id=mid, when=moved,
                                            reason="room not available")]
            name = "RescheduleMeeting"
        elif action == "details":
            events = [mt.MeetingDetailsChanged(event_id=ids(), meeting_id=mid,
                                               location=rng.choice(ROOMS))]
            name = "ChangeMeetingDetails"
        elif action == "extend":
            due_day = due_day.add(days=2)
            events = [dl.DeadlineExtended(event_id=ids(), deadline_id=deadline_id,
                                          due=dl.DueBy(day=due_day, zone="Europe/Vienna"),
                                          reason="many late nominations")]
            name = "ExtendDeadline"
        elif action == "reminder":
            events = [dl.DeadlineReminderSent(event_id=ids(), deadline_id=deadline_id)]
            name = "RecordReminderSent"
        elif action == "confirm":
            candidates = [n for n in sim.noms if n.status is NominationStatus.NOMINATED]
            if not candidates or rng.random() < 0.25:
                continue
            n = candidates[0]
            funded = n.funding_requested and funding_allowed(sim, n)
            n.status, n.funded = NominationStatus.CONFIRMED, funded
            events = [mt.NominationConfirmed(event_id=ids(), meeting_id=mid,
                                             nomination_id=n.nomination_id, funded=funded)]
            name = "ConfirmNomination"
        elif action == "speak":
            organisation = rng.choice(people.organisations)
            day = when.first_day
            if (organisation, day) in speaking_orgs:
                continue
            speaking_orgs.add((organisation, day))
            events = [mt.SpeakingRequested(event_id=ids(), meeting_id=mid, request_id=ids(),
                                           organisation_id=organisation, day=day,
                                           topic=f"Statement on {rng.choice(TOPICS)}")]
            name = "RequestSpeaking"
        elif action == "cancel":
            yield (moment, stream, [mt.MeetingCancelled(event_id=ids(), meeting_id=mid,
                                                        reason="postponed sine die")],
                   "CancelMeeting")
            return
        elif action == "attendance":
            present = tuple(
                mt.Attendee(person_id=n.person_id, organisation_id=n.organisation_id)
                for n in sim.noms
                if n.status is NominationStatus.CONFIRMED and rng.random() < 0.9
            )
            events = [mt.AttendanceRecorded(event_id=ids(), meeting_id=mid, attendees=present)]
            name = "RecordAttendance"
        else:  # report, recording
            kind_ = LinkKind.REPORT if action == "report" else LinkKind.RECORDING
            events = [mt.LinkAttached(event_id=ids(), meeting_id=mid, link=mt.Link(
                kind=kind_, url=f"https://docs.example.org/{mid}/{action}.pdf",
                title=f"{action.capitalize()} of the meeting"))]
            name = "AttachLink"
        yield (moment, stream, events, name)


def binomial(rng: random.Random, n: int, p: float) -> int:
    return sum(1 for _ in range(n) if rng.random() < p)


def nominate(
    rng: random.Random, ids: Ids, people: Directory, sim: Sim, mid: uuid.UUID
) -> mt.DelegateNominated | None:
    """A nomination within the quotas, of a person not active in the meeting yet."""
    active = {n.person_id for n in sim.noms if n.status.active}
    for _ in range(8):
        organisation = rng.choice(people.organisations)
        persons = [p for p in people.persons_of[organisation] if p not in active]
        if not persons:
            continue
        role = rng.choices([Role.PARTICIPANT, Role.SPEAKER, Role.ALTERNATE, Role.EXPERT],
                           [70, 12, 8, 10])[0]
        limit = sim.quotas.get(role)
        taken = sum(1 for n in sim.noms if n.organisation_id == organisation
                    and n.role is role and n.status.active)
        if limit is not None and taken >= limit:
            continue
        waitlisted = sim.capacity is not None and (
            len(sim.seated()) >= sim.capacity or bool(sim.waiting()))
        n = Nom(ids(), organisation, rng.choice(persons), role, rng.random() < 0.3,
                NominationStatus.WAITLISTED if waitlisted else NominationStatus.NOMINATED)
        sim.noms.append(n)
        return mt.DelegateNominated(
            event_id=ids(), meeting_id=mid, nomination_id=n.nomination_id,
            organisation_id=organisation, person_id=n.person_id, role=role,
            funding_requested=n.funding_requested, waitlisted=waitlisted,
        )
    return None


def funding_allowed(sim: Sim, n: Nom) -> bool:
    if sim.funded_roles and n.role not in sim.funded_roles:
        return False
    funded = [m for m in sim.noms if m.funded and m.status.holds_seat]
    if sim.funded_places is not None and len(funded) >= sim.funded_places:
        return False
    mine = sum(1 for m in sim.noms if m.funded and m.organisation_id == n.organisation_id)
    return sim.funded_per_delegation is None or mine < sim.funded_per_delegation


def group_spawner(rng: random.Random, ids: Ids, people: Directory) -> Iterator[Any]:
    """Every day or so, a new meeting, or a commission session with sessions and side
    events (children scheduled after their parent), and now and then a stand-alone call."""
    t = epoch_micros(START) + 2 * HOUR
    next_call = t + 30 * DAY
    while True:
        t += rng.randrange(6 * HOUR, 30 * HOUR)
        lives: list[Iterator[Command]] = []
        lead = rng.randrange(60 * DAY, 120 * DAY)
        day = to_local(t + lead).date()
        if rng.random() < 0.7:
            kind = rng.choice([MeetingKind.INFORMAL_MEETING, MeetingKind.BRIEFING,
                               MeetingKind.CONSTRUCTIVE_DIALOGUE, MeetingKind.OTHER])
            begin = pendulum.datetime(day.year, day.month, day.day, rng.randrange(9, 17),
                                      rng.choice([0, 30]), tz=VIENNA)
            when = Timed(start=begin, end=begin.add(minutes=rng.choice([60, 90, 120, 180])))
            lives.append(meeting_life(rng_for(rng), ids, people, meeting_id=ids(), kind=kind,
                                      when=when, start=epoch_micros(begin), scheduled_at=t,
                                      parent_id=None, may_cancel=True))
        else:
            parent = ids()
            first = pendulum.Date(day.year, day.month, day.day)
            when_parent = AllDay(first=first, last=first.add(days=4))
            lives.append(meeting_life(rng_for(rng), ids, people, meeting_id=parent,
                                      kind=MeetingKind.COMMISSION_SESSION, when=when_parent,
                                      start=epoch_micros(pendulum.datetime(
                                          first.year, first.month, first.day, 9, tz=VIENNA)),
                                      scheduled_at=t, parent_id=None, may_cancel=False))
            for index in range(rng.randint(3, 10) + rng.randint(2, 15)):
                on = first.add(days=rng.randrange(5))
                begin = pendulum.datetime(on.year, on.month, on.day, rng.randrange(8, 18),
                                          rng.choice([0, 15, 30, 45]), tz=VIENNA)
                when = Timed(start=begin, end=begin.add(minutes=rng.choice([60, 90, 180])))
                kind = MeetingKind.SESSION if index % 2 == 0 else MeetingKind.SIDE_EVENT
                lives.append(meeting_life(
                    rng_for(rng), ids, people, meeting_id=ids(), kind=kind, when=when,
                    start=epoch_micros(begin), scheduled_at=t + rng.randrange(HOUR, 20 * DAY),
                    parent_id=parent, may_cancel=True))
        yield (t, "", lives, "spawn")
        while next_call <= t:
            lives = [call_life(rng_for(rng), ids, next_call)]
            yield (next_call, "", lives, "spawn")
            next_call += rng.randrange(20 * DAY, 40 * DAY)


def call_life(rng: random.Random, ids: Ids, t: int) -> Iterator[Command]:
    """A stand-alone deadline (a call for nominations) in its own stream, with reminders."""
    deadline_id = ids()
    stream = f"deadline-{deadline_id}"
    due = to_local(t + rng.randrange(20 * DAY, 40 * DAY)).date()
    yield (t, stream, [dl.DeadlineSet(
        event_id=ids(), deadline_id=deadline_id,
        title="Call for nominations: board of the alliance",
        due=dl.DueBy(day=due, zone="Europe/Vienna"), kind=dl.DeadlineKind.NOMINATIONS,
        reminders=(pendulum.duration(days=7),))], "SetDeadline")
    yield (t + 10 * DAY, stream, [dl.DeadlineReminderSent(event_id=ids(), deadline_id=deadline_id)],
           "RecordReminderSent")


def rng_for(parent: random.Random) -> random.Random:
    return random.Random(parent.getrandbits(64))


def history(seed: int = SEED) -> Iterator[Command]:
    """Every command of the history, in time order (ties: in the order they were made)."""
    rng = random.Random(seed)
    ids = Ids(random.Random(rng.getrandbits(64)))
    people, first = directory_commands(rng_for(rng), ids)
    yield from first
    heap: list[tuple[int, int, Command, Iterator[Any]]] = []
    order = itertools.count()

    def push(life: Iterator[Any]) -> None:
        item = next(life, None)
        if item is not None:
            heapq.heappush(heap, (item[0], next(order), item, life))

    push(group_spawner(rng_for(rng), ids, people))
    while heap:
        _, _, item, life = heapq.heappop(heap)
        if item[3] == "spawn":
            for new in item[2]:
                push(new)
        else:
            yield item
        push(life)


# -- the cached log --------------------------------------------------------------------


def table_sql() -> str:
    """The events table's SQL as this version of SQLiteLog creates it (part of the cache key)."""
    with tempfile.TemporaryDirectory(dir=CACHE) as folder:
        path = Path(folder) / "probe.db"
        open_log(f"sqlite:///{path}").close()
        with contextlib.closing(sqlite3.connect(path)) as db:
            rows = db.execute(
                "SELECT sql FROM sqlite_master WHERE tbl_name = 'events' ORDER BY name"
            ).fetchall()
    return "\n".join(r[0] or "" for r in rows)


def cache_path(count: int) -> Path:
    key = hashlib.sha1(table_sql().encode(), usedforsecurity=False).hexdigest()[:8]
    return CACHE / f"projection-{count}-g{GENERATOR_VERSION}-{key}.db"


def cached_log(count: int) -> tuple[Path, float | None]:
    """The log of the history's first ``count`` events, generated once; and the seconds
    it took to generate now (``None``: it was in the cache)."""
    CACHE.mkdir(exist_ok=True)
    path = cache_path(count)
    if path.exists() and Path(f"{path}.json").exists():
        try:
            check_log(path, count)
        except Exception as error:
            say(f"cached {path.name} unusable ({error}): generating it again")
        else:
            return path, None
    seconds = generate(path, count)
    return path, seconds


def check_log(path: Path, count: int) -> None:
    with open_log(f"sqlite:///{path}") as log:
        if log.head() != count:
            raise RuntimeError(f"head is {log.head()}, expected {count}")
        for _ in log.read_all(limit=1_000):
            pass
        for _ in log.read_all(after=count - 1_000):
            pass


def generate(path: Path, count: int) -> float:  # noqa: PLR0912, PLR0915 - step by step
    """Write the history's first ``count`` events into a new log at ``path``.

    The rows go straight into the table that SQLiteLog created (one transaction per
    20,000 rows, synchronous=OFF), encoded with the log's own codec: data, metadata like
    the application's (actor, command, command id), ``recorded_at`` the command's time,
    so every command has its own time and streams interleave as they would. Then the
    log reads a sample back and compares it with the generated events.
    """
    remove_sqlite(path)
    partial = path.with_name(path.name + ".partial")
    remove_sqlite(partial)
    say(f"generating {count:,} events into {path.name} ...")
    started = time.perf_counter()
    keys_log = open_log(f"sqlite:///{partial}")  # the log makes its own tables
    codec = Codec()
    codec.keys = keys_log.codec.keys  # persons' keys go to the log's key store, as it does
    versions: dict[str, int] = {}
    kinds: collections.Counter[str] = collections.Counter()
    sample: dict[int, Event] = {}
    rows: list[tuple[Any, ...]] = []
    position = 0
    db = sqlite3.connect(partial, isolation_level=None)
    db.execute("PRAGMA synchronous = OFF")
    columns = {row[1] for row in db.execute("PRAGMA table_info(events)")}
    chained = "checksum" in columns  # schema 3: each record's checksum, chained per stream
    insert = ("INSERT INTO events (position, stream, version, event_id, type, schema, data, "
              "metadata, recorded_at" + (", checksum" if chained else "") + ") VALUES "
              "(?, ?, ?, ?, ?, ?, ?, ?, ?" + (", ?" if chained else "") + ")")
    tips: dict[str, bytes] = {}

    def flush() -> None:
        db.execute("BEGIN")
        db.executemany(insert, rows)
        db.execute("COMMIT")
        rows.clear()

    actor_rng = random.Random(SEED + 1)
    for micros, stream, events, name in history():
        metadata = codec.encode_metadata({
            "actor": actor_rng.choice(["secretariat", "secretariat", "chair", "web form"]),
            "command": name,
            "command_id": str(uuid.UUID(int=actor_rng.getrandbits(128), version=4)),
        })
        for event in events:
            position += 1
            version = versions.get(stream, 0) + 1
            versions[stream] = version
            encoded = codec.encode(event)
            row: tuple[Any, ...] = (position, stream, version, event.event_id.bytes,
                                    encoded.type, encoded.schema, encoded.data, metadata, micros)
            if chained:
                from alliance_events.log.chain import GENESIS, checksum

                tips[stream] = checksum(tips.get(stream, GENESIS), position, stream, version,
                                        event.event_id.bytes, encoded.type, encoded.schema,
                                        encoded.data, metadata, micros)
                row = (*row, tips[stream])
            rows.append(row)
            kinds[encoded.type] += 1
            if position <= 200 or position % 9_973 == 0:
                sample[position] = event
            if position == count:
                break
        if len(rows) >= 20_000:
            flush()
        if position == count:
            break
        if position % 100_000 < len(events):
            say(f"  {position:,} events")
    if rows:
        flush()
    if position < count:
        raise RuntimeError(f"the history ended after {position} events")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    keys_log.close()
    with open_log(f"sqlite:///{partial}") as log:
        for record in log.read_all():
            expected = sample.get(record.position)
            if expected is not None and record.event != expected:
                raise RuntimeError(f"position {record.position} reads back as {record.event!r}, "
                                   f"not {expected!r}: the generator no longer fits the log")
    seconds = time.perf_counter() - started
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{partial}{suffix}").unlink()
    partial.rename(path)
    meetings = kinds["MeetingScheduled"]
    Path(f"{path}.json").write_text(json.dumps({
        "events": count, "seconds": seconds, "meetings": meetings, "streams": len(versions),
        "types": dict(kinds.most_common()),
    }, indent=2) + "\n")
    say(f"generated in {seconds:.1f} s ({meetings:,} meetings, {len(versions):,} streams)")
    return seconds


def remove_sqlite(path: Path | None) -> None:
    if path is None:
        return
    for suffix in ("", "-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


def copy_log(source: Path, target: Path) -> Path:
    shutil.copyfile(source, target)
    return target


# -- measurements ----------------------------------------------------------------------


def read_all_rate(log: Any) -> tuple[float, int]:
    started = time.perf_counter()
    n = 0
    for _ in log.read_all():
        n += 1
    return n / (time.perf_counter() - started), n


def last_time(log: Any) -> pendulum.DateTime:
    last = list(log.read_all(after=max(log.head() - 1, 0)))
    return last[-1].recorded_at


def without_snapshots(alliance: Alliance) -> Alliance:
    """Make the façade's runner fold the whole log: no stored snapshot read or written
    (a rebuild that loaded one would not be a rebuild; one that stored one would time
    the write too). Code from before snapshots has no such runner attribute."""
    runner = alliance._runner  # the benchmark measures the fold alone
    if hasattr(runner, "snapshots"):
        runner.snapshots = None
    return alliance


def rebuild(log: Any, clock: FixedClock, *, collector: bool = True) -> tuple[float, Alliance]:
    """One full rebuild, timed: ``Alliance.catch_up()`` on a new façade, whose runner
    folds the whole log from position 0 (snapshots off: see ``without_snapshots``).
    ``collector=False``: with Python's cyclic garbage collector off during it."""
    alliance = without_snapshots(Alliance(log, clock=clock))
    gc.collect()
    if not collector:
        gc.disable()
    try:
        started = time.perf_counter()
        n = alliance.catch_up()
        seconds = time.perf_counter() - started
    finally:
        gc.enable()
    if n != log.head():
        raise RuntimeError(f"the rebuild applied {n} events, the log has {log.head()}")
    return n / seconds, alliance


def new_nominations(alliance: Alliance, meetings: Sequence[uuid.UUID], per_meeting: int,
                    rng: random.Random) -> list[tuple[str, list[Event]]]:
    """Valid nominations (quotas, no one twice, waiting list when full) for each meeting."""
    state = alliance.state
    persons_of: dict[uuid.UUID, list[uuid.UUID]] = collections.defaultdict(list)
    for person in state.persons.values():
        if person.organisation_id is not None:
            persons_of[person.organisation_id].append(person.person_id)
    organisations = sorted(persons_of)
    batches = []
    for meeting_id in meetings:
        meeting = state.meetings[meeting_id]
        registration = meeting.registration
        assert registration is not None
        active = {n.person_id for n in meeting.nominations if n.status.active}
        counts = collections.Counter(
            (n.organisation_id, n.role) for n in meeting.nominations if n.status.active)
        seated = meeting.seats_taken
        waiting = bool(meeting.waiting_list)
        events: list[Event] = []
        while len(events) < per_meeting:
            organisation = rng.choice(organisations)
            free = [p for p in persons_of[organisation] if p not in active]
            role = rng.choice([Role.PARTICIPANT, Role.EXPERT])
            limit = registration.quota(role)
            if not free or (limit is not None and counts[organisation, role] >= limit):
                continue
            person = rng.choice(free)
            waitlisted = registration.capacity is not None and (
                seated >= registration.capacity or waiting)
            events.append(mt.DelegateNominated(
                event_id=uuid.uuid4(), meeting_id=meeting_id, nomination_id=uuid.uuid4(),
                organisation_id=organisation, person_id=person, role=role,
                funding_requested=rng.random() < 0.3, waitlisted=waitlisted))
            active.add(person)
            counts[organisation, role] += 1
            if waitlisted:
                waiting = True
            else:
                seated += 1
        batches.append((mt.meeting_stream(meeting_id), events))
    return batches


def catch_up_rounds(alliance: Alliance, rounds: int, seed: int) -> list[float]:
    """``rounds`` times: append 1,000 nominations (10 batches of 100, each to another of the
    latest meetings with a registration), then time ``catch_up()`` alone (ms)."""
    rng = random.Random(seed)
    state = alliance.state
    pool = [m.meeting_id for m in reversed(state.meetings.values())
            if m.exists and m.registration is not None and not m.cancelled]
    per_meeting = CATCH_UP_EVENTS // CATCH_UP_BATCHES
    samples = []
    for round_ in range(rounds):
        if len(pool) < CATCH_UP_BATCHES:
            raise RuntimeError(f"the log has {len(pool)} meetings, the catch-up needs "
                               f"{CATCH_UP_BATCHES}: give more --events")
        first = round_ * CATCH_UP_BATCHES
        chosen = [pool[i % len(pool)] for i in range(first, first + CATCH_UP_BATCHES)]
        for stream, events in new_nominations(alliance, chosen, per_meeting, rng):
            version = alliance.log.stream_version(stream)
            alliance.log.append(stream, events, expected_version=version,
                                metadata={"actor": "web form", "command": "NominateDelegate",
                                          "command_id": str(uuid.uuid4())})
        gc.collect()
        started = time.perf_counter()
        n = alliance.catch_up()
        samples.append((time.perf_counter() - started) * 1000)
        if n != CATCH_UP_EVENTS:
            raise RuntimeError(f"catch-up applied {n} events, expected {CATCH_UP_EVENTS}")
    return samples


def registration_queries(alliance: Alliance, calls: int, seed: int) -> tuple[list[float], int]:
    """Time ``registration(meeting)`` (µs) on meetings picked at random; also return the
    largest number of nominations among them."""
    rng = random.Random(seed)
    state = alliance.state
    ids = [m.meeting_id for m in state.meetings.values() if m.exists]
    picked = [rng.choice(ids) for _ in range(calls)]
    biggest = max(ids, key=lambda i: len(state.meetings[i].nominations))
    picked.append(biggest)
    samples = []
    for meeting_id in picked:
        started = time.perf_counter()
        view = alliance.registration(meeting_id)
        samples.append((time.perf_counter() - started) * 1e6)
        assert view.meeting.meeting_id == meeting_id
    return samples, len(state.meetings[biggest].nominations)


def as_of_query(alliance: Alliance) -> tuple[float, int, int]:
    """Time ``registration(meeting, as_of=position)`` once (s), the position halfway
    between two of the runner's in-memory snapshots near the middle of the log, so it
    folds what it says: return the seconds, the position and the events folded (from
    the nearest snapshot before it; the whole prefix if the runner keeps none)."""
    runner = alliance._runner  # to say which fold the query does
    every = getattr(runner, "snapshot_every", None) or 0
    head = alliance.log.head()
    position = head // 2 + every // 2
    # Halfway between the two kept snapshots around the middle (a runner that keeps
    # fewer than one every ``every`` positions keeps them farther apart).
    kept_all = [snapshot.position for snapshot in getattr(runner, "_snapshots", [])]
    around = [(a, b) for a, b in zip([0, *kept_all], kept_all, strict=False)
              if a <= head // 2 < b]
    if around:
        position = sum(around[0]) // 2
    kept = [at for at in kept_all if at <= position]
    folded = position - (max(kept) if kept else 0)
    state = alliance.state
    scheduled = [m.meeting_id for m in state.meetings.values() if m.exists]
    # Meetings are in the order they were first seen: one from the first quarter was
    # scheduled before the middle of the log.
    meeting_id = scheduled[len(scheduled) // 4]
    gc.collect()
    started = time.perf_counter()
    try:
        alliance.registration(meeting_id, as_of=position)
    except UnknownReferenceError:
        alliance.registration(scheduled[0], as_of=position)
    return time.perf_counter() - started, position, folded


def fold_from_zero(log: Any, position: int) -> float:
    """Time ``fold(log, AllianceProjection(), position=position)``: the fold of the
    log's first ``position`` events that "as of" does without any snapshot (s)."""
    gc.collect()
    started = time.perf_counter()
    _, last = fold(log, AllianceProjection(), position=position)
    seconds = time.perf_counter() - started
    if last != position:
        raise RuntimeError(f"the fold stopped at {last}, not {position}")
    return seconds


# -- a restart: a new process opening the façade on the log, until its state is ready --


def restart_child(path: str) -> None:
    """Run in a subprocess: ``Alliance.open(url)`` then ``catch_up()``, timed together
    (what a restarted feed server or command does before it can answer), and whether
    it started from a stored snapshot."""
    started = time.perf_counter()
    alliance = Alliance.open(f"sqlite:///{path}")
    applied = alliance.catch_up()
    seconds = time.perf_counter() - started
    runner = alliance._runner  # to report where it started from
    restored = getattr(runner, "restored_from", None)
    head = alliance.log.head()
    state = alliance.state
    alliance.close()
    print(json.dumps({"seconds": seconds, "applied": applied, "restored_from": restored,
                      "head": head, "meetings": len(state.meetings),
                      "peak_kib": vm_kib("VmHWM")}))


def bench_restart(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--restart-child", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    return result


def stored_snapshot_bytes(path: Path) -> int | None:
    """The size of the alliance projection's stored snapshot in the file (None: none)."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        if not db.execute("SELECT 1 FROM sqlite_master WHERE name = 'projection_snapshots'"
                          ).fetchone():
            return None
        row = db.execute("SELECT length(data) FROM projection_snapshots WHERE name = "
                         "'alliance'").fetchone()
    return None if row is None else int(row[0])


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages, as ``uptime`` prints them."""
    try:
        return ", ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "n/a"


# -- memory of a rebuild, in a subprocess ----------------------------------------------


def vm_kib(key: str) -> int | None:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return None


def reset_peak_rss() -> bool:
    """Reset VmHWM (Linux >= 4.0); ru_maxrss cannot be reset and a child inherits its
    parent's, so it would hide the growth being measured."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def memory_child(path: str) -> None:
    """Run in a subprocess: peak and retained RSS growth of one full rebuild."""
    with open_log(f"sqlite:///{path}") as log:
        log.head()
        runner = ProjectionRunner(log, AllianceProjection())
        gc.collect()
        reset = reset_peak_rss()
        peak_before = vm_kib("VmHWM")
        rss_before = vm_kib("VmRSS")
        method = "VmHWM"
        if peak_before is None:
            peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            method = "ru_maxrss"
        started = time.perf_counter()
        n = runner.catch_up()
        seconds = time.perf_counter() - started
        peak_after = vm_kib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        gc.collect()
        rss_after = vm_kib("VmRSS")
        meetings = len(runner.state.meetings)
    if not reset:
        method += " (not reset: inherited from the parent, growth may be hidden)"
    print(json.dumps({"events": n, "seconds": seconds, "method": method, "meetings": meetings,
                      "peak_before_kib": peak_before, "peak_after_kib": peak_after,
                      "rss_before_kib": rss_before, "rss_after_kib": rss_after}))


def bench_memory(path: Path) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child", str(path)],
        check=True, capture_output=True, text=True,
    ).stdout
    result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    result["peak_growth_mib"] = (result["peak_after_kib"] - result["peak_before_kib"]) / 1024
    if result["rss_before_kib"] is not None and result["rss_after_kib"] is not None:
        result["retained_mib"] = (result["rss_after_kib"] - result["rss_before_kib"]) / 1024
    else:
        result["retained_mib"] = None
    return result


# -- profile ---------------------------------------------------------------------------


def profile_rebuild(path: Path) -> str:
    """cProfile of a rebuild, then a breakdown measured without the profiler."""
    out = io.StringIO()
    with open_log(f"sqlite:///{path}") as log:
        head = log.head()
        for _ in log.read_all(limit=10_000):
            pass
        runner = ProjectionRunner(log, AllianceProjection())
        profiler = cProfile.Profile()
        profiler.enable()
        runner.catch_up()
        profiler.disable()
        stats = pstats.Stats(profiler, stream=out)
        out.write(f"cProfile of ProjectionRunner(log, AllianceProjection()).catch_up() over "
                  f"{head:,} events (profiler overhead included):\n")
        stats.sort_stats("tottime").print_stats(15)
        out.write(breakdown(log))
    return out.getvalue()


def timed(function: Callable[[], Any], *, collector: bool = False) -> float:
    """Seconds ``function()`` takes (with the cyclic GC off unless ``collector``)."""
    gc.collect()
    if not collector:
        gc.disable()
    try:
        started = time.perf_counter()
        function()
        return time.perf_counter() - started
    finally:
        gc.enable()


def per_call_us(function: Callable[[], Any], loops: int = 20_000) -> float:
    started = time.perf_counter()
    for _ in range(loops):
        function()
    return (time.perf_counter() - started) / loops * 1e6


def breakdown(log: Any) -> str:  # noqa: PLR0915 - a report, step by step
    """Where a rebuild's time goes, each part timed on its own, without the profiler.

    Every figure is µs per event of the log; the parts are timed with the cyclic GC off,
    and the GC's share is the difference between two streaming rebuilds (on, off).
    """
    n = log.head()
    out = [f"breakdown of a rebuild of {n:,} events (no profiler; µs per event of the log):"]

    def stream_read() -> None:
        for _ in log.read_all():
            pass

    def stream_rebuild() -> None:
        ProjectionRunner(log, AllianceProjection()).catch_up()

    def raw_fetch() -> None:  # the SQL and sqlite3's rows, no decoding
        with contextlib.closing(sqlite3.connect(log.path)) as db:
            cursor = 0
            while True:
                rows = db.execute(
                    "SELECT position, stream, version, event_id, type, schema, data, metadata,"
                    " recorded_at FROM events WHERE position > ? ORDER BY position LIMIT 2000",
                    (cursor,)).fetchall()
                if len(rows) < 2000:
                    return
                cursor = rows[-1][0]

    stream_read()  # warm
    fetch = timed(raw_fetch) / n * 1e6
    read_off = timed(stream_read) / n * 1e6
    rebuild_on = timed(stream_rebuild, collector=True) / n * 1e6
    rebuild_off = timed(stream_rebuild) / n * 1e6
    records: list[Any] = []
    timed(lambda: records.extend(log.read_all()))
    projection = AllianceProjection()
    holder = [projection.initial()]

    def apply_all() -> None:
        state, apply = holder[0], projection.apply
        for record in records:
            state = apply(state, record)

    apply = timed(apply_all) / n * 1e6
    meeting_records = [(uuid.UUID(r.stream[8:]), r.event) for r in records
                       if r.stream.startswith("meeting-")]
    m = len(meeting_records)
    states: dict[uuid.UUID, mt.MeetingState | None] = {}
    befores: list[mt.MeetingState | None] = []

    def evolve_all() -> None:
        evolve, get = mt.evolve, states.get
        for key, event in meeting_records:
            states[key] = evolve(get(key), event)

    evolve = timed(evolve_all) / n * 1e6
    # Replay again keeping each event's before-state, to time the copies on their own
    # (a meeting's first event starts from None: nothing to copy).
    states.clear()
    for key, event in meeting_records:
        before = states.get(key)
        befores.append(before)
        states[key] = mt.evolve(before, event)
    pairs = [(b, e) for b, (_, e) in zip(befores, meeting_records, strict=True) if b is not None]

    def copy_states() -> None:  # one attrs.evolve of the meeting per event, as every evolver does
        evolve_ = attrs.evolve
        for before, _ in pairs:
            evolve_(before, sequence=before.sequence)

    changes = (mt.NominationPromoted, mt.NominationWaitlisted, mt.NominationWithdrawn,
               mt.NominationDeclined, mt.NominationConfirmed)
    nomination_pairs = [(b, e) for b, e in pairs if isinstance(e, changes)]

    def rebuild_tuples() -> None:  # the nominations tuple rebuilt to change one (meetings/state.py)
        evolve_ = attrs.evolve
        for before, event in nomination_pairs:
            target = event.nomination_id
            tuple(evolve_(x, funded=False) if x.nomination_id == target else x
                  for x in before.nominations)

    copies = timed(copy_states) / n * 1e6
    tuples = timed(rebuild_tuples) / n * 1e6
    glue = apply - evolve
    other_evolve = evolve - copies - tuples
    runner = rebuild_off - read_off - apply
    nominations = [len(b.nominations) for b, _ in nomination_pairs]
    decode = read_off - fetch

    def line(label: str, value: float, note: str = "") -> None:
        out.append(f"  {label:62} {value:6.2f}  {value / rebuild_on:6.1%}{note}")

    out.append(f"  {'rebuild as measured (streaming, GC on)':62} {rebuild_on:6.2f}  100.0%"
               f"  = {1e6 / rebuild_on:,.0f} ev/s")
    line("cyclic GC (rebuild GC on - GC off)", rebuild_on - rebuild_off)
    line("log: SQL + sqlite3 rows (raw fetch, no decoding)", fetch)
    line("log: decoding (read_all - raw fetch)", decode)
    line("projection: meetings.evolve, of which:", evolve, f"  ({m:,} meeting events)")
    line("  . attrs.evolve(MeetingState) copy, one per event", copies)
    line("  . nominations tuple rebuilt per status change", tuples,
         f"  ({len(nomination_pairs):,} changes, mean {statistics.mean(nominations or [0]):.0f}"
         f" nominations scanned, UUID __eq__ each)")
    line("  . the rest (new Nomination/Registration/Deadline, dispatch)", other_evolve)
    line("projection: apply's own (stream key, dicts, Touched, position)", glue)
    line("the rest: runner loop, streaming vs list (GC-off rebuild - read - apply)", runner)

    # Per event type: apply timed one record at a time (timer overhead ~0.1 µs included).
    per_type: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    projection = AllianceProjection()
    state = projection.initial()
    apply_one = projection.apply
    clock = time.perf_counter_ns
    gc.disable()
    try:
        for record in records:
            before_ns = clock()
            state = apply_one(state, record)
            cell = per_type[record.type]
            cell[0] += clock() - before_ns
            cell[1] += 1
    finally:
        gc.enable()
    out.append("  apply per event type, GC off (µs each, count, share of apply):")
    total = sum(c[0] for c in per_type.values())
    for name, (ns, count) in sorted(per_type.items(), key=lambda kv: -kv[1][0])[:10]:
        out.append(f"    {name:28} {ns / count / 1000:7.2f}  {count:>9,}  "
                   f"{ns / total:6.1%}")
    typical = min(states.values(), key=lambda s: abs(len(s.nominations) - 45))
    touched = state.touched[typical.meeting_id]
    made, changed, position = touched.created, touched.modified, touched.position
    other = uuid.UUID(int=typical.meeting_id.int)  # equal, not the same object
    out.append(
        f"  one call: attrs.evolve(MeetingState) {per_call_us(lambda: attrs.evolve(typical)):.2f}"
        f" µs; Touched(...) {per_call_us(lambda: type(touched)(made, changed, position)):.2f}"
        f" µs; UUID == UUID {per_call_us(lambda: typical.meeting_id == other):.2f} µs")
    return "\n".join(out) + "\n"


# -- output ----------------------------------------------------------------------------


@dataclass
class Row:
    measure: str
    log_events: int | None
    figure: str
    baseline: str
    target: str
    verdict: str
    data: dict[str, Any]
    load: str = field(default_factory=load_average)  # when the row was measured


def fmt_events(n: int | None) -> str:
    return "" if n is None else f"{n:,}"


def table(rows: list[Row]) -> str:
    header = ["measure", "log events", "figure", "baseline / detail", "target", "verdict",
              "load 1/5/15 min"]
    lines = [header] + [[r.measure, fmt_events(r.log_events), r.figure, r.baseline, r.target,
                         r.verdict, r.load] for r in rows]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    out = []
    for index, line in enumerate(lines):
        cells = [c.rjust(w) if i in (1, 2) else c.ljust(w)
                 for i, (c, w) in enumerate(zip(line, widths, strict=True))]
        out.append("  ".join(cells).rstrip())
        if index == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def git_state() -> str:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE.parent,
                                capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"], cwd=HERE.parent,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return commit + ("+dirty-src" if dirty else "")


# -- main ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="a log of 100,000 events, one rebuild round (a smoke test)")
    parser.add_argument("--events", type=int, default=None,
                        help="events in the log (1,000,000; --quick 100,000); the small log "
                        "for the catch-up comparison has a tenth of them")
    parser.add_argument("--repeat", type=int, default=None,
                        help="rebuild rounds, the best is reported (2; --quick 1)")
    parser.add_argument("--catch-ups", type=int, default=None,
                        help="catch-up rounds of 1,000 events per log (7; --quick 5)")
    parser.add_argument("--queries", type=int, default=200,
                        help="registration(meeting) calls timed (200)")
    parser.add_argument("--no-memory", action="store_true",
                        help="skip the rebuild's memory measurement (a subprocess rebuild)")
    parser.add_argument("--json", type=Path, default=None, metavar="FILE",
                        help="also write the rows as JSON to FILE")
    parser.add_argument("--profile", action="store_true",
                        help="also print a cProfile and a breakdown of a rebuild (of the "
                        "small log, or of the log if that is 100,000 events or fewer)")
    parser.add_argument("--memory-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--restart-child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--no-restart", action="store_true",
                        help="skip the restart measurement (two subprocesses on a copy of "
                        "the log)")
    args = parser.parse_args(argv)
    args.events = args.events or (100_000 if args.quick else 1_000_000)
    if args.events < 100_000:
        parser.error("--events must be at least 100,000 (the small log has a tenth, and "
                     "the directory alone is 5,200 events)")
    args.repeat = args.repeat or (1 if args.quick else 2)
    args.catch_ups = args.catch_ups or (5 if args.quick else 7)
    return args


def catch_up_row(samples: list[float], events: int) -> Row:
    median, worst = statistics.median(samples), max(samples)
    verdict = "ok" if median < TARGET_CATCH_UP_MS else "MISS"
    if verdict == "ok" and worst >= TARGET_CATCH_UP_MS:
        verdict = "ok (max over)"
    return Row(f"catch-up of {CATCH_UP_EVENTS:,} new events", events,
               f"{median:.1f} ms", f"median of {len(samples)}; max {worst:.1f} ms; "
               f"{CATCH_UP_EVENTS / median * 1000:,.0f} ev/s",
               f"< {TARGET_CATCH_UP_MS:g} ms", verdict,
               {"ms_samples": samples, "median_ms": median, "max_ms": worst,
                "target_ms": TARGET_CATCH_UP_MS})


def main(argv: Sequence[str] | None = None) -> int:  # noqa: PLR0915 - the run, in order
    args = parse_args(argv)
    if args.memory_child:
        memory_child(args.memory_child)
        return 0
    if args.restart_child:
        restart_child(args.restart_child)
        return 0
    environment = {"python": platform.python_version(), "sqlite": sqlite3.sqlite_version,
                   "cpus": os.cpu_count(), "machine": platform.machine(), "code": git_state()}
    load_at_start = load_average()
    started = time.perf_counter()
    CACHE.mkdir(exist_ok=True)
    big_n, small_n = args.events, args.events // 10
    big_cached, big_generated = cached_log(big_n)
    small_cached, small_generated = cached_log(small_n)
    info = json.loads(Path(f"{big_cached}.json").read_text())
    rows: list[Row] = []
    workdir = Path(tempfile.mkdtemp(prefix="bench-projection-", dir=CACHE))
    profile = None
    try:
        # 1. rebuild vs read_all, interleaved rounds, best of each.
        big = copy_log(big_cached, workdir / "big.db")
        with open_log(f"sqlite:///{big}") as log:
            clock = FixedClock(last_time(log))
            for _ in log.read_all(limit=big_n // 10):  # warm-up
                pass
            read_rates, rebuild_rates, nogc_rates = [], [], []
            alliance = None
            for round_ in range(args.repeat):
                step = f"[rebuild] round {round_ + 1}/{args.repeat}:"
                alliance = None  # no other state alive: the GC would scan it too
                say(f"{step} read_all of {big_n:,} events")
                rate, n = read_all_rate(log)
                assert n == big_n
                read_rates.append(rate)
                say(f"{step} rebuild with the garbage collector off (for information)")
                nogc_rates.append(rebuild(log, clock, collector=False)[0])
                say(f"{step} rebuild")
                rate, alliance = rebuild(log, clock)
                rebuild_rates.append(rate)
            assert alliance is not None
            read_best, rebuild_best = max(read_rates), max(rebuild_rates)
            nogc_rate = max(nogc_rates)
            own_us = (1 / rebuild_best - 1 / read_best) * 1e6
            share = 1 - rebuild_best / read_best
            rows.append(Row(
                "rebuild: catch_up() from 0", big_n, f"{rebuild_best:,.0f} ev/s",
                f"read_all+decode {read_best:,.0f} ev/s; projection's own "
                f"{own_us:.1f} µs/ev ({share:.0%} of the rebuild)",
                f">= {TARGET_REBUILD:,} ev/s",
                "ok" if rebuild_best >= TARGET_REBUILD else "MISS",
                {"rebuild_events_per_s_samples": rebuild_rates,
                 "read_all_events_per_s_samples": read_rates,
                 "projection_own_us_per_event": own_us,
                 "rebuild_seconds": big_n / rebuild_best,
                 "target_events_per_s": TARGET_REBUILD}))
            rows.append(Row(
                "rebuild, gc.disable() during it", big_n, f"{nogc_rate:,.0f} ev/s",
                "for information: the cyclic GC costs "
                f"{(1 / rebuild_best - 1 / nogc_rate) * 1e6:.1f} µs/ev "
                f"({1 - rebuild_best / nogc_rate:.0%} of the rebuild)", "", "",
                {"rebuild_events_per_s_samples": nogc_rates}))

            # 2. queries on the caught-up state.
            say(f"[queries] {args.queries} registration(meeting) calls; one as_of")
            samples, biggest = registration_queries(alliance, args.queries, 3)
            rows.append(Row(
                "registration(meeting)", big_n, f"{statistics.median(samples):,.0f} µs",
                f"median of {len(samples)} meetings; max {max(samples):,.0f} µs "
                f"(largest: {biggest} nominations)", "", "",
                {"us_samples": samples}))
            seconds, position, folded = as_of_query(alliance)
            rows.append(Row(
                "registration(meeting, as_of=position)", big_n, f"{seconds:.2f} s",
                f"as of position {position:,}: the runner folds {folded:,} events from its "
                f"in-memory snapshot before it"
                + (f" ({folded / seconds:,.0f} ev/s)" if folded else ""), "", "",
                {"seconds": seconds, "position": position, "events_folded": folded}))
            say(f"[queries] fold from 0 to {position:,} (as of, without snapshots)")
            seconds = fold_from_zero(log, position)
            rows.append(Row(
                "as-of fold from 0 (no snapshot)", big_n, f"{seconds:.2f} s",
                f"fold(log, AllianceProjection(), position={position:,}): "
                f"{position / seconds:,.0f} ev/s", "", "",
                {"seconds": seconds, "position": position}))

            # 3. catch-up on the big log.
            say(f"[catch-up] {args.catch_ups} rounds of {CATCH_UP_EVENTS:,} events on {big_n:,}")
            rows.append(catch_up_row(catch_up_rounds(alliance, args.catch_ups, 5), big_n))
            del alliance
        remove_sqlite(big)

        # 4. catch-up on the small log (its rebuild too, for information).
        small = copy_log(small_cached, workdir / "small.db")
        with open_log(f"sqlite:///{small}") as log:
            clock = FixedClock(last_time(log))
            say(f"[catch-up] rebuild, then {args.catch_ups} rounds on {small_n:,}")
            rate, alliance = rebuild(log, clock)
            rows.append(Row("rebuild: catch_up() from 0", small_n, f"{rate:,.0f} ev/s",
                            "one round, for information", "", "",
                            {"rebuild_events_per_s": rate}))
            small_row = catch_up_row(catch_up_rounds(alliance, args.catch_ups, 5), small_n)
            del alliance
        remove_sqlite(small)
        big_row = next(r for r in rows if r.measure.startswith("catch-up"))
        ratio = big_row.data["median_ms"] / small_row.data["median_ms"]
        small_row.baseline += f"; {big_n // small_n}x longer log: {ratio:.2f}x the time"
        small_row.data["big_over_small"] = ratio
        rows.append(small_row)

        # 5. a restart: a new process opens the façade and catches up, first with no
        # snapshot in the log (it folds all, then stores one), then with that snapshot.
        if not args.no_restart:
            restart_log = copy_log(big_cached, workdir / "restart.db")
            say(f"[restart] Alliance.open + catch_up on {big_n:,} events, no snapshot")
            absent = bench_restart(restart_log)
            stored = stored_snapshot_bytes(restart_log)
            say("[restart] the same, with the snapshot it stored")
            present = bench_restart(restart_log) if stored is not None else None
            rows.append(Row(
                "restart, no snapshot: ready in", big_n, f"{absent['seconds']:.2f} s",
                f"a new process: Alliance.open + catch_up(), folding {absent['applied']:,} "
                "events" + (f", then storing a snapshot of {stored / 2**20:,.1f} MiB"
                            if stored is not None else " (this code stores no snapshot)"),
                "", "", absent))
            if present is not None:
                rows.append(Row(
                    "restart, snapshot present: ready in", big_n,
                    f"{present['seconds']:.2f} s",
                    f"started from the snapshot at {present['restored_from']:,}, folded "
                    f"{present['applied']:,} events; {absent['seconds'] / present['seconds']:.1f}x "
                    "faster than without", f"< {TARGET_RESTART_S:g} s",
                    "ok" if present["seconds"] < TARGET_RESTART_S
                    and present["restored_from"] == present["head"] else "MISS", present))
            remove_sqlite(restart_log)

        # 6. memory of a rebuild, in a subprocess.
        if not args.no_memory:
            say(f"[memory] rebuild of {big_n:,} events in a subprocess")
            memory = bench_memory(big_cached)
            retained = memory["retained_mib"]
            rows.append(Row(
                "rebuild peak RSS growth", big_n, f"{memory['peak_growth_mib']:,.0f} MiB",
                f"retained after it (the state) {retained:,.0f} MiB; "
                f"{memory['events'] / memory['seconds']:,.0f} ev/s in the subprocess"
                if retained is not None else memory["method"], f"< {TARGET_PEAK_MIB} MiB",
                "ok" if memory["peak_growth_mib"] < TARGET_PEAK_MIB else "MISS", memory))
        if args.profile:
            target = small_cached if big_n > 100_000 else big_cached
            say(f"[profile] rebuild of {target.name}")
            profile = profile_rebuild(target)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    elapsed = time.perf_counter() - started

    generation = (f"generated now in {big_generated:.0f} s" if big_generated is not None
                  else f"cached, generated once in {info['seconds']:.0f} s")
    environment["load_at_start"] = load_at_start
    environment["load_at_end"] = load_average()
    print(f"alliance-events projection benchmark ({'quick' if args.quick else 'full'}; "
          f"SQLite WAL synchronous=FULL; rebuild: best of {args.repeat} round(s))")
    print(" ".join(f"{k}={v}" for k, v in environment.items()))
    print(f"log: {big_n:,} events, {info['meetings']:,} meetings, {info['streams']:,} streams "
          f"({generation}); small log: its first {small_n:,} events"
          + (f" (generated now in {small_generated:.0f} s)" if small_generated else ""))
    print()
    print(table(rows))
    print(f"\ntook {elapsed:.0f} s")
    if profile:
        print("\n" + profile)
    if args.json:
        args.json.write_text(json.dumps(
            {"environment": environment, "quick": args.quick, "repeat": args.repeat,
             "log": info, "generated_seconds": big_generated,
             "rows": [{"measure": r.measure, "log_events": r.log_events, "figure": r.figure,
                       "detail": r.baseline, "target": r.target, "verdict": r.verdict,
                       **r.data} for r in rows]},
            indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
