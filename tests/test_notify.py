"""The reminder outbox, against a real SMTP server (aiosmtpd), driven by a fixed clock.

The minutes' case: "send the names of participants of each delegation by the 1st of
April"; three delegations, one done, one halfway, one that named nobody; reminders a
week and a day before, across Vienna's change to summer time (28 March 2027).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import attrs
import icalendar
import pendulum
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from alliance_events import Alliance, ConsumerBusyError, DeliveryError, Notifier, NotifySettings
from alliance_events.cli import main
from alliance_events.domain.outbox import MessageStatus
from alliance_events.ical import Audience, FeedRenderer, deadline_uid, meeting_uid
from alliance_events.mail import SmtpSender, SmtpSettings, smtp_settings
from alliance_events.notify import compose, outbox_state, preview
from alliance_events.testing import FixedClock

from .mailserver import MailServer, mail_server

VIENNA = "Europe/Vienna"
SENDER = "alliance@vienna-ngo.example"


def at(text: str) -> pendulum.DateTime:
    """A moment in Vienna's time."""
    return pendulum.parse(text, tz=VIENNA)  # type: ignore[return-value]


@attrs.define
class Minutes:
    """The alliance of the minutes, as ids."""

    alliance: Alliance
    clock: FixedClock
    dialogue: uuid.UUID
    deadline: uuid.UUID
    done: uuid.UUID  # named both delegates
    halfway: uuid.UUID  # named one of two
    silent: uuid.UUID  # named nobody
    people: dict[str, uuid.UUID]


def minutes(url: str = "memory:", *, start: str = "2027-03-01 09:00") -> Minutes:
    clock = FixedClock(at(start))
    alliance = Alliance.open(url, clock=clock)
    people: dict[str, uuid.UUID] = {}
    orgs = {}
    for name in ("Done", "Halfway", "Silent"):
        orgs[name] = alliance.register_organisation(name=f"{name} NGO", acronym=name.upper())
        for person in ("contact", "delegate", "second"):
            label = f"{name}-{person}"
            people[label] = alliance.register_person(
                name=f"{label} Person", email=f"{label.lower()}@{name.lower()}.example",
                organisation=orgs[name])
        alliance.appoint_focal_point(orgs[name], people[f"{name}-contact"])
    dialogue = alliance.schedule_meeting(
        title="Constructive Dialogue on Firearms", kind="constructive-dialogue",
        start="2027-04-20 10:00", end="2027-04-20 13:00", location="Vienna International Centre")
    alliance.open_registration(dialogue, opens="2027-03-01", closes="2027-04-01",
                               quotas={"participant": 2}, funded_places=4)
    for label in ("Done-delegate", "Done-second", "Halfway-delegate"):
        org = orgs[label.split("-")[0]]
        alliance.nominate(dialogue, organisation=org, person=people[label], role="participant")
    deadline = alliance.set_deadline(
        title="Names of participants", due="2027-04-01", kind="names", meeting=dialogue,
        reminders=["P7D", "P1D"])
    return Minutes(alliance, clock, dialogue, deadline, orgs["Done"], orgs["Halfway"],
                   orgs["Silent"], people)


class Collect:
    """A sender that keeps what it is given (for the tests that need no SMTP)."""

    def __init__(self) -> None:
        self.sent: list[EmailMessage] = []
        self.fail: DeliveryError | None = None

    def send(self, email: EmailMessage) -> None:
        if self.fail is not None:
            raise self.fail
        self.sent.append(email)


SETTINGS = NotifySettings(sender=SENDER)


@pytest.fixture
def server() -> Iterator[MailServer]:
    with mail_server() as running:
        yield running


def smtp(server: MailServer) -> SmtpSender:
    return SmtpSender(SmtpSettings.from_url(server.url))


def addresses(received: list[EmailMessage] | list[object]) -> list[str]:
    return sorted(str(m["To"]) for m in received)  # type: ignore[index]


