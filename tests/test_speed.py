"""The speed tricks of alliance_events._speed give exactly what the plain ways give."""

from __future__ import annotations

import datetime as _dt
import gc
import linecache
import threading
import traceback
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import pendulum
import pytest
from hypothesis import given
from hypothesis import strategies as st

from alliance_events._speed import (
    Interned,
    NameUuids,
    as_datetime,
    replace,
    without_cyclic_gc,
)

# -- replace vs attrs.evolve ----------------------------------------------------------------

VALUES = st.one_of(
    st.none(), st.integers(), st.text(max_size=5), st.tuples(st.integers()), st.builds(object)
)


@attrs.frozen
class FieldSpec:
    """One field of a generated class: how it is declared."""

    private: bool  # "_name": its __init__ argument is "name"
    alias: bool  # an explicit alias for its __init__ argument
    default: str  # "none", "value", "factory", "takes_self"
    kw_only: bool
    eq: bool


@attrs.frozen
class ClassSpec:
    """A generated attrs class: its fields, its options, and its base's fields."""

    fields: tuple[FieldSpec, ...]
    base_fields: tuple[FieldSpec, ...]
    frozen: bool
    slots: bool


field_specs = st.builds(
    FieldSpec,
    private=st.booleans(),
    alias=st.booleans(),
    default=st.sampled_from(["none", "value", "factory", "takes_self"]),
    kw_only=st.booleans(),
    eq=st.booleans(),
)
class_specs = st.builds(
    ClassSpec,
    fields=st.lists(field_specs, max_size=6).map(tuple),
    base_fields=st.lists(field_specs, max_size=3).map(tuple),
    frozen=st.booleans(),
    slots=st.booleans(),
)


def _declare(spec: FieldSpec, name: str) -> Any:
    options: dict[str, Any] = {"kw_only": spec.kw_only, "eq": spec.eq}
    if spec.alias:
        options["alias"] = f"{name.lstrip('_')}_given"
    if spec.default == "value":
        options["default"] = 0
    elif spec.default == "factory":
        options["factory"] = list
    elif spec.default == "takes_self":
        options["default"] = attrs.Factory(lambda self: type(self).__name__, takes_self=True)
    return attrs.field(**options)


def _ordered(specs: tuple[FieldSpec, ...], prefix: str) -> dict[str, Any]:
    """Fields in an order attrs accepts: positional ones without a default first."""
    named = [(f"{'_' if s.private else ''}{prefix}{i}", s) for i, s in enumerate(specs)]
    named.sort(key=lambda pair: (pair[1].kw_only, pair[1].default != "none"))
    return {name: _declare(spec, name) for name, spec in named}


def make_class(spec: ClassSpec) -> type:
    """Build the class ``spec`` describes (a subclass of one with the base's fields).

    The base's fields are keyword-only, so that the subclass may add positional ones.
    """
    base = attrs.make_class(
        "Base", _ordered(spec.base_fields, "b"), frozen=spec.frozen, slots=spec.slots,
        kw_only=True,
    )
    return attrs.make_class(
        "Generated", _ordered(spec.fields, "f"), bases=(base,), frozen=spec.frozen,
        slots=spec.slots,
    )


@st.composite
def instances_and_changes(draw: st.DrawFn) -> tuple[Any, dict[str, Any]]:
    """A generated class's instance, and changes to some of its fields (by __init__ name)."""
    cls = make_class(draw(class_specs))
    fields = attrs.fields(cls)
    arguments = {
        f.alias: draw(VALUES)
        for f in fields
        if f.default is attrs.NOTHING or draw(st.booleans())
    }
    instance = cls(**arguments)
    changed = draw(st.lists(st.sampled_from(fields), unique=True)) if fields else []
    return instance, {f.alias: draw(VALUES) for f in changed}


@attrs.define
class PostInit:
    x: int

    def __attrs_post_init__(self) -> None:
        self.x += 1


@attrs.define
class PreInit:
    x: int

    def __attrs_pre_init__(self) -> None:
        pass


def _same(copy: Any, expected: Any) -> None:
    assert type(copy) is type(expected)
    for field in attrs.fields(type(expected)):
        assert getattr(copy, field.name) is getattr(expected, field.name), field.name


