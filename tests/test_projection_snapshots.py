"""Projection snapshots beside the log: stored, loaded, and never a state a rebuild would not give.

The stores (``alliance_events.log.snapshots``) on each backend; the state's codec
(``alliance_events.projections.snapshot``); the runner starting from a snapshot and
ignoring every one it cannot trust; a restart of the façade on a SQLite file.
"""

from __future__ import annotations

import logging
import sqlite3
import typing
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import msgspec
import pendulum
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alliance_events import Alliance, EventLog, open_log
from alliance_events.domain import meetings as mt
from alliance_events.domain.catalog import EVENT_CLASSES
from alliance_events.domain.common import NominationStatus
from alliance_events.events import Event
from alliance_events.log.base import ANY, SnapshotStore, StoredSnapshot, snapshot_store
from alliance_events.log.snapshots import SnapshotError
from alliance_events.projections.alliance import AllianceProjection, AllianceState
from alliance_events.projections.runner import ProjectionRunner, fold
from alliance_events.projections.snapshot import SnapshotFormatError
from alliance_events.testing import FixedClock, SequentialIds
from alliance_events.timing import timed

from . import strategies as gen

START = pendulum.datetime(2023, 3, 1, 9, tz="Europe/Vienna")


def _same(state: AllianceState, expected: AllianceState) -> None:
    """Equal, and equal to the last type and zone (``==`` alone forgives a zone)."""
    assert state == expected
    assert repr(state) == repr(expected)
    for key, meeting in expected.meetings.items():
        for nomination in meeting.nominations:  # an id nominated twice: the later one
            found = state.meetings[key].nomination(nomination.nomination_id)
            assert found == meeting.nomination(nomination.nomination_id)
            assert found is not None
    assert state.journal_mark == expected.journal_mark or state.journal == []


# -- the stores ---------------------------------------------------------------------------


@pytest.fixture
def store(log: EventLog) -> SnapshotStore:
    """The snapshot store of an empty log of each backend."""
    found = snapshot_store(log)
    assert found is not None
    return found


def _snapshot(position: int = 3, data: bytes = b"state", version: str = "1") -> StoredSnapshot:
    return StoredSnapshot("alliance", version, position, uuid.UUID(int=position), data)


class TestStores:
    """Each backend keeps one snapshot per name, whole, and refuses a damaged one."""

    def test_none_before_the_first_save(self, store: SnapshotStore) -> None:
        """A log that never stored a snapshot has none (no table needed)."""
        assert store.load("alliance") is None
        assert store.delete("alliance") is False

    def test_save_then_load_gives_it_back(self, store: SnapshotStore) -> None:
        """What was saved is loaded: name, version, position, record id and bytes."""
        saved = _snapshot(data=bytes(range(256)) * 100)
        store.save(saved)
        assert store.load("alliance") == saved

    def test_a_save_replaces_the_one_before(self, store: SnapshotStore) -> None:
        """One snapshot per name: the later save wins, another name is apart."""
        store.save(_snapshot(3))
        store.save(_snapshot(7, b"later"))
        store.save(StoredSnapshot("other", "9", 1, None, b"x"))
        assert store.load("alliance") == _snapshot(7, b"later")
        assert store.load("other") == StoredSnapshot("other", "9", 1, None, b"x")

    def test_delete(self, store: SnapshotStore) -> None:
        """A deleted snapshot is gone; deleting again says there was none."""
        store.save(_snapshot())
        assert store.delete("alliance") is True
        assert store.load("alliance") is None
        assert store.delete("alliance") is False

    def test_a_failed_save_leaves_the_one_before(self, store: SnapshotStore) -> None:
        """A save that fails replaces nothing: the previous snapshot loads whole."""
        store.save(_snapshot(3))
        with pytest.raises((SnapshotError, TypeError)):
            store.save(StoredSnapshot("alliance", "1", 5, None, object()))  # type: ignore[arg-type]
        assert store.load("alliance") == _snapshot(3)


def test_a_damaged_sqlite_snapshot_is_refused(tmp_path: Path) -> None:
    """Bytes changed in the table fail the checksum: loading raises, naming the snapshot."""
    path = tmp_path / "log.db"
    with open_log(f"sqlite:///{path}") as log:
        store = snapshot_store(log)
        assert store is not None
        store.save(_snapshot(data=b"a state of many bytes"))
    with sqlite3.connect(path) as db:
        db.execute("UPDATE projection_snapshots SET data = ? WHERE name = 'alliance'",
                   (b"a state of many bytez",))
    with open_log(f"sqlite:///{path}") as log:
        store = snapshot_store(log)
        assert store is not None
        with pytest.raises(SnapshotError, match=r"'alliance'.*checksum"):
            store.load("alliance")


