"""The feeds: one iCalendar document per audience, rendered incrementally.

Writing a VEVENT costs about 25 µs with the project's writer (``_write``; 0.45 ms through
``icalendar``), so the renderer keeps each item's serialised bytes, keyed by what they
depend on (the item's plan key), and a new event re-renders only the items it touched.
The document is then the calendar's header, the VTIMEZONEs (each built once per zone)
and the VEVENTs, joined: byte for byte what ``icalendar`` writes for the whole calendar
built at once (:meth:`FeedRenderer.calendar`, which the tests compare it with).

Planning every item (about 16 µs each) would still cost a render in proportion to the
feed's size, so each audience's feed is kept as a view of the state it last rendered:
its items' plans, their VEVENTs in feed order, and an index from every id an item hangs
on (:func:`meeting_dependencies`, :func:`deadline_dependencies`) to the items hanging on
it. When the same state object has moved on, the ids its journal says were touched
since (:meth:`AllianceState.touched_since`) and the items hanging on them are planned
again, and nothing else; when the day changes, so are the cancelled items whose grace
period ends in between. Any other state (another object: an "as of" fold, a copy) is
planned in full, as is the first render.

The first render (a server's start) plans, builds and writes every item: about 37 µs of
CPU an item in a new process (0.55-0.58 s for the 15,300 items of the 10,000-meeting
benchmark feed, 2.9 s for 76,600; wall time on a loaded 2-core machine is 1-2.5x that),
where a profile finds no single cost above a fifth: writing the VEVENTs (~20%), building
their content (~18%), planning (~14%), the items' bookkeeping (~13%), the UIDs' SHA-1s
(~5%); the VTIMEZONEs, from zoneinfo's transition data, take ~12 ms once per process.
Each meeting's chain is walked once for its item and its deadlines,
the view keeps no entry for an item's own id, and the same few tuples of zone uses serve
every item, so that the collector has fewer objects to go through when the render ends.
"""

from __future__ import annotations

import datetime as _dt
import operator
import threading
import uuid
import weakref
from bisect import bisect_left, bisect_right, insort
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import Final, NamedTuple

import pendulum
from icalendar import Calendar, Timezone, vDuration

from alliance_events._speed import without_cyclic_gc
from alliance_events.domain.deadlines import Deadline
from alliance_events.domain.meetings import MeetingState
from alliance_events.ical._audience import Audience
from alliance_events.ical._items import (
    EPOCH,
    Chain,
    Plan,
    deadline_dependencies,
    deadline_item,
    meeting_chain,
    meeting_dependencies,
    meeting_item,
    plan_deadline,
    plan_meeting,
)
from alliance_events.ical._pieces import Blocks, Piece, Pieces, combine_shifted
from alliance_events.ical._text import one_line
from alliance_events.ical._vtimezone import vtimezone, vtimezone_ical
from alliance_events.ical._write import _TZIDS, Text, VEventData, to_vevent, tzid_of, write_vevent
from alliance_events.projections.alliance import AllianceState

__all__ = ["DEFAULT_NAME", "PRODID", "Feed", "FeedRenderer"]

PRODID: Final = "-//alliance-events//Alliance calendar//EN"
DEFAULT_NAME: Final = "Alliance of NGOs on Crime Prevention and Criminal Justice"
_END: Final = b"END:VCALENDAR\r\n"
_END_PIECE: Final = Piece(_END)
_HEADS_KEPT: Final = 64  # feeds' heads (header and VTIMEZONEs) kept; then forgotten
_DAY: Final = _dt.timedelta(days=1)


_Order = tuple[int, int, int, str]
_UNIX_DAY: Final = _dt.date(1970, 1, 1).toordinal()
_UNIX: Final = _dt.datetime(1970, 1, 1, tzinfo=_dt.UTC)
_MICROSECOND: Final = _dt.timedelta(microseconds=1)
_MICROSECONDS_A_DAY: Final = 86_400_000_000


