"""Small static SVG charts for the HTML report: totals per dump and per-suspect sparklines.
Labels are escaped here; the markup is built from numbers otherwise."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape


def _scale(values: Sequence[float], lo_px: float, hi_px: float) -> Callable[[float], float]:
    lo, hi = min(0.0, min(values)), max(values)
    span = (hi - lo) or 1.0
    return lambda v: hi_px - (v - lo) / span * (hi_px - lo_px)


def line_chart(values: Sequence[float], labels: Sequence[str], fmt: Callable[[float], str], title: str,
               width: int = 640, height: int = 220) -> str:
    """A line chart with a point and value per dump; x labels are the dumps' names."""
    if not values:
        return ""
    left, right, top, bottom = 70, 20, 24, 40
    n = len(values)
    y = _scale(values, top, height - bottom)
    step = (width - left - right) / max(1, n - 1)

    def x(i: int) -> float:
        return left + i * step if n > 1 else left + (width - left - right) / 2

    pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
    hi = max(values)
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#999"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#999"/>',
        f'<text x="{left - 6}" y="{y(hi) + 4:.1f}" text-anchor="end" font-size="11">{escape(fmt(hi))}</text>',
        f'<text x="{left - 6}" y="{height - bottom + 4}" text-anchor="end" font-size="11">0</text>',
        f'<polyline fill="none" stroke="#b20000" stroke-width="2" points="{pts}"/>',
    ]
    for i, v in enumerate(values):
        parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3.5" fill="#b20000">'
                     f"<title>{escape(labels[i])}: {escape(fmt(v))}</title></circle>")
        if n <= 12 or i in (0, n - 1):
            parts.append(f'<text x="{x(i):.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                         f'font-size="10">{escape(labels[i])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def sparkline(values: Sequence[float], width: int = 120, height: int = 28) -> str:
    if not values:
        return ""
    y = _scale(values, 3, height - 3)
    n = len(values)
    step = (width - 6) / max(1, n - 1)
    pts = " ".join(f"{3 + i * step:.1f},{y(v):.1f}" for i, v in enumerate(values))
    last = f'<circle cx="{3 + (n - 1) * step:.1f}" cy="{y(values[-1]):.1f}" r="2.5" fill="#b20000"/>'
    return (f'<svg class="spark" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" aria-hidden="true"><polyline fill="none" stroke="#b20000" '
            f'stroke-width="1.5" points="{pts}"/>{last}</svg>')
