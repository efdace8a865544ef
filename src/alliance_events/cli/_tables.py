"""The tables and lines the commands print (rich tables, users' text without markup).

The tables fit a terminal of 80 columns (the width of a pipe): short values (dates,
statuses, kinds, short references) take the room they need and never wrap; titles and
names wrap at spaces, and a word longer than its column is folded onto the next line,
never cut. Ids are shown as their short references (:func:`alliance_events.app.short_refs`:
what the commands accept too); ``--json`` and ``--csv`` give them whole.

Times are shown as they were typed: a date where a date was given (a window that closes
on ``2023-04-18`` closes on "18 Apr 2023", not at "19 Apr 2023 00:00"), in Vienna's time
without saying so, and naming any other zone.

Each table has its CSV twin (``*_csv``): a header and rows, with full ids and ISO times.
"""

from __future__ import annotations

import datetime as _dt
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import pendulum
from rich.table import Table

from alliance_events import (
    DEFAULT_ZONE,
    AllDay,
    DeadlineView,
    HistoryEntry,
    MeetingStatus,
    MeetingView,
    RegistrationView,
    Timed,
    When,
    describe_when,
    zone_label,
)
from alliance_events.app import FeedTokenView, short_refs

__all__ = [
    "Rows",
    "day_text",
    "deadlines_csv",
    "deadlines_table",
    "due_text",
    "edge_text",
    "history_csv",
    "history_table",
    "meeting_csv",
    "meeting_label",
    "meeting_table",
    "meetings_csv",
    "meetings_table",
    "moment",
    "registration_csv",
    "registration_table",
    "summary_csv",
    "summary_table",
    "tokens_csv",
    "tokens_table",
    "window_text",
]

Rows = tuple[list[str], list[list[Any]]]
"""A table as CSV: its header, and its rows."""

Refs = Mapping[uuid.UUID, str]


# -- dates and times as people type them -------------------------------------------------


def day_text(day: _dt.date) -> str:
    """Say a day: ``1 May 2023``."""
    return f"{day.day} {day.strftime('%b %Y')}"


def _zone_note(*moments: _dt.datetime) -> str:
    """Return `` (zone)`` for times not in Vienna's, or nothing."""
    labels = sorted({zone_label(m) for m in moments} - {DEFAULT_ZONE})
    return f" ({', '.join(labels)})" if labels else ""


def _midnight(value: _dt.datetime) -> bool:
    return (value.hour, value.minute, value.second, value.microsecond) == (0, 0, 0, 0)


def edge_text(value: _dt.datetime, *, end: bool) -> str:
    """Say when a span (a window, a deadline) starts or ``end``s, as it was typed.

    A date stands for a whole day: a span given as ending on ``2023-04-18`` ends when
    that day does, at midnight; it is said ``18 Apr 2023``, not ``19 Apr 2023 00:00``.
    Another time is said with its time of day. No zone: see :func:`_zone_note`.
    """
    if _midnight(value):
        return day_text(value.date() - _dt.timedelta(days=1) if end else value.date())
    return f"{day_text(value.date())} {value.strftime('%H:%M')}"


def moment(value: _dt.datetime) -> str:
    """Say a time in its own zone: ``21 Mar 2023 10:00``, naming a zone not Vienna's."""
    return f"{day_text(value.date())} {value.strftime('%H:%M')}{_zone_note(value)}"


def due_text(deadline: DeadlineView) -> str:
    """Say when a deadline is due, as it was set.

    ``1 May 2023`` (by the end of that day) or ``14 Apr 2023 17:00`` (at that time),
    naming a zone not Vienna's.
    """
    return edge_text(deadline.due, end=True) + _zone_note(deadline.due)


def window_text(view: RegistrationView) -> str:
    """Say a registration window: ``open: 21 Mar 2023 10:00 to 1 May 2023``."""
    if view.opens_at is None or view.closes_at is None:
        return "none"
    return (
        f"{view.window}: {edge_text(view.opens_at, end=False)} to "
        f"{edge_text(view.closes_at, end=True)}{_zone_note(view.opens_at, view.closes_at)}"
    )


