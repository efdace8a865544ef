"""Tests of the meeting's scheduling rules (domain/meetings/scheduling.py): pure, no log.

Every rule has a test that it accepts the valid case and one that it refuses the invalid
case, naming the rule.
"""

from __future__ import annotations

import uuid

import attrs
import pendulum
import pytest

from alliance_events.domain.common import (
    LinkKind,
    MeetingKind,
    MeetingStatus,
)
from alliance_events.domain.deadlines import (
    CancelDeadline,
    DeadlineKind,
    DeadlineSet,
    DueAt,
    DueBy,
    ExtendDeadline,
    RecordReminderSent,
    SetDeadline,
)
from alliance_events.domain.meetings import (
    AttachLink,
    AttendanceRecorded,
    Attendee,
    CancelMeeting,
    ChangeMeetingDetails,
    ConfirmMeeting,
    LinkAttached,
    MeetingCancelled,
    MeetingConfirmed,
    MeetingDetailsChanged,
    MeetingReinstated,
    MeetingRescheduled,
    MeetingScheduled,
    RecordAttendance,
    ReinstateMeeting,
    RescheduleMeeting,
    ScheduleMeeting,
)
from alliance_events.errors import UnknownReferenceError
from alliance_events.timing import AllDay, Timed, all_day, local_datetime, timed

from .meeting_streams import (
    FIREARMS,
    MEETING,
    ORG_A,
    PARENT,
    PEOPLE,
    REFS,
    UNKNOWN,
    Stream,
    at,
    parent_state,
    scheduled,
)

# -- schedule ------------------------------------------------------------------------------


