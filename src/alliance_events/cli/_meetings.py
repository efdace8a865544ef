"""``meeting`` and ``history``: the calendar, and what happened to a meeting."""

from __future__ import annotations

from typing import Any

import click

from alliance_events import MeetingKind, MeetingView, describe_when
from alliance_events.app import AsOf
from alliance_events.cli._common import (
    as_of_option,
    command_id_option,
    console,
    emit_json,
    json_option,
    main,
    open_alliance,
    plain,
    recorded_as,
    when_arguments,
    when_options,
)
from alliance_events.cli._tables import history_table, meeting_table, meetings_table

__all__ = ["history", "meeting"]

_KINDS = click.Choice([k.value for k in MeetingKind])


@main.group()
def meeting() -> None:
    """Meetings: schedule, move, confirm, cancel, show, list."""


@meeting.command("schedule")
@click.argument("title")
@click.option("--kind", type=_KINDS, default=MeetingKind.INFORMAL_MEETING.value, show_default=True)
@when_options
@click.option("--location", default="", help="Where it takes place.")
@click.option("--online-url", default="", help="The address to join online.")
@click.option("--parent", default=None, help="The meeting it is part of (id or title).")
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
        view = next(m for m in alliance.meetings() if m.meeting_id == meeting_id)
    if as_json:
        emit_json(view)
    else:
        click.echo(
            f"scheduled {'tentatively ' if tentative else ''}{title!r}, "
            f"{describe_when(view.when)}: {meeting_id}"
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
    click.echo(f"confirmed {meeting_id}")


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
    click.echo(f"cancelled {meeting_id}")


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
    click.echo(f"reinstated {meeting_id}")


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
    click.echo(f"attached {url} to {meeting_id}")


@meeting.command("show")
@click.argument("name", metavar="MEETING")
@as_of_option
@json_option
@click.pass_context
def meeting_show(context: click.Context, *, name: str, as_of: AsOf, as_json: bool) -> None:
    """Show MEETING: when, where, status, parts, registration, deadlines, links."""
    with open_alliance(context, read_only=True, quiet=as_json) as alliance:
        meeting_id = alliance.find_meeting(name)
        registration = alliance.registration(meeting_id, as_of=as_of)
        view = registration.meeting
        everything = {m.meeting_id: m for m in alliance.meetings(as_of=as_of)}
        parent = None if view.parent_id is None else everything.get(view.parent_id)
        children = [m for m in everything.values() if m.parent_id == meeting_id]
        deadlines = list(registration.deadlines)
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
    console().print(
        meeting_table(
            view, parent=parent, children=children, deadlines=deadlines,
            registration=registration,
        )
    )


def _meeting_json(view: MeetingView) -> dict[str, Any]:
    data: dict[str, Any] = plain(view)
    data["links"] = [{"kind": k, "url": u, "title": t} for k, u, t in data["links"]]
    return data


@meeting.command("list")
@click.option("--kind", type=_KINDS, default=None, help="Only meetings of this kind.")
@click.option("--parent", default=None, help="Only the parts of this meeting.")
@click.option("--cancelled/--no-cancelled", "include_cancelled", default=True,
              show_default=True, help="Show cancelled meetings.")
@as_of_option
@json_option
@click.pass_context
def meeting_list(
    context: click.Context,
    *,
    kind: str | None,
    parent: str | None,
    include_cancelled: bool,
    as_of: AsOf,
    as_json: bool,
) -> None:
    """List the meetings by start time."""
    with open_alliance(context, read_only=True, quiet=as_json) as alliance:
        parent_id = None if parent is None else alliance.find_meeting(parent)
        views = alliance.meetings(
            as_of=as_of, kind=kind, parent=parent_id, include_cancelled=include_cancelled
        )
    if as_json:
        emit_json([_meeting_json(v) for v in views])
    else:
        console().print(meetings_table(views))


@main.command()
@click.argument("name", metavar="MEETING")
@as_of_option
@json_option
@click.pass_context
def history(context: click.Context, *, name: str, as_of: AsOf, as_json: bool) -> None:
    """Show MEETING's audit trail: who did what, and when it was recorded."""
    with open_alliance(context, read_only=True, quiet=as_json) as alliance:
        meeting_id = alliance.find_meeting(name)
        entries = alliance.history(meeting_id, as_of=as_of)
        title = alliance.registration(meeting_id, as_of=as_of).meeting.title
    if as_json:
        emit_json(entries)
    else:
        console().print(history_table(title, entries))