def test_a_read_only_sqlite_log_loads_but_does_not_save(tmp_path: Path) -> None:
    """Opened read-only, the store reads the snapshot and refuses to write one."""
    path = tmp_path / "log.db"
    with open_log(f"sqlite:///{path}") as log:
        store = snapshot_store(log)
        assert store is not None
        store.save(_snapshot())
    with open_log(f"sqlite:///{path}?mode=ro") as log:
        store = snapshot_store(log)
        assert store is not None
        assert store.load("alliance") == _snapshot()
        with pytest.raises(SnapshotError, match="read-only"):
            store.save(_snapshot(4))


def test_a_read_only_log_catches_up_without_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Past ``persist_every`` records, a runner on a read-only log stores no snapshot and
    logs no warning (a feed server opens the log read-only: it warned at every start);
    on the same log opened for writing, it stores one."""
    path = tmp_path / "log.db"
    with Alliance.open(f"sqlite:///{path}") as alliance:
        for number in range(12):
            alliance.schedule_meeting(title=f"Meeting {number}", start="2030-01-10 10:00",
                                      end="11:00")
    for mode, stored in (("?mode=ro", False), ("", True)):
        with open_log(f"sqlite:///{path}{mode}") as log, caplog.at_level(logging.INFO):
            caplog.clear()
            runner = ProjectionRunner(log, AllianceProjection(), snapshots=snapshot_store(log),
                                      persist_every=5)
            assert runner.catch_up() > 5
            assert [r for r in caplog.records if r.levelno >= logging.WARNING] == []
            store = snapshot_store(log)
            assert store is not None
            assert (store.load("alliance") is not None) == stored


def test_an_in_memory_sqlite_log_keeps_no_snapshots() -> None:
    """Nothing outlives a SQLite database in memory: it offers no store."""
    with open_log("sqlite:///:memory:") as log:
        assert snapshot_store(log) is None


# -- random histories: a restart from a snapshot == a fold from zero -----------------------

_POOLS: dict[str, list[uuid.UUID]] = {
    name: [uuid.UUID(int=index * 1000 + number) for number in range(1, size + 1)]
    for index, (name, size) in enumerate(
        (("meeting_id", 2), ("nomination_id", 8), ("person_id", 4), ("organisation_id", 3),
         ("deadline_id", 2), ("parent_id", 2), ("request_id", 3), ("focal_point", 2)), start=1
    )
}
_NOMINATIONS = (mt.DelegateNominated, mt.NominationPromoted, mt.NominationWaitlisted,
                mt.NominationWithdrawn, mt.NominationDeclined, mt.NominationConfirmed,
                mt.AttendanceRecorded, mt.SpeakingRequested, mt.LinkAttached)


def _stream_for(event: Event) -> str:  # noqa: PLR0911 - one return per kind of stream
    """The stream the domain would record ``event`` in (its aggregate's)."""
    module = type(event).__module__
    if ".directory.organisations" in module:
        return f"organisation-{event.organisation_id}"  # type: ignore[attr-defined]
    if ".directory.persons" in module:
        return f"person-{event.person_id}"  # type: ignore[attr-defined]
    if ".directory.bodies" in module:
        return "body-alliance"
    if ".settings" in module:
        return "settings-feeds"
    if ".deadlines" in module and getattr(event, "meeting_id", None) is None:
        return f"deadline-{event.deadline_id}"  # type: ignore[attr-defined]
    if hasattr(event, "meeting_id") and event.meeting_id is not None:
        return f"meeting-{event.meeting_id}"
    return f"message-{uuid.UUID(int=99)}"


@st.composite
def library_events(draw: st.DrawFn) -> tuple[str, Event]:
    """A library event (often a nomination's) with its ids from small pools, and its stream."""
    classes = sorted(EVENT_CLASSES, key=lambda c: c.__qualname__)
    cls = draw(st.sampled_from(classes) | st.sampled_from(_NOMINATIONS))
    event = draw(gen.instances_of(cls))
    hints = typing.get_type_hints(cls)
    changes = {}
    for field in attrs.fields(cls):
        pool = _POOLS.get(field.name)
        if pool is not None and uuid.UUID in (hints[field.name], *typing.get_args(
            hints[field.name]
        )):
            changes[field.name] = draw(st.sampled_from(pool))
    event = attrs.evolve(event, **changes)
    return _stream_for(event), event


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[str, Event]]:
    """Each pooled meeting scheduled (in the domain's ranges) and its registration
    opened, then any library events: nominations and their changes most often."""
    start = pendulum.datetime(2024, 5, 6, 10, tz="Europe/Vienna")
    opening: list[tuple[str, Event]] = []
    for meeting_id in _POOLS["meeting_id"]:
        scheduled = attrs.evolve(
            draw(gen.instances_of(mt.MeetingScheduled)), meeting_id=meeting_id, parent_id=None,
            when=timed(start, start.add(hours=2)),
        )
        opened = attrs.evolve(
            draw(gen.instances_of(mt.RegistrationOpened)), meeting_id=meeting_id,
            opens_at=start.subtract(days=60), closes_at=start.subtract(days=5),
        )
        opening += [(f"meeting-{meeting_id}", scheduled), (f"meeting-{meeting_id}", opened)]
    return opening + draw(st.lists(library_events(), max_size=40))


