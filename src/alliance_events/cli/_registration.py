"""``registration``, the nominations and ``deadline``: who comes, and what is due."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from alliance_events import DEFAULT_ZONE, DeadlineKind, DeadlineView, Role
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
    nomination_of,
    one_format,
    open_alliance,
    recorded_as,
    seen,
)
from alliance_events.cli._tables import (
    deadlines_csv,
    deadlines_table,
    due_text,
    meeting_label,
    registration_csv,
    registration_table,
    summary_csv,
    summary_table,
    window_text,
)

__all__ = [
    "confirm_nomination",
    "deadline",
    "decline_nomination",
    "nominate",
    "registration",
    "withdraw",
]

_ROLES = click.Choice([r.value for r in Role])


def _quotas(values: tuple[str, ...]) -> dict[Role | str, int]:
    quotas: dict[Role | str, int] = {}
    for value in values:
        role, sep, limit = value.partition("=")
        if not sep or not limit.strip().isdigit():
            raise click.BadParameter(
                f"{value!r}: write ROLE=N, such as speaker=1", param_hint="--quota"
            )
        if role.strip() not in _ROLES.choices:
            raise click.BadParameter(
                f"{value!r}: the role is one of {', '.join(_ROLES.choices)}",
                param_hint="--quota",
            )
        quotas[role.strip()] = int(limit)
    return quotas


def _capacity(value: str) -> int | None:
    if value.strip().lower() in ("none", "unlimited"):
        return None
    if not value.strip().isdigit():
        raise click.BadParameter(f"{value!r}: a whole number, or 'none'", param_hint="CAPACITY")
    return int(value)


@main.group()
def registration() -> None:
    """Registration for a meeting: window, capacity, quotas, funding."""


@registration.command("open")
@click.argument("name", metavar="MEETING")
@click.option("--opens", required=True,
              help="When it opens: a date (from its start) or a wall time.")
@click.option("--closes", required=True,
              help="When it closes: a date (to its end) or a wall time.")
@click.option("--zone", default=DEFAULT_ZONE, show_default=True,
              help="The zone of --opens and --closes.")
@click.option("--capacity", type=click.IntRange(min=0), default=None,
              help="Seats in the room; over it, nominations wait.")
@click.option("--quota", "quotas", multiple=True, metavar="ROLE=N",
              help="Most delegates of a role per delegation (repeat: --quota speaker=1 "
              "--quota alternate=1).")
@click.option("--funded-places", type=click.IntRange(min=0), default=None,
              help="Funded places in all.")
@click.option("--funded-per-delegation", type=click.IntRange(min=0), default=None,
              help="Funded places per delegation.")
@click.option("--funded-role", "funded_roles", type=_ROLES, multiple=True,
              help="A role that may be funded (repeat).")
@command_id_option
@click.pass_context
def registration_open(
    context: click.Context,
    *,
    name: str,
    opens: str,
    closes: str,
    zone: str,
    capacity: int | None,
    quotas: tuple[str, ...],
    funded_places: int | None,
    funded_per_delegation: int | None,
    funded_roles: tuple[str, ...],
) -> None:
    """Open registration for MEETING."""
    limits = _quotas(quotas)
    with open_alliance(context) as alliance:
        meeting_id = alliance.find_meeting(name)
        alliance.open_registration(
            meeting_id, opens=opens, closes=closes, zone=zone, capacity=capacity,
            quotas=limits, funded_places=funded_places,
            funded_per_delegation=funded_per_delegation, funded_roles=funded_roles,
            **recorded_as(context),
        )
        view = alliance.registration(meeting_id)
    click.echo(f"opened registration for {meeting_label(view.meeting)}: {window_text(view)}")


@registration.command("close")
@click.argument("name", metavar="MEETING")
@click.option("--reason", default="", help="Why (shown in the history).")
@command_id_option
@click.pass_context
def registration_close(context: click.Context, *, name: str, reason: str) -> None:
    """Close registration for MEETING now."""
    with open_alliance(context) as alliance:
        meeting_id = alliance.find_meeting(name)
        alliance.close_registration(meeting_id, reason=reason, **recorded_as(context))
        view = alliance.registration(meeting_id)
    click.echo(f"closed registration for {meeting_label(view.meeting)}")


@registration.command("reopen")
@click.argument("name", metavar="MEETING")
@click.option("--closes", required=True, help="Until when: a date (to its end) or a wall time.")
@click.option("--zone", default=DEFAULT_ZONE, show_default=True, help="The zone of --closes.")
@command_id_option
@click.pass_context
def registration_reopen(context: click.Context, *, name: str, closes: str, zone: str) -> None:
    """Open a closed registration for MEETING again."""
    with open_alliance(context) as alliance:
        meeting_id = alliance.find_meeting(name)
        alliance.reopen_registration(
            meeting_id, closes=closes, zone=zone, **recorded_as(context)
        )
        view = alliance.registration(meeting_id)
    click.echo(f"reopened registration for {meeting_label(view.meeting)}: {window_text(view)}")


@registration.command("capacity")
@click.argument("name", metavar="MEETING")
@click.argument("capacity", metavar="CAPACITY")
@command_id_option
@click.pass_context
def registration_capacity(context: click.Context, *, name: str, capacity: str) -> None:
    """Change MEETING's room CAPACITY (a number, or 'none'); the waiting list moves."""
    seats = _capacity(capacity)
    with open_alliance(context) as alliance:
        meeting_id = alliance.find_meeting(name)
        before = {d.nomination_id for d in alliance.registration(meeting_id).waiting_list}
        alliance.change_capacity(meeting_id, capacity=seats, **recorded_as(context))
        view = alliance.registration(meeting_id)
    after = {d.nomination_id for d in view.waiting_list}
    click.echo(f"capacity of {view.meeting.title!r} is now {'none' if seats is None else seats}")
    for delegation in view.delegations:
        for delegate in delegation.delegates:
            if delegate.nomination_id in before - after:
                click.echo(f"  seated from the waiting list: {delegate.person} "
                           f"({delegate.organisation}, {delegate.role.value})")
            elif delegate.nomination_id in after - before:
                click.echo(f"  back on the waiting list: {delegate.person} "
                           f"({delegate.organisation}, {delegate.role.value})")


