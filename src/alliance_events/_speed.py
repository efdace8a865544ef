"""The library's speed tricks, in one private room, each beside the plain way it replaces.

Each trick does what one plain line of Python does, faster, on a path taken once per
event or per calendar item. Each says what it saves, measured against the plain way by
``.venv/bin/python benchmarks/bench_speed.py`` (CPython 3.11 on the project's 2-core
machine; the figures are that script's), and ``tests/test_speed.py`` pins it equal to the
plain way. A trick that stops paying goes; one that pays serves every place it applies.

* :func:`replace` is ``attrs.evolve`` for the frozen states the domain copies per event;
* :func:`without_cyclic_gc` pauses the cyclic garbage collector while a fold or a render
  runs (process-wide: see there);
* :class:`NameUuids` is ``str(uuid.uuid5(namespace, f"{kind}:{item_id}"))``, remembered;
* :class:`Interned` gives equal values one object (the ids a state keeps many times);
* :func:`as_datetime` builds a date-time of a subclass (pendulum's) from a plain one,
  for the codec's and the log's reads.

It imports the standard library and attrs only, so that every layer may import it.
"""

from __future__ import annotations

import datetime as _dt
import gc
import inspect
import linecache
import types
import uuid
from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from typing import Any, Final, Generic, TypeVar

import attrs

__all__ = [
    "Interned",
    "NameUuids",
    "as_datetime",
    "replace",
    "slot_setters",
    "without_cyclic_gc",
]

T = TypeVar("T")
DT = TypeVar("DT", bound=_dt.datetime)
H = TypeVar("H", bound=Hashable)

# -- replace: attrs.evolve, as straight-line code ------------------------------------

_Replacer = Callable[[Any, dict[str, Any]], Any]
_REPLACERS: dict[type, _Replacer] = {}
_CACHED_HASH: Final = "_attrs_cached_hash"  # where attrs keeps a cache_hash=True hash


def replace(instance: T, /, **changes: Any) -> T:
    """Return ``attrs.evolve(instance, **changes)``, made by copying the fields directly.

    ``evolve`` reads every field by name into keywords and calls ``__init__`` with them;
    this creates the object and sets each field with straight-line code generated once
    per class (registered in :mod:`linecache`, so tracebacks and debuggers show it).
    Measured (``benchmarks/bench_speed.py``): copying a meeting's state (17 fields) with
    one change takes 1.9 µs instead of 4.3; a full rebuild of the 100,000-event
    projection log copies it once per meeting event and runs 9% faster for it. The
    states copied once in many events (a deadline, an organisation, a person: 3 µs
    each, a few hundred copies in that log) use ``attrs.evolve``.

    It serves attrs classes whose ``__init__`` only stores its arguments: no
    validators, converters, ``__attrs_pre_init__``/``__attrs_post_init__`` hooks,
    ``init=False`` fields, cached hash or own ``__init__``; it refuses the others. A
    change names a field by its ``__init__`` argument (its alias: ``x`` for a private
    ``_x``), as with ``evolve``.

    Raises:
        TypeError: the class is one it cannot copy (the first time it meets it), or a
            change names no field of it.
        attrs.exceptions.NotAnAttrsClassError: ``instance`` is not an attrs instance.

    """
    cls = type(instance)
    replacer = _REPLACERS.get(cls)
    if replacer is None:
        replacer = _REPLACERS[cls] = _make_replacer(cls, instance)
    return replacer(instance, changes)  # type: ignore[no-any-return]


def _refusal(cls: type, fields: tuple[attrs.Attribute[Any], ...], instance: object) -> str:
    """Say why ``replace`` would not give what ``attrs.evolve`` gives, or ""."""
    for field in fields:
        if field.validator is not None or field.converter is not None:
            return f"field {field.name!r} has a validator or a converter"
        if not field.init:
            return f"field {field.name!r} is not an __init__ argument"
    for hook in ("__attrs_pre_init__", "__attrs_post_init__", "__attrs_init__"):
        if hasattr(cls, hook):
            return f"it has {hook}"
    if hasattr(instance, _CACHED_HASH):
        return "it caches its hash"
    return ""