class Feed:
    """One rendered feed.

    Attributes:
        last_modified: the latest change of any item shown, or the moment an item left
            the feed (cancelled, past its grace period), whichever is later: it only
            moves forward as the log grows and the days pass.
        item_count: how many VEVENTs the feed holds.
        pieces: the bytes in pieces, with the validators and the gzip body derived from
            them (a change rebuilds only the pieces it touched; see ``_pieces``).

    Built from ``body`` (any bytes: a test's scripted feed), or by the renderer from
    its pieces. :attr:`body` joins the pieces on first use: a server sends the pieces.

    """

    __slots__ = ("_body", "item_count", "last_modified", "pieces")

    def __init__(
        self,
        body: bytes | None = None,
        *,
        last_modified: pendulum.DateTime,
        item_count: int,
        pieces: Pieces | None = None,
    ) -> None:
        if pieces is None:
            if body is None:
                raise TypeError("Feed needs its body or its pieces")
            pieces = Pieces.of(body)
        self.pieces = pieces
        self._body = body
        self.last_modified = last_modified
        self.item_count = item_count

    @property
    def body(self) -> bytes:
        """The exact iCalendar bytes (CRLF line ends, folded at 75 octets)."""
        body = self._body
        if body is None:
            body = self._body = self.pieces.body()
        return body

    @property
    def etag(self) -> bytes:
        """The strong validator of the bytes (a SHA-256 over the pieces' SHA-256s)."""
        return self.pieces.etag

    def __eq__(self, other: object) -> bool:
        """Compare the bytes (by their ETags), the times and the counts."""
        if not isinstance(other, Feed):
            return NotImplemented
        return (self.pieces.etag, self.last_modified, self.item_count) == (
            other.pieces.etag, other.last_modified, other.item_count)

    def __hash__(self) -> int:
        return hash((self.pieces.etag, self.last_modified, self.item_count))

    def __repr__(self) -> str:
        return (f"Feed(items={self.item_count}, bytes={self.pieces.length}, "
                f"last_modified={self.last_modified.isoformat()})")


class _Entry(NamedTuple):
    """An item's serialised VEVENT and what a feed needs to place it."""

    key: tuple[object, ...]
    body: bytes
    order: _Order
    zones: tuple[tuple[str, int], ...]  # (TZID, year) of each zoned DTSTART/DTEND


_BY_ORDER: Final = operator.itemgetter(2)  # an _Entry's order
_WEIGHT: Final = operator.itemgetter(4)  # an _Item's weight


class _Planned(NamedTuple):
    """An item planned for an audience, with what it is built from and what it hangs on."""

    plan: Plan
    source: MeetingState | Deadline  # what :meth:`FeedRenderer._build` builds it from
    chain: Chain | None  # the meeting's chain (a deadline's meeting's), if walked
    depends: tuple[uuid.UUID, ...]
    holder: uuid.UUID | None  # the meeting whose deadline it is (None: not one)


class _Item(NamedTuple):
    """An item of a feed, as last planned (a named tuple: one per item of a full render)."""

    plan: Plan
    depends: tuple[uuid.UUID, ...]
    holder: uuid.UUID | None
    entry: _Entry | None  # None: past its grace period, not shown
    weight: pendulum.DateTime  # what it adds to the feed's last_modified
    # The days on which it changes with the calendar alone: a cancelled item's first day
    # past its grace period, the day a moved meeting's note ends.
    turns: tuple[_dt.date, ...]