@registration.command("quota")
@click.argument("name", metavar="MEETING")
@click.option("--quota", "quotas", multiple=True, metavar="ROLE=N",
              help="Most delegates of a role per delegation (repeat; none: no quotas).")
@command_id_option
@click.pass_context
def registration_quota(context: click.Context, *, name: str, quotas: tuple[str, ...]) -> None:
    """Replace MEETING's per-delegation quotas."""
    limits = _quotas(quotas)
    with open_alliance(context) as alliance:
        meeting_id = alliance.find_meeting(name)
        alliance.change_quota(meeting_id, quotas=limits, **recorded_as(context))
        view = alliance.registration(meeting_id)
    click.echo(f"quotas of {meeting_label(view.meeting)}: "
               + (", ".join(f"{n} {r}" for r, n in limits.items()) or "none"))


@registration.command("show")
@click.argument("name", metavar="MEETING")
@as_of_option
@json_option
@csv_option
@click.pass_context
def registration_show(
    context: click.Context, *, name: str, as_of: AsOf, as_json: bool, as_csv: bool
) -> None:
    """Show MEETING's delegations, seats, waiting list, funding and deadlines.

    Each nomination's ref names it to withdraw, confirm-nomination and
    decline-nomination.
    """
    one_format(as_json=as_json, as_csv=as_csv)
    with open_alliance(context, read_only=True, quiet=as_json or as_csv) as alliance:
        meeting_id = alliance.find_meeting(name)
        view = alliance.registration(meeting_id, **seen(context, as_of))
        refs = alliance.nomination_references(meeting_id)
    if as_json:
        emit_json(view)
    elif as_csv:
        emit_csv(*registration_csv(view, refs=refs))
    else:
        console().print(registration_table(view, refs=refs))


@registration.command("list")
@as_of_option
@json_option
@csv_option
@click.pass_context
def registration_list(context: click.Context, *, as_of: AsOf, as_json: bool, as_csv: bool) -> None:
    """List the meetings with a registration: window, seats, waiting list, deadlines."""
    one_format(as_json=as_json, as_csv=as_csv)
    with open_alliance(context, read_only=True, quiet=as_json or as_csv) as alliance:
        views = [
            view
            for m in alliance.meetings(**seen(context, as_of))
            if (view := alliance.registration(m.meeting_id, **seen(context, as_of))).window
            != "none"
        ]
        refs = alliance.references("meeting")
    if as_json:
        emit_json(views)
    elif as_csv:
        emit_csv(*summary_csv(views, refs=refs))
    else:
        console().print(summary_table(views, refs=refs))


# -- nominations ----------------------------------------------------------------------


@main.command()
@click.argument("name", metavar="MEETING")
@click.argument("person_name", metavar="PERSON")
@click.option("--role", type=_ROLES, required=True, help="The delegate's role.")
@click.option("--organisation", "organisation_name", default=None,
              help="The delegation (default: the person's organisation).")
