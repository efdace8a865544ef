"""The worker processes of ``alliance-events serve --workers N``.

Each worker is a uvicorn server on the listening sockets the command bound, running
:class:`WorkerApp`: it serves the feeds the publisher wrote into the store
(:mod:`alliance_events.web._store`: mapped, never rendered here), and passes every other
request to the publisher (the process that follows the log) over its Unix socket. A
worker opens no database and folds no log: it holds its own small heap and the
mappings of the store's pieces, which every worker shares.

A feed request is answered here when the feed is in the store and, for an
organisation's, the token's SHA-256 is in the store's table of live tokens; otherwise
the publisher answers it (renders it and publishes it, or 404), so the first request for
an organisation's feed costs a trip to the publisher and the next ones do not. The same
:class:`~alliance_events.web.Responder` answers as in one process: the same validators,
304s and gzip; the hostile-client guards (:mod:`~alliance_events.web._guard`) wrap every
worker's protocol, and the publisher's.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import shutil
import socket
from collections.abc import Callable
from typing import Any, Final

from starlette.types import Receive, Scope, Send

from alliance_events.web import Responder, _refuse_body
from alliance_events.web._guard import server_config
from alliance_events.web._store import LOOK_EVERY, StoreReader

__all__ = ["WorkerApp", "run_worker"]

logger = logging.getLogger(__name__)

_MAX_TOKEN_LENGTH: Final = 256
_HOP_BY_HOP: Final = frozenset(
    (b"connection", b"keep-alive", b"transfer-encoding", b"te", b"upgrade",
     b"proxy-connection", b"trailer")
)
_UNAVAILABLE: Final = b"Service Unavailable: the feed server is starting; retry later"
_READ: Final = 64 * 1024


class WorkerApp(Responder):
    """The ASGI application of a worker: feeds from the store, the rest from the publisher."""

    def __init__(self, store: str, publisher: str, parent: int) -> None:
        self.reader = StoreReader(store)
        self.publisher = publisher
        # The publisher's process id, as it gave it: not os.getppid() here, which gives
        # the adopting process's if the publisher died while this one was starting.
        self.parent = parent
        self.stop: Callable[[], None] = lambda: None  # set by run_worker: stops the server
        self._gzip_answers = {}
        self._looking: asyncio.Task[None] | None = None

    def cached_for(self, path: str) -> Any:
        """Return the stored feed a path names (its token live), or None."""
        feeds = self.reader.feeds
        if path == "/calendar.ics":
            return feeds.get("public")
        if path.startswith("/o/") and path.endswith("/calendar.ics"):
            token = path[3:-13]
            if not token or "/" in token or len(token) > _MAX_TOKEN_LENGTH:
                return None
            key = self.reader.tokens.get(hashlib.sha256(token.encode()).hexdigest())
            if key is not None:
                return feeds.get(key)
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            if scope["method"] in ("GET", "HEAD"):
                cached = self.cached_for(scope["path"])
                if cached is not None:
                    await self._respond(cached, scope, send)
                    return
            await self._pass_on(scope, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self.reader.look()
                self._looking = asyncio.create_task(self._look())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._looking is not None:
                    self._looking.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await self._looking
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _look(self) -> None:
        while True:
            await asyncio.sleep(LOOK_EVERY)
            if os.getppid() != self.parent:
                # The publisher is gone without stopping us (killed outright): nothing
                # will update the feeds any more, so serving them would serve stale
                # calendars for ever. Stop, and remove the store it can no longer remove.
                logger.error("the feed server's main process is gone; this worker stops")
                shutil.rmtree(self.reader.path, ignore_errors=True)
                self.stop()
                return
            try:
                self.reader.look()
            except Exception:
                logger.exception("reading the feed store failed; looking again")

    async def _pass_on(self, scope: Scope, send: Send) -> None:
        """Send the request to the publisher; relay its answer (no request has a body)."""
        head = [f"{scope['method']} ".encode() + scope["raw_path"]
                + (b"?" + scope["query_string"] if scope["query_string"] else b"")
                + b" HTTP/1.1"]
        for name, value in scope["headers"]:
            if name == b"transfer-encoding" or (
                name == b"content-length" and value.strip() != b"0"
            ):
                await _refuse_body(send)
                return
            if name not in _HOP_BY_HOP:
                head.append(name + b": " + value)
        head.append(b"connection: close")
        try:
            reader, writer = await asyncio.open_unix_connection(self.publisher)
        except OSError:
            await _unavailable(send)
            return
        try:
            writer.write(b"\r\n".join(head) + b"\r\n\r\n")
            response = await reader.readuntil(b"\r\n\r\n")
            lines = response[:-4].split(b"\r\n")
            status = int(lines[0].split(b" ", 2)[1])
            headers = []
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name not in _HOP_BY_HOP:
                    headers.append((name, value.strip()))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            while True:
                chunk = await reader.read(_READ)
                if not chunk:
                    break
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b""})
        except (OSError, asyncio.IncompleteReadError, ValueError, IndexError):
            logger.warning("the publisher's answer was cut short")
            raise
        finally:
            writer.close()


async def _unavailable(send: Send) -> None:
    await send({"type": "http.response.start", "status": 503, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(_UNAVAILABLE)).encode()),
        (b"retry-after", b"5"),
    ]})
    await send({"type": "http.response.body", "body": _UNAVAILABLE})


def run_worker(
    store: str, publisher: str, sockets: list[socket.socket], options: dict[str, Any],
    parent: int,
) -> None:
    """Run one worker until it is interrupted or ``parent`` is gone (a process's target).

    ``parent`` is the publisher's process id.
    """
    import uvicorn  # noqa: PLC0415 - in the worker process only

    app = WorkerApp(store, publisher, parent)
    config = server_config(app, lifespan="on", access_log=False, server_header=False,
                           **options)
    server = uvicorn.Server(config)

    def stop() -> None:
        server.should_exit = True

    app.stop = stop
    with contextlib.suppress(KeyboardInterrupt):
        server.run(sockets=sockets)
