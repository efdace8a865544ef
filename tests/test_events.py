"""The event registry: what it accepts as an event type, and how it is looked up."""

from __future__ import annotations

import contextlib
import uuid

import attrs
import pytest

import alliance_events
from alliance_events.errors import EventDefinitionError, UnknownEventTypeError
from alliance_events.events import Event, EventRegistry, event_type, registry, upcaster

from .sample_events import TEST_REGISTRY, Everything, Noted, Renamed

ID = uuid.UUID(int=1)


def make_event_class(name: str = "Sample") -> type[Event]:
    """A fresh, valid, unregistered event class."""
    return attrs.frozen(kw_only=True)(type(name, (Event,), {"__annotations__": {"text": "str"}}))


class TestEventBase:
    def test_an_event_needs_an_id(self):
        """No default id: nothing below the application invents one (it comes with the event)."""
        with pytest.raises(TypeError, match="event_id"):
            Noted(text="a")  # type: ignore[call-arg]
        assert Noted(event_id=ID, text="a").event_id == ID

    def test_events_are_frozen(self):
        """An event cannot be changed after it is made."""
        event = Noted(event_id=ID, text="a")
        with pytest.raises(attrs.exceptions.FrozenInstanceError):
            event.text = "b"  # type: ignore[misc]

    def test_events_are_keyword_only(self):
        """Fields are given by name only."""
        with pytest.raises(TypeError):
            Noted("a")  # type: ignore[misc]


class TestRegister:
    def test_register_sets_type_name_and_schema(self):
        """A registered class is found by name and reports its (name, schema)."""
        reg = EventRegistry()
        cls = reg.register("sample.Done", schema=3)(make_event_class())
        assert reg.type_of(cls) == ("sample.Done", 3)
        assert reg.class_for("sample.Done") is cls
        assert "sample.Done" in reg
        assert len(reg) == 1
        assert list(reg) == [cls]
        assert dict(reg.types) == {"sample.Done": cls}

    def test_register_returns_the_class_itself(self):
        """The decorator returns the class unchanged, so it stacks with others."""
        cls = make_event_class()
        assert EventRegistry().register("sample.X")(cls) is cls

    def test_default_schema_is_one(self):
        """Without schema=, a class is at schema 1."""
        reg = EventRegistry()
        cls = reg.register("sample.X")(make_event_class())
        assert reg.type_of(cls) == ("sample.X", 1)

    def test_add_is_the_non_decorator_form(self):
        """add() registers like register()."""
        reg = EventRegistry()
        cls = make_event_class()
        reg.add(cls, "sample.Added", schema=2)
        assert reg.type_of(cls) == ("sample.Added", 2)

    def test_registering_the_same_class_twice_is_allowed(self):
        """Registering a class again under its own name is a no-op (a re-imported module)."""
        reg = EventRegistry()
        cls = make_event_class()
        reg.add(cls, "sample.Again")
        reg.add(cls, "sample.Again")
        assert len(reg) == 1

    def test_name_taken_by_another_class_is_refused(self):
        """A type name belongs to one class: another class under it is refused."""
        reg = EventRegistry()
        reg.add(make_event_class("First"), "sample.Taken")
        with pytest.raises(EventDefinitionError, match="already registered"):
            reg.add(make_event_class("Second"), "sample.Taken")

    def test_refused_registration_changes_nothing(self):
        """After a refusal the registry still maps the name to the first class."""
        reg = EventRegistry()
        first = make_event_class("First")
        reg.add(first, "sample.Taken")
        with pytest.raises(EventDefinitionError):
            reg.add(make_event_class("Second"), "sample.Taken")
        assert reg.class_for("sample.Taken") is first
        assert len(reg) == 1

    @pytest.mark.parametrize(
        "name",
        [
            "",
            "1Starts.With.Digit",
            "_underscore",
            "has space",
            "slash/in",
            "ü.Umlaut",
            "a" * 101,
            "tab\tname",
            "trailing\n",
            None,
            42,
        ],
    )
    def test_bad_type_names_are_refused(self, name):
        """Type names start with a letter and hold letters, digits, _ . : - (max 100)."""
        with pytest.raises(EventDefinitionError, match="type name"):
            EventRegistry().add(make_event_class(), name)

    @pytest.mark.parametrize("name", ["a", "A" * 100, "org.Event-Name_2:v"])
    def test_good_type_names_are_accepted(self, name):
        """Names at the limits of the rule are accepted."""
        reg = EventRegistry()
        reg.add(make_event_class(), name)
        assert name in reg

    @pytest.mark.parametrize("schema", [0, -1, 1.0, "1", True, None])
    def test_schema_must_be_an_integer_from_one(self, schema):
        """Schema numbers are integers >= 1 (not bools, not floats, not text)."""
        with pytest.raises(EventDefinitionError, match="schema"):
            EventRegistry().add(make_event_class(), "sample.X", schema=schema)

    def test_class_not_derived_from_event_is_refused(self):
        """A frozen keyword-only attrs class that does not subclass Event is refused."""

        @attrs.frozen(kw_only=True)
        class Stray:
            event_id: uuid.UUID
            text: str

        with pytest.raises(EventDefinitionError, match="subclass"):
            EventRegistry().add(Stray, "sample.Stray")  # type: ignore[arg-type]

    def test_non_class_is_refused(self):
        """Something that is not a class at all is refused."""
        with pytest.raises(EventDefinitionError):
            EventRegistry().add(Noted(event_id=ID, text="x"), "sample.Instance")  # type: ignore[arg-type]

    def test_subclass_without_attrs_is_refused(self):
        """A plain subclass of Event (attrs not applied to it) is refused."""

        class Plain(Event):
            pass

        with pytest.raises(EventDefinitionError, match="attrs"):
            EventRegistry().add(Plain, "sample.Plain")

    def test_non_frozen_class_is_refused(self):
        """An attrs class whose instances can be changed is refused."""

        @attrs.define(kw_only=True)
        class Mutable(Event):
            text: str

            def __setattr__(self, name, value):
                object.__setattr__(self, name, value)

        with pytest.raises(EventDefinitionError, match="frozen"):
            EventRegistry().add(Mutable, "sample.Mutable")

    def test_positional_fields_are_refused(self):
        """A class whose fields may be given by position is refused, naming the fields."""

        @attrs.frozen
        class Positional(Event):
            text: str = ""

        with pytest.raises(EventDefinitionError, match=r"keyword-only.*'text'"):
            EventRegistry().add(Positional, "sample.Positional")

    def test_refused_class_is_not_registered(self):
        """A class refused for its shape leaves no trace in the registry."""
        reg = EventRegistry()

        @attrs.frozen
        class Positional(Event):
            text: str = ""

        with pytest.raises(EventDefinitionError):
            reg.register("sample.Positional")(Positional)
        assert "sample.Positional" not in reg
        assert len(reg) == 0


