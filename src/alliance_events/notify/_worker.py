"""The outbox's worker: decide what is due, record the decision, send, record the sending.

One pass (:meth:`Notifier.run_once`) does, at the clock's time:

1. the log's new records (followed under the consumer name ``notify``, from where the
   outbox started): the urgent changes and nominations they call for are decided;
2. the deadlines' reminders whose instant has come since the outbox started are decided;
3. every decided message not yet sent is sent (or retried, when its time has come).

To decide is to record ``MessageQueued`` (or ``MessageSkipped``: nobody to write to, or
its moment passed more than the grace period ago) in the message's own stream, whose id
derives from the cause: a message is decided once, whoever decides it. It is sent only
after that record is stored, and ``MessageSent`` is recorded after the mail server took
it. A crash between the two sends it again at the next start, as the same e-mail (same
Message-ID): at least once, never two different messages. A refusal of the server is
recorded too: a permanent one (5xx) ends the message as failed; any other is retried
with a back-off that doubles, up to an hour.
"""

from __future__ import annotations

import datetime as _dt
import threading
import uuid
from collections import Counter
from collections.abc import Callable
from email.message import EmailMessage
from typing import TYPE_CHECKING, Any, Final, Protocol

import attrs
import pendulum

from alliance_events.domain import outbox as ob
from alliance_events.domain.deadlines import due_instant, reminder_instant
from alliance_events.errors import DeliveryError, DomainError
from alliance_events.ical import DEFAULT_NAME
from alliance_events.log.follow import Follower, Start
from alliance_events.notify._compose import compose
from alliance_events.notify._plan import Planned, for_record, reminders
from alliance_events.projections.outbox import OutboxProjection, OutboxState
from alliance_events.projections.runner import ProjectionRunner
from alliance_events.timing import describe_moment

if TYPE_CHECKING:
    from alliance_events.app import Alliance

__all__ = [
    "CONSUMER",
    "Notifier",
    "NotifySettings",
    "PassReport",
    "Preview",
    "Sender",
    "outbox_state",
    "preview",
]

CONSUMER: Final = "notify"
"""The consumer name under which the worker follows the log."""

_START_COMMAND: Final = uuid.UUID("0b7e3d7e-5a52-5a3f-8f0e-4f0f6a1c2b10")


class Sender(Protocol):
    """Hands an e-mail to a mail server (``alliance_events.mail.SmtpSender`` does)."""

    def send(self, email: EmailMessage) -> None:
        """Send it; raise :class:`~alliance_events.errors.DeliveryError` if not taken."""
        ...


@attrs.frozen(kw_only=True)
class NotifySettings:
    """How the outbox works.

    Attributes:
        sender: the From address (the Message-IDs take its domain).
        alliance_name: the name the messages sign with.
        grace: how late a message may still go; later, it is recorded as skipped.
        horizon: a meeting cancelled or moved starting within this much of the change
            is an urgent change (its organisations get a message).
        retry_first: the wait before the first retry of a failed sending; it doubles.
        retry_most: the longest wait between two retries.
        actor: who the outbox's records say decided them.

    """

    sender: str
    alliance_name: str = DEFAULT_NAME
    grace: _dt.timedelta = _dt.timedelta(hours=6)
    horizon: _dt.timedelta = _dt.timedelta(days=7)
    retry_first: _dt.timedelta = _dt.timedelta(seconds=30)
    retry_most: _dt.timedelta = _dt.timedelta(hours=1)
    actor: str = "notify"

    def __attrs_post_init__(self) -> None:
        if "@" not in self.sender or any(c in self.sender for c in " <>\r\n"):
            raise ValueError(f"sender must be an e-mail address, got {self.sender!r}")
        for name in ("grace", "horizon", "retry_first", "retry_most"):
            value = getattr(self, name)
            if not _dt.timedelta(0) <= value <= _dt.timedelta(days=366):
                raise ValueError(f"{name} must be from 0 to 366 days, got {value}")


@attrs.frozen(kw_only=True)
class PassReport:
    """What one pass did, and when the next has something to do."""

    queued: int = 0
    skipped: int = 0
    sent: int = 0
    failed: int = 0  # attempts that failed (retried, or for good)
    next_due: pendulum.DateTime | None = None


@attrs.frozen(kw_only=True)
class Preview:
    """A message the outbox will send (or retry), and when."""

    at: pendulum.DateTime
    kind: ob.MessageKind
    organisation_id: uuid.UUID
    subject: str
    recipients: int  # 0: nobody to write to (it will be skipped)
    pending: bool  # decided already, not yet sent


