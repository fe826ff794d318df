"""The one writer of every CSV the server hands out: no cell ever runs as a formula.

A spreadsheet opening a CSV takes a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab
or a carriage return (OWASP's list, with a line feed) for a formula: a clerk, a counter, a
criterion or a comment named ``=HYPERLINK(…)`` would become a live link. Every text cell
that starts so is written with a leading apostrophe, which spreadsheets show as text and do
not display; numbers are written as numbers. The file starts with a byte-order mark, so that
Excel reads the Vietnamese, and ends its lines with CRLF.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")

Cell = str | int


def neutralised(cell: Cell) -> Cell:
    """A text cell a spreadsheet would run, made text; any other cell as it is."""
    if isinstance(cell, str) and cell.startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def spreadsheet_csv(rows: Iterable[Sequence[Cell]]) -> str:
    """``rows`` as CSV text for spreadsheets, every text cell neutralised."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows([neutralised(cell) for cell in row] for row in rows)
    return "\ufeff" + buffer.getvalue()
