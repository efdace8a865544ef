"""E-mail that people hear deadlines and urgent changes by: the reminder outbox.

Subscribed calendars ignore alarms and refresh every few hours, so the alliance writes
to its members' focal points: each deadline's reminders to the organisations that still
owe what it asks, a meeting cancelled or moved at short notice to those concerned, a
nomination's news to the nominee. The decision to send is recorded before the sending,
and the sending after it (:mod:`alliance_events.domain.outbox`), so a crash never loses a
message and never sends two different ones; the outbox starts from now, so a rebuild or
a first start on an old log sends nothing of the past.

>>> from alliance_events import Alliance
>>> from alliance_events.notify import NotifySettings, Notifier
>>> from alliance_events.testing import FixedClock
>>> sent = []
>>> class Outbox:
...     def send(self, email):
...         sent.append(email)
>>> import pendulum
>>> clock = FixedClock(pendulum.parse("2027-04-20T09:00:00+02:00"))
>>> alliance = Alliance.open("memory:", clock=clock)
>>> ngo = alliance.register_organisation(name="Vienna NGO")
>>> contact = alliance.register_person(name="Ada", email="ada@ngo.example", organisation=ngo)
>>> alliance.appoint_focal_point(ngo, contact)
>>> worker = Notifier(alliance, Outbox(), NotifySettings(sender="alliance@example.org"))
>>> deadline = alliance.set_deadline(title="Names of participants", due="2027-05-01",
...                                  reminders=["P7D"])
>>> clock.set(pendulum.parse("2027-04-25T00:00:00+02:00"))  # 7 days before 1 May ends, Vienna
>>> report = worker.run_once()
>>> (report.queued, report.sent), sent[0]["To"], sent[0]["Subject"]
((1, 1), 'Ada <ada@ngo.example>', 'Reminder: Names of participants, due by 1 May 2027')
>>> worker.run_once().sent  # sent once
0
>>> worker.close()
"""

from __future__ import annotations

from alliance_events.notify._compose import compose, message_id_header
from alliance_events.notify._plan import Planned, focal_point, for_record, owing, reminders
from alliance_events.notify._worker import (
    CONSUMER,
    Notifier,
    NotifySettings,
    PassReport,
    Preview,
    Sender,
    outbox_state,
    preview,
)

__all__ = [
    "CONSUMER",
    "Notifier",
    "NotifySettings",
    "PassReport",
    "Planned",
    "Preview",
    "Sender",
    "compose",
    "focal_point",
    "for_record",
    "message_id_header",
    "outbox_state",
    "owing",
    "preview",
    "reminders",
]