@click.option("--funding", is_flag=True, help="Funding is requested for this delegate.")
@json_option
@command_id_option
@click.pass_context
def nominate(
    context: click.Context,
    *,
    name: str,
    person_name: str,
    role: str,
    organisation_name: str | None,
    funding: bool,
    as_json: bool,
) -> None:
    """Nominate PERSON as a delegate to MEETING (over capacity: on the waiting list)."""
    with open_alliance(context, quiet=as_json) as alliance:
        meeting_id = alliance.find_meeting(name)
        person_id = alliance.find_person(person_name)
        if organisation_name is not None:
            organisation_id = alliance.find_organisation(organisation_name)
        else:
            found = alliance.state.persons[person_id].organisation_id
            if found is None:
                raise click.UsageError(
                    f"{person_name!r} belongs to no organisation: give --organisation"
                )
            organisation_id = found
        nomination_id = alliance.nominate(
            meeting_id, organisation=organisation_id, person=person_id, role=role,
            funding_requested=funding, **recorded_as(context),
        )
        delegate = next(
            d
            for delegation in alliance.registration(meeting_id).delegations
            for d in delegation.delegates
            if d.nomination_id == nomination_id
        )
        ref = alliance.nomination_references(meeting_id)[nomination_id]
    if as_json:
        emit_json(delegate)
        return
    status = delegate.status.value + (
        f" #{delegate.waiting_position}" if delegate.waiting_position is not None else ""
    )
    click.echo(
        f"nominated {delegate.person} ({delegate.organisation}, {role}): {status} (ref {ref})"
    )


def _on_nomination(
    context: click.Context, name: str, nomination_name: str, act: Callable[..., None], **kw: Any
) -> None:
    """Run ``act(meeting, nomination, actor=..., **kw)`` and say who moved up, if anyone."""
    with open_alliance(context) as alliance:
        meeting_id = alliance.find_meeting(name)
        nomination_id = nomination_of(alliance, meeting_id, nomination_name)
        waiting = {d.nomination_id for d in alliance.registration(meeting_id).waiting_list}
        act(alliance, meeting_id, nomination_id, **recorded_as(context), **kw)
        view = alliance.registration(meeting_id)
    delegates = {d.nomination_id: d for g in view.delegations for d in g.delegates}
    done = delegates[nomination_id]
    click.echo(f"{done.person} ({done.organisation}, {done.role.value}): {done.status.value}")
    for nomination in waiting - {d.nomination_id for d in view.waiting_list}:
        seated = delegates[nomination]
        if seated.status.holds_seat:
            click.echo(f"  seated from the waiting list: {seated.person} "
                       f"({seated.organisation}, {seated.role.value})")


_MEETING = click.argument("name", metavar="MEETING")
_NOMINATION = click.argument("nomination_name", metavar="NOMINATION")


@main.command()
@_MEETING
@_NOMINATION
@click.option("--reason", default="", help="Why (shown in the history).")
@command_id_option
@click.pass_context
def withdraw(context: click.Context, *, name: str, nomination_name: str, reason: str) -> None:
    """Withdraw NOMINATION (its ref, or the delegate's name) from MEETING.

    The organisation withdraws its delegate; the first on the waiting list takes the seat.
    """
    _on_nomination(context, name, nomination_name, Alliance.withdraw_nomination, reason=reason)


@main.command("confirm-nomination")
@_MEETING
@_NOMINATION
@click.option("--funded", is_flag=True, help="Confirm with funding (within the caps).")
@command_id_option
@click.pass_context
def confirm_nomination(
    context: click.Context, *, name: str, nomination_name: str, funded: bool
) -> None:
    """Confirm NOMINATION (its ref, or the delegate's name) to MEETING.

    --funded is refused when the registration offers no funded places.
    """
    _on_nomination(context, name, nomination_name, Alliance.confirm_nomination, funded=funded)


@main.command("decline-nomination")
@_MEETING
@_NOMINATION
@click.option("--reason", default="", help="Why (shown in the history).")
@command_id_option
@click.pass_context
def decline_nomination(
    context: click.Context, *, name: str, nomination_name: str, reason: str
) -> None:
    """Decline NOMINATION (its ref, or the delegate's name) to MEETING.

    The secretariat declines the delegate; the first on the waiting list takes the seat.
    """
    _on_nomination(context, name, nomination_name, Alliance.decline_nomination, reason=reason)


# -- deadlines ------------------------------------------------------------------------


@main.group()
def deadline() -> None:
    """Deadlines: set, extend, cancel, list."""


@deadline.command("set")
@click.argument("title")
@click.option("--due", required=True,
              help="A date (due by the end of that day) or a wall time (due at it).")
@click.option("--zone", default=DEFAULT_ZONE, show_default=True, help="The zone of --due.")
@click.option("--kind", type=click.Choice([k.value for k in DeadlineKind]),
              default=DeadlineKind.OTHER.value, show_default=True,
              help="What is due: names of delegates, a registration, nominations, a "
              "submission, or other.")
@click.option("--meeting", "meeting_name", default=None, help="The meeting it is for.")
@click.option("--organisation", "organisation_name", default=None,
              help="The organisation it is for (only it sees the deadline in its feed).")
