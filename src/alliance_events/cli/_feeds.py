"""``export``, ``tail``, ``serve`` and ``demo``: the log and the calendars, outwards."""

from __future__ import annotations

import contextlib
import copy
import errno
import logging
import os
import signal
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, NoReturn

import click
import pendulum

from alliance_events import Follower, Recorded
from alliance_events.app import Alliance, AsOf
from alliance_events.cli._common import (
    as_of_option,
    console,
    emit_json,
    json_option,
    main,
    open_alliance,
    plain,
    seen,
    settings,
)
from alliance_events.cli._tables import registration_table, summary_table

if TYPE_CHECKING:
    from alliance_events import Audience

__all__ = ["demo", "export", "serve", "tail", "write_atomically"]

_SPINNER_ITEMS: Final = 2_000  # a cold render takes ~0.13 ms an item: from here, a moment


def write_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` whole or not at all.

    The bytes go to a temporary file in the same folder, flushed to the disk, which
    then replaces ``path`` in one rename: a reader (a web server serving the file, a
    calendar fetching it) sees the old file or the new one, never a half-written one.
    """
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def _audience(alliance: Alliance, text: str) -> Audience:
    from alliance_events import Audience  # noqa: PLC0415 - icalendar: only export needs it

    kind, _, name = text.partition(":")
    if kind == "public" and not name:
        return Audience.public()
    if kind == "secretariat" and not name:
        return Audience.secretariat()
    if kind == "organisation" and name:
        return Audience.organisation(alliance.find_organisation(name))
    raise click.BadParameter(
        f"{text!r}: public, secretariat or organisation:ORG", param_hint="--audience"
    )


@main.command()
@click.option(
    "--audience", default="public", show_default=True,
    help="Whose calendar: public (no personal data), secretariat (everything) or "
    "organisation:ORG (its delegation and deadlines; ORG: id, name or acronym).",
)
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="The .ics file to write (replaced whole, never half-written).")
@as_of_option
@json_option
@click.pass_context
def export(
    context: click.Context, *, audience: str, output: Path, as_of: AsOf, as_json: bool
) -> None:
    """Write a calendar feed as an iCalendar file."""
    from alliance_events import FeedRenderer  # noqa: PLC0415 - only export needs it

    with open_alliance(context, read_only=True, quiet=as_json) as alliance:
        who = _audience(alliance, audience)
        state, at = alliance.state_as_of(**seen(context, as_of))
        renderer = FeedRenderer()
        items = len(state.meetings) + len(state.deadlines)
        if items >= _SPINNER_ITEMS:
            with console(stderr=True).status(f"rendering {items} calendar items"):
                feed = renderer.render(state, who, now=at)
        else:
            feed = renderer.render(state, who, now=at)
    try:
        write_atomically(output, feed.body)
    except OSError as error:
        raise click.FileError(str(output), hint=error.strerror or str(error)) from error
    if as_json:
        emit_json(
            {
                "path": str(output.resolve()), "audience": who.key, "items": feed.item_count,
                "bytes": len(feed.body), "position": state.position,
                "last_modified": feed.last_modified,
            }
        )
    else:
        click.echo(f"wrote {feed.item_count} items for {who.key} to {output}")


def _tail_line(record: Recorded, text: str, actor: str) -> str:
    recorded = pendulum.instance(record.recorded_at).in_timezone("UTC")
    return (
        f"{record.position:>6}  {recorded.strftime('%Y-%m-%dT%H:%M:%SZ')}  {record.type:<22}  "
        f"{actor}: {text}  [{record.stream}]"
    )


@main.command()
@click.option("--from", "start", type=click.IntRange(min=0), default=None,
              help="Show the events after this position (0: all); default: only new ones.")
@click.option("--limit", type=click.IntRange(min=1), default=None,
              help="Stop after this many events.")
@click.option("--timeout", type=click.FloatRange(min=0), default=None,
              help="Stop after this many seconds.")
@click.option("--interval", type=click.FloatRange(min=0.01), default=0.5, show_default=True,
              help="Seconds between two looks at a SQLite log (PostgreSQL wakes tail with "
              "NOTIFY).")
@json_option
@click.pass_context
def tail(
    context: click.Context,
    *,
    start: int | None,
    limit: int | None,
    timeout: float | None,
    interval: float,
    as_json: bool,
) -> None:
    """Follow the log: one line per event as it is appended (Ctrl-C stops).

    With --json, one JSON object per line.
    """
    shown = 0
    with (
        open_alliance(context, read_only=True, quiet=as_json) as alliance,
        # No name: tail keeps no checkpoint, it starts where it is told every time.
        Follower(alliance.log, None, start="now" if start is None else start,
                 poll_interval=interval) as follower,
    ):
        ends = None if timeout is None else time.monotonic() + timeout
        try:
            while True:
                wanted = None if limit is None else limit - shown
                remaining = None if ends is None else max(ends - time.monotonic(), 0)
                records = follower.next_batch(remaining, limit=wanted)
                if records:
                    # names as known now, the new records included
                    entries = alliance.history_entries(records)
                    for record, entry in zip(records, entries, strict=True):
                        if as_json:
                            click.echo(_json_line(record, entry.text, entry.actor))
                        else:
                            click.echo(_tail_line(record, entry.text, entry.actor))
                    shown += len(records)
                # Once the time is up, what is there already is still shown, whole.
                if (limit is not None and shown >= limit) or (
                    not records and ends is not None and time.monotonic() >= ends
                ):
                    break
        except KeyboardInterrupt:
            click.echo("stopped", err=True)


def _json_line(record: Recorded, text: str, actor: str) -> str:
    import json  # noqa: PLC0415 - the one compact JSON line per event

    return json.dumps(
        {
            "position": record.position, "recorded_at": plain(record.recorded_at),
            "stream": record.stream, "version": record.version,
            "event_id": str(record.event_id), "type": record.type, "actor": actor,
            "text": text, "event": plain(record.event),
        },
        ensure_ascii=False,
    )


@main.command()
@click.pass_context
def demo(context: click.Context) -> None:
    """Record the minutes of 22 March 2023 into the log, then show the registrations."""
    from alliance_events.demo import DEMO_END, record_minutes  # noqa: PLC0415

    out = console()
    db = settings(context).db
    with open_alliance(context) as alliance:  # the real clock: the minutes written up now
        before = alliance.log.head()
        recorded = record_minutes(alliance)
        after = alliance.log.head()
        out.print(
            f"Recorded {after - before} events in {db} "
            f"({after} in the log); the story ends on {DEMO_END.to_date_string()}."
        )
        views = [
            view
            for view in (alliance.registration(m.meeting_id) for m in alliance.meetings())
            if view.window != "none"
        ]
        out.print(summary_table(views))
        dialogue = alliance.registration(recorded.meetings["firearms-dialogue"])
        out.print(registration_table(dialogue))
        out.print("The rules refused, as they must:")
        for refusal in recorded.refusals:
            out.print(f"  · {refusal}")


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="The address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="The port to listen on.")
@click.option(
    "--poll-interval", default=0.5, show_default=True, type=float,
    help="Seconds between two looks at a SQLite log for new events (PostgreSQL wakes the "
    "server with NOTIFY).",
)
@click.option(
    "--request-timeout", default=10.0, show_default=True, type=click.FloatRange(0.1, 300),
    help="Seconds a connection has to send a whole request; then it is closed.",
)
@click.option(
    "--max-connections", default=512, show_default=True, type=click.IntRange(1, 10_000),
    help="Connections open at once (per worker); beyond, the longest idle one is closed.",
)
@click.option(
    "--workers", default=1, show_default=True, type=click.IntRange(1, 64),
    help="Processes answering requests. With more than one, one process follows the log "
    "and renders each feed once into shared memory, and the workers serve it from there.",
)
@click.pass_context
def serve(
    context: click.Context, *, host: str, port: int, poll_interval: float,
    request_timeout: float, max_connections: int, workers: int,
) -> None:
    """Serve the calendar feeds over HTTP, following the log (Ctrl-C stops).

    The subscribe pages' links start with the feed address set by
    `alliance-events settings feed-address` (the one `token issue` prints too). The
    access log is off: organisations' feed addresses carry their tokens.
    """
    # The port first: a busy one is refused before anything is opened or started.
    sockets = _listen(host, port)
    # SIGTERM (what a service manager sends) stops the server as Ctrl-C does: uvicorn
    # shuts down gracefully, then raises the signal again under the handler found before
    # it started; this one turns it into KeyboardInterrupt, so that the workers are
    # stopped and the feeds' store removed (the default action would end the process
    # there, leaving both behind).
    signal.signal(signal.SIGTERM, _interrupt)
    import uvicorn  # noqa: PLC0415 - only this command needs the server

    from alliance_events.web import create_app, server_config  # noqa: PLC0415

    # uvicorn's own logging, plus the feed server's (its errors, retried), on stderr.
    log_config = copy.deepcopy(uvicorn.config.LOGGING_CONFIG)
    log_config["loggers"]["alliance_events"] = {"handlers": ["default"], "level": "INFO"}
    try:
        with open_alliance(context, read_only=True) as alliance:
            if alliance.feed_address is None:
                click.echo(
                    "note: no feed address is set, so the subscribe pages offer each request's "
                    "own host; set the public one with `alliance-events settings feed-address "
                    "https://…`",
                    err=True,
                )
            if workers > 1:
                _serve_with_workers(
                    alliance, sockets, workers=workers, poll_interval=poll_interval,
                    options={"request_timeout": request_timeout,
                             "max_connections": max_connections, "log_level": "info",
                             "log_config": log_config},
                )
                click.echo("stopped", err=True)
                return
            app = create_app(alliance, poll_interval=poll_interval)
            # uvicorn shuts down gracefully on Ctrl-C, then raises the signal again.
            config = server_config(
                app, request_timeout=request_timeout, max_connections=max_connections,
                host=host, port=port, access_log=False, lifespan="on", log_level="info",
                log_config=log_config, server_header=False,
            )
            with contextlib.suppress(KeyboardInterrupt):
                _server(config).run(sockets=sockets)
            click.echo("stopped", err=True)
    finally:
        for listener in sockets:
            listener.close()


