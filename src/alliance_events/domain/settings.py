"""The alliance's settings that every tool on the log must agree on.

* ``settings-feeds`` (:data:`FEEDS_STREAM`): the public address of the feed server (its
  *base URL*), from which every subscribe link is built: by the server's pages and by
  ``token issue`` alike, so that they can never disagree (one recorded value, not one
  flag per command).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final
from urllib.parse import urlsplit

import attrs

from alliance_events.domain.common import Command, event_ids, require
from alliance_events.domain.streams import settings_stream
from alliance_events.errors import RuleViolation
from alliance_events.events import Event

__all__ = [
    "FEEDS",
    "FEEDS_STREAM",
    "FeedAddressSet",
    "FeedSettings",
    "SetFeedAddress",
    "decide",
    "evolve",
    "normalise_base_url",
    "settings_stream",
]

FEEDS: Final = "feeds"
"""The name of the feeds' settings (the key of their stream)."""

FEEDS_STREAM: Final = settings_stream(FEEDS)
"""The stream of the feeds' settings, ``settings-feeds``."""

_MAX_URL: Final = 1_000  # characters: a host and a path prefix, never more


# Registered under its type name by the list in catalog.py.
@attrs.frozen(kw_only=True)
class FeedAddressSet(Event):
    """The feed server's public address (``https://calendar.example.org``) was set."""

    base_url: str


@attrs.frozen(kw_only=True)
class FeedSettings:
    """The feeds' settings, folded from their stream."""

    base_url: str = ""  # "": not set


@attrs.frozen(kw_only=True)
class SetFeedAddress(Command):
    """Set the feed server's public address."""

    base_url: str


def normalise_base_url(url: str) -> str:
    """Return ``url`` as the feeds' base URL, or refuse it (rule ``base-url``).

    An ``https`` (or, for a test on one machine, ``http``) address with a host, and
    optionally a path under which the server is mounted; no query, fragment or
    credentials (they would end up in every calendar program's settings). The trailing
    ``/`` is dropped.

    >>> normalise_base_url("https://Calendar.Example.org/feeds/")
    'https://calendar.example.org/feeds'
    """
    require(isinstance(url, str), "base-url", f"the base URL must be text, got {url!r}")
    text = url.strip()
    require(
        0 < len(text) <= _MAX_URL, "base-url",
        f"the base URL must be 1 to {_MAX_URL} characters, got {len(text)}",
    )
    require(
        text.isprintable() and " " not in text, "base-url",
        f"the base URL {text!r} holds spaces or control characters",
    )
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as error:
        raise RuleViolation("base-url", f"the base URL {text!r} is not a URL: {error}") from None
    scheme = parts.scheme.lower()
    require(
        scheme in ("https", "http"), "base-url",
        f"the base URL {text!r} must start with https:// (calendar programs fetch feeds "
        "over HTTPS; http:// only for a test on one machine)",
    )
    require(bool(parts.hostname), "base-url", f"the base URL {text!r} names no host")
    require(
        not (parts.query or parts.fragment or parts.username or parts.password), "base-url",
        f"the base URL {text!r} must hold no query, fragment or credentials",
    )
    host = parts.hostname or ""
    if ":" in host:  # an IPv6 literal
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"


def _address_set(state: FeedSettings | None, event: FeedAddressSet) -> FeedSettings:
    return attrs.evolve(state or FeedSettings(), base_url=event.base_url)


_EVOLVERS: Final[Mapping[type[Event], Callable[[FeedSettings | None, Any], FeedSettings]]] = {
    FeedAddressSet: _address_set,
}


def evolve(state: FeedSettings | None, event: Event) -> FeedSettings | None:
    """Apply one event of the feeds' settings (never fails)."""
    change = _EVOLVERS.get(type(event))
    return state if change is None else change(state, event)


def _set_address(
    state: FeedSettings | None, command: SetFeedAddress, ids: Iterator[uuid.UUID]
) -> list[Event]:
    base_url = normalise_base_url(command.base_url)
    if state is not None and state.base_url == base_url:
        return []  # the same address: nothing to record
    return [FeedAddressSet(event_id=next(ids), base_url=base_url)]


_DECIDERS: Final[
    Mapping[type[Command], Callable[[FeedSettings | None, Any, Iterator[uuid.UUID]], list[Event]]]
] = {SetFeedAddress: _set_address}


def decide(state: FeedSettings | None, command: Command, refs: object = None) -> list[Event]:
    """Decide a change of the feeds' settings (``refs``: none needed).

    Raises:
        RuleViolation: the address is not a feed server's (rule ``base-url``).
        TypeError: not a settings command.

    """
    decider = _DECIDERS.get(type(command))
    if decider is None:
        raise TypeError(f"not a settings command: {command!r}")
    return decider(state, command, event_ids(command))
