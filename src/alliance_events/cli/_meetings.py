"""``meeting`` and ``history``: the calendar, and what happened to a meeting."""

from __future__ import annotations

from typing import Any

import click

from alliance_events import MeetingKind, MeetingView, describe_when
from alliance_events.app import Alliance, AsOf
from alliance_events.cli._common import (
    as_of_option,
    command_id_option,
    console,
    csv_option,
    emit_csv,
    emit_json,
    json_option,
    main,
    one_format,
    open_alliance,
    plain,
    recorded_as,
    seen,
    when_arguments,
    when_options,
)
from alliance_events.cli._tables import (
    history_csv,
    history_table,
    meeting_csv,
    meeting_label,
    meeting_table,
    meetings_csv,
    meetings_table,
)

__all__ = ["history", "meeting"]

_KINDS = click.Choice([k.value for k in MeetingKind])


@main.group()
def meeting() -> None:
    """Meetings: schedule, move, confirm, cancel, show, list.

    A MEETING is named by its title, by its title and a day ('Informal Meeting
    2023-04-19'), by a day alone (when one meeting is on it), by its ref (as the
    tables show it), by a beginning of its id, or by its id.
    """


def _view(alliance: Alliance, meeting_id: object) -> MeetingView:
    return next(m for m in alliance.meetings() if m.meeting_id == meeting_id)


@meeting.command("schedule")
@click.argument("title")
@click.option("--kind", type=_KINDS, default=MeetingKind.INFORMAL_MEETING.value,
              show_default=True, help="What kind of meeting it is.")
@when_options
@click.option("--location", default="", help="Where it takes place.")
@click.option("--online-url", default="", help="The address to join online.")
@click.option("--parent", default=None,
              help="The meeting it is part of (its title, 'TITLE DATE', ref or id).")
@click.option("--tentative", is_flag=True, help="Planned, not confirmed yet.")
@click.option("--organiser", default="", help="Who organises it.")
@click.option("--description", default="", help="What it is about.")
@json_option
@command_id_option
@click.pass_context
def meeting_schedule(
    context: click.Context,
    *,
    title: str,
    kind: str,
    start: str | None,
    end: str | None,
    zone: str,
    first_day: str | None,
    last_day: str | None,
    disambiguate: str | None,
    location: str,
    online_url: str,
    parent: str | None,
    tentative: bool,
    organiser: str,
    description: str,
    as_json: bool,
) -> None:
    """Put a meeting called TITLE in the calendar.

    Timed: --start '2023-04-19 15:00' --end 16:30 --zone Europe/Vienna.
    All day: --first-day 2023-05-30 --last-day 2023-05-31.
    """
    with open_alliance(context, quiet=as_json) as alliance:
        parent_id = None if parent is None else alliance.find_meeting(parent)
        meeting_id = alliance.schedule_meeting(
            title=title, kind=kind,
            **when_arguments(start, end, zone, first_day, last_day, disambiguate),
            location=location, online_url=online_url, parent=parent_id, tentative=tentative,
            organiser=organiser, description=description, **recorded_as(context),
        )
        view = _view(alliance, meeting_id)
        ref = alliance.references("meeting")[meeting_id]
    if as_json:
        emit_json(view)
    else:
        click.echo(
            f"scheduled {'tentatively ' if tentative else ''}{title!r}, "
            f"{describe_when(view.when)} (ref {ref})"
        )


@meeting.command("reschedule")
@click.argument("name", metavar="MEETING")
@when_options
@click.option("--reason", default="", help="Why it moves (shown in the history).")
@command_id_option
@click.pass_context
def meeting_reschedule(
    context: click.Context,
    *,
    name: str,
    start: str | None,
    end: str | None,
    zone: str,
    first_day: str | None,
    last_day: str | None,
    disambiguate: str | None,
    reason: str,
) -> None:
    """Move MEETING (its calendar entry keeps its UID; its SEQUENCE rises)."""
    with open_alliance(context) as alliance:
        meeting_id = alliance.find_meeting(name)
        alliance.reschedule_meeting(
            meeting_id, **when_arguments(start, end, zone, first_day, last_day, disambiguate),
            reason=reason, **recorded_as(context),
        )
        view = alliance.registration(meeting_id).meeting
    click.echo(f"moved {view.title!r} to {describe_when(view.when)}")


