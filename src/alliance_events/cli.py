"""The ``alliance-events`` command line (click for commands, rich for tables).

Every command takes ``--db`` (a path or a URL; default ``./alliance.db``, or the
``ALLIANCE_EVENTS_DB`` environment variable). A refused command prints one line naming
the rule and exits with status 2.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from alliance_events.app import Alliance
from alliance_events.errors import AllianceEventsError
from alliance_events.projections.registration import RegistrationView

__all__ = ["main"]

DB_ENV = "ALLIANCE_EVENTS_DB"
DEFAULT_DB = "alliance.db"

F = TypeVar("F", bound=Callable[..., Any])


def _console() -> Console:
    # No markup: titles and names are users' text, and "[rule: quota]" is not a style.
    return Console(highlight=False, markup=False, soft_wrap=True)


def refusals_exit(function: F) -> F:
    """Turn the library's errors into one line on stderr and exit status 2."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except AllianceEventsError as error:
            click.echo(f"refused: {error}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


@contextmanager
def _alliance(db: str, **kwargs: Any) -> Iterator[Alliance]:
    url = db if "://" in db or db.startswith("memory:") else f"sqlite:///{db}"
    with Alliance.open(url, **kwargs) as alliance:
        yield alliance


@click.group()
@click.version_option(package_name="alliance-events")
@click.option(
    "--db",
    envvar=DB_ENV,
    default=DEFAULT_DB,
    show_default=True,
    help=f"The event log: a SQLite path, sqlite:///…, postgresql://… (env {DB_ENV}).",
)
@click.pass_context
def main(context: click.Context, db: str) -> None:
    """Keep the alliance's calendar and delegate registrations."""
    context.obj = {"db": db}


def registration_table(view: RegistrationView) -> Table:
    """Return a table of a meeting's delegations, seats and waiting list."""
    meeting = view.meeting
    seats = (
        f"{view.seats_taken} taken"
        if view.capacity is None
        else f"{view.seats_taken}/{view.capacity} taken, {view.seats_free} free"
    )
    caption = f"registration {view.window} · {seats} · funded {view.funded_used}" + (
        f"/{view.funded_places}" if view.funded_places is not None else ""
    )
    table = Table(title=meeting.title, caption=caption, title_justify="left")
    for column in ("organisation", "delegate", "role", "status", "funding"):
        table.add_column(column)
    for delegation in view.delegations:
        for delegate in delegation.delegates:
            status = delegate.status.value
            if delegate.waiting_position is not None:
                status += f" #{delegate.waiting_position}"
            funding = (
                "funded" if delegate.funded else "requested" if delegate.funding_requested else ""
            )
            table.add_row(
                delegate.organisation, delegate.person, delegate.role.value, status, funding
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


@main.command()
@click.pass_context
@refusals_exit
def demo(context: click.Context) -> None:
    """Record the minutes of 22 March 2023 into the log, then show the registrations."""
    from alliance_events.demo import DEMO_END, DemoClock, record_minutes  # noqa: PLC0415

    clock = DemoClock()
    console = _console()
    with _alliance(context.obj["db"], clock=clock) as alliance:
        before = alliance.log.head()
        recorded = record_minutes(alliance, clock=clock)
        after = alliance.log.head()
        console.print(
            f"Recorded {after - before} events in {context.obj['db']} "
            f"({after} in the log); the story ends on {DEMO_END.to_date_string()}."
        )
        views = [
            alliance.registration(m.meeting_id)
            for m in alliance.meetings()
            if alliance.state.meetings[m.meeting_id].registration is not None
        ]
        console.print(summary_table(views))
        dialogue = alliance.registration(recorded.meetings["firearms-dialogue"])
        console.print(registration_table(dialogue))
        console.print("The rules refused, as they must:")
        for refusal in recorded.refusals:
            console.print(f"  · {refusal}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="The port to listen on.")
@click.option(
    "--base-url",
    default=None,
    help="The public address the subscribe links start with (https://…); "
    "by default each request's own host.",
)
@click.option(
    "--poll-interval", default=0.5, show_default=True, type=float,
    help="Seconds between two looks at the log for new events.",
)
@click.pass_context
@refusals_exit
def serve(
    context: click.Context, host: str, port: int, base_url: str | None, poll_interval: float
) -> None:
    """Serve the calendar feeds over HTTP, following the log (Ctrl-C stops).

    The access log is off: organisations' feed addresses carry their tokens.
    """
    import uvicorn  # noqa: PLC0415 - only this command needs the server

    from alliance_events.web import create_app  # noqa: PLC0415

    # uvicorn's own logging, plus the feed server's (its errors, retried), on stderr.
    log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    log_config["loggers"]["alliance_events"] = {"handlers": ["default"], "level": "INFO"}
    with _alliance(context.obj["db"]) as alliance:
        app = create_app(alliance, base_url=base_url, poll_interval=poll_interval)
        # uvicorn shuts down gracefully on Ctrl-C, then raises the signal again.
        with contextlib.suppress(KeyboardInterrupt):
            uvicorn.run(
                app, host=host, port=port, access_log=False, lifespan="on",
                log_level="info", log_config=log_config, server_header=False,
            )
        click.echo("stopped", err=True)


if __name__ == "__main__":  # pragma: no cover
    main(prog_name=os.path.basename(sys.argv[0]))