def _when_cell(when: When) -> str:
    """Say when a meeting takes place in a narrow cell: the day, then the hours."""
    if isinstance(when, AllDay):
        if when.first == when.last:
            return f"{day_text(when.first)}\nall day"
        return f"{day_text(when.first)}\nto {day_text(when.last)}"
    start, end = when.start, when.end
    zone = _zone_note(start, end).strip(" ()")
    if start.date() == end.date():
        lines = [day_text(start.date()), f"{start.strftime('%H:%M')}-{end.strftime('%H:%M')}"]
    else:
        lines = [f"{day_text(start.date())} {start.strftime('%H:%M')}",
                 f"to {day_text(end.date())} {end.strftime('%H:%M')}"]
    return "\n".join([*lines, zone] if zone else lines)


def _days(when: When) -> str:
    """Say a meeting's days: ``5 May 2023``, ``4 May 2023 to 5 May 2023``."""
    first, last = when.first_day, when.last_day
    return day_text(first) if first == last else f"{day_text(first)} to {day_text(last)}"


def meeting_label(view: MeetingView) -> str:
    """Name a meeting in a sentence: ``'Informal Meeting' (19 Apr 2023)``."""
    return f"{view.title!r} ({_days(view.when)})"


def _hyphenated(text: str, width: int) -> str:
    """Break ``text`` after hyphens into lines of at most ``width`` (a word longer stays)."""
    lines: list[str] = []
    for part in text.replace("-", "-\n").splitlines():
        if lines and len(lines[-1]) + len(part) <= width:
            lines[-1] += part
        else:
            lines.append(part)
    return "\n".join(lines)


# -- building tables ---------------------------------------------------------------------

_KIND_WIDTH = 13


def _table(title: str, **options: Any) -> Table:
    return Table(title=title, title_justify="left", caption_justify="left", **options)


def _short(table: Table, header: str, **options: Any) -> None:
    """Add a column of short values (a date, a status, a ref): never wrapped."""
    table.add_column(header, no_wrap=True, **options)


def _words(table: Table, header: str, **options: Any) -> None:
    """Add a column of words (a title, a name): wrapped at spaces, a long word folded."""
    table.add_column(header, overflow="fold", **options)


def _ref(refs: Refs | None, key: uuid.UUID) -> str:
    return "" if refs is None else refs.get(key, "")


def _when_csv(when: When) -> list[Any]:
    """Return a meeting's time as CSV: start, end, zone, first day, last day."""
    if isinstance(when, Timed):
        return [when.start, when.end, zone_label(when.start), when.first_day, when.last_day]
    return ["", "", "", when.first_day, when.last_day]


# -- registrations ---------------------------------------------------------------------


def _seats(view: RegistrationView) -> str:
    seats = (
        f"seats: {view.seats_taken} taken, no capacity set"
        if view.capacity is None
        else f"seats: {view.seats_taken}/{view.capacity} taken, {view.seats_free} free"
    )
    seats += f", {len(view.waiting_list)} waiting"
    if view.quotas:
        seats += " · per delegation: " + ", ".join(f"{n} {r.value}" for r, n in view.quotas)
    funded = f"funded: {view.funded_used}" + (
        f"/{view.funded_places}" if view.funded_places is not None else ""
    )
    if view.funded_per_delegation is not None:
        funded += f" ({view.funded_per_delegation} per delegation)"
    return f"{seats} · {funded}"


def _delegate_refs(view: RegistrationView, refs: Refs | None) -> Refs:
    if refs is not None:
        return refs
    return short_refs(d.nomination_id for g in view.delegations for d in g.delegates)


