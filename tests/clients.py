"""Calendar software reading the feeds: every parser the tests use, in one place.

In process: icalendar with recurring-ical-events, and vobject (:func:`parse_all` runs
them with ical.js and checks they agree); ical.js, Thunderbird's parser, under Node
(:func:`run_ical_js`); and real calendar software: libical, vdirsyncer + khal, Radicale.

Each helper drives one implementation nobody here wrote and hands back what it read, by
UID, in one shape (:class:`Reading`, :class:`Span`); Radicale answers time-range
questions instead (:class:`Found`). Every helper skips the calling test when its tool
is missing here, and fails it when ``CI`` is set (as ``require_ical_js`` in
``test_ical.py`` does): CI installs them all (``.ci/run``).

- :func:`libical_events`: libical (Evolution, GNOME) through its GObject bindings
  (Debian's ``gir1.2-ical-3.0`` and ``python3-gi``, which import only in Debian's own
  ``/usr/bin/python3``), running ``tests/clients/libical_events.py`` in a subprocess.
  Date-times are converted with the zone libical attached while parsing the calendar:
  the feed's own VTIMEZONE (``zones="file"``, checked), or, for comparison, libical's
  builtin zone of the same name (``zones="builtin"``).
- :func:`vdirsyncer_khal`: a real subscriber. vdirsyncer's ``http`` storage fetches the
  feed and syncs it one way into a ``filesystem`` storage (a vdir, one ``.ics`` file per
  item it tells apart), then khal, configured on that vdir, lists the events in UTC.
  vdirsyncer's http storage replaces every UID by a hash of the item's content (it
  trusts no server's UIDs), so khal's UIDs are mapped back to the feed's with
  vdirsyncer's own splitting and hashing of the same feed.
- :func:`radicale_finds`: a Radicale server (vobject inside) on a loopback port, temp
  storage, no auth; each VEVENT is PUT as its own resource of a new calendar (made by
  MKCALENDAR) with the VTIMEZONEs it uses, then CalDAV ``calendar-query`` REPORTs with
  time ranges ask whether each meeting is found at its true instant. vobject keeps the
  first VTIMEZONE it sees for a TZID for the life of the process, so a feed whose
  VTIMEZONEs differ from those a server has seen goes to a new server
  (:func:`radicales` starts them as needed, usually one).
"""

from __future__ import annotations

import datetime as _dt
import functools
import importlib.util
import itertools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import httpx
import icalendar
import pytest
import recurring_ical_events
import vobject

HERE = Path(__file__).resolve().parent
JS = HERE / "js"
LIBICAL_SCRIPT = HERE / "clients" / "libical_events.py"
SYSTEM_PYTHON = Path("/usr/bin/python3")
BIN = Path(sys.executable).parent  # the venv's scripts: vdirsyncer, khal
UTC = _dt.UTC

Moment = _dt.datetime | _dt.date
"""A UTC date-time (an aware ``datetime`` in UTC) for timed items, a ``date`` for dates."""


@dataclass(frozen=True)
class Span:
    """When a client says an item takes place: start and end, UTC date-times or dates."""

    start: Moment
    end: Moment
    summary: str = ""
    status: str = ""


@dataclass(frozen=True)
class Reading:
    """What one client read of a feed.

    Attributes:
        client: which client read it.
        events: each VEVENT's span, by UID (the feed's UIDs).
        count: how many VEVENTs the client read (duplicates of a UID included).
        stored: vdirsyncer only: how many items it stored (one ``.ics`` file each).
        problems: what the client complained about (libical's parse errors, khal's and
            vdirsyncer's warnings), for the assertion messages.

    """

    client: str
    events: dict[str, Span]
    count: int
    stored: int | None = None
    problems: tuple[str, ...] = ()

    def spans(self) -> dict[str, tuple[Moment, Moment]]:
        """Return each UID's (start, end)."""
        return {uid: (span.start, span.end) for uid, span in self.events.items()}


@dataclass(frozen=True)
class Found:
    """Whether Radicale's time-range query finds an item at its true start, and not before.

    ``at_start``: found in the minute starting at the true start; ``before_start``: found
    in the hour ending at the true start (a timed item must not be); ``shift``: when it
    is not where it belongs, the whole number of hours (within ±3) by which the first
    minute it is found at differs from the true start, if any.
    """

    at_start: bool
    before_start: bool
    shift: _dt.timedelta | None = None

    @property
    def right(self) -> bool:
        """Found at its true start and not in the hour before it."""
        return self.at_start and not self.before_start


