"""The feed server (``alliance_events.web``): validators, tokens, following the log.

In process (httpx.ASGITransport, with the application's lifespan running, and without
it) and as a real ``alliance-events serve`` process on loopback.
"""

from __future__ import annotations

import datetime as _dt
import email.utils
import gzip
import itertools
import json
import logging
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import anyio
import anyio.from_thread
import httpx
import pendulum
import pytest

from alliance_events import Alliance, OpaqueEvent, new_id, open_log
from alliance_events.app import token_hash
from alliance_events.ical import Audience, Feed, FeedRenderer
from alliance_events.web import FeedServer, create_app, subscribe_links
from alliance_events.web._pages import PALETTE, STYLE

from .helpers import IDENTITY, InProcess, running

CLI = [sys.executable, "-m", "alliance_events.cli"]


@dataclass
class Seeded:
    url: str
    path: Path
    organisation: uuid.UUID
    token: str
    second_token: str
    second_id: uuid.UUID
    revoked: str


def _future(days: int) -> str:
    moment = pendulum.now("Europe/Vienna").add(days=days).replace(hour=15, minute=0)
    return moment.format("YYYY-MM-DD HH:mm")


def seed(path: Path) -> Seeded:
    """A SQLite log with an organisation, two live tokens and a revoked one, a meeting."""
    url = f"sqlite:///{path}"
    with Alliance.open(url) as alliance:
        organisation = alliance.register_organisation(name="CGR", acronym="CGR")
        _, token = alliance.issue_feed_token(organisation)
        second_id, second = alliance.issue_feed_token(organisation, label="second")
        revoked_id, revoked = alliance.issue_feed_token(organisation, label="leaked")
        alliance.revoke_feed_token(organisation, revoked_id, reason="leaked")
        alliance.schedule_meeting(
            title="Informal Meeting", start=_future(10), end="16:30", zone="Europe/Vienna"
        )
    return Seeded(url, path, organisation, token, second, second_id, revoked)


def add_meeting(url: str, title: str = "Working Group") -> None:
    """Append through another handle on the same file, as another process would."""
    with Alliance.open(url) as other:
        other.schedule_meeting(title=title, start=_future(20), end="17:00", zone="Europe/Vienna")


def last_modified(response: httpx.Response) -> _dt.datetime:
    return email.utils.parsedate_to_datetime(response.headers["last-modified"])