def outbox_state(alliance: Alliance) -> OutboxState:
    """Return the outbox's state, folded from the log (for ``notify status``)."""
    runner = ProjectionRunner(alliance.log, OutboxProjection())
    runner.catch_up()
    return runner.state


def preview(alliance: Alliance, *, until: _dt.datetime) -> list[Preview]:
    """Return what the outbox will send from now until ``until``, earliest first.

    The messages decided and not yet sent, then the reminders due by then (to the
    organisations that owe as of now). Urgent changes and nominations come from records
    not yet made: none.
    """
    now = pendulum.instance(alliance.clock())
    outbox = outbox_state(alliance)
    found = [
        Preview(at=m.retry_at or now, kind=m.kind, organisation_id=m.organisation_id,
                subject=m.subject, recipients=len(m.recipients), pending=True)
        for m in outbox.pending()
    ]
    start = now if outbox.notifier is None else max(now, outbox.notifier.from_time)
    found.extend(
        Preview(at=p.due_at, kind=p.kind, organisation_id=p.organisation_id,
                subject=p.subject, recipients=len(p.recipients), pending=False)
        for p in reminders(alliance.state, start, until)
        if p.message_id not in outbox.messages
    )
    return sorted(found, key=lambda p: (p.at, p.subject, str(p.organisation_id)))


