"""A bar chart as SVG, drawn on the server: no JavaScript, no external library."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from xml.sax.saxutils import escape

WIDTH, HEIGHT = 760, 220
LEFT, BOTTOM, TOP = 56, 28, 12


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int


def bar_chart(points: list[tuple[date, int]], *, period: str, title: str) -> str:
    if not points:
        return ""
    top = max(value for _, value in points) or 1
    inner_w, inner_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    step = inner_w / len(points)
    fmt = {"day": "%d %b", "week": "wk %d %b", "month": "%b %Y"}[period]
    bars = [
        Bar(
            x=LEFT + i * step + step * 0.1,
            y=TOP + inner_h - value / top * inner_h,
            width=max(step * 0.8, 1),
            height=value / top * inner_h,
            label=day.strftime(fmt),
            value=value,
        )
        for i, (day, value) in enumerate(points)
    ]
    every = max(1, len(bars) // 8)  # at most about eight labels
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{LEFT}" y1="{TOP + inner_h}" x2="{WIDTH - 8}" y2="{TOP + inner_h}" '
        'stroke="#98a2b3"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 10}" text-anchor="end" font-size="11" '
        f'fill="#667085">{top}</text>',
        f'<text x="{LEFT - 6}" y="{TOP + inner_h}" text-anchor="end" font-size="11" '
        'fill="#667085">0</text>',
    ]
    for i, bar in enumerate(bars):
        parts.append(
            f'<rect x="{bar.x:.1f}" y="{bar.y:.1f}" width="{bar.width:.1f}" '
            f'height="{bar.height:.1f}" fill="#4f46e5"><title>{escape(bar.label)}: '
            f"{bar.value} points</title></rect>"
        )
        if i % every == 0:
            parts.append(
                f'<text x="{bar.x + bar.width / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle" '
                f'font-size="11" fill="#667085">{escape(bar.label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
