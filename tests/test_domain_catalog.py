"""The library's event types: one explicit list, from which the default registry is built."""

from __future__ import annotations

import ast
import importlib
import inspect
import json
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import alliance_events
from alliance_events import EventRegistry, domain, library_registry, registry
from alliance_events.domain.catalog import (
    EVENT_CLASSES,
    EVENT_TYPES,
    missing_library_types,
    register_library_types,
    with_library_types,
)
from alliance_events.errors import EventDefinitionError
from alliance_events.events import Event

from .library_story import record_story
from .sample_events import TEST_REGISTRY, Noted

DOMAIN = Path(alliance_events.__file__).parent / "domain"
NAMES = sorted(name for _, name, _ in EVENT_TYPES)


class TestTheList:
    def test_every_domain_event_class_is_listed_once(self) -> None:
        """Each Event subclass of the domain modules appears in EVENT_TYPES exactly once."""
        modules = [
            importlib.import_module(info.name)
            for info in pkgutil.walk_packages(domain.__path__, prefix=f"{domain.__name__}.")
        ]
        defined = {
            cls
            for module in modules
            for _, cls in inspect.getmembers(module, inspect.isclass)
            if issubclass(cls, Event) and cls is not Event and cls.__module__ == module.__name__
        }
        listed = [cls for cls, _, _ in EVENT_TYPES]
        assert len(listed) == len(set(listed)) == len(NAMES) == len(set(NAMES))
        assert set(listed) == defined == EVENT_CLASSES

    def test_library_names_have_no_namespace(self) -> None:
        """The library's type names have no dot: every other tool's have one."""
        assert all("." not in name for name in NAMES)

    def test_no_domain_module_registers_anything(self) -> None:
        """No domain module calls a registry: the list is the only place types are named."""
        for path in sorted(DOMAIN.rglob("*.py")):
            if path.name == "catalog.py":
                continue
            tree = ast.parse(path.read_text())
            imported = {
                alias.name
                for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) and node.module == "alliance_events.events"
                for alias in node.names
            }
            assert imported <= {"Event"}, path.name
            registering = [
                node.lineno
                for node in ast.walk(tree)
                if isinstance(node, ast.Call)
                and any(k.arg in ("schema", "from_schema") for k in node.keywords)
            ]
            assert not registering, (path.name, registering)


class TestRegistries:
    def test_the_default_registry_holds_the_list(self) -> None:
        """Importing the package put every listed type in the default registry."""
        for cls, name, schema in EVENT_TYPES:
            assert registry.type_of(cls) == (name, schema)
            assert registry.class_for(name) is cls

    def test_library_registry_is_new_and_exactly_the_list(self) -> None:
        """library_registry() returns a new registry holding exactly the library's types."""
        first, second = library_registry(), library_registry()
        assert first is not second
        assert sorted(first.types) == NAMES
        first.add(Noted, "test.Noted")
        assert "test.Noted" not in second

    def test_a_new_registry_starts_empty(self) -> None:
        """EventRegistry() knows no type at all, not even the library's."""
        assert len(EventRegistry()) == 0
        assert missing_library_types(EventRegistry()) == [name for _, name, _ in EVENT_TYPES]

    def test_registering_again_changes_nothing(self) -> None:
        """register_library_types on a registry holding them already is a no-op."""
        again = register_library_types(library_registry())
        assert again.types == library_registry().types

    def test_with_library_types(self) -> None:
        """A registry holding them is returned as is; another is completed, not changed."""
        assert with_library_types(registry) is registry
        complete = with_library_types(TEST_REGISTRY)
        assert complete is not TEST_REGISTRY
        assert "MeetingScheduled" not in TEST_REGISTRY
        assert {"MeetingScheduled", "test.Noted", "test.Renamed"} <= set(complete.types)
        assert complete.upcast("test.Renamed", 1, {"title": "t"})["summary"] == "t"

    def test_a_library_name_for_another_class_is_refused(self) -> None:
        """A registry mapping a library name to a class of its own cannot be completed."""
        clashing = EventRegistry()
        clashing.add(Noted, "MeetingScheduled")
        try:
            with pytest.raises(EventDefinitionError, match="'MeetingScheduled'") as caught:
                with_library_types(clashing)
            assert "alliance_events." not in str(caught.value)  # no import path
        finally:
            TEST_REGISTRY.add(Noted, "test.Noted")  # the class attributes, as they were


FRESH = """
import json, sys
from alliance_events.log import open_log
from alliance_events.events import OpaqueEvent
with open_log(sys.argv[1]) as log:
    records = list(log.read_all())
print(json.dumps({
    "types": sorted({r.type for r in records}),
    "opaque": [r.type for r in records if isinstance(r.event, OpaqueEvent)],
    "modules": sorted(m for m in sys.modules if m.startswith("alliance_events")),
}))
"""


class TestAFreshInterpreter:
    def test_opening_a_log_decodes_every_library_event(self, tmp_path: Path) -> None:
        """Importing only alliance_events.log decodes every library type, loading no layer above."""
        url = f"sqlite:///{tmp_path / 'story.db'}"
        story = record_story(url)
        story.alliance.close()
        done = subprocess.run(
            [sys.executable, "-c", FRESH, url], capture_output=True, text=True, timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        found = json.loads(done.stdout)
        assert found["types"] == NAMES
        assert found["opaque"] == []
        loaded = set(found["modules"])
        for above in ("app", "cli", "web", "ical", "projections", "plugins", "demo"):
            assert not {m for m in loaded if m.split(".")[1:2] == [above]}, above
        assert "alliance_events.domain.catalog" in loaded

    def test_the_facade_still_offers_every_name(self) -> None:
        """Every name in __all__ resolves, the lazy ones on first use."""
        done = subprocess.run(
            [sys.executable, "-c",
             "import alliance_events as a, sys\n"
             "assert 'alliance_events.app' not in sys.modules\n"
             "missing = [n for n in a.__all__ if getattr(a, n, None) is None]\n"
             "assert not missing, missing\n"
             "from alliance_events import Alliance, open_log\n"
             "print(Alliance.__module__, open_log.__module__)"],
            capture_output=True, text=True, timeout=60, check=False,
        )
        assert done.returncode == 0, done.stderr
        assert done.stdout.split() == ["alliance_events.app", "alliance_events.log"]