class _View:
    """An audience's feed as last rendered, and the indexes that bring it up to date.

    ``blocks`` holds the shown items' VEVENT bytes in feed order (by their sort keys),
    grouped into the blocks the feed's pieces are made of; ``zones`` counts the shown
    (TZID, year) uses; ``turning`` and ``turn_days`` find the items by the days they
    change on with no event (:attr:`_Item.turns`).
    """

    def __init__(
        self, state: AllianceState, today: _dt.date, mark: int, items: dict[uuid.UUID, _Item]
    ) -> None:
        self.state = weakref.ref(state)
        self.position = state.position
        self.mark = mark
        self.today = today
        self.items = items
        # by the dependency's int (an int's hash is C code, a UUID's a Python call)
        self.dependants: dict[int, set[uuid.UUID]] = {}
        self.zones: Counter[tuple[str, int]] = Counter()
        # The feed's head (header and VTIMEZONEs) as last put together, and whether a
        # (TZID, year) came or went since (only then are the VTIMEZONEs looked at again).
        self.head: tuple[bytes, Piece] | None = None
        self.zones_changed = True
        self.turning: dict[_dt.date, set[uuid.UUID]] = {}
        shown = []
        zones: list[tuple[str, int]] = []
        dependants = self.dependants
        for item_id, item in items.items():  # _index, inlined (once per item of the feed)
            depends = item.depends
            if len(depends) != 1 or depends[0] is not item_id:  # most: its own id alone
                own = item_id.int
                for dependency in depends:
                    number = dependency.int
                    if number == own:  # a touch of its own id re-plans it anyway
                        continue  # (compared as ints: a UUID's == is Python code)
                    found = dependants.get(number)
                    if found is None:
                        dependants[number] = {item_id}
                    else:
                        found.add(item_id)
            if item.turns:
                for day in item.turns:
                    self.turning.setdefault(day, set()).add(item_id)
            entry = item.entry
            if entry is not None:
                shown.append(entry)
                if entry.zones:
                    zones.extend(entry.zones)
        self.zones.update(zones)
        shown.sort(key=_BY_ORDER)
        self.blocks = Blocks.of((entry.order, entry.order[3], entry.body) for entry in shown)
        self.turn_days = sorted(self.turning)
        self.last_modified = _heaviest(map(_WEIGHT, items.values()))

    def follows(self, state: AllianceState) -> list[uuid.UUID] | None:
        """Return the ids touched since the last render, if ``state`` is the one rendered."""
        if self.state() is not state or state.position < self.position:
            return None
        return state.touched_since(self.mark)

    def _index(self, item_id: uuid.UUID, item: _Item) -> None:
        for dependency in item.depends:
            if dependency.int == item_id.int:  # a touch of its own id re-plans it anyway
                continue
            found = self.dependants.get(dependency.int)
            if found is None:
                self.dependants[dependency.int] = {item_id}
            else:
                found.add(item_id)
        for day in item.turns:
            turning = self.turning.get(day)
            if turning is None:
                self.turning[day] = {item_id}
            else:
                turning.add(item_id)

    def put(self, item_id: uuid.UUID, item: _Item | None) -> _Item | None:
        """Put ``item`` in the place of the item of this id (None: take that one out).

        Return the item it replaces (None: there was none). A VEVENT that keeps its
        place in the feed (its sort key: most changes) is replaced inside its block, so
        that no block comes or goes (which would build the CRC tree again).
        """
        known = self._take(item_id)
        old = None if known is None else known.entry
        new = None if item is None else item.entry
        if old is not None and new is not None and old.order == new.order:
            if old.body is not new.body:
                self.blocks.replace(new.order, new.body)
        else:
            if old is not None:
                self.blocks.remove(old.order)
            if new is not None:
                self.blocks.add(new.order, new.order[3], new.body)
        if item is not None:
            self._add(item_id, item)
        return known

    def _add(self, item_id: uuid.UUID, item: _Item) -> None:
        """Index an item (not in the view) and count its zones; its VEVENT is placed apart."""
        for day in item.turns:
            if day not in self.turning:
                insort(self.turn_days, day)
        self._index(item_id, item)
        self.items[item_id] = item
        entry = item.entry
        if entry is not None and entry.zones:
            zones = self.zones
            if not self.zones_changed:
                self.zones_changed = any(zone not in zones for zone in entry.zones)
            zones.update(entry.zones)

    def _take(self, item_id: uuid.UUID) -> _Item | None:
        """Take an item out of the indexes and the zones' counts; its VEVENT is taken apart."""
        item = self.items.pop(item_id, None)
        if item is None:
            return None
        for dependency in item.depends:
            found = self.dependants.get(dependency.int)
            if found is not None:
                found.discard(item_id)
                if not found:
                    del self.dependants[dependency.int]
        entry = item.entry
        if entry is not None:
            for zone in entry.zones:
                self.zones[zone] -= 1
                if self.zones[zone] <= 0:
                    del self.zones[zone]
                    self.zones_changed = True
        for day in item.turns:
            turning = self.turning[day]
            turning.discard(item_id)
            if not turning:
                del self.turning[day]
                del self.turn_days[bisect_left(self.turn_days, day)]
        return item

    def turning_between(self, before: _dt.date, after: _dt.date) -> set[uuid.UUID]:
        """Return the items that change on a day after one of the two days, up to the other."""
        first, last = min(before, after), max(before, after)
        found: set[uuid.UUID] = set()
        days = self.turn_days
        for at in range(bisect_right(days, first), bisect_right(days, last)):
            found |= self.turning[days[at]]
        return found


