r"""A VEVENT's content, and two ways to write it: through icalendar, and our own, faster.

Building a VEVENT through ``icalendar`` and serialising it costs about 0.45 ms (the
generic component, property and parameter objects, and a fold that measures every
character), so a cold render of a 10,000-meeting feed took 7 s. The feeds write only
VEVENTs of one fixed shape (:class:`VEventData`), so :func:`write_vevent` writes that
shape directly, about 20 times faster, and :func:`to_vevent` builds the same VEVENT
through icalendar. They give the same bytes: a differential property test
(``tests/test_ical_write.py``) compares them on arbitrary text in every field, every
IANA zone, dates, times and alarms, and :meth:`FeedRenderer.calendar
<alliance_events.ical.FeedRenderer.calendar>`, built through icalendar, is compared
with every rendered feed. What the writer copies from icalendar, exactly:

* the property order: SUMMARY, DTSTART, DTEND, DTSTAMP, UID, SEQUENCE (icalendar's
  canonical order), then the rest by name, then the VALARMs;
* TEXT escaping (``\\ ; ,`` and CR, LF, CRLF as ``\n``), except icalendar's first step,
  which reads the two characters ``\N`` in a text as a line break ("C:\Nodes" became
  "C:" and "odes" on two lines): both ways here escape the backslash, so every text
  arrives intact (:class:`Text` is the value type that does it through icalendar);
* the fold: segments of at most 74 octets, cut between characters, never right after
  a ``\`` or ``^`` (which moves to the next segment), joined by CRLF and a space;
* date-times: ``TZID=<the zone's id>`` and the wall time, or ``Z`` in UTC, seconds
  kept and microseconds dropped; dates as ``VALUE=DATE``; TRIGGER durations as
  ``vDuration`` writes them (its own code is called: alarms are rare).
"""

from __future__ import annotations

import datetime as _dt
from typing import Final, NamedTuple

import pendulum
from icalendar import Alarm, vDuration, vText
from icalendar import Event as VEvent
from icalendar.timezone.tzid import tzid_from_dt

__all__ = [
    "Text",
    "VEventData",
    "escape_text",
    "fold",
    "to_vevent",
    "tzid_of",
    "write_vevent",
]

_LIMIT: Final = 74  # octets per segment: icalendar folds before a 75th
_TOP_BITS: Final = 0xC0
_CONTINUATION: Final = 0x80  # 10xxxxxx: a UTF-8 byte inside a character
# %-formatting a tuple is twice as fast as an f-string with format specifications; the
# date and the time each as one number (%08d of yyyymmdd is %04d%02d%02d, for the years
# 1-9999 a datetime holds), a quarter faster again than six fields:
_DATE: Final = "%s;VALUE=DATE:%08d"
_DATE_TIME: Final = "%s%s%08dT%06d%s"
_UTC: Final = "%08dT%06dZ"
_PENDULUM_UTC: Final = pendulum.UTC


class VEventData(NamedTuple):
    """Everything a feed's VEVENT says, in the values it writes.

    ``start``/``end`` are dates (all day, ``end`` exclusive) or aware date-times in a
    named zone or UTC; ``stamp`` (DTSTAMP and LAST-MODIFIED) and ``created`` are in UTC.
    Text fields are already cleaned (:func:`~alliance_events.ical._text.clean_text`);
    ``None`` leaves the property out. ``alarms`` are (description, trigger) pairs.
    A named tuple: immutable, and made in 0.9 µs where a frozen attrs class took 2.7
    (a full render makes one per item).
    """

    uid: str
    stamp: _dt.datetime
    created: _dt.datetime
    start: _dt.date
    end: _dt.date
    summary: str
    status: str
    sequence: int
    transparent: bool
    description: str | None = None
    location: str | None = None
    url: str | None = None
    related_to: str | None = None
    alarms: tuple[tuple[str, _dt.timedelta], ...] = ()


class Text(vText):
    r"""icalendar's TEXT value, escaped so that ``\N`` in a text stays two characters."""

    def to_ical(self) -> bytes:
        return escape_text(str(self)).encode()


