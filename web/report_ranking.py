"""The year-end emulation table (thi đua): clerks or offices ranked by satisfaction rate,
fairly.

Pure: :func:`rank` takes a :class:`web.report_query.Report` broken down by clerk or by
office and the minimum number of ballots (``web.report_settings.ranking_minimum``). The
rules, which :meth:`Ranking.notes` prints under every table:

* **Minimum.** Only rows with at least ``minimum`` ballots in the period are ranked; the
  others are listed apart, unranked (a row with no ballot has no rate: never ranked).
* **Order.** From the highest rate down. Rates are compared as exact fractions
  (``a/b`` equals ``c/d`` when ``a·d == b·c``), never as rounded percentages.
* **Ties.** Equal rates share a rank and the ranks after them are skipped (standard
  competition ranking: 1, 2, 2, 4). Within a rank rows are listed by full name (then
  office) in the order of the Vietnamese alphabet, ignoring tone marks: an order that says
  nothing about merit, and each row shows the same rank. The rows listed apart are in
  the same order.
* **Uncertainty.** Beside each rate its 95 % Wilson interval (``Rate.wilson``). A row
  whose interval overlaps the interval of a row at the next rank below is flagged "not
  clearly different from the next": the gap between them may be chance. Overlapping
  intervals are a deliberately simple, conservative reading (no test is run), one a
  reader can check with the numbers printed beside each rate.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from fractions import Fraction

from hom_phieu.i18n import _
from web.report_query import Breakdown, Report, ReportRow


@dataclass(frozen=True, slots=True)
class Placed:
    """One row of the table: ranked (``rank`` ≥ 1) or listed apart (``rank`` None)."""

    row: ReportRow
    rank: int | None
    tied: bool = False  # another row has the same rank
    close_to_next: bool = False  # its interval overlaps one of the next rank's

    @property
    def interval(self) -> tuple[float, float] | None:
        return self.row.rate.wilson()


@dataclass(frozen=True, slots=True)
class Ranking:
    by: Breakdown  # CLERK or OFFICE
    minimum: int
    ranked: tuple[Placed, ...]  # by rank, then by name
    unranked: tuple[Placed, ...]  # below the minimum, by name

    def notes(self) -> tuple[str, ...]:
        """The rule, in sentences printed under the table (and in every export)."""
        if self.by is Breakdown.CLERK:
            minimum = _(
                "Only clerks with at least {n} ballots in the period are ranked; the others "
                "are listed apart, unranked."
            )
        else:
            minimum = _(
                "Only offices with at least {n} ballots in the period are ranked; the others "
                "are listed apart, unranked."
            )
        return (
            minimum.format(n=self.minimum),
            _(
                "The satisfaction rate is the share of ballots rated satisfied or very "
                "satisfied (the official result: buttons and phone answers with the clerk's "
                "ticket); ranks go from the highest rate down."
            ),
            _(
                "Equal rates share a rank and the following ranks are skipped (1, 2, 2, 4); "
                "rows of the same rank are listed by name, which says nothing about merit."
            ),
            _(
                "Beside each rate is its 95% Wilson interval: the range where the true rate "
                'most likely lies, given the number of ballots. A row marked "not clearly '
                'different from the next" has an interval overlapping that of a row at the '
                "next rank: the difference between them may be due to chance."
            ),
        )


def rank(report: Report, minimum: int) -> Ranking:
    """Rank the report's rows (a breakdown by clerk or by office)."""
    if report.query.by not in (Breakdown.CLERK, Breakdown.OFFICE):
        raise ValueError(f"a ranking is of clerks or offices, not {report.query.by}")
    minimum = max(1, minimum)  # a row with no ballots has no rate to rank
    eligible = [row for row in report.rows if row.votes >= minimum]
    below = sorted((row for row in report.rows if row.votes < minimum), key=_by_name)
    eligible.sort(key=lambda row: (-_exact(row), *_by_name(row)))
    groups: list[list[ReportRow]] = []  # rows of equal rate, best first
    for row in eligible:
        if groups and _exact(row) == _exact(groups[-1][0]):
            groups[-1].append(row)
        else:
            groups.append([row])
    placed, position = [], 1
    for number, group in enumerate(groups):
        following = groups[number + 1] if number + 1 < len(groups) else []
        placed += [
            Placed(row, position, tied=len(group) > 1,
                   close_to_next=any(_overlap(row, other) for other in following))
            for row in group
        ]  # fmt: skip
        position += len(group)
    return Ranking(report.query.by, minimum, tuple(placed),
                   tuple(Placed(row, None) for row in below))  # fmt: skip


def _exact(row: ReportRow) -> Fraction:
    """The rate as an exact fraction (rows ranked all have ballots)."""
    return Fraction(row.rate.part, row.rate.whole)


def _by_name(row: ReportRow) -> tuple[str, str, str, str]:
    return _alphabetical(row.name), _alphabetical(row.office), row.name, row.key


def _alphabetical(text: str) -> str:
    """A key in the order of the Vietnamese alphabet, near enough for a list of names:
    letters without their tone and vowel marks, đ after every d (Đặng before Lê: a plain
    comparison of code points would put Đ after Z)."""
    letters = unicodedata.normalize("NFD", text.casefold().replace("đ", "dz"))
    return "".join(c for c in letters if not unicodedata.combining(c))


def _overlap(one: ReportRow, other: ReportRow) -> bool:
    a, b = one.rate.wilson(), other.rate.wilson()
    if a is None or b is None:
        return False
    return a[0] <= b[1] and b[0] <= a[1]
