"""Installed tools' event types (``alliance_events.plugins``): loaded, or refused harmlessly."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os

import attrs
import pytest

from alliance_events import Alliance, Event, EventRegistry, library_registry
from alliance_events.plugins import GROUP, PluginLoad, load_event_types

HERE = __name__
NOT_A_FUNCTION = 42


@attrs.frozen(kw_only=True)
class Sent(Event):
    subject: str


@attrs.frozen(kw_only=True)
class Opened(Event):
    subject: str


def register_mailing(registry: EventRegistry) -> None:
    registry.add(Sent, "mailing.Sent")
    registry.add(Opened, "mailing.Opened", schema=2)
    registry.upcaster("mailing.Opened", from_schema=1)(lambda data: data)


def register_mailing_too(registry: EventRegistry) -> None:
    registry.add(Opened, "mailing.Sent")


@attrs.frozen(kw_only=True)
class PagePublished(Event):
    path: str


def register_website(registry: EventRegistry) -> None:
    registry.add(PagePublished, "website.PagePublished")


def register_half_then_stray(registry: EventRegistry) -> None:
    registry.add(Sent, "mailing.Sent")
    registry.add(Opened, "website.Opened")  # outside its namespace: refused


def register_a_library_name(registry: EventRegistry) -> None:
    registry.add(Sent, "MeetingScheduled")


def register_and_fail(registry: EventRegistry) -> None:
    registry.add(Sent, "mailing.Sent")
    raise RuntimeError("the mailing tool is misconfigured")


def entry(name: str, value: str) -> importlib.metadata.EntryPoint:
    return importlib.metadata.EntryPoint(name=name, value=value, group=GROUP)


def _installed() -> None:
    """Skip without the test package (the README's test command installs it); fail in CI."""
    if importlib.util.find_spec("minutes_tool") is None:
        reason = "tests/minutes_tool is not installed: pip install -e tests/minutes_tool"
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"in CI the test package must be installed: {reason}")
        pytest.skip(reason)


class TestTheInstalledTool:
    @pytest.fixture(autouse=True)
    def _tool(self) -> None:
        _installed()

    def test_the_minutes_tool_is_found_and_loaded(self) -> None:
        """The test package's entry point registers its two types in the namespace."""
        registry = library_registry()
        (load,) = [p for p in load_event_types(registry) if p.namespace == "minutes"]
        assert load.loaded, load.error
        assert load.types == ("minutes.ActionItemRecorded", "minutes.MinutesApproved")
        assert load.source == "alliance-events-minutes-tool 0.1.0: minutes_tool:register"
        assert registry.type_of(registry.class_for("minutes.MinutesApproved")) == (
            "minutes.MinutesApproved", 2)
        assert str(load) == (
            "plugin 'minutes' (alliance-events-minutes-tool 0.1.0: minutes_tool:register): "
            "2 event types"
        )

    def test_loading_again_changes_nothing(self) -> None:
        """The same tools loaded twice into one registry: no refusal, the same types."""
        registry = library_registry()
        first = load_event_types(registry)
        types = dict(registry.types)
        assert load_event_types(registry) == first
        assert registry.types == types

    def test_alliance_open_loads_them_when_asked(self) -> None:
        """Alliance.open(plugins=True) loads them into a copy; without, nothing is loaded."""
        with Alliance.open("memory:", plugins=True) as alliance:
            assert "minutes" in {load.namespace for load in alliance.plugins}
            assert "minutes.MinutesApproved" in alliance.log.codec.registry
        with Alliance.open("memory:") as alliance:
            assert alliance.plugins == ()
            assert "minutes.MinutesApproved" not in alliance.log.codec.registry


class TestBrokenTools:
    """A broken tool is reported, registers nothing, and stops no other tool."""

    def load(
        self, *entries: importlib.metadata.EntryPoint
    ) -> tuple[EventRegistry, list[PluginLoad]]:
        registry = library_registry()
        return registry, load_event_types(registry, entry_points=entries)

    def test_a_good_tool(self) -> None:
        """A tool given as an entry point registers its types."""
        registry, (load,) = self.load(entry("mailing", f"{HERE}:register_mailing"))
        assert load == PluginLoad(namespace="mailing", source=f"{HERE}:register_mailing",
                                  types=("mailing.Opened", "mailing.Sent"))
        assert registry.class_for("mailing.Sent") is Sent

    @pytest.mark.parametrize(
        ("value", "message"),
        [
            ("no_such_tool_module:register", "cannot import no_such_tool_module:register: "
                                             "ModuleNotFoundError"),
            (f"{HERE}:no_such_function", "cannot import"),
            (f"{HERE}:NOT_A_FUNCTION", "is a int, not a function register(registry)"),
            (HERE, "is a module, not a function"),
            (f"{HERE}:register_and_fail", "RuntimeError: the mailing tool is misconfigured"),
            (f"{HERE}:register_half_then_stray",
             "may register only names in its namespace, mailing.<Name>; got 'website.Opened'"),
            (f"{HERE}:register_a_library_name", "got 'MeetingScheduled'"),
        ],
    )
    def test_a_broken_tool_registers_nothing(self, value: str, message: str) -> None:
        """Import errors, non-functions, exceptions, names outside the namespace: reported."""
        registry, loads = self.load(entry("mailing", value),
                                    entry("website", f"{HERE}:register_website"))
        broken, other = loads
        assert not broken.loaded
        assert message in (broken.error or "")
        assert "not loaded" in str(broken)
        assert "read as events of unknown types" in str(broken)
        assert other.loaded
        assert set(registry.types) - set(library_registry().types) == {"website.PagePublished"}

    @pytest.mark.parametrize("namespace", ["alliance", "alliance_events", "ALLIANCE", "x y"])
    def test_reserved_or_malformed_namespaces_are_refused(self, namespace: str) -> None:
        """An entry point named after the library's namespace (or no namespace) is refused."""
        registry, (load,) = self.load(entry(namespace, f"{HERE}:register_mailing"))
        assert not load.loaded
        assert "namespace" in (load.error or "")
        assert "mailing.Sent" not in registry

    def test_two_packages_claiming_one_namespace(self) -> None:
        """The first (by package, then value) is loaded; the second is refused, naming both."""
        registry, (first, second) = self.load(
            entry("mailing", f"{HERE}:register_mailing_too"),
            entry("mailing", f"{HERE}:register_mailing"),
        )
        assert first.loaded
        assert first.source == f"{HERE}:register_mailing"
        assert not second.loaded
        error = second.error or ""
        assert "namespace 'mailing' is claimed by plugin 'mailing'" in error
        assert f"({HERE}:register_mailing)" in error
        assert f"({HERE}:register_mailing_too)" in error
        assert registry.class_for("mailing.Sent") is Sent
