r"""Text hygiene for calendar output: what may go into a TEXT value, and what may not.

``icalendar`` escapes ``\ ; ,`` and turns CR, LF and CRLF into ``\n``, so a newline
in a title can never start a property or a component; but it passes other control
characters (NUL, BEL, ESC, VT...) through, although RFC 5545 forbids them in TEXT and
clients differ on what they do with them (calendar rule 15). So every text is
cleaned here first.
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["clean_text", "one_line"]

# C0 controls but TAB, LF and CR (which become the escaped newline "\n"), DEL, and the
# byte-order mark U+FEFF (invisible; some parsers drop it at the start of a value).
_CONTROLS: Final = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufeff]")
_NEWLINES: Final = re.compile("\r\n?")
_LINE_BREAKS: Final = re.compile("[\r\n]+")


def clean_text(text: str) -> str:
    r"""Return ``text`` without control characters (TAB kept), with every newline as LF.

    >>> clean_text("Room\x07 C3\r\nVIC\rVienna\tA")
    'Room C3\nVIC\nVienna\tA'
    """
    if text.isprintable():  # no control character, no line break (the usual case)
        return text
    text = _CONTROLS.sub("", text)
    return _NEWLINES.sub("\n", text) if "\r" in text else text  # most: LF or none


def one_line(text: str) -> str:
    r"""Return ``text`` cleaned and on one line (for values written unescaped).

    >>> one_line(" Alliance\r\nEND:VCALENDAR ")
    'Alliance END:VCALENDAR'
    """
    if text.isprintable():
        return text.strip()
    return _LINE_BREAKS.sub(" ", clean_text(text)).strip()