class TestLookup:
    def test_type_of_registered_classes(self):
        """type_of gives each test class's name and schema."""
        assert TEST_REGISTRY.type_of(Noted) == ("test.Noted", 1)
        assert TEST_REGISTRY.type_of(Everything) == ("test.Everything", 1)
        assert TEST_REGISTRY.type_of(Renamed) == ("test.Renamed", 2)

    def test_type_of_unregistered_class_raises(self):
        """type_of an unregistered class raises UnknownEventTypeError naming the class."""
        cls = make_event_class("Unlisted")
        with pytest.raises(UnknownEventTypeError, match="Unlisted"):
            TEST_REGISTRY.type_of(cls)

    def test_type_of_unregistered_subclass_raises(self):
        """A subclass of a registered class is not registered by inheritance."""

        @attrs.frozen(kw_only=True)
        class MoreNoted(Noted):
            extra: int = 0

        with pytest.raises(UnknownEventTypeError):
            TEST_REGISTRY.type_of(MoreNoted)

    def test_type_of_class_registered_elsewhere_raises(self):
        """A class registered in another registry is unknown here."""
        other = EventRegistry()
        cls = other.register("elsewhere.Only")(make_event_class())
        with pytest.raises(UnknownEventTypeError):
            EventRegistry().type_of(cls)

    def test_class_for_unknown_name_raises(self):
        """class_for an unknown name raises UnknownEventTypeError with the name."""
        with pytest.raises(UnknownEventTypeError) as caught:
            TEST_REGISTRY.class_for("test.Nothing")
        assert caught.value.type_name == "test.Nothing"
        assert "test.Nothing" in str(caught.value)

    def test_contains_only_names(self):
        """``in`` asks about type names, not classes."""
        assert "test.Noted" in TEST_REGISTRY
        assert Noted not in TEST_REGISTRY
        assert "test.Missing" not in TEST_REGISTRY

    def test_types_cannot_change_the_registry(self):
        """Changing the mapping from ``types`` does not change the registry."""
        reg = TEST_REGISTRY.copy()
        view = reg.types
        with contextlib.suppress(TypeError):  # a read-only mapping is fine too
            view["x"] = Noted  # type: ignore[index]
        assert "x" not in reg
        assert "x" not in reg.types