class TestSchedule:
    def test_timed_meeting_is_scheduled_confirmed(self) -> None:
        """A timed meeting is scheduled, confirmed unless tentative."""
        stream = Stream()
        events = stream.schedule()
        assert [type(e) for e in events] == [MeetingScheduled]
        assert stream.state.exists
        assert stream.state.when == FIREARMS
        assert stream.state.status is MeetingStatus.CONFIRMED
        assert stream.state.sequence == 0

    def test_tentative_meeting(self) -> None:
        """'Maybe a week before, subject to availability' is a tentative meeting."""
        stream = Stream()
        stream.schedule(timed("2023-04-12 15:00", "16:30"), tentative=True)
        assert stream.state.status is MeetingStatus.TENTATIVE

    def test_all_day_meeting(self) -> None:
        """A two-day all-day event is scheduled with its date range."""
        stream = Stream()
        stream.schedule(all_day("2023-05-30", "2023-05-31"))
        assert stream.state.when == AllDay(
            first=pendulum.Date(2023, 5, 30), last=pendulum.Date(2023, 5, 31)
        )

    def test_end_before_start_is_refused(self) -> None:
        """A timed meeting ending before it starts is refused (end-after-start)."""
        backwards = Timed(start=at("2023-05-05 18:00"), end=at("2023-05-05 09:00"))
        Stream().refuse("end-after-start", ScheduleMeeting, title="x",
                        kind=MeetingKind.OTHER, when=backwards)

    def test_end_equal_to_start_is_refused(self) -> None:
        """A timed meeting of no length is refused (end-after-start)."""
        empty = Timed(start=at("2023-05-05 09:00"), end=at("2023-05-05 09:00"))
        Stream().refuse("end-after-start", ScheduleMeeting, title="x",
                        kind=MeetingKind.OTHER, when=empty)

    def test_all_day_last_before_first_is_refused(self) -> None:
        """An all-day meeting whose last day is before its first is refused."""
        backwards = AllDay(first=pendulum.Date(2023, 5, 31), last=pendulum.Date(2023, 5, 30))
        Stream().refuse("end-after-start", ScheduleMeeting, title="x",
                        kind=MeetingKind.OTHER, when=backwards)

    def test_zone_is_required(self) -> None:
        """A timed meeting at naive wall times (no zone) is refused (zone)."""
        naive = Timed(start=pendulum.naive(2023, 5, 5, 9), end=pendulum.naive(2023, 5, 5, 18))
        Stream().refuse("zone", ScheduleMeeting, title="x", kind=MeetingKind.OTHER, when=naive)

    def test_named_and_fixed_zones_are_not_mixed(self) -> None:
        """A start in Europe/Vienna and an end at GMT+1 is refused (zone)."""
        mixed = Timed(start=at("2023-03-22 15:00"),
                      end=local_datetime("2023-03-22 16:30", "GMT+1"))
        Stream().refuse("zone", ScheduleMeeting, title="x", kind=MeetingKind.OTHER, when=mixed)

    def test_fixed_offset_meeting_is_accepted(self) -> None:
        """'15:00 - 16:30 (GMT+1)' as the minutes write it is accepted."""
        stream = Stream()
        stream.schedule(timed("2023-03-22 15:00", "16:30", "GMT+1"))
        assert stream.state.when.start.isoformat() == "2023-03-22T15:00:00+01:00"  # type: ignore[union-attr]

    def test_when_must_be_timed_or_all_day(self) -> None:
        """A 'when' that is neither Timed nor AllDay is refused (when)."""
        Stream().refuse("when", ScheduleMeeting, title="x", kind=MeetingKind.OTHER,
                        when="22 March, 15:00")

    def test_scheduling_twice_is_refused(self) -> None:
        """The same meeting cannot be scheduled twice (meeting-exists)."""
        scheduled().refuse("meeting-exists", ScheduleMeeting, title="again",
                           kind=MeetingKind.OTHER, when=FIREARMS)

    @pytest.mark.parametrize(("title", "rule"), [("", "required"), ("   ", "required"),
                                                 (None, "text"), ("x" * 501, "text-length")])
    def test_title_is_required_text(self, title: object, rule: str) -> None:
        """A missing, blank, non-text or over-long title is refused."""
        Stream().refuse(rule, ScheduleMeeting, title=title, kind=MeetingKind.OTHER, when=FIREARMS)

    def test_long_location_is_refused(self) -> None:
        """A location over 500 characters is refused (text-length)."""
        Stream().refuse("text-length", ScheduleMeeting, title="x", kind=MeetingKind.OTHER,
                        when=FIREARMS, location="V" * 501)

    def test_description_limit(self) -> None:
        """A description may be 20,000 characters, not more."""
        Stream().schedule(description="d" * 20_000)
        Stream().refuse("text-length", ScheduleMeeting, title="x", kind=MeetingKind.OTHER,
                        when=FIREARMS, description="d" * 20_001)

    @pytest.mark.parametrize("url", ["https://unodc.org/cd", "http://example.org/x"])
    def test_online_url_http_accepted(self, url: str) -> None:
        """An http(s) online address is accepted."""
        stream = Stream()
        stream.schedule(online_url=url)
        assert stream.state.online_url == url

    @pytest.mark.parametrize("url", ["ftp://unodc.org/cd", "unodc.org", "https://a b.org"])
    def test_online_url_must_be_http(self, url: str) -> None:
        """An online address that is not http(s), or has spaces, is refused (url)."""
        Stream().refuse("url", ScheduleMeeting, title="x", kind=MeetingKind.OTHER,
                        when=FIREARMS, online_url=url)

    def test_child_of_a_scheduled_parent(self) -> None:
        """A side event of a scheduled session is accepted and names its parent."""
        stream = Stream()
        stream.schedule(all_day("2023-05-23"), parent_id=PARENT,
                        refs=attrs.evolve(REFS, parent=parent_state()))
        assert stream.state.parent_id == PARENT

    def test_parent_must_exist(self) -> None:
        """A parent that is not scheduled is refused (unknown-meeting)."""
        error = Stream().refuse("unknown-meeting", ScheduleMeeting, title="x",
                                kind=MeetingKind.SIDE_EVENT, when=FIREARMS, parent_id=PARENT)
        assert isinstance(error, UnknownReferenceError)

    def test_meeting_is_not_its_own_parent(self) -> None:
        """A meeting naming itself as parent is refused (parent)."""
        itself = attrs.evolve(parent_state(), meeting_id=MEETING)
        Stream().refuse("parent", ScheduleMeeting, title="x", kind=MeetingKind.OTHER,
                        when=FIREARMS, parent_id=MEETING, refs=attrs.evolve(REFS, parent=itself))

    def test_parent_must_not_be_cancelled(self) -> None:
        """A side event of a cancelled session is refused (meeting-cancelled)."""
        Stream().refuse("meeting-cancelled", ScheduleMeeting, title="x",
                        kind=MeetingKind.SIDE_EVENT, when=FIREARMS, parent_id=PARENT,
                        refs=attrs.evolve(REFS, parent=parent_state(cancelled=True)))

    def test_parent_of_a_cancelled_ancestor_is_refused(self) -> None:
        """A child of a meeting whose own parent is cancelled is refused too."""
        Stream().refuse("meeting-cancelled", ScheduleMeeting, title="x",
                        kind=MeetingKind.SIDE_EVENT, when=FIREARMS, parent_id=PARENT,
                        refs=attrs.evolve(REFS, parent=parent_state(), ancestor_cancelled=True))


