"""One VEVENT per meeting or deadline: what it says in each audience, and what it hangs on.

A :class:`Plan` is the cheap part: whether the item is shown to the audience, whether it
is cancelled, its last day, its time stamp, and the *key*, which changes whenever the
item's bytes can change (the positions in the log of the item, of the meetings it is
part of, and of the persons and organisations it names). The VEVENT itself is built only
when the key is new (see ``_feed``). An item is planned again only when one of its
*dependencies* (:func:`meeting_dependencies`, :func:`deadline_dependencies`: the ids the
key reads, and the first parent not yet known) is touched, or when the day changes
whether it is past its grace period.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import uuid
from collections.abc import Callable, Sequence
from typing import Final, NamedTuple

import pendulum

from alliance_events.domain.common import MeetingStatus
from alliance_events.domain.deadlines import Deadline, DueAt, DueBy
from alliance_events.domain.meetings import MeetingState, Nomination
from alliance_events.ical._audience import Audience
from alliance_events.ical._text import clean_text, one_line
from alliance_events.ical._write import VEventData
from alliance_events.projections.alliance import AllianceState, chain_status
from alliance_events.timing import (
    AllDay,
    Timed,
    When,
    day_after,
    describe_when,
    is_named_zone,
    names_one_instant,
    zone_label,
)

__all__ = [
    "ALLIANCE_NAMESPACE",
    "EPOCH",
    "Chain",
    "Plan",
    "deadline_dependencies",
    "deadline_item",
    "deadline_uid",
    "deadline_visible",
    "meeting_chain",
    "meeting_dependencies",
    "meeting_item",
    "meeting_uid",
    "plan_deadline",
    "plan_meeting",
]

ALLIANCE_NAMESPACE: Final = uuid.UUID("0b8f4f7e-5d1a-5c8e-9c3b-6a2e41f7d9a0")
"""The namespace of every UID the feeds write (fixed: UIDs must never change)."""

EPOCH: Final = pendulum.datetime(1970, 1, 1, tz="UTC")
_UTC: Final = pendulum.UTC
_CANCELLED: Final = MeetingStatus.CANCELLED
_TRANSPARENT: Final = True  # a deadline's VEVENT: TRANSP:TRANSPARENT


_VARIANT: Final = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}
_UIDS_KEPT: Final = 100_000


class _ItemUids:
    """``str(uuid.uuid5(ALLIANCE_NAMESPACE, f"{kind}:{item_id}"))``, each made once.

    As :class:`~alliance_events._speed.NameUuids`, which it replaces here, but faster
    where a cold render spends it (every item's UID is new in a new process): the
    SHA-1's hex digest sliced, the version and variant digits set on the text, and the
    texts kept per kind by the id's integer (hashing a ``UUID`` is a call to Python
    code, an ``int`` is not). Measured on 20,000 random ids (a loaded 2-core machine):
    a new UID 3.5 µs instead of 9.0, one made before 0.34 µs instead of 1.1; with the
    name formatted from the id's bytes, a new one 1.7 µs instead of 2.4 (unloaded).
    """

    __slots__ = ("_kinds", "_namespace")

    def __init__(self, namespace: uuid.UUID) -> None:
        self._namespace = namespace.bytes
        self._kinds: dict[str, tuple[bytes, dict[int, str]]] = {}

    def __call__(self, kind: str, item_id: uuid.UUID) -> str:
        found = self._kinds.get(kind)
        if found is None:
            found = self._kinds[kind] = (self._namespace + f"{kind}:".encode(), {})
        prefix, texts = found
        key = item_id.int
        text = texts.get(key)
        if text is None:
            # RFC 9562's name-based UUID (SHA-1; not a security use): the digest's
            # first 16 bytes with the version (5) and the variant (10xx) set. The name
            # is str(item_id), formatted here from its bytes' hex (UUID.__str__ is
            # Python code: 0.8 µs, this 0.3)
            h = item_id.bytes.hex()
            name = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
            x = hashlib.sha1(prefix + name.encode()).hexdigest()  # noqa: S324
            if len(texts) >= _UIDS_KEPT:
                texts.clear()
            text = texts[key] = (
                f"{x[:8]}-{x[8:12]}-5{x[13:16]}-{_VARIANT[x[16]]}{x[17:20]}-{x[20:32]}"
            )
        return text


_UIDS: _ItemUids | Callable[[str, uuid.UUID], str] = _ItemUids(ALLIANCE_NAMESPACE)
"""Every item's UID, made once (a benchmark may put another maker in its place)."""


