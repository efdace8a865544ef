"""The tables and lines the commands print (rich tables, users' text without markup)."""

from __future__ import annotations

import datetime as _dt

import pendulum
from rich.table import Table

from alliance_events import (
    DeadlineView,
    HistoryEntry,
    MeetingStatus,
    MeetingView,
    RegistrationView,
    describe_moment,
    describe_when,
    zone_label,
)

__all__ = [
    "deadlines_table",
    "due_text",
    "history_table",
    "meeting_table",
    "meetings_table",
    "moment",
    "registration_table",
    "summary_table",
]


def moment(value: _dt.datetime) -> str:
    """Say a time in its own zone: ``21 Mar 2023 10:00 Europe/Vienna``."""
    return describe_moment(value)


def due_text(deadline: DeadlineView) -> str:
    """Say when a deadline is due: ``by 01 May 2023`` (the whole day) or at a time."""
    due = deadline.due
    if (due.hour, due.minute, due.second) == (0, 0, 0):
        day = due - _dt.timedelta(days=1)
        return f"by {day.strftime('%d %b %Y')} ({zone_label(due)})"
    return f"at {moment(due)}"


def _window(view: RegistrationView) -> str:
    if view.opens_at is None or view.closes_at is None:
        return "registration: none"
    return (
        f"registration {view.window}: {moment(view.opens_at)} to {moment(view.closes_at)}"
    )


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


def registration_table(view: RegistrationView) -> Table:
    """Return a table of a meeting's delegations, seats, waiting list and deadlines.

    One row per delegate, grouped by organisation (a line between delegations); the
    caption says the window, the seats against the capacity, the quotas, the funding,
    the deadlines (due or overdue) and the speaking requests.
    """
    meeting = view.meeting
    caption = [_window(view), _seats(view)]
    caption.extend(
        f"deadline: {d.title}, due {due_text(d)}: {d.status}" for d in view.deadlines
    )
    caption.extend(
        f"speaking: {organisation} on {day.strftime('%d %b %Y')}" + (f" ({topic})" if topic else "")
        for organisation, day, topic in view.speaking
    )
    status = "" if meeting.status is MeetingStatus.CONFIRMED else f" [{meeting.status.value}]"
    table = Table(
        title=f"{meeting.title}, {describe_when(meeting.when)}{status}",
        caption="\n".join(caption),
        title_justify="left",
        caption_justify="left",
    )
    for column in ("organisation", "delegate", "role", "status", "funding"):
        table.add_column(column)
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
                end_section=index == last,
            )
    return table


def summary_table(views: list[RegistrationView]) -> Table:
    """Return one row per meeting with a registration: window, seats, waiting, deadlines."""
    table = Table(title="Registrations", title_justify="left")
    for column in ("meeting", "when", "window", "seats", "waiting", "funded", "deadlines"):
        table.add_column(column)
    for view in views:
        when = view.meeting.when
        first, last = when.first_day, when.last_day
        days = first.isoformat() if first == last else f"{first.isoformat()} to {last.isoformat()}"
        seats = str(view.seats_taken) + ("" if view.capacity is None else f"/{view.capacity}")
        deadlines = ", ".join(f"{d.title}: {d.status}" for d in view.deadlines)
        funded = "" if view.funded_places is None else f"{view.funded_used}/{view.funded_places}"
        table.add_row(
            view.meeting.title, days, view.window, seats, str(len(view.waiting_list)), funded,
            deadlines,
        )
    return table


def meetings_table(views: list[MeetingView], *, title: str = "Meetings") -> Table:
    """Return one row per meeting: when, title, kind, status, id."""
    table = Table(title=title, title_justify="left")
    table.add_column("when")
    table.add_column("title")
    table.add_column("kind")
    table.add_column("status")
    table.add_column("id", no_wrap=True, min_width=36)
    for view in views:
        table.add_row(
            describe_when(view.when), view.title, view.kind.value, view.status.value,
            str(view.meeting_id),
        )
    return table


def meeting_table(
    view: MeetingView,
    *,
    parent: MeetingView | None,
    children: list[MeetingView],
    deadlines: list[DeadlineView],
    registration: RegistrationView | None,
) -> Table:
    """Return a two-column table of one meeting's details."""
    table = Table(title=view.title, title_justify="left", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    rows: list[tuple[str, str]] = [
        ("id", str(view.meeting_id)),
        ("kind", view.kind.value),
        ("status", view.status.value),
        ("when", describe_when(view.when)),
        ("location", view.location),
        ("online", view.online_url),
        ("organiser", view.organiser),
        ("description", view.description),
        ("part of", "" if parent is None else f"{parent.title} ({parent.meeting_id})"),
    ]
    rows.extend(
        ("includes", f"{c.title}, {describe_when(c.when)} [{c.status.value}]") for c in children
    )
    if registration is not None and registration.window != "none":
        rows.append(("registration", _window(registration).removeprefix("registration ")))
        rows.append(("", _seats(registration)))
    rows.extend(
        ("deadline", f"{d.title}, due {due_text(d)}: {d.status}") for d in deadlines
    )
    rows.extend(
        ("link", f"{kind}: {url}" + (f" ({title})" if title else ""))
        for kind, url, title in view.links
    )
    for field, value in rows:
        if value:
            table.add_row(field, value)
    return table


def deadlines_table(views: list[DeadlineView], meetings: dict[object, str]) -> Table:
    """Return one row per deadline: due, title, kind, meeting, status, id."""
    table = Table(title="Deadlines", title_justify="left")
    for column in ("due", "title", "kind", "meeting", "status"):
        table.add_column(column)
    table.add_column("id", no_wrap=True, min_width=36)
    for view in views:
        meeting = "" if view.meeting_id is None else meetings.get(view.meeting_id, "")
        table.add_row(
            due_text(view), view.title, view.kind.value, meeting, view.status,
            str(view.deadline_id),
        )
    return table


def history_table(title: str, entries: list[HistoryEntry]) -> Table:
    """Return a meeting's audit trail: position, when (UTC), who, what."""
    table = Table(title=f"History of {title}", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("recorded (UTC)", no_wrap=True)
    table.add_column("by")
    table.add_column("what")
    for entry in entries:
        recorded = pendulum.instance(entry.recorded_at).in_timezone("UTC")
        table.add_row(
            str(entry.position), recorded.strftime("%Y-%m-%d %H:%M"), entry.actor, entry.text
        )
    return table
