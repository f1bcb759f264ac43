"""Small static SVG charts for the HTML report: totals per dump and per-suspect sparklines.
Labels are escaped here; the markup is built from numbers otherwise. Values are shown through
the caller's formatter, so that axes and points carry the report's units."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

CHAR_PX = 6.2  # width of one character of the 10 px labels, a little generous


def _scale(values: Sequence[float], lo_px: float, hi_px: float) -> Callable[[float], float]:
    lo, hi = min(0.0, min(values)), max(values)
    span = (hi - lo) or 1.0
    return lambda v: hi_px - (v - lo) / span * (hi_px - lo_px)


def _frame(css_class: str, title: str, size: tuple[int, int], margins: tuple[float, float, float, float],
           ticks: Sequence[float], y: Callable[[float], float], fmt: Callable[[float], str]) -> list[str]:
    """A chart's opening: the svg element with its title, both axes, 0 and the y ticks labelled
    with `fmt`; `margins` are (left, right, top, bottom)."""
    width, height = size
    left, right, top, bottom = margins
    parts = [
        f'<svg class="{css_class}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" y2="{height - bottom}" stroke="#999"/>',
        f'<line x1="{left}" y1="{top}" x2="{left}" y2="{height - bottom}" stroke="#999"/>',
        f'<text x="{left - 6}" y="{height - bottom + 4}" text-anchor="end" font-size="11">0</text>',
    ]
    for t in ticks:
        parts.append(f'<line x1="{left - 3}" y1="{y(t):.1f}" x2="{width - right}" y2="{y(t):.1f}" stroke="#eee"/>')
        parts.append(f'<text class="tick" x="{left - 6}" y="{y(t) + 4:.1f}" text-anchor="end" '
                     f'font-size="11">{escape(fmt(t))}</text>')
    return parts


def line_chart(values: Sequence[float], labels: Sequence[str], fmt: Callable[[float], str], title: str,
               width: int = 560, height: int = 220) -> str:
    """A line chart with a point and its value per dump; x labels are the dumps' names, the y axis
    is labelled with `fmt` (0, half and the largest value)."""
    if not values:
        return ""
    n = len(values)
    shown = [i for i in range(n) if n <= 12 or i in (0, n - 1)]
    hi = max(values)
    ticks = [hi / 2, hi] if hi > 0 else []
    left = max(48, round(max((len(fmt(t)) for t in ticks), default=1) * CHAR_PX) + 12)
    # the first and last x labels are centred on their points: leave room for half of each
    half_first = len(labels[0]) * CHAR_PX / 2 if n > 1 else 0
    right = max(20, round(len(labels[-1]) * CHAR_PX / 2) + 4) if n > 1 else 20
    left = max(left, round(half_first) + 4)
    top, bottom = 26, 40
    y = _scale(values, top, height - bottom)
    step = (width - left - right) / max(1, n - 1)

    def x(i: int) -> float:
        return left + i * step if n > 1 else left + (width - left - right) / 2

    pts = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
    parts = _frame("chart", title, (width, height), (left, right, top, bottom), ticks, y, fmt)
    parts.append(f'<polyline fill="none" stroke="#b20000" stroke-width="2" points="{pts}"/>')
    for i, v in enumerate(values):
        parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3.5" fill="#b20000">'
                     f"<title>{escape(labels[i])}: {escape(fmt(v))}</title></circle>")
        if i in shown:
            parts.append(f'<text class="value" x="{x(i):.1f}" y="{y(v) - 8:.1f}" text-anchor="middle" '
                         f'font-size="10" fill="#333">{escape(fmt(v))}</text>')
            parts.append(f'<text class="label" x="{x(i):.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                         f'font-size="10">{escape(labels[i])}</text>')
    parts.append("</svg>")
    return "".join(parts)


def sparkline(values: Sequence[float], texts: Sequence[str] = (), width: int = 120, height: int = 28) -> str:
    """A tiny line of a suspect's values per dump; `texts` (one per value) become the points' tooltips."""
    if not values:
        return ""
    y = _scale(values, 3, height - 3)
    n = len(values)
    step = (width - 6) / max(1, n - 1)
    pts = " ".join(f"{3 + i * step:.1f},{y(v):.1f}" for i, v in enumerate(values))
    last = f'<circle cx="{3 + (n - 1) * step:.1f}" cy="{y(values[-1]):.1f}" r="2.5" fill="#b20000"/>'
    title = f"<title>{escape(' → '.join(texts))}</title>" if texts else ""
    return (f'<svg class="spark" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
            f'width="{width}" height="{height}" role="img">{title}<polyline fill="none" stroke="#b20000" '
            f'stroke-width="1.5" points="{pts}"/>{last}</svg>')


TIMELINE_COLOURS = ("#b20000", "#d08000", "#2060b0", "#208040")


def timeline_chart(times: Sequence[float], series: Sequence[tuple[str, Sequence[float]]], fmt: Callable[[float], str],
                   time_unit: str, title: str, width: int = 1120, height: int = 260) -> str:
    """Several totals over a numeric time axis (massif's heap, extra heap and stacks), each a
    line in its own colour, with a legend; the y axis labelled with `fmt`, the x axis in `time_unit`."""
    if not times or not series:
        return ""
    hi = max((max(v) for _, v in series if len(v)), default=0)
    ticks = [hi / 2, hi] if hi > 0 else []
    left = max(56, round(max((len(fmt(t)) for t in ticks), default=1) * CHAR_PX) + 12)
    right, top, bottom = 24, 30, 40
    t0, t1 = min(times), max(times)
    span = (t1 - t0) or 1

    def x(t: float) -> float:
        return left + (t - t0) / span * (width - left - right)

    y = _scale([0.0, hi], top, height - bottom)
    parts = _frame("chart timeline", title, (width, height), (left, right, top, bottom), ticks, y, fmt)
    for k, t in enumerate((t0, (t0 + t1) / 2, t1)):
        anchor = ("start", "middle", "end")[k]
        parts.append(f'<text class="label" x="{x(t):.1f}" y="{height - bottom + 16}" text-anchor="{anchor}" '
                     f'font-size="10">{escape(f"{t:,.0f}")}</text>')
    parts.append(f'<text x="{(left + width - right) / 2:.1f}" y="{height - 6}" text-anchor="middle" '
                 f'font-size="10" fill="#555">time ({escape(time_unit)})</text>')
    for k, (name, values) in enumerate(series):
        colour = TIMELINE_COLOURS[k % len(TIMELINE_COLOURS)]
        pts = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in zip(times, values, strict=True))
        parts.append(f'<polyline class="series" data-name="{escape(name)}" fill="none" stroke="{colour}" '
                     f'stroke-width="2" points="{pts}"><title>{escape(name)}</title></polyline>')
        lx = left + 10 + k * 150
        parts.append(f'<rect x="{lx}" y="8" width="14" height="4" fill="{colour}"/>'
                     f'<text class="legend" x="{lx + 20}" y="14" font-size="11">{escape(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)