class TestReplace:
    @given(instances_and_changes())
    def test_it_gives_what_attrs_evolve_gives(self, drawn: tuple[Any, dict[str, Any]]) -> None:
        """Any plain attrs class (every kind of field and default, frozen or not, slotted or
        not, inherited fields), any changes: the same object as attrs.evolve, a new one."""
        instance, changes = drawn
        copy = replace(instance, **changes)
        _same(copy, attrs.evolve(instance, **changes))
        assert copy is not instance

    @given(instances_and_changes())
    def test_it_refuses_what_attrs_evolve_refuses(
        self, drawn: tuple[Any, dict[str, Any]]
    ) -> None:
        """A name that is no __init__ argument (a private field's own name, say) is a
        TypeError, as with attrs.evolve."""
        instance, _ = drawn
        wrong = [f.name for f in attrs.fields(type(instance)) if f.name != f.alias]
        for name in [*wrong, "no_such_field"]:
            with pytest.raises(TypeError):
                attrs.evolve(instance, **{name: 1})
            with pytest.raises(TypeError, match=f"no field {name!r}"):
                replace(instance, **{name: 1})

    def test_the_domain_states(self) -> None:
        """The states the domain copies with it are copied as attrs.evolve copies them."""
        from alliance_events.domain.meetings import MeetingState, Nomination, Registration

        for cls in (MeetingState, Registration, Nomination):
            fields = attrs.fields(cls)
            instance = cls(**{f.alias: object() for f in fields})  # type: ignore[arg-type]
            for field in fields:
                _same(replace(instance, **{field.alias: 1}),
                      attrs.evolve(instance, **{field.alias: 1}))

    @pytest.mark.parametrize(
        "make",
        [
            lambda: attrs.make_class("V", {"x": attrs.field(validator=attrs.validators.gt(0))})(1),
            lambda: attrs.make_class("C", {"x": attrs.field(converter=int)})(1),
            lambda: attrs.make_class("I", {"x": attrs.field(), "y": attrs.field(init=False)})(1),
            lambda: attrs.make_class("H", {"x": attrs.field()}, frozen=True, cache_hash=True)(1),
            lambda: PostInit(1),
            lambda: PreInit(1),
            attrs.make_class("O", {"x": attrs.field()}, init=False),
        ],
        ids=["validator", "converter", "init-false", "cache-hash", "post-init", "pre-init",
             "own-init"],
    )
    def test_it_refuses_classes_whose_init_does_more(self, make: Callable[[], Any]) -> None:
        """A class whose __init__ does more than store its arguments is refused."""
        with pytest.raises(TypeError, match="cannot copy"):
            replace(make(), x=2)

    def test_its_code_is_in_linecache(self) -> None:
        """Tracebacks and debuggers show the generated code, each class's under its own name."""

        def declare(*names: str) -> type:
            return attrs.make_class("Twice", {name: attrs.field() for name in names})

        # The same qualified name, two classes: each its own code, under its own name.
        first, second = declare("x", "y"), declare("y", "x")
        files = []
        for cls in (first, second):
            with pytest.raises(TypeError) as caught:
                replace(cls(1, 2), z=3)
            text = "".join(traceback.format_exception(caught.value))
            assert "raise TypeError(f'{cls.__name__} has no field {argument!r}')" in text
            frame = caught.tb
            while frame.tb_next is not None:
                frame = frame.tb_next
            files.append(frame.tb_frame.f_code.co_filename)
        assert files[0] != files[1]
        for filename in files:
            assert filename.startswith("<alliance_events replace ")
            lines = linecache.getlines(filename)
            assert lines[0] == "def replace(instance, changes):\n"
            assert "    set_attribute(new, 'y', instance.y)\n" in lines


# -- without_cyclic_gc vs the collector as it was ------------------------------------------


@pytest.fixture
def collector() -> Iterator[None]:
    """The collector on at the start, and as it was at the end."""
    was = gc.isenabled()
    gc.enable()
    try:
        yield
    finally:
        (gc.enable if was else gc.disable)()


class BoomError(Exception):
    pass


