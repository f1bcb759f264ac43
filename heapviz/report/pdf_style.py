"""The PDF report's common ground: page geometry, how much each section lists, the paragraph and
table styles, and the context every section is drawn with (fonts, styles, markup helpers)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, TableStyle

from heapviz.report.collect import ReportData
from heapviz.report.pdf_text import Fonts, Lines, Markup, plain, register_fonts

MARGIN = 15 * mm
PDF_TABLE_ROWS = 100
PDF_LEAK_SITES = 25
ANSWER_ROWS = 10  # leak sites or suspects in page 1's table
PDF_SUSPECTS = 30
PAGE_W = A4[0] - 2 * MARGIN
CELL_PAD = 6.0  # reportlab's default left and right cell padding


class Heading(Paragraph):  # type: ignore[misc]
    """A section heading that adds itself to the PDF outline."""

    def __init__(self, text: str, style: ParagraphStyle, level: int, key: str) -> None:
        super().__init__(text, style)
        self.outline_level = level
        self.outline_key = key


@dataclass
class Context:
    r: ReportData
    fonts: Fonts
    heading: Callable[[str, int], Flowable]
    p: Callable[..., Paragraph]
    lines: Callable[..., Flowable]
    cell: Callable[..., Flowable]  # p() for a table cell: one line drawn directly when it fits
    styles: dict[str, ParagraphStyle]

    def style(self, name: str) -> ParagraphStyle:
        return self.styles[name]


def paragraph_styles(fonts: Fonts) -> dict[str, ParagraphStyle]:
    return {
        "body": ParagraphStyle("body", fontName=fonts.regular, fontSize=9, leading=12, alignment=TA_LEFT),
        "answer": ParagraphStyle("answer", fontName=fonts.bold, fontSize=11, leading=14, spaceAfter=3),
        "small": ParagraphStyle("small", fontName=fonts.regular, fontSize=7.5, leading=9.5),
        "mono": ParagraphStyle("mono", fontName=fonts.mono, fontSize=7.5, leading=9.5, splitLongWords=True),
        # text this module has already broken into lines that fit: reportlab must not break it again
        "lines": ParagraphStyle("lines", fontName=fonts.mono, fontSize=7.5, leading=9.5, splitLongWords=False),
        "path": ParagraphStyle("path", fontName=fonts.regular, fontSize=7.5, leading=9.5, splitLongWords=False),
        "h1": ParagraphStyle("h1", fontName=fonts.bold, fontSize=16, leading=20, spaceAfter=4),
        "h2": ParagraphStyle("h2", fontName=fonts.bold, fontSize=12.5, leading=16, spaceBefore=10, spaceAfter=4,
                             textColor=colors.HexColor("#b20000"), keepWithNext=1),
        "h3": ParagraphStyle("h3", fontName=fonts.bold, fontSize=9.5, leading=12, spaceBefore=6, spaceAfter=2,
                             keepWithNext=1),
        # source code: whitespace kept as is (XPreformatted), lines already wrapped by _code_cell
        "code": ParagraphStyle("code", fontName=fonts.mono, fontSize=7, leading=8.6),
        "warn": ParagraphStyle("warn", fontName=fonts.regular, fontSize=8.5, leading=11,
                               textColor=colors.HexColor("#8a4b00")),
    }


def new_context(r: ReportData) -> Context:
    """The fonts registered, the styles made, and the helpers every section writes text with."""
    fonts = register_fonts()
    m = Markup(fonts)
    styles = paragraph_styles(fonts)
    counter = iter(range(1, 10_000))

    def heading(text: str, level: int) -> Heading:
        style = styles["h2"] if level == 0 else styles["h3"]
        return Heading(m(text), style, level, f"s{next(counter)}")

    def p(text: str, style: str = "body") -> Paragraph:
        return Paragraph(m(text), styles[style])

    def lines(parts: list[str], width: float, style: str = "lines", after: str = "") -> Flowable:
        """Pieces packed into lines of `width` points, each escaped, joined by <br/>; `after`
        is markup appended as is."""
        st = styles[style]
        packed = m.lines(parts, width, st.fontName, st.fontSize)
        if not after and all(plain(ln) for ln in packed):
            return Lines(packed, st)
        return Paragraph("<br/>".join(m(ln) for ln in packed) + after, st)

    def cell(text: str, style: str = "body") -> Flowable:
        """A table cell's text, wrapped by reportlab when it does not fit on one line."""
        return Lines([text], styles[style]) if plain(text) else p(text, style)

    return Context(r, fonts, heading, p, lines, cell, styles)


def table_style(fonts_header: str) -> TableStyle:
    return TableStyle([
        ("FONTNAME", (0, 0), (-1, 0), fonts_header),
        ("FONTSIZE", (0, 0), (-1, -1), 7.5),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.HexColor("#b20000")),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f4f4f4")]),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ])
