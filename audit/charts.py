"""A server-rendered SVG line chart of signed amounts (over above zero, short below), in
the manner of licensing.charts: no script, no style attribute, an image named by its
<title> and <desc>, the same numbers in a table beside it."""

from collections.abc import Sequence
from decimal import Decimal

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from licensing.charts import AXIS, FONT, GRID, PALETTE, TEXT, WIDTH


def _text(x: float, y: float, content: str, *, anchor: str = "middle") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="12" '
        f'fill="{TEXT}">{escape(content)}</text>'
    )


def signed_line_chart(
    *,
    chart_id: str,
    title: str,
    description: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[Decimal | None]]],
    height: int = 300,
) -> SafeString:
    """One line per series over the categories, with a zero line; None leaves a point out."""
    left, right, top, bottom = 72, 16, 40, 30
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    values = [abs(float(v)) for _, points in series for v in points if v is not None]
    extent = max(values, default=1.0) or 1.0
    extent *= 1.1

    def y_of(value: float) -> float:
        return top + plot_h / 2 - value / extent * (plot_h / 2)

    step = plot_w / max(len(categories) - 1, 1)

    def x_of(index: int) -> float:
        return left + (index * step if len(categories) > 1 else plot_w / 2)

    body = []
    x = float(left)
    for index, (label, _) in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        body.append(f'<rect x="{x:.1f}" y="10" width="12" height="12" fill="{colour}"/>')
        body.append(_text(x + 18, 20, label, anchor="start"))
        x += 36 + 8 * len(label)
    for tick in (-extent / 1.1, 0.0, extent / 1.1):
        y = y_of(tick)
        stroke = AXIS if tick == 0 else GRID
        body.append(
            f'<line x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" y2="{y:.1f}" '
            f'stroke="{stroke}" stroke-width="1"/>'
        )
        body.append(_text(left - 6, y + 4, f"{tick:,.2f}", anchor="end"))
    every = max(1, len(categories) // 12)
    for index, category in enumerate(categories):
        if index % every == 0:
            body.append(_text(x_of(index), height - bottom + 18, category))
    for index, (label, points) in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        coords = [
            (x_of(i), y_of(float(v)), categories[i], v)
            for i, v in enumerate(points)
            if v is not None
        ]
        if len(coords) > 1:
            path = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy, _, _ in coords)
            body.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"/>'
            )
        for cx, cy, category, value in coords:
            body.append(
                f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="4" fill="{colour}">'
                f"<title>{escape(f'{label} {category}: {value:,.2f}')}</title></circle>"
            )
    chart_id = escape(chart_id)
    return mark_safe(  # noqa: S308 - every piece of text in it is escaped above
        f'<svg xmlns="http://www.w3.org/2000/svg" class="report-chart" id="{chart_id}" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" role="img" '
        f'aria-labelledby="{chart_id}-title {chart_id}-desc" font-family="{FONT}">'
        f'<title id="{chart_id}-title">{escape(title)}</title>'
        f'<desc id="{chart_id}-desc">{escape(description)}</desc>' + "".join(body) + "</svg>"
    )