def registration_table(view: RegistrationView, *, refs: Refs | None = None) -> Table:
    """Return a table of a meeting's delegations, seats, waiting list and deadlines.

    One row per delegate, grouped by organisation (a line between delegations), with
    the nomination's ref (``refs``: the meeting's nominations' short references; by
    default, those of the nominations shown); the caption says the window, the seats
    against the capacity, the quotas, the funding, the deadlines (due or overdue) and
    the speaking requests.
    """
    refs = _delegate_refs(view, refs)
    meeting = view.meeting
    caption = [f"registration {window_text(view)}", _seats(view)]
    caption.extend(
        f"deadline: {d.title}, due {due_text(d)}: {d.status}" for d in view.deadlines
    )
    caption.extend(
        f"speaking: {organisation} on {day_text(day)}" + (f" ({topic})" if topic else "")
        for organisation, day, topic in view.speaking
    )
    status = "" if meeting.status is MeetingStatus.CONFIRMED else f" [{meeting.status.value}]"
    when = _when_cell(meeting.when).replace("\n", " ")
    table = _table(f"{meeting.title}, {when}{status}", caption="\n".join(caption))
    _words(table, "delegation")
    _words(table, "delegate")
    for column in ("role", "status", "funding", "ref"):
        _short(table, column)
    for delegation in view.delegations:
        last = len(delegation.delegates) - 1
        for index, delegate in enumerate(delegation.delegates):
            status_text = delegate.status.value
            if delegate.waiting_position is not None:
                status_text += f" #{delegate.waiting_position}"
            funding = (
                "funded" if delegate.funded else "requested" if delegate.funding_requested else ""
            )
            table.add_row(
                delegate.organisation if index == 0 else "",
                delegate.person,
                delegate.role.value,
                status_text,
                funding,
                refs.get(delegate.nomination_id, ""),
                end_section=index == last,
            )
    return table


def registration_csv(view: RegistrationView, *, refs: Refs | None = None) -> Rows:
    """Return a meeting's delegates as CSV: one row per nomination, full ids."""
    refs = _delegate_refs(view, refs)
    header = [
        "meeting_id", "meeting", "organisation_id", "organisation", "nomination_id", "ref",
        "person_id", "person", "role", "status", "waiting_position", "funding_requested",
        "funded",
    ]
    rows = [
        [
            view.meeting.meeting_id, view.meeting.title, d.organisation_id, d.organisation,
            d.nomination_id, refs.get(d.nomination_id, ""), d.person_id, d.person, d.role,
            d.status, d.waiting_position, d.funding_requested, d.funded,
        ]
        for delegation in view.delegations
        for d in delegation.delegates
    ]
    return header, rows


def _window_cell(view: RegistrationView) -> str:
    if view.opens_at is None or view.closes_at is None:
        return view.window
    if view.window == "open":
        return f"open to\n{edge_text(view.closes_at, end=True)}"
    if view.window == "not yet open":
        return f"opens\n{edge_text(view.opens_at, end=False)}"
    return view.window


def _seats_cell(view: RegistrationView) -> str:
    lines = [f"{view.seats_taken}" + ("" if view.capacity is None else f"/{view.capacity}")
             + " taken"]
    if view.waiting_list:
        lines.append(f"{len(view.waiting_list)} waiting")
    if view.funded_places is not None:
        lines.append(f"{view.funded_used}/{view.funded_places} funded")
    return "\n".join(lines)


def summary_table(views: list[RegistrationView], *, refs: Refs | None = None) -> Table:
    """Return one row per meeting with a registration: window, seats, waiting, deadlines.

    ``refs``: the meetings' short references (by default, among the meetings shown).
    """
    refs = short_refs(v.meeting.meeting_id for v in views) if refs is None else refs
    table = _table("Registrations")
    _words(table, "meeting")
    _short(table, "ref")
    _short(table, "window")
    _short(table, "seats")
    _words(table, "deadlines")
    for view in views:
        deadlines = "\n".join(f"{d.title}: {d.status}" for d in view.deadlines)
        table.add_row(
            f"{view.meeting.title}\n{_days(view.meeting.when)}",
            _ref(refs, view.meeting.meeting_id),
            _window_cell(view),
            _seats_cell(view),
            deadlines,
        )
    return table


def summary_csv(views: list[RegistrationView], *, refs: Refs | None = None) -> Rows:
    """Return one CSV row per meeting with a registration."""
    refs = short_refs(v.meeting.meeting_id for v in views) if refs is None else refs
    header = [
        "meeting_id", "ref", "meeting", "first_day", "last_day", "window", "opens_at",
        "closes_at", "capacity", "seats_taken", "waiting", "funded_places", "funded_used",
        "deadlines",
    ]
    rows = [
        [
            v.meeting.meeting_id, _ref(refs, v.meeting.meeting_id), v.meeting.title,
            v.meeting.when.first_day, v.meeting.when.last_day, v.window, v.opens_at,
            v.closes_at, v.capacity, v.seats_taken, len(v.waiting_list), v.funded_places,
            v.funded_used, "; ".join(f"{d.title}: {d.status}" for d in v.deadlines),
        ]
        for v in views
    ]
    return header, rows