@meeting.command("confirm")
@click.argument("name", metavar="MEETING")
@command_id_option
@click.pass_context
def meeting_confirm(context: click.Context, *, name: str) -> None:
    """Confirm a tentative MEETING."""
    with open_alliance(context) as alliance:
        meeting_id = alliance.find_meeting(name)
        alliance.confirm_meeting(meeting_id, **recorded_as(context))
        view = _view(alliance, meeting_id)
    click.echo(f"confirmed {meeting_label(view)}")


@meeting.command("cancel")
@click.argument("name", metavar="MEETING")
@click.option("--reason", default="", help="Why (shown in the calendar and the history).")
@command_id_option
@click.pass_context
def meeting_cancel(context: click.Context, *, name: str, reason: str) -> None:
    """Cancel MEETING (it stays in the calendar, marked cancelled, with its parts)."""
    with open_alliance(context) as alliance:
        meeting_id = alliance.find_meeting(name)
        alliance.cancel_meeting(meeting_id, reason=reason, **recorded_as(context))
        view = _view(alliance, meeting_id)
    click.echo(f"cancelled {meeting_label(view)}")


@meeting.command("reinstate")
@click.argument("name", metavar="MEETING")
@click.option("--reason", required=True, help="Why the cancellation is taken back.")
@command_id_option
@click.pass_context
def meeting_reinstate(context: click.Context, *, name: str, reason: str) -> None:
    """Take back the cancellation of MEETING."""
    with open_alliance(context) as alliance:
        meeting_id = alliance.find_meeting(name)
        alliance.reinstate_meeting(meeting_id, reason=reason, **recorded_as(context))
        view = _view(alliance, meeting_id)
    click.echo(f"reinstated {meeting_label(view)}: {view.status.value}")


@meeting.command("link")
@click.argument("name", metavar="MEETING")
@click.argument("url")
@click.option("--kind", default="report", show_default=True,
              help="report, recording, documents, presentation, website or other.")
@click.option("--title", default="", help="The link's text.")
@command_id_option
@click.pass_context
def meeting_link(context: click.Context, *, name: str, url: str, kind: str, title: str) -> None:
    """Attach a report, recording or document at URL to MEETING."""
    with open_alliance(context) as alliance:
        meeting_id = alliance.find_meeting(name)
        alliance.attach_link(meeting_id, url=url, kind=kind, title=title,
                             **recorded_as(context))
        view = _view(alliance, meeting_id)
    click.echo(f"attached {url} to {meeting_label(view)}")


@meeting.command("show")
@click.argument("name", metavar="MEETING")
@as_of_option
@json_option
@csv_option
@click.pass_context
def meeting_show(
    context: click.Context, *, name: str, as_of: AsOf, as_json: bool, as_csv: bool
) -> None:
    """Show MEETING: when, where, status, parts, registration, deadlines, links."""
    one_format(as_json=as_json, as_csv=as_csv)
    with open_alliance(context, read_only=True, quiet=as_json or as_csv) as alliance:
        meeting_id = alliance.find_meeting(name)
        registration = alliance.registration(meeting_id, **seen(context, as_of))
        view = registration.meeting
        everything = {m.meeting_id: m for m in alliance.meetings(**seen(context, as_of))}
        parent = None if view.parent_id is None else everything.get(view.parent_id)
        children = [m for m in everything.values() if m.parent_id == meeting_id]
        deadlines = list(registration.deadlines)
        refs = alliance.references("meeting")
    if as_json:
        emit_json(
            {
                **_meeting_json(view),
                "children": [m.meeting_id for m in children],
                "registration": None if registration.window == "none" else {
                    "window": registration.window, "opens_at": registration.opens_at,
                    "closes_at": registration.closes_at, "capacity": registration.capacity,
                    "seats_taken": registration.seats_taken,
                    "waiting": len(registration.waiting_list),
                },
                "deadlines": deadlines,
            }
        )
        return
    details: dict[str, Any] = {
        "parent": parent, "children": children, "deadlines": deadlines,
        "registration": registration, "refs": refs,
    }
    if as_csv:
        emit_csv(*meeting_csv(view, **details))
    else:
        console().print(meeting_table(view, **details))


