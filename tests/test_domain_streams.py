"""The library's stream names: built by one function per kind, parsed by one function."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given

from alliance_events.domain import deadlines, directory, meetings, outbox, settings
from alliance_events.domain.streams import (
    ID_KINDS,
    NAME_KINDS,
    body_stream,
    deadline_stream,
    meeting_stream,
    message_stream,
    organisation_stream,
    outbox_stream,
    parse_stream,
    person_stream,
    settings_stream,
)

from .strategies import library_stream_keys, stream_names

BUILDERS: dict[str, Callable[[Any], str]] = {
    "meeting": meeting_stream,
    "deadline": deadline_stream,
    "organisation": organisation_stream,
    "person": person_stream,
    "body": body_stream,
    "settings": settings_stream,
    "message": message_stream,
    "outbox": outbox_stream,
}
ID = uuid.UUID(int=0x100)


class TestParse:
    @given(library_stream_keys())
    def test_parse_is_the_inverse_of_the_builders(self, kind_key: tuple[str, Any]) -> None:
        """Every name a builder makes parses back to its kind and key."""
        kind, key = kind_key
        assert parse_stream(BUILDERS[kind](key)) == (kind, key)

    @given(stream_names())
    def test_any_name_parses_to_a_library_stream_or_none(self, name: str) -> None:
        """Any stream name parses without raising; a parsed one names the same stream again."""
        parsed = parse_stream(name)
        if parsed is not None:
            kind, key = parsed
            assert parse_stream(BUILDERS[kind](key)) == parsed

    @pytest.mark.parametrize(
        "name",
        [
            f"minutes-{ID}",  # another tool's kind
            "meeting-x",  # a key that is not a UUID
            "meeting-",
            "meeting",  # no key at all
            "body",
            "",
            f"Meeting-{ID}",  # kinds are lower case
        ],
    )
    def test_other_names_are_not_the_librarys(self, name: str) -> None:
        """Another tool's stream, or a malformed key, is not a library stream."""
        assert parse_stream(name) is None

    def test_the_kinds_are_the_builders(self) -> None:
        """One builder per kind, keyed by a UUID or by a name."""
        assert set(BUILDERS) == ID_KINDS | NAME_KINDS
        assert not ID_KINDS & NAME_KINDS

    def test_examples(self) -> None:
        """The names the log has always held."""
        assert meeting_stream(ID) == f"meeting-{ID}"
        assert body_stream("vngoc") == "body-vngoc"
        assert settings.FEEDS_STREAM == "settings-feeds"
        assert parse_stream("settings-feeds") == ("settings", settings.FEEDS)
        assert parse_stream(f"person-{ID}") == ("person", ID)


class TestTheAggregatesUseThem:
    def test_each_aggregate_exports_its_builder(self) -> None:
        """The aggregates' modules name their streams with these very functions."""
        assert meetings.meeting_stream is meeting_stream
        assert deadlines.deadline_stream is deadline_stream
        assert directory.organisations.organisation_stream is organisation_stream
        assert directory.persons.person_stream is person_stream
        assert directory.bodies.body_stream is body_stream
        assert settings.settings_stream is settings_stream
        assert outbox.message_stream is message_stream
        assert outbox.outbox_stream is outbox_stream