# -- meetings ------------------------------------------------------------------------------


def meetings_table(
    views: list[MeetingView], *, refs: Refs | None = None, title: str = "Meetings"
) -> Table:
    """Return one row per meeting: when, title, kind, status, ref.

    ``refs``: the meetings' short references (by default, among the meetings shown).
    """
    refs = short_refs(v.meeting_id for v in views) if refs is None else refs
    table = _table(title)
    _short(table, "when")
    _words(table, "title")
    _short(table, "kind")
    _short(table, "status")
    _short(table, "ref")
    for view in views:
        table.add_row(
            _when_cell(view.when), view.title, _hyphenated(view.kind.value, _KIND_WIDTH),
            view.status.value, _ref(refs, view.meeting_id),
        )
    return table


_MEETING_HEADER = [
    "meeting_id", "ref", "title", "kind", "status", "start", "end", "zone", "first_day",
    "last_day", "location", "online_url", "organiser", "parent_id",
]


def _meeting_row(view: MeetingView, refs: Refs | None) -> list[Any]:
    return [
        view.meeting_id, _ref(refs, view.meeting_id), view.title, view.kind, view.status,
        *_when_csv(view.when), view.location, view.online_url, view.organiser,
        view.parent_id,
    ]


def meetings_csv(views: list[MeetingView], *, refs: Refs | None = None) -> Rows:
    """Return one CSV row per meeting: its id and ref, title, kind, status, times, place."""
    return list(_MEETING_HEADER), [_meeting_row(v, refs) for v in views]


def _meeting_rows(
    view: MeetingView,
    *,
    parent: MeetingView | None,
    children: list[MeetingView],
    deadlines: list[DeadlineView],
    registration: RegistrationView | None,
    refs: Refs | None,
) -> list[tuple[str, str, Any]]:
    """Return the details of a meeting: (field, as shown, as CSV gives it)."""
    rows: list[tuple[str, str, Any]] = [
        ("id", str(view.meeting_id), view.meeting_id),
        ("ref", _ref(refs, view.meeting_id), _ref(refs, view.meeting_id)),
        ("kind", view.kind.value, view.kind),
        ("status", view.status.value, view.status),
        ("when", describe_when(view.when), view.when),
        ("location", view.location, view.location),
        ("online", view.online_url, view.online_url),
        ("organiser", view.organiser, view.organiser),
        ("description", view.description, view.description),
    ]
    if parent is not None:
        shown = f"{parent.title} (ref {_ref(refs, parent.meeting_id)})"
        rows.append(("part of", shown, parent.meeting_id))
    rows.extend(
        ("includes", f"{c.title}, {describe_when(c.when)} [{c.status.value}] "
         f"(ref {_ref(refs, c.meeting_id)})", c.meeting_id)
        for c in children
    )
    if registration is not None and registration.window != "none":
        rows.append(("registration", window_text(registration), window_text(registration)))
        rows.append(("", _seats(registration), _seats(registration)))
    rows.extend(
        ("deadline", f"{d.title}, due {due_text(d)}: {d.status}", d.deadline_id)
        for d in deadlines
    )
    rows.extend(
        ("link", f"{kind}: {url}" + (f" ({title})" if title else ""), url)
        for kind, url, title in view.links
    )
    return [row for row in rows if row[1]]


def meeting_table(
    view: MeetingView,
    *,
    parent: MeetingView | None,
    children: list[MeetingView],
    deadlines: list[DeadlineView],
    registration: RegistrationView | None,
    refs: Refs | None = None,
) -> Table:
    """Return a two-column table of one meeting's details (``refs``: meetings' refs)."""
    table = _table(view.title, show_header=False)
    _short(table, "field", style="bold")
    _words(table, "value")
    for field, shown, _ in _meeting_rows(
        view, parent=parent, children=children, deadlines=deadlines,
        registration=registration, refs=refs,
    ):
        table.add_row(field, shown)
    return table


def meeting_csv(
    view: MeetingView,
    *,
    parent: MeetingView | None,
    children: list[MeetingView],
    deadlines: list[DeadlineView],
    registration: RegistrationView | None,
    refs: Refs | None = None,
) -> Rows:
    """Return a meeting's details as CSV: one row per field (ids whole, times in ISO)."""
    rows = _meeting_rows(
        view, parent=parent, children=children, deadlines=deadlines,
        registration=registration, refs=refs,
    )
    return ["field", "value"], [[field, value] for field, _, value in rows]