def _order(data: VEventData) -> _Order:
    """Sort by first day (in UTC), all-day items first, then by start, then by UID."""
    start = data.start
    if isinstance(start, _dt.datetime):
        micros = _dt.datetime.__sub__(start, _UNIX) // _MICROSECOND  # not pendulum's
        return (_UNIX_DAY + micros // _MICROSECONDS_A_DAY, 1, micros, data.uid)
    return (start.toordinal(), 0, 0, data.uid)


def _zones(data: VEventData) -> tuple[tuple[str, int], ...]:
    """Return the (TZID, year) of DTSTART and DTEND where they are written with a TZID.

    The same tuple for the same uses (a feed keeps one per item: a few hundred distinct
    ones instead of three objects an item for the garbage collector to go through).
    """
    start, end = data.start, data.end
    if not isinstance(start, _dt.datetime):  # all-day items (about half): no TZID
        return ()
    found = []
    for moment in (start, end):
        if isinstance(moment, _dt.datetime):
            zone = moment.tzinfo
            tzid = (_TZIDS.get(getattr(zone, "key", zone)) or (tzid_of(moment),))[0]
            if tzid != "UTC":
                found.append((tzid, moment.year))
    if not found:
        return ()
    zones = tuple(found)
    known = _ZONE_USES.get(zones)
    if known is None:
        if len(_ZONE_USES) >= _ZONE_USES_KEPT:
            _ZONE_USES.clear()
        known = _ZONE_USES[zones] = zones
    return known


_ZONE_USES: dict[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]] = {}
_ZONE_USES_KEPT: Final = 10_000


