"""The minutes' downloads: which writer makes each file and how it is served.

Every file is a rendering of one :class:`web.minutes.Minutes` (``docs/minutes-format.md``),
but the JSON, which is the stored canonical bytes themselves (the content hash is theirs).
The writers live in their own modules: :mod:`web.minutes_pdf`, :mod:`web.minutes_xlsx`,
:mod:`web.minutes_csv`.
"""

from __future__ import annotations

from dataclasses import dataclass

from web.minutes import Minutes
from web.minutes_csv import minutes_csv
from web.minutes_pdf import minutes_pdf
from web.minutes_xlsx import minutes_xlsx


@dataclass(frozen=True, slots=True)
class Download:
    body: bytes | str
    mimetype: str


KINDS = ("json", "pdf", "xlsx", "csv")


def render(kind: str, minutes: Minutes, stored: bytes, content_hash: str) -> Download | None:
    """The minutes as a ``kind`` file (None for a kind there is not). ``stored``: the
    canonical JSON kept with the box; ``content_hash``: its SHA-256."""
    if kind == "json":
        return Download(stored, "application/json")
    if kind == "pdf":
        return Download(minutes_pdf(minutes, content_hash), "application/pdf")
    if kind == "xlsx":
        return Download(
            minutes_xlsx(minutes, content_hash),
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        )
    if kind == "csv":
        return Download(minutes_csv(minutes), "text/csv; charset=utf-8")
    return None


__all__ = ["KINDS", "Download", "minutes_csv", "minutes_pdf", "minutes_xlsx", "render"]
