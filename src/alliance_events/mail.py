"""Sending the outbox's e-mail by SMTP: the edge between the outbox and a mail server.

The server is named by a URL, from the environment variable ``ALLIANCE_EVENTS_SMTP_URL``
or a settings file holding it (never from the log, never on a command line where ``ps``
shows it):

* ``smtp://user:password@host:587`` — STARTTLS (on by default on port 587, off on
  port 25 and others; ``?starttls=on`` or ``off`` says so);
* ``smtps://user:password@host:465`` — TLS from the first byte;
* ``?timeout=30`` — seconds for each network step (10 by default);
  ``?cafile=/path/ca.pem`` — trust this certificate authority (a private relay).

User and password are percent-encoded in the URL (``%40`` for ``@``). A refusal of the
server (5xx) is permanent for the message; a 4xx reply, a time-out or a lost connection
are not, and the outbox retries. Error texts keep no e-mail address (they are recorded
in the log).

>>> SmtpSettings.from_url("smtp://ana:p%40ss@mail.example.org:587").starttls
True
>>> SmtpSettings.from_url("smtp://mail.example.org").port, SmtpSettings.from_url("smtps://x").port
(25, 465)
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Final
from urllib.parse import parse_qs, unquote, urlsplit

import attrs

from alliance_events import DeliveryError

__all__ = ["SMTP_URL_VARIABLE", "SmtpSender", "SmtpSettings", "smtp_settings"]

SMTP_URL_VARIABLE: Final = "ALLIANCE_EVENTS_SMTP_URL"
_ADDRESS: Final = re.compile(r"[^\s<>\"']+@[^\s<>\"']+")
_OPTIONS: Final = frozenset({"starttls", "timeout", "cafile"})
_SUBMISSION_PORT: Final = 587  # RFC 6409: STARTTLS expected
_TIMEOUTS: Final = (0.1, 600.0)  # seconds a network step may take, at least and at most
_PERMANENT: Final = 500  # SMTP replies from 500 refuse for good (RFC 5321 4.2.1)


@attrs.frozen(kw_only=True)
class SmtpSettings:
    """Where and how to reach the mail server (see the module)."""

    host: str
    port: int
    tls: bool = False  # smtps: TLS from the first byte
    starttls: bool = False
    user: str = ""
    password: str = attrs.field(default="", repr=False)
    timeout: float = 10.0
    cafile: str | None = None

    @classmethod
    def from_url(cls, url: str) -> SmtpSettings:
        """Read ``smtp://`` or ``smtps://`` URL (see the module).

        Raises:
            ValueError: another scheme, no host, a bad port or option (named).

        """
        parts = urlsplit(url.strip())
        if parts.scheme not in ("smtp", "smtps"):
            raise ValueError(f"{SMTP_URL_VARIABLE}: the scheme must be smtp or smtps, "
                             f"got {parts.scheme or 'none'!r}")
        if not parts.hostname:
            raise ValueError(f"{SMTP_URL_VARIABLE}: no host in the URL")
        try:
            port = parts.port
        except ValueError as error:
            raise ValueError(f"{SMTP_URL_VARIABLE}: bad port ({error})") from None
        tls = parts.scheme == "smtps"
        port = port or (465 if tls else 25)
        query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        unknown = set(query) - _OPTIONS
        if unknown:
            raise ValueError(f"{SMTP_URL_VARIABLE}: unknown option {sorted(unknown)[0]!r} "
                             f"(known: {', '.join(sorted(_OPTIONS))})")
        starttls = _flag(query.get("starttls"), default=not tls and port == _SUBMISSION_PORT)
        try:
            timeout = float(query.get("timeout", "10"))
        except ValueError:
            raise ValueError(f"{SMTP_URL_VARIABLE}: timeout must be seconds, got "
                             f"{query['timeout']!r}") from None
        if not _TIMEOUTS[0] <= timeout <= _TIMEOUTS[1]:
            raise ValueError(f"{SMTP_URL_VARIABLE}: timeout must be {_TIMEOUTS[0]} to "
                             f"{_TIMEOUTS[1]} seconds, got {timeout}")
        return cls(host=parts.hostname, port=port, tls=tls, starttls=starttls and not tls,
                   user=unquote(parts.username or ""), password=unquote(parts.password or ""),
                   timeout=timeout, cafile=query.get("cafile") or None)


def _flag(value: str | None, *, default: bool) -> bool:
    if value is None:
        return default
    if value.lower() in ("on", "true", "1", "yes"):
        return True
    if value.lower() in ("off", "false", "0", "no"):
        return False
    raise ValueError(f"{SMTP_URL_VARIABLE}: starttls must be on or off, got {value!r}")


def smtp_settings(settings_file: str | os.PathLike[str] | None = None) -> SmtpSettings:
    """Return the mail server's settings, from a file or the environment.

    ``settings_file``: its first line that is not a comment is the URL. Without it, the
    URL is ``ALLIANCE_EVENTS_SMTP_URL``'s.

    Raises:
        ValueError: neither is given, or the URL is bad (what is wrong is named).

    """
    if settings_file is not None:
        try:
            text = Path(settings_file).read_text(encoding="utf-8")
        except OSError as error:
            raise ValueError(f"cannot read the mail settings file: {error.strerror}") from None
        url = next((line.strip() for line in text.splitlines() if line.strip()
                    and not line.lstrip().startswith("#")), "")
    else:
        url = os.environ.get(SMTP_URL_VARIABLE, "")
    if not url:
        raise ValueError(f"no mail server: set {SMTP_URL_VARIABLE} (smtp://user:password@"
                         "host:587) or give a settings file holding that URL")
    return SmtpSettings.from_url(url)


def _redacted(text: str) -> str:
    return _ADDRESS.sub("<address>", text)[:300]


class SmtpSender:
    """Sends each e-mail over its own SMTP connection (the outbox sends few)."""

    def __init__(self, settings: SmtpSettings) -> None:
        self.settings = settings

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        context = ssl.create_default_context(cafile=s.cafile)
        server: smtplib.SMTP
        if s.tls:
            server = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout, context=context)
        else:
            server = smtplib.SMTP(s.host, s.port, timeout=s.timeout)
        try:
            if s.starttls:
                server.starttls(context=context)
            if s.user:
                server.login(s.user, s.password)
        except BaseException:
            server.close()
            raise
        return server

    def send(self, email: EmailMessage) -> None:
        """Hand ``email`` to the server.

        Raises:
            DeliveryError: not taken; ``permanent`` for a 5xx refusal of the message or
                of every recipient.

        """
        try:
            server = self._connect()
            try:
                refused = server.send_message(email)
            finally:
                try:
                    server.quit()
                except (smtplib.SMTPException, OSError):
                    server.close()
        except smtplib.SMTPAuthenticationError as error:
            raise DeliveryError(
                f"the mail server refused the login ({error.smtp_code}): check "
                f"{SMTP_URL_VARIABLE}", permanent=False) from None
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            raise DeliveryError(
                f"the mail server refused every recipient ({', '.join(map(str, codes))})",
                permanent=all(code >= _PERMANENT for code in codes)) from None
        except smtplib.SMTPResponseException as error:
            reply = error.smtp_error.decode("utf-8", "replace") if isinstance(
                error.smtp_error, bytes) else str(error.smtp_error)
            raise DeliveryError(
                f"the mail server answered {error.smtp_code}: {_redacted(reply)}",
                permanent=error.smtp_code >= _PERMANENT) from None
        except (TimeoutError, smtplib.SMTPException, OSError) as error:
            raise DeliveryError(
                f"could not reach the mail server {self.settings.host}:{self.settings.port}: "
                f"{_redacted(str(error) or type(error).__name__)}") from None
        if refused:
            # Some recipients taken, some refused: the message went; say nothing of whom.
            return