class FeedRenderer:
    """Render :class:`~alliance_events.projections.alliance.AllianceState` as feeds.

    Args:
        name: the calendar's name (each audience's feed adds its own qualifier).
        refresh: the refresh hint (REFRESH-INTERVAL and X-PUBLISHED-TTL); a suggested
            minimum that clients mostly ignore, never a promise.
        alarms: write the deadlines' reminders as VALARMs (opt-in: most clients drop
            alarms from subscriptions: no reminder to rely on).
        grace: how long a cancelled item stays in the feed after its last day (whole
            days), so that subscribers see the cancellation before it goes.
        notice: how long a moved meeting's VEVENT says where it was before (whole days
            after the move was recorded; never past the meeting's last day).

    The renderer is deterministic (same state, audience and day of ``now``: the same
    bytes) and keeps a cache per audience of the items it serialised, and one of the
    items that are the same in every feed; it may be shared by threads (one lock around
    each render). Its caches are keyed by positions in the log: use one renderer per log.

    """

    def __init__(
        self,
        *,
        name: str = DEFAULT_NAME,
        refresh: _dt.timedelta = _dt.timedelta(hours=2),
        alarms: bool = False,
        grace: _dt.timedelta = _dt.timedelta(days=30),
        notice: _dt.timedelta = _dt.timedelta(days=30),
    ) -> None:
        self.name = one_line(name)
        self.refresh = refresh
        self.alarms = alarms
        self.grace = _dt.timedelta(days=grace.days)
        self.notice = _dt.timedelta(days=notice.days)
        self._views: dict[str, _View] = {}
        self._headers: dict[tuple[str, str], bytes] = {}
        self._zones: dict[tuple[str, int, int], bytes] = {}
        # neutral items' VEVENTs, any audience, by their ids' ints
        self._shared: dict[int, _Entry] = {}
        self._heads: dict[bytes, Piece] = {}  # header + VTIMEZONEs, per feed as rendered
        self._lock = threading.Lock()

    # -- public -----------------------------------------------------------------------

    def render(
        self, state: AllianceState, audience: Audience, *, now: _dt.datetime
    ) -> Feed:
        """Render ``audience``'s feed of ``state``, as it stands on ``now``'s date (UTC).

        ``now`` only decides which cancelled items are past their grace period.
        """
        with self._lock, without_cyclic_gc():
            today = _today(now)
            view = self._views.get(audience.key)
            changed = None if view is None else view.follows(state)
            if view is None or changed is None:
                view = self._views[audience.key] = self._rebuild(view, state, audience, today)
            else:
                self._advance(view, state, audience, today, changed)
            return Feed(
                pieces=self._pieces(view, self._header(state, audience), view.zones),
                last_modified=view.last_modified,
                item_count=len(view.blocks),
            )

    def calendar(
        self, state: AllianceState, audience: Audience, *, now: _dt.datetime
    ) -> Calendar:
        """Build ``audience``'s whole calendar at once, uncached, as one icalendar object.

        :meth:`render` writes exactly ``calendar(...).to_ical()``, faster.
        """
        today = _today(now)
        items = [
            build(plan)
            for plan, build in self._plans(state, audience, today)
            if not self._gone(plan, today)
        ]
        items.sort(key=_order)
        cal = self._calendar(state, audience)
        ranges = _ranges(tuple(z for data in items for z in _zones(data)))
        for tzid, (first, last) in sorted(ranges.items()):
            cal.add_component(_timezone(tzid, first, last))
        for data in items:
            cal.add_component(to_vevent(data))
        return cal

    # -- the items --------------------------------------------------------------------

    def _plans(
        self, state: AllianceState, audience: Audience, today: _dt.date
    ) -> Iterator[tuple[Plan, _Builder]]:
        for meeting in state.meetings.values():
            if meeting.exists:
                yield (
                    plan_meeting(state, meeting, audience, today=today, notice=self.notice),
                    _MeetingBuilder(state, meeting, audience),
                )
        for deadline in state.all_deadlines():
            planned = plan_deadline(state, deadline, audience)
            if planned is not None:
                yield planned, _DeadlineBuilder(state, deadline, audience, alarms=self.alarms)

    def _planned(
        self, state: AllianceState, audience: Audience, today: _dt.date
    ) -> Iterator[tuple[uuid.UUID, _Planned]]:
        """Every item of the feed, planned (in :meth:`_plans`' order).

        Each meeting's chain is walked once, for its plan, VEVENT and dependencies and
        for those of its deadlines.
        """
        chains: list[Chain | None] = []
        for meeting_id, meeting in state.meetings.items():
            chain = None
            if meeting.exists:
                chain = meeting_chain(state, meeting)
                yield meeting_id, self._plan_meeting(state, meeting, audience, today, chain)
            chains.append(chain)
        for (meeting_id, meeting), chain in zip(state.meetings.items(), chains, strict=True):
            for deadline in meeting.deadlines:
                known = deadline.meeting_id
                planned = self._plan_deadline(
                    state, deadline, audience, meeting_id,
                    # its meeting's chain (a deadline of another meeting would walk its own)
                    chain if known is meeting_id or known == meeting_id else None,
                )
                if planned is not None:
                    yield deadline.deadline_id, planned
        for deadline in state.deadlines.values():
            planned = self._plan_deadline(state, deadline, audience, None)
            if planned is not None:
                yield deadline.deadline_id, planned

    def _replanned(
        self,
        state: AllianceState,
        audience: Audience,
        ids: set[uuid.UUID],
        view: _View,
        today: _dt.date,
    ) -> dict[uuid.UUID, _Planned | None]:
        """Plan the items among ``ids`` again (None: not, or no longer, in the feed)."""
        planned: dict[uuid.UUID, _Planned | None] = dict.fromkeys(ids)
        holders = set()
        for item_id in ids:
            meeting = state.meetings.get(item_id)
            if meeting is not None:
                holders.add(item_id)
                if meeting.exists:
                    planned[item_id] = self._plan_meeting(state, meeting, audience, today)
            known = view.items.get(item_id)
            if known is not None and known.holder is not None:
                holders.add(known.holder)
        for holder in holders:
            meeting = state.meetings.get(holder)
            for deadline in () if meeting is None else meeting.deadlines:
                if deadline.deadline_id in planned:
                    planned[deadline.deadline_id] = self._plan_deadline(
                        state, deadline, audience, holder
                    )
        for item_id in ids:
            alone = state.deadlines.get(item_id)
            if alone is not None:
                planned[item_id] = self._plan_deadline(state, alone, audience, None)
        return planned

    def _plan_meeting(
        self,
        state: AllianceState,
        meeting: MeetingState,
        audience: Audience,
        today: _dt.date,
        chain: Chain | None = None,
    ) -> _Planned:
        if chain is None:
            chain = meeting_chain(state, meeting)
        return _Planned(
            plan_meeting(state, meeting, audience, today=today, notice=self.notice, chain=chain),
            meeting,
            chain,
            meeting_dependencies(state, meeting, audience, chain),
            None,
        )

    def _plan_deadline(
        self,
        state: AllianceState,
        deadline: Deadline,
        audience: Audience,
        holder: uuid.UUID | None,
        chain: Chain | None = None,
    ) -> _Planned | None:
        plan = plan_deadline(state, deadline, audience, chain)
        if plan is None:
            return None
        return _Planned(
            plan, deadline, chain, deadline_dependencies(state, deadline, audience, chain), holder
        )

    def _item(
        self,
        state: AllianceState,
        audience: Audience,
        planned: _Planned,
        today: _dt.date,
        known: _Item | None,
    ) -> _Item:
        """Return the item as shown on ``today``, serialised again only if its key changed."""
        plan = planned.plan
        turns: tuple[_dt.date, ...] = ()
        if plan.cancelled:
            turns = (plan.last_day + self.grace + _DAY,)
        if plan.note_ends is not None:
            turns = (*turns, plan.note_ends)
        if plan.cancelled and self._gone(plan, today):  # most are not: no call
            self._shared.pop(plan.item_id.int, None)  # written again if a feed shows it again
            return _Item(plan, planned.depends, planned.holder, None,
                         max(plan.stamp, self._gone_at(plan)), turns)
        entry = None if known is None else known.entry
        if entry is None or entry.key != plan.key:
            entry = self._entry(state, audience, planned)
        return _Item(plan, planned.depends, planned.holder, entry, plan.stamp, turns)

    def _rebuild(
        self, view: _View | None, state: AllianceState, audience: Audience, today: _dt.date
    ) -> _View:
        """Plan every item (the VEVENTs of the last render are kept if their key holds)."""
        mark = state.journal_mark  # before planning: a touch during it is seen again
        known = {} if view is None else view.items
        items = {
            item_id: self._item(state, audience, planned, today,
                                known.get(item_id) if known else None)
            for item_id, planned in self._planned(state, audience, today)
        }
        return _View(state, today, mark, items)

    def _advance(
        self,
        view: _View,
        state: AllianceState,
        audience: Audience,
        today: _dt.date,
        changed: list[uuid.UUID],
    ) -> None:
        """Bring ``view`` up to date: plan again what ``changed`` (ids) and the day touch."""
        ids = set(changed)
        for item_id in list(ids):
            dependants = view.dependants.get(item_id.int)
            if dependants:
                ids |= dependants
        if today != view.today:
            ids |= view.turning_between(view.today, today)
        before = view.last_modified
        lost = False  # an item weighing `before` went or got lighter
        best = EPOCH  # the heaviest item put in
        for item_id, planned in self._replanned(state, audience, ids, view, today).items():
            known = view.items.get(item_id)
            if known is not None and known.weight >= before:
                lost = True
            item = None
            if planned is not None:
                item = self._item(state, audience, planned, today, known)
                best = max(best, item.weight)
            view.put(item_id, item)
        if lost and best < before:
            view.last_modified = _heaviest(item.weight for item in view.items.values())
        else:
            view.last_modified = max(before, best)
        view.position = state.position
        view.mark += len(changed)
        view.today = today

    def _gone(self, plan: Plan, today: _dt.date) -> bool:
        return plan.cancelled and today > plan.last_day + self.grace

    def _gone_at(self, plan: Plan) -> pendulum.DateTime:
        day = plan.last_day + self.grace + _dt.timedelta(days=1)
        return pendulum.datetime(day.year, day.month, day.day, tz="UTC")

    def _build(self, state: AllianceState, audience: Audience, planned: _Planned) -> VEventData:
        """Build the planned item's VEVENT content (a meeting's or a deadline's)."""
        source = planned.source
        if isinstance(source, MeetingState):
            return meeting_item(state, source, audience, planned.plan, planned.chain)
        return deadline_item(state, source, audience, planned.plan, alarms=self.alarms,
                             chain=planned.chain)

    def _entry(self, state: AllianceState, audience: Audience, planned: _Planned) -> _Entry:
        """Return the item's VEVENT, written anew unless another audience's is the same.

        A *neutral* item (nothing of one audience in it: no delegation, no organisation's
        deadline) is the same VEVENT in every feed, kept once per renderer under the
        positions of what it shows: the first feed writes it, the others take its bytes.
        """
        plan = planned.plan
        if not plan.neutral:
            return self._serialise(self._build(state, audience, planned), plan.key)
        key = plan.key
        kept = self._shared
        number = plan.item_id.int  # an int's hash is C code, a UUID's Python
        # kept with the key of the feed that wrote it (none yet: no look-up)
        shared = kept.get(number) if kept else None
        # what it shows (the positions of what it shows and of its note) is the same?
        if shared is None or shared.key[0] != key[0] or shared.key[2] != key[2]:
            entry = self._serialise(self._build(state, audience, planned), key)
            kept[number] = entry  # the same object: no copy per item
            return entry
        return shared if shared.key == key else _Entry(key, shared.body, shared.order,
                                                       shared.zones)

    def _serialise(self, data: VEventData, key: tuple[object, ...]) -> _Entry:
        """Serialise one VEVENT (the costly step: the tests count its calls)."""
        return _Entry(key, write_vevent(data), _order(data), _zones(data))

    # -- the wrapper ------------------------------------------------------------------

    def _names(self, state: AllianceState, audience: Audience) -> tuple[str, str]:
        if audience.organisation_id is not None:
            label = one_line(state.organisation_name(audience.organisation_id))
            return (
                f"{self.name} ({label})",
                f"Meetings and deadlines of the {self.name} with the delegation and "
                f"deadlines of {label}.",
            )
        if audience.kind == "secretariat":
            return (
                f"{self.name} (secretariat)",
                f"Meetings and deadlines of the {self.name} with every delegation "
                "and deadline.",
            )
        return self.name, f"Meetings and public deadlines of the {self.name}."

    def _calendar(self, state: AllianceState, audience: Audience) -> Calendar:
        name, description = (one_line(text) for text in self._names(state, audience))
        cal = Calendar.new(prodid=PRODID)
        # No calendar-level UID (calendar rule 4): vdirsyncer, and khal on top of it,
        # take the first UID line of each item they split out, and would keep one event.
        cal.pop("UID")
        # Typed values, so that they are escaped (Calendar.new writes its NAME and X-WR-*
        # unescaped, calendar rule 15); RFC 7986 wants VALUE=DURATION spelt out. Our
        # own texts avoid , ; and \ : ical.js shows X-WR-CALNAME's escapes as they are.
        cal.add("NAME", Text(name))
        cal.add("X-WR-CALNAME", Text(name))
        cal.add("DESCRIPTION", Text(description))
        cal.add("X-WR-CALDESC", Text(description))
        cal.add("REFRESH-INTERVAL", vDuration(self.refresh), parameters={"VALUE": "DURATION"})
        cal.add("X-PUBLISHED-TTL", vDuration(self.refresh))
        return cal

    def _header(self, state: AllianceState, audience: Audience) -> bytes:
        names = self._names(state, audience)
        key = (audience.key, names[0])
        header = self._headers.get(key)
        if header is None:
            whole = self._calendar(state, audience).to_ical()
            assert whole.endswith(_END)  # noqa: S101 - what icalendar always writes
            header = self._headers[key] = whole[: -len(_END)]
        return header

    def _pieces(
        self, view: _View, header: bytes, zones: Iterable[tuple[str, int]]
    ) -> Pieces:
        """Return the feed's pieces: the header with the VTIMEZONEs, the blocks, the end.

        Only the blocks touched since the last render are joined and hashed again; the
        feed's CRC-32 comes from the blocks' CRC tree, not from its bytes, combined with
        the head's and the end's by the shifts the tree and the end piece keep (two
        polynomial products, instead of one per bit of the feed's length).
        """
        kept = view.head
        if kept is None or kept[0] is not header or view.zones_changed:
            head_bytes = b"".join((header, *self._timezones(zones)))
            head = self._heads.get(head_bytes)
            if head is None:
                if len(self._heads) >= _HEADS_KEPT:
                    self._heads.clear()
                head = self._heads[head_bytes] = Piece(head_bytes)
            view.head, view.zones_changed = (header, head), False
        else:
            head = kept[1]
        blocks, (crc, length, shift) = view.blocks.pieces()
        crc = combine_shifted(combine_shifted(head.crc, crc, shift), _END_PIECE.crc,
                              _END_PIECE.shift)
        return Pieces([head, *blocks, _END_PIECE], crc=crc,
                      length=len(head.raw) + length + len(_END))

    def _timezones(self, zones: Iterable[tuple[str, int]]) -> list[bytes]:
        ranges = _ranges(tuple(zones))
        found = []
        for tzid, (first, last) in sorted(ranges.items()):
            key = (tzid, *_zone_years(first, last))
            body = self._zones.get(key)
            if body is None:
                body = self._zones[key] = _timezone_ical(tzid, first, last)
            found.append(body)
        return found