def meeting_uid(meeting_id: uuid.UUID) -> str:
    """Return the UID of a meeting's VEVENT, the same in every feed (RFC 7986: a UUID)."""
    return _UIDS("meeting", meeting_id)


def deadline_uid(deadline_id: uuid.UUID) -> str:
    """Return the UID of a deadline's VEVENT, the same in every feed."""
    return _UIDS("deadline", deadline_id)


class Plan(NamedTuple):
    """What a render needs to know of an item before (or instead of) building it.

    ``key`` holds the positions of what the item shows, those of who it names, and
    whether it tells of its last move; ``note_ends`` is the first day it no longer does
    (the item changes that day with no event: a feed plans it again when the day it is
    rendered for crosses it, either way). A named tuple (immutable, and made in 0.5 µs
    where a frozen attrs class took 1.6: a full render makes one per item).
    """

    item_id: uuid.UUID
    key: tuple[tuple[int, ...], tuple[int, ...], bool]
    cancelled: bool
    last_day: _dt.date
    stamp: pendulum.DateTime  # the latest change of the item or of what it shows
    created: pendulum.DateTime
    neutral: bool = False  # shows nothing of one audience: the same VEVENT in every feed
    note_ends: _dt.date | None = None


def _utc(moment: _dt.datetime) -> pendulum.DateTime:
    if moment.tzinfo is _UTC and isinstance(moment, pendulum.DateTime):
        return moment
    return pendulum.instance(moment).in_timezone(_UTC)


def _touches(
    state: AllianceState, ids: Sequence[uuid.UUID | None]
) -> tuple[tuple[int, ...], pendulum.DateTime]:
    """Return the log positions of ``ids`` (-1: never touched) and their latest change."""
    if not ids:
        return (), EPOCH
    get = state.touched.get
    positions = []
    latest: _dt.datetime = EPOCH
    for item_id in ids:
        touched = None if item_id is None else get(item_id)
        if touched is None:
            positions.append(-1)
        else:
            positions.append(touched.position)
            latest = max(latest, touched.modified)  # aware: compared as instants
    return tuple(positions), _utc(latest)


def _created(state: AllianceState, *ids: uuid.UUID | None) -> pendulum.DateTime:
    for item_id in ids:
        touched = None if item_id is None else state.touched.get(item_id)
        if touched is not None:
            return _utc(touched.created)
    return EPOCH


def _delegation(meeting: MeetingState, audience: Audience) -> Sequence[Nomination]:
    """Return the nominations an audience may see: none, its own, or all."""
    if audience.kind == "public":
        return ()
    if audience.organisation_id is not None:
        return meeting.delegation(audience.organisation_id)
    return meeting.nominations


def _chain(state: AllianceState, meeting: MeetingState) -> list[MeetingState]:
    """Return the meeting and every meeting it is part of, nearest first."""
    if meeting.meeting_id is None:
        return [meeting]
    return [meeting, *state.ancestors(meeting.meeting_id)]


class Chain(NamedTuple):
    """A meeting and the meetings it is part of, nearest first, and its lineage's ids.

    ``lineage`` is the meeting's id and its parents', up to and including the first not
    known (:func:`_lineage`). The plan, the VEVENT and the dependencies of a meeting and
    of its deadlines each read them; a feed's full render walks them once per meeting
    (:func:`meeting_chain`) and hands them over (on the 10,000-meeting feed, two
    meetings in three are sessions: each walk is a dictionary look-up a level, with a
    ``UUID``'s hash and equality in Python).
    """

    meetings: Sequence[MeetingState]
    lineage: tuple[uuid.UUID, ...]