class TestReminders:
    def test_the_minutes_deadline_reaches_who_owes_at_the_right_instants(
        self, server: MailServer
    ) -> None:
        """A week before (26 March, winter time) and a day before (31 March, summer time),
        local midnight both times; the delegation that is done gets nothing."""
        case = minutes()
        with Notifier(case.alliance, smtp(server), SETTINGS) as worker:
            # Due by 1 April: the end of that day is 2 April 00:00 in Vienna (+02:00).
            case.clock.set(at("2027-03-25 23:59:59"))
            assert worker.run_once().sent == 0
            case.clock.set(at("2027-03-26 00:00"))  # 25 March 23:00 UTC: winter time
            first = worker.run_once()
            assert (first.queued, first.sent) == (2, 2)
            got = server.messages()
            assert sorted(r.recipients[0] for r in got) == [
                "halfway-contact@halfway.example", "silent-contact@silent.example"]
            texts = {r.recipients[0]: r.message.get_body(("plain",)).get_content() for r in got}
            assert "has named 1 of 2" in texts["halfway-contact@halfway.example"]
            assert "has named no one yet" in texts["silent-contact@silent.example"]
            assert all(r.message["Date"].datetime == at("2027-03-26 00:00") for r in got)
            # The second reminder, a day before: 1 April 00:00 in summer time (22:00 UTC).
            case.clock.set(at("2027-03-31 23:59"))
            assert worker.run_once().sent == 0
            case.clock.set(at("2027-04-01 00:00"))
            assert worker.run_once().sent == 2
            assert pendulum.instance(server.messages()[-1].message["Date"].datetime) == \
                pendulum.datetime(2027, 3, 31, 22, tz="UTC")
            # Nothing twice.
            case.clock.set(at("2027-04-01 08:00"))
            assert worker.run_once().sent == 0
        assert len(server.messages()) == 4

    def test_an_organisation_that_catches_up_gets_no_second_reminder(self) -> None:
        case = minutes()
        sender = Collect()
        with Notifier(case.alliance, sender, SETTINGS) as worker:
            case.clock.set(at("2027-03-26 00:00"))
            worker.run_once()
            case.alliance.nominate(case.dialogue, organisation=case.halfway,
                                   person=case.people["Halfway-second"], role="participant")
            case.clock.set(at("2027-04-01 00:00"))
            worker.run_once()
        assert addresses(sender.sent) == [
            "Halfway-contact Person <halfway-contact@halfway.example>",
            "Silent-contact Person <silent-contact@silent.example>",
            "Silent-contact Person <silent-contact@silent.example>",
        ]

    def test_the_message_carries_text_html_and_the_item_with_the_feeds_uid(
        self, server: MailServer
    ) -> None:
        case = minutes()
        with Notifier(case.alliance, smtp(server), SETTINGS) as worker:
            case.clock.set(at("2027-03-26 00:00"))
            worker.run_once()
        received = server.messages()[0].message
        assert received["Message-ID"].endswith("@vienna-ngo.example>")
        assert received.get_body(("html",)).get_content().startswith("<!DOCTYPE html>")
        parts = [p for p in received.iter_attachments() if p.get_content_type() == "text/calendar"]
        assert len(parts) == 1 and parts[0].get_param("method") == "PUBLISH"
        calendar = icalendar.Calendar.from_ical(parts[0].get_content())
        assert calendar["METHOD"] == "PUBLISH"
        events = calendar.walk("VEVENT")
        assert len(events) == 1
        # The deadline's own VEVENT, with the UID the organisation's feed gives it.
        assert "Names of participants" in str(events[0]["SUMMARY"])
        assert str(events[0]["UID"]) == deadline_uid(case.deadline)
        feed = FeedRenderer().render(case.alliance.state, Audience.organisation(case.silent),
                                     now=case.clock()).body
        assert f"UID:{deadline_uid(case.deadline)}".encode() in feed

    def test_no_personal_data_of_one_organisation_in_anothers_message(
        self, server: MailServer
    ) -> None:
        case = minutes()
        with Notifier(case.alliance, smtp(server), SETTINGS) as worker:
            case.clock.set(at("2027-03-26 00:00"))
            worker.run_once()
        for received in server.messages():
            mine = received.recipients[0].split("@")[1].split(".")[0].capitalize()
            raw = received.raw.decode("utf-8", "replace") + received.message.as_string()
            for label in case.people:
                if not label.startswith(mine):
                    assert label not in raw and label.lower() not in raw

    def test_a_first_start_on_an_old_log_sends_nothing_of_the_past(self) -> None:
        case = minutes()
        case.clock.set(at("2027-03-28 12:00"))  # the week-before reminder passed 2.5 days ago
        sender = Collect()
        with Notifier(case.alliance, sender, SETTINGS) as worker:
            assert worker.run_once().sent == 0
        assert sender.sent == []
        assert outbox_state(case.alliance).messages == {}

    def test_a_worker_down_past_the_grace_period_records_skipped(self) -> None:
        case = minutes()
        sender = Collect()
        with Notifier(case.alliance, sender, SETTINGS) as worker:
            worker.run_once()
        case.clock.set(at("2027-03-26 07:00"))  # 7 hours late, the grace is 6
        with Notifier(case.alliance, sender, SETTINGS) as worker:
            report = worker.run_once()
        assert (report.sent, report.skipped) == (0, 2)
        skipped = outbox_state(case.alliance).messages.values()
        assert {m.status for m in skipped} == {MessageStatus.SKIPPED}
        assert all("more than 6 h" in m.error for m in skipped)

    def test_an_organisation_without_a_focal_point_is_recorded_as_skipped(self) -> None:
        case = minutes()
        case.alliance.appoint_focal_point(case.silent, None)
        sender = Collect()
        with Notifier(case.alliance, sender, SETTINGS) as worker:
            case.clock.set(at("2027-03-26 00:00"))
            report = worker.run_once()
        assert (report.sent, report.skipped) == (1, 1)
        decided = outbox_state(case.alliance).messages.values()
        assert any("no focal point" in m.error for m in decided)

    def test_a_cancelled_meeting_or_deadline_reminds_no_one(self) -> None:
        case = minutes()
        sender = Collect()
        with Notifier(case.alliance, sender, SETTINGS) as worker:
            case.alliance.cancel_deadline(case.deadline, reason="names no longer needed")
            case.clock.set(at("2027-03-26 00:00"))
            worker.run_once()
        assert sender.sent == []


