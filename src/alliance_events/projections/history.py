"""The audit trail of a meeting in plain words: who did what, when."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
import pendulum

from alliance_events.domain import deadlines as dl
from alliance_events.domain import directory as dr
from alliance_events.domain import meetings as mt
from alliance_events.domain import outbox as ob
from alliance_events.domain import settings as st
from alliance_events.domain.deadlines import DueAt, DueBy
from alliance_events.events import Event, OpaqueEvent
from alliance_events.log.base import Recorded
from alliance_events.projections.alliance import AllianceState
from alliance_events.timing import describe_moment, describe_when

__all__ = ["HistoryEntry", "describe", "history_entry"]


@attrs.frozen(kw_only=True)
class HistoryEntry:
    """One line of a meeting's history.

    ``effective_at`` is when the decision took effect, ``recorded_at`` when the log
    stored it (the same, but for the minutes written up later: ``at=``).
    """

    position: int
    recorded_at: pendulum.DateTime
    actor: str
    type: str
    text: str
    effective_at: pendulum.DateTime

    @property
    def backdated(self) -> bool:
        """Whether it was recorded after it took effect (``at=``)."""
        return self.effective_at < self.recorded_at

    @property
    def when(self) -> str:
        """Both times in words: "decided 22 Mar 2023, recorded 24 Mar 2023 by Anna"."""
        decided = describe_moment(self.effective_at)
        recorded = self.recorded_at.in_timezone("UTC").strftime("%d %b %Y %H:%M UTC")
        if not self.backdated:
            return f"{recorded} by {self.actor}"
        return f"decided {decided}, recorded {recorded} by {self.actor}"


def _due(due: dl.Due) -> str:
    if isinstance(due, DueBy):
        return f"by {due.day.strftime('%d %b %Y')} ({due.zone})"
    assert isinstance(due, DueAt)  # noqa: S101 - Due is DueAt or DueBy
    return f"at {describe_moment(due.at)}"


def _reason(reason: str) -> str:
    return f" ({reason})" if reason else ""


_Describer = Callable[[Any, AllianceState], str]
_TEXTS: dict[type[Event], _Describer] = {
    mt.MeetingScheduled: lambda e, _: (
        f"{'tentatively ' if e.tentative else ''}scheduled {e.kind.value} {e.title!r}, "
        f"{describe_when(e.when)}" + (f", at {e.location}" if e.location else "")
    ),
    mt.MeetingRescheduled: lambda e, _: f"moved it to {describe_when(e.when)}{_reason(e.reason)}",
    mt.MeetingDetailsChanged: lambda e, _: "changed "
    + ", ".join(
        f"{name} to {getattr(e, name)!r}"
        for name in ("title", "location", "online_url", "organiser", "description")
        if getattr(e, name) is not None
    ),
    mt.MeetingConfirmed: lambda e, _: "confirmed it",
    mt.MeetingCancelled: lambda e, _: f"cancelled it{_reason(e.reason)}",
    mt.MeetingReinstated: lambda e, _: f"took back its cancellation{_reason(e.reason)}",
    mt.LinkAttached: lambda e, _: f"attached the {e.link.kind.value} {e.link.url}",
    mt.AttendanceRecorded: lambda e, s: "recorded as present: "
    + ", ".join(
        s.person_name(a.person_id) + (f" ({a.capacity})" if a.capacity else "")
        for a in e.attendees
    ),
    mt.RegistrationOpened: lambda e, _: (
        f"opened registration from {describe_moment(e.opens_at)} to {describe_moment(e.closes_at)}"
        + (f", {e.capacity} seats" if e.capacity is not None else "")
        + "".join(f", {q.limit} {q.role.value} per delegation" for q in e.quotas)
        + (f", {e.funded_places} funded places" if e.funded_places is not None else "")
    ),
    mt.RegistrationClosed: lambda e, _: f"closed registration{_reason(e.reason)}",
    mt.RegistrationReopened: lambda e, _: (
        f"reopened registration until {describe_moment(e.closes_at)}"
    ),
    mt.RegistrationWindowChanged: lambda e, _: (
        "moved the registration window to "
        f"{describe_moment(e.opens_at)} - {describe_moment(e.closes_at)}"
    ),
    mt.CapacityChanged: lambda e, _: f"changed the capacity to {e.capacity}",
    mt.QuotaChanged: lambda e, _: "changed the quotas to "
    + (", ".join(f"{q.limit} {q.role.value}" for q in e.quotas) or "none"),
    mt.DelegateNominated: lambda e, s: (
        f"{s.organisation_name(e.organisation_id)} nominated {s.person_name(e.person_id)} "
        f"as {e.role.value}" + (" (funding requested)" if e.funding_requested else "")
        + (": over capacity, on the waiting list" if e.waitlisted else "")
    ),
    mt.NominationPromoted: lambda e, s: f"gave a seat to {_nominee(s, e)} from the waiting list",
    mt.NominationWaitlisted: lambda e, s: f"moved {_nominee(s, e)} to the waiting list",
    mt.NominationWithdrawn: lambda e, s: f"withdrew {_nominee(s, e)}{_reason(e.reason)}",
    mt.NominationConfirmed: lambda e, s: (
        f"confirmed {_nominee(s, e)}" + (", funded" if e.funded else "")
    ),
    mt.NominationDeclined: lambda e, s: f"declined {_nominee(s, e)}{_reason(e.reason)}",
    mt.SpeakingRequested: lambda e, s: (
        f"{s.organisation_name(e.organisation_id)} asked to speak on "
        f"{e.day.strftime('%d %b %Y')}" + (f" on {e.topic!r}" if e.topic else "")
    ),
    dl.DeadlineSet: lambda e, _: f"set the deadline {e.title!r} {_due(e.due)}",
    dl.DeadlineExtended: lambda e, s: (
        f"extended the deadline {_deadline_title(s, e)}: now due {_due(e.due)}{_reason(e.reason)}"
    ),
    dl.DeadlineCancelled: lambda e, s: (
        f"cancelled the deadline {_deadline_title(s, e)}{_reason(e.reason)}"
    ),
    dl.DeadlineReminderSent: lambda e, s: (
        f"sent a reminder of the deadline {_deadline_title(s, e)} by {e.channel}"
    ),
    # The directory's events: their changed fields are named, their personal values not.
    dr.OrganisationRegistered: lambda e, _: (
        f"registered the {'member ' if e.member else ''}organisation {e.name!r}"
        + (f" ({e.acronym})" if e.acronym else "")
    ),
    dr.PersonRegistered: lambda e, s: f"registered {s.person_name(e.person_id)}"
    + (f" of {s.organisation_name(e.organisation_id)}" if e.organisation_id else ""),
    dr.PersonDetailsChanged: lambda e, s: (
        f"changed the {_changed_fields(e)} of {s.person_name(e.person_id)}"
    ),
    dr.FeedTokenIssued: lambda e, s: (
        f"issued a private feed address to {s.organisation_name(e.organisation_id)}"
        + (f" ({e.label})" if e.label else "")
    ),
    dr.FeedTokenRevoked: lambda e, s: (
        f"revoked a private feed address of {s.organisation_name(e.organisation_id)}"
        f"{_reason(e.reason)}"
    ),
    dr.FocalPointAppointed: lambda e, s: (
        f"named {s.person_name(e.person_id)} the focal point of "
        f"{s.organisation_name(e.organisation_id)}" if e.person_id is not None
        else f"left {s.organisation_name(e.organisation_id)} without a focal point"
    ),
    dr.PersonForgotten: lambda e, _: (
        f"forgot a person: their name and e-mail are erased{_reason(e.reason)}"
    ),
    st.FeedAddressSet: lambda e, _: f"set the feed address to {e.base_url}",
    # The outbox's e-mails.
    ob.NotifierStarted: lambda e, _: (
        f"started the e-mail outbox after position {e.from_position} "
        f"({describe_moment(e.from_time)})"
    ),
    ob.MessageQueued: lambda e, s: (
        f"decided to write to {s.organisation_name(e.organisation_id)}: {e.subject!r}"
    ),
    ob.MessageSkipped: lambda e, s: (
        f"did not write to {s.organisation_name(e.organisation_id)} ({e.subject!r}): {e.reason}"
    ),
    ob.SendFailed: lambda e, _: (
        f"could not send an e-mail (attempt {e.attempt}"
        + (", refused for good" if e.permanent else "") + f"): {e.error}"
    ),
    ob.MessageSent: lambda e, _: f"sent an e-mail (attempt {e.attempt})",
    dr.OfficerAppointed: lambda e, s: (
        f"appointed {s.person_name(e.person_id)} {e.role.value} of {e.body} from "
        f"{e.since.strftime('%d %b %Y')}"
        + (f", replacing {s.person_name(e.replaces)}" if e.replaces is not None else "")
    ),
}


def _changed_fields(event: dr.PersonDetailsChanged) -> str:
    labels = {"name": "name", "email": "e-mail", "organisation_id": "organisation"}
    changed = [label for name, label in labels.items() if getattr(event, name) is not None]
    return " and ".join(changed) or "details"


def _nominee(state: AllianceState, event: Any) -> str:
    meeting = state.meetings.get(event.meeting_id)
    nomination = None if meeting is None else meeting.nomination(event.nomination_id)
    if nomination is None:
        return f"nomination {event.nomination_id}"
    return (
        f"{state.person_name(nomination.person_id)} "
        f"({state.organisation_name(nomination.organisation_id)}, {nomination.role.value})"
    )


def _deadline_title(state: AllianceState, event: Any) -> str:
    for deadline in state.all_deadlines():
        if deadline.deadline_id == event.deadline_id:
            return repr(deadline.title)
    return str(event.deadline_id)


def describe(event: Event, state: AllianceState) -> str:
    """Say what ``event`` means, naming people and organisations from ``state``.

    Another tool's event (opaque or not) is named by its type name.
    """
    describer = _TEXTS.get(type(event))
    if describer is None:
        if isinstance(event, OpaqueEvent):
            name = event.type_name
        else:
            name = type(event).__dict__.get("__event_type__", type(event).__name__)
        return f"an event of another tool: {name}"
    return describer(event, state)


def history_entry(record: Recorded, state: AllianceState) -> HistoryEntry:
    """Make a history line of ``record`` (``state``: names to use)."""
    actor = str(record.metadata.get("actor") or "someone")
    return HistoryEntry(
        position=record.position,
        recorded_at=record.recorded_at,
        actor=actor,
        type=record.type,
        text=describe(record.event, state),
        effective_at=record.effective_at,
    )