def wait_for(check: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def seeded(tmp_path: Path) -> Seeded:
    return seed(tmp_path / "log.db")


@pytest.fixture
def alliance(seeded: Seeded) -> Iterator[Alliance]:
    with Alliance.open(seeded.url) as opened:
        yield opened


@pytest.fixture
def client(alliance: Alliance) -> Iterator[InProcess]:
    app = create_app(alliance, poll_interval=0.05)
    with running(app) as test_client:  # the lifespan (and so the follower) runs
        yield test_client


def org_path(token: str) -> str:
    return f"/o/{token}/calendar.ics"


class TestResponses:
    def test_the_public_feed_and_its_headers(self, client: InProcess) -> None:
        """200 with the calendar type, a strong SHA-256 ETag, Last-Modified, caching, Vary."""
        response = client.get("/calendar.ics", headers=IDENTITY)
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/calendar; charset=utf-8"
        assert response.content.startswith(b"BEGIN:VCALENDAR")
        assert re.fullmatch(r'"[A-Za-z0-9_-]{43}"', response.headers["etag"])
        assert response.headers["cache-control"] == "public, max-age=7200"
        assert response.headers["vary"] == "Accept-Encoding"
        assert last_modified(response).tzinfo is not None
        assert int(response.headers["content-length"]) == len(response.content)
        assert "content-encoding" not in response.headers

    def test_the_etag_is_the_hash_of_the_bytes(self, client: InProcess) -> None:
        """Two fetches give the same bytes and ETag; the ETag is a hash of the bytes alone
        (SHA-256 over the SHA-256s of the pieces the bytes cut into: ical._pieces)."""
        import base64

        from alliance_events.ical._pieces import etag_of

        first = client.get("/calendar.ics", headers=IDENTITY)
        second = client.get("/calendar.ics", headers=IDENTITY)
        assert first.content == second.content
        digest = base64.urlsafe_b64encode(etag_of(first.content)).rstrip(b"=")
        assert first.headers["etag"] == f'"{digest.decode()}"' == second.headers["etag"]

    def test_if_none_match(self, client: InProcess) -> None:
        """The ETag, W/ of it, a list holding it, or * give 304; another tag gives 200."""
        first = client.get("/calendar.ics", headers=IDENTITY)
        etag = first.headers["etag"]
        for value in (etag, f"W/{etag}", f'"nope", {etag}', f'W/"x",W/{etag}', "*"):
            response = client.get("/calendar.ics", headers={**IDENTITY, "If-None-Match": value})
            assert response.status_code == 304, value
            assert response.content == b""
            for name in ("etag", "last-modified", "cache-control", "vary"):
                assert response.headers[name] == first.headers[name]
        response = client.get("/calendar.ics", headers={**IDENTITY, "If-None-Match": '"nope"'})
        assert response.status_code == 200
        assert response.content == first.content

    def test_if_modified_since_is_compared(self, client: InProcess) -> None:
        """304 when the feed is not newer than the date; 200 when it is, or when invalid."""
        first = client.get("/calendar.ics", headers=IDENTITY)
        served = last_modified(first)

        def since(moment: _dt.datetime | str) -> httpx.Response:
            value = moment if isinstance(moment, str) else email.utils.format_datetime(
                moment.astimezone(_dt.UTC), usegmt=True)
            return client.get("/calendar.ics", headers={**IDENTITY, "If-Modified-Since": value})

        exact = since(first.headers["last-modified"])
        assert exact.status_code == 304
        assert exact.headers["etag"] == first.headers["etag"]
        assert exact.headers["last-modified"] == first.headers["last-modified"]
        assert exact.headers["cache-control"] == first.headers["cache-control"]
        assert since(served + _dt.timedelta(days=1)).status_code == 304
        assert since(served - _dt.timedelta(seconds=1)).status_code == 200
        assert since("Thu, 01 Jan 1970 00:00:00 GMT").status_code == 200
        assert since("not a date").status_code == 200
        # Malformed beyond parsing (a huge year, numbers past a C long): as if absent.
        for malformed in ("Mon, 01 Jan 99999 00:00:00 GMT",
                          "Mon, 01 Jan 2023 99999999999999999999:00:00 GMT",
                          "Mon, 01 Jan 2023 00:00:00 +99999999999999999999",
                          "Mon, 99999999999999999999 Jan 2023 00:00:00 GMT"):
            assert since(malformed).status_code == 200, malformed
        # The obsolete asctime format is an HTTP date too.
        later = (served + _dt.timedelta(hours=1)).astimezone(_dt.UTC)
        assert since(later.strftime("%a %b %d %H:%M:%S %Y")).status_code == 304

    def test_if_none_match_wins_over_if_modified_since(self, client: InProcess) -> None:
        """A non-matching ETag gives 200 whatever the date; a matching one 304."""
        first = client.get("/calendar.ics", headers=IDENTITY)
        stamp = first.headers["last-modified"]
        both = {**IDENTITY, "If-Modified-Since": stamp, "If-None-Match": '"other"'}
        assert client.get("/calendar.ics", headers=both).status_code == 200
        old = {
            **IDENTITY,
            "If-Modified-Since": "Thu, 01 Jan 1970 00:00:00 GMT",
            "If-None-Match": first.headers["etag"],
        }
        assert client.get("/calendar.ics", headers=old).status_code == 304

    def test_head(self, client: InProcess) -> None:
        """HEAD gives GET's headers and no body; conditional HEAD gives 304."""
        got = client.get("/calendar.ics", headers=IDENTITY)
        head = client.head("/calendar.ics", headers=IDENTITY)
        assert head.status_code == 200
        assert head.content == b""
        for name in ("etag", "last-modified", "content-type", "content-length", "cache-control"):
            assert head.headers[name] == got.headers[name]
        conditional = {**IDENTITY, "If-None-Match": got.headers["etag"]}
        assert client.head("/calendar.ics", headers=conditional).status_code == 304

    def test_gzip(self, client: InProcess) -> None:
        """gzip when accepted: the same bytes compressed, with an ETag of its own.

        Either variant's ETag revalidates either variant: both are the same feed.
        """
        plain = client.get("/calendar.ics", headers=IDENTITY)
        zipped_headers, raw = client.raw("/calendar.ics", headers={"Accept-Encoding": "gzip"})
        assert zipped_headers["content-encoding"] == "gzip"
        assert zipped_headers["vary"] == "Accept-Encoding"
        assert int(zipped_headers["content-length"]) == len(raw)
        assert gzip.decompress(raw) == plain.content
        assert zipped_headers["etag"] != plain.headers["etag"]
        assert zipped_headers["last-modified"] == plain.headers["last-modified"]
        for etag in (plain.headers["etag"], zipped_headers["etag"]):
            for encoding in ("gzip", "identity"):
                response = client.get(
                    "/calendar.ics", headers={"Accept-Encoding": encoding, "If-None-Match": etag}
                )
                assert response.status_code == 304
                expected = zipped_headers if encoding == "gzip" else plain.headers
                assert response.headers["etag"] == expected["etag"]
        refused = client.get("/calendar.ics", headers={"Accept-Encoding": "gzip;q=0, br"})
        assert "content-encoding" not in refused.headers
        star = client.get("/calendar.ics", headers={"Accept-Encoding": "*"})
        assert star.headers["content-encoding"] == "gzip"

    def test_other_methods_are_not_allowed(self, client: InProcess) -> None:
        """POST on a feed gives 405."""
        assert client.post("/calendar.ics").status_code == 405


class TestFollowing:
    def test_a_new_event_shows_without_a_restart(
        self, client: InProcess, seeded: Seeded
    ) -> None:
        """An event appended by another handle shows within about a second, newer."""
        before = client.get("/calendar.ics", headers=IDENTITY)
        before_org = client.get(org_path(seeded.token), headers=IDENTITY)
        add_meeting(seeded.url, "Working Group on Firearms")
        conditional = {**IDENTITY, "If-None-Match": before.headers["etag"]}
        assert wait_for(
            lambda: client.get("/calendar.ics", headers=conditional).status_code == 200, 2.0
        )
        after = client.get("/calendar.ics", headers=IDENTITY)
        assert after.headers["etag"] != before.headers["etag"]
        assert b"Working Group on Firearms" in after.content
        assert last_modified(after) >= last_modified(before)
        since = {**IDENTITY, "If-Modified-Since": before.headers["last-modified"]}
        assert client.get("/calendar.ics", headers=since).status_code == 200
        after_org = client.get(org_path(seeded.token), headers=IDENTITY)
        assert after_org.headers["etag"] != before_org.headers["etag"]
        assert b"Working Group on Firearms" in after_org.content

    def test_health(self, client: InProcess, alliance: Alliance) -> None:
        """/healthz says ok, the log position, and how many feeds are cached."""
        response = client.get("/healthz")
        assert response.status_code == 200
        report = response.json()
        assert report["status"] == "ok"
        assert report["position"] == alliance.log.head()
        assert report["feeds"] == 1
        assert (report["skipped_unknown_types"], report["unknown_types"]) == (0, {})
        assert report["plugins"] == {}

    def test_health_reports_what_it_could_not_read(
        self, seeded: Seeded, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Other tools' records: counted by type, logged once, still 200; tools listed."""
        with Alliance.open(seeded.url, plugins=True) as alliance:
            app = create_app(alliance, poll_interval=0.05)
            with running(app) as client:
                with open_log(seeded.url) as log:
                    log.append("elsewhere", [
                        OpaqueEvent(event_id=new_id(), type_name="ghost.Haunted", schema=1,
                                    data="{}"),
                        OpaqueEvent(event_id=new_id(), type_name="ghost.Haunted", schema=2,
                                    data="[]"),
                    ], expected_version=0)
                assert wait_for(
                    lambda: client.get("/healthz").json()["skipped_unknown_types"] == 2
                )
                response = client.get("/healthz")
                assert response.status_code == 200
                report = response.json()
                assert report["status"] == "ok"
                assert report["unknown_types"] == {"ghost.Haunted": 2}
                assert report["position"] == alliance.log.head()
                assert report["plugins"]["minutes"] == {
                    "loaded": True,
                    "types": ["minutes.ActionItemRecorded", "minutes.MinutesApproved"],
                }
        warnings = [r.getMessage() for r in caplog.records if "does not know" in r.getMessage()]
        assert warnings == [
            "skipping records of types this server does not know (ghost.Haunted); install "
            "the tool that defines them"
        ]

    def test_errors_in_the_follower_are_logged_and_retried(
        self, alliance: Alliance, seeded: Seeded, caplog: pytest.LogCaptureFixture
    ) -> None:
        """A failing render is logged, /healthz says so, the old feed is still served."""
        failing = FailingRenderer(FeedRenderer())
        app = create_app(alliance, renderer=failing, poll_interval=0.05)
        with running(app) as client:
            before = client.get("/calendar.ics", headers=IDENTITY)
            failing.fail = True
            add_meeting(seeded.url)
            assert wait_for(lambda: client.get("/healthz").status_code == 503)
            assert client.get("/healthz").json()["status"] == "failing"
            assert client.get("/calendar.ics", headers=IDENTITY).content == before.content
            failing.fail = False
            assert wait_for(lambda: client.get("/healthz").status_code == 200, 5.0)
            after = client.get("/calendar.ics", headers=IDENTITY)
            assert after.headers["etag"] != before.headers["etag"]
        assert any("following the log failed" in r.getMessage() for r in caplog.records)


class TestTokens:
    def test_the_token_matrix(
        self, client: InProcess, seeded: Seeded, caplog: pytest.LogCaptureFixture
    ) -> None:
        """Valid: 200 (private); wrong, revoked, missing: the same 404 as any unknown path."""
        caplog.set_level(logging.DEBUG)
        valid = client.get(org_path(seeded.token), headers=IDENTITY)
        assert valid.status_code == 200
        assert valid.headers["cache-control"] == "private, max-age=7200"
        assert valid.content.startswith(b"BEGIN:VCALENDAR")
        assert client.head(org_path(seeded.token)).status_code == 200
        unknown_path = client.get("/nothing-here")
        for path in (
            org_path(seeded.token + "x"),
            org_path(seeded.revoked),
            org_path("x" * 1000),
            "/o//calendar.ics",
            "/o/calendar.ics",
            "/o/%20/calendar.ics",
        ):
            response = client.get(path)
            assert response.status_code == 404, path
            assert response.content == unknown_path.content == b"Not Found"
            assert response.headers["content-type"] == unknown_path.headers["content-type"]
        assert client.head(org_path(seeded.revoked)).status_code == 404
        # Everything logged on the server's side (httpx, the client, names the URL it got).
        server_side = [r for r in caplog.records if not r.name.startswith(("httpx", "httpcore"))]
        logged = "\n".join(f"{r.getMessage()} {r.exc_text or ''}" for r in server_side)
        assert seeded.token not in logged
        assert seeded.revoked not in logged

    def test_the_organisation_feed_revalidates(self, client: InProcess, seeded: Seeded) -> None:
        """Organisation feeds have the same validators and 304s."""
        first = client.get(org_path(seeded.token), headers=IDENTITY)
        again = client.get(
            org_path(seeded.token), headers={**IDENTITY, "If-None-Match": first.headers["etag"]}
        )
        assert again.status_code == 304
        assert again.headers["cache-control"] == "private, max-age=7200"

    def test_feeds_are_cached_by_organisation_not_token(
        self, client: InProcess, seeded: Seeded
    ) -> None:
        """Two tokens of one organisation share one cached feed (same bytes)."""
        first = client.get(org_path(seeded.token), headers=IDENTITY)
        second = client.get(org_path(seeded.second_token), headers=IDENTITY)
        assert first.content == second.content
        assert first.headers["etag"] == second.headers["etag"]
        assert client.get("/healthz").json()["feeds"] == 2  # public + the organisation
        server: FeedServer = client.app.state.feeds
        assert seeded.token not in repr(server._tokens)
        assert token_hash(seeded.token) in server._tokens

    def test_revocation_takes_effect_while_running(
        self, client: InProcess, seeded: Seeded
    ) -> None:
        """A token revoked through another handle stops working within a poll or two."""
        assert client.get(org_path(seeded.second_token)).status_code == 200
        with Alliance.open(seeded.url) as other:
            other.revoke_feed_token(seeded.organisation, seeded.second_id)
        assert wait_for(lambda: client.get(org_path(seeded.second_token)).status_code == 404)
        assert client.get(org_path(seeded.token)).status_code == 200


class TestIndex:
    def test_the_three_subscribe_links(self, client: InProcess) -> None:
        """webcal://, Google's render?cid=webcal%3A…, and the plain address, from the host."""
        page = client.get("/").text
        assert 'href="webcal://testserver/calendar.ics"' in page
        google = "https://calendar.google.com/calendar/render?cid=" + quote(
            "webcal://testserver/calendar.ics", safe=""
        )
        assert google == (
            "https://calendar.google.com/calendar/render?cid=webcal%3A%2F%2Ftestserver%2Fcalendar.ics"
        )
        assert f'href="{google}"' in page
        assert 'value="http://testserver/calendar.ics"' in page

    def test_a_base_url_and_escaping(self, alliance: Alliance) -> None:
        """With a base URL the links use it; a hostile Host header is escaped."""
        app = create_app(alliance, base_url="https://events.example.org/feeds/")
        with running(app) as client:
            page = client.get("/").text
        assert 'href="webcal://events.example.org/feeds/calendar.ics"' in page
        assert 'value="https://events.example.org/feeds/calendar.ics"' in page
        assert subscribe_links("https://x.org")["google"].endswith("cid=webcal%3A%2F%2Fx.org%2Fcalendar.ics")
        with running(create_app(alliance)) as client:
            page = client.get("/", headers={"Host": 'evil"><script>'}).text
        assert "<script>" not in page

    def test_the_recorded_feed_address_is_the_one_offered(self, alliance: Alliance) -> None:
        """The address set in the log (as `settings feed-address` sets it) is what the
        pages offer, whatever host the request named; a new address shows at once."""
        alliance.set_feed_address("https://calendar.example.org/")
        with running(create_app(alliance)) as client:
            page = client.get("/").text
            assert 'href="webcal://calendar.example.org/calendar.ics"' in page
            assert "testserver" not in page
            alliance.set_feed_address("https://feeds.example.net")
            assert 'value="https://feeds.example.net/calendar.ics"' in client.get("/").text

    def test_the_public_page_lists_what_is_to_come_and_promises_no_mail(
        self, client: InProcess
    ) -> None:
        """The meetings to come are listed with their time in their own zone; the page
        claims no channel the product lacks (no e-mail), and has the headers that keep
        it in place (CSP with the style's hash, no referrer, nosniff)."""
        response = client.get("/")
        page = response.text
        assert "Informal Meeting" in page
        assert "Europe/Vienna" in page
        assert "e-mail" not in page.lower()
        assert "email" not in page.lower()
        assert response.headers["referrer-policy"] == "no-referrer"
        assert "style-src 'sha256-" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"

    def test_an_organisations_page(self, client: InProcess, seeded: Seeded) -> None:
        """/o/<token>/ offers the organisation's private feed, warns that it is private,
        lists its delegation, is never cached by others; a wrong token gets the feed's
        404, and no other organisation's delegate is named."""
        with Alliance.open(seeded.url) as other:
            meeting = other.meetings()[0].meeting_id
            rival = other.register_organisation(name="Rival", acronym="RIV")
            ours = other.register_person(name="Ada Ours", organisation=seeded.organisation)
            theirs = other.register_person(name="Bob Theirs", organisation=rival)
            other.open_registration(meeting, opens=_future(-1)[:10], closes=_future(5)[:10])
            other.nominate(meeting, person=ours, organisation=seeded.organisation,
                           role="speaker")
            other.nominate(meeting, person=theirs, organisation=rival, role="speaker")
        response = client.get(f"/o/{seeded.token}/")
        assert response.status_code == 200
        page = response.text
        assert f'href="webcal://testserver/o/{seeded.token}/calendar.ics"' in page
        assert "This address is private" in page
        assert "Ada Ours: speaker, nominated" in page
        assert "Bob Theirs" not in page
        assert "Ada Ours" not in client.get("/").text
        assert response.headers["cache-control"] == "private, no-store"
        assert client.get(f"/o/{seeded.token}x/").status_code == 404
        assert client.get("/o/x" * 100 + "/").status_code == 404
        assert client.get(f"/o/{seeded.token}").status_code == 404


class FailingRenderer:
    """Wraps a renderer; raises while ``fail`` is set; counts renders."""

    def __init__(self, inner: FeedRenderer) -> None:
        self.inner = inner
        self.fail = False
        self.renders = 0
        self.refresh = inner.refresh
        self.name = "Alliance calendar"

    def render(self, state: Any, audience: Audience, *, now: _dt.datetime) -> Feed:
        if self.fail:
            raise RuntimeError("renderer broken on purpose")
        self.renders += 1
        return self.inner.render(state, audience, now=now)


class TestHotPath:
    def test_a_304_renders_nothing_and_reads_no_database(self, alliance: Alliance) -> None:
        """Without the lifespan (ASGITransport): first GET renders; 304s touch nothing."""
        counting = FailingRenderer(FeedRenderer())
        app = create_app(alliance, renderer=counting)  # type: ignore[arg-type]

        async def scenario() -> None:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://feeds") as client:
                first = await client.get("/calendar.ics", headers=IDENTITY)
                assert first.status_code == 200
                assert counting.renders == 1

                def no_database(*args: object, **kwargs: object) -> None:
                    raise AssertionError("the database was read")

                alliance.log.read_all = no_database  # type: ignore[method-assign]
                alliance.log.head = no_database  # type: ignore[method-assign]
                for headers in (
                    {"If-None-Match": first.headers["etag"]},
                    {"If-Modified-Since": first.headers["last-modified"]},
                    {"If-None-Match": first.headers["etag"], "Accept-Encoding": "gzip"},
                ):
                    response = await client.get("/calendar.ics", headers=headers)
                    assert response.status_code == 304
                assert (await client.get("/calendar.ics")).status_code == 200
                assert counting.renders == 1

        anyio.run(scenario)

    def test_last_modified_never_moves_backwards(self, alliance: Alliance) -> None:
        """A render with an older time keeps the served time; new bytes move it forward."""
        renderer = ScriptedRenderer()
        server = FeedServer(
            alliance, renderer=renderer, poll_interval=1, rerender_every=0,  # type: ignore[arg-type]
            clock=lambda: pendulum.datetime(2030, 1, 1, tz="UTC"),
        )
        t0 = pendulum.datetime(2025, 5, 1, 12, tz="UTC")
        renderer.next = Feed(body=b"A", last_modified=t0, item_count=1)
        first = server._render_first(Audience.public())
        renderer.next = Feed(body=b"A", last_modified=t0.subtract(days=3), item_count=1)
        server.refresh(force=True)
        same = server._feeds[Audience.public().key]
        assert same.last_modified == first.last_modified
        renderer.next = Feed(body=b"B", last_modified=t0.subtract(days=3), item_count=1)
        server.refresh(force=True)
        changed = server._feeds[Audience.public().key]
        assert changed.last_modified > first.last_modified
        assert changed.etag != first.etag


class ScriptedRenderer:
    """Returns whatever feed the test put in ``next``."""

    refresh = _dt.timedelta(hours=2)
    name = "Scripted"

    def __init__(self) -> None:
        self.next: Feed | None = None

    def render(self, state: Any, audience: Audience, *, now: _dt.datetime) -> Feed:
        assert self.next is not None
        return self.next


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(params=[1, 2], ids=["one-process", "two-workers"])
def served(
    seeded: Seeded, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[str, Path, subprocess.Popen[bytes]]]:
    """``alliance-events serve`` on a free loopback port, in one process, or with two
    workers serving what the publisher rendered once; always stopped at the end."""
    port = _free_port()
    output = tmp_path / "server.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [*CLI, "--db", str(seeded.path), "serve", "--port", str(port),
             "--poll-interval", "0.1", "--workers", str(request.param)],
            stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60  # workers are new processes: imports first
            while True:
                assert process.poll() is None, output.read_text()
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the server did not come up"
                time.sleep(0.1)
            yield base, output, process
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=5)