def meeting_chain(state: AllianceState, meeting: MeetingState) -> Chain:
    """Return the scheduled ``meeting``'s :class:`Chain`: ``_chain`` and ``_lineage`` in one."""
    meeting_id = meeting.meeting_id
    assert meeting_id is not None  # noqa: S101 - only scheduled meetings are planned
    if meeting.parent_id is None:
        return Chain((meeting,), (meeting_id,))
    meetings = [meeting]
    lineage = [meeting_id]
    get = state.meetings.get
    current = get(meeting_id)  # from the state's, as ``ancestors`` and ``_lineage`` do
    while current is not None and current.parent_id is not None and (
        current.parent_id not in lineage
    ):
        lineage.append(current.parent_id)
        current = get(current.parent_id)
        if current is not None:
            meetings.append(current)
    return Chain(meetings, tuple(lineage))


def move_note_ends(
    state: AllianceState, meeting: MeetingState, notice: _dt.timedelta
) -> _dt.date | None:
    """Return the first day a moved meeting's VEVENT stops saying where it was before.

    The note stays ``notice`` (whole days) after the move was recorded, and not past the
    meeting's last day. ``None``: the meeting was never moved.
    """
    if meeting.moved_from is None or meeting.when is None or meeting.meeting_id is None:
        return None  # most meetings: no look-up
    moved_at = state.moved_at.get(meeting.meeting_id)
    if moved_at is None:
        return None
    moved_day = _utc(moved_at).date()
    last = min(moved_day + _dt.timedelta(days=notice.days), meeting.when.last_day)
    return day_after(max(last, moved_day))


def _note(note_ends: _dt.date | None, today: _dt.date) -> tuple[bool, pendulum.DateTime]:
    """Whether the note shows on ``today``, and when it went (EPOCH: it did not go)."""
    if note_ends is None:
        return False, EPOCH
    if today < note_ends:
        return True, EPOCH
    return False, pendulum.datetime(note_ends.year, note_ends.month, note_ends.day, tz=_UTC)


def plan_meeting(
    state: AllianceState,
    meeting: MeetingState,
    audience: Audience,
    *,
    today: _dt.date,
    notice: _dt.timedelta,
    chain: Chain | None = None,
) -> Plan:
    """Plan a scheduled meeting's VEVENT for ``audience`` (every audience sees meetings).

    On ``today`` (UTC) the VEVENT tells of the meeting's last move if it was recorded
    less than ``notice`` ago (:func:`move_note_ends`). ``chain``: the meeting's
    (:func:`meeting_chain`), if the caller has it.
    """
    meeting_id = meeting.meeting_id
    when = meeting.when
    assert meeting_id is not None  # noqa: S101 - only scheduled meetings are planned
    assert when is not None  # noqa: S101 - a scheduled meeting has a time
    if chain is None and meeting.parent_id is not None:
        chain = meeting_chain(state, meeting)
    if chain is None or len(chain.meetings) == 1:  # most: part of no other, one look-up
        own = state.touched.get(meeting_id)
        positions: tuple[int, ...]
        if own is None:
            positions, stamp, created = (-1,), EPOCH, EPOCH
        else:
            positions = (own.position,)
            stamp = _utc(max(EPOCH, own.modified))  # as _touches, for one id
            created = _utc(own.created)
        cancelled = meeting.status is MeetingStatus.CANCELLED
    else:
        positions, stamp, created, cancelled = _chain_touches(state, chain.meetings)
    named: list[uuid.UUID | None] = []
    if meeting.nominations:
        for nomination in _delegation(meeting, audience):
            named.extend((nomination.person_id, nomination.organisation_id))
    note_ends = move_note_ends(state, meeting, notice)
    shown = False
    if named or note_ends is not None:
        named_positions, named_stamp = _touches(state, named)
        shown, note_gone = _note(note_ends, today)
        stamp = max(stamp, named_stamp, note_gone)  # the note going changes the VEVENT
    else:
        named_positions = ()
    return Plan(  # positional: a full render makes one per item
        meeting_id,
        (positions, named_positions, shown),
        cancelled,
        _last_day(when),
        stamp,
        created,
        not named,  # neutral
        note_ends,
    )