@pytest.mark.usefixtures("collector")
class TestWithoutCyclicGc:
    def test_it_pauses_and_resumes(self) -> None:
        """Off inside the block, on again after it."""
        with without_cyclic_gc():
            assert not gc.isenabled()
        assert gc.isenabled()

    def test_an_exception_resumes_it(self) -> None:
        """An exception in the block turns the collector on again, and goes on."""
        with pytest.raises(BoomError), without_cyclic_gc():
            raise BoomError
        assert gc.isenabled()

    def test_nested_pauses_are_one(self) -> None:
        """A pause inside a pause changes nothing; the outer one resumes the collector."""
        with without_cyclic_gc():
            with pytest.raises(BoomError), without_cyclic_gc():
                raise BoomError
            assert not gc.isenabled()
        assert gc.isenabled()

    def test_a_program_that_turned_it_off_keeps_it_off(self) -> None:
        """Paused while already off: still off after."""
        gc.disable()
        with without_cyclic_gc():
            pass
        assert not gc.isenabled()

    def test_pauses_in_two_threads(self) -> None:
        """Overlapping pauses in two threads leave the collector on when both are done."""
        inside, release = threading.Barrier(2), threading.Event()
        errors: list[BaseException] = []

        def pause(hold: bool) -> None:
            try:
                with without_cyclic_gc():
                    inside.wait(timeout=10)
                    if hold:
                        release.wait(timeout=10)
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [threading.Thread(target=pause, args=(hold,)) for hold in (False, True)]
        for thread in threads:
            thread.start()
        threads[0].join(timeout=10)
        release.set()
        threads[1].join(timeout=10)
        assert not errors
        assert gc.isenabled()


# -- NameUuids vs str(uuid.uuid5(...)) -----------------------------------------------------


class TestNameUuids:
    @given(namespace=st.uuids(), kind=st.text(), item_id=st.uuids())
    def test_it_gives_what_uuid5_gives(
        self, namespace: uuid.UUID, kind: str, item_id: uuid.UUID
    ) -> None:
        """Any namespace, kind and id: str(uuid.uuid5(namespace, f"{kind}:{id}")), twice."""
        expected = str(uuid.uuid5(namespace, f"{kind}:{item_id}"))
        uids = NameUuids(namespace)
        assert uids(kind, item_id) == expected
        assert uids(kind, item_id) == expected  # remembered

    def test_it_starts_again_when_full(self) -> None:
        """Past ``kept`` texts the memo starts again, and the answers stay right."""
        namespace = uuid.UUID(int=1)
        uids = NameUuids(namespace, kept=3)
        ids = [uuid.UUID(int=n) for n in range(10)]
        for _ in range(2):
            for item_id in ids:
                assert uids("meeting", item_id) == str(uuid.uuid5(namespace, f"meeting:{item_id}"))


class TestInterned:
    @given(st.lists(st.uuids(), max_size=30))
    def test_equal_values_come_back_as_one_object(self, values: list[uuid.UUID]) -> None:
        """Each value comes back equal, and every copy of it as the first one seen."""
        same = Interned[uuid.UUID]()
        first: dict[uuid.UUID, uuid.UUID] = {}
        for value in values:
            copy = uuid.UUID(int=value.int)  # equal, another object
            kept = same(copy)
            assert kept == value
            assert kept is first.setdefault(value, kept)

    def test_it_starts_again_when_full(self) -> None:
        """Past ``kept`` values it forgets them all (bounded memory), still giving equals."""
        same = Interned[int](kept=2)
        a, b, c = (10**30 + n for n in range(3))  # large ints: new objects each time
        kept_a = same(a)
        same(b)
        same(c)  # full: forgets a and b, keeps c
        again = same(int(str(a)))
        assert again == a
        assert again is not kept_a


# -- as_datetime vs pendulum's constructor -------------------------------------------------


class TestAsDatetime:
    @given(
        value=st.datetimes(timezones=st.none() | st.timezones()),
        fold=st.integers(0, 1),
        zone=st.sampled_from(["UTC", "Europe/Vienna", "America/St_Johns", None]),
    )
    def test_it_gives_what_the_constructor_gives(
        self, value: _dt.datetime, fold: int, zone: str | None
    ) -> None:
        """Any date-time (naive or aware, either fold), any zone or none: what
        ``pendulum.DateTime(value.year, ..., tzinfo=zone)`` gives, fold 0."""
        value = value.replace(fold=fold)
        tzinfo = None if zone is None else pendulum.timezone(zone)
        made = as_datetime(pendulum.DateTime, value, tzinfo)
        expected = pendulum.DateTime(
            value.year, value.month, value.day, value.hour, value.minute, value.second,
            value.microsecond, tzinfo=tzinfo,
        )
        assert type(made) is pendulum.DateTime
        assert made.tzinfo is tzinfo
        assert made.fold == expected.fold == 0
        assert made.isoformat() == expected.isoformat()
        assert made == expected