class TestServeProcess:
    def test_a_real_server_on_loopback(
        self, served: tuple[str, Path, subprocess.Popen[bytes]], seeded: Seeded
    ) -> None:
        """Validators, gzip, tokens, following the log, over a real socket; no token logged.

        Ctrl-C (SIGINT) then stops it cleanly, with status 0.
        """
        base, output, process = served
        with httpx.Client(base_url=base, timeout=5, headers=IDENTITY) as client:
            first = client.get("/calendar.ics")
            assert first.status_code == 200
            assert first.headers["content-type"] == "text/calendar; charset=utf-8"
            etag, stamp = first.headers["etag"], first.headers["last-modified"]
            assert client.get("/calendar.ics", headers={"If-None-Match": etag}).status_code == 304
            assert client.get(
                "/calendar.ics", headers={"If-Modified-Since": stamp}).status_code == 304
            assert client.get("/calendar.ics", headers={
                "If-Modified-Since": stamp, "If-None-Match": '"x"'}).status_code == 200
            head = client.head("/calendar.ics")
            assert head.status_code == 200
            assert head.headers["content-length"] == first.headers["content-length"]
            with client.stream("GET", "/calendar.ics", headers={"Accept-Encoding": "gzip"}) as r:
                assert r.headers["content-encoding"] == "gzip"
                assert gzip.decompress(b"".join(r.iter_raw())) == first.content
            if shutil.which("curl"):  # a real client's decompression of the pieces' gzip
                done = subprocess.run(["curl", "-sS", "--compressed", f"{base}/calendar.ics"],
                                      capture_output=True, check=True, timeout=10)
                assert done.stdout == first.content

            organisation = client.get(org_path(seeded.token))
            assert organisation.status_code == 200
            assert client.get(org_path(seeded.second_token)).content == organisation.content
            assert client.get(org_path(seeded.token), headers={
                "If-None-Match": organisation.headers["etag"]}).status_code == 304
            for path in (org_path(seeded.revoked), org_path("wrong"), "/o//calendar.ics",
                         "/o/calendar.ics"):
                assert client.get(path).status_code == 404, path
            assert client.post("/calendar.ics", content=b"x").status_code == 413
            with Alliance.open(seeded.url) as other:  # revoked: 404 once the log moved
                other.revoke_feed_token(seeded.organisation, seeded.second_id, reason="test")
            assert wait_for(
                lambda: client.get(org_path(seeded.second_token)).status_code == 404, 5.0)
            assert client.get(org_path(seeded.token)).status_code == 200

            add_meeting(seeded.url, "Plenary")
            assert wait_for(
                lambda: client.get(
                    "/calendar.ics", headers={"If-None-Match": etag}).status_code == 200,
                5.0,
            )
            after = client.get("/calendar.ics")
            assert after.headers["etag"] != etag
            assert last_modified(after) >= last_modified(first)
            assert b"Plenary" in after.content
            index = client.get("/").text
            assert f"webcal://127.0.0.1:{base.rsplit(':', 1)[1]}/calendar.ics" in index
            assert client.get("/healthz").json()["status"] == "ok"
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0
        logged = output.read_text()
        assert "Uvicorn running" in logged or "Feeds served on" in logged  # captured
        assert seeded.token not in logged
        assert seeded.revoked not in logged
        assert "/o/" not in logged
        assert "stopped" in logged


    @pytest.mark.parametrize("how", ["SIGTERM", "SIGKILL"])
    def test_the_workers_stop_with_the_server(
        self, served: tuple[str, Path, subprocess.Popen[bytes]], how: str
    ) -> None:
        """SIGTERM, what a service manager sends, stops the server as Ctrl-C does (status 0,
        the workers stopped, the feeds' store in shared memory removed: it holds names).
        Killed outright, the server leaves workers that see it gone, stop and remove the
        store, rather than serve stale calendars for ever."""
        base, output, process = served
        children = _children(process.pid)  # the workers, and multiprocessing's tracker
        workers = _workers(process.pid)
        stores = {store for worker in workers for store in _stores_mapped(worker)}
        if output.read_text().count("Feeds served on"):  # serve --workers 2
            assert len(workers) == 2
            assert len(stores) == 1
        else:
            assert children == []
        process.send_signal(getattr(signal, how))
        status = process.wait(timeout=15)
        assert status == (0 if how == "SIGTERM" else -signal.SIGKILL)
        deadline = time.monotonic() + 10
        while any(_alive(child) for child in children) or any(s.exists() for s in stores):
            assert time.monotonic() < deadline, (children, stores, output.read_text())
            time.sleep(0.05)
        with pytest.raises(httpx.TransportError):
            httpx.get(f"{base}/healthz", timeout=1)
        if how == "SIGTERM":
            assert "stopped" in output.read_text()