def _chain_touches(
    state: AllianceState, meetings: Sequence[MeetingState]
) -> tuple[tuple[int, ...], pendulum.DateTime, pendulum.DateTime, bool]:
    """Read a meeting's chain (the meeting first) for its plan, in one walk.

    Return the chain's log positions and latest change (:func:`_touches`), the meeting's
    first change (:func:`_created`), and whether it is cancelled (:func:`chain_status`:
    the meeting or one it is part of is).
    """
    get = state.touched.get
    own = get(meetings[0].meeting_id)
    if own is None:
        found, latest, created = [-1], EPOCH, EPOCH
    else:
        found, latest, created = [own.position], max(EPOCH, own.modified), _utc(own.created)
    cancelled = meetings[0].status is _CANCELLED
    for member in meetings[1:]:
        touched = get(member.meeting_id)
        if touched is None:
            found.append(-1)
        else:
            found.append(touched.position)
            latest = max(latest, touched.modified)
        if member.status is _CANCELLED:
            cancelled = True
    return tuple(found), _utc(latest), created, cancelled


def _last_day(when: When) -> _dt.date:
    """``when.last_day``, without pendulum's date for a span that ends after midnight."""
    if isinstance(when, Timed):
        end = when.end
        if end.hour or end.minute or end.second or end.microsecond:
            return _dt.date(end.year, end.month, end.day)
    return when.last_day


def deadline_visible(deadline: Deadline, audience: Audience) -> bool:
    """Whether ``audience`` sees ``deadline``.

    The public sees public deadlines of no particular organisation; an organisation
    those and its own; the secretariat all.
    """
    if audience.kind == "secretariat":
        return True
    if deadline.organisation_id is None:
        return deadline.public
    return deadline.organisation_id == audience.organisation_id


def _due_day(deadline: Deadline) -> _dt.date:
    due = deadline.due
    if isinstance(due, DueAt):
        at = due.at
        return _dt.date(at.year, at.month, at.day)  # its local date, not pendulum's
    return due.day


def _deadline_chain(state: AllianceState, deadline: Deadline) -> Sequence[MeetingState]:
    meeting = None if deadline.meeting_id is None else state.meetings.get(deadline.meeting_id)
    return [] if meeting is None else _chain(state, meeting)


def plan_deadline(
    state: AllianceState, deadline: Deadline, audience: Audience, chain: Chain | None = None
) -> Plan | None:
    """Plan a deadline's VEVENT for ``audience``; ``None`` if the audience does not see it.

    ``chain``: the :func:`meeting_chain` of its meeting, if the caller has it.
    """
    if not deadline_visible(deadline, audience):
        return None
    meetings = _deadline_chain(state, deadline) if chain is None else chain.meetings
    meeting_cancelled = bool(meetings) and chain_status(meetings) is MeetingStatus.CANCELLED
    # A meeting's deadline was touched by its own id from the first event that set it;
    # a log folded before that was so falls back on the meeting's times.
    touched = state.touched
    own_touch = touched.get(deadline.deadline_id)
    own = deadline.deadline_id if own_touch is not None else deadline.meeting_id
    if own_touch is not None:  # the usual case: _touches and _created, inlined
        found = [own_touch.position]
        latest: _dt.datetime = max(EPOCH, own_touch.modified)
        for meeting in meetings:
            meeting_touch = touched.get(meeting.meeting_id)
            if meeting_touch is None:
                found.append(-1)
            else:
                found.append(meeting_touch.position)
                latest = max(latest, meeting_touch.modified)
        positions: tuple[int, ...] = tuple(found)
        stamp, created = _utc(latest), _utc(own_touch.created)
    else:
        positions, stamp = _touches(state, [own, *(m.meeting_id for m in meetings)])
        created = _created(state, own)
    if audience.kind != "public":
        named_positions, named_stamp = _touches(state, [deadline.organisation_id])
        stamp = max(stamp, named_stamp)
    else:
        named_positions = ()
    return Plan(
        deadline.deadline_id,
        (positions, named_positions, False),
        deadline.cancelled or meeting_cancelled,
        _due_day(deadline),
        stamp,
        created,
        deadline.organisation_id is None,  # neutral
    )


