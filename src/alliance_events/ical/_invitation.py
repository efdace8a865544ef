"""One meeting or deadline as an iCalendar object of its own, for an e-mail's attachment.

``METHOD:PUBLISH`` and the same UID, SEQUENCE and VEVENT as in the audience's feed, so a
mail client that adds it to a calendar adds the item once, and updates it in place when a
later message attaches it again (RFC 5546: a PUBLISH with a higher SEQUENCE replaces).
The VTIMEZONEs are the feeds' own (1970 to 2037 at least, calendar rule 9).
"""

from __future__ import annotations

import datetime as _dt
import uuid
from typing import Final

from icalendar import Calendar

from alliance_events.ical._audience import Audience
from alliance_events.ical._feed import PRODID, _ranges, _timezone, _zones
from alliance_events.ical._items import deadline_item, meeting_item, plan_deadline, plan_meeting
from alliance_events.ical._write import to_vevent
from alliance_events.projections.alliance import AllianceState

__all__ = ["item_invitation"]

_NOTICE: Final = _dt.timedelta(days=30)  # the feeds' default: a move is told for 30 days


def item_invitation(
    state: AllianceState, item_id: uuid.UUID, audience: Audience, *, now: _dt.datetime
) -> bytes | None:
    """Return the meeting or deadline ``item_id`` as ``audience`` sees it, or ``None``.

    ``None``: no such item, or not one ``audience`` sees (another organisation's deadline).
    """
    if now.utcoffset() is None:
        raise ValueError(f"now must be an aware date-time, got {now!r}")
    today = now.astimezone(_dt.UTC).date()
    meeting = state.meetings.get(item_id)
    if meeting is not None and meeting.exists:
        plan = plan_meeting(state, meeting, audience, today=today, notice=_NOTICE)
        data = meeting_item(state, meeting, audience, plan)
    else:
        deadline = next((d for d in state.all_deadlines() if d.deadline_id == item_id), None)
        deadline_plan = None if deadline is None else plan_deadline(state, deadline, audience)
        if deadline is None or deadline_plan is None:
            return None
        data = deadline_item(state, deadline, audience, deadline_plan, alarms=False)
    cal = Calendar.new(prodid=PRODID)
    cal.pop("UID")  # as in the feeds (calendar rule 4)
    cal.add("METHOD", "PUBLISH")
    for tzid, (first, last) in sorted(_ranges(_zones(data)).items()):
        cal.add_component(_timezone(tzid, first, last))
    cal.add_component(to_vevent(data))
    return bytes(cal.to_ical())