def _append(log: EventLog, clock: FixedClock, history: list[tuple[str, Event]]) -> None:
    for stream, event in history:
        clock.advance(minutes=7)
        # Each event its own id (drawn ones may repeat: the log would refuse the second).
        unique = attrs.evolve(event, event_id=uuid.UUID(int=(1 << 64) + log.head() + 1))
        log.append(stream, [unique], expected_version=ANY)


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
          deadline=None)
@given(histories(), st.data())
def test_restart_from_a_snapshot_equals_a_fold_from_zero(
    history: list[tuple[str, Event]], data: st.DataObject
) -> None:
    """Any history, a snapshot at any position of it, more events after: the state a
    new runner reaches from that snapshot is the one a fold from position 0 gives."""
    clock = FixedClock(START)
    cut = data.draw(st.integers(0, len(history)), label="snapshot after")
    with open_log("memory:", clock=clock) as log:
        store = snapshot_store(log)
        assert store is not None
        _append(log, clock, history[:cut])
        first = ProjectionRunner(log, AllianceProjection(), snapshots=store, persist_every=1)
        first.catch_up()
        assert (store.load("alliance") is not None) == (cut > 0)
        _append(log, clock, history[cut:])
        restarted = ProjectionRunner(log, AllianceProjection(), snapshots=store)
        restarted.catch_up()
        assert restarted.restored_from == (cut or None)
        expected, _ = fold(log, AllianceProjection())
        _same(restarted.state, expected)
        # the snapshot's state, as it was at the cut, and "as of" from it
        assert restarted.as_of(position=cut) == fold(log, AllianceProjection(), position=cut)[0]


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
          deadline=None)
@given(histories(), st.data())
def test_a_fold_in_place_equals_one_copying_and_changes_nothing_read(
    history: list[tuple[str, Event]], data: st.DataObject
) -> None:
    """A runner's catch-ups (meeting states set in place while no one reads them:
    AllianceProjection.building) give the state that applying each record alone gives
    (evolve copying); a meeting state read after a catch-up, or kept in an "as of"
    copy, never changes in a later one."""
    clock = FixedClock(START)
    cut = data.draw(st.integers(0, len(history)), label="read after")
    every = data.draw(st.sampled_from([None, 1, 3]), label="snapshot_every")
    with open_log("memory:", clock=clock) as log:
        _append(log, clock, history[:cut])
        runner = ProjectionRunner(log, AllianceProjection(), snapshot_every=every,
                                  snapshots_kept=None)
        runner.catch_up()
        read = [(meeting, repr(meeting)) for meeting in runner.state.meetings.values()]
        kept = [(snapshot.state, repr(snapshot.state)) for snapshot in runner._snapshots]
        _append(log, clock, history[cut:])
        runner.catch_up()
        for value, text in [*read, *kept]:
            assert repr(value) == text
        projection = AllianceProjection()
        copied = projection.initial()
        for record in log.read_all():
            copied = projection.apply(copied, record)
        _same(runner.state, copied)
        assert runner.as_of(position=cut) == fold(log, AllianceProjection(), position=cut)[0]


@settings(max_examples=20, deadline=None)
@given(histories())
def test_the_codec_gives_back_the_state(history: list[tuple[str, Event]]) -> None:
    """Encoded and decoded, a state is the same, to each value's type and zone."""
    clock = FixedClock(START)
    with open_log("memory:", clock=clock) as log:
        _append(log, clock, history)
        state, _ = fold(log, AllianceProjection())
    projection = AllianceProjection()
    _same(projection.decode(projection.encode(state)), state)