# -- what an item hangs on ------------------------------------------------------------


def _lineage(state: AllianceState, meeting_id: uuid.UUID) -> list[uuid.UUID]:
    """Return the meeting's id and its parents' ids, up to and including the first unknown.

    A superset of the chain the plan reads: a parent scheduled later is in it already.
    """
    ids = [meeting_id]
    meeting = state.meetings.get(meeting_id)
    if meeting is not None and meeting.parent_id is None:
        return ids
    while meeting is not None and meeting.parent_id is not None and meeting.parent_id not in ids:
        ids.append(meeting.parent_id)
        meeting = state.meetings.get(meeting.parent_id)
    return ids


def meeting_dependencies(
    state: AllianceState, meeting: MeetingState, audience: Audience, chain: Chain | None = None
) -> tuple[uuid.UUID, ...]:
    """Return the ids whose touch can change the meeting's plan or VEVENT for ``audience``.

    Every id :func:`plan_meeting` takes a position from, and the first unknown parent:
    until one of them is touched (:attr:`AllianceState.touched`), the plan is the same.
    ``chain``: the meeting's (:func:`meeting_chain`), if the caller has it.
    """
    assert meeting.meeting_id is not None  # noqa: S101 - only scheduled meetings are planned
    if not meeting.nominations:  # most: no delegation to name
        if chain is not None:
            return chain.lineage
        if meeting.parent_id is None:
            return (meeting.meeting_id,)
    ids = _lineage(state, meeting.meeting_id) if chain is None else list(chain.lineage)
    for nomination in _delegation(meeting, audience):
        ids.extend((nomination.person_id, nomination.organisation_id))
    return tuple(ids)


def deadline_dependencies(
    state: AllianceState, deadline: Deadline, audience: Audience, chain: Chain | None = None
) -> tuple[uuid.UUID, ...]:
    """Return the ids whose touch can change the deadline's plan or VEVENT (``audience``).

    ``chain``: the :func:`meeting_chain` of its meeting, if the caller has it.
    """
    ids = [deadline.deadline_id]
    if deadline.meeting_id is not None:
        ids.extend(_lineage(state, deadline.meeting_id) if chain is None else chain.lineage)
    if deadline.organisation_id is not None and audience.kind != "public":
        ids.append(deadline.organisation_id)
    return tuple(ids)


# -- building the VEVENTs -------------------------------------------------------------


def _span(when: When) -> tuple[_dt.date, _dt.date]:
    """DTSTART and DTEND: dates (DTEND exclusive), or times in a named zone or UTC.

    A fixed offset ("GMT+1") has no VTIMEZONE, and a wall time of a repeated hour names
    two instants (clients disagree on which a TZID time means): such times are written
    in UTC (calendar rules 10 and 11).
    """
    if isinstance(when, AllDay):
        return when.first, when.end_exclusive
    assert isinstance(when, Timed)  # noqa: S101 - When is Timed | AllDay
    return _zoned_or_utc(when.start), _zoned_or_utc(when.end)


def _zoned_or_utc(moment: _dt.datetime) -> _dt.datetime:
    """``moment`` as it is if a TZID and its wall time name it alone, else in UTC."""
    if is_named_zone(moment) and names_one_instant(moment):
        return moment
    return _utc(moment)


def _text(value: str) -> str | None:
    cleaned = clean_text(value).strip()
    return cleaned or None


