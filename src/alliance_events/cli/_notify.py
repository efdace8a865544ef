"""``notify``: the reminder outbox (``run``, ``preview``, ``status``)."""

from __future__ import annotations

import contextlib
import datetime as _dt
import signal
from typing import Any, Final

import click
import pendulum
from rich.table import Table

from alliance_events import DEFAULT_ZONE, ConsumerBusyError, Notifier, NotifySettings
from alliance_events.cli._common import console, emit_json, json_option, main, open_alliance
from alliance_events.cli._tables import moment
from alliance_events.mail import SMTP_URL_VARIABLE, SmtpSender, smtp_settings
from alliance_events.notify import Preview, outbox_state, preview

__all__ = ["notify"]

SENDER_VARIABLE: Final = "ALLIANCE_EVENTS_MAIL_FROM"
_MOST: Final = _dt.timedelta(days=366)
_DIGITS: Final = 18  # a position fits in PostgreSQL's bigint


class _Duration(click.ParamType):  # type: ignore[type-arg]
    """An ISO 8601 duration (``PT6H``, ``P7D``) from 0 to 366 days."""

    name = "DURATION"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> _dt.timedelta:
        if isinstance(value, _dt.timedelta):
            return value
        try:
            parsed = pendulum.parse(str(value).strip())
        except Exception:  # noqa: BLE001 - pendulum raises several kinds for bad text
            parsed = None
        if not isinstance(parsed, pendulum.Duration) or parsed.months or parsed.years:
            self.fail(f"{value!r} is not a duration such as PT6H or P7D", param, ctx)
        if not _dt.timedelta(0) <= parsed <= _MOST:
            self.fail(f"{value!r} is outside 0 to 366 days", param, ctx)
        return _dt.timedelta(seconds=parsed.total_seconds())


class _Start(click.ParamType):  # type: ignore[type-arg]
    name = "now|POSITION"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> str | int:
        text = str(value).strip()
        if text == "now":
            return "now"
        if text.isdigit() and len(text) <= _DIGITS:
            return int(text)
        self.fail(f"{value!r} is neither 'now' nor a log position", param, ctx)
        return "now"  # not reached: fail() raises


@main.group()
def notify() -> None:
    """Write to the organisations' focal points: the reminder outbox.

    Deadline reminders go to the organisations that still owe what a deadline asks, a
    meeting cancelled or moved at short notice to those concerned, a nomination's news
    to the nominee and the focal point (`organisation focal-point` names one). Each
    message is recorded before it is sent and after: `notify status` tells.
    """


@notify.command("run")
@click.option("--sender", envvar=SENDER_VARIABLE, required=True,
              help=f"The From address (env {SENDER_VARIABLE}).")
@click.option("--smtp-settings", "settings_file", type=click.Path(dir_okay=False),
              default=None,
              help=f"A file holding the mail server's URL (else env {SMTP_URL_VARIABLE}: "
                   "smtp://user:password@host:587).")
@click.option("--start", "start", type=_Start(), default="now", show_default=True,
              help="Where the outbox starts the first time on this log: now, or after a "
                   "log position. Nothing before it is ever sent.")
@click.option("--grace", type=_Duration(), default="PT6H", show_default=True,
              help="How late a message may still go; later, it is recorded as skipped.")
@click.option("--horizon", type=_Duration(), default="P7D", show_default=True,
              help="A meeting cancelled or moved that starts within this much is urgent.")
@click.option("--retry", "retry_first", type=_Duration(), default="PT30S", show_default=True,
              help="The first wait before a failed sending is retried (it doubles, up to "
                   "1 hour).")
@click.option("--once", is_flag=True, help="One pass, then exit (from cron, say).")
@click.option("--poll-interval", type=click.FloatRange(0.05, 60), default=1.0,
              show_default=True, help="Seconds between looks at a SQLite log.")
