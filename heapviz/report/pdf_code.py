"""The PDF report's source code of a leak site's functions: a table per function with the values
in a left gutter, the hot lines shaded, and long lines wrapped with a marker."""

from __future__ import annotations

from typing import Any

from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Spacer, TableStyle, XPreformatted

from heapviz.report.pdf_style import CELL_PAD, PAGE_W, Context
from heapviz.report.pdf_table import Table
from heapviz.report.pdf_text import Lines, Markup
from heapviz.report.sources import SiteSource

_CODE_WIDTHS = (16 * mm, 16 * mm, 10 * mm)  # this site, all stacks, line number; the code gets the rest


def _code_cell(text: str, width: float, c: Context) -> Flowable:
    """A source line in the code font, whitespace kept, wrapped at `width` points: each
    continuation starts with a marker, and no character is ever cut off."""
    st = c.style("code")
    m = Markup(c.fonts)
    marker = "\u21aa " if c.fonts.mono == "HV-Mono" else "+ "  # Courier has no arrow
    pieces: list[str] = []
    rest = text
    while True:
        room = width - (m.width(marker, st.fontName, st.fontSize) if pieces else 0)
        if m.width(rest, st.fontName, st.fontSize) <= room or len(rest) <= 1:
            pieces.append(rest)
            break
        cut = max(1, m._fit(rest, room, st.fontName, st.fontSize))
        space = rest.rfind(" ", 0, cut)
        if space >= cut // 2 and rest[:space].strip():  # after a space when one is near the edge
            cut = space + 1
        pieces.append(rest[:cut])
        rest = rest[cut:]
    if len(pieces) == 1 and text.isascii() and text.isprintable() and text.strip():
        return Lines(pieces, st, preformatted=True)
    lines = [m(pieces[0])] + [f'<font color="#b20000">{m(marker)}</font>{m(p)}' for p in pieces[1:]]
    return XPreformatted("\n".join(lines), st)


def site_code(code: SiteSource, c: Context) -> list[Flowable]:
    """The code of a site's functions in the user's code: a table per function with the values
    in a left gutter and the hot lines shaded."""
    code_w = PAGE_W - sum(_CODE_WIDTHS) - 2 * CELL_PAD
    out: list[Flowable] = []
    for b in code.blocks:
        cut = " (fewer lines: --source-lines)" if b.cut else ""
        head = c.p(f"{', '.join(map(str, b.frames))}  {b.function}   {b.file}:{b.line}{cut}", "small")
        if b.missing:
            out.append(KeepTogether([head, c.p(b.missing, "warn")]))
            continue
        data: list[list[Any]] = [["this site", "all stacks", "line", ""]]
        style = TableStyle([
            ("FONTNAME", (0, 0), (-1, 0), c.fonts.regular), ("FONTSIZE", (0, 0), (-1, 0), 6.5),
            ("TEXTCOLOR", (0, 0), (-1, 0), colors.grey),
            ("FONTNAME", (0, 1), (2, -1), c.fonts.mono), ("FONTSIZE", (0, 1), (2, -1), 7),
            ("ALIGN", (0, 0), (2, -1), "RIGHT"), ("TEXTCOLOR", (2, 1), (2, -1), colors.grey),
            ("VALIGN", (0, 0), (-1, -1), "TOP"), ("TOPPADDING", (0, 0), (-1, -1), 0.6),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 0.6), ("LINEAFTER", (2, 0), (2, -1), 0.4, colors.HexColor("#cccccc")),
            ("BACKGROUND", (0, 0), (-1, -1), colors.HexColor("#f8f8f8")),
            ("BOX", (0, 0), (-1, -1), 0.4, colors.HexColor("#dddddd")),
        ])
        last = None
        for row in b.rows:
            if last is not None and row.line > last + 1:
                data.append(["", "", "\u22ef" if c.fonts.mono == "HV-Mono" else "...", ""])
            last = row.line
            k = len(data)
            data.append([row.site_text, row.all_text, str(row.line), _code_cell(row.text or "", code_w, c)])
            if row.hot:
                style.add("BACKGROUND", (0, k), (-1, k), colors.HexColor("#ffe9a8"))
                style.add("TEXTCOLOR", (0, k), (0, k), colors.HexColor("#b20000"))
                style.add("FONTNAME", (0, k), (2, k), c.fonts.bold)
        table = Table(data, colWidths=[*_CODE_WIDTHS, None], repeatRows=1)
        table.setStyle(style)
        out.append(KeepTogether([head, table]))
        out.append(Spacer(1, 3))
    if code.note:
        out.append(c.p(code.note, "small"))
    return out
