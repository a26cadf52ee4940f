"""Server-side SVG charts for the licensing report pages.

Each chart is an inline <svg> element written here: no script, and no style attribute
(the Content Security Policy allows no inline style); colours, sizes and fonts are SVG
presentation attributes. A chart is an image (role="img") named by its <title> and
<desc>; the page puts the same numbers in a table beside it for screen readers and for
anyone who wants the figures.
"""

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

Number = int | Decimal

# Each at least 3:1 against white (WCAG non-text contrast), and told apart by the legend.
PALETTE = ("#1f5f99", "#b35c00", "#2e7d32", "#6f42c1", "#a4133c")
TEXT = "#212529"
GRID = "#dee2e6"
AXIS = "#6c757d"
FONT = "system-ui, sans-serif"
WIDTH = 720


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[Number | None]  # None: no bar (a month not reached yet)


def count_text(value: Number) -> str:
    return f"{int(value):,}"


def money_text(value: Number) -> str:
    return f"${Decimal(value):,.2f}"


def money_tick(value: Number) -> str:
    return f"${Decimal(value):,.0f}"


def _scale(largest: float, *, whole: bool) -> tuple[float, float]:
    """(top, step) of a value axis from 0 with at most five round steps."""
    if largest <= 0:
        return (4.0, 1.0) if whole else (1.0, 0.25)
    raw = largest / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    if whole:
        step = max(1.0, math.ceil(step))
    return step * math.ceil(largest / step), step


def _ticks(top: float, step: float) -> list[float]:
    return [step * i for i in range(round(top / step) + 1)]


def _text(x: float, y: float, content: str, *, anchor: str = "middle", size: int = 12) -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'fill="{TEXT}">{escape(content)}</text>'
    )


def _bar(x: float, y: float, width: float, height: float, colour: str, tip: str) -> str:
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{max(height, 0):.1f}" '
        f'fill="{colour}"><title>{escape(tip)}</title></rect>'
    )


def _legend(series: Sequence[Series], *, x: float, y: float) -> list[str]:
    parts = []
    for index, one in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        parts.append(f'<rect x="{x:.1f}" y="{y - 10:.1f}" width="12" height="12" fill="{colour}"/>')
        parts.append(_text(x + 18, y, one.name, anchor="start"))
        x += 36 + 8 * len(one.name)
    return parts


def _svg(chart_id: str, title: str, description: str, height: float, body: list[str]) -> SafeString:
    chart_id = escape(chart_id)
    return mark_safe(  # noqa: S308 - every piece of text in it is escaped above
        f'<svg xmlns="http://www.w3.org/2000/svg" class="report-chart" id="{chart_id}" '
        f'viewBox="0 0 {WIDTH} {height:.0f}" width="100%" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" font-family="{FONT}">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>' + "".join(body) + "</svg>"
    )


def _largest(series: Sequence[Series]) -> float:
    return max((float(v) for one in series for v in one.values if v is not None), default=0.0)


def column_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    categories: Sequence[str],
    series: Sequence[Series],
    value_text: Callable[[Number], str] = count_text,
    tick_text: Callable[[Number], str] = count_text,
    whole: bool = True,
    height: int = 320,
) -> SafeString:
    """Vertical bars, one group per category and one bar per series in each group."""
    left, right, top, bottom = 64, 12, 40, 30
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    axis_top, step = _scale(_largest(series), whole=whole)
    body = _legend(series, x=left, y=20) if len(series) > 1 else []
    for tick in _ticks(axis_top, step):
        y = top + plot_h - tick / axis_top * plot_h
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" y2="{y:.1f}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        body.append(_text(left - 6, y + 4, tick_text(_tick_value(tick, whole)), anchor="end"))
    group_w = plot_w / max(len(categories), 1)
    bar_w = group_w * 0.8 / max(len(series), 1)
    for c, category in enumerate(categories):
        x0 = left + c * group_w + group_w * 0.1
        for s, one in enumerate(series):
            value = one.values[c]
            if value is None:
                continue
            bar_h = float(value) / axis_top * plot_h
            body.append(
                _bar(
                    x0 + s * bar_w,
                    top + plot_h - bar_h,
                    bar_w - 1,
                    bar_h,
                    PALETTE[s % len(PALETTE)],
                    f"{category} {one.name}: {value_text(value)}".replace("  ", " "),
                )
            )
        body.append(_text(left + (c + 0.5) * group_w, height - bottom + 18, category))
    body.append(
        f'<line x1="{left}" y1="{top + plot_h}" x2="{WIDTH - right}" y2="{top + plot_h}" '
        f'stroke="{AXIS}" stroke-width="1"/>'
    )
    return _svg(chart_id, title, description, height, body)


def bar_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    categories: Sequence[str],
    series: Sequence[Series],
    value_text: Callable[[Number], str] = count_text,
    tick_text: Callable[[Number], str] = count_text,
    whole: bool = True,
    label_width: int = 250,
) -> SafeString:
    """Horizontal bars, for long category names (license types, sectors): one group per
    category, one bar per series in each group."""
    # Room on the right for the last tick's label, which is centred on the plot's edge.
    right, top, bottom = 40, 40 if len(series) > 1 else 12, 28
    left = label_width
    bar_h = 14
    group_h = bar_h * max(len(series), 1) + 12
    plot_w = WIDTH - left - right
    plot_h = group_h * max(len(categories), 1)
    height = top + plot_h + bottom
    axis_top, step = _scale(_largest(series), whole=whole)
    body = _legend(series, x=left, y=20) if len(series) > 1 else []
    for tick in _ticks(axis_top, step):
        x = left + tick / axis_top * plot_w
        body.append(
            f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + plot_h}" '
            f'stroke="{GRID}" stroke-width="1"/>'
        )
        body.append(_text(x, top + plot_h + 18, tick_text(_tick_value(tick, whole))))
    for c, category in enumerate(categories):
        y0 = top + c * group_h + 6
        # About 7 pixels a character at 12px; the full name is in the bar's <title>.
        fits = (label_width - 12) // 7
        label = category if len(category) <= fits else category[: fits - 1] + "\u2026"
        body.append(_text(left - 8, y0 + bar_h * len(series) / 2 + 4, label, anchor="end"))
        for s, one in enumerate(series):
            value = one.values[c]
            if value is None:
                continue
            body.append(
                _bar(
                    left,
                    y0 + s * bar_h,
                    float(value) / axis_top * plot_w,
                    bar_h - 2,
                    PALETTE[s % len(PALETTE)],
                    f"{category} {one.name}: {value_text(value)}".replace("  ", " "),
                )
            )
    body.append(
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{top + plot_h}" '
        f'stroke="{AXIS}" stroke-width="1"/>'
    )
    return _svg(chart_id, title, description, height, body)


def _tick_value(tick: float, whole: bool) -> Number:
    return round(tick) if whole else Decimal(str(round(tick, 2)))
