"""The counts of the minutes as one CSV for spreadsheets: machine codes in the header and
the section column, names as stored (formula-safe), every breakdown of the main count and of each
supplement. A pure function of the :class:`web.minutes.Minutes`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from web.minutes import Count, Minutes
from web.minutes_text import LEVELS, TABLES

CSV_HEADER = ("section", "key", "name", *LEVELS, "votes")
# A cell a spreadsheet would take for a formula (OWASP's list): written with a leading
# apostrophe, so a clerk, counter or criterion named "=HYPERLINK(…)" stays text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _text(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def _csv_rows(prefix: str, count: Count) -> Iterable[list[str | int]]:
    for breakdown in TABLES:
        for row in breakdown.rows(count):
            levels = [row.by_level[level] for level in LEVELS]
            yield [prefix + breakdown.section, _text(row.key), _text(row.name), *levels, row.votes]
    for row in count.by_criterion or ():
        levels = [row.by_level[level] for level in LEVELS]
        yield [prefix + "criterion", _text(row.key), _text(row.name), *levels, row.votes]
    levels = [count.by_level[level] for level in LEVELS]
    yield [prefix + "total", "", "", *levels, count.votes]


def minutes_csv(minutes: Minutes) -> str:
    """The counts as one CSV for spreadsheets: machine codes in the header and the sections,
    names as stored. Starts with a byte-order mark so that Excel reads the Vietnamese."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    writer.writerows(_csv_rows("", minutes.count))
    for supplement in minutes.supplements:
        writer.writerows(_csv_rows(f"supplement {supplement.box} ", supplement.count))
    return "\ufeff" + buffer.getvalue()
