"""The reports' SVG charts, pure: valid XML, accessible, readable in black and white, every
value written with a decimal comma, every name escaped, nothing fetched from elsewhere."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from markupsafe import Markup

from hom_phieu.i18n import set_language
from web.report_charts import (
    CompareBar,
    MonthPoint,
    _two_lines,
    compare_chart,
    month_chart,
    percent_short,
)
from web.report_stats import Rate

SVG = "{http://www.w3.org/2000/svg}"
EVIL = '<script>alert("x")</script> & "Lan"'


def parsed(svg: str) -> ET.Element:
    root = ET.fromstring(svg)
    assert root.tag == SVG + "svg" and root.get("role") == "img"
    assert root.get("viewBox", "").startswith("0 0 ")
    title, desc = root.find(SVG + "title"), root.find(SVG + "desc")
    assert title is not None and desc is not None
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    assert "DejaVu Sans" in root.get("font-family", "")
    # No script, no link, no image, no font or style sheet from elsewhere.
    for element in root.iter():
        assert element.tag.removeprefix(SVG) not in (
            "script",
            "image",
            "a",
            "foreignObject",
            "style",
        )
        for name, value in element.attrib.items():
            assert not name.startswith("on") and "href" not in name, (element.tag, name)
            assert "http" not in value or name == "xmlns", value
    return root


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(SVG + "text")]


def test_the_month_chart() -> None:
    set_language("vi")
    points = [MonthPoint(f"{m:02d}/2026", Rate(m, m + m % 3)) for m in range(1, 13)]
    points[5] = MonthPoint("06/2026", Rate(0, 0))  # not opened
    chart = month_chart("t", EVIL, "Mô tả " + EVIL, points, overall=Rate(63, 100),
                        last_year=Rate(2, 3))  # fmt: skip
    assert isinstance(chart, Markup)
    assert "<script>" not in chart and "&lt;script&gt;" in chart
    root = parsed(chart)
    assert root.find(SVG + "title").text == EVIL  # escaped in the file, the text itself
    assert root.find(SVG + "desc").text == "Mô tả " + EVIL
    words = texts(root)
    assert [f"{m:02d}/2026" for m in range(1, 13)] == [w for w in words if w.endswith("/2026")]
    assert percent_short(Rate(1, 2).value) == "50,0%" and "50,0%" in words  # January: 1 of 2
    assert "—" in words  # June: no bar, a dash
    assert "12 phiếu" in words and "0 phiếu" in words
    assert "Cả kỳ: 63,0%" in words and "Cùng kỳ năm trước: 66,7%" in words
    bars = [r for r in root.iter(SVG + "rect") if r.get("fill") != "#ffffff"]
    assert len(bars) == 11
    whiskers = root.findall(SVG + "path")
    assert len(whiskers) == 11  # one 95 % interval per month with ballots
    dashes = {line.get("stroke-dasharray") for line in root.iter(SVG + "line")} - {None}
    assert len(dashes) == 2  # the period's and last year's lines differ by dash, not colour
    assert not any("." in w.rstrip(".") for w in words if w.endswith("%"))  # decimal comma
    set_language("en")
    assert "12 ball." in texts(parsed(month_chart("e", "t", "d", points)))


def test_the_compare_chart() -> None:
    bars = [
        CompareBar(EVIL, Rate(9, 10), Rate(7, 10)),
        CompareBar("Bộ phận một cửa Phường Hạc Thành thành phố Thanh Hóa", Rate(1, 3), Rate(0, 0)),
        CompareBar("X", Rate(0, 0), Rate(1, 1)),
    ]
    chart = compare_chart("c", "So sánh " + EVIL, "d", bars)
    assert "<script>" not in chart
    root = parsed(chart)
    words = texts(root)
    assert any(w.startswith('<script>alert("x")</scrip') for w in words)  # text, not markup
    assert "90,0%" in words and "70,0%" in words and "33,3%" in words and "100,0%" in words
    assert words.count("—") == 2  # no ballots this period (X), none last year (Hạc)
    pattern = root.find(f"{SVG}defs/{SVG}pattern")
    assert pattern is not None and pattern.get("id") == "c-hatch"  # last year: hatched
    hatched = [r for r in root.iter(SVG + "rect") if r.get("fill") == "url(#c-hatch)"]
    assert len(hatched) == 2 + 1  # two bars and the legend's sample
    without = parsed(compare_chart("n", "t", "d", [CompareBar("A", Rate(1, 2))]))
    assert without.find(f"{SVG}defs/{SVG}pattern") is not None
    assert not [r for r in without.iter(SVG + "rect") if r.get("fill") == "url(#n-hatch)"]
    assert parsed(compare_chart("e", "t", "d", [])) is not None  # nothing to compare: still valid


def test_long_names_break_between_words() -> None:
    assert _two_lines("Phường Hạc Thành") == ["Phường Hạc Thành"]
    first, second = _two_lines("Bộ phận một cửa Phường Hạc Thành thành phố Thanh Hóa tỉnh")
    assert first == "Bộ phận một cửa Phường Hạc" and second.endswith("…") and len(second) <= 26
    assert all(len(line) <= 26 for line in _two_lines("A" * 80))