class Notifier:
    """The outbox's worker over one alliance (see the module).

    Claims the consumer name ``notify`` while open: a second worker on the same log
    raises :class:`~alliance_events.errors.ConsumerBusyError` (or waits ``lock_timeout``
    seconds for the first to stop).
    """

    def __init__(
        self,
        alliance: Alliance,
        sender: Sender,
        settings: NotifySettings,
        *,
        start: Start = "now",
        lock_timeout: float | None = 0.0,
        poll_interval: float = 1.0,
    ) -> None:
        """Start (the first time: record where the outbox starts) and claim the log.

        Args:
            alliance: the alliance whose log the outbox follows and records in.
            sender: what sends the e-mails.
            settings: how (see :class:`NotifySettings`).
            start: where the outbox starts the first time it runs on this log:
                ``"now"`` (the log's head and the clock's time: nothing of the past is
                sent) or a position (the records after it; reminders from the time of
                that record). Ignored afterwards: the start recorded stands.
            lock_timeout: seconds to wait for another worker to stop.
            poll_interval: seconds between looks at a SQLite log for new records.

        """
        self.alliance = alliance
        self.sender = sender
        self.settings = settings
        self._outbox = ProjectionRunner(alliance.log, OutboxProjection())
        self._outbox.catch_up()
        known = self._outbox.state.notifier
        first = alliance.log.head() if start == "now" else (0 if start == "origin" else start)
        self._follower = Follower(
            alliance.log, CONSUMER,
            start=first if known is None else known.from_position,
            lock_timeout=lock_timeout, poll_interval=poll_interval,
        )
        try:
            self.started = known if known is not None else self._start(self._follower.checkpoint)
        except BaseException:
            self._follower.close()
            raise
        self._stop = threading.Event()

    def _start(self, position: int) -> ob.NotifierState:
        now = self._now()
        from_time = now
        if position > 0 and position < self.alliance.log.head():
            record = next(iter(self.alliance.log.read_all(after=position - 1, limit=1)), None)
            if record is not None:
                from_time = pendulum.instance(record.recorded_at)
        command = ob.StartNotifier(command_id=_START_COMMAND, at=now, actor=self.settings.actor,
                                   from_position=position, from_time=from_time)
        self.alliance.execute(command)
        self._outbox.catch_up()
        started = self._outbox.state.notifier
        assert started is not None  # noqa: S101 - recorded just now
        return started

    # -- the loop ------------------------------------------------------------------------

    def run(self, *, max_wait: float = 60.0, on_pass: Callable[[PassReport], None] | None = None
            ) -> None:
        """Run passes until :meth:`stop`: each when something is due or the log moves."""
        while not self._stop.is_set():
            report = self.run_once()
            if on_pass is not None:
                on_pass(report)
            wait = max_wait
            if report.next_due is not None:
                wait = min(wait, max(0.0, (report.next_due - self._now()).total_seconds()))
            if wait > 0 and not self._stop.is_set():
                self._follower.wait(wait)

    def stop(self) -> None:
        """End :meth:`run` (from another thread, or a signal handler)."""
        self._stop.set()
        self._follower.stop()

    def close(self) -> None:
        """Release the consumer name."""
        self._follower.close()

    def __enter__(self) -> Notifier:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def run_once(self) -> PassReport:
        """Do one pass at the clock's time (see the module); return what it did."""
        counts: Counter[str] = Counter()
        now = self._now()
        while batch := self._follower.poll():
            state = self.alliance.state
            self._outbox.catch_up()
            for record in batch:
                if record.position <= self.started.from_position:
                    continue
                for planned in for_record(state, record, horizon=self.settings.horizon):
                    counts[self._decide(planned, now)] += 1
            self._follower.ack()
        state = self.alliance.state
        self._outbox.catch_up()
        for planned in reminders(state, self.started.from_time, now):
            counts[self._decide(planned, now)] += 1
        self._outbox.catch_up()
        for message in self._outbox.state.pending():
            if message.retry_at is None or message.retry_at <= now:
                counts[self._send(message, now)] += 1
        self._outbox.catch_up()
        return PassReport(queued=counts["queued"], skipped=counts["skipped"],
                          sent=counts["sent"], failed=counts["failed"],
                          next_due=self._next_due(now))

    # -- one message ---------------------------------------------------------------------

    def _decide(self, planned: Planned, now: pendulum.DateTime) -> str:
        if planned.message_id in self._outbox.state.messages:
            return "known"
        reason = ""
        if not planned.recipients:
            reason = (f"{self.alliance.state.organisation_name(planned.organisation_id)} has "
                      "no focal point with an e-mail address")
        elif now - planned.due_at > self.settings.grace:
            reason = (f"due {describe_moment(planned.due_at)}, more than "
                      f"{_say(self.settings.grace)} before the outbox could send it")
        fields: dict[str, Any] = {"message_id": planned.message_id, "kind": planned.kind,
                  "organisation_id": planned.organisation_id, "due_at": planned.due_at,
                  "subject": planned.subject}
        if reason:
            command: ob.QueueMessage | ob.SkipMessage = ob.SkipMessage(
                command_id=uuid.uuid5(planned.message_id, "decide"), at=now,
                actor=self.settings.actor, reason=reason, **fields)
        else:
            command = ob.QueueMessage(
                command_id=uuid.uuid5(planned.message_id, "decide"), at=now,
                actor=self.settings.actor, recipients=planned.recipients,
                lines=planned.lines, item_id=planned.item_id, **fields)
        try:
            self.alliance.execute(command)
        except DomainError:
            return "known"  # decided by another worker meanwhile
        self._outbox.catch_up()
        return "skipped" if reason else "queued"

    def _send(self, message: ob.Message, now: pendulum.DateTime) -> str:
        email = compose(message, self.alliance.state, sender=self.settings.sender,
                        alliance_name=self.settings.alliance_name)
        attempt = message.attempts + 1
        command_id = uuid.uuid5(message.message_id, f"attempt-{attempt}")
        actor, message_id = self.settings.actor, message.message_id
        if email is None:
            self._execute(ob.RecordSendFailure(
                command_id=command_id, at=now, actor=actor, message_id=message_id,
                permanent=True, error="none of its recipients has an e-mail address any more"))
            return "failed"
        try:
            self.sender.send(email)
        except DeliveryError as error:
            retry_at = None if error.permanent else now + self._back_off(attempt)
            self._execute(ob.RecordSendFailure(
                command_id=command_id, at=now, actor=actor, message_id=message_id,
                error=str(error), permanent=error.permanent, retry_at=retry_at))
            return "failed"
        self._execute(ob.RecordMessageSent(command_id=command_id, at=now, actor=actor,
                                           message_id=message_id))
        return "sent"

    def _execute(self, command: ob.RecordSendFailure | ob.RecordMessageSent) -> None:
        self.alliance.execute(command)
        self._outbox.catch_up()

    def _back_off(self, attempt: int) -> _dt.timedelta:
        first, most = self.settings.retry_first, self.settings.retry_most
        wait: _dt.timedelta = min(most, first * 2 ** min(attempt - 1, 30))
        return wait

    def _next_due(self, now: pendulum.DateTime) -> pendulum.DateTime | None:
        """Return the next instant something is due: a reminder, or a retry."""
        moments = [
            m.retry_at for m in self._outbox.state.pending() if m.retry_at is not None
        ]
        if any(m.retry_at is None for m in self._outbox.state.pending()):
            moments.append(now)
        for deadline in self.alliance.state.all_deadlines():
            if deadline.cancelled:
                continue
            due = due_instant(deadline.due)
            moments.extend(
                m for r in deadline.reminders if (m := reminder_instant(due, r)) > now
            )
        return min(moments, default=None)

    def _now(self) -> pendulum.DateTime:
        return pendulum.instance(self.alliance.clock())


def _say(duration: _dt.timedelta) -> str:
    hours, rest = divmod(int(duration.total_seconds()), 3600)
    return f"{hours} h {rest // 60:02d} min" if rest else f"{hours} h"
