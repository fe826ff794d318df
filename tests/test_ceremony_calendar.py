"""When a box falls due: the month's last working day, weekends and holidays skipped."""

from __future__ import annotations

from datetime import date

import pytest

from web.ceremony_calendar import box_label, last_working_day, month_end, next_box, parse_box


def test_the_last_working_day_skips_weekends_and_holidays() -> None:
    assert last_working_day("2026-10") == date(2026, 10, 30)  # 31 Oct 2026 is a Saturday
    assert last_working_day("2026-11") == date(2026, 11, 30)  # a Monday
    assert last_working_day("2026-05") == date(2026, 5, 29)  # 30, 31 May: Saturday, Sunday
    holidays = {date(2026, 10, 30), date(2026, 10, 29)}
    assert last_working_day("2026-10", holidays=holidays) == date(2026, 10, 28)
    assert last_working_day("2026-10", weekend={6}) == date(2026, 10, 31)  # Saturdays worked


def test_months_are_named_and_end_in_vietnam_time() -> None:
    assert next_box("2026-12") == "2027-01" and next_box("2026-01") == "2026-02"
    assert box_label("2026-02") == "02/2026"
    assert month_end("2026-10").isoformat() == "2026-11-01T00:00:00+07:00"


@pytest.mark.parametrize("text", ["2026-13", "2026-1", "26-01", "2026-00", "abcd-ef", ""])
def test_a_malformed_box_name_is_refused_by_name(text: str) -> None:
    with pytest.raises(ValueError, match="not a month box"):
        parse_box(text)
