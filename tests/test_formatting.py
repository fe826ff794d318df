"""Text for people: dd/mm/yyyy in Vietnam time, decimal comma."""

from hom_phieu import formatting
from hom_phieu.clock import parse_iso_ms


def test_dates_are_day_month_year_in_vietnam_time() -> None:
    moment = parse_iso_ms("2026-11-30T17:05:09+00:00")  # 00:05 on 1 December in Hà Nội
    assert formatting.date_time(moment) == "01/12/2026 00:05:09"
    assert formatting.date(moment) == "01/12/2026"
    assert formatting.date_time_iso("2026-11-30T17:05:09+00:00") == "01/12/2026 00:05:09"


def test_percent_uses_a_decimal_comma() -> None:
    assert formatting.percent(6335, 10000) == "63,35%"
    assert formatting.percent(1, 2000) == "0,05%"
    assert formatting.percent(0, 0) == "0,00%"