def test_a_server_killed_while_its_workers_start_leaves_none_running(
    seeded: Seeded, tmp_path: Path
) -> None:
    """Killed outright while its workers are still starting (importing), the server leaves
    no worker behind: each knows its parent's id from the parent, not from the adopting
    process it would see by then."""
    output = tmp_path / "server.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [*CLI, "--db", str(seeded.path), "serve", "--port", str(_free_port()),
             "--workers", "2"], stdout=sink, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while len(workers := _workers(process.pid)) < 2:
                assert process.poll() is None, output.read_text()
                assert time.monotonic() < deadline, "no workers started"
                time.sleep(0.005)
        finally:
            process.kill()
            process.wait(timeout=10)
    deadline = time.monotonic() + 30
    while any(_alive(worker) for worker in workers):
        assert time.monotonic() < deadline, (workers, output.read_text())
        time.sleep(0.05)


def _workers(pid: int) -> list[int]:
    """The worker processes of a server (not multiprocessing's resource tracker)."""
    found = []
    for child in _children(pid):
        try:
            if b"spawn_main" in (Path("/proc") / str(child) / "cmdline").read_bytes():
                found.append(child)
        except OSError:
            continue
    return found


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                found.append(int(entry.name))
    return found


def _stores_mapped(pid: int) -> set[Path]:
    """The feed stores whose pieces a worker has mapped."""
    stores = set()
    for line in (Path("/proc") / str(pid) / "maps").read_text().splitlines():
        match = re.search(r"(/\S*/alliance-events-feeds-[^/\s]+)/", line)
        if match:
            stores.add(Path(match[1]))
    return stores


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has stopped; only its parent can reap it