class TestUrgentChanges:
    def test_a_meeting_cancelled_three_days_before_tells_its_delegations(self) -> None:
        case = minutes()
        sender = Collect()
        with Notifier(case.alliance, sender, SETTINGS) as worker:
            case.clock.set(at("2027-04-17 09:00"))
            case.alliance.cancel_meeting(case.dialogue, reason="the room is not available")
            report = worker.run_once()
        assert report.sent == 2  # Done and Halfway have delegates; Silent has none
        assert all(m["Subject"].startswith("Cancelled: Constructive Dialogue")
                   for m in sender.sent)
        assert "the room is not available" in sender.sent[0].get_body(("plain",)).get_content()

    def test_a_meeting_moved_a_month_ahead_is_no_urgent_change(self) -> None:
        case = minutes()
        sender = Collect()
        with Notifier(case.alliance, sender, SETTINGS) as worker:
            case.clock.set(at("2027-03-10 09:00"))
            case.alliance.reschedule_meeting(case.dialogue, start="2027-04-21 10:00",
                                             end="2027-04-21 13:00")
            worker.run_once()
            case.clock.set(at("2027-04-15 09:00"))
            case.alliance.reschedule_meeting(case.dialogue, start="2027-04-22 10:00",
                                             end="2027-04-22 13:00", reason="interpretation")
            worker.run_once()
        moved = [m for m in sender.sent if m["Subject"].startswith("Moved")]
        assert len(moved) == 2
        text = moved[0].get_body(("plain",)).get_content()
        assert "from 21 Apr 2027 10:00-13:00" in text and "to 22 Apr 2027 10:00-13:00" in text
        invitation = next(p for p in moved[0].iter_attachments())
        event = icalendar.Calendar.from_ical(invitation.get_content()).walk("VEVENT")[0]
        assert str(event["UID"]) == meeting_uid(case.dialogue)
        assert int(event["SEQUENCE"]) >= 2  # updates the copy a client added in place