def _make_replacer(cls: type, instance: object) -> _Replacer:
    fields = attrs.fields(cls)
    refused = _refusal(cls, fields, instance)
    if refused:
        raise TypeError(f"replace() cannot copy {cls.__qualname__} ({refused}): use attrs.evolve")
    setters = slot_setters(cls, [f.name for f in fields])
    namespace: dict[str, Any] = {
        "new_object": object.__new__,
        "set_attribute": object.__setattr__,
        "cls": cls,
        "field_of": {f.alias: f.name for f in fields},
        "setter_of": {f.alias: setters[f.name] for f in fields if f.name in setters},
    }
    for name, setter in setters.items():
        namespace[f"set_{name}"] = setter

    def put(name: str, value: str) -> str:
        if name in setters:
            return f"set_{name}(new, {value})"
        return f"set_attribute(new, {name!r}, {value})"

    if len(setters) == len(fields):  # every field a slot: its setter, by the change's name
        change = [
            "        setter = setter_of.get(argument)",
            "        if setter is None:",
            "            raise TypeError(f'{cls.__name__} has no field {argument!r}')",
            "        setter(new, value)",
        ]
    else:
        change = [
            "        name = field_of.get(argument)",
            "        if name is None:",
            "            raise TypeError(f'{cls.__name__} has no field {argument!r}')",
            "        set_attribute(new, name, value)",
        ]
    source = "\n".join(
        [
            "def replace(instance, changes):",
            "    new = new_object(cls)",
            *(f"    {put(f.name, f'instance.{f.name}')}" for f in fields),
            "    for argument, value in changes.items():",
            *change,
            "    return new",
            "",
        ]
    )
    filename = _cached_source(f"<alliance_events replace {cls.__module__}.{cls.__qualname__}>",
                              source)
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - from the class's fields
    return namespace["replace"]  # type: ignore[no-any-return]


def slot_setters(cls: type, names: list[str]) -> dict[str, Callable[[Any, Any], None]]:
    """Return the ``__set__`` of each of ``names`` that is a slot of ``cls``, by name.

    A slot's own setter writes the field directly: ``set_x(new, value)`` costs ~0.55 µs
    where ``object.__setattr__(new, "x", value)`` costs ~0.8 (it looks the name up in
    the class first; one object of seven fields, ``benchmarks/bench_speed.py``). A frozen
    class's ``__setattr__`` (which refuses) is bypassed the same way by both. Names that
    are not slots (a class with a ``__dict__``) are left out.
    """
    setters: dict[str, Callable[[Any, Any], None]] = {}
    for name in names:
        descriptor = inspect.getattr_static(cls, name, None)
        if type(descriptor) is types.MemberDescriptorType:
            setters[name] = descriptor.__set__
    return setters


def _cached_source(name: str, source: str) -> str:
    """Put ``source`` in :mod:`linecache` under a file name of its own; return that name.

    As attrs does for its generated methods: the name gets ``-1``, ``-2``... when another
    source already has it (a class redefined under the same name).
    """
    filename, count = name, 1
    while True:
        entry = (len(source), None, source.splitlines(keepends=True), filename)
        if linecache.cache.setdefault(filename, entry) == entry:
            return filename
        filename = f"{name[:-1]}-{count}>"
        count += 1


# -- without_cyclic_gc: a fold or a render with the collector paused -------------------


@contextmanager
def without_cyclic_gc() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while the block runs.

    A fold or a render allocates millions of small objects, none in a cycle, and keeps
    many of them: the collector would scan the growing state again and again and find
    nothing. Reference counting frees garbage as usual meanwhile. Measured
    (``benchmarks/bench_speed.py``): a rebuild of the 100,000-event projection log runs
    in 1.62 s instead of 2.25 with the collector on (a 10,000-meeting feed log: 0.71 s
    instead of 0.97); a cold render of the 10,000-meeting public feed, 0.57 s instead
    of 0.66.

    **Process-wide.** ``gc.disable()`` stops the collector for every thread, not only
    the one in the block. The feed server renders and catches up in worker threads while
    its event loop goes on serving requests in another: during a render, the loop's
    garbage is still freed by reference counting, and only garbage in cycles (rare:
    an exception kept with its traceback, say) waits for the pause to end. Pauses may
    nest and overlap: a pause entered while the collector is off changes nothing; the
    one that turned it off turns it on again when it ends (also on an exception), even
    if a pause in another thread is still running (that one then finishes with the
    collector on: slower, never wrong). A program that turned the collector off keeps
    it off.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# -- NameUuids: name-based UUIDs as text, made once -------------------------------------


