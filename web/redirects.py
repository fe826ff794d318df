"""Where a page may send a browser after it: only to a path of this server.

``/login?next=…`` is the classic open redirect: browsers drop tabs and newlines from a
URL and read ``\\`` as ``/``, so ``/%09/evil.example`` or ``/\\evil.example`` leaves the site
although it starts with one ``/``. A target is accepted only when, as given and once more
percent-decoded, it starts with exactly one ``/``, holds no backslash, no white space and no
control or invisible character, and parses with neither scheme nor host; anything else
goes to the default page.
"""

from __future__ import annotations

import unicodedata
from urllib.parse import unquote, urlsplit

MAX_LENGTH = 2000


def _plain_path(text: str) -> bool:
    return (
        text.startswith("/")
        and not text.startswith("//")
        and "\\" not in text
        and not any(c.isspace() or unicodedata.category(c).startswith("C") for c in text)
    )


def local_target(value: str | None) -> str | None:
    """``value`` when it is a path on this server, else None."""
    if not value or len(value) > MAX_LENGTH:
        return None
    if not (_plain_path(value) and _plain_path(unquote(value))):
        return None
    parts = urlsplit(value)
    return value if not parts.scheme and not parts.netloc else None