# -- what the runner refuses to start from -----------------------------------------------


def _story(alliance: Alliance, clock: FixedClock) -> None:
    organisation = alliance.register_organisation(name="CGR")
    for index in range(3):
        clock.advance(hours=1)
        meeting = alliance.schedule_meeting(
            title=f"Meeting {index}", start=f"2023-04-1{index} 15:00", end="16:00"
        )
        alliance.open_registration(meeting, opens="2023-03-01", closes="2023-04-01",
                                   capacity=1)
        for person_index in range(2):
            person = alliance.register_person(name=f"Delegate {index}.{person_index}",
                                              organisation=organisation)
            alliance.nominate(meeting, organisation=organisation, person=person,
                              role="participant")


@pytest.fixture
def recorded(tmp_path: Path) -> tuple[str, FixedClock]:
    """A SQLite log with a short story in it, and the clock it was recorded with."""
    clock = FixedClock(START)
    url = f"sqlite:///{tmp_path / 'log.db'}"
    with Alliance.open(url, clock=clock, ids=SequentialIds()) as alliance:
        _story(alliance, clock)
    return url, clock


def _runner(log: EventLog) -> ProjectionRunner[AllianceState]:
    return ProjectionRunner(log, AllianceProjection(), snapshots=snapshot_store(log))