def _interrupt(signum: int, frame: Any) -> NoReturn:
    raise KeyboardInterrupt


def _serve_with_workers(
    alliance: Alliance, sockets: list[socket.socket], *, workers: int, poll_interval: float,
    options: dict[str, Any],
) -> None:
    """Run the publisher here (on a Unix socket) and ``workers`` processes on ``sockets``.

    The publisher follows the log and renders each feed once into a store in shared
    memory (``web._store``); the workers serve the feeds from it and pass everything
    else to the publisher. Ctrl-C stops them all; the store is removed.
    """
    import multiprocessing  # noqa: PLC0415 - only serve --workers needs them
    import shutil  # noqa: PLC0415

    from alliance_events.web import create_app, server_config  # noqa: PLC0415
    from alliance_events.web._store import FeedStore  # noqa: PLC0415
    from alliance_events.web._workers import run_worker  # noqa: PLC0415

    shm = Path("/dev/shm")  # noqa: S108 - a memory file system: the store's pages are shared
    store = Path(tempfile.mkdtemp(prefix="alliance-events-feeds-",
                                  dir=shm if shm.is_dir() else None))
    publisher = str(store / "publisher.sock")
    spawn = multiprocessing.get_context("spawn")  # no copy of this process's heap
    processes = []
    try:
        app = create_app(alliance, poll_interval=poll_interval, store=FeedStore(store))
        worker_options = {key: options[key] for key in ("request_timeout", "max_connections",
                                                        "log_level", "log_config")}
        for _ in range(workers):
            process = spawn.Process(target=run_worker, args=(
                str(store), publisher, sockets, worker_options, os.getpid()))
            process.start()
            processes.append(process)
        config = server_config(app, uds=publisher, access_log=False, lifespan="on",
                               server_header=False, **options)  # sets the logging up
        for listener in sockets:
            address, port = listener.getsockname()[:2]
            shown = f"[{address}]" if ":" in address else address
            logging.getLogger("uvicorn.error").info(
                "Feeds served on http://%s:%d by %d workers (Press CTRL+C to quit)",
                shown, port, workers)
        with contextlib.suppress(KeyboardInterrupt):
            import uvicorn  # noqa: PLC0415

            uvicorn.Server(config).run()
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn shuts down gracefully
        for process in processes:
            process.join(10)
            if process.is_alive():
                process.kill()
                process.join()
        shutil.rmtree(store, ignore_errors=True)


