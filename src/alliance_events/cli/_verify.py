"""``verify``: check every record's checksum (see :mod:`alliance_events.log.chain`)."""

from __future__ import annotations

import sys

import click

from alliance_events import open_log, verify
from alliance_events.cli._common import EXIT_CORRUPT, db_url, emit_json, json_option, main, settings

__all__ = ["verify_command"]


@main.command("verify")
@json_option
@click.pass_context
def verify_command(context: click.Context, *, as_json: bool) -> None:
    """Check that every record matches its checksum, chained through its stream.

    Opens the log read-only. Prints one line: ok and how many records were checked
    (exit status 0), or the first bad position and what is wrong with it (exit status
    5). Run it after restoring a backup, or when a read reported a corrupt record.
    """
    with open_log(db_url(settings(context).db, read_only=True)) as log:
        report = verify(log)
    if as_json:
        emit_json({"ok": report.ok, "checked": report.checked,
                   "first_bad": report.first_bad, "problem": report.problem,
                   "last_position": report.last_position})
    else:
        click.echo(str(report), err=not report.ok)
    if not report.ok:
        sys.exit(EXIT_CORRUPT)
