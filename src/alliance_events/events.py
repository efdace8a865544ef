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

Other Python tools define their own events the same way, under type names prefixed
with their own namespace (``minutes.MinutesApproved``), in a registry of their own or in
the default one (:data:`registry`, via :func:`event_type` and :func:`upcaster`). Installed
as a package, a tool makes its types known to the command line and the feed server
through the entry-point group ``alliance_events.event_types``
(:mod:`alliance_events.plugins`). A reader that does not know a stored type never fails
on it: the record comes back with an :class:`OpaqueEvent`.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import Any, ClassVar, Final, TypeVar

import attrs

from alliance_events.errors import CodecError, EventDefinitionError, UnknownEventTypeError

__all__ = [
    "RESERVED_NAMESPACES",
    "TYPE_NAME",
    "Event",
    "EventRegistry",
    "OpaqueEvent",
    "Upcaster",
    "check_namespace",
    "event_type",
    "registry",
    "upcaster",
]

E = TypeVar("E", bound="Event")

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]
"""Turns an event's stored data from one schema into the next (``n`` to ``n + 1``)."""

TYPE_NAME: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_.:-]{0,99}$")
"""What a type name looks like: a letter, then letters, digits and ``_ . : -`` (100 at most)."""

_NAMESPACE: Final = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,49}$")

RESERVED_NAMESPACES: Final = frozenset({"alliance", "alliance_events", "alliance-events"})
"""Namespaces no other tool may claim (compared without case). The library's own type names
have no namespace at all (``MeetingScheduled``): a tool's names always have one."""


@attrs.frozen(kw_only=True)
class Event:
    """The base of every domain event.

    Attributes:
        event_id: the event's identity in the log. Appending an event whose id is
            already stored is a no-op that returns the stored record, so a command
            retried after a timeout never records its events twice. The domain derives
            ids from its command's id (``event_ids``); there is no default, so nothing
            below the application invents one.

    """

    __event_type__: ClassVar[str]
    __event_schema__: ClassVar[int]
    __personal__: ClassVar[Mapping[str, object]] = {}
    """Personal fields, each with the value it reads as once its person is forgotten.

    The log stores them encrypted with the key of the person the ``__subject__`` field
    names (the codec seals them; :mod:`alliance_events.log.keys` keeps the keys beside
    the log): deleting that key erases them from every replay.
    """
    __subject__: ClassVar[str] = ""
    """The field holding the id of the person whose key seals ``__personal__``."""
    __forgets__: ClassVar[str] = ""
    """The field holding the id of a person this event forgets (their key is gone)."""

    event_id: uuid.UUID


@attrs.frozen(kw_only=True)
class OpaqueEvent(Event):
    """A stored event of a type the reader's registry does not know, kept as it was stored.

    Reading never fails on a type name the reader does not know (another tool's event,
    from a tool not installed here): the record comes back with an ``OpaqueEvent`` that
    holds the stored type name, schema and JSON text untouched (the envelope keeps the
    metadata, as for any record). The
    :class:`~alliance_events.projections.runner.ProjectionRunner` counts such records by
    type name; the library's own projection ignores them, as a projection that matches on
    ``record.type`` does. Appending one stores exactly its type name, schema and data, so a
    record copied into another log is byte-identical; if the writing log's registry knows
    the type, the data must decode as it (the append returns the decoded event).

    Attributes:
        type_name: the stored type name (``"minutes.MinutesApproved"``).
        schema: the stored schema number.
        data: the stored data: the JSON text exactly as read.

    """

    type_name: str
    schema: int
    data: str


