"""Read an iCalendar document on stdin with libical (Evolution, GNOME); print its VEVENTs.

Run by Debian's own ``/usr/bin/python3`` (the GObject bindings, ``python3-gi`` and
``gir1.2-ical-3.0``, import only there), from ``tests/clients.py``. Prints one JSON
object: ``events``, a list with each VEVENT's uid, summary, status, and start and end,
each ``{"date": "YYYY-MM-DD"}`` for a date, ``{"utc": ISO}`` for a date-time (converted
with the zone that libical attached while parsing the calendar), or ``{"floating": ...}``
for a local time without a zone; ``timezones``, the TZIDs of the document's VTIMEZONEs;
and ``errors``, the parse errors libical recorded (its X-LIC-ERROR properties).

Each date-time in a zone also tells where libical's zone came from (``zone``: ``"file"``
for a VTIMEZONE of the document, ``"builtin"`` for libical's own zone database) and the
same wall time read with the builtin zone of that name (``builtin_utc``, null if
libical has no zone of that name): the feed's VTIMEZONE and the zone database agree
exactly when both readings do. Exits 1, with a message on stderr, if parsing fails.
"""

from __future__ import annotations

import datetime as _dt
import json
import sys


def bindings():
    """Import libical's GObject bindings (here, not at the top: pytest imports this file
    for its doctests under the venv's Python, where they do not exist)."""
    import gi

    gi.require_version("ICalGLib", "3.0")
    from gi.repository import ICalGLib

    return ICalGLib


def components(parent, kind):
    """Yield the direct subcomponents of ``parent`` of ``kind``."""
    child = parent.get_first_component(kind)
    while child is not None:
        yield child
        child = parent.get_next_component(kind)


def iso(timestamp):
    return _dt.datetime.fromtimestamp(timestamp, _dt.UTC).isoformat()


def moment(lib, time, file_zones):
    """The JSON of one DTSTART/DTEND value, as libical reads it in the calendar."""
    if time is None or time.is_null_time():
        return None
    if time.is_date():
        return {"date": f"{time.get_year():04d}-{time.get_month():02d}-{time.get_day():02d}"}
    if time.is_utc():
        return {"utc": iso(time.as_timet()), "zone": "utc"}
    zone = time.get_timezone()
    if zone is None:
        return {"floating": time.as_ical_string()}
    tzid = zone.get_tzid()
    source = "file" if tzid in file_zones else "builtin"
    builtin = lib.Timezone.get_builtin_timezone(zone.get_location() or tzid)
    return {
        "utc": iso(time.as_timet_with_zone(zone)),
        "zone": source,
        "tzid": tzid,
        "builtin_utc": None if builtin is None else iso(time.as_timet_with_zone(builtin)),
    }


def text(component, kind):
    prop = component.get_first_property(kind)
    return None if prop is None else prop.get_value_as_string()


def errors(lib, component):
    """The parse errors libical noted in ``component`` and below (X-LIC-ERROR)."""
    kind = lib.PropertyKind.XLICERROR_PROPERTY
    found = []
    prop = component.get_first_property(kind)
    while prop is not None:
        found.append(prop.get_value_as_string())
        prop = component.get_next_property(kind)
    for child in components(component, lib.ComponentKind.ANY_COMPONENT):
        found.extend(errors(lib, child))
    return found


def main():
    lib = bindings()
    Kind = lib.ComponentKind
    Prop = lib.PropertyKind
    document = sys.stdin.buffer.read().decode("utf-8")
    root = lib.Component.new_from_string(document)
    if root is None or root.isa() != Kind.VCALENDAR_COMPONENT:
        sys.stderr.write("libical could not parse the document as a VCALENDAR\n")
        return 1
    file_zones = {text(tz, Prop.TZID_PROPERTY)
                  for tz in components(root, Kind.VTIMEZONE_COMPONENT)}
    # get_dtstart/get_dtend attach the zone found for the TZID: libical looks in the
    # VCALENDAR's VTIMEZONEs first, and in its builtin zones only after.
    events = [
        {
            "uid": vevent.get_uid(),
            "summary": vevent.get_summary(),
            "status": text(vevent, Prop.STATUS_PROPERTY),
            "start": moment(lib, vevent.get_dtstart(), file_zones),
            "end": moment(lib, vevent.get_dtend(), file_zones),
        }
        for vevent in components(root, Kind.VEVENT_COMPONENT)
    ]
    sys.stdout.write(json.dumps({
        "events": events,
        "timezones": sorted(z for z in file_zones if z),
        "errors": errors(lib, root),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