class TestNominations:
    def test_a_funded_confirmation_goes_to_the_nominee_and_the_focal_point(self) -> None:
        case = minutes()
        sender = Collect()
        with Notifier(case.alliance, sender, SETTINGS) as worker:
            nomination = case.alliance.registration(case.dialogue).delegations
            ids = [d.nomination_id for group in nomination for d in group.delegates
                   if d.person_id == case.people["Halfway-delegate"]]
            case.alliance.confirm_nomination(case.dialogue, ids[0], funded=True)
            worker.run_once()
        (message,) = sender.sent
        assert message["Subject"] == "Confirmed with funding: your nomination to " \
            "Constructive Dialogue on Firearms"
        assert "Halfway-delegate Person" in str(message["To"])
        assert "Halfway-contact Person" in str(message["To"])


class TestSendingFails:
    def test_a_busy_server_is_retried_with_back_off_and_nothing_is_lost(
        self, server: MailServer
    ) -> None:
        case = minutes()
        with Notifier(case.alliance, smtp(server), SETTINGS) as worker:
            server.mode = "busy"
            case.clock.set(at("2027-03-26 00:00"))
            report = worker.run_once()
            assert (report.queued, report.sent, report.failed) == (2, 0, 2)
            waits = []
            for _ in range(3):
                pending = outbox_state(case.alliance).pending()
                waits.append((pending[0].retry_at - case.clock()).total_seconds())
                case.clock.set(pending[0].retry_at)
                worker.run_once()
            assert waits == [30, 60, 120]  # doubling
            server.mode = "accept"
            case.clock.advance(seconds=240)
            assert worker.run_once().sent == 2
        assert len(server.messages()) == 2
        status = outbox_state(case.alliance).messages.values()
        assert {m.status for m in status} == {MessageStatus.SENT}
        assert {m.attempts for m in status} == {5}

    def test_a_refusal_for_good_is_recorded_as_failed(self, server: MailServer) -> None:
        case = minutes()
        with Notifier(case.alliance, smtp(server), SETTINGS) as worker:
            server.mode = "refuse"
            case.clock.set(at("2027-03-26 00:00"))
            worker.run_once()
            case.clock.advance(hours=2)
            assert worker.run_once().failed == 0  # not retried
        failed = list(outbox_state(case.alliance).messages.values())
        assert {m.status for m in failed} == {MessageStatus.FAILED}
        assert "550" in failed[0].error and "@" not in failed[0].error

    def test_a_server_that_stalls_or_is_gone_is_retried(self, server: MailServer) -> None:
        case = minutes()
        slow = SmtpSender(SmtpSettings.from_url(
            f"smtp://127.0.0.1:{server.port}?starttls=off&timeout=0.5"))
        with Notifier(case.alliance, slow, SETTINGS) as worker:
            server.mode = "stall"
            case.clock.set(at("2027-03-26 00:00"))
            assert worker.run_once().failed == 2
        server.stop()
        with Notifier(case.alliance, slow, SETTINGS) as worker:
            case.clock.advance(minutes=1)
            assert worker.run_once().failed == 2
        pending = outbox_state(case.alliance).pending()
        assert len(pending) == 2 and all(m.attempts == 2 for m in pending)
        assert "could not reach the mail server" in pending[0].error