def _server(config: Any) -> Any:
    """Return uvicorn's server, saying where it listens once started on the given sockets.

    (uvicorn says so only for the sockets it binds itself.)
    """
    import uvicorn  # noqa: PLC0415 - only serve needs the server

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets=sockets)
            if self.started:
                for listener in sockets or ():
                    address, port = listener.getsockname()[:2]
                    shown = f"[{address}]" if ":" in address else address
                    logging.getLogger("uvicorn.error").info(
                        "Uvicorn running on http://%s:%d (Press CTRL+C to quit)", shown, port
                    )

    return Server(config)


def _listen(host: str, port: int) -> list[socket.socket]:
    """Bind the server's sockets (one per address ``host`` names), or refuse and exit.

    Bound here, before the server starts, and handed to it: a port in use is one line
    (``refused: port 8000 on 127.0.0.1 is in use ...``, exit status 2), not a server that
    says it started and then fails.
    """
    try:
        found = socket.getaddrinfo(host or None, port, type=socket.SOCK_STREAM,
                                   flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as error:
        _refused(f"cannot listen on {host!r}: {error}", "listen")
    sockets: list[socket.socket] = []
    try:
        for family, kind, protocol, _, address in dict.fromkeys(
            (f, k, p, "", a) for f, k, p, _, a in found
        ):
            listener = socket.socket(family, kind, protocol)
            sockets.append(listener)
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                listener.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            listener.bind(address)
            listener.set_inheritable(True)
    except OSError as error:
        for listener in sockets:
            listener.close()
        if error.errno == errno.EADDRINUSE:
            _refused(f"port {port} on {host} is in use (by another server?): stop it, or "
                     "choose another with --port", "port-in-use")
        _refused(f"cannot listen on port {port} on {host}: {error.strerror or error}", "listen")
    return sockets


def _refused(text: str, rule: str) -> NoReturn:
    click.echo(f"refused: {text} [rule: {rule}]", err=True)
    sys.exit(2)
