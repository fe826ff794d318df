"""Every CSV the server writes goes through web/csv_safe.py, and no cell it writes starts
like a formula, whatever the text (issue 10, "Outputs and faults")."""

from __future__ import annotations

import ast
import csv
import io

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz_helpers import ROOT, bounded
from web.csv_safe import FORMULA_STARTS, spreadsheet_csv

cells = st.one_of(
    st.integers(),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=30),
    st.sampled_from(FORMULA_STARTS).flatmap(lambda start: st.text(max_size=20).map(start.__add__)),
)


@bounded(100)
@given(st.lists(st.lists(cells, min_size=1, max_size=6), max_size=8))
def test_no_cell_starts_like_a_formula_and_every_text_survives(rows) -> None:
    written = spreadsheet_csv(rows)
    assert written.startswith("\ufeff")
    read = list(csv.reader(io.StringIO(written.removeprefix("\ufeff"), newline="")))
    assert len(read) == len(rows)
    for row, back in zip(rows, read, strict=True):
        for cell, text in zip(row, back, strict=True):
            if isinstance(cell, int):
                assert text == str(cell)  # a number stays a number (-1 too)
            else:
                assert not text.startswith(FORMULA_STARTS), text
                assert text.removeprefix("'") == cell.removeprefix("'")  # nothing else changes


def test_the_one_csv_writer_is_csv_safe() -> None:
    """No other module of the server imports the csv module: a new export cannot forget."""
    importers = []
    for path in sorted((ROOT / "web").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            if "csv" in names:
                importers.append(path.relative_to(ROOT).as_posix())
    assert importers == ["web/csv_safe.py"]