def escape_text(text: str) -> str:
    r"""Escape a TEXT value (RFC 5545, 3.3.11): ``\ ; ,`` and every newline as ``\n``.

    >>> escape_text("Room C3; VIC, Vienna\r\nC:\\Nodes")
    'Room C3\\; VIC\\, Vienna\\nC:\\\\Nodes'
    """
    # One ``in`` per character to escape (a C search: ~0.2 µs for a 150-character text,
    # against 2.5 µs for asking a set about every character), and a replace only for
    # those present. No replacement brings in a character a later one looks for, so
    # their order is icalendar's but for CR and LF, which are independent of each other.
    if "\\" in text:
        text = text.replace("\\", "\\\\")
    if ";" in text:
        text = text.replace(";", "\\;")
    if "," in text:
        text = text.replace(",", "\\,")
    if "\r" in text:
        text = text.replace("\r\n", "\\n").replace("\r", "\\n")
    if "\n" in text:
        text = text.replace("\n", "\\n")
    return text


def fold(line: str) -> str:
    r"""Fold a content line as icalendar does: at most 74 octets, then CRLF and a space.

    A cut never splits a UTF-8 sequence, nor follows a ``\`` or ``^`` (an escape's
    first character moves to the next segment).

    >>> fold("DESCRIPTION:" + "x" * 62 + "\\;y")
    'DESCRIPTION:xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n \\;y'
    """
    if len(line) <= _LIMIT and line.isascii():
        return line
    if line.isascii():
        return _fold_ascii(line)
    data = line.encode()
    if len(data) <= _LIMIT:
        return line
    return _fold_utf8(data)


def _fold_ascii(line: str) -> str:
    segments = []
    start, size = 0, len(line)
    while size - start > _LIMIT:
        cut = start + _LIMIT
        if line[cut - 1] in "\\^":
            cut -= 1
        segments.append(line[start:cut])
        start = cut
    segments.append(line[start:])
    return "\r\n ".join(segments)


def _fold_utf8(data: bytes) -> str:
    segments = []
    start, size = 0, len(data)
    while size - start > _LIMIT:
        cut = start + _LIMIT
        while data[cut] & _TOP_BITS == _CONTINUATION:  # inside a character: cut before it
            cut -= 1
        if data[cut - 1] in b"\\^":
            cut -= 1
        segments.append(data[start:cut].decode())
        start = cut
    segments.append(data[start:].decode())
    return "\r\n ".join(segments)


_TZIDS: dict[object, tuple[str, str]] = {}  # zone key: TZID, what follows the name


def _zone(moment: _dt.datetime) -> tuple[str, str]:
    zone = moment.tzinfo
    key = getattr(zone, "key", zone)
    found = _TZIDS.get(key)
    if found is None:
        tzid = tzid_from_dt(moment) or "UTC"
        found = _TZIDS[key] = (tzid, ":" if tzid == "UTC" else f";TZID={_param(tzid)}:")
    return found


def tzid_of(moment: _dt.datetime) -> str:
    """Return the TZID icalendar writes for ``moment``'s zone (``"UTC"``: written with Z)."""
    return _zone(moment)[0]


_DATES_KEPT: Final = 50_000
_DATE_LINES: dict[tuple[str, _dt.date], str] = {}  # ("DTSTART", day): its content line


def _when(name: str, value: _dt.date) -> str:
    if not isinstance(value, _dt.datetime):
        # items share their days (deadlines, all-day meetings): each line formatted once
        key = (name, value)
        line = _DATE_LINES.get(key)
        if line is None:
            if len(_DATE_LINES) >= _DATES_KEPT:
                _DATE_LINES.clear()
            line = _DATE_LINES[key] = _DATE % (
                name, value.year * 10000 + value.month * 100 + value.day)
        return line
    zone = value.tzinfo
    found = _TZIDS.get(getattr(zone, "key", zone))  # _zone's look-up, without the call
    tzid, params = _zone(value) if found is None else found
    line = _DATE_TIME % (name, params, value.year * 10000 + value.month * 100 + value.day,
                         value.hour * 10000 + value.minute * 100 + value.second,
                         "Z" if tzid == "UTC" else "")
    return line if len(line) <= _LIMIT and line.isascii() else fold(line)


def _param(value: str) -> str:
    value = value.replace('"', "'")
    if any(c in value for c in ",;:\u2019"):
        return f'"{value}"'
    return value


def _utc(value: _dt.datetime) -> str:
    zone = value.tzinfo
    if zone is not _PENDULUM_UTC and zone is not _dt.UTC and value.utcoffset():
        value = value.astimezone(_dt.UTC)
    return _UTC % (value.year * 10000 + value.month * 100 + value.day,
                   value.hour * 10000 + value.minute * 100 + value.second)


_TRIGGERS: dict[_dt.timedelta, str] = {}


