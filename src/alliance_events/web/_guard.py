"""The feed server under hostile clients: time-outs and a bound on connections.

uvicorn, as it comes, waits for ever for the first request of a connection, and keeps
every connection it accepts: a client that opens a thousand connections and sends
nothing (or a byte a minute) takes every file descriptor, and real subscribers are
refused. :func:`guarded` wraps uvicorn's HTTP protocol class (httptools' or h11's) with:

* **a request time-out**: a connection must send a whole request (headers and body)
  within ``request_timeout`` seconds of opening, or of its previous response; else it is
  closed (a slow-loris sending a byte at a time included), by a sweep that runs every
  eighth of the time-out (at most every second) while connections wait. uvicorn's
  keep-alive time-out still closes a connection idle after a response;
* **a bound on connections**: beyond ``max_connections`` open at once, each new
  connection closes the one that has waited longest without a request in flight (an
  idle one, never a request being answered), so a flood of idle connections cannot
  lock subscribers out; with none idle, the new connection is closed at once;
* **a bound on requests' size**: a request whose line and headers pass
  :data:`MAX_REQUEST_BYTES` is answered 431 and closed (httptools, unlike h11, has no
  bound of its own); a body, which no feed request has, is answered 413 by the
  application (:mod:`alliance_events.web`) without being read.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any, Final

__all__ = ["MAX_CONNECTIONS", "REQUEST_TIMEOUT", "guarded", "server_config"]

REQUEST_TIMEOUT: Final = 10.0
"""Seconds a connection has to send a whole request."""
MAX_CONNECTIONS: Final = 512
"""Connections open at once (a subscriber holds one; far below the descriptor limit)."""
MAX_REQUEST_BYTES: Final = 16 * 1024
"""Bytes a request (its line and headers: feed requests have no body) may take."""
_BODY_431: Final = b"The request's headers are too large.\n"
_TOO_LARGE: Final = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\nconnection: close\r\n"
    + f"content-length: {len(_BODY_431)}\r\n\r\n".encode()
    + _BODY_431
)


def guarded(
    protocol: type[asyncio.Protocol],
    *,
    request_timeout: float = REQUEST_TIMEOUT,
    max_connections: int = MAX_CONNECTIONS,
) -> type[asyncio.Protocol]:
    """Return a subclass of uvicorn's HTTP ``protocol`` with the module's guards.

    Each call makes a class of its own, with its own count of idle connections: one per
    server.
    """
    # Connections waiting for a request -> the loop time by which it must have come,
    # oldest first (every connection waits as long, so the first to expire is the first).
    # A sweep every eighth of the time-out closes the expired ones: a request costs two
    # dictionary operations, not a timer scheduled and cancelled.
    idle: OrderedDict[Any, float] = OrderedDict()
    sweep_every = min(1.0, request_timeout / 8)
    sweeping: list[asyncio.TimerHandle | None] = [None]
    base: Any = protocol

    def sweep(loop: asyncio.AbstractEventLoop) -> None:
        now = loop.time()
        while idle:
            connection, deadline = next(iter(idle.items()))
            if deadline > now:
                break
            connection._drop()
        sweeping[0] = loop.call_later(sweep_every, sweep, loop) if idle else None

    class Guarded(base):  # type: ignore[misc]
        _received = 0  # bytes of the request awaited, so far

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            self._await_request()
            if len(self.connections) > max_connections:
                oldest = next((c for c in idle if c is not self), None)
                (self if oldest is None else oldest)._drop()

        def data_received(self, data: bytes) -> None:
            if self in idle:
                self._received += len(data)
                if self._received > MAX_REQUEST_BYTES:
                    self._request_received()
                    self.transport.write(_TOO_LARGE)
                    self.transport.close()
                    return
            super().data_received(data)
            cycle = self.cycle
            if cycle is not None and not cycle.response_complete and not cycle.more_body:
                self._request_received()  # a whole request: now the application's

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._await_request()

        def connection_lost(self, exc: Exception | None) -> None:
            self._request_received()
            super().connection_lost(exc)

        def _await_request(self) -> None:
            self._received = 0
            loop = self.loop
            idle.pop(self, None)
            idle[self] = loop.time() + request_timeout
            if sweeping[0] is None:
                sweeping[0] = loop.call_later(sweep_every, sweep, loop)

        def _request_received(self) -> None:
            idle.pop(self, None)

        def _drop(self) -> None:
            self._request_received()
            if not self.transport.is_closing():
                self.transport.close()

    Guarded.__name__ = Guarded.__qualname__ = f"Guarded{protocol.__name__}"
    return Guarded


def server_config(
    app: Any,
    *,
    request_timeout: float = REQUEST_TIMEOUT,
    max_connections: int = MAX_CONNECTIONS,
    **options: Any,
) -> Any:
    """Return a ``uvicorn.Config`` serving ``app`` with the guards (``options``: uvicorn's).

    The keep-alive time-out is 5 s (uvicorn's default), headers at most 16 KiB.
    """
    import uvicorn  # noqa: PLC0415 - only a server needs it
    from uvicorn.protocols.http.auto import AutoHTTPProtocol  # noqa: PLC0415

    return uvicorn.Config(
        app,
        http=guarded(AutoHTTPProtocol, request_timeout=request_timeout,
                     max_connections=max_connections),
        timeout_keep_alive=5,
        h11_max_incomplete_event_size=16 * 1024,
        **options,
    )