@click.option("--reminder", "reminders", multiple=True, metavar="DURATION",
              help="A reminder before it: P7D, P1D, PT2H (repeat).")
@click.option("--private", is_flag=True, help="Not in the public calendar.")
@click.option("--description", default="", help="What is due, and how to send it.")
@json_option
@command_id_option
@click.pass_context
def deadline_set(
    context: click.Context,
    *,
    title: str,
    due: str,
    zone: str,
    kind: str,
    meeting_name: str | None,
    organisation_name: str | None,
    reminders: tuple[str, ...],
    private: bool,
    description: str,
    as_json: bool,
) -> None:
    """Set a deadline called TITLE."""
    with open_alliance(context, quiet=as_json) as alliance:
        meeting_id = None if meeting_name is None else alliance.find_meeting(meeting_name)
        organisation_id = (
            None if organisation_name is None else alliance.find_organisation(organisation_name)
        )
        deadline_id = alliance.set_deadline(
            title=title, due=due, zone=zone, kind=kind, meeting=meeting_id,
            organisation=organisation_id, reminders=reminders, public=not private,
            description=description, **recorded_as(context),
        )
        view = next(
            d for d in alliance.deadlines(include_cancelled=True) if d.deadline_id == deadline_id
        )
        ref = alliance.references("deadline")[deadline_id]
    if as_json:
        emit_json(view)
    else:
        click.echo(f"set the deadline {title!r}, due {due_text(view)} ({view.status}; "
                   f"ref {ref})")


@deadline.command("extend")
@click.argument("name", metavar="DEADLINE")
@click.option("--due", required=True, help="The new due date or time.")
@click.option("--zone", default=DEFAULT_ZONE, show_default=True, help="The zone of --due.")
@click.option("--reason", default="", help="Why (shown in the history).")
@command_id_option
@click.pass_context
def deadline_extend(context: click.Context, *, name: str, due: str, zone: str, reason: str) -> None:
    """Move DEADLINE (its title, ref or id) later."""
    with open_alliance(context) as alliance:
        deadline_id = alliance.find_deadline(name)
        alliance.extend_deadline(
            deadline_id, due=due, zone=zone, reason=reason, **recorded_as(context)
        )
        view = _deadline(alliance, deadline_id)
    click.echo(f"extended the deadline {view.title!r} to {due_text(view)} ({view.status})")


@deadline.command("cancel")
@click.argument("name", metavar="DEADLINE")
@click.option("--reason", default="", help="Why (shown in the history).")
@command_id_option
@click.pass_context
def deadline_cancel(context: click.Context, *, name: str, reason: str) -> None:
    """Cancel DEADLINE (its title, ref or id)."""
    with open_alliance(context) as alliance:
        deadline_id = alliance.find_deadline(name)
        alliance.cancel_deadline(deadline_id, reason=reason, **recorded_as(context))
        view = _deadline(alliance, deadline_id)
    click.echo(f"cancelled the deadline {view.title!r} (due {due_text(view)})")


@deadline.command("list")
@click.option("--meeting", "meeting_name", default=None, help="Only this meeting's deadlines.")
@click.option("--organisation", "organisation_name", default=None,
              help="What this organisation sees: its own deadlines and the public ones.")
@click.option("--cancelled", "include_cancelled", is_flag=True, help="Show cancelled ones too.")
@as_of_option
@json_option
@csv_option
@click.pass_context
def deadline_list(
    context: click.Context,
    *,
    meeting_name: str | None,
    organisation_name: str | None,
    include_cancelled: bool,
    as_of: AsOf,
    as_json: bool,
    as_csv: bool,
) -> None:
    """List deadlines by due time: upcoming, due soon, overdue."""
    one_format(as_json=as_json, as_csv=as_csv)
    with open_alliance(context, read_only=True, quiet=as_json or as_csv) as alliance:
        meeting_id = None if meeting_name is None else alliance.find_meeting(meeting_name)
        organisation_id = (
            None if organisation_name is None else alliance.find_organisation(organisation_name)
        )
        views = alliance.deadlines(
            **seen(context, as_of), meeting=meeting_id, organisation=organisation_id,
            include_cancelled=include_cancelled,
        )
        titles: dict[object, str] = {m.meeting_id: m.title for m in alliance.meetings()}
        refs = alliance.references("deadline")
    if as_json:
        emit_json(views)
    elif as_csv:
        emit_csv(*deadlines_csv(views, titles, refs=refs))
    else:
        console().print(deadlines_table(views, titles, refs=refs))


def _deadline(alliance: Alliance, deadline_id: object) -> DeadlineView:
    return next(
        d for d in alliance.deadlines(include_cancelled=True) if d.deadline_id == deadline_id
    )
