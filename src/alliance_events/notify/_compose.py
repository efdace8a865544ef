"""The e-mail of one queued message: plain text, HTML and the item as iCalendar.

Built from the message's record (its subject and lines, without personal data) and,
only now, the recipients' names and addresses from their person streams. The same
message builds the same e-mail (same ``Message-ID``, same ``Date``: the moment it was
due), so a message sent again after a crash is the same message, not a second one.
"""

from __future__ import annotations

import html
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from alliance_events.domain.outbox import Message, MessageKind
from alliance_events.ical import Audience, item_invitation, subscribe_links
from alliance_events.projections.alliance import AllianceState

__all__ = ["compose", "message_id_header"]

_WHY = {
    MessageKind.REMINDER: "as the focal point of {organisation}",
    MessageKind.URGENT_CHANGE: "as the focal point of {organisation}",
    MessageKind.NOMINATION: "as a delegate of {organisation}, or its focal point",
}


def message_id_header(message: Message, sender: str) -> str:
    """Return the ``Message-ID`` of ``message``: its id, at the sender's domain."""
    domain = sender.rpartition("@")[2] or "alliance-events.invalid"
    return f"<{message.message_id}@{domain}>"


def compose(
    message: Message,
    state: AllianceState,
    *,
    sender: str,
    alliance_name: str,
) -> EmailMessage | None:
    """Build the e-mail of ``message``, or ``None`` if none of its recipients has an address.

    Only recipients who are still persons of the message's organisation are written to:
    no message carries one organisation's people to another.
    """
    people = [state.persons.get(p) for p in message.recipients]
    recipients = [
        p for p in people
        if p is not None and p.email and p.organisation_id == message.organisation_id
    ]
    if not recipients:
        return None
    organisation = state.organisation_name(message.organisation_id)
    email = EmailMessage()
    email["From"] = formataddr((alliance_name, sender))
    email["To"] = ", ".join(formataddr((p.name, p.email)) for p in recipients)
    email["Subject"] = message.subject
    email["Date"] = format_datetime(message.due_at.in_timezone("UTC"))
    email["Message-ID"] = message_id_header(message, sender)
    email["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to it
    greeting = "Dear " + " and ".join(p.name for p in recipients) + ","
    links = _links(state)
    footer = (f"You receive this {_WHY[message.kind].format(organisation=organisation)} "
              f"for the {alliance_name}.")
    text = "\n\n".join([greeting, *message.lines, *links, footer]) + "\n"
    email.set_content(text)
    paragraphs = "".join(
        f"<p>{html.escape(part)}</p>\n" for part in [greeting, *message.lines]
    )
    anchors = "".join(
        f'<p><a href="{html.escape(url)}">{html.escape(label)}</a></p>\n'
        for label, url in _link_pairs(state)
    )
    email.add_alternative(
        "<!DOCTYPE html>\n<html><body>\n" + paragraphs + anchors
        + f"<p><small>{html.escape(footer)}</small></p>\n</body></html>\n",
        subtype="html",
    )
    if message.item_id is not None:
        invitation = item_invitation(state, message.item_id,
                                     Audience.organisation(message.organisation_id),
                                     now=message.due_at)
        if invitation is not None:
            email.add_attachment(invitation, maintype="text", subtype="calendar",
                                 filename="item.ics", params={"method": "PUBLISH"})
    # Boundaries from the message's id, not random: built again, the same bytes.
    for index, part in enumerate(p for p in email.walk() if p.is_multipart()):
        part.set_boundary(f"=={message.message_id.hex}.{index}==")
    return email


def _link_pairs(state: AllianceState) -> list[tuple[str, str]]:
    base = state.feed_settings.base_url
    if not base:
        return []
    links = subscribe_links(base)
    return [("The alliance's calendar (subscribe)", links.page),
            ("Calendar feed", links.https)]


def _links(state: AllianceState) -> list[str]:
    pairs = _link_pairs(state)
    if not pairs:
        return []
    lines = [f"{label}: {url}" for label, url in pairs]
    lines.append("Your organisation's private calendar is at the address it was given "
                 "when its feed token was issued.")
    return ["\n".join(lines)]