def _trigger(before: _dt.timedelta) -> str:
    trigger = _TRIGGERS.get(before)
    if trigger is None:
        trigger = _TRIGGERS[before] = vDuration(before).to_ical().decode()  # type: ignore[no-untyped-call]
    return trigger


def _text_line(name: str, text: str | None) -> str:
    """Return a TEXT property's content line and its CRLF ("" if ``text`` is None)."""
    if text is None:
        return ""
    line = name + escape_text(text)
    if len(line) > _LIMIT or not line.isascii():  # fold's own first test, without a call
        line = fold(line)
    return line + "\r\n"


_LINES_KEPT: Final = 100_000


class _Lines(dict[str, str]):
    """One property's content lines (with their CRLF) by their texts, each written once.

    For the values that items share: the parents' UIDs in RELATED-TO (the same few
    parents for many sessions and deadlines) and the locations (a handful of rooms).
    At most :data:`_LINES_KEPT`; then it starts again.
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name

    def __missing__(self, text: str) -> str:
        if len(self) >= _LINES_KEPT:
            self.clear()
        line = self[text] = _text_line(self.name, text)
        return line


_LOCATION_LINES: Final = _Lines("LOCATION:")
_PARENT_LINES: Final = _Lines("RELATED-TO;RELTYPE=PARENT:")


def write_vevent(data: VEventData) -> bytes:
    """Write ``data`` as one VEVENT: the bytes ``to_vevent(data).to_ical()`` gives."""
    (uid, stamp, created, start, end, summary, status, sequence, transparent,
     description, location, url, related_to, alarms) = data
    stamp_text = _utc(stamp)
    # SUMMARY's and DESCRIPTION's lines, as _text_line writes them, without the calls
    line = "SUMMARY:" + escape_text(summary)
    if len(line) > _LIMIT or not line.isascii():
        line = fold(line)
    if description is None:
        described = ""
    else:
        described = "DESCRIPTION:" + escape_text(description)
        if len(described) > _LIMIT or not described.isascii():
            described = fold(described)
        described += "\r\n"
    tail = "TRANSP:TRANSPARENT\r\n" if transparent else "TRANSP:OPAQUE\r\n"
    if url is not None:
        tail += fold("URL:" + url) + "\r\n"
    if alarms:
        tail += "".join(
            "BEGIN:VALARM\r\nACTION:DISPLAY\r\n"
            f"{_text_line('DESCRIPTION:', text)}TRIGGER:{_trigger(trigger)}\r\nEND:VALARM\r\n"
            for text, trigger in alarms
        )
    return (  # in icalendar's order (the module's docstring)
        f"BEGIN:VEVENT\r\n{line}\r\n"
        f"{_when('DTSTART', start)}\r\n"
        f"{_when('DTEND', end)}\r\n"
        f"DTSTAMP:{stamp_text}\r\n"
        f"{_text_line('UID:', uid)}"
        f"SEQUENCE:{sequence}\r\n"
        f"CREATED:{stamp_text if created is stamp else _utc(created)}\r\n"
        f"{described}"
        f"LAST-MODIFIED:{stamp_text}\r\n"
        f"{'' if location is None else _LOCATION_LINES[location]}"
        f"{'' if related_to is None else _PARENT_LINES[related_to]}"
        f"STATUS:{status}\r\n"
        f"{tail}"
        "END:VEVENT\r\n"
    ).encode()


def to_vevent(data: VEventData) -> VEvent:
    """Build ``data`` as an icalendar VEVENT (the reference :func:`write_vevent` matches)."""
    event = VEvent.new(
        uid=data.uid,
        stamp=data.stamp,
        last_modified=data.stamp,
        created=data.created,
        start=data.start,
        end=data.end,
        status=data.status,  # type: ignore[arg-type] # TENTATIVE, CONFIRMED, CANCELLED
        sequence=data.sequence,
        transparency="TRANSPARENT" if data.transparent else "OPAQUE",  # type: ignore[arg-type]
        url=data.url,
    )
    event.add("SUMMARY", Text(data.summary))
    event.pop("UID")
    event.add("UID", Text(data.uid))
    for name, text in (("DESCRIPTION", data.description), ("LOCATION", data.location)):
        if text is not None:
            event.add(name, Text(text))
    if data.related_to is not None:
        event.add("RELATED-TO", Text(data.related_to), parameters={"RELTYPE": "PARENT"})
    for description, trigger in data.alarms:
        alarm = Alarm()
        alarm.add("ACTION", "DISPLAY")
        alarm.add("DESCRIPTION", Text(description))
        alarm.add("TRIGGER", trigger)
        event.add_component(alarm)
    return event
