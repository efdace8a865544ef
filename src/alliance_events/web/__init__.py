"""The feed server: the alliance's calendars over HTTP, kept up to date with the log.

:func:`create_app` returns an ASGI application (Starlette for routing) serving

* ``GET/HEAD /calendar.ics``: the public feed;
* ``GET/HEAD /o/<token>/calendar.ics``: one organisation's feed, opened by a feed token
  (:meth:`Alliance.issue_feed_token`); a wrong, revoked or missing token gets the same
  plain ``404 Not Found`` as any unknown path;
* ``GET /healthz``: JSON with the status, the log position the feeds reflect, the
  number of feeds cached, the records of types this server does not know (another tool's,
  not installed here: counted by type name, skipped, and no reason for a failing status),
  and the installed tools whose event types were loaded or refused;
* ``GET /``: the public subscribe page: the feed offered three ways (calendar rule
  18) and the meetings to come; ``GET /o/<token>/``: an organisation's, with its private
  feed and its delegation (the same 404 as the feed for a token that opens nothing).

Every link is built from the feed address recorded in the log
(:meth:`Alliance.set_feed_address`, ``alliance-events settings feed-address``): the
address ``token issue`` prints is the address these pages offer.

HTTP as calendar rule 17 asks: a strong ``ETag`` (a hash of the exact bytes sent: the
SHA-256 over the SHA-256s of the pieces the bytes cut into, ``ical._pieces``, so that a
change hashes what it touched; any process computes the same one for the same bytes),
``Last-Modified`` that never moves backwards for a feed, ``If-None-Match`` with the weak
comparison and precedence over ``If-Modified-Since``, which is compared (a 304 only when
the feed is not newer), 304s repeating ``ETag``, ``Last-Modified`` and
``Cache-Control``, and ``HEAD``.

How the work is split, so that a conditional GET costs almost nothing:

* Everything that touches the :class:`~alliance_events.app.Alliance` (its log, its state,
  the renderer reading that state) runs in a worker thread under one lock: the Alliance is
  not async and its projection is not safe to catch up from two threads at once.
* A background task (started with the application's lifespan) catches up with the log
  as soon as it moves and re-renders the cached feeds (the renderer is incremental), or
  at least every ``rerender_every`` seconds (items that leave the window). It waits for
  the log as every follower does (:class:`~alliance_events.log.LogWatcher`): woken by
  ``LISTEN``/``NOTIFY`` on PostgreSQL, looking every ``poll_interval`` seconds on SQLite,
  at once on the memory log. Each rendered body is hashed and gzipped once, and its
  response headers are built then.
* A request then does dictionary look-ups and sends prepared headers: no rendering, no
  database access, no compression. Organisation feeds are rendered on first request and
  cached by organisation (not by token); a token is looked up once (its SHA-256 is the
  cache key, the token itself is not kept) until the log moves, so a revocation takes
  effect within one poll.

The body is never joined: a 200 sends the feed's pieces (a few hundred KB per send), and
the gzip body is one gzip member made of the pieces' deflate segments (each piece
compressed once, when first served, and shared by the next feeds while it holds) with a
CRC-32 combined from theirs. The gzip variant has an ETag of its own (derived from the
feed's: a strong validator differs per content coding, RFC 9110 §8.8.3).

``alliance-events serve --workers N`` runs this server as a *publisher* on a Unix socket
(following the log, rendering each feed once, looking tokens up, serving the pages and
``/healthz``) and N worker processes on the listening sockets, which serve the feeds
from a store in shared memory that the publisher writes (``web._store``,
``web._workers``) and pass every other request to the publisher.

A conditional GET of a feed already rendered (a subscriber's revalidation) is answered
before Starlette's router and middleware: a dictionary look-up, a loop over the
headers and two ``send`` calls. ``If-None-Match`` with either
variant's ETag matches: both stand for the same feed content.

Tokens never reach a log: this module logs no paths, and ``alliance-events serve`` runs
uvicorn with its access log off.

While the database is away (a PostgreSQL restart, say) the server keeps serving the feeds
it rendered last, with their validators; ``/healthz`` answers 503 with the status
``"database unavailable"`` and the position the feeds reflect; a token the server has not
looked up before gets the same 404 as a wrong one (it cannot be checked, and 404 is the
only answer that tells nothing about it); a feed or page never rendered before gets 503.
The log reconnects by itself: the follower catches up and re-renders once the database is
back, without a restart.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import email.utils
import hashlib
import logging
import threading
import time
import uuid
from base64 import urlsafe_b64encode
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, Final

import anyio
import anyio.to_thread
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from alliance_events import (
    Audience,
    Clock,
    Feed,
    FeedRenderer,
    LogWatcher,
    StorageError,
    subscribe_links,
)
from alliance_events.app import Alliance
from alliance_events.web._guard import server_config
from alliance_events.web._pages import STYLE_HASH, Delegate, listed, page
from alliance_events.web._store import FeedStore

__all__ = ["FeedServer", "create_app", "server_config", "subscribe_links"]

logger = logging.getLogger(__name__)

_MAX_TOKEN_LENGTH: Final = 256  # longer is no token of ours: 404 without a look-up
_LISTED: Final = 20  # meetings to come on a subscribe page
_PAGES_KEPT: Final = 256  # subscribe pages cached (by feed, token, position and day)
_PAGE_HEADERS: Final = {
    "content-security-policy": (
        f"default-src 'none'; style-src '{STYLE_HASH}'; base-uri 'none'; "
        "form-action 'none'; frame-ancestors 'none'"
    ),
    "referrer-policy": "no-referrer",  # an organisation's page address holds its token
    "x-content-type-options": "nosniff",
}
_MAX_BACKOFF: Final = 30.0
_LOOK_EVERY: Final = 5.0  # seconds the follower waits for the log at most, then refreshes
_MIN_POLL: Final = 0.01
_CALENDAR_TYPE: Final = b"text/calendar; charset=utf-8"
_NOT_FOUND_BODY: Final = b"Not Found"
# Exactly what Starlette answers for a path it does not know: a bad token looks the same.
_NOT_FOUND_HEADERS: Final = [
    (b"content-length", str(len(_NOT_FOUND_BODY)).encode()),
    (b"content-type", b"text/plain; charset=utf-8"),
]


def _http_date(seconds: int) -> bytes:
    return email.utils.formatdate(seconds, usegmt=True).encode("ascii")


def _parse_http_date(value: bytes) -> int | None:
    """Return the seconds since the epoch of an HTTP date, or None if it is not one."""
    try:
        parsed = email.utils.parsedate_to_datetime(value.decode("latin-1"))
        if parsed.tzinfo is None:  # "-0000" and the obsolete formats: HTTP dates are GMT
            parsed = parsed.replace(tzinfo=_dt.UTC)
        return int(parsed.timestamp())
    except (TypeError, ValueError, IndexError, OverflowError):  # huge numbers: OverflowError
        return None  # malformed: as if the header were absent (RFC 9110, 13.1.3)


def _etag(digest: bytes) -> bytes:
    return b'"' + urlsafe_b64encode(digest).rstrip(b"=") + b'"'


def _none_match(value: bytes, tags: Iterable[bytes]) -> bool:
    """Apply ``If-None-Match`` with the weak comparison (RFC 9110 §13.1.2).

    ``*`` matches (the feed exists); otherwise any listed tag, with or without ``W/``,
    equal to one of ``tags`` matches. Our tags hold no commas, so splitting a list on
    commas never turns a foreign tag into one of ours.
    """
    if value in tags:
        return True
    for part in value.split(b","):
        tag = part.strip()
        if tag == b"*":
            return True
        if tag.startswith(b"W/"):
            tag = tag[2:]
        if tag in tags:
            return True
    return False


def _accepts_gzip(value: bytes) -> bool:
    """Return whether an ``Accept-Encoding`` value accepts gzip (q > 0, or ``*``)."""
    gzip_q: float | None = None
    star_q: float | None = None
    for part in value.lower().split(b","):
        coding, _, params = part.partition(b";")
        coding = coding.strip()
        q = 1.0
        for param in params.split(b";"):
            name, _, number = param.partition(b"=")
            if name.strip() == b"q":
                try:
                    q = float(number.strip())
                except ValueError:
                    q = 0.0
        if coding in (b"gzip", b"x-gzip"):
            gzip_q = q
        elif coding == b"*":
            star_q = q
    if gzip_q is not None:
        return gzip_q > 0
    return star_q is not None and star_q > 0


class _Cached:
    """One rendered feed, with everything a response needs, prepared once.

    The bytes stay in the feed's pieces (``ical._pieces``): a 200 sends them piece by
    piece, never joined; the gzip body is the pieces' deflate segments (each piece
    compressed once, shared with the next feeds while it does not change). So a change
    costs the server what it touched: the ETag and the CRC come from the pieces.
    """

    __slots__ = (
        "chunks", "chunks_gzip", "etag", "headers_200", "headers_200_gzip", "headers_304",
        "headers_304_gzip", "item_count", "last_modified", "last_modified_http", "position",
        "tags",
    )

    def __init__(
        self, feed: Feed, *, last_modified: int, max_age: int, public: bool, position: int,
    ) -> None:
        pieces = feed.pieces
        self.chunks = tuple(pieces.chunks())
        self.chunks_gzip = pieces.gzip_chunks()
        self.etag = _etag(pieces.etag)
        # A strong validator per content coding (RFC 9110, 8.8.3): the gzip bytes are a
        # function of the feed's bytes (pieces compressed alone, level fixed, no time).
        etag_gzip = _etag(hashlib.sha256(b"gzip\0" + pieces.etag).digest())
        self.tags = frozenset((self.etag, etag_gzip))
        self.last_modified = last_modified
        self.last_modified_http = _http_date(last_modified)
        self.position = position
        self.item_count = feed.item_count
        cache_control = f"{'public' if public else 'private'}, max-age={max_age}".encode()
        validators = [
            (b"last-modified", self.last_modified_http),
            (b"cache-control", cache_control),
            (b"vary", b"Accept-Encoding"),
        ]
        self.headers_304 = [(b"etag", self.etag), *validators]
        self.headers_304_gzip = [(b"etag", etag_gzip), *validators]
        self.headers_200 = [
            *self.headers_304,
            (b"content-type", _CALENDAR_TYPE),
            (b"content-length", str(pieces.length).encode()),
        ]
        self.headers_200_gzip = [
            *self.headers_304_gzip,
            (b"content-type", _CALENDAR_TYPE),
            (b"content-encoding", b"gzip"),
            (b"content-length", str(sum(map(len, self.chunks_gzip))).encode()),
        ]


class Responder:
    """Answers a request for a prepared feed (``_Cached``, or a worker's ``Stored``).

    Shared by the feed server and the workers of ``serve --workers``: the same
    conditional-request rules, headers and chunked bodies in every process.
    """

    _gzip_answers: dict[bytes, bool]

    def _wants_gzip(self, value: bytes) -> bool:
        answer = self._gzip_answers.get(value)
        if answer is None:
            answer = _accepts_gzip(value)
            if len(self._gzip_answers) < 256:  # noqa: PLR2004 - clients send a handful
                self._gzip_answers[value] = answer
        return answer

    def _asked(self, cached: Any, scope: Scope) -> tuple[bool, bool] | None:
        """Return (not modified?, gzip?) for a request of ``cached``; None: it has a body."""
        if_none_match = if_modified_since = None
        wants_gzip = False
        for name, value in scope["headers"]:
            if name == b"if-none-match":
                if_none_match = value if if_none_match is None else if_none_match + b"," + value
            elif name == b"if-modified-since":
                if_modified_since = value
            elif name == b"accept-encoding":
                wants_gzip = self._wants_gzip(value)
            elif name == b"transfer-encoding" or (
                name == b"content-length" and value.strip() != b"0"
            ):
                return None
        if if_none_match is not None:
            # the usual revalidation (our own tag, as sent) is one set look-up
            return if_none_match in cached.tags or _none_match(if_none_match, cached.tags), (
                wants_gzip)
        if if_modified_since is None:
            return False, wants_gzip
        if if_modified_since == cached.last_modified_http:
            return True, wants_gzip  # what we sent last time: the usual case, no parsing
        since = _parse_http_date(if_modified_since)
        return since is not None and cached.last_modified <= since, wants_gzip

    async def _respond(self, cached: Any, scope: Scope, send: Send) -> None:
        asked = self._asked(cached, scope)
        if asked is None:
            await _refuse_body(send)
            return
        not_modified, wants_gzip = asked
        if not_modified:
            headers = cached.headers_304_gzip if wants_gzip else cached.headers_304
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send(_EMPTY_BODY)
            return
        if wants_gzip:
            headers, chunks = cached.headers_200_gzip, cached.chunks_gzip
        else:
            headers, chunks = cached.headers_200, cached.chunks
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        if scope["method"] == "HEAD":
            await send(_EMPTY_BODY)
            return
        await _send_chunks(chunks, send)


class FeedServer(Responder):
    """The feeds' cache, the log follower, and the ASGI endpoints serving the feeds.

    Use :func:`create_app`; this class is public for its attributes (tests, health).
    """

    def __init__(
        self,
        alliance: Alliance,
        *,
        renderer: FeedRenderer,
        poll_interval: float,
        rerender_every: float,
        clock: Clock,
        store: FeedStore | None = None,
    ) -> None:
        self.alliance = alliance
        self.store = store
        self.renderer = renderer
        self.poll_interval = poll_interval
        self.rerender_every = rerender_every
        self.clock = clock
        self.max_age = int(renderer.refresh.total_seconds())
        self.position = -1  # the log position the cached feeds were last brought to
        self.healthy = True
        self.database_available = True  # False while the storage fails (see the module)
        # Records of unknown types skipped so far, by type name (a copy taken under the
        # lock, for /healthz); those known at start were reported by whoever caught up.
        self.unknown_types: dict[str, int] = dict(alliance.unknown_types)
        self._lock = threading.Lock()
        self._feeds: dict[str, _Cached] = {}
        self._audiences: dict[str, Audience] = {}
        self._tokens: dict[str, uuid.UUID] = {}  # SHA-256 of a live token -> organisation
        self._organisation_keys: dict[uuid.UUID, str] = {}
        self._rendered_at = 0.0
        self._public_key = Audience.public().key
        self._gzip_answers: dict[bytes, bool] = {}
        self._pages: dict[tuple[str, int, _dt.date, str], bytes] = {}
        self._watcher: LogWatcher | None = None

    # -- following the log (worker threads, under the lock) ------------------------------

    def refresh(self, *, force: bool = False) -> bool:
        """Catch up with the log; re-render the cached feeds if it moved; return if it did.

        Also re-renders when ``rerender_every`` seconds have passed (or ``force``), so
        that items leaving the feed's window with time (not with an event) go out.
        Blocking: call it from a worker thread.
        """
        with self._lock:
            state = self.alliance.state  # catches up with the log
            self._count_unknown_types()
            moved = state.position != self.position
            due = force or time.monotonic() - self._rendered_at >= self.rerender_every
            if not (moved or due):
                return False
            if moved:
                self._tokens = {}  # issued or revoked tokens: look each up again
                if self.store is not None:  # hashes only, as the log keeps them
                    self.store.publish_tokens(state.feed_tokens)
            now = self.clock()
            for key, audience in list(self._audiences.items()):
                self._install(key, audience, self.renderer.render(state, audience, now=now),
                              state.position, now)
            self.position = state.position
            self._rendered_at = time.monotonic()
            return moved

    def _count_unknown_types(self) -> None:
        counts = dict(self.alliance.unknown_types)
        new = sorted(set(counts) - set(self.unknown_types))
        if new:
            logger.warning(
                "skipping records of types this server does not know (%s); install the "
                "tool that defines them", ", ".join(new),
            )
        self.unknown_types = counts

    def _render_first(self, audience: Audience) -> _Cached:
        with self._lock:
            key = audience.key
            cached = self._feeds.get(key)
            if cached is not None:
                return cached
            state = self.alliance.state
            now = self.clock()
            self._audiences[key] = audience
            return self._install(key, audience, self.renderer.render(state, audience, now=now),
                                 state.position, now)

    def _install(
        self, key: str, audience: Audience, feed: Feed, position: int, now: _dt.datetime
    ) -> _Cached:
        previous = self._feeds.get(key)
        last_modified = int(feed.last_modified.timestamp())
        if previous is not None:
            same = previous.etag == _etag(feed.etag)  # the same bytes
            if same and previous.last_modified >= last_modified:
                return previous
            last_modified = max(last_modified, previous.last_modified)  # never backwards
            if not same and last_modified <= previous.last_modified:
                # The bytes changed but the feed's time did not move (at HTTP's one-second
                # resolution): move it, or a client revalidating by date alone (Apple)
                # would keep the old feed for ever.
                last_modified = max(previous.last_modified + 1, int(now.timestamp()))
        cached = _Cached(
            feed, last_modified=last_modified, max_age=self.max_age,
            public=key == self._public_key, position=position,
        )
        self._feeds[key] = cached
        if self.store is not None:
            self.store.publish(key, cached, feed.pieces)
        return cached

    def _lookup(self, token: str, token_hash: str) -> uuid.UUID | None:
        with self._lock:
            organisation = self.alliance.organisation_for_token(token)
            if organisation is not None:
                self._tokens[token_hash] = organisation
            return organisation

    async def follow(self) -> None:
        """Refresh whenever the log moves, for ever; log and retry on errors.

        Between two refreshes it waits for the log (see the module's notes), five
        seconds at most; after an error it backs off from ``poll_interval`` seconds.
        """
        failures = 0
        while True:
            woken = False
            if failures:
                await anyio.sleep(min(_MAX_BACKOFF, self.poll_interval * 2 ** min(failures, 8)))
            else:
                woken = await self._wait_for_the_log()
            try:
                moved = await anyio.to_thread.run_sync(self.refresh)
            except StorageError as error:  # the database is away: serve what was rendered
                failures += 1
                self.healthy = self.database_available = False
                logger.warning("the log cannot be read (attempt %d): %s", failures, error)
            except Exception:
                failures += 1
                self.healthy = False
                logger.exception("following the log failed (attempt %d); retrying", failures)
            else:
                failures = 0
                self.healthy = self.database_available = True
                if woken and not moved:  # the log moved but the state did not: never spin
                    await anyio.sleep(self.poll_interval)

    async def _wait_for_the_log(self) -> bool:
        """Wait until the log moves past the feeds' position (True) or ``_LOOK_EVERY`` s."""
        try:
            if self._watcher is None:
                self._watcher = await anyio.to_thread.run_sync(self._open_watcher)
            return await anyio.to_thread.run_sync(
                self._watcher.wait, self.position, _LOOK_EVERY
            )
        except Exception:
            logger.exception(
                "waiting for the log failed; looking again in %g s", self.poll_interval
            )
            await self._close_watcher()
            await anyio.sleep(self.poll_interval)
            return False

    def _open_watcher(self) -> LogWatcher:
        return LogWatcher(self.alliance.log, poll_interval=max(self.poll_interval, _MIN_POLL))

    async def _close_watcher(self) -> None:
        watcher, self._watcher = self._watcher, None
        if watcher is not None:
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await anyio.to_thread.run_sync(watcher.close)

    async def start(self) -> None:
        """Catch up and render the public feed before the first request (errors logged).

        The log's watcher starts listening first, so that nothing appended meanwhile
        waits for the next look.
        """
        try:
            self._watcher = await anyio.to_thread.run_sync(self._open_watcher)
        except Exception:
            logger.exception("cannot wait for the log; the follower retries")
        try:
            await anyio.to_thread.run_sync(self._render_first, Audience.public())
            await anyio.to_thread.run_sync(self.refresh)
        except StorageError as error:
            self.healthy = self.database_available = False
            logger.warning("the log cannot be read at start-up (%s); the follower retries", error)
        except Exception:
            self.healthy = False
            logger.exception("rendering the feeds at start-up failed; the follower retries")

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: object) -> AsyncIterator[None]:
        """Warm the public feed, then follow the log while the application runs."""
        await self.start()
        try:
            async with anyio.create_task_group() as tasks:
                tasks.start_soon(self.follow)
                yield
                if self._watcher is not None:
                    self._watcher.interrupt()  # its wait, in a worker thread, returns now
                tasks.cancel_scope.cancel()
        finally:
            await self._close_watcher()

    # -- serving (the event loop) --------------------------------------------------------

    async def public_feed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI endpoint of ``/calendar.ics``."""
        cached = self._feeds.get(self._public_key)
        if cached is None:
            try:
                cached = await anyio.to_thread.run_sync(self._render_first, Audience.public())
            except StorageError:
                await _unavailable(scope, send)
                return
        await self._respond(cached, scope, send)

    async def organisation_feed(self, scope: Scope, receive: Receive, send: Send) -> None:
        """ASGI endpoint of ``/o/{token}/calendar.ics``; 404 unless the token is live."""
        token: str = scope["path_params"]["token"]
        if len(token) > _MAX_TOKEN_LENGTH:
            await _not_found(scope, send)
            return
        token_hash = hashlib.sha256(token.encode()).hexdigest()
        organisation = self._tokens.get(token_hash)
        if organisation is None:
            if not self.database_available:  # cannot be checked now: 404, as for a wrong one
                await _not_found(scope, send)
                return
            try:
                organisation = await anyio.to_thread.run_sync(self._lookup, token, token_hash)
            except StorageError:
                organisation = None  # the same: nothing told about a token not checked
            if organisation is None:
                await _not_found(scope, send)
                return
        cached = self._feeds.get(Audience.organisation(organisation).key)
        if cached is None:
            try:
                cached = await anyio.to_thread.run_sync(
                    self._render_first, Audience.organisation(organisation)
                )
            except StorageError:
                await _unavailable(scope, send)
                return
        await self._respond(cached, scope, send)

    def cached_for(self, path: str) -> _Cached | None:
        """Return the feed a path names if it is rendered and its token known, else None.

        What the fast path (before the router) serves; None sends the request the long
        way (the endpoints above), which renders, looks tokens up or answers 404.
        """
        if path == "/calendar.ics":
            return self._feeds.get(self._public_key)
        if path.startswith("/o/") and path.endswith("/calendar.ics"):
            token = path[3:-13]
            if not token or "/" in token or len(token) > _MAX_TOKEN_LENGTH:
                return None
            organisation = self._tokens.get(hashlib.sha256(token.encode()).hexdigest())
            if organisation is not None:
                return self._feeds.get(self._organisation_keys.get(organisation) or
                                       self._organisation_key(organisation))
        return None

    def _organisation_key(self, organisation: uuid.UUID) -> str:
        key = self._organisation_keys[organisation] = Audience.organisation(organisation).key
        return key

    # -- the subscribe pages and the health check -----------------------------------------

    def subscribe_page(
        self, origin: str, *, base_url: str | None = None, token: str | None = None
    ) -> bytes | None:
        """Return the public subscribe page, or an organisation's (None: no such token).

        Links start with ``base_url`` if given, else with the feed address recorded in the
        log, else with ``origin`` (the request's own scheme and host). Pages are cached by
        feed, position of the log and day. Blocking: call it from a worker thread.
        """
        with self._lock:
            state = self.alliance.state
            organisation = None
            if token is not None:
                if len(token) > _MAX_TOKEN_LENGTH:
                    return None
                organisation = self.alliance.organisation_for_token(token)
                if organisation is None:
                    return None
            today = self.clock().astimezone(_dt.UTC).date()
            base = base_url or self.alliance.feed_address or origin
            key = (
                "" if token is None else hashlib.sha256(token.encode()).hexdigest(),
                state.position, today, base,
            )
            cached = self._pages.get(key)
            if cached is not None:
                return cached
            meetings = []
            for view in self.alliance.meetings(from_day=today)[:_LISTED]:
                delegation: list[Delegate] = []
                if organisation is not None:
                    delegation = [
                        Delegate(d.person, d.role.value, d.status.value)
                        for group in self.alliance.registration(view.meeting_id).delegations
                        if group.organisation_id == organisation
                        for d in group.delegates
                    ]
                meetings.append(listed(view.title, view.when, view.status.value, delegation))
            body = page(
                name=self.renderer.name,
                links=subscribe_links(base, token),
                meetings=meetings,
                organisation=None if organisation is None else state.organisation_name(
                    organisation
                ),
            ).encode()
            if len(self._pages) >= _PAGES_KEPT:
                self._pages.clear()
            self._pages[key] = body
            return body

    def health(self) -> dict[str, Any]:
        """Return the status, the feeds' log position and count, and what was not read.

        What was not read: the records of unknown types skipped (by type name), the
        items left out for a value outside the domain's ranges, and the installed tools
        whose event types were loaded or refused.
        """
        unknown = self.unknown_types
        status = (
            "ok" if self.healthy
            else "failing" if self.database_available
            else "database unavailable"
        )
        return {
            "status": status,
            "position": max(self.position, 0),
            "feeds": len(self._feeds),
            "skipped_unknown_types": sum(unknown.values()),
            "unknown_types": dict(sorted(unknown.items())),
            "left_out": [
                {"stream": stream, "position": why.position, "reason": why.reason}
                for stream, why in sorted(self.alliance.left_out.items())
            ],
            "plugins": {
                load.namespace: {"loaded": True, "types": list(load.types)}
                if load.loaded else {"loaded": False, "error": load.error}
                for load in self.alliance.plugins
            },
        }


_UNAVAILABLE_BODY: Final = b"Service Unavailable: the database is away; retry later"


async def _unavailable(scope: Scope, send: Send) -> None:
    """Answer 503: what was asked was never rendered and the database is away."""
    headers = [
        (b"content-length", str(len(_UNAVAILABLE_BODY)).encode()),
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"retry-after", b"30"),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    body = b"" if scope["method"] == "HEAD" else _UNAVAILABLE_BODY
    await send({"type": "http.response.body", "body": body})


_EMPTY_BODY: Final = {"type": "http.response.body", "body": b""}
_SEND_AT_LEAST: Final = 256 * 1024  # bytes gathered into one send (pieces are ~40 KB)


async def _send_chunks(chunks: tuple[bytes, ...], send: Send) -> None:
    """Send a body given in chunks, a few hundred KB per send (no copy of the whole)."""
    gathered: list[bytes] = []
    size = 0
    last = len(chunks) - 1
    for at, chunk in enumerate(chunks):
        gathered.append(chunk)
        size += len(chunk)
        if size >= _SEND_AT_LEAST or at == last:
            body = gathered[0] if len(gathered) == 1 else b"".join(gathered)
            await send({"type": "http.response.body", "body": body, "more_body": at < last})
            gathered, size = [], 0
    if not chunks:
        await send(_EMPTY_BODY)


async def _refuse_body(send: Send) -> None:
    """Answer 413: no request to the feed server has a body (see :class:`_RefuseBodies`)."""
    await send({"type": "http.response.start", "status": 413, "headers": [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"connection", b"close"),
    ]})
    await send({"type": "http.response.body", "body": b"A request to this server has no body.\n"})


async def _not_found(scope: Scope, send: Send) -> None:
    await send({"type": "http.response.start", "status": 404, "headers": _NOT_FOUND_HEADERS})
    body = b"" if scope["method"] == "HEAD" else _NOT_FOUND_BODY
    await send({"type": "http.response.body", "body": body})


class _Endpoint:
    """An ASGI endpoint (a class instance, so Starlette routes to it without wrapping)."""

    __slots__ = ("_call",)

    def __init__(self, call: Callable[[Scope, Receive, Send], Any]) -> None:
        self._call = call

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._call(scope, receive, send)


class _RefuseBodies:
    """Answer 413 to a request with a body: no request to the feed server has one.

    Its bytes are never read (the connection closes after the answer), so a client
    cannot make the server hold or wait for a large or slow upload.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for name, value in scope["headers"]:
                if name == b"transfer-encoding" or (
                    name == b"content-length" and value.strip() != b"0"
                ):
                    await _refuse_body(send)
                    return
        await self.app(scope, receive, send)


class _FeedApp(Starlette):
    """Starlette, with the feeds' conditional GETs answered before the router.

    A subscriber's revalidation of a feed already rendered (the bulk of the traffic: one
    per subscriber every refresh) is a dictionary look-up, a header loop and two
    ``send`` calls, as in a bare ASGI callable; everything else (a first render, a token
    not looked up yet, the pages, ``/healthz``, unknown paths) goes through Starlette.
    """

    feeds: FeedServer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] in ("GET", "HEAD"):
            cached = self.feeds.cached_for(scope["path"])
            if cached is not None:
                await self.feeds._respond(cached, scope, send)
                return
        await super().__call__(scope, receive, send)


def create_app(
    alliance: Alliance,
    *,
    base_url: str | None = None,
    renderer: FeedRenderer | None = None,
    poll_interval: float = 0.5,
    rerender_every: float = 3600.0,
    clock: Clock | None = None,
    store: FeedStore | None = None,
) -> Starlette:
    """Return the feed server's ASGI application over ``alliance``.

    Args:
        alliance: the application; its log is followed while the server runs.
        base_url: the public address the pages' links start with (say
            ``https://www.example.org/calendar`` when mounted there); by default the feed
            address recorded in the log (:meth:`Alliance.set_feed_address`), else the
            request's own scheme and host.
        renderer: renders the feeds (a default :class:`FeedRenderer` if not given); its
            ``refresh`` interval is the feeds' ``Cache-Control: max-age``, its ``name``
            the index page's title.
        poll_interval: seconds between two looks at the log on SQLite (PostgreSQL wakes
            the server with ``NOTIFY``, the memory log at once); the first back-off after
            an error.
        rerender_every: seconds after which the feeds are rendered again even if the log
            did not move (items leave the window as time passes).
        clock: the time feeds are rendered at; the Alliance's clock by default.
        store: where to publish every feed rendered and the live tokens' hashes, for
            the workers of ``serve --workers`` (``web._store``); none by default.

    Mounted inside another Starlette application, the feed server's lifespan (which
    follows the log) does not run by itself: enter ``app.router.lifespan_context(app)``
    in the host's lifespan, and give ``base_url`` with the mount path.

    """
    server = FeedServer(
        alliance,
        renderer=FeedRenderer() if renderer is None else renderer,
        poll_interval=poll_interval,
        rerender_every=rerender_every,
        clock=alliance.clock if clock is None else clock,
        store=store,
    )

    async def index(request: Request) -> Response:
        origin = f"{request.url.scheme}://{request.url.netloc}"
        try:
            body = await anyio.to_thread.run_sync(
                lambda: server.subscribe_page(origin, base_url=base_url)
            )
        except StorageError:
            return Response(_UNAVAILABLE_BODY, status_code=503, media_type="text/plain")
        assert body is not None  # noqa: S101 - the public page always exists
        return HTMLResponse(body, headers=_PAGE_HEADERS)

    async def organisation_page(request: Request) -> Response:
        origin = f"{request.url.scheme}://{request.url.netloc}"
        token = request.path_params["token"]
        try:
            body = await anyio.to_thread.run_sync(
                lambda: server.subscribe_page(origin, base_url=base_url, token=token)
            )
        except StorageError:
            body = None  # a token not checked: the same 404 as a wrong one
        if body is None:
            return Response(_NOT_FOUND_BODY, status_code=404, media_type="text/plain")
        headers = {**_PAGE_HEADERS, "cache-control": "private, no-store"}
        return HTMLResponse(body, headers=headers)

    async def healthz(request: Request) -> Response:
        report = server.health()
        return JSONResponse(report, status_code=200 if server.healthy else 503)

    app = _FeedApp(
        middleware=[Middleware(_RefuseBodies)],
        routes=[
            Route("/calendar.ics", _Endpoint(server.public_feed), methods=["GET", "HEAD"]),
            Route("/o/{token}/calendar.ics", _Endpoint(server.organisation_feed),
                  methods=["GET", "HEAD"]),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/", index, methods=["GET"]),
            Route("/o/{token}/", organisation_page, methods=["GET"]),
        ],
        lifespan=server.lifespan,
    )
    # No redirect to an added "/": "/o/<anything>" must get the same 404 as a wrong token.
    app.router.redirect_slashes = False
    app.state.feeds = app.feeds = server
    return app