class TestCopy:
    def test_copy_has_the_same_types_and_upcasters(self):
        """A copy knows every type and upcaster of the original."""
        reg = TEST_REGISTRY.copy()
        assert reg.types == TEST_REGISTRY.types
        assert reg.upcast("test.Renamed", 1, {"title": "t"}) == {"summary": "t", "language": "en"}

    def test_copy_is_independent(self):
        """Types and upcasters added to a copy are not added to the original, nor back."""
        original = EventRegistry()
        original.add(make_event_class("Base"), "sample.Base")
        copied = original.copy()
        added = make_event_class("Added")
        copied.add(added, "sample.Added", schema=2)
        copied.upcaster("sample.Added", from_schema=1)(lambda data: data)
        assert "sample.Added" not in original
        assert "sample.Base" in copied
        with pytest.raises(UnknownEventTypeError):
            original.upcast("sample.Added", 1, {})
        late = make_event_class("Late")
        original.add(late, "sample.Late")
        assert "sample.Late" not in copied


class TestUpcasterRegistration:
    def test_from_schema_must_be_at_least_one(self):
        """An upcaster from schema 0 (or a non-integer) is refused."""
        with pytest.raises(EventDefinitionError, match="from_schema"):
            EventRegistry().upcaster("sample.X", from_schema=0)
        with pytest.raises(EventDefinitionError, match="from_schema"):
            EventRegistry().upcaster("sample.X", from_schema="1")  # type: ignore[arg-type]

    def test_second_upcaster_for_the_same_step_is_refused(self):
        """Only one function may upcast a (type, schema) step."""
        reg = EventRegistry()
        reg.upcaster("sample.X", from_schema=1)(lambda data: data)
        with pytest.raises(EventDefinitionError, match="already registered"):
            reg.upcaster("sample.X", from_schema=1)(lambda data: {**data})

    def test_same_upcaster_twice_is_allowed(self):
        """Registering the same function again for its step is a no-op."""
        reg = EventRegistry()

        def step(data):
            return data

        assert reg.upcaster("sample.X", from_schema=1)(step) is step
        assert reg.upcaster("sample.X", from_schema=1)(step) is step

    def test_upcast_at_current_schema_returns_data_unchanged(self):
        """Data already at the class's schema is returned as it is."""
        data = {"summary": "s", "language": "de"}
        assert TEST_REGISTRY.upcast("test.Renamed", 2, data) is data


class TestDefaultRegistry:
    def test_event_type_registers_in_the_default_registry(self):
        """@event_type registers in the library's default registry."""
        name = f"tests.DefaultRegistered{uuid.UUID(int=1).hex[:6]}"
        cls = event_type(name, schema=2)(make_event_class("DefaultRegistered"))
        assert registry.type_of(cls) == (name, 2)
        assert registry.class_for(name) is cls
        assert alliance_events.registry is registry
        assert alliance_events.event_type is event_type

    def test_upcaster_registers_in_the_default_registry(self):
        """@upcaster registers in the default registry and upcast uses it."""
        name = "tests.DefaultUpcast"
        event_type(name, schema=2)(make_event_class("DefaultUpcast"))

        @upcaster(name, from_schema=1)
        def _step(data):
            return {"text": data["old"]}

        assert registry.upcast(name, 1, {"old": "x"}) == {"text": "x"}
        assert alliance_events.upcaster is upcaster

    def test_event_type_validates_like_register(self):
        """The default decorator refuses what register refuses."""
        with pytest.raises(EventDefinitionError):
            event_type("bad name")(make_event_class())

    def test_test_types_are_not_in_the_default_registry(self):
        """The tests' registry is separate from the default one."""
        assert "test.Noted" not in registry


class TestMessagesNameTypeNames:
    """Refusals name stable type names and class names, never a Python import path."""

    def test_a_class_registered_elsewhere_is_named_by_its_type_name(self):
        """type_of a class registered in another registry names its type name."""
        from alliance_events.domain.meetings import MeetingScheduled

        with pytest.raises(UnknownEventTypeError) as caught:
            EventRegistry().type_of(MeetingScheduled)
        message = str(caught.value)
        assert caught.value.type_name == "MeetingScheduled"
        assert "'MeetingScheduled'" in message
        assert "library_registry()" in message
        assert "alliance_events.domain" not in message

    def test_a_class_never_registered_is_named_by_its_class_name(self):
        """A class no registry holds is named by its class name."""
        with pytest.raises(UnknownEventTypeError, match="event class Unlisted") as caught:
            EventRegistry().type_of(make_event_class("Unlisted"))
        assert caught.value.type_name == "Unlisted"
        assert "tests." not in str(caught.value)

    def test_a_subclass_does_not_borrow_its_parents_name(self):
        """An unregistered subclass of a registered class is named by its own class name."""

        @attrs.frozen(kw_only=True)
        class MoreNoted(Noted):
            extra: int = 0

        with pytest.raises(UnknownEventTypeError) as caught:
            TEST_REGISTRY.type_of(MoreNoted)
        assert caught.value.type_name.endswith("MoreNoted")

    def test_a_taken_name_names_both_classes_not_their_modules(self):
        """A clash names the type name and both classes, without module paths."""
        reg = EventRegistry()
        reg.add(make_event_class("First"), "sample.Taken")
        with pytest.raises(EventDefinitionError) as caught:
            reg.add(make_event_class("Second"), "sample.Taken")
        message = str(caught.value)
        assert "'sample.Taken'" in message
        assert "First" in message
        assert "Second" in message
        assert "tests." not in message
        assert "alliance_events.events" not in message

    def test_a_malformed_class_is_named_with_its_type_name(self):
        """A class that is not frozen attrs is refused naming its type name and class."""

        @attrs.frozen
        class Broken(Event):
            subject: str

        with pytest.raises(EventDefinitionError) as caught:
            EventRegistry().add(Broken, "mailing.Broken")
        assert str(caught.value).startswith("event type 'mailing.Broken' (class ")
        assert "tests." not in str(caught.value)