# -- skip here, fail in CI -------------------------------------------------------------------


def _require(reason: str | None) -> None:
    """Skip the calling test (fail it in CI) when ``reason`` says a tool is missing."""
    if reason:
        if os.environ.get("CI", "").lower() not in ("", "0", "false"):
            pytest.fail(f"in CI the real-client checks must run: {reason}")
        pytest.skip(reason)


def _system_python_env() -> dict[str, str]:
    """The environment without the venv's Python settings (PYTHONPATH and the like)."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith("PYTHON") and k != "VIRTUAL_ENV"}


@functools.cache
def _libical_missing() -> str | None:
    if not SYSTEM_PYTHON.exists():
        return f"{SYSTEM_PYTHON} (Debian's Python, for libical's GObject bindings) is missing"
    probe = subprocess.run(
        [str(SYSTEM_PYTHON), "-c",
         "import gi; gi.require_version('ICalGLib', '3.0'); from gi.repository import ICalGLib"],
        capture_output=True, check=False, timeout=60, env=_system_python_env(),
    )
    if probe.returncode != 0:
        return ("libical's GObject bindings do not import in /usr/bin/python3: "
                "apt-get install gir1.2-ical-3.0 python3-gi")
    return None


def _tool(name: str) -> Path | None:
    beside = BIN / name
    if beside.exists():
        return beside
    found = shutil.which(name)
    return None if found is None else Path(found)


@functools.cache
def _vdirsyncer_khal_missing() -> str | None:
    missing = [name for name in ("vdirsyncer", "khal") if _tool(name) is None]
    if missing or importlib.util.find_spec("vdirsyncer") is None:
        return (f"{' and '.join(missing) or 'vdirsyncer'} not installed: "
                "pip install -e '.[dev]'")
    return None


@functools.cache
def _radicale_missing() -> str | None:
    if importlib.util.find_spec("radicale") is None:
        return "radicale is not installed: pip install -e '.[dev]'"
    return None


def require_libical() -> None:
    """Skip (fail in CI) when libical's GObject bindings cannot run."""
    _require(_libical_missing())


def require_vdirsyncer_khal() -> None:
    """Skip (fail in CI) when vdirsyncer or khal is missing."""
    _require(_vdirsyncer_khal_missing())


def require_radicale() -> None:
    """Skip (fail in CI) when Radicale is missing."""
    _require(_radicale_missing())



# -- in process, and ical.js: icalendar + recurring-ical-events, vobject, ical.js ----------


@functools.cache
def _ical_js_missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (JS / "node_modules" / "ical.js").is_dir():
        return "ical.js is not installed: run `npm install --prefix tests/js`"
    return None


def require_ical_js() -> None:
    """Skip (fail in CI) when ical.js cannot run."""
    _require(_ical_js_missing())


def _moment(value: Any) -> Any:
    """A date stays a date; a date-time becomes UTC (a floating one is an error)."""
    if isinstance(value, _dt.datetime):
        assert value.tzinfo is not None, f"floating time {value!r}"
        return value.astimezone(UTC)
    assert isinstance(value, _dt.date)
    return value


def _norm(uid: Any, summary: Any, description: Any, location: Any, status: Any,
          start: Any, end: Any) -> dict[str, Any]:
    return {
        "uid": str(uid),
        "summary": str(summary or ""),
        "description": str(description or ""),
        "location": str(location or ""),
        "status": str(status or ""),
        "start": _moment(start),
        "end": _moment(end),
    }


def parse_icalendar(body: bytes) -> list[dict[str, Any]]:
    """Parse with icalendar, expanding with recurring-ical-events."""
    cal = icalendar.Calendar.from_ical(body)
    assert not cal.get_missing_tzids()
    occurrences = recurring_ical_events.of(cal).between((1900, 1, 1), (2300, 1, 1))
    assert len(occurrences) == len(cal.events)
    return [
        _norm(e.get("UID"), e.get("SUMMARY"), e.get("DESCRIPTION"), e.get("LOCATION"),
              e.get("STATUS"), e.start, e.end)
        for e in occurrences
    ]


def parse_vobject(body: bytes) -> list[dict[str, Any]]:
    """Parse with vobject."""
    (cal,) = list(vobject.readComponents(body.decode("utf-8")))
    found = []
    for event in cal.contents.get("vevent", []):
        def value(name: str, event: Any = event) -> Any:
            prop = event.contents.get(name)
            return prop[0].value if prop else None

        found.append(_norm(value("uid"), value("summary"), value("description"),
                           value("location"), value("status"), value("dtstart"),
                           value("dtend")))
    return found


