"""Calendar feeds: the alliance's meetings and deadlines as iCalendar, per audience.

>>> from alliance_events.ical import Audience, FeedRenderer
>>> from alliance_events.projections.alliance import AllianceState
>>> import pendulum
>>> feed = FeedRenderer().render(AllianceState(), Audience.public(),
...                              now=pendulum.datetime(2023, 6, 5, tz="UTC"))
>>> feed.body.splitlines()[:3]
[b'BEGIN:VCALENDAR', b'VERSION:2.0', b'PRODID:-//alliance-events//Alliance calendar//EN']
>>> feed.item_count
0

The rules the feeds follow, and why, are in ``docs/explanation/calendar-rules.md``; the
code cites them as "calendar rule N".
"""

from __future__ import annotations

from alliance_events.ical._audience import Audience, AudienceKind
from alliance_events.ical._feed import DEFAULT_NAME, PRODID, Feed, FeedRenderer
from alliance_events.ical._invitation import item_invitation
from alliance_events.ical._items import (
    ALLIANCE_NAMESPACE,
    deadline_uid,
    deadline_visible,
    meeting_uid,
)
from alliance_events.ical._links import FeedLinks, subscribe_links
from alliance_events.ical._text import clean_text

__all__ = [
    "ALLIANCE_NAMESPACE",
    "DEFAULT_NAME",
    "PRODID",
    "Audience",
    "AudienceKind",
    "Feed",
    "FeedLinks",
    "FeedRenderer",
    "clean_text",
    "deadline_uid",
    "deadline_visible",
    "item_invitation",
    "meeting_uid",
    "subscribe_links",
]