class TestOneWorker:
    def test_a_second_worker_on_the_same_log_is_refused(self, tmp_path: Path) -> None:
        case = minutes(f"sqlite:///{tmp_path / 'log.db'}")
        with Notifier(case.alliance, Collect(), SETTINGS):
            other = Alliance.open(f"sqlite:///{tmp_path / 'log.db'}", clock=case.clock)
            with pytest.raises(ConsumerBusyError):
                Notifier(other, Collect(), SETTINGS)
            other.close()

    def test_a_crash_between_deciding_and_sending_sends_the_same_message_again(self) -> None:
        case = minutes()

        class CrashError(Exception):
            """The process dying."""

        class Dies:
            def send(self, email: EmailMessage) -> None:
                raise CrashError  # the process dies in the middle of sending

        with Notifier(case.alliance, Dies(), SETTINGS) as worker:
            case.clock.set(at("2027-03-26 00:00"))
            with pytest.raises(CrashError):
                worker.run_once()
        first = outbox_state(case.alliance).pending()
        assert len(first) == 2  # decided (recorded) before sending
        again = Collect()
        with Notifier(case.alliance, again, SETTINGS) as worker:
            assert worker.run_once().sent == 2
        again_ids = sorted(str(m["Message-ID"]) for m in again.sent)
        replay = Collect()
        # The same e-mail, built again from the record: same Message-ID, same bytes.
        for message in outbox_state(case.alliance).messages.values():
            built = compose(message, case.alliance.state, sender=SENDER,
                            alliance_name=SETTINGS.alliance_name)
            assert built is not None
            replay.sent.append(built)
        assert sorted(str(m["Message-ID"]) for m in replay.sent) == again_ids
        assert sorted(m.as_bytes() for m in replay.sent) == sorted(m.as_bytes() for m in again.sent)