def _delegation_text(
    state: AllianceState, meeting: MeetingState, audience: Audience
) -> str | None:
    nominations = _delegation(meeting, audience)
    if not nominations:
        return None
    lines = []
    for nomination in nominations:
        funding = (
            ", funded" if nomination.funded
            else ", funding requested" if nomination.funding_requested
            else ""
        )
        who = one_line(state.person_name(nomination.person_id))
        if audience.organisation_id is None:
            who = f"{one_line(state.organisation_name(nomination.organisation_id))}, {who}"
        lines.append(
            f"- {who}: {nomination.role.value}, {nomination.status.value}{funding}"
        )
    if audience.organisation_id is not None:
        label = one_line(state.organisation_name(audience.organisation_id))
        return f"Your delegation ({label}):\n" + "\n".join(lines)
    return "Delegations:\n" + "\n".join(lines)


def _cancellation(meeting: MeetingState, cancelled_by: MeetingState | None) -> str | None:
    """Say that (and why) the meeting is cancelled, or that the meeting it is part of is."""
    if cancelled_by is None:
        return None
    reason = one_line(cancelled_by.cancel_reason)
    if cancelled_by is meeting:
        return f"Cancelled: {reason}" if reason else "Cancelled."
    because = f": {reason}" if reason else "."
    return f"Cancelled with {one_line(cancelled_by.title)}{because}"


def _move(meeting: MeetingState) -> str | None:
    """Say where the meeting was before its last move (and why it moved)."""
    if meeting.moved_from is None or meeting.when is None:
        return None
    reason = one_line(meeting.move_reason)
    return (
        f"Moved from {describe_when(meeting.moved_from)} to {describe_when(meeting.when)}"
        + (f": {reason}" if reason else ".")
    )


def meeting_item(
    state: AllianceState,
    meeting: MeetingState,
    audience: Audience,
    plan: Plan,
    chain: Chain | None = None,
) -> VEventData:
    """Return the meeting's VEVENT as ``audience`` sees it.

    SEQUENCE adds the sequences of the meetings it is part of, so that it rises when a
    parent is cancelled or reinstated (and the session's effective status changes).
    ``chain``: the meeting's (:func:`meeting_chain`), if the caller has it. Straight-line
    code (a full render calls it for most items): plain loops, no generators, the
    description's blocks appended as they are found.
    """
    meeting_id = meeting.meeting_id
    when = meeting.when
    assert meeting_id is not None  # noqa: S101 - only scheduled meetings are built
    assert when is not None  # noqa: S101 - a scheduled meeting has a time
    if chain is None and meeting.parent_id is not None:
        chain = meeting_chain(state, meeting)
    parent = None
    if chain is None or len(chain.meetings) == 1:  # most: a chain of one, no look-up
        cancelled_by = meeting if meeting.status is _CANCELLED else None
        sequence = meeting.sequence
    else:  # the first cancelled of the chain tells why; SEQUENCE adds them all
        meetings = chain.meetings
        parent = meetings[1]
        cancelled_by = None
        sequence = 0
        for member in meetings:
            sequence += member.sequence
            if cancelled_by is None and member.status is _CANCELLED:
                cancelled_by = member
    # cancelled if it or a meeting it is part of is (chain_status, from the same walk)
    status = meeting.status if cancelled_by is None else _CANCELLED
    cancelled = cancelled_by is not None
    start, end = _span(when)
    location, url = meeting.location, meeting.online_url
    return VEventData(  # positional: a full render makes one per item
        meeting_uid(meeting_id),
        plan.stamp,
        plan.created,
        start,
        end,
        ("Cancelled: " if cancelled else "") + clean_text(meeting.title).strip(),
        status._name_,  # TENTATIVE, CONFIRMED, CANCELLED (not the slower .name)
        sequence,
        cancelled or isinstance(when, AllDay),  # transparent
        _meeting_description(state, meeting, audience, plan, parent, cancelled_by),
        _text(location) if location else None,
        _text(url) if url else None,
        None if parent is None else meeting_uid(parent.meeting_id),
    )


