"""The names of the library's streams: built here, and read back here only.

One stream per aggregate instance, ``<kind>-<key>``:

========================  ========================================================
``meeting-<uuid>``        a meeting: schedule, registration, nominations, deadlines
``deadline-<uuid>``       a stand-alone deadline (a meeting's lives in its stream)
``organisation-<uuid>``   an organisation and its feed tokens
``person-<uuid>``         a person (the only stream holding personal data)
``body-<slug>``           the officers of a body (``body-alliance``)
``settings-<name>``       settings every tool agrees on (``settings-feeds``)
``message-<uuid>``        an e-mail of the outbox: queued, sent, skipped, failed
``outbox-<name>``         where the outbox started (``outbox-notify``)
========================  ========================================================

:func:`parse_stream` is the inverse of the builders: projections read a record's stream
with it, never by hand.

    >>> import uuid
    >>> meeting = uuid.UUID(int=1)
    >>> meeting_stream(meeting)
    'meeting-00000000-0000-0000-0000-000000000001'
    >>> parse_stream(meeting_stream(meeting)) == ("meeting", meeting)
    True
    >>> parse_stream("body-alliance"), parse_stream("minutes-42")
    (('body', 'alliance'), None)
"""

from __future__ import annotations

import uuid
from typing import Final, Literal, TypeAlias

__all__ = [
    "ID_KINDS",
    "NAME_KINDS",
    "StreamKind",
    "body_stream",
    "deadline_stream",
    "meeting_stream",
    "message_stream",
    "organisation_stream",
    "outbox_stream",
    "parse_stream",
    "person_stream",
    "settings_stream",
]

StreamKind: TypeAlias = Literal[
    "meeting", "deadline", "organisation", "person", "body", "settings", "message", "outbox"
]
"""The kinds of the library's streams (the part of the name before the first ``-``)."""

ID_KINDS: Final[frozenset[str]] = frozenset(
    {"meeting", "deadline", "organisation", "person", "message"}
)
"""Kinds whose key is a UUID."""

NAME_KINDS: Final[frozenset[str]] = frozenset({"body", "settings", "outbox"})
"""Kinds whose key is a name (text)."""

_KINDS: Final[dict[str, StreamKind]] = {
    "meeting": "meeting",
    "deadline": "deadline",
    "organisation": "organisation",
    "person": "person",
    "body": "body",
    "settings": "settings",
    "message": "message",
    "outbox": "outbox",
}


def meeting_stream(meeting_id: uuid.UUID) -> str:
    """Return the name of the meeting's stream."""
    return f"meeting-{meeting_id}"


def deadline_stream(deadline_id: uuid.UUID) -> str:
    """Return the name of a stand-alone deadline's stream."""
    return f"deadline-{deadline_id}"


def organisation_stream(organisation_id: uuid.UUID) -> str:
    """Return the organisation's stream."""
    return f"organisation-{organisation_id}"


def person_stream(person_id: uuid.UUID) -> str:
    """Return the person's stream (the only one holding personal data)."""
    return f"person-{person_id}"


def body_stream(body: str) -> str:
    """Return the stream of a body's officers."""
    return f"body-{body}"


def settings_stream(name: str) -> str:
    """Return the stream of one group of settings (``"feeds"``)."""
    return f"settings-{name}"


def message_stream(message_id: uuid.UUID) -> str:
    """Return the stream of one e-mail of the outbox."""
    return f"message-{message_id}"


def outbox_stream(name: str) -> str:
    """Return the stream of the outbox's own settings (``"notify"``: where it started)."""
    return f"outbox-{name}"


def parse_stream(name: str) -> tuple[StreamKind, uuid.UUID | str] | None:
    """Return ``(kind, key)`` of one of the library's stream names, or ``None``.

    The key is a :class:`uuid.UUID` for the kinds in :data:`ID_KINDS` (read as
    :class:`uuid.UUID` reads it), text for those in :data:`NAME_KINDS`. ``None``: not a
    library stream (another tool's, or a key that is not a UUID where one is expected),
    so not the library's to fold.
    """
    prefix, dash, key = name.partition("-")
    kind = _KINDS.get(prefix)
    if kind is None or not dash:
        return None
    if kind in ID_KINDS:
        try:
            return kind, uuid.UUID(key)
        except ValueError:
            return None
    return kind, key