class _MeetingBuilder:
    __slots__ = ("audience", "chain", "meeting", "state")

    def __init__(
        self,
        state: AllianceState,
        meeting: MeetingState,
        audience: Audience,
        chain: Chain | None = None,
    ) -> None:
        self.state, self.meeting, self.audience, self.chain = state, meeting, audience, chain

    def __call__(self, plan: Plan) -> VEventData:
        return meeting_item(self.state, self.meeting, self.audience, plan, self.chain)


class _DeadlineBuilder:
    __slots__ = ("alarms", "audience", "chain", "deadline", "state")

    def __init__(
        self,
        state: AllianceState,
        deadline: Deadline,
        audience: Audience,
        *,
        alarms: bool,
        chain: Chain | None = None,
    ) -> None:
        self.state, self.deadline, self.audience = state, deadline, audience
        self.alarms, self.chain = alarms, chain

    def __call__(self, plan: Plan) -> VEventData:
        return deadline_item(self.state, self.deadline, self.audience, plan,
                             alarms=self.alarms, chain=self.chain)


_Builder = _MeetingBuilder | _DeadlineBuilder


def _heaviest(weights: Iterable[pendulum.DateTime]) -> pendulum.DateTime:
    return max(EPOCH, max(weights, default=EPOCH))


def _today(now: _dt.datetime) -> _dt.date:
    if now.utcoffset() is None:
        raise ValueError(f"now must be an aware date-time, got {now!r}")
    return now.astimezone(_dt.UTC).date()


