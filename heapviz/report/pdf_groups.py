"""The PDF report's Groups section (a fleet's --group-by): the groups' totals as a table with a
bar per group, then each group's top functions by flat, as the HTML report shows them."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from reportlab.graphics.shapes import Drawing, Rect
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, TableStyle

from heapviz.report.groups import group_share, group_value_text
from heapviz.report.pdf_table import Table

if TYPE_CHECKING:
    from heapviz.report.pdf_style import Context

PDF_GROUPS = 50  # groups listed; the JSON summary has them all
PDF_GROUP_TOP = 5  # functions per group
_BAR_W = 30 * mm
_BAR_H = 6.0


def _bar(fraction: float) -> Drawing:
    d = Drawing(_BAR_W, _BAR_H)
    d.add(Rect(0, 0, _BAR_W, _BAR_H, fillColor=colors.HexColor("#eeeeee"), strokeColor=None))
    d.add(Rect(0, 0, _BAR_W * max(0.0, min(1.0, fraction)), _BAR_H, fillColor=colors.HexColor("#b20000"),
               strokeColor=None))
    return d


def group_flowables(c: Context, table_style: Callable[[str], TableStyle]) -> list[Flowable]:
    """The Groups section, or nothing without --group-by."""
    r = c.r
    if not r.groups:
        return []
    shown = r.groups[:PDF_GROUPS]
    biggest = max(abs(g.value) for g in r.groups) or 1
    title = f"Groups ({len(r.groups)}, by {r.sample_type}"
    title += f"; {len(r.skipped)} input(s) skipped)" if r.skipped else ")"
    out: list[Flowable] = [c.heading(title, 0)]
    data: list[list[Any]] = [["Group", "Profiles", r.sample_type, "Share", ""]]
    for g in shown:
        data.append([c.p(g.label, "mono"), str(g.profiles), group_value_text(r, g.value), group_share(r, g.value),
                     _bar(abs(g.value) / biggest)])
    table = Table(data, colWidths=[None, 18 * mm, 24 * mm, 16 * mm, _BAR_W + 8], repeatRows=1)
    style = table_style(c.fonts.bold)
    style.add("ALIGN", (1, 0), (3, -1), "RIGHT")
    style.add("VALIGN", (4, 1), (4, -1), "MIDDLE")
    table.setStyle(style)
    out.append(table)
    if len(r.groups) > len(shown):
        out.append(c.p(f"… {len(r.groups) - len(shown)} more groups in the JSON summary.", "small"))
    for g in shown:
        if not g.top:
            continue
        out.append(c.heading(f"{g.label}: top functions (flat {r.sample_type})", 1))
        rows: list[list[Any]] = [["flat", "share", "name"]]
        for name, v in g.top[:PDF_GROUP_TOP]:
            pct = f"{100 * v / g.value:.1f}%" if g.value else ""
            rows.append([group_value_text(r, v), pct, c.p(name, "mono")])
        t = Table(rows, colWidths=[24 * mm, 16 * mm, None], repeatRows=1)
        s = table_style(c.fonts.bold)
        s.add("ALIGN", (0, 0), (1, -1), "RIGHT")
        t.setStyle(s)
        out.append(t)
    return out