# -- schedule changes ---------------------------------------------------------------------------


class TestReschedule:
    def test_moved_meeting_keeps_its_id_and_raises_its_sequence(self) -> None:
        """Moving the meeting changes its time and raises its sequence."""
        stream = scheduled()
        later = timed("2023-05-05 10:00", "19:00")
        events = stream.do(RescheduleMeeting, when=later, reason="room")
        assert [type(e) for e in events] == [MeetingRescheduled]
        assert stream.state.when == later
        assert stream.state.meeting_id == MEETING
        assert stream.state.sequence == 1

    def test_same_time_is_refused(self) -> None:
        """Rescheduling to the time it has is refused (no-change)."""
        scheduled().refuse("no-change", RescheduleMeeting, when=FIREARMS)

    def test_end_before_start_is_refused(self) -> None:
        """Rescheduling to an end before the start is refused (end-after-start)."""
        backwards = Timed(start=at("2023-05-05 18:00"), end=at("2023-05-05 09:00"))
        scheduled().refuse("end-after-start", RescheduleMeeting, when=backwards)

    def test_timed_to_all_day(self) -> None:
        """A timed meeting may become an all-day one."""
        stream = scheduled()
        stream.do(RescheduleMeeting, when=all_day("2023-05-05"))
        assert isinstance(stream.state.when, AllDay)


class TestChangeDetails:
    def test_title_change(self) -> None:
        """A new title is recorded; only the changed fields are in the event."""
        stream = scheduled(location="Vienna International Centre")
        events = stream.do(ChangeMeetingDetails, title="CD on Firearms",
                           location="Vienna International Centre")
        assert events == [MeetingDetailsChanged(event_id=events[0].event_id,
                                                meeting_id=MEETING, title="CD on Firearms")]
        assert stream.state.title == "CD on Firearms"

    def test_nothing_changes_is_refused(self) -> None:
        """Details equal to the current ones are refused (no-change)."""
        scheduled(location="VIC").refuse("no-change", ChangeMeetingDetails, location="VIC")
        scheduled().refuse("no-change", ChangeMeetingDetails)

    def test_clearing_a_field(self) -> None:
        """An empty string clears a field; None leaves it as it is."""
        stream = scheduled(location="VIC", organiser="CSU")
        stream.do(ChangeMeetingDetails, location="")
        assert (stream.state.location, stream.state.organiser) == ("", "CSU")

    def test_blank_title_is_refused(self) -> None:
        """A blank new title is refused (required)."""
        scheduled().refuse("required", ChangeMeetingDetails, title=" ")

    def test_bad_online_url_is_refused(self) -> None:
        """A new online address must be http(s) (url)."""
        scheduled().refuse("url", ChangeMeetingDetails, online_url="zoom:123")

    def test_long_description_is_refused(self) -> None:
        """A description over 20,000 characters is refused (text-length)."""
        scheduled().refuse("text-length", ChangeMeetingDetails, description="d" * 20_001)


class TestConfirmMeeting:
    def test_tentative_meeting_is_confirmed(self) -> None:
        """A tentative meeting is confirmed; its sequence rises."""
        stream = scheduled(tentative=True)
        assert [type(e) for e in stream.do(ConfirmMeeting)] == [MeetingConfirmed]
        assert stream.state.status is MeetingStatus.CONFIRMED
        assert stream.state.sequence == 1

    def test_only_tentative_meetings_are_confirmed(self) -> None:
        """Confirming a confirmed meeting is refused (not-tentative)."""
        stream = scheduled()
        error = stream.refuse("not-tentative", ConfirmMeeting)
        assert "confirmed" in str(error)


