"""A feed's addresses, the three ways calendar programs take them (calendar rule 18).

Apple Calendar, Thunderbird and classic Outlook open a ``webcal://`` link; Google
Calendar wants ``https://calendar.google.com/calendar/render?cid=webcal://…`` (it
refuses ``cid=https://…``); Outlook on the web and new Outlook take the plain ``https``
address pasted in (new Outlook strips ``webcal:``).
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

import attrs

__all__ = ["FeedLinks", "subscribe_links"]


@attrs.frozen
class FeedLinks:
    """One feed's addresses and the page that offers them.

    Attributes:
        https: the feed's plain address (Outlook on the web; any program).
        webcal: the ``webcal://`` link (Apple Calendar, Thunderbird, classic Outlook).
        google: the link that adds the feed to Google Calendar.
        page: the subscribe page offering the three.

    """

    https: str
    webcal: str
    google: str
    page: str

    def __getitem__(self, name: str) -> str:
        """``links["webcal"]``: the address by name (as a mapping of the four)."""
        value: str = getattr(self, name)
        return value


def subscribe_links(base_url: str, token: str | None = None) -> FeedLinks:
    """Return the public feed's addresses under ``base_url``, or an organisation's.

    ``token`` (an organisation's feed token) gives the private feed ``/o/<token>/…``.

    >>> links = subscribe_links("https://events.example.org/")
    >>> links.https
    'https://events.example.org/calendar.ics'
    >>> links.webcal
    'webcal://events.example.org/calendar.ics'
    >>> links.google
    'https://calendar.google.com/calendar/render?cid=webcal%3A%2F%2Fevents.example.org%2Fcalendar.ics'
    >>> subscribe_links("https://events.example.org", token="abc").page
    'https://events.example.org/o/abc/'
    """
    root = base_url.rstrip("/")
    if token is not None:
        root = f"{root}/o/{quote(token, safe='')}"
    plain = f"{root}/calendar.ics"
    webcal = "webcal://" + plain.split("://", 1)[-1]
    google = "https://calendar.google.com/calendar/render?" + urlencode({"cid": webcal})
    return FeedLinks(https=plain, webcal=webcal, google=google, page=f"{root}/")