JS = Path(__file__).resolve().parent / "js"
VNU = JS / "node_modules" / "vnu-jar" / "build" / "dist" / "vnu.jar"


def _require(missing: str | None) -> None:
    """Skip when a checker is missing here; fail in CI, where .ci/run installs it."""
    if missing:
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"in CI the page checks must run: {missing}")
        pytest.skip(missing)


def _contrast(foreground: str, background: str) -> float:
    """WCAG 2's contrast ratio of two #rrggbb colours."""

    def luminance(colour: str) -> float:
        channels = [int(colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    light, dark = sorted((luminance(foreground), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


class TestPagesAreValidAndAccessible:
    """The subscribe pages as the Nu Html Checker and axe-core see them."""

    @pytest.fixture
    def pages(self, client: InProcess, seeded: Seeded, tmp_path: Path) -> list[Path]:
        with Alliance.open(seeded.url) as other:  # a cancelled meeting and odd text too
            meeting = other.schedule_meeting(title='Dialogue <on> "firearms" & more',
                                             start=_future(3), end="17:00")
            other.cancel_meeting(meeting, reason="no room")
        files = []
        for name, path in (("public", "/"), ("organisation", f"/o/{seeded.token}/")):
            response = client.get(path)
            assert response.status_code == 200
            file = tmp_path / f"{name}.html"
            file.write_bytes(response.content)
            files.append(file)
        return files

    def test_the_nu_html_checker_finds_nothing(self, pages: list[Path]) -> None:
        """Both pages are valid HTML: no error and no warning from vnu.jar."""
        _require(None if shutil.which("java") else "java is not installed")
        _require(None if VNU.is_file() else "vnu.jar is missing: npm install --prefix tests/js")
        done = subprocess.run(
            ["java", "-jar", str(VNU), "--format", "json", "--stdout", *map(str, pages)],
            capture_output=True, text=True, check=False, timeout=120,
        )
        assert json.loads(done.stdout)["messages"] == [], done.stdout

    def test_axe_core_finds_no_violation(self, pages: list[Path]) -> None:
        """axe-core (the engine of browsers' accessibility audits) finds no violation:
        language, title, landmarks, heading order, labels, link names, lists."""
        _require(None if shutil.which("node") else "node is not installed")
        _require(None if (JS / "node_modules" / "axe-core").is_dir() else
                 "axe-core is missing: npm install --prefix tests/js")
        for page in pages:
            done = subprocess.run(
                ["node", str(JS / "check_a11y.mjs")], input=page.read_bytes(),
                capture_output=True, check=False, timeout=60,
            )
            assert done.returncode == 0, done.stderr.decode()
            result = json.loads(done.stdout)
            assert result["violations"] == [], (page.name, result["violations"])
            for rule in ("html-has-lang", "document-title", "label", "heading-order",
                         "link-name"):
                assert rule in result["passes"], (page.name, rule)

    def test_one_h1_and_headings_in_order(self, pages: list[Path]) -> None:
        """Each page has exactly one h1, and its h2s follow it."""
        for page in pages:
            levels = [int(n) for n in re.findall(r"<h([1-6])[ >]", page.read_text())]
            assert levels[0] == 1
            assert levels.count(1) == 1
            assert all(b - a <= 1 for a, b in itertools.pairwise(levels))

    def test_every_colour_pair_has_enough_contrast(self) -> None:
        """Every text colour of the pages on its background is at least 4.5:1 (WCAG AA);
        the style sheet uses the palette's colours and no other."""
        for name, (foreground, background) in PALETTE.items():
            assert _contrast(foreground, background) >= 4.5, name
        used = set(re.findall(r"#[0-9a-f]{6}", STYLE))
        allowed = {colour for pair in PALETTE.values() for colour in pair} | {"#0a4b94"}
        assert used <= allowed
