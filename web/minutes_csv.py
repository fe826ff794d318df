"""The counts of the minutes as one CSV for spreadsheets: machine codes in the header and
the section column, names as stored (written by ``web.csv_safe``: never a formula), every
breakdown of the main count and of each supplement. A pure function of the
:class:`web.minutes.Minutes`.
"""

from __future__ import annotations

from collections.abc import Iterable

from web.csv_safe import spreadsheet_csv
from web.minutes import ClerkChannelRow, Count, Minutes
from web.minutes_seal import Seal
from web.minutes_text import LEVELS, TABLES

CSV_HEADER = ("section", "key", "name", *LEVELS, "votes")


def _csv_rows(prefix: str, count: Count) -> Iterable[list[str | int]]:
    for breakdown in TABLES:
        for row in breakdown.rows(count):
            levels = [row.by_level[level] for level in LEVELS]
            section = breakdown.section
            if isinstance(row, ClerkChannelRow):  # clerk_button, clerk_phone_ticket, …
                section = f"clerk_{row.channel}"
            yield [prefix + section, row.key, row.name, *levels, row.votes]
    for row in count.by_criterion or ():
        levels = [row.by_level[level] for level in LEVELS]
        yield [prefix + "criterion", row.key, row.name, *levels, row.votes]
    levels = [count.by_level[level] for level in LEVELS]
    yield [prefix + "total", "", "", *levels, count.votes]
    if count.unverified is not None:  # never part of the official rows above
        yield from _csv_rows(prefix + "unverified ", count.unverified)


def minutes_csv(minutes: Minutes) -> str:
    """The counts as one CSV for spreadsheets: machine codes in the header and the sections,
    names as stored (a byte-order mark first, so that Excel reads the Vietnamese)."""
    rows: list[list[str | int]] = [list(CSV_HEADER), *_csv_rows("", minutes.count)]
    for supplement in minutes.supplements:
        rows.extend(_csv_rows(f"supplement {supplement.box} ", supplement.count))
    if minutes.seal is not None:  # how the box was unsealed: key, who typed a share, escrow
        rows.extend(_seal_rows(minutes.seal))
    return spreadsheet_csv(rows)


def _seal_rows(seal: Seal) -> Iterable[list[str | int]]:
    blank = [""] * (len(LEVELS) + 1)
    yield ["seal_key", seal.key or "", "", *blank]
    for giver in seal.shares:
        yield ["seal_share", giver.role, giver.name, *blank]
    if seal.escrow:
        yield ["seal_escrow_key", seal.escrow_key or "", "", *blank]
        for giver in seal.escrow_shares:
            yield ["seal_escrow_share", giver.role, giver.name, *blank]
