"""The subscribe pages: the public one (``/``) and an organisation's (``/o/<token>/``).

Each offers its feed the three ways calendar programs take it (calendar rule 18),
says honestly how fresh a subscribed calendar is (programs fetch every few hours; the
product promises no other channel it does not have), and lists the meetings to come.
The HTML is valid (checked by the Nu Html Checker in the tests) and accessible: a
language, one ``h1`` and ordered headings, a label for every field, link texts that say
where they lead, and colours of at least 4.5:1 contrast (:data:`PALETTE`).
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from html import escape
from typing import Final

import attrs

from alliance_events import FeedLinks, When, describe_when

__all__ = ["PALETTE", "STYLE", "STYLE_HASH", "Delegate", "Listed", "listed", "page"]

PALETTE: Final = {
    # name: (text colour, background colour); WCAG AA wants 4.5:1 for normal text
    "body": ("#1b1b1b", "#ffffff"),
    "link": ("#0a4b94", "#ffffff"),
    "muted": ("#4d4d4d", "#ffffff"),
    "cancelled": ("#8b1a1a", "#ffffff"),
    "note": ("#1b1b1b", "#f1f4f8"),
}

STYLE: Final = (
    "body{font-family:system-ui,sans-serif;line-height:1.5;margin:0 auto;max-width:46rem;"
    f"padding:1rem;color:{PALETTE['body'][0]};background:{PALETTE['body'][1]}}}"
    f"a{{color:{PALETTE['link'][0]}}}"
    "a:focus,input:focus{outline:3px solid #0a4b94;outline-offset:2px}"
    "input{font:inherit;width:100%;box-sizing:border-box;padding:.4rem}"
    f".muted{{color:{PALETTE['muted'][0]}}}"
    f".cancelled{{color:{PALETTE['cancelled'][0]};text-decoration:line-through}}"
    f".note{{background:{PALETTE['note'][1]};color:{PALETTE['note'][0]};padding:.5rem 1rem}}"
    "ol.meetings{padding-left:1.2rem}ol.meetings li{margin-bottom:.6rem}"
)
"""The pages' one style sheet (inline; allowed by its hash in the CSP)."""

STYLE_HASH: Final = "sha256-" + base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
"""The CSP source that allows :data:`STYLE` and nothing else."""


@attrs.frozen
class Delegate:
    """One person of an organisation's delegation, as its own page shows them."""

    name: str
    role: str
    status: str


@attrs.frozen
class Listed:
    """A meeting to come, as a subscribe page lists it."""

    title: str
    when: str  # said in the meeting's own zone
    status: str  # tentative, confirmed, cancelled
    delegation: tuple[Delegate, ...] = ()


def listed(title: str, when: When, status: str, delegation: Sequence[Delegate] = ()) -> Listed:
    """Return a :class:`Listed` meeting, its time said in its own zone."""
    return Listed(title=title, when=describe_when(when), status=status,
                  delegation=tuple(delegation))


def _meetings(meetings: Sequence[Listed], *, empty: str) -> str:
    if not meetings:
        return f'<p class="muted">{escape(empty)}</p>'
    items = []
    for meeting in meetings:
        status = ""
        title = escape(meeting.title)
        if meeting.status == "cancelled":
            title = f'<span class="cancelled">{title}</span>'
            status = " (cancelled)"
        elif meeting.status == "tentative":
            status = " (to be confirmed)"
        delegation = ""
        if meeting.delegation:
            people = "".join(
                f"<li>{escape(d.name)}: {escape(d.role)}, {escape(d.status)}</li>"
                for d in meeting.delegation
            )
            delegation = f'<p class="muted">Your delegation:</p><ul>{people}</ul>'
        items.append(
            f"<li><strong>{title}</strong>{status}<br>"
            f'<span class="muted">{escape(meeting.when)}</span>{delegation}</li>'
        )
    return f'<ol class="meetings">{"".join(items)}</ol>'


def page(
    *,
    name: str,
    links: FeedLinks,
    meetings: Sequence[Listed],
    organisation: str | None = None,
) -> str:
    """Return a subscribe page: the public one, or ``organisation``'s private one.

    Args:
        name: the calendar's name.
        links: the feed's addresses.
        meetings: the meetings to come, first first (the page shows them all).
        organisation: for an organisation's page, its name.

    """
    if organisation is None:
        title = name
        lede = "The alliance's meetings and public deadlines, in your calendar program."
        private = ""
        heading = "Meetings to come"
    else:
        title = f"{organisation}: your private calendar"
        lede = (f"The meetings and public deadlines of the {name}, with the delegation "
                f"and the deadlines of {organisation}.")
        private = (
            '<p class="note"><strong>This address is private.</strong> Whoever has it sees '
            f"{escape(organisation)}'s delegation. Do not share it outside your organisation; "
            "if it leaks, ask the secretariat for a new one (the old one then stops "
            "working).</p>"
        )
        heading = "Meetings to come, with your delegation"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="referrer" content="no-referrer">\n'
        f"<title>{escape(title)}</title>\n"
        f"<style>{STYLE}</style>\n"
        "</head>\n"
        "<body>\n"
        f"<header><h1>{escape(title)}</h1><p>{escape(lede)}</p></header>\n"
        "<main>\n"
        f"{private}\n"
        '<section aria-labelledby="subscribe">\n'
        '<h2 id="subscribe">Subscribe</h2>\n'
        "<ul>\n"
        f'<li><a href="{escape(links.webcal)}">Add to Apple Calendar, Thunderbird or '
        "classic Outlook</a> (a webcal link)</li>\n"
        f'<li><a href="{escape(links.google)}">Add to Google Calendar</a></li>\n'
        "</ul>\n"
        '<p><label for="address">Outlook on the web, new Outlook and other programs: add a '
        "calendar from the internet with this address</label>\n"
        f'<input id="address" type="url" readonly value="{escape(links.https)}"></p>\n'
        '<p class="muted">Calendar programs fetch a subscribed calendar again every few '
        "hours (Google Calendar as seldom as once a day), so a change can take that long "
        "to reach your calendar: this page always shows the latest.</p>\n"
        "</section>\n"
        '<section aria-labelledby="upcoming">\n'
        f'<h2 id="upcoming">{escape(heading)}</h2>\n'
        f"{_meetings(meetings, empty='No meeting is planned yet.')}\n"
        "</section>\n"
        "</main>\n"
        "</body>\n"
        "</html>\n"
    )