class TestPreviewAndStatus:
    def test_preview_says_what_goes_when(self) -> None:
        case = minutes()
        coming = preview(case.alliance, until=at("2027-04-30 00:00"))
        said = [(p.at, case.alliance.state.organisation_name(p.organisation_id)) for p in coming]
        assert sorted(said) == [
            (at("2027-03-26 00:00"), "HALFWAY"), (at("2027-03-26 00:00"), "SILENT"),
            (at("2027-04-01 00:00"), "HALFWAY"), (at("2027-04-01 00:00"), "SILENT")]
        assert [p.at for p in coming] == sorted(p.at for p in coming)

    def test_the_cli(self, server: MailServer, tmp_path: Path,
                     monkeypatch: pytest.MonkeyPatch) -> None:
        db = tmp_path / "log.db"
        runner = CliRunner()

        def cli(*args: str) -> str:
            result = runner.invoke(main, ["--db", str(db), *args], catch_exceptions=False)
            assert result.exit_code == 0, result.output
            return result.output

        cli("organisation", "add", "Vienna NGO", "--acronym", "VNGO")
        cli("person", "add", "Ada Focal", "--email", "ada@vngo.example", "--organisation", "VNGO")
        assert "Ada Focal is the focal point of VNGO" in cli(
            "organisation", "focal-point", "VNGO", "Ada Focal")
        monkeypatch.setenv("ALLIANCE_EVENTS_SMTP_URL", server.url)
        monkeypatch.setenv("ALLIANCE_EVENTS_MAIL_FROM", SENDER)
        cli("notify", "run", "--once")  # starts the outbox now
        # The reminder falls 15 s from now (a minute before the deadline): time enough for
        # the preview to see it coming, on a loaded machine too.
        due = pendulum.now(VIENNA).add(minutes=1, seconds=15)
        cli("deadline", "set", "Annual report", "--due", due.format("YYYY-MM-DD HH:mm:ss"),
            "--reminder", "PT1M", "--organisation", "VNGO")
        (planned,) = json.loads(cli("notify", "preview", "--days", "1", "--json"))
        assert planned["subject"].startswith("Reminder: Annual report")
        assert planned["organisation"] == "VNGO" and planned["state"] == "planned"
        # The command line reads the machine's clock: wait for the reminder's moment.
        time.sleep(max(0.0, (due.subtract(minutes=1) - pendulum.now()).total_seconds()) + 0.2)
        cli("notify", "run", "--once")
        (got,) = server.messages()
        assert got.recipients == ["ada@vngo.example"]
        assert "1 sent" in cli("notify", "status")

    def test_bad_settings_are_one_line_errors(self, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("ALLIANCE_EVENTS_SMTP_URL", "http://mail.example.org")
        result = CliRunner().invoke(main, ["--db", str(tmp_path / "x.db"), "notify", "run",
                                           "--sender", SENDER, "--once"])
        assert result.exit_code == 2
        assert "the scheme must be smtp or smtps" in result.output
        result = CliRunner().invoke(main, ["--db", str(tmp_path / "x.db"), "notify", "run",
                                           "--sender", SENDER, "--grace", "P400D"])
        assert result.exit_code == 2 and "outside 0 to 366 days" in result.output


class TestSettings:
    @pytest.mark.parametrize(("url", "expected"), [
        ("smtp://u:p%40ss@mail.example.org:587", ("mail.example.org", 587, False, True, "p@ss")),
        ("smtp://mail.example.org", ("mail.example.org", 25, False, False, "")),
        ("smtps://u:x@mail.example.org", ("mail.example.org", 465, True, False, "x")),
        ("smtp://mail.example.org:2525?starttls=on", ("mail.example.org", 2525, False, True, "")),
    ])
    def test_urls(self, url: str, expected: tuple[object, ...]) -> None:
        s = SmtpSettings.from_url(url)
        assert (s.host, s.port, s.tls, s.starttls, s.password) == expected
        assert "p@ss" not in repr(s)

    @pytest.mark.parametrize("url", ["smtp://", "smtp://h:99999", "smtp://h?tls=1",
                                     "smtp://h?starttls=maybe", "smtp://h?timeout=0"])
    def test_bad_urls_say_what_is_wrong(self, url: str) -> None:
        with pytest.raises(ValueError, match="ALLIANCE_EVENTS_SMTP_URL"):
            SmtpSettings.from_url(url)

    def test_a_settings_file(self, tmp_path: Path) -> None:
        path = tmp_path / "smtp"
        path.write_text("# the relay\nsmtp://relay.example.org:587\n")
        assert smtp_settings(path).host == "relay.example.org"


@given(st.lists(st.sampled_from(["pass", "crash", "busy", "advance"]), max_size=25))
def test_every_due_message_is_delivered_and_duplicates_are_the_same_message(
    steps: list[str],
) -> None:
    """Whatever the order of passes, crashes and refusals: each message due is delivered
    at least once, and two deliveries of a message are the same e-mail."""
    case = minutes()
    case.clock.set(at("2027-03-25 23:00"))

    class Flaky:
        def __init__(self) -> None:
            self.mode = "ok"
            self.delivered: list[EmailMessage] = []

        def send(self, email: EmailMessage) -> None:
            if self.mode == "busy":
                raise DeliveryError("451 try later")
            self.delivered.append(email)
            if self.mode == "crash":  # delivered, then the process dies before recording
                raise KeyboardInterrupt

    sender = Flaky()
    worker = Notifier(case.alliance, sender, SETTINGS)
    for step in [*steps, "advance"]:
        if step == "advance":
            case.clock.advance(hours=40)
        sender.mode = {"crash": "crash", "busy": "busy"}.get(step, "ok")
        try:
            worker.run_once()
        except KeyboardInterrupt:
            worker.close()
            worker = Notifier(case.alliance, sender, SETTINGS)
    sender.mode = "ok"
    for _ in range(12):  # the retries' back-off is at most an hour
        case.clock.advance(hours=1)
        worker.run_once()
    worker.close()
    by_id: dict[str, list[bytes]] = {}
    for email in sender.delivered:
        by_id.setdefault(str(email["Message-ID"]), []).append(email.as_bytes())
    decided = outbox_state(case.alliance).messages.values()
    sent = {m.message_id for m in decided if m.status is MessageStatus.SENT}
    assert all(len(set(copies)) == 1 for copies in by_id.values())
    assert {key.strip("<>").split("@")[0] for key in by_id} == {str(i) for i in sent}
    assert all(m.status in (MessageStatus.SENT, MessageStatus.SKIPPED) for m in decided)


def test_on_every_backend(log_url: str) -> None:
    """The same reminders, once, from a worker restarted on the same log (memory: one
    handle), SQLite and PostgreSQL."""
    case = minutes(log_url)
    sender = Collect()
    with Notifier(case.alliance, sender, SETTINGS) as worker:
        case.clock.set(at("2027-03-26 00:00"))
        assert worker.run_once().sent == 2
    with Notifier(case.alliance, sender, SETTINGS) as worker:
        case.clock.set(at("2027-03-26 01:00"))
        assert worker.run_once().sent == 0
    assert len(sender.sent) == 2
    case.alliance.close()