def _ranges(zones: tuple[tuple[str, int], ...]) -> dict[str, tuple[int, int]]:
    """Per TZID, the first and last year it is used in."""
    ranges: dict[str, tuple[int, int]] = {}
    for tzid, year in zones:
        first, last = ranges.get(tzid, (year, year))
        ranges[tzid] = (min(first, year), max(last, year))
    return ranges


_ZONES_FROM: Final = 1970
_ZONES_TO: Final = 2037


def _zone_years(first: int, last: int) -> tuple[int, int]:
    """Return the years a feed's VTIMEZONE covers, for items from ``first`` to ``last``.

    At least 1970 to 2037, whatever the feed holds, so that a zone's VTIMEZONE is the
    same bytes in every feed: vobject (and so Radicale, server-wide) keeps the first
    VTIMEZONE it reads for a TZID for the life of the process, and reads every later
    item with it; one built for a single year would put other years' summer times an
    hour off. Its last rule is open-ended, so it also holds after 2037 while the zone's
    rules do.
    """
    return min(first, _ZONES_FROM), max(last, _ZONES_TO)


def _timezone(tzid: str, first: int, last: int) -> Timezone:
    """Build the VTIMEZONE of ``tzid`` for items from year ``first`` to ``last``.

    Observances with yearly RRULEs (:func:`~alliance_events.ical._vtimezone.vtimezone`,
    calendar rule 9) over :func:`_zone_years`.
    """
    return vtimezone(tzid, *_zone_years(first, last))


def _timezone_ical(tzid: str, first: int, last: int) -> bytes:
    """Return ``_timezone(tzid, first, last).to_ical()``, written without icalendar."""
    return vtimezone_ical(tzid, *_zone_years(first, last))
