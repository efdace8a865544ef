"""Domain events: the base class, the registry of event types, and upcasters.

An event is a fact that happened, named in the past tense, immutable, and made of data
only: a frozen, keyword-only attrs class derived from :class:`Event`, registered under a
stable *type name* (not its Python import path, which may move) and a *schema* number
(bumped whenever its shape changes)::

    >>> import attrs
    >>> from alliance_events.events import Event, EventRegistry
    >>> registry = EventRegistry()
    >>> @registry.register("NewsletterSent", schema=1)
    ... @attrs.frozen(kw_only=True)
    ... class NewsletterSent(Event):
    ...     subject: str
    >>> registry.type_of(NewsletterSent)
    ('NewsletterSent', 1)

When the shape changes, the class gets ``schema=2`` and an upcaster turns data stored
under schema 1 into the schema 2 shape while it is read; the log itself never changes::

    >>> @registry.upcaster("NewsletterSent", from_schema=1)
    ... def _add_audience(data):
    ...     return {**data, "audience": "members"}

Other Python tools define their own events the same way, in the default registry
(:data:`registry`, via :func:`event_type` and :func:`upcaster`) or in one of their own.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, TypeVar

import attrs

from alliance_events.clock import new_id
from alliance_events.errors import CodecError, EventDefinitionError, UnknownEventTypeError

__all__ = [
    "Event",
    "EventRegistry",
    "Upcaster",
    "event_type",
    "registry",
    "upcaster",
]

E = TypeVar("E", bound="Event")

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
"""Turns an event's stored data from one schema into the next (``n`` to ``n + 1``)."""

_TYPE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,99}$")


@attrs.frozen(kw_only=True)
class Event:
    """The base of every domain event.

    Attributes:
        event_id: the event's identity in the log. Appending an event whose id is
            already stored is a no-op that returns the stored record, so a command
            retried after a timeout never records its events twice. The domain derives
            ids from its command's id; the default is a fresh time-ordered UUID.

    """

    __event_type__: ClassVar[str]
    __event_schema__: ClassVar[int]

    event_id: uuid.UUID = attrs.field(factory=new_id)


