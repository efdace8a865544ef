"""What every command shares: the group, the log, refusals, names, JSON and progress."""

from __future__ import annotations

import csv
import datetime as _dt
import enum
import functools
import io
import json
import sys
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Final, NoReturn, TypedDict, TypeVar

import attrs
import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from alliance_events import (
    DEFAULT_ZONE,
    AllDay,
    AllianceEventsError,
    CorruptLogError,
    StorageError,
    Timed,
    UnknownOutcomeError,
    zone_label,
)
from alliance_events.app import Alliance, AsOf

__all__ = [
    "DB_ENV",
    "DEFAULT_DB",
    "EXIT_CORRUPT",
    "EXIT_STORAGE",
    "EXIT_UNKNOWN_OUTCOME",
    "PROGRESS_THRESHOLD",
    "Settings",
    "as_of_option",
    "catch_up",
    "command_id_option",
    "console",
    "csv_option",
    "db_url",
    "emit_csv",
    "emit_json",
    "json_option",
    "main",
    "nomination_of",
    "one_format",
    "open_alliance",
    "plain",
    "recorded_as",
    "refusals_exit",
    "refuse",
    "seen",
    "settings",
    "unknown_types_note",
    "when_arguments",
    "when_options",
]

DB_ENV: Final = "ALLIANCE_EVENTS_DB"
DEFAULT_DB: Final = "alliance.db"
PROGRESS_THRESHOLD: Final = 30_000
"""A catch-up over fewer records than this is quick: no progress bar for it."""

F = TypeVar("F", bound=Callable[..., Any])


def console(*, stderr: bool = False) -> Console:
    """Return a console for users' text.

    No markup and no highlighting: titles and names are users' text, and
    ``[rule: quota]`` is not a style. Lines are not wrapped (paths stay whole in a pipe).
    """
    return Console(highlight=False, markup=False, soft_wrap=True, stderr=stderr)


def refuse(error: AllianceEventsError) -> NoReturn:
    """Print ``error`` as one line on stderr and exit with status 2.

    A storage fault is not a refusal: it goes to :func:`storage_failed` (its own line
    and exit status).
    """
    if isinstance(error, StorageError):
        storage_failed(error)
    text = " ".join(str(error).split())
    for words, flags in _FLAGS:
        text = text.replace(words, flags)
    click.echo(f"refused: {text}", err=True)
    sys.exit(2)


_FLAGS: Final = (
    ("say which with disambiguate='earlier' or 'later'",
     "say which with --disambiguate earlier or --disambiguate later"),
    ("or disambiguate='earlier' or 'later'",
     "or give --disambiguate earlier or --disambiguate later"),
)
"""The timing's refusals name the application's parameter; the command line, its flag.

Whole phrases as the timing writes them (tests/test_cli_people.py holds them to it), so
that nothing else is rewritten.
"""


# -- storage faults (not refusals): their own line and exit status ----------------------

EXIT_STORAGE: Final = 3
"""Exit status of a storage fault (unreachable, full, read-only, locked...): nothing was
recorded; the line says what to do."""
EXIT_UNKNOWN_OUTCOME: Final = 4
"""Exit status when the connection broke after a command was sent: it may or may not be
recorded; repeating it with the same ``--command-id`` is safe."""
EXIT_CORRUPT: Final = 5
"""Exit status when the log's stored bytes are damaged (a checksum does not match)."""


def storage_failed(error: StorageError) -> NoReturn:
    """Print a storage fault as one line on stderr and exit with its status.

    ``error: ...`` and status 3 for a fault (nothing recorded); ``unknown outcome: ...``
    and status 4 when the command may or may not be recorded (the line names the
    command id to repeat it with); ``corrupt: ...`` and status 5 for damaged records.
    """
    text = " ".join(str(error).split())
    if isinstance(error, UnknownOutcomeError):
        retry = f" (--command-id {error.command_id})" if error.command_id else ""
        click.echo(f"{text}{retry}", err=True)
        sys.exit(EXIT_UNKNOWN_OUTCOME)
    if isinstance(error, CorruptLogError):
        click.echo(f"corrupt: {text}", err=True)
        sys.exit(EXIT_CORRUPT)
    click.echo(f"error: {text}", err=True)
    sys.exit(EXIT_STORAGE)


def refusals_exit(function: F) -> F:
    """Turn the library's errors into one line on stderr and exit status 2."""

    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return function(*args, **kwargs)
        except AllianceEventsError as error:
            refuse(error)

    return wrapper  # type: ignore[return-value]