class TestCancelAndReinstate:
    def test_cancel(self) -> None:
        """A cancelled meeting stays, marked cancelled, its sequence raised."""
        stream = scheduled()
        assert [type(e) for e in stream.do(CancelMeeting, reason="no room")] == [MeetingCancelled]
        assert stream.state.exists
        assert stream.state.cancelled
        assert stream.state.sequence == 1

    def test_cancel_twice_is_refused(self) -> None:
        """Cancelling a cancelled meeting is refused (meeting-cancelled)."""
        stream = scheduled()
        stream.do(CancelMeeting)
        stream.refuse("meeting-cancelled", CancelMeeting)

    def test_reinstate(self) -> None:
        """A cancellation made by mistake is taken back, with a reason; sequence rises."""
        stream = scheduled()
        stream.do(CancelMeeting)
        events = stream.do(ReinstateMeeting, reason="cancelled by mistake")
        assert [type(e) for e in events] == [MeetingReinstated]
        assert stream.state.status is MeetingStatus.CONFIRMED
        assert stream.state.sequence == 2

    def test_reinstating_a_tentative_meeting_makes_it_tentative_again(self) -> None:
        """Taking back a mistaken cancellation restores the status it had, not 'confirmed'."""
        stream = scheduled(tentative=True)
        stream.do(CancelMeeting)
        stream.do(ReinstateMeeting, reason="cancelled by mistake")
        assert stream.state.status is MeetingStatus.TENTATIVE
        stream.do(ConfirmMeeting)  # and it can still be confirmed
        assert stream.state.status is MeetingStatus.CONFIRMED

    def test_a_cancelled_meetings_deadline_can_be_cancelled(self) -> None:
        """Cancelling the deadline of a cancelled meeting is accepted (a correction)."""
        stream = scheduled()
        deadline_id = uuid.UUID(int=0xD1)
        stream.do(SetDeadline, deadline_id=deadline_id, title="names", meeting_id=MEETING,
                  due=DueBy(day=pendulum.Date(2023, 5, 1)), kind=DeadlineKind.NAMES)
        stream.do(CancelMeeting)
        stream.do(CancelDeadline, deadline_id=deadline_id)
        deadline = stream.state.deadline(deadline_id)
        assert deadline is not None and deadline.cancelled
        stream.refuse("meeting-cancelled", ExtendDeadline, deadline_id=deadline_id,
                      due=DueBy(day=pendulum.Date(2023, 5, 3)))

    def test_reinstate_only_a_cancelled_meeting(self) -> None:
        """Reinstating a meeting that is not cancelled is refused (not-cancelled)."""
        scheduled().refuse("not-cancelled", ReinstateMeeting, reason="why not")

    @pytest.mark.parametrize("reason", ["", "  "])
    def test_reinstate_needs_a_reason(self, reason: str) -> None:
        """Reinstating without a reason is refused (required)."""
        stream = scheduled()
        stream.do(CancelMeeting)
        stream.refuse("required", ReinstateMeeting, reason=reason)


# -- links and attendance -----------------------------------------------------------------------


class TestLinks:
    @pytest.mark.parametrize("url", ["https://www.youtube.com/watch?v=x", "http://alliance.org/r"])
    def test_http_links_are_attached(self, url: str) -> None:
        """A report or recording with an http(s) address is attached, in order."""
        stream = scheduled()
        stream.do(AttachLink, kind=LinkKind.REPORT, url="https://alliance.org/report")
        events = stream.do(AttachLink, kind=LinkKind.RECORDING, url=url, title="Recording")
        assert isinstance(events[0], LinkAttached)
        assert [link.url for link in stream.state.links] == ["https://alliance.org/report", url]
        assert stream.state.links[1].kind is LinkKind.RECORDING

    @pytest.mark.parametrize("url", ["", "ftp://alliance.org/r", "www.alliance.org",
                                     "https://alliance.org/a report"])
    def test_links_need_http_urls(self, url: str) -> None:
        """A link without an http(s) address is refused (url)."""
        scheduled().refuse("url", AttachLink, kind=LinkKind.REPORT, url=url)

    def test_long_link_title_is_refused(self) -> None:
        """A link title over 500 characters is refused (text-length)."""
        scheduled().refuse("text-length", AttachLink, kind=LinkKind.REPORT,
                           url="https://alliance.org/r", title="t" * 501)

    def test_links_do_not_raise_the_sequence(self) -> None:
        """Attaching a link is not a change of time or status."""
        stream = scheduled()
        stream.do(AttachLink, kind=LinkKind.REPORT, url="https://alliance.org/r")
        assert stream.state.sequence == 0