def _meeting_description(
    state: AllianceState,
    meeting: MeetingState,
    audience: Audience,
    plan: Plan,
    parent: MeetingState | None,
    cancelled_by: MeetingState | None,
) -> str | None:
    """Return the meeting's DESCRIPTION: its blocks (cleaned, stripped), blank-line apart."""
    blocks: list[str] = []
    cancellation = _cancellation(meeting, cancelled_by)
    if cancellation:
        blocks.append(cancellation)
    if plan.key[2]:
        moved = _move(meeting)
        if moved:
            blocks.append(moved)
    if meeting.description:
        text = clean_text(meeting.description).strip()
        if text:
            blocks.append(text)
    if parent is not None:
        blocks.append(f"Part of: {one_line(parent.title)}")
    if meeting.organiser:
        organiser = one_line(meeting.organiser)
        if organiser:
            blocks.append(f"Organiser: {organiser}")
    if meeting.links:
        blocks.append("\n".join([
            f"{one_line(link.title) or link.kind.value}: {one_line(link.url)}"
            for link in meeting.links
        ]))
    if meeting.nominations:
        delegation = _delegation_text(state, meeting, audience)
        if delegation:
            blocks.append(delegation)
    return "\n\n".join(blocks) or None


def deadline_item(
    state: AllianceState,
    deadline: Deadline,
    audience: Audience,
    plan: Plan,
    *,
    alarms: bool,
    chain: Chain | None = None,
) -> VEventData:
    """Return the deadline's VEVENT: all day on the due date, the exact time in the summary.

    With ``alarms``, each reminder becomes a DISPLAY VALARM (``TRIGGER:-P7D``); most
    clients ignore alarms in subscribed calendars: they are no reminder to rely on.
    """
    due = deadline.due
    day = plan.last_day
    summary = f"Deadline: {clean_text(deadline.title).strip()}"
    if isinstance(due, DueAt):
        at = due.at
        label = zone_label(at)
        clock = "%02d:%02d" % (at.hour, at.minute)  # noqa: UP031 - strftime's %H:%M, faster
        summary += f" ({clock} {label})"
        # strftime's %Y-%m-%d is the local day's isoformat() from the year 1000 on
        # (the domain keeps to 1900-2200; glibc writes year 999 with three digits)
        date = day.isoformat() if at.year >= 1000 else at.strftime("%Y-%m-%d")  # noqa: PLR2004
        due_line = f"Due: {date} {clock} {label}"
    else:
        assert isinstance(due, DueBy)  # noqa: S101 - Due is DueAt | DueBy
        due_line = f"Due by the end of {day.isoformat()} ({one_line(due.zone)})"
    if plan.cancelled:
        summary = f"Cancelled: {summary}"
    meetings = _deadline_chain(state, deadline) if chain is None else chain.meetings
    sequence = deadline.sequence
    for meeting in meetings:
        sequence += meeting.sequence
    blocks = []
    if deadline.description:
        text = clean_text(deadline.description).strip()
        if text:
            blocks.append(text)
    blocks.append(due_line)
    if meetings:
        blocks.append(f"Meeting: {one_line(meetings[0].title)}")
    if deadline.organisation_id is not None and audience.kind != "public":
        blocks.append(
            f"Organisation: {one_line(state.organisation_name(deadline.organisation_id))}"
        )
    return VEventData(  # positional: a full render makes one per item
        deadline_uid(deadline.deadline_id),
        plan.stamp,
        plan.created,
        _dt.date(day.year, day.month, day.day),
        _dt.date.fromordinal(day.toordinal() + 1),  # day_after, without pendulum
        summary,
        "CANCELLED" if plan.cancelled else "CONFIRMED",
        sequence,
        _TRANSPARENT,
        "\n\n".join(blocks),
        None,
        None,
        meeting_uid(meetings[0].meeting_id) if meetings else None,
        tuple(
            (f"Reminder: {summary}", -_dt.timedelta(seconds=reminder.total_seconds()))
            for reminder in deadline.reminders
        )
        if alarms and not plan.cancelled
        else (),
    )
