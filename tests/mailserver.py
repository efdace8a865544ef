"""A real SMTP server for the outbox's tests: aiosmtpd, in a thread, on a free port.

It keeps every message it accepted (the envelope's recipients, the parsed e-mail and its
bytes) and can be told to refuse for a while (``451``: try later), for good (``550``) or
to stall until the client gives up.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import EmailMessage
from typing import Any, Literal

import attrs
from aiosmtpd.controller import Controller

Mode = Literal["accept", "busy", "refuse", "stall"]


@attrs.define
class Received:
    """One message the server accepted."""

    recipients: list[str]
    message: EmailMessage
    raw: bytes
    at: float  # when it was received (time.time())


class _Handler:
    def __init__(self, server: MailServer) -> None:
        self.server = server

    async def handle_DATA(self, _: Any, __: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd's name
        mode = self.server.mode
        if mode == "busy":
            return "451 4.3.0 try again later"
        if mode == "refuse":
            return "550 5.7.1 refused for good"
        if mode == "stall":
            await asyncio.sleep(5)
            return "451 4.3.0 too slow"
        raw = bytes(envelope.original_content or envelope.content)
        parsed = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(parsed, EmailMessage)
        with self.server.lock:
            self.server.received.append(
                Received(list(envelope.rcpt_tos), parsed, raw, time.time()))
        return "250 2.0.0 accepted"


class MailServer:
    """See the module."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.mode: Mode = "accept"
        self.lock = threading.Lock()
        self.running = False
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = int(probe.getsockname()[1])
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port)

    @property
    def url(self) -> str:
        """The ``ALLIANCE_EVENTS_SMTP_URL`` of this server (plain SMTP, a short time-out)."""
        return f"smtp://127.0.0.1:{self.port}?starttls=off&timeout=2"

    def start(self) -> None:
        self._controller.start()
        self.running = True

    def stop(self) -> None:
        if self.running:
            self._controller.stop()
            self.running = False

    def messages(self) -> list[Received]:
        with self.lock:
            return list(self.received)


@contextmanager
def mail_server() -> Iterator[MailServer]:
    """Run a :class:`MailServer` for the block."""
    server = MailServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()
