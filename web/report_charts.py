"""Charts of the reports, drawn on the server as SVG: no script, no font from elsewhere.

Pure. Two charts: the satisfaction rate month by month (a bar per month with its 95 %
Wilson interval as a whisker and its ballots under it; :func:`month_chart`), and units or
offices side by side (a horizontal bar each, last year's rate as a hatched bar beside it;
:func:`compare_chart`). Each is an ``<svg role="img">`` with a ``<title>`` and a ``<desc>``
(the page prints the same figures as a table beside it), scales with its ``viewBox``, and
reads in black and white: every value is written on the chart (decimal comma), the two
series differ by pattern, not colour. Every name is escaped; the result is
:class:`markupsafe.Markup`, inserted as it is (``|safe``) by the templates.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

from hom_phieu.i18n import _
from web.report_stats import Rate

FONT = "'DejaVu Sans', sans-serif"
INK = "#1d2733"  # text, outlines, whiskers
BAR = "#8c96a3"  # this period (a mid grey: prints as grey on any printer)
GRID = "#c9ced6"
COLUMN = 62  # width of a month's column
ROW = 40  # height of a compared row (two bars)
NAME_WIDTH = 220  # the names' column of the compare chart
NAME_CHARS = 26  # longer names are shortened on the chart (the table gives them whole)


@dataclass(frozen=True, slots=True)
class MonthPoint:
    label: str  # "03/2026"
    rate: Rate  # Rate(0, 0): no opened results that month


@dataclass(frozen=True, slots=True)
class CompareBar:
    name: str
    rate: Rate
    last_year: Rate | None = None  # None: the chart shows no last-year bars at all


def percent_short(value: float) -> str:
    """``63,4%``: one decimal, decimal comma (the chart's labels; tables give two)."""
    return f"{100 * value:.1f}".replace(".", ",") + "%"


def month_chart(
    chart_id: str,
    title: str,
    desc: str,
    points: Sequence[MonthPoint],
    *,
    overall: Rate | None = None,
    last_year: Rate | None = None,
) -> Markup:
    """Bars of the rate per month on a 0–100 % axis, each with its interval and ballots;
    ``overall`` (the period's rate) and ``last_year`` (the same period last year) as
    labelled horizontal lines, dashed and dotted."""
    left, top, plot_h = 50, 26, 220
    width = left + max(len(points), 1) * COLUMN + 12
    legend_y = top + plot_h + 60
    lines = [(overall, "6 3", _("Whole period")), (last_year, "2 3", _("Same period last year"))]
    drawn_lines = [(rate, dash, text) for rate, dash, text in lines if rate and rate.whole]
    height = legend_y + 20 * (1 + len(drawn_lines)) + 4
    parts = [_svg_open(chart_id, title, desc, width, height)]
    parts += _percent_axis(left, top, plot_h, width - 12)

    def y_of(value: float) -> float:
        return top + plot_h * (1 - value)

    for index, point in enumerate(points):
        x = left + index * COLUMN
        middle = x + COLUMN / 2
        value = point.rate.value
        if value is not None:
            parts.append(
                f'<rect x="{x + 9}" y="{y_of(value):.1f}" width="{COLUMN - 18}" '
                f'height="{plot_h * value:.1f}" fill="{BAR}" stroke="{INK}" stroke-width="1"/>'
            )
            bounds = point.rate.wilson()
            assert bounds is not None
            low, high = y_of(bounds[0]), y_of(bounds[1])
            parts.append(
                f'<path d="M{middle:.1f} {low:.1f}V{high:.1f}M{middle - 6:.1f} {low:.1f}'
                f'h12M{middle - 6:.1f} {high:.1f}h12" stroke="{INK}" stroke-width="1.5" '
                'fill="none"/>'
            )
            label_y = max(high - 5, 14.0)  # above the whisker
            text = percent_short(value)
        else:
            label_y, text = top + plot_h - 4, "—"
        parts.append(_text(middle, label_y, text, size=12, anchor="middle", weight="bold",
                           halo=True))  # fmt: skip
        parts.append(_text(middle, top + plot_h + 18, point.label, size=12, anchor="middle"))
        ballots = _("{n} ball.").format(n=point.rate.whole)
        parts.append(_text(middle, top + plot_h + 34, ballots, size=11, anchor="middle"))
    for number, (rate, dash, text) in enumerate(drawn_lines):
        assert rate is not None and rate.value is not None
        y = y_of(rate.value)
        parts.append(
            f'<line x1="{left}" x2="{width - 12}" y1="{y:.1f}" y2="{y:.1f}" stroke="{INK}" '
            f'stroke-width="1.5" stroke-dasharray="{dash}"/>'
        )
        legend = legend_y + 20 * (number + 1)
        parts.append(
            f'<line x1="{left}" x2="{left + 30}" y1="{legend - 4}" y2="{legend - 4}" '
            f'stroke="{INK}" stroke-width="1.5" stroke-dasharray="{dash}"/>'
        )
        parts.append(_text(left + 36, legend, f"{text}: {percent_short(rate.value)}", size=12))
    parts.append(
        _text(left, legend_y, _("Bars: satisfaction rate; whiskers: 95% interval."), size=12)
    )
    parts.append("</svg>")
    return Markup("".join(parts))


def compare_chart(chart_id: str, title: str, desc: str, bars: Sequence[CompareBar]) -> Markup:
    """A horizontal bar per unit or office on a 0–100 % axis, its rate written at its end;
    last year's rate (when given) as a thinner hatched bar under it."""
    with_last = any(bar.last_year is not None for bar in bars)
    left, top, plot_w = NAME_WIDTH, 24, 330
    width = left + plot_w + 76
    height = top + max(len(bars), 1) * ROW + 44

    def x_of(value: float) -> float:
        return left + plot_w * value

    parts = [_svg_open(chart_id, title, desc, width, height)]
    parts.append(
        f'<defs><pattern id="{escape(chart_id)}-hatch" width="6" height="6" '
        'patternUnits="userSpaceOnUse" patternTransform="rotate(45)">'
        f'<rect width="6" height="6" fill="#ffffff"/><line x1="0" y1="0" x2="0" y2="6" '
        f'stroke="{INK}" stroke-width="2"/></pattern></defs>'
    )
    for tick in (0, 0.25, 0.5, 0.75, 1):
        x = x_of(tick)
        parts.append(
            f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" y2="{top + len(bars) * ROW}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        parts.append(_text(x, top - 8, f"{int(tick * 100)}%", size=11, anchor="middle"))
    for index, bar in enumerate(bars):
        y = top + index * ROW + 4
        lines = _two_lines(bar.name)
        for number, line in enumerate(lines):
            line_y = y + (15 if len(lines) == 1 else 11 + 14 * number)
            parts.append(_text(left - 6, line_y, line, size=12, anchor="end"))
        parts += _hbar(x_of, y, 17, bar.rate, f'fill="{BAR}"', bold=True)
        if with_last and bar.last_year is not None:
            parts += _hbar(x_of, y + 20, 11, bar.last_year,
                           f'fill="url(#{escape(chart_id)}-hatch)"', bold=False)  # fmt: skip
    legend = top + len(bars) * ROW + 26
    parts.append(
        f'<rect x="{left}" y="{legend - 10}" width="22" height="11" fill="{BAR}" stroke="{INK}"/>'
    )
    parts.append(_text(left + 28, legend, _("This period"), size=12))
    if with_last:
        parts.append(
            f'<rect x="{left + 160}" y="{legend - 10}" width="22" height="11" '
            f'fill="url(#{escape(chart_id)}-hatch)" stroke="{INK}"/>'
        )
        parts.append(_text(left + 188, legend, _("Same period last year"), size=12))
    parts.append("</svg>")
    return Markup("".join(parts))


def _hbar(x_of, y: float, thickness: int, rate: Rate, fill: str, *, bold: bool) -> list[str]:
    value = rate.value
    if value is None:
        return [_text(x_of(0) + 4, y + thickness - 2, "—", size=12 if bold else 11)]
    end = x_of(value)
    return [
        f'<rect x="{x_of(0):.1f}" y="{y}" width="{end - x_of(0):.1f}" height="{thickness}" '
        f'{fill} stroke="{INK}" stroke-width="1"/>',
        _text(
            end + 4,
            y + thickness - 2,
            percent_short(value),
            size=12 if bold else 11,
            weight="bold" if bold else "normal",
        ),
    ]


def _two_lines(name: str) -> list[str]:
    """A name on one line, or broken between words on two; what is left over is cut with
    "…" (the table beside the chart gives every name whole)."""
    if len(name) <= NAME_CHARS:
        return [name]
    first, rest = "", name
    for word in name.split(" "):
        if first and len(first) + 1 + len(word) > NAME_CHARS:
            break
        first = f"{first} {word}" if first else word
    if not first or len(first) > NAME_CHARS:  # one long word
        first = name[: NAME_CHARS - 1] + "…"
        rest = name[NAME_CHARS - 1 :]
    else:
        rest = name[len(first) :].strip()
    if len(rest) > NAME_CHARS:
        rest = rest[: NAME_CHARS - 1] + "…"
    return [first, rest] if rest else [first]


def _svg_open(chart_id: str, title: str, desc: str, width: float, height: float) -> str:
    ident = escape(chart_id)
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" viewBox="0 0 {width:.0f} '
        f'{height:.0f}" width="{width:.0f}" height="{height:.0f}" class="chart" '
        f'aria-labelledby="{ident}-title {ident}-desc" font-family="{FONT}" '
        f'style="max-width:100%;height:auto">'
        f'<title id="{ident}-title">{escape(title)}</title>'
        f'<desc id="{ident}-desc">{escape(desc)}</desc>'
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="#ffffff"/>'
    )


def _percent_axis(left: float, top: float, plot_h: float, right: float) -> list[str]:
    parts = []
    for tick in (0, 0.25, 0.5, 0.75, 1):
        y = top + plot_h * (1 - tick)
        colour = INK if tick == 0 else GRID
        parts.append(
            f'<line x1="{left}" x2="{right}" y1="{y:.1f}" y2="{y:.1f}" stroke="{colour}" '
            'stroke-width="1"/>'
        )
        parts.append(_text(left - 5, y + 4, f"{int(tick * 100)}%", size=11, anchor="end"))
    return parts


def _text(
    x: float,
    y: float,
    text: str,
    *,
    size: int,
    anchor: str = "start",
    weight: str = "normal",
    halo: bool = False,
) -> str:
    """A text, escaped; ``halo``: a white outline so a value stays legible over a bar."""
    outline = ' stroke="#ffffff" stroke-width="3" paint-order="stroke"' if halo else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'font-weight="{weight}" fill="{INK}"{outline}>{escape(text)}</text>'
    )