def _js_moment(value: dict[str, str]) -> Any:
    assert "floating" not in value, f"ical.js read a floating time: {value}"
    if "date" in value:
        return _dt.date.fromisoformat(value["date"])
    return _dt.datetime.fromisoformat(value["utc"])


def run_ical_js(body: bytes) -> dict[str, Any]:
    """Parse with ical.js under Node; return the script's JSON."""
    require_ical_js()
    done = subprocess.run(
        ["node", str(JS / "check_ics.mjs")], input=body, capture_output=True, check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def parse_ical_js(body: bytes) -> list[dict[str, Any]]:
    """Parse with ical.js."""
    return [
        _norm(e["uid"], e["summary"], e["description"], e["location"], e["status"],
              _js_moment(e["start"]), _js_moment(e["end"]))
        for e in run_ical_js(body)["events"]
    ]


def parse_all(body: bytes) -> dict[str, dict[str, dict[str, Any]]]:
    """Parse with all three parsers; check they agree; return each one's events by UID."""
    results = {
        "icalendar": parse_icalendar(body),
        "vobject": parse_vobject(body),
        "ical.js": parse_ical_js(body),
    }
    by_uid = {}
    for parser, events in results.items():
        uids = [e["uid"] for e in events]
        assert len(uids) == len(set(uids)), f"{parser}: duplicate UIDs"
        by_uid[parser] = {e["uid"]: e for e in events}
    first = by_uid["icalendar"]
    for parser, events in by_uid.items():
        assert events == first, f"{parser} reads the feed differently from icalendar"
    return by_uid


# -- the document's blocks -------------------------------------------------------------------


def _unfold(text: str) -> str:
    return re.sub(r"\r?\n[ \t]", "", text)


def _blocks(body: bytes) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """Split a VCALENDAR into its header lines, VTIMEZONE blocks and VEVENT blocks (bytes,
    each block CRLF-terminated lines as they were, folding included)."""
    header: list[bytes] = []
    zones: list[bytes] = []
    events: list[bytes] = []
    current: list[bytes] | None = None
    depth = 0
    for line in body.splitlines(keepends=True):
        bare = line.rstrip(b"\r\n")
        if bare in (b"BEGIN:VCALENDAR", b"END:VCALENDAR"):
            continue
        if bare.startswith(b"BEGIN:"):
            depth += 1
            if depth == 1:
                current = []
        if current is None:
            header.append(line)
        else:
            current.append(line)
        if bare.startswith(b"END:"):
            depth -= 1
            if depth == 0 and current is not None:
                block = b"".join(current)
                (zones if current[0].startswith(b"BEGIN:VTIMEZONE") else events).append(block)
                current = None
    return header, zones, events


def _tzid_of_zone(block: bytes) -> str:
    match = re.search(r"^TZID:(.*)$", _unfold(block.decode()), re.MULTILINE)
    assert match, "a VTIMEZONE without TZID"
    return match.group(1).strip()


def _uid_of(block: bytes) -> str:
    match = re.search(r"^UID:(.*)$", _unfold(block.decode()), re.MULTILINE)
    assert match, "a VEVENT without UID"
    return match.group(1).strip()


def _tzids_used(block: bytes) -> set[str]:
    return {m.strip('"') for m in re.findall(r";TZID=([^:;]+)", _unfold(block.decode()))}


def _vevent_days(text: str) -> list[_dt.date]:
    """The dates of every DTSTART/DTEND inside a VEVENT of ``text``."""
    days = []
    inside = False
    for line in _unfold(text).splitlines():
        if line == "BEGIN:VEVENT":
            inside = True
        elif line == "END:VEVENT":
            inside = False
        elif inside and line.startswith(("DTSTART", "DTEND")):
            value = line.rsplit(":", 1)[1]
            days.append(_dt.date(int(value[:4]), int(value[4:6]), int(value[6:8])))
    return days


# -- libical ---------------------------------------------------------------------------------


def _libical_moment(value: dict[str, Any], zones: Literal["file", "builtin"]) -> Moment:
    assert "floating" not in value, f"libical read a floating time: {value}"
    if "date" in value:
        return _dt.date.fromisoformat(value["date"])
    if value.get("zone") == "builtin":
        # libical found no VTIMEZONE of the feed for this TZID and used its own zone.
        assert zones == "builtin", f"libical did not use the feed's VTIMEZONE: {value}"
    chosen = value["builtin_utc"] if zones == "builtin" and "builtin_utc" in value else value["utc"]
    assert chosen is not None, f"libical has no builtin zone for {value}"
    return _dt.datetime.fromisoformat(chosen).astimezone(UTC)


def libical_events(ics: bytes, *, zones: Literal["file", "builtin"] = "file") -> Reading:
    """Read ``ics`` with libical; each VEVENT's span by UID.

    With ``zones="file"`` (the default) every TZID must be resolved by the feed's own
    VTIMEZONE (as libical does when it parses a calendar; checked); ``"builtin"``
    reads the same wall times with libical's zone database instead, to compare.
    """
    require_libical()
    done = subprocess.run(
        [str(SYSTEM_PYTHON), str(LIBICAL_SCRIPT)], input=ics, capture_output=True,
        check=False, timeout=60, env=_system_python_env(),
    )
    assert done.returncode == 0, done.stderr.decode()
    result = json.loads(done.stdout)
    events = {}
    for event in result["events"]:
        events[event["uid"]] = Span(
            start=_libical_moment(event["start"], zones),
            end=_libical_moment(event["end"], zones),
            summary=event["summary"] or "",
            status=event["status"] or "",
        )
    return Reading("libical", events, len(result["events"]),
                   problems=tuple(result["errors"]))


# -- vdirsyncer + khal -----------------------------------------------------------------------

_VDIRSYNCER_CONFIG = """\
[general]
status_path = "{status}/"

[pair feed]
a = "feed_remote"
b = "feed_local"
collections = null
conflict_resolution = "a wins"

[storage feed_remote]
type = "http"
url = "{url}"

[storage feed_local]
type = "filesystem"
path = "{vdir}/"
fileext = ".ics"
"""

_KHAL_CONFIG = """\
[calendars]
[[feed]]
path = {vdir}
type = calendar

[locale]
timeformat = %H:%M
dateformat = %Y-%m-%d
longdateformat = %Y-%m-%d
datetimeformat = %Y-%m-%dT%H:%M:%S%z
longdatetimeformat = %Y-%m-%dT%H:%M:%S%z
local_timezone = UTC
default_timezone = UTC

[sqlite]
path = {database}
"""


def _run(command: list[str | Path], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [str(part) for part in command], capture_output=True, text=True, check=False,
        timeout=120, env=env, stdin=subprocess.DEVNULL,
    )
    assert done.returncode == 0, f"{command[0]} failed:\n{done.stdout}\n{done.stderr}"
    return done


def _vdirsyncer_uids(body: bytes) -> dict[str, str]:
    """Map vdirsyncer's UID of each item of the feed (its content hash) to the feed's UID.

    vdirsyncer's http storage splits the feed by VEVENT UID and then replaces each
    item's UID by ``Item.hash`` (its content without UID, DTSTAMP and VTIMEZONEs); this
    is that same splitting and hashing, from vdirsyncer itself.
    """
    from vdirsyncer.vobject import Item, split_collection

    mapping = {}
    for raw in split_collection(body.decode("utf-8")):
        item = Item(raw)
        mapping[item.hash] = _uid_of(_blocks(raw.encode())[2][0])
    return mapping


def _khal_moment(text: str, *, all_day: bool, end: bool) -> Moment:
    if all_day:
        day = _dt.date.fromisoformat(text)
        # khal shows an all-day event's last day; iCalendar's DTEND is the day after.
        return day + _dt.timedelta(days=1) if end else day
    return _dt.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S%z").astimezone(UTC)


def vdirsyncer_khal(url: str, tmp_path: Path) -> Reading:
    """Subscribe to ``url`` with vdirsyncer, list it with khal; spans by the feed's UID.

    ``stored`` is how many items vdirsyncer stored in the vdir (one ``.ics`` file each);
    ``count`` is how many events khal lists (once each, over the dates of the stored
    VEVENTs). Config, status, vdir and khal's cache all live under ``tmp_path``.
    """
    require_vdirsyncer_khal()
    home = tmp_path / "subscriber"
    vdir, status, config = home / "vdir" / "feed", home / "status", home / "config"
    for folder in (vdir, status, config / "vdirsyncer", config / "khal", home / "data"):
        folder.mkdir(parents=True, exist_ok=True)
    vdirsyncer_config = config / "vdirsyncer" / "config"
    vdirsyncer_config.write_text(_VDIRSYNCER_CONFIG.format(status=status, url=url, vdir=vdir))
    khal_config = config / "khal" / "config"
    khal_config.write_text(_KHAL_CONFIG.format(vdir=vdir, database=home / "khal.db"))
    env = {
        **os.environ,
        "XDG_CONFIG_HOME": str(config),
        "XDG_DATA_HOME": str(home / "data"),
        "XDG_CACHE_HOME": str(home / "data"),
        "TZ": "UTC",
        "NO_PROXY": "127.0.0.1,localhost",  # aiohttp honours proxy variables (trust_env)
        "no_proxy": "127.0.0.1,localhost",
    }
    vdirsyncer = _tool("vdirsyncer")
    khal = _tool("khal")
    assert vdirsyncer is not None
    assert khal is not None
    problems = []
    for verb in ("discover", "sync"):
        done = _run([vdirsyncer, "-c", vdirsyncer_config, verb, "feed"], env)
        problems += [line for line in done.stderr.splitlines() if "warning" in line.lower()]
    stored = sorted(vdir.glob("*.ics"))
    body = httpx.get(url, timeout=10, headers={"Accept-Encoding": "identity"}).content
    uids = _vdirsyncer_uids(body)
    days = [day for path in stored for day in _vevent_days(path.read_text())]
    events: dict[str, Span] = {}
    count = 0
    if days:
        first, last = min(days) - _dt.timedelta(days=1), max(days) + _dt.timedelta(days=2)
        done = _run([khal, "-c", khal_config, "list", "--once", "--day-format", "",
                     *itertools.chain.from_iterable(
                         ("--json", name)
                         for name in ("uid", "title", "status", "start", "end", "all-day")),
                     first.isoformat(), last.isoformat()], env)
        problems += [line for line in done.stderr.splitlines() if line.strip()]
        for line in done.stdout.splitlines():
            if not line.strip():
                continue
            for event in json.loads(line):
                all_day = event["all-day"] == "True"
                count += 1
                events[uids.get(event["uid"], event["uid"])] = Span(
                    start=_khal_moment(event["start"], all_day=all_day, end=False),
                    end=_khal_moment(event["end"], all_day=all_day, end=True),
                    summary=event["title"],
                    status=event["status"].strip(),
                )
    return Reading("vdirsyncer+khal", events, count, stored=len(stored),
                   problems=tuple(problems))


# -- Radicale --------------------------------------------------------------------------------

_QUERY = """<?xml version="1.0" encoding="utf-8"?>
<C:calendar-query xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">
  <D:prop><D:getetag/></D:prop>
  <C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">
    <C:time-range start="{start}" end="{end}"/>
  </C:comp-filter></C:comp-filter></C:filter>
</C:calendar-query>
"""

_MINUTE = _dt.timedelta(minutes=1)
_HOUR = _dt.timedelta(hours=1)


def free_port() -> int:
    """Return a TCP port free on loopback just now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _stamp(moment: _dt.datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


@dataclass
class Radicale:
    """A running Radicale server: each :meth:`finds` uses a calendar collection of its own.

    ``zones`` is every VTIMEZONE it was given, by TZID: vobject (so Radicale) keeps the
    first VTIMEZONE it parses for a TZID for the rest of the process, whatever later
    documents say (``TimezoneComponent.registerTzinfo``), so a server that has seen
    another VTIMEZONE of the same TZID would read a feed with the wrong one.
    """

    base: str
    user: str = "alliance"
    zones: dict[str, bytes] = field(default_factory=dict)
    _names: Iterator[int] = field(default_factory=itertools.count)

    def client(self) -> httpx.Client:
        # auth type "none" takes any user name: the calendars live under /<user>/.
        return httpx.Client(base_url=self.base, auth=(self.user, "-"), timeout=30)

    def can_read(self, ics: bytes) -> bool:
        """Whether this server reads ``ics`` with its own VTIMEZONEs (none seen differs)."""
        _header, zones, _events = _blocks(ics)
        return all(self.zones.get(_tzid_of_zone(zone), zone) == zone for zone in zones)

    def finds(self, ics: bytes, checks: Mapping[str, _dt.datetime]) -> dict[str, Found]:
        """PUT every VEVENT of ``ics`` as a resource of a new calendar; for each UID of
        ``checks`` (its true start, aware), ask whether a time-range query finds it."""
        assert self.can_read(ics), "this Radicale has seen other VTIMEZONEs of these TZIDs"
        collection = f"/{self.user}/feed-{next(self._names)}/"
        header, zones, events = _blocks(ics)
        by_tzid = {_tzid_of_zone(zone): zone for zone in zones}
        keep = [line for line in header if line.startswith((b"VERSION:", b"PRODID:"))]
        with self.client() as http:
            made = http.request("MKCALENDAR", collection)
            assert made.status_code == 201, made.text
            hrefs: dict[str, str] = {}
            for event in events:
                uid = _uid_of(event)
                used = [by_tzid[tzid] for tzid in sorted(_tzids_used(event)) if tzid in by_tzid]
                document = b"".join([b"BEGIN:VCALENDAR\r\n", *keep, *used, event,
                                     b"END:VCALENDAR\r\n"])
                href = f"{collection}{len(hrefs)}.ics"
                put = http.put(href, content=document,
                               headers={"Content-Type": "text/calendar; charset=utf-8"})
                assert put.status_code in (201, 204), f"{uid}: {put.status_code} {put.text}"
                hrefs[uid] = href
                self.zones.update((_tzid_of_zone(zone), zone) for zone in used)

            def found(start: _dt.datetime, end: _dt.datetime) -> set[str]:
                answer = http.request(
                    "REPORT", collection,
                    content=_QUERY.format(start=_stamp(start), end=_stamp(end)).encode(),
                    headers={"Depth": "1", "Content-Type": "application/xml; charset=utf-8"},
                )
                assert answer.status_code == 207, answer.text
                return set(re.findall(r"<href>([^<]*)</href>", answer.text))

            results = {}
            for uid, start in checks.items():
                assert uid in hrefs, f"{uid} is not in the feed"
                href = hrefs[uid]
                at_start = href in found(start, start + _MINUTE)
                before = href in found(start - _HOUR, start)
                shift = None
                if not at_start or before:
                    shift = next((hours * _HOUR for hours in range(-3, 4)
                                  if href in found(start + hours * _HOUR,
                                                   start + hours * _HOUR + _MINUTE)), None)
                results[uid] = Found(at_start, before, shift)
        return results


@contextmanager
def radicale(tmp_path: Path) -> Iterator[Radicale]:
    """Run one Radicale on a free loopback port, storage under ``tmp_path``, no auth."""
    require_radicale()
    port = free_port()
    tmp_path.mkdir(parents=True, exist_ok=True)
    log = tmp_path / "radicale.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "radicale", "--config", "",
             "--server-hosts", f"127.0.0.1:{port}", "--auth-type", "none",
             "--rights-type", "owner_only", "--web-type", "none",
             "--storage-filesystem-folder", str(tmp_path / "collections"),
             "--logging-level", "warning"],
            stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, "XDG_CONFIG_HOME": str(tmp_path)},
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 20
            while True:
                assert process.poll() is None, log.read_text()
                try:
                    httpx.request("OPTIONS", f"{base}/", timeout=1)
                    break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, f"Radicale did not come up: {log.read_text()}"
                time.sleep(0.1)
            yield Radicale(base)
        finally:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=5)


class Radicales:
    """Radicale servers started on demand: a feed goes to a running one that has seen no
    other VTIMEZONE of its TZIDs (see :class:`Radicale`), else to a new one."""

    def __init__(self, tmp_path: Path, stack: ExitStack) -> None:
        self._tmp_path, self._stack = tmp_path, stack
        self.servers: list[Radicale] = []

    def for_feed(self, ics: bytes) -> Radicale:
        """Return a server that reads ``ics`` with its own VTIMEZONEs."""
        for server in self.servers:
            if server.can_read(ics):
                return server
        folder = self._tmp_path / f"radicale-{len(self.servers)}"
        self.servers.append(self._stack.enter_context(radicale(folder)))
        return self.servers[-1]


@contextmanager
def radicales(tmp_path: Path) -> Iterator[Radicales]:
    """Start Radicale servers as needed (:class:`Radicales`); stop them all at the end."""
    require_radicale()
    with ExitStack() as stack:
        yield Radicales(tmp_path, stack)


def radicale_finds(
    ics: bytes, checks: Mapping[str, _dt.datetime], servers: Radicales
) -> dict[str, Found]:
    """Ask Radicale where it finds each item of ``checks`` (UID: true start) in ``ics``.

    ``servers`` (:func:`radicales`, one per test module) gives a Radicale that has seen
    no other VTIMEZONE of the feed's TZIDs.
    """
    require_radicale()
    return servers.for_feed(ics).finds(ics, checks)