class _Group(click.Group):
    """The top group: a refusal anywhere below it is one line and exit status 2.

    So is a usage error (a missing argument, an option's value out of its range): one
    line naming it and the command's ``--help``, instead of click's three.
    """

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            return super().main(*args, **kwargs)
        except click.UsageError as error:
            where = f" (see '{error.ctx.command_path} --help')" if error.ctx else ""
            click.echo(f"usage: {' '.join(error.format_message().split())}{where}", err=True)
            sys.exit(error.exit_code)
        except click.ClickException as error:
            click.echo(f"error: {' '.join(error.format_message().split())}", err=True)
            sys.exit(error.exit_code)
        except click.Abort:
            click.echo("aborted", err=True)
            sys.exit(1)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except AllianceEventsError as error:
            refuse(error)


@attrs.frozen
class Settings:
    """The group's options, for its commands."""

    db: str
    actor: str | None


@click.group(cls=_Group)
@click.version_option(package_name="alliance-events")
@click.option(
    "--db",
    envvar=DB_ENV,
    default=DEFAULT_DB,
    show_default=True,
    help=f"The event log: a SQLite path, sqlite:///…, postgresql://… (env {DB_ENV}).",
)
@click.option(
    "--actor",
    envvar="ALLIANCE_EVENTS_ACTOR",
    default=None,
    help="Who gives the commands, as the history shows it (env ALLIANCE_EVENTS_ACTOR).",
)
@click.pass_context
def main(context: click.Context, db: str, actor: str | None) -> None:
    """Keep the alliance's calendar and delegate registrations.

    Meetings, organisations, persons, nominations and deadlines are named by their
    title, name, acronym or e-mail, by their ref (as the tables show it), by a
    beginning of their id, or by their id; a meeting also by its title and day
    ('Informal Meeting 2023-04-19'). A name that fits more than one is refused,
    listing them. A refused command prints one line naming the rule and exits with
    status 2; it records nothing.
    """
    context.obj = Settings(db=db, actor=actor)


def settings(context: click.Context) -> Settings:
    """Return the group's options."""
    found = context.find_object(Settings)
    assert found is not None  # noqa: S101 - main() always sets it
    return found


def db_url(db: str, *, read_only: bool = False) -> str:
    """Return the log's URL for ``--db`` (a plain path is a SQLite file).

    ``read_only``: with ``mode=ro`` added (SQLite and PostgreSQL; see
    :func:`alliance_events.open_log`), unless the URL says a mode already.
    """
    url = db if "://" in db or db.startswith("memory:") else f"sqlite:///{db}"
    if read_only and not url.startswith("memory:") and "mode=" not in url:
        url += ("&" if "?" in url else "?") + "mode=ro"
    return url


@contextmanager
def open_alliance(
    context: click.Context, *, quiet: bool = False, read_only: bool = False, **kwargs: Any
) -> Iterator[Alliance]:
    """Open the application over ``--db``, its state caught up (with a progress bar).

    The installed tools' event types are loaded (:mod:`alliance_events.plugins`): a tool
    that cannot be loaded gets one ``warning:`` line on stderr. Records of types this
    process does not know get one ``note:`` line on stderr, after the catch-up, never
    on stdout.

    ``quiet``: no progress bar (it goes to stderr anyway; this is for ``--json``
    consumers that watch stderr too).

    ``read_only``: open the log read-only (no write lock, no migration: it works on a
    read-only file or mount); for the commands that only read: ``organisation list``,
    ``person list``, ``token list``, ``meeting show``, ``meeting list``, ``history``,
    ``registration show``, ``registration list``, ``deadline list``, ``export``,
    ``tail``, ``serve`` and ``verify``.
    """
    url = db_url(settings(context).db, read_only=read_only)
    with Alliance.open(url, plugins=True, **kwargs) as alliance:
        for load in alliance.plugins:
            if not load.loaded:
                click.echo(f"warning: {load}", err=True)
        catch_up(alliance, show=not quiet)
        note = unknown_types_note(alliance.unknown_types)
        if note:
            click.echo(note, err=True)
        for stream, why in sorted(alliance.left_out.items()):
            click.echo(f"note: {stream} is left out of the calendars (position "
                       f"{why.position}: {why.reason})", err=True)
        yield alliance


def unknown_types_note(counts: Mapping[str, int]) -> str | None:
    """Return the one line saying which records of unknown types were skipped, if any."""
    total = sum(counts.values())
    if not total:
        return None
    listed = ", ".join(f"{name} \u00d7{count}" for name, count in sorted(counts.items()))
    records = "record" if total == 1 else "records"
    return (
        f"note: skipped {total} {records} of types this tool does not know ({listed}); "
        "install the tool that defines them"
    )