class EventRegistry:
    """The event types a codec can encode and decode, and the upcasters between schemas."""

    def __init__(self) -> None:
        self._by_name: dict[str, type[Event]] = {}
        self._by_class: dict[type[Event], tuple[str, int]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, type_name: str, *, schema: int = 1) -> Callable[[type[E]], type[E]]:
        """Return a class decorator registering an event class under a type name.

        Args:
            type_name: the stable name stored with every event of this class: letters,
                digits and ``_ . : -``, starting with a letter, at most 100 characters.
            schema: the version of the class's shape, from 1; bump it (and add an
                upcaster) when fields are added, removed, renamed or retyped.

        Raises:
            EventDefinitionError: the class is not a frozen keyword-only attrs subclass
                of :class:`Event`, the name is malformed, or already taken by another class.

        """

        def decorate(cls: type[E]) -> type[E]:
            self.add(cls, type_name, schema=schema)
            return cls

        return decorate

    def add(self, cls: type[Event], type_name: str, *, schema: int = 1) -> None:
        """Register ``cls`` under ``type_name`` (the non-decorator form of :meth:`register`)."""
        _check_event_class(cls, type_name, schema)
        existing = self._by_name.get(type_name)
        if existing is not None and _qualified(existing) != _qualified(cls):
            raise EventDefinitionError(
                f"event type name {type_name!r} is already registered for "
                f"{_qualified(existing)}, cannot register {_qualified(cls)}"
            )
        previous = self._by_class.get(cls)
        if previous is not None and previous[0] != type_name:
            del self._by_name[previous[0]]
        # The class attributes are for reading convenience; this registry's own map is
        # what counts, so one class may be registered in two registries differently.
        cls.__event_type__ = type_name
        cls.__event_schema__ = schema
        self._by_name[type_name] = cls
        self._by_class[cls] = (type_name, schema)

    def upcaster(self, type_name: str, *, from_schema: int) -> Callable[[Upcaster], Upcaster]:
        """Return a decorator registering a function from schema ``from_schema`` to the next.

        The function receives the stored data (a JSON object as a dict) and returns the
        data in the next schema's shape. Upcasters chain: data stored under schema 1
        of a type now at schema 3 goes through the 1→2 and the 2→3 upcasters.
        """
        if not isinstance(from_schema, int) or from_schema < 1:
            raise EventDefinitionError(
                f"upcaster for {type_name!r}: from_schema must be an integer >= 1, "
                f"got {from_schema!r}"
            )

        def decorate(function: Upcaster) -> Upcaster:
            key = (type_name, from_schema)
            if key in self._upcasters and self._upcasters[key] is not function:
                raise EventDefinitionError(
                    f"an upcaster from {type_name!r} schema {from_schema} is already registered"
                )
            self._upcasters[key] = function
            return function

        return decorate

    def class_for(self, type_name: str) -> type[Event]:
        """Return the class registered under ``type_name``.

        Raises:
            UnknownEventTypeError: no class is registered under that name.

        """
        try:
            return self._by_name[type_name]
        except KeyError:
            raise UnknownEventTypeError(type_name) from None

    def type_of(self, cls: type[Event]) -> tuple[str, int]:
        """Return ``(type name, schema)`` of a registered class.

        Raises:
            UnknownEventTypeError: the class is not registered here.

        """
        found = self._by_class.get(cls)
        if found is None:
            raise UnknownEventTypeError(_qualified(cls))
        return found

    def upcast(self, type_name: str, schema: int, data: dict[str, Any]) -> dict[str, Any]:
        """Bring ``data`` stored under ``schema`` up to the registered class's schema.

        Raises:
            UnknownEventTypeError: the type is not registered.
            CodecError: the stored schema is newer than the class's, or an upcaster in
                the chain is missing.

        """
        current = self.type_of(self.class_for(type_name))[1]
        if schema == current:
            return data
        if schema > current:
            raise CodecError(
                f"{type_name} data has schema {schema}, newer than this code's schema "
                f"{current}: upgrade alliance-events (or the tool that defines {type_name})"
            )
        for step in range(schema, current):
            function = self._upcasters.get((type_name, step))
            if function is None:
                raise CodecError(
                    f"no upcaster from {type_name} schema {step} to {step + 1}: "
                    f"register one with @upcaster({type_name!r}, from_schema={step})"
                )
            data = function(data)
        return data

    def copy(self) -> EventRegistry:
        """Return an independent registry holding the same types and upcasters."""
        other = EventRegistry()
        other._by_name = dict(self._by_name)
        other._by_class = dict(self._by_class)
        other._upcasters = dict(self._upcasters)
        return other

    def __contains__(self, type_name: object) -> bool:
        return type_name in self._by_name

    def __iter__(self) -> Iterator[type[Event]]:
        return iter(list(self._by_name.values()))

    def __len__(self) -> int:
        return len(self._by_name)

    @property
    def types(self) -> Mapping[str, type[Event]]:
        """The registered classes by type name (a read-only view)."""
        return dict(self._by_name)


def _qualified(cls: type) -> str:
    if not isinstance(cls, type):  # a refusal message must not fail on a non-class
        return repr(cls)
    return f"{cls.__module__}.{cls.__qualname__}"


def _check_event_class(cls: type, type_name: str, schema: int) -> None:
    where = f"event class {_qualified(cls)}"
    if not isinstance(type_name, str) or not _TYPE_NAME.fullmatch(type_name):
        raise EventDefinitionError(
            f"{where}: type name {type_name!r} must start with a letter and hold only "
            "letters, digits and _ . : - (at most 100 characters)"
        )
    if isinstance(schema, bool) or not isinstance(schema, int) or schema < 1:
        raise EventDefinitionError(f"{where}: schema must be an integer >= 1, got {schema!r}")
    if not (isinstance(cls, type) and issubclass(cls, Event)):
        raise EventDefinitionError(f"{where}: must subclass alliance_events.Event")
    if not attrs.has(cls) or "__attrs_attrs__" not in cls.__dict__:
        raise EventDefinitionError(f"{where}: must be decorated with @attrs.frozen(kw_only=True)")
    try:
        probe = object.__new__(cls)
        probe.__setattr__("event_id", None)
    except attrs.exceptions.FrozenInstanceError:
        pass
    else:
        raise EventDefinitionError(f"{where}: must be frozen (@attrs.frozen)")
    positional = [a.name for a in attrs.fields(cls) if not a.kw_only]
    if positional:
        raise EventDefinitionError(
            f"{where}: fields must be keyword-only (@attrs.frozen(kw_only=True)): {positional}"
        )


registry = EventRegistry()
"""The default registry: the library's own events and those other tools register."""

event_type = registry.register
"""Register an event class in the default registry (see :meth:`EventRegistry.register`)."""

upcaster = registry.upcaster
"""Register an upcaster in the default registry (see :meth:`EventRegistry.upcaster`)."""
