"""A short story that records at least one event of every library type.

For the tests of other tools' events in the same log (``tests/test_other_tools.py``) and
of the library's explicit list of types (``tests/test_domain_catalog.py``). The clock is
fixed and ids are sequential, so two logs given the same story hold the same library
events at the same times (whatever other tools append between its two halves).
"""

from __future__ import annotations

import uuid
from typing import Final

import attrs
import pendulum

from alliance_events import ANY, Alliance, DeliveryError, Notifier, NotifySettings
from alliance_events.domain.directory import PersonDetailsChanged, person_stream
from alliance_events.testing import FixedClock, SequentialIds

__all__ = ["STORY_START", "Story", "first_half", "open_story", "record_story", "second_half"]

STORY_START: Final = pendulum.datetime(2023, 3, 21, 9, tz="Europe/Vienna")
DIALOGUE: Final = "Constructive Dialogue on Firearms"


@attrs.define
class Story:
    """The ids of what the story recorded."""

    alliance: Alliance
    clock: FixedClock
    organisation: uuid.UUID = attrs.field(default=None)
    femi: uuid.UUID = attrs.field(default=None)
    ngozi: uuid.UUID = attrs.field(default=None)
    meeting: uuid.UUID = attrs.field(default=None)
    deadline: uuid.UUID = attrs.field(default=None)


def open_story(url: str) -> Story:
    """Open ``url`` with the story's clock and ids (the caller closes ``story.alliance``)."""
    clock = FixedClock(STORY_START)
    return Story(Alliance.open(url, clock=clock, ids=SequentialIds()), clock)


def first_half(story: Story) -> None:
    """The directory, a meeting, its registration and nominations."""
    alliance, clock = story.alliance, story.clock
    story.organisation = alliance.register_organisation(
        name="Rural And Urban Aid Nigeria", acronym="RUAN", actor="secretary"
    )
    token_id, _ = alliance.issue_feed_token(story.organisation, label="calendar")
    alliance.revoke_feed_token(story.organisation, token_id, reason="leaked")
    alliance.set_feed_address("https://calendar.example.org")
    story.femi = alliance.register_person(
        name="Femi Adeyemi", email="femi@example.org", organisation=story.organisation
    )
    story.ngozi = alliance.register_person(name="Ngozi Okafor", organisation=story.organisation)
    # No command changes a person's details yet: the event is appended as the domain makes it.
    alliance.log.append(
        person_stream(story.ngozi),
        [PersonDetailsChanged(event_id=alliance.ids(), person_id=story.ngozi,
                              email="ngozi@example.org")],
        expected_version=ANY,
    )
    alliance.appoint_officer(body="alliance", role="chair", person=story.femi,
                             since="2023-01-01")
    story.meeting = meeting = alliance.schedule_meeting(
        title=DIALOGUE, start="2023-05-05 10:00", end="12:00", tentative=True,
        actor="secretary",
    )
    clock.advance(hours=1)
    alliance.reschedule_meeting(meeting, start="2023-05-06 10:00", end="12:00", reason="room")
    alliance.change_meeting_details(meeting, location="Board room C")
    alliance.confirm_meeting(meeting)
    alliance.cancel_meeting(meeting, reason="no interpreters")
    alliance.reinstate_meeting(meeting, reason="interpreters found")
    alliance.attach_link(meeting, url="https://example.org/agenda.pdf", kind="documents")
    alliance.open_registration(meeting, opens="2023-03-21", closes="2023-05-01", capacity=3,
                               quotas={"speaker": 1})
    alliance.change_quota(meeting, quotas={"speaker": 2, "expert": 1})


def second_half(story: Story) -> None:
    """Nominations, speaking, attendance, deadlines."""
    alliance, clock, meeting = story.alliance, story.clock, story.meeting
    clock.advance(days=1)
    first = alliance.nominate(meeting, organisation=story.organisation, person=story.femi,
                              role="speaker", actor="RUAN")
    second = alliance.nominate(meeting, organisation=story.organisation, person=story.ngozi,
                               role="speaker")
    alliance.change_capacity(meeting, capacity=1)  # the second waits
    alliance.change_capacity(meeting, capacity=3)  # and is seated again
    alliance.confirm_nomination(meeting, first, funded=False)
    alliance.decline_nomination(meeting, second, reason="no visa")
    third = alliance.nominate(meeting, organisation=story.organisation, person=story.ngozi,
                              role="expert")
    alliance.withdraw_nomination(meeting, third, reason="ill")
    alliance.request_speaking(meeting, organisation=story.organisation, day="2023-05-06",
                              topic="Firearms trafficking")
    alliance.change_registration_window(meeting, opens="2023-03-21", closes="2023-05-02")
    alliance.close_registration(meeting, reason="full")
    alliance.reopen_registration(meeting, closes="2023-05-03")
    story.deadline = alliance.set_deadline(title="Names of participants", due="2023-04-20",
                                           meeting=meeting, reminders=["P7D"])
    alliance.extend_deadline(story.deadline, due="2023-04-25", reason="late answers")
    alliance.record_reminder_sent(story.deadline)
    other = alliance.set_deadline(title="Written statements", due="2023-06-01")
    alliance.cancel_deadline(other, reason="none expected")
    clock.set(pendulum.datetime(2023, 5, 6, 13, tz="Europe/Vienna"))
    alliance.record_attendance(meeting, attendees=[story.femi])
    # A person forgotten; a focal point; the outbox's e-mails: one decided and sent after
    # a failed attempt, one skipped (an organisation without a focal point).
    short_stay = alliance.register_person(name="Short Stay", organisation=story.organisation)
    alliance.forget_person(short_stay, reason="request of 6 May")
    alliance.appoint_focal_point(story.organisation, story.femi)
    alliance.register_organisation(name="Partner Without Contact")

    class Flaky:
        def __init__(self) -> None:
            self.tries = 0

        def send(self, _: object) -> None:
            self.tries += 1
            if self.tries == 1:
                raise DeliveryError("451 try again later")

    with Notifier(alliance, Flaky(), NotifySettings(sender="secretariat@example.org")) as outbox:
        alliance.set_deadline(title="Travel forms", due="2023-05-09", reminders=["P1D"])
        clock.set(pendulum.datetime(2023, 5, 9, 0, 0, tz="Europe/Vienna"))
        outbox.run_once()
        clock.advance(minutes=5)
        outbox.run_once()


def record_story(url: str) -> Story:
    """Record the whole story in the log at ``url`` (the caller closes ``story.alliance``)."""
    story = open_story(url)
    first_half(story)
    second_half(story)
    return story