def catch_up(
    alliance: Alliance,
    *,
    show: bool = True,
    output: Console | None = None,
    threshold: int = PROGRESS_THRESHOLD,
) -> int:
    """Bring the state up to date with the log; return how many records were applied.

    A progress bar (on stderr, gone when done) shows only for a log of at least
    ``threshold`` records and only once the first 10,000 are applied: a short catch-up
    shows nothing at all. It never touches stdout, so ``--json`` output stays clean.
    """
    total = alliance.log.head()
    if not show or total < threshold:
        return alliance.catch_up()
    progress: Progress | None = None
    task = None

    def report(position: int) -> None:
        nonlocal progress, task
        if progress is None:
            progress = Progress(
                TextColumn("reading the log"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeRemainingColumn(),
                console=output if output is not None else console(stderr=True),
                transient=True,
            )
            progress.start()
            task = progress.add_task("catch-up", total=total)
        assert task is not None  # noqa: S101 - set with progress
        progress.update(task, completed=position)

    try:
        return alliance.catch_up(progress=report)
    finally:
        if progress is not None:
            progress.stop()


# -- options shared by many commands --------------------------------------------------


def json_option(function: F) -> F:
    """Add ``--json``: JSON on stdout instead of a table."""
    return click.option(
        "--json", "as_json", is_flag=True, help="Print JSON on stdout (ISO times, ids as text)."
    )(function)


def csv_option(function: F) -> F:
    """Add ``--csv``: the table as CSV on stdout (with full ids), for a spreadsheet."""
    return click.option(
        "--csv", "as_csv", is_flag=True,
        help="Print the table as CSV on stdout (RFC 4180: a header row, full ids, ISO times).",
    )(function)


def one_format(*, as_json: bool, as_csv: bool) -> None:
    """Refuse ``--json`` with ``--csv`` (a usage error)."""
    if as_json and as_csv:
        raise click.UsageError("give --json or --csv, not both")


_COMMAND_ID: Final = "alliance_events.command_id"
_AT: Final = "alliance_events.at"


def command_id_option(function: F) -> F:
    """Add the options of a command that records: ``--command-id`` and ``--at``.

    ``--command-id``: the id to record the command under. A command given again with the
    id of one recorded already records nothing and says what the first one did; with the
    id of another command it is refused. The line of an unknown outcome (exit status 4)
    names the id the command was given.

    ``--at``: when the decision took effect, for the minutes of a meeting written up
    later: the rules are judged at that moment, and the log keeps both times.
    """

    def remember(context: click.Context, parameter: click.Parameter, value: Any) -> None:
        context.meta[_AT if parameter.name == "at" else _COMMAND_ID] = value

    with_id = click.option(
        "--command-id",
        type=click.UUID,
        default=None,
        expose_value=False,
        callback=remember,
        help="Record the command under this id (a UUID): giving it again with the same id "
        "after an unknown outcome records nothing twice. Default: a new one.",
    )
    with_at = click.option(
        "--at",
        "at",
        default=None,
        expose_value=False,
        callback=remember,
        metavar="DATE[TIME]",
        help="When the decision took effect, if not now: 2023-03-22 (12:00 that day), "
        "'2023-03-22 15:30' (Vienna) or 2023-03-22T15:30+01:00. Rules are judged then; "
        "the history shows both times.",
    )
    return with_id(with_at(function))


def recorded_as(context: click.Context) -> dict[str, Any]:
    """Return the ``actor``, ``command_id`` and ``at`` arguments of the command being run."""
    return {
        "actor": settings(context).actor,
        "command_id": context.meta.get(_COMMAND_ID),
        "at": context.meta.get(_AT),
    }


class _AsOf(click.ParamType):  # type: ignore[type-arg]
    name = "POSITION|DATE[TIME]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> AsOf:
        if isinstance(value, int | _dt.datetime):
            return value
        text = str(value).strip()
        if text.isdigit():
            return int(text)
        return text  # the application parses it, and refuses what it cannot read


_IN_EFFECT_AT: Final = "alliance_events.in_effect_at"


def as_of_option(function: F) -> F:
    """Add ``--as-of`` and ``--in-effect-at``: what the log knew, or what was in effect.

    A command passes both on with :func:`seen`.
    """

    def remember(context: click.Context, _: click.Parameter, value: AsOf) -> None:
        context.meta[_IN_EFFECT_AT] = value

    with_in_effect = click.option(
        "--in-effect-at",
        type=_AsOf(),
        default=None,
        expose_value=False,
        callback=remember,
        metavar="DATE[TIME]",
        help="What was in effect then, as the log knows it now (or at --as-of): the "
        "decisions taken by then, even those recorded later. A date means its end.",
    )
    with_as_of = click.option(
        "--as-of",
        "as_of",
        type=_AsOf(),
        default=None,
        help="What the log knew then: a log position (42), a date (2023-04-01: the end "
        "of that day in Vienna) or a time (2023-04-01T12:00+02:00).",
    )
    return with_as_of(with_in_effect(function))


class Seen(TypedDict):
    """The two moments a query looks from (keyword arguments of the queries)."""

    as_of: AsOf
    in_effect_at: AsOf


def seen(context: click.Context, as_of: AsOf) -> Seen:
    """Return the ``as_of`` and ``in_effect_at`` arguments of the query being run."""
    in_effect_at = context.meta.get(_IN_EFFECT_AT)
    if isinstance(in_effect_at, int) and not isinstance(in_effect_at, bool):
        raise click.UsageError("--in-effect-at takes a date or a time, not a log position")
    return {"as_of": as_of, "in_effect_at": in_effect_at}


def when_options(function: F) -> F:
    """Add the options that say when a meeting takes place."""
    options = [
        click.option("--start", help="A timed meeting's start, a wall time: '2023-04-19 15:00'."),
        click.option("--end", help="Its end: a wall time, or a time of day on the start's date."),
        click.option(
            "--zone", default=DEFAULT_ZONE, show_default=True,
            help="The IANA zone of --start/--end, or a fixed offset such as GMT+1.",
        ),
        click.option("--first-day", help="An all-day meeting's first day: 2023-05-30."),
        click.option("--last-day", help="Its last day (inclusive; default: the first day)."),
        click.option(
            "--disambiguate", type=click.Choice(["earlier", "later"]), default=None,
            help="For a wall time in a summer-time gap or overlap: which instant to take "
            "(refused without it).",
        ),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def when_arguments(
    start: str | None,
    end: str | None,
    zone: str,
    first_day: str | None,
    last_day: str | None,
    disambiguate: str | None,
) -> dict[str, Any]:
    """Return the application's keyword arguments for the ``when_options``.

    Raises:
        click.UsageError: not one of --start/--end and --first-day/--last-day (the
            application would name its own parameters instead of the flags).

    """
    timed_given = start is not None or end is not None
    all_day_given = first_day is not None or last_day is not None
    if timed_given == all_day_given:
        raise click.UsageError(
            "give either --start and --end (a timed meeting) or --first-day and "
            "optionally --last-day (an all-day one)"
            + (", not both" if timed_given else "")
        )
    if timed_given and (start is None or end is None):
        raise click.UsageError(f"a timed meeting needs {'--end' if end is None else '--start'}")
    if all_day_given and first_day is None:
        raise click.UsageError("--last-day needs --first-day")
    return {
        "start": start, "end": end, "zone": zone, "first_day": first_day,
        "last_day": last_day, "disambiguate": disambiguate or "raise",
    }


# -- names ----------------------------------------------------------------------------


def nomination_of(alliance: Alliance, meeting: uuid.UUID, name: str) -> uuid.UUID:
    """Return the nomination named by its id or ref, or by its person (name, e-mail, ref).

    See :meth:`Alliance.find_nomination`: a person has at most one active nomination
    per meeting; if none is active, their latest one is named (and the application says
    why the command cannot apply to it).
    """
    return alliance.find_nomination(meeting, name)


# -- JSON -----------------------------------------------------------------------------


def plain(value: Any) -> Any:  # noqa: PLR0911 - one return per kind of value
    """Return ``value`` as JSON data: times in ISO 8601, ids and enums as text."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, _dt.datetime | _dt.date | _dt.time):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return _iso_duration(value)
    if isinstance(value, Timed):
        return {
            "type": "timed", "start": value.start.isoformat(), "end": value.end.isoformat(),
            "zone": zone_label(value.start),
        }
    if isinstance(value, AllDay):
        return {
            "type": "all-day", "first_day": value.first.isoformat(),
            "last_day": value.last.isoformat(),
        }
    if attrs.has(type(value)):
        return {f.name: plain(getattr(value, f.name)) for f in attrs.fields(type(value))}
    if isinstance(value, Mapping):
        return {str(plain(k)): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    return str(value)


def _iso_duration(value: _dt.timedelta) -> str:
    seconds = int(value.total_seconds())
    sign = "-" if seconds < 0 else ""
    days, rest = divmod(abs(seconds), 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    clock = "".join(f"{n}{u}" for n, u in ((hours, "H"), (minutes, "M"), (seconds, "S")) if n)
    return f"{sign}P{days}D" + (f"T{clock}" if clock else "")


def emit_json(value: Any) -> None:
    """Print ``value`` as JSON on stdout."""
    click.echo(json.dumps(plain(value), ensure_ascii=False, indent=2))


def _cell(value: Any) -> str:
    """Return ``value`` as one CSV field: ISO times, ids as text, nothing for None."""
    data = plain(value)
    if data is None:
        return ""
    if isinstance(data, bool):
        return "true" if data else "false"
    if isinstance(data, dict | list):
        return json.dumps(data, ensure_ascii=False)
    return str(data)


def emit_csv(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print a header row and ``rows`` as CSV on stdout (RFC 4180: CRLF, quotes doubled)."""
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([_cell(value) for value in row] for row in rows)
    click.echo(buffer.getvalue(), nl=False)