class TestScoped:
    """A tool registers through a staging registry: its namespace only, all or nothing."""

    def test_names_inside_the_namespace_are_taken(self):
        """Types and upcasters in the namespace reach the registry with update()."""
        reg = EventRegistry()
        staging = reg.scoped("minutes", owner="plugin 'minutes'")
        cls = staging.register("minutes.Approved", schema=2)(make_event_class())
        staging.upcaster("minutes.Approved", from_schema=1)(lambda data: {**data, "text": "x"})
        assert "minutes.Approved" not in reg
        reg.update(staging)
        assert reg.type_of(cls) == ("minutes.Approved", 2)
        assert reg.upcast("minutes.Approved", 1, {}) == {"text": "x"}

    @pytest.mark.parametrize(
        "name", ["Approved", "minutes", "minutes.", "other.Approved", "minutesX.Approved",
                 "MeetingScheduled"],
    )
    def test_names_outside_the_namespace_are_refused(self, name):
        """A name without the tool's namespace (the library's names too) is refused."""
        staging = EventRegistry().scoped("minutes", owner="plugin 'minutes'")
        with pytest.raises(EventDefinitionError, match="only names in its namespace"):
            staging.add(make_event_class(), name)
        with pytest.raises(EventDefinitionError, match="only names in its namespace"):
            staging.upcaster(name, from_schema=1)

    @pytest.mark.parametrize(
        "namespace", ["alliance", "alliance_events", "Alliance", "alliance-events", "",
                      "1minutes", "min utes", "a" * 51, None],
    )
    def test_reserved_and_malformed_namespaces_are_refused(self, namespace):
        """The library's namespaces and malformed ones cannot be claimed."""
        with pytest.raises(EventDefinitionError, match="namespace"):
            EventRegistry().scoped(namespace, owner="plugin x")

    def test_a_namespace_claimed_by_another_owner_names_both(self):
        """Two tools cannot share a namespace: the refusal names both owners."""
        reg = EventRegistry()
        reg.update(reg.scoped("minutes", owner="package A"))
        with pytest.raises(EventDefinitionError) as caught:
            reg.scoped("minutes", owner="package B")
        assert "package A" in str(caught.value)
        assert "package B" in str(caught.value)
        reg.scoped("minutes", owner="package A")  # the same owner again: fine

    def test_a_name_taken_by_another_owner_names_both(self):
        """A name registered by one tool, claimed for another class by a second: both named."""
        reg = EventRegistry()
        first = reg.scoped("minutes", owner="package A")
        first.add(make_event_class("Approved"), "minutes.Approved")
        reg.update(first)
        other = EventRegistry()
        second = other.scoped("minutes", owner="package B")
        second.add(make_event_class("Different"), "minutes.Approved")
        with pytest.raises(EventDefinitionError) as caught:
            reg.update(second)
        message = str(caught.value)
        assert "package A" in message
        assert "package B" in message

    def test_update_is_all_or_nothing(self):
        """An update refused for one name adds none of the others."""
        reg = EventRegistry()
        reg.add(make_event_class("Taken"), "sample.Taken")
        other = EventRegistry()
        other.add(make_event_class("Fine"), "sample.Fine")
        other.add(make_event_class("Clash"), "sample.Taken")
        with pytest.raises(EventDefinitionError):
            reg.update(other)
        assert "sample.Fine" not in reg

    def test_a_registry_and_its_copy_merge(self):
        """Updating a registry with its own copy changes nothing."""
        reg = TEST_REGISTRY.copy()
        reg.update(TEST_REGISTRY)
        assert reg.types == TEST_REGISTRY.types
