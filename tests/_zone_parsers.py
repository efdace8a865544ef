"""Child process for tests/test_ical_vtimezone.py: the offsets icalendar or vobject read.

Run from the repository's root::

    python -m tests._zone_parsers icalendar < request.json
    python -m tests._zone_parsers vobject < request.json

stdin: JSON ``{"ics": "<VCALENDAR holding VTIMEZONEs>", "walls": [[zone, year, month,
day, hour, minute, second, fold], ...]}``, ``zone`` the index of a VTIMEZONE in the
calendar. stdout: JSON ``{"tzids": [...], "offsets": [...]}``: the TZIDs read, in order,
and for each wall time the UTC offset in seconds that the parser's zone gives it (with
its PEP 495 ``fold``), or null when the zone raises.

icalendar: ``Calendar.from_ical``, then each VTIMEZONE's ``to_tz(lookup_tzid=False)``
(built from the component, not looked up by TZID). vobject: ``readOne``, then each
VTIMEZONE's ``gettzinfo()``, as Radicale reads them. Both zones are dateutil ``tzical``
zones. The parsers run in a child process, not in pytest's, because under coverage's
tracer their code (not ours to measure) runs about three times slower.
"""

from __future__ import annotations

import datetime as _dt
import json
import sys

import icalendar
import vobject


def zones(parser: str, ics: str) -> tuple[list[str], list[_dt.tzinfo]]:
    """Each VTIMEZONE of ``ics`` as ``parser`` reads it: TZIDs and zones, in order."""
    if parser == "icalendar":
        calendar = icalendar.Calendar.from_ical(ics)
        return (
            [tz.tz_name for tz in calendar.timezones],
            [tz.to_tz(lookup_tzid=False) for tz in calendar.timezones],
        )
    if parser == "vobject":
        components = vobject.readOne(ics).vtimezone_list
        return [c.tzid.value for c in components], [c.gettzinfo() for c in components]
    raise SystemExit(f"unknown parser {parser!r}")


def main(argv: list[str]) -> int:
    request = json.load(sys.stdin)
    tzids, found = zones(argv[1], request["ics"])
    offsets: list[float | None] = []
    for index, year, month, day, hour, minute, second, fold in request["walls"]:
        wall = _dt.datetime(year, month, day, hour, minute, second, tzinfo=found[index])
        try:
            offset = wall.replace(fold=fold).utcoffset()
        except (ValueError, OverflowError):
            offsets.append(None)
        else:
            offsets.append(None if offset is None else offset.total_seconds())
    json.dump({"tzids": tzids, "offsets": offsets}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
