"""The counts of the minutes as one CSV for spreadsheets: a header and a section column in
words (in the current language: Vietnamese for a Vietnamese reader), the row's code and name
as stored (written by ``web.csv_safe``: never a formula), every breakdown of the main count
and of each supplement, then how the box was unsealed. A pure function of the
:class:`web.minutes.Minutes`.
"""

from __future__ import annotations

from collections.abc import Iterable

from hom_phieu.i18n import N_, _
from web.csv_safe import spreadsheet_csv
from web.labels import CHANNEL_LABELS, LEVEL_LABELS, label
from web.minutes import ClerkChannelRow, Count, Minutes
from web.minutes_seal import Seal, giver_name
from web.minutes_text import LEVELS, TABLES, month

COLUMNS = (N_("Section"), N_("Code"), N_("Name"))  # then a column per level, then the total
SEPARATOR = " – "  # between a section's parts: "Phiếu đến muộn 10/2026 – Theo công chức"


def csv_header() -> list[str]:
    return [*(_(c) for c in COLUMNS), *(_(LEVEL_LABELS[level]) for level in LEVELS), _("Total")]


def _csv_rows(prefix: str, count: Count) -> Iterable[list[str | int]]:
    for breakdown in TABLES:
        for row in breakdown.rows(count):
            levels = [row.by_level[level] for level in LEVELS]
            section = _(breakdown.sheet)
            if isinstance(row, ClerkChannelRow):  # by clerk and channel: the channel named
                section += SEPARATOR + label(CHANNEL_LABELS, row.channel)
            yield [prefix + section, row.key, row.name, *levels, row.votes]
    for row in count.by_criterion or ():
        levels = [row.by_level[level] for level in LEVELS]
        yield [prefix + _("By criterion"), row.key, row.name, *levels, row.votes]
    levels = [count.by_level[level] for level in LEVELS]
    yield [prefix + _("Total"), "", "", *levels, count.votes]
    if count.unverified is not None:  # never part of the official rows above
        yield from _csv_rows(prefix + _("Unverified opinions") + SEPARATOR, count.unverified)


def minutes_csv(minutes: Minutes) -> str:
    """The counts as one CSV for spreadsheets (a byte-order mark first, so that Excel reads
    the Vietnamese)."""
    rows: list[list[str | int]] = [csv_header(), *_csv_rows("", minutes.count)]
    for supplement in minutes.supplements:
        late = _("Late ballots {box}").format(box=month(supplement.box))
        rows.extend(_csv_rows(late + SEPARATOR, supplement.count))
    if minutes.seal is not None:  # how the box was unsealed: key, who typed a share, escrow
        rows.extend(_seal_rows(minutes.seal))
    return spreadsheet_csv(rows)


def _seal_rows(seal: Seal) -> Iterable[list[str | int]]:
    blank = [""] * (len(LEVELS) + 1)
    yield [_("Box key"), seal.key or "", "", *blank]
    for giver in seal.shares:
        yield [_("Share of the box key typed by"), "", giver_name(giver), *blank]
    if seal.escrow:
        yield [_("Escrow key"), seal.escrow_key or "", "", *blank]
        for giver in seal.escrow_shares:
            yield [_("Share of the escrow key typed by"), "", giver_name(giver), *blank]