@click.pass_context
def notify_run(
    context: click.Context, *, sender: str, settings_file: str | None, start: str | int,
    grace: _dt.timedelta, horizon: _dt.timedelta, retry_first: _dt.timedelta, once: bool,
    poll_interval: float,
) -> None:
    """Send what is due, as it comes due, until stopped (Ctrl-C or SIGTERM)."""
    try:
        mail = smtp_settings(settings_file)
        options = NotifySettings(sender=sender, grace=grace, horizon=horizon,
                                 retry_first=retry_first,
                                 retry_most=max(retry_first, _dt.timedelta(hours=1)))
    except ValueError as error:
        raise click.UsageError(str(error)) from None
    with open_alliance(context) as alliance:
        try:
            worker = Notifier(alliance, SmtpSender(mail), options, start=start,
                              poll_interval=poll_interval)
        except ConsumerBusyError:
            click.echo("error: another `notify run` works on this log; one at a time",
                       err=True)
            raise SystemExit(3) from None
        with worker:
            # SIGTERM stops the worker between passes from here on: before the line that
            # says it started, so that a service manager that waits for it stops it cleanly.
            previous = signal.signal(signal.SIGTERM, lambda *_: worker.stop())
            begun = worker.started
            click.echo(f"outbox started at position {begun.from_position} "
                       f"({moment(begun.from_time.in_timezone(DEFAULT_ZONE))}); sending by "
                       f"{mail.host}:{mail.port}", err=True)

            def report(done: Any) -> None:
                if done.queued or done.sent or done.skipped or done.failed:
                    click.echo(f"sent {done.sent}, decided {done.queued}, skipped "
                               f"{done.skipped}, failed attempts {done.failed}", err=True)

            try:
                if once:
                    report(worker.run_once())
                    return
                with contextlib.suppress(KeyboardInterrupt):
                    worker.run(on_pass=report)
            finally:
                signal.signal(signal.SIGTERM, previous)
            click.echo("stopped", err=True)


@notify.command("preview")
@click.option("--days", type=click.IntRange(1, 366), default=30, show_default=True,
              help="How far ahead to look.")
@json_option
@click.pass_context
def notify_preview(context: click.Context, *, days: int, as_json: bool) -> None:
    """Show what the outbox will send in the next DAYS days, and when (Vienna time)."""
    with open_alliance(context, read_only=True, quiet=as_json) as alliance:
        until = pendulum.instance(alliance.clock()).add(days=days)
        found = preview(alliance, until=until)
        state = alliance.state
        names = {p.organisation_id: state.organisation_name(p.organisation_id) for p in found}

    def said(p: Preview) -> str:
        if p.pending:
            return "decided, to send (again)"
        return "planned" if p.recipients else "no one to write to: will be skipped"

    if as_json:
        emit_json([
            {"at": p.at, "kind": p.kind.value, "organisation_id": p.organisation_id,
             "organisation": names[p.organisation_id], "subject": p.subject,
             "recipients": p.recipients, "state": said(p)}
            for p in found
        ])
        return
    table = Table(title=f"The outbox, the next {days} days", title_justify="left")
    table.add_column("when", no_wrap=True)
    for column in ("kind", "organisation", "subject", "state"):
        table.add_column(column, overflow="fold")
    for p in found:
        table.add_row(moment(p.at.in_timezone(DEFAULT_ZONE)), p.kind.value,
                      names[p.organisation_id], p.subject, said(p))
    console().print(table)
    if not found:
        click.echo("nothing to send")


@notify.command("status")
@json_option
@click.pass_context
def notify_status(context: click.Context, *, as_json: bool) -> None:
    """Show where the outbox started, and what it sent, skipped, failed or retries."""
    with open_alliance(context, read_only=True, quiet=as_json) as alliance:
        outbox = outbox_state(alliance)
        state = alliance.state
    counts: dict[str, int] = {}
    for message in outbox.messages.values():
        counts[message.status.value] = counts.get(message.status.value, 0) + 1
    open_ones = sorted(
        (m for m in outbox.messages.values() if m.status.value in ("queued", "failed")
         or m.error),
        key=lambda m: m.due_at,
    )
    if as_json:
        emit_json({
            "started": None if outbox.notifier is None else {
                "position": outbox.notifier.from_position, "at": outbox.notifier.from_time},
            "counts": counts,
            "messages": [
                {"message_id": m.message_id, "status": m.status.value, "kind": m.kind.value,
                 "organisation": state.organisation_name(m.organisation_id),
                 "subject": m.subject, "due_at": m.due_at, "attempts": m.attempts,
                 "retry_at": m.retry_at, "error": m.error}
                for m in open_ones
            ],
        })
        return
    if outbox.notifier is None:
        click.echo("the outbox has not started on this log (`alliance-events notify run`)")
        return
    begun = outbox.notifier
    click.echo(f"started at position {begun.from_position} "
               f"({moment(begun.from_time.in_timezone(DEFAULT_ZONE))})")
    click.echo(", ".join(f"{counts.get(s, 0)} {s}" for s in ("sent", "queued", "skipped",
                                                              "failed")))
    if not open_ones:
        return
    table = Table(title="Not sent, or not at once", title_justify="left")
    table.add_column("due", no_wrap=True)
    for column in ("status", "organisation", "subject", "attempts", "why"):
        table.add_column(column, overflow="fold")
    for m in open_ones:
        why = m.error
        if m.retry_at is not None and m.status.value == "queued":
            why += f" (retry {moment(m.retry_at.in_timezone(DEFAULT_ZONE))})"
        table.add_row(moment(m.due_at.in_timezone(DEFAULT_ZONE)), m.status.value,
                      state.organisation_name(m.organisation_id), m.subject,
                      str(m.attempts), why)
    console().print(table)
