"""The PDF report's vector charts (reportlab drawings): a value per dump, as a labelled chart or
a sparkline, and a timeline of several totals over a numeric time axis."""

from __future__ import annotations

from collections.abc import Callable

from reportlab.graphics.shapes import Drawing, Line, PolyLine, String
from reportlab.lib import colors

from heapviz.model import Timeline


def line_chart(values: list[int], width: float, height: float, labels: list[str] | None, font: str,
           fmt: Callable[[int], str]) -> Drawing:
    """A vector line chart: values per dump with a labelled axis (with `labels`), or a sparkline."""
    d = Drawing(width, height)
    if not values:
        return d
    left, bottom = (52.0, 16.0) if labels else (2.0, 2.0)
    top = height - (8.0 if labels else 2.0)
    lo, hi = min(0, min(values)), max(values)
    span = (hi - lo) or 1
    n = len(values)
    step = (width - left - 6) / max(1, n - 1)
    pts: list[float] = []
    for i, v in enumerate(values):
        pts += [left + i * step, bottom + (v - lo) / span * (top - bottom)]
    if labels:
        d.add(Line(left, bottom, width - 4, bottom, strokeColor=colors.grey, strokeWidth=0.5))
        d.add(Line(left, bottom, left, top, strokeColor=colors.grey, strokeWidth=0.5))
        for v in sorted({lo, 0, hi // 2 if hi > 0 else 0, hi}):
            y = bottom + (v - lo) / span * (top - bottom)
            d.add(Line(left - 2, y, left, y, strokeColor=colors.grey, strokeWidth=0.5))
            d.add(String(left - 4, y - 2.5, fmt(v), fontName=font, fontSize=7, textAnchor="end"))
        for i, lab in enumerate(labels):
            if n <= 10 or i in (0, n - 1):
                d.add(String(left + i * step, 3, lab, fontName=font, fontSize=6.5, textAnchor="middle"))
    d.add(PolyLine(pts, strokeColor=colors.HexColor("#b20000"), strokeWidth=1.5 if labels else 1))
    return d


TIMELINE_COLOURS = ("#b20000", "#d08000", "#2060b0", "#208040")


def timeline_chart(t: Timeline, width: float, height: float, font: str, fmt: Callable[[int], str]) -> Drawing:
    """Several totals over a numeric time axis (massif's heap, extra heap, stacks), with a legend."""
    d = Drawing(width, height)
    if not t.times:
        return d
    left, bottom, top = 52.0, 18.0, height - 14.0
    hi = max((max(v) for _, v in t.series if v), default=0) or 1
    t0, t1 = min(t.times), max(t.times)
    span = (t1 - t0) or 1

    def xy(time: float, v: float) -> tuple[float, float]:
        return left + (time - t0) / span * (width - left - 6), bottom + v / hi * (top - bottom)

    d.add(Line(left, bottom, width - 4, bottom, strokeColor=colors.grey, strokeWidth=0.5))
    d.add(Line(left, bottom, left, top, strokeColor=colors.grey, strokeWidth=0.5))
    for v in (0, hi // 2, hi):
        y = xy(t0, v)[1]
        d.add(String(left - 4, y - 2.5, fmt(v), fontName=font, fontSize=7, textAnchor="end"))
    for k, time in enumerate((t0, (t0 + t1) / 2, t1)):
        d.add(String(xy(time, 0)[0], 6, f"{time:,.0f}", fontName=font, fontSize=6.5,
                     textAnchor=("start", "middle", "end")[k]))
    for k, (name, values) in enumerate(t.series):
        colour = colors.HexColor(TIMELINE_COLOURS[k % len(TIMELINE_COLOURS)])
        pts: list[float] = []
        for time, v in zip(t.times, values, strict=True):
            pts += xy(time, v)
        d.add(PolyLine(pts, strokeColor=colour, strokeWidth=1.2))
        lx = left + 8 + k * 90
        d.add(Line(lx, height - 5, lx + 12, height - 5, strokeColor=colour, strokeWidth=2))
        d.add(String(lx + 16, height - 7.5, name, fontName=font, fontSize=7))
    return d