class TestAttendance:
    def test_attendance_after_the_start(self) -> None:
        """Who was present is recorded once the meeting has started."""
        stream = scheduled()
        present = (Attendee(person_id=PEOPLE[0], organisation_id=ORG_A, capacity="Chair"),
                   Attendee(person_id=PEOPLE[1]))
        events = stream.do(RecordAttendance, attendees=present, at=at("2023-05-05 18:30"))
        assert isinstance(events[0], AttendanceRecorded)
        assert stream.state.attendance == present

    def test_attendance_at_the_start_is_accepted(self) -> None:
        """At the very start, attendance may be recorded."""
        stream = scheduled()
        stream.do(RecordAttendance, attendees=(Attendee(person_id=PEOPLE[0]),),
                  at=FIREARMS.start)
        assert len(stream.state.attendance) == 1

    def test_attendance_before_the_start_is_refused(self) -> None:
        """Attendance before the meeting starts is refused (attendance-before-start)."""
        scheduled().refuse("attendance-before-start", RecordAttendance,
                           attendees=(Attendee(person_id=PEOPLE[0]),),
                           at=at("2023-05-05 08:59"))

    def test_all_day_meeting_starts_at_its_first_midnight(self) -> None:
        """An all-day meeting takes attendance from its first day, not the day before."""
        stream = scheduled(all_day("2023-05-30", "2023-05-31"))
        stream.refuse("attendance-before-start", RecordAttendance,
                      attendees=(Attendee(person_id=PEOPLE[0]),), at=at("2023-05-29 09:00"))
        stream.do(RecordAttendance, attendees=(Attendee(person_id=PEOPLE[0]),),
                  at=at("2023-05-30 00:00"))
        assert len(stream.state.attendance) == 1

    def test_attendee_must_be_known(self) -> None:
        """An unknown person is refused (unknown-person)."""
        error = scheduled().refuse("unknown-person", RecordAttendance,
                                   attendees=(Attendee(person_id=UNKNOWN),),
                                   at=at("2023-05-05 18:00"))
        assert isinstance(error, UnknownReferenceError)

    def test_attendee_organisation_must_be_known(self) -> None:
        """An attendee for an unknown organisation is refused (unknown-organisation)."""
        scheduled().refuse("unknown-organisation", RecordAttendance,
                           attendees=(Attendee(person_id=PEOPLE[0], organisation_id=UNKNOWN),),
                           at=at("2023-05-05 18:00"))

    def test_no_one_twice(self) -> None:
        """A person listed twice is refused (attendee-twice)."""
        scheduled().refuse("attendee-twice", RecordAttendance,
                           attendees=(Attendee(person_id=PEOPLE[0]),
                                      Attendee(person_id=PEOPLE[0], capacity="Chair")),
                           at=at("2023-05-05 18:00"))

    def test_start_is_compared_as_an_instant(self) -> None:
        """09:00 Vienna in May is 07:00 UTC: attendance at 06:59 UTC is too early."""
        stream = scheduled()
        stream.refuse("attendance-before-start", RecordAttendance,
                      attendees=(Attendee(person_id=PEOPLE[0]),),
                      at=pendulum.datetime(2023, 5, 5, 6, 59, tz="UTC"))
        stream.do(RecordAttendance, attendees=(Attendee(person_id=PEOPLE[0]),),
                  at=pendulum.datetime(2023, 5, 5, 7, tz="UTC"))
        assert len(stream.state.attendance) == 1

    def test_a_later_record_replaces_the_earlier(self) -> None:
        """Recording attendance again replaces the earlier list."""
        stream = scheduled()
        late = at("2023-05-05 18:00")
        stream.do(RecordAttendance, attendees=(Attendee(person_id=PEOPLE[0]),), at=late)
        stream.do(RecordAttendance, attendees=(Attendee(person_id=PEOPLE[1]),), at=late)
        assert [a.person_id for a in stream.state.attendance] == [PEOPLE[1]]


class TestMeetingDeadlines:
    DEADLINE = uuid.UUID(int=0xD1)

    def test_deadline_in_the_meeting_stream(self) -> None:
        """A meeting's deadline lives in its state, and changes there."""
        stream = scheduled()
        events = stream.do(SetDeadline, deadline_id=self.DEADLINE, title="names",
                           kind=DeadlineKind.NAMES, meeting_id=MEETING,
                           due=DueBy(day=pendulum.Date(2023, 5, 1)))
        assert isinstance(events[0], DeadlineSet)
        stream.do(ExtendDeadline, deadline_id=self.DEADLINE,
                  due=DueAt(at=at("2023-05-02 17:00")))
        stream.do(RecordReminderSent, deadline_id=self.DEADLINE)
        deadline = stream.state.deadline(self.DEADLINE)
        assert deadline is not None
        assert (deadline.extensions, deadline.reminders_sent) == (1, 1)

    def test_deadline_of_another_meeting_is_refused(self) -> None:
        """A deadline naming another meeting is refused in this one (deadline-meeting)."""
        scheduled().refuse("deadline-meeting", SetDeadline, deadline_id=self.DEADLINE,
                           title="names", meeting_id=PARENT,
                           due=DueBy(day=pendulum.Date(2023, 5, 1)))

    def test_unknown_deadline_of_the_meeting_is_refused(self) -> None:
        """Extending a deadline the meeting does not have is refused (unknown-deadline)."""
        scheduled().refuse("unknown-deadline", ExtendDeadline, deadline_id=self.DEADLINE,
                           due=DueBy(day=pendulum.Date(2023, 5, 1)))
