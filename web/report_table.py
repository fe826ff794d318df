"""A report as a table: what the page shows and every export (XLSX, CSV, PDF) writes.

Pure. Each report page builds one :class:`ReportTable` from its figures; the exporters
(``web.report_export``) write the same table, so a file says exactly what the page says.
Like the minutes, a table is dated and hashed: :meth:`ReportTable.content_hash` is the
SHA-256 of its canonical JSON (title, scope, period, columns, rows, notes, date), printed
on the page and in every file, so two copies can be compared.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime

from web.report_stats import Rate

Cell = str | int | Rate | None  # a rate keeps its part and whole (a file writes both ways)


@dataclass(frozen=True, slots=True)
class ReportTable:
    title: str  # e.g. "Báo cáo kết quả đánh giá mức độ hài lòng"
    unit: str  # the unit the report covers (the issuing body's line in a PDF)
    period: str  # the period in words (web.report_period.Period.label)
    columns: tuple[str, ...]
    rows: tuple[tuple[Cell, ...], ...]
    generated_at: datetime  # when it was made (Vietnam time)
    notes: tuple[str, ...] = field(default=())  # the rules printed under the table
    parent_unit: str | None = None  # the unit above (the issuing body's first line)

    def to_json(self) -> dict[str, object]:
        return {
            "title": self.title,
            "unit": self.unit,
            "parent_unit": self.parent_unit,
            "period": self.period,
            "columns": list(self.columns),
            "rows": [[_cell_json(cell) for cell in row] for row in self.rows],
            "notes": list(self.notes),
            "generated_at": self.generated_at.isoformat(timespec="seconds"),
        }

    def content_hash(self) -> str:
        data = json.dumps(self.to_json(), ensure_ascii=False, sort_keys=True,
                          separators=(",", ":"))  # fmt: skip
        return hashlib.sha256(data.encode()).hexdigest()


def _cell_json(cell: Cell) -> object:
    if isinstance(cell, Rate):
        return {"part": cell.part, "whole": cell.whole}
    return cell