class EventRegistry:
    """The event types a codec can encode and decode, and the upcasters between schemas.

    A new ``EventRegistry()`` starts **empty**: it does not know the library's own types
    (``MeetingScheduled`` and the rest), so a log opened with it reads those as
    :class:`OpaqueEvent`. To read them as well, start from
    :func:`alliance_events.library_registry` (a new registry holding exactly the library's
    types) or from ``alliance_events.registry.copy()`` (the default registry: the library's
    types and whatever this process registered in it), and add your own.
    """

    def __init__(self) -> None:
        self._by_name: dict[str, type[Event]] = {}
        self._by_class: dict[type[Event], tuple[str, int]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}
        # Who registered a name, and which tool claimed a namespace (plugins): for the
        # refusals, which name both parties.
        self._owners: dict[str, str] = {}
        self._namespaces: dict[str, str] = {}

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
        self._add(cls, type_name, schema, None)

    def _add(self, cls: type[Event], type_name: str, schema: int, owner: str | None) -> None:
        _check_event_class(cls, type_name, schema)
        existing = self._by_name.get(type_name)
        if existing is not None and _identity(existing) != _identity(cls):
            raise EventDefinitionError(
                f"event type name {type_name!r} is already registered"
                f"{_by(self._owners.get(type_name))} for class {existing.__qualname__}; "
                f"cannot register class {cls.__qualname__}{_by(owner)} under it"
            )
        previous = self._by_class.get(cls)
        if previous is not None and previous[0] != type_name:
            del self._by_name[previous[0]]
            self._owners.pop(previous[0], None)
        # The class attributes are for reading convenience; this registry's own map is
        # what counts, so one class may be registered in two registries differently.
        cls.__event_type__ = type_name
        cls.__event_schema__ = schema
        self._by_name[type_name] = cls
        self._by_class[cls] = (type_name, schema)
        if owner is not None:
            self._owners[type_name] = owner

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
            self._add_upcaster((type_name, from_schema), function)
            return function

        return decorate

    def _add_upcaster(self, key: tuple[str, int], function: Upcaster) -> None:
        if key in self._upcasters and self._upcasters[key] is not function:
            raise EventDefinitionError(
                f"an upcaster from {key[0]!r} schema {key[1]} is already registered"
            )
        self._upcasters[key] = function

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
            raise _unregistered(cls)
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
        other._copy_from(self)
        return other

    def _copy_from(self, source: EventRegistry) -> None:
        self._by_name = dict(source._by_name)
        self._by_class = dict(source._by_class)
        self._upcasters = dict(source._upcasters)
        self._owners = dict(source._owners)
        self._namespaces = dict(source._namespaces)

    def update(self, other: EventRegistry) -> None:
        """Add every type, upcaster and namespace claim of ``other``: all of them or none.

        A name ``other`` maps to the class it has here already is no clash (so a registry
        and its copies merge freely).

        Raises:
            EventDefinitionError: a name is registered here for another class, an upcaster
                for the same step is another function, or a namespace is claimed here by
                another tool; the message names both.

        """
        merged = self.copy()
        for namespace, owner in other._namespaces.items():
            merged._claim(namespace, owner)
        for type_name, cls in other._by_name.items():
            merged._add(cls, type_name, other._by_class[cls][1], other._owners.get(type_name))
        for key, function in other._upcasters.items():
            merged._add_upcaster(key, function)
        self._copy_from(merged)

    def scoped(self, namespace: str, *, owner: str) -> EventRegistry:
        """Return a staging registry through which one tool registers its types.

        It starts as a copy of this registry; its :meth:`register`, :meth:`add` and
        :meth:`upcaster` refuse any name outside ``namespace.`` and record ``owner`` as
        the one who registered. Nothing reaches this registry until :meth:`update` takes
        the staging registry's content, all of it or none: a tool whose registration
        fails half-way leaves no half of its types behind.

        Args:
            namespace: the tool's namespace (``"minutes"``): a letter, then letters,
                digits, ``_`` and ``-``; not one of :data:`RESERVED_NAMESPACES`.
            owner: who the tool is, as refusals name it (``"plugin 'minutes'
                (alliance-events-minutes-tool 0.1.0)"``).

        Raises:
            EventDefinitionError: the namespace is malformed or reserved, or claimed here
                by another owner already (the message names both).

        """
        check_namespace(namespace)
        staging = _Scoped(namespace, owner)
        staging._copy_from(self)
        staging._claim(namespace, owner)
        return staging

    def _claim(self, namespace: str, owner: str) -> None:
        claimed = self._namespaces.get(namespace)
        if claimed is not None and claimed != owner:
            raise EventDefinitionError(
                f"namespace {namespace!r} is claimed by {claimed} already; {owner} cannot "
                "claim it too: type names are unique, so two tools cannot share a namespace"
            )
        self._namespaces[namespace] = owner

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


