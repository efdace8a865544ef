"""Event types used by the tests, in a registry of their own (not the library's default)."""

from __future__ import annotations

import enum
import uuid

import attrs
import pendulum

from alliance_events.events import Event, EventRegistry

__all__ = ["TEST_REGISTRY", "Colour", "Everything", "Noted", "Place", "Renamed"]

TEST_REGISTRY = EventRegistry()


class Colour(enum.Enum):
    RED = "red"
    GREEN = "green"


@attrs.frozen(kw_only=True)
class Place:
    name: str
    room: int | None = None


@TEST_REGISTRY.register("test.Noted", schema=1)
@attrs.frozen(kw_only=True)
class Noted(Event):
    """The smallest event: a short text."""

    text: str


@TEST_REGISTRY.register("test.Everything", schema=1)
@attrs.frozen(kw_only=True)
class Everything(Event):
    """One field of every kind the codec must carry."""

    text: str
    number: int
    ratio: float
    flag: bool
    at: pendulum.DateTime
    on: pendulum.Date
    daily: pendulum.Time
    lasting: pendulum.Duration
    ref: uuid.UUID
    colour: Colour
    tags: tuple[str, ...]
    place: Place
    places: tuple[Place, ...] = ()
    maybe: pendulum.DateTime | None = None
    counts: dict[str, int] = attrs.field(factory=dict)


@TEST_REGISTRY.register("test.Renamed", schema=2)
@attrs.frozen(kw_only=True)
class Renamed(Event):
    """Schema 1 stored ``title``; schema 2 calls it ``summary`` and adds ``language``."""

    summary: str
    language: str


@TEST_REGISTRY.upcaster("test.Renamed", from_schema=1)
def _title_to_summary(data: dict[str, object]) -> dict[str, object]:
    data = dict(data)
    data["summary"] = data.pop("title")
    data.setdefault("language", "en")
    return data