# -- deadlines -------------------------------------------------------------------------------


def deadlines_table(
    views: list[DeadlineView], meetings: Mapping[Any, str], *, refs: Refs | None = None
) -> Table:
    """Return one row per deadline: due, title (and kind), meeting, status, ref.

    ``meetings``: meeting titles by id; ``refs``: the deadlines' short references (by
    default, among those shown).
    """
    refs = short_refs(v.deadline_id for v in views) if refs is None else refs
    table = _table("Deadlines")
    _short(table, "due")
    _words(table, "title (kind)")
    _words(table, "meeting")
    _short(table, "status")
    _short(table, "ref")
    for view in views:
        meeting = "" if view.meeting_id is None else meetings.get(view.meeting_id, "")
        table.add_row(
            due_text(view).replace(" (", "\n("), f"{view.title} ({view.kind.value})", meeting,
            view.status, _ref(refs, view.deadline_id),
        )
    return table


def deadlines_csv(
    views: list[DeadlineView], meetings: Mapping[Any, str], *, refs: Refs | None = None
) -> Rows:
    """Return one CSV row per deadline, with its due time in ISO and its ids whole."""
    header = ["deadline_id", "ref", "title", "kind", "due", "meeting_id", "meeting",
              "organisation_id", "public", "status", "extensions"]
    rows = [
        [
            v.deadline_id, _ref(refs, v.deadline_id), v.title, v.kind, v.due, v.meeting_id,
            "" if v.meeting_id is None else meetings.get(v.meeting_id, ""), v.organisation_id,
            v.public, v.status, v.extensions,
        ]
        for v in views
    ]
    return header, rows


# -- history -------------------------------------------------------------------------------


def history_table(
    title: str, entries: Sequence[HistoryEntry | tuple[str, HistoryEntry]]
) -> Table:
    """Return a meeting's audit trail: position, when recorded (UTC), who, what.

    An entry may come with the title of the part of the meeting (a session, a side
    event) it is about, as ``(title, entry)``: its text then starts with ``[title]``.
    A decision recorded after it took effect (the minutes written up later) says when
    it took effect.
    """
    table = _table(f"History of {title}")
    _short(table, "#", justify="right")
    _short(table, "recorded (UTC)")
    _words(table, "by")
    _words(table, "what")
    for item in entries:
        part, entry = item if isinstance(item, tuple) else ("", item)
        recorded = pendulum.instance(entry.recorded_at).in_timezone("UTC")
        text = f"[{part}] {entry.text}" if part else entry.text
        if entry.backdated:
            text += f" (decided {moment(entry.effective_at)})"
        table.add_row(str(entry.position), recorded.strftime("%Y-%m-%d %H:%M"), entry.actor, text)
    return table


def history_csv(entries: Sequence[tuple[uuid.UUID, str, HistoryEntry]]) -> Rows:
    """Return a history as CSV: one row per entry, with the meeting it is about."""
    header = ["position", "recorded_at", "effective_at", "actor", "type", "meeting_id",
              "meeting", "text"]
    rows = [
        [e.position, e.recorded_at, e.effective_at, e.actor, e.type, meeting_id, title, e.text]
        for meeting_id, title, e in entries
    ]
    return header, rows


# -- feed tokens -------------------------------------------------------------------------------


def _issued(token: FeedTokenView) -> str:
    return moment(pendulum.instance(token.issued_at).in_timezone(DEFAULT_ZONE))


def tokens_table(organisation: str, tokens: list[FeedTokenView]) -> Table:
    """Return an organisation's live feed tokens: ref, label, when issued."""
    table = _table(f"Live feed tokens of {organisation}")
    _short(table, "ref")
    _words(table, "label")
    _short(table, "issued")
    for token in tokens:
        table.add_row(token.ref, token.label, _issued(token))
    return table


def tokens_csv(tokens: list[FeedTokenView]) -> Rows:
    """Return an organisation's live feed tokens as CSV (ids whole, issue time in ISO)."""
    return (
        ["token_id", "ref", "label", "issued_at"],
        [[t.token_id, t.ref, t.label, t.issued_at] for t in tokens],
    )