class NameUuids:
    """``str(uuid.uuid5(namespace, f"{kind}:{item_id}"))`` for each (kind, id), remembered.

    ``uuid.uuid5`` builds a ``UUID`` from the SHA-1 and ``str`` formats it again; this
    sets the version and variant bits on the digest's bytes and formats their hex once.
    Measured (``benchmarks/bench_speed.py``): 1.6 µs instead of 3.3 for a new one, 0.1 µs
    for one made before (items' UIDs are asked for every time their VEVENT is written).

    At most ``kept`` texts are kept (100,000: ~20 MB); then it starts again.
    """

    __slots__ = ("_kept", "_namespace", "_sha1", "_texts")

    def __init__(self, namespace: uuid.UUID, *, kept: int = 100_000) -> None:
        import hashlib  # noqa: PLC0415 - here, not at import: the events layer imports this module

        self._sha1 = hashlib.sha1
        self._namespace = namespace.bytes
        self._kept = kept
        self._texts: dict[tuple[str, uuid.UUID], str] = {}

    def __call__(self, kind: str, item_id: uuid.UUID) -> str:
        """Return ``str(uuid.uuid5(namespace, f"{kind}:{item_id}"))``."""
        text = self._texts.get((kind, item_id))
        if text is None:
            digest = bytearray(
                self._sha1(  # RFC 9562's name-based UUID (SHA-1), not a security use
                    self._namespace + f"{kind}:{item_id}".encode()
                ).digest()[:16]
            )
            digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
            digest[8] = (digest[8] & 0x3F) | 0x80  # the RFC's variant
            x = digest.hex()
            if len(self._texts) >= self._kept:
                self._texts.clear()
            text = self._texts[kind, item_id] = (
                f"{x[:8]}-{x[8:12]}-{x[12:16]}-{x[16:20]}-{x[20:]}"
            )
        return text


# -- Interned: one object for equal values ---------------------------------------------


class Interned(Generic[H]):
    """One object for equal values: ``sys.intern`` for any hashable value.

    It remembers up to ``kept`` values, then starts again.

    A decoded event brings its own UUID objects (~100 bytes each, with their int): a
    state that keeps the ids of the same few organisations and persons in hundreds of
    thousands of nominations would keep as many copies. Measured
    (``benchmarks/bench_projection.py``, the 1,000,000-event log): 1.14 M UUID objects
    for 537 k distinct values (~58 MiB) before; the meetings' ``evolve`` now keeps one
    object per organisation's and person's id (see the figures in ``benchmarks/README.md``).
    """

    __slots__ = ("_kept", "_values")

    def __init__(self, *, kept: int = 100_000) -> None:
        self._kept = kept
        self._values: dict[H, H] = {}

    def get(self, value: H) -> H | None:
        """Return the object kept for a value equal to ``value``, if one is."""
        return self._values.get(value)

    def __call__(self, value: H) -> H:
        """Return the object kept for ``value`` (``value`` itself the first time)."""
        values = self._values
        found = values.get(value)
        if found is None:
            if len(values) >= self._kept:
                values.clear()
            found = values[value] = value
        return found


# -- as_datetime: a subclass's date-time from a plain one --------------------------------

_DATETIME_STATE: Final = _dt.datetime.__reduce__


def as_datetime(cls: type[DT], value: _dt.datetime, tzinfo: _dt.tzinfo | None) -> DT:
    """Return ``cls(value.year, value.month, ..., value.microsecond, tzinfo=tzinfo)``.

    Its ``fold`` is 0 whatever ``value``'s. ``cls`` is a subclass of ``datetime`` that
    keeps ``datetime``'s own ``__new__`` and ``__init__`` (pendulum's ``DateTime``). It is
    built from ``value``'s pickled state (ten bytes: ``datetime``'s documented pickle
    form, which its constructor takes back without parsing seven arguments). Measured
    (``benchmarks/bench_speed.py``): 0.29 µs instead of 0.59 for a pendulum date-time in
    a zone; the codec reads a stored date-time in a named zone in 0.65 µs instead of 0.97
    with it, and a log read builds a record's ``recorded_at`` in 0.91 µs instead of 1.28
    (most records of a real log have their own). (A date is not worth it:
    ``pendulum.Date(y, m, d)`` takes as long.)
    """
    return cls(_DATETIME_STATE(value)[1][0], tzinfo)  # type: ignore[call-arg, arg-type]