class TestRunner:
    """The runner starts from a snapshot only when it gives what a fold gives."""

    def test_a_restart_starts_from_the_stored_snapshot(self, recorded: tuple[str, Any]) -> None:
        """Stored at the head, then a new façade: its state starts there, equal to a fold."""
        url, clock = recorded
        with open_log(url) as log:
            first = _runner(log)
            first.catch_up()
            assert first.restored_from is None
            assert first.persist()
            head = log.head()
        with Alliance.open(url, clock=clock) as alliance:
            assert alliance.catch_up() == 0
            assert alliance._runner.restored_from == head
            expected, _ = fold(alliance.log, AllianceProjection())
            _same(alliance.state, expected)
            # and it decides on that state as on a folded one
            meeting = next(iter(alliance.state.meetings))
            assert [n.status for n in alliance.state.meetings[meeting].nominations] == [
                NominationStatus.NOMINATED, NominationStatus.WAITLISTED
            ]

    def test_stored_after_persist_every_records(self, log: EventLog, clock: FixedClock) -> None:
        """A catch-up stores a snapshot once it is persist_every records past the last."""
        alliance = Alliance(log, clock=clock, ids=SequentialIds())
        _story(alliance, clock)
        store = snapshot_store(log)
        assert store is not None
        runner = ProjectionRunner(log, AllianceProjection(), snapshots=store,
                                  persist_every=log.head() + 1)
        runner.catch_up()
        assert store.load("alliance") is None
        runner.persist_every = log.head()
        runner.catch_up()  # nothing new: the rule looks at the checkpoint, not the count
        stored = store.load("alliance")
        assert stored is not None
        assert stored.position == log.head() == runner.checkpoint

    @pytest.mark.parametrize("spoil", ["version", "position", "record", "bytes", "format"])
    def test_an_untrustworthy_snapshot_is_ignored_and_said(
        self, recorded: tuple[str, Any], spoil: str, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Another version, a position the log lacks, another record there, damaged or
        foreign bytes: the state is folded from position 0 and the log says why."""
        url, _ = recorded
        with open_log(url) as log:
            runner = _runner(log)
            runner.catch_up()
            runner.persist()
            store = snapshot_store(log)
            assert store is not None
            good = store.load("alliance")
            assert good is not None
            spoiled = {
                "version": good._replace(version="0.old"),
                "position": good._replace(position=good.position + 5),
                "record": good._replace(event_id=uuid.UUID(int=7)),
                "bytes": good._replace(data=good.data[:-9]),
                "format": good._replace(data=msgspec.msgpack.encode([{}, b"not a state"])),
            }[spoil]
            store.save(spoiled)
            with caplog.at_level(logging.INFO, logger="alliance_events.projections"):
                again = _runner(log)
                again.catch_up()
            assert again.restored_from is None
            assert "snapshot is ignored" in caplog.text
            _same(again.state, fold(log, AllianceProjection())[0])

    def test_a_snapshot_of_another_state_shape_is_another_version(self) -> None:
        """The version names the state classes' fields: a changed class, a new version."""
        projection = AllianceProjection()
        layout = msgspec.msgpack.decode(projection.encode(AllianceState()))
        layout[1] = "0" * 16  # the fingerprint of other state classes
        with pytest.raises(SnapshotFormatError, match=r"a snapshot of format \d+ / 0{16}"):
            projection.decode(msgspec.msgpack.encode(layout))

    def test_a_store_that_fails_never_fails_the_catch_up(
        self, log: EventLog, clock: FixedClock, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A store that cannot load or save: the runner folds the log and says so."""

        class Broken:
            def load(self, name: str) -> StoredSnapshot | None:
                raise SnapshotError("the disk is gone")

            def save(self, snapshot: StoredSnapshot) -> None:
                raise SnapshotError("the disk is gone")

            def delete(self, name: str) -> bool:
                return False

        alliance = Alliance(log, clock=clock, ids=SequentialIds())
        _story(alliance, clock)
        runner = ProjectionRunner(log, AllianceProjection(), snapshots=Broken(), persist_every=1)
        with caplog.at_level(logging.WARNING, logger="alliance_events.projections"):
            assert runner.catch_up() == log.head()
        assert "the disk is gone" in caplog.text
        assert "could not be stored" in caplog.text
        _same(runner.state, fold(log, AllianceProjection())[0])


@pytest.fixture
def clock() -> FixedClock:
    """A clock at 1 March 2023, 09:00 Vienna."""
    return FixedClock(START)


@pytest.fixture
def log(clock: FixedClock) -> Iterator[EventLog]:
    """An empty memory log stamped by ``clock``."""
    with open_log("memory:", clock=clock) as opened:
        yield opened


@pytest.fixture(params=["sqlite", "postgres"])
def stored_log(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[EventLog]:
    """An empty log on disk (SQLite) or in a fresh PostgreSQL schema."""
    url = (f"sqlite:///{tmp_path / 'log.db'}" if request.param == "sqlite"
           else str(request.getfixturevalue("fresh_postgres_url")))
    with open_log(url) as opened:
        yield opened


class TestDurableStores(TestStores):
    """The same, on SQLite and PostgreSQL."""

    @pytest.fixture
    def store(self, stored_log: EventLog) -> SnapshotStore:
        """The snapshot store of the log on disk."""
        found = snapshot_store(stored_log)
        assert found is not None
        return found



# -- what a load shares and what it leaves to build ------------------------------------------


def _two_meetings_attended(alliance: Alliance, clock: FixedClock) -> list[uuid.UUID]:
    organisation = alliance.register_organisation(name="CGR")
    person = alliance.register_person(name="Delegate", organisation=organisation)
    meetings = []
    for index in range(2):
        clock.advance(hours=1)
        meeting = alliance.schedule_meeting(title=f"Meeting {index}",
                                            start=f"2023-02-1{index} 15:00", end="16:00")
        alliance.record_attendance(meeting, attendees=[person])
        meetings.append(meeting)
    return meetings


def test_equal_attendees_are_one_object_after_a_fold_and_after_a_load() -> None:
    """The same person attending two meetings for the same organisation: one Attendee."""
    clock = FixedClock(START)
    with Alliance.open("memory:", clock=clock, ids=SequentialIds()) as alliance:
        first, second = _two_meetings_attended(alliance, clock)
        state = alliance.state
    projection = AllianceProjection()
    for each in (state, projection.decode(projection.encode(state))):
        [one], [other] = each.meetings[first].attendance, each.meetings[second].attendance
        assert one is other


def test_a_loaded_meeting_builds_its_nomination_index_when_first_needed() -> None:
    """Loaded, a meeting's index is empty and its nominations are found all the same;
    the first change of one builds it (and every state after finds its own)."""
    clock = FixedClock(START)
    with Alliance.open("memory:", clock=clock, ids=SequentialIds()) as alliance:
        _story(alliance, clock)
        state = alliance.state
    projection = AllianceProjection()
    loaded = projection.decode(projection.encode(state))
    for key, meeting in loaded.meetings.items():
        assert not meeting.nomination_index
        for nomination in state.meetings[key].nominations:
            assert meeting.nomination(nomination.nomination_id) == nomination
        assert meeting.nomination(uuid.UUID(int=0)) is None
        if meeting.nominations:
            first = meeting.nominations[0].nomination_id
            changed = mt.evolve(meeting, mt.NominationWithdrawn(
                event_id=uuid.UUID(int=1), meeting_id=key, nomination_id=first, reason=""))
            assert changed is not None
            assert len(changed.nomination_index) == len(changed.nominations)
            found = changed.nomination(first)
            assert found is not None
            assert found.status is NominationStatus.WITHDRAWN