class _Scoped(EventRegistry):
    """A staging registry for one tool: names under its namespace only (see ``scoped``)."""

    def __init__(self, namespace: str, owner: str) -> None:
        super().__init__()
        self._namespace = namespace
        self._owner = owner

    def _inside(self, type_name: object) -> None:
        prefix = f"{self._namespace}."
        if not (isinstance(type_name, str) and type_name.startswith(prefix)
                and len(type_name) > len(prefix)):
            raise EventDefinitionError(
                f"{self._owner} may register only names in its namespace, "
                f"{prefix}<Name>; got {type_name!r}"
            )

    def add(self, cls: type[Event], type_name: str, *, schema: int = 1) -> None:
        """Register ``cls`` under ``type_name``, which must be in this tool's namespace."""
        self._inside(type_name)
        self._add(cls, type_name, schema, self._owner)

    def upcaster(self, type_name: str, *, from_schema: int) -> Callable[[Upcaster], Upcaster]:
        """Register an upcaster of one of this tool's types (see EventRegistry.upcaster)."""
        self._inside(type_name)
        return super().upcaster(type_name, from_schema=from_schema)


def check_namespace(namespace: object) -> str:
    """Return ``namespace`` if another tool may claim it.

    Raises:
        EventDefinitionError: it is malformed, or reserved (:data:`RESERVED_NAMESPACES`).

    """
    if not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace):
        raise EventDefinitionError(
            f"namespace {namespace!r} must start with a letter and hold only letters, "
            "digits, _ and - (at most 50 characters)"
        )
    if namespace.lower() in RESERVED_NAMESPACES:
        raise EventDefinitionError(
            f"namespace {namespace!r} is reserved for alliance-events itself: choose the "
            "tool's own name"
        )
    return namespace


def _by(owner: str | None) -> str:
    return "" if owner is None else f" by {owner}"


def _identity(cls: type) -> str:
    # Its import path tells a class redefined (a module reloaded) from another one; never
    # shown in a message, which names type names.
    return f"{cls.__module__}.{cls.__qualname__}"


def _class_name(cls: object) -> str:
    # A refusal message must not fail on a non-class.
    return cls.__qualname__ if isinstance(cls, type) else repr(cls)


def _unregistered(cls: type) -> UnknownEventTypeError:
    """Return the error for a class a registry lacks, naming its type name if it has one."""
    name = cls.__dict__.get("__event_type__") if isinstance(cls, type) else None
    if isinstance(name, str):
        return UnknownEventTypeError(
            name,
            f"event type {name!r} (class {_class_name(cls)}) is not registered in this "
            "registry: register it here, or start from alliance_events.library_registry() "
            "or alliance_events.registry.copy() and add your own types to that",
        )
    return UnknownEventTypeError(
        _class_name(cls),
        f"event class {_class_name(cls)} is not registered: register it under a type name "
        "first (registry.register('tool.Name', schema=1))",
    )


def _check_event_class(cls: type, type_name: str, schema: int) -> None:
    where = f"event type {type_name!r} (class {_class_name(cls)})"
    if not isinstance(type_name, str) or not TYPE_NAME.fullmatch(type_name):
        raise EventDefinitionError(
            f"event class {_class_name(cls)}: type name {type_name!r} must start with a "
            "letter and hold only letters, digits and _ . : - (at most 100 characters)"
        )
    if isinstance(schema, bool) or not isinstance(schema, int) or schema < 1:
        raise EventDefinitionError(f"{where}: schema must be an integer >= 1, got {schema!r}")
    if not (isinstance(cls, type) and issubclass(cls, Event)):
        raise EventDefinitionError(f"{where}: must subclass alliance_events.Event")
    if issubclass(cls, OpaqueEvent):
        raise EventDefinitionError(
            f"{where}: OpaqueEvent stands for stored events of unknown types and cannot "
            "be registered"
        )
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
"""The default registry: the library's own event types and those registered in it.

The library's types are added when the ``alliance_events`` package is imported (from the
explicit list in :mod:`alliance_events.domain.catalog`), so any reader that imports a part
of the library decodes every library event. Codecs and logs opened without a registry use
this one. Installed tools' types are not loaded into it: the command line and the feed
server load them into a copy (:func:`alliance_events.plugins.load_event_types`).
"""

event_type = registry.register
"""Register an event class in the default registry (see :meth:`EventRegistry.register`)."""

upcaster = registry.upcaster
"""Register an upcaster in the default registry (see :meth:`EventRegistry.upcaster`)."""