def _meeting_json(view: MeetingView) -> dict[str, Any]:
    data: dict[str, Any] = plain(view)
    data["links"] = [{"kind": k, "url": u, "title": t} for k, u, t in data["links"]]
    return data


@meeting.command("list")
@click.option("--kind", type=_KINDS, default=None, help="Only meetings of this kind.")
@click.option("--parent", default=None, help="Only the parts of this meeting.")
@click.option("--cancelled/--no-cancelled", "include_cancelled", default=True,
              show_default=True, help="Show cancelled meetings.")
@click.option("--upcoming", is_flag=True,
              help="Only the meetings not ended yet (as of now, or of --as-of).")
@click.option("--from", "from_day", default=None, metavar="DATE",
              help="Only the meetings on this day (2023-04-01) or later.")
@click.option("--to", "to_day", default=None, metavar="DATE",
              help="Only the meetings on this day (2023-04-30) or earlier.")
@as_of_option
@json_option
@csv_option
@click.pass_context
def meeting_list(
    context: click.Context,
    *,
    kind: str | None,
    parent: str | None,
    include_cancelled: bool,
    upcoming: bool,
    from_day: str | None,
    to_day: str | None,
    as_of: AsOf,
    as_json: bool,
    as_csv: bool,
) -> None:
    """List the meetings by start time (their days local to their zones)."""
    one_format(as_json=as_json, as_csv=as_csv)
    with open_alliance(context, read_only=True, quiet=as_json or as_csv) as alliance:
        parent_id = None if parent is None else alliance.find_meeting(parent)
        views = alliance.meetings(
            **seen(context, as_of), kind=kind, parent=parent_id,
            include_cancelled=include_cancelled, upcoming=upcoming, from_day=from_day,
            to_day=to_day,
        )
        refs = alliance.references("meeting")
    if as_json:
        emit_json([_meeting_json(v) for v in views])
    elif as_csv:
        emit_csv(*meetings_csv(views, refs=refs))
    else:
        console().print(meetings_table(views, refs=refs))


@main.command()
@click.argument("name", metavar="MEETING")
@click.option("--parts/--no-parts", default=True, show_default=True,
              help="Include what happened to its sessions and side events (and theirs).")
@as_of_option
@json_option
@csv_option
@click.pass_context
def history(
    context: click.Context, *, name: str, parts: bool, as_of: AsOf, as_json: bool, as_csv: bool
) -> None:
    """Show MEETING's audit trail: who did what, and when it was recorded.

    The entries of its sessions and side events start with their title in brackets.
    """
    one_format(as_json=as_json, as_csv=as_csv)
    with open_alliance(context, read_only=True, quiet=as_json or as_csv) as alliance:
        meeting_id = alliance.find_meeting(name)
        if parts:
            found = alliance.history_with_parts(meeting_id, **seen(context, as_of))
        else:
            found = [(meeting_id, e) for e in alliance.history(meeting_id, **seen(context, as_of))]
        titles = {m.meeting_id: m.title for m in alliance.meetings(**seen(context, as_of))}
    title = titles[meeting_id]
    if as_json:
        emit_json([
            {**plain(entry), "meeting_id": about, "meeting": titles.get(about, "")}
            for about, entry in found
        ])
    elif as_csv:
        emit_csv(*history_csv([(about, titles.get(about, ""), e) for about, e in found]))
    else:
        console().print(history_table(title, [
            ("" if about == meeting_id else titles.get(about, str(about)), entry)
            for about, entry in found
        ]))
