"""The PDF report (reportlab): the answer on page 1, then the leak sites, tables and metadata,
then Graphviz's own vector PDF of each call graph on pages of their own (placed and drawn by
pdf_graph.py: A4 tiles when a whole graph would print with labels below 8 pt)."""

from __future__ import annotations

import io
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from pypdf import PdfReader, PdfWriter
from pypdf.generic import IndirectObject
from reportlab.graphics.shapes import Drawing, Line, PolyLine, String
from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    LongTable,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
    TableStyle,
    XPreformatted,
)

from heapviz.kinds import upper_first
from heapviz.model import Timeline
from heapviz.render.dot import RenderOptions
from heapviz.units import format_value
from heapviz.report.collect import Frame as StackFrame
from heapviz.report.collect import LeakSite, ReportData, TopTable
from heapviz.report.flame_pdf import TEMPLATE as FLAME_TEMPLATE
from heapviz.report.flame_pdf import flame_flowables
from heapviz.report.pdf_groups import group_flowables
from heapviz.report.pdf_graph import (GRAPH_MARGIN, GraphSlot, GraphTile, draw_form, graph_form,
                                     plan_graph, smallest_font, tile_caption, tile_template)
from heapviz.report.sources import SiteSource
from heapviz.growth import Suspect

MARGIN = 15 * mm
PDF_TABLE_ROWS = 100
PDF_LEAK_SITES = 25
ANSWER_ROWS = 10  # leak sites or suspects in page 1's table
PDF_SUSPECTS = 30
_PAGE_W = A4[0] - 2 * MARGIN
_CELL_PAD = 6.0  # reportlab's default left and right cell padding
_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu")
_CJK_FONTS = ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc")


@dataclass
class _Fonts:
    regular: str = "Helvetica"
    bold: str = "Helvetica-Bold"
    mono: str = "Courier"
    fallback: str = ""  # a wide font for characters the regular one lacks (CJK)
    covered: frozenset[int] = frozenset()


def _register_fonts() -> _Fonts:
    fonts = _Fonts()
    for d in _FONT_DIRS:
        regular, bold, mono = (os.path.join(d, f) for f in ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf",
                                                            "DejaVuSansMono.ttf"))
        if os.path.exists(regular):
            pdfmetrics.registerFont(TTFont("HV-Sans", regular))
            fonts.regular = fonts.bold = fonts.mono = "HV-Sans"
            if os.path.exists(bold):
                pdfmetrics.registerFont(TTFont("HV-Sans-Bold", bold))
                fonts.bold = "HV-Sans-Bold"
            if os.path.exists(mono):
                pdfmetrics.registerFont(TTFont("HV-Mono", mono))
                fonts.mono = "HV-Mono"
            face = pdfmetrics.getFont("HV-Sans").face
            fonts.covered = frozenset(face.charToGlyph.keys())
            break
    for path in _CJK_FONTS:
        if os.path.exists(path):
            pdfmetrics.registerFont(TTFont("HV-Fallback", path, subfontIndex=0))
            fonts.fallback = "HV-Fallback"
            break
    return fonts


class _Markup:
    """Escapes profile text for reportlab's Paragraph markup and switches to the fallback font
    for runs of characters the main fonts cannot show (reportlab has no glyph fallback)."""

    def __init__(self, fonts: _Fonts) -> None:
        self.fonts = fonts

    def __call__(self, text: str) -> str:
        text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        if not self.fonts.fallback or not self.fonts.covered:
            return escape(text)
        out: list[str] = []
        run: list[str] = []
        run_fallback = False
        for ch in text:
            fb = self._needs_fallback(ch)
            if fb != run_fallback and run:
                out.append(self._flush(run, run_fallback))
                run = []
            run_fallback = fb
            run.append(ch)
        if run:
            out.append(self._flush(run, run_fallback))
        return "".join(out)

    def _needs_fallback(self, ch: str) -> bool:
        return bool(self.fonts.fallback) and ord(ch) > 0x7F and ord(ch) not in self.fonts.covered

    def _flush(self, run: list[str], fallback: bool) -> str:
        s = escape("".join(run))
        return f'<font name="{self.fonts.fallback}">{s}</font>' if fallback else s

    def width(self, text: str, font: str, size: float) -> float:
        """Width in points of `text` as __call__ lays it out (fallback glyphs count as 1 em)."""
        main = "".join(ch for ch in text if not self._needs_fallback(ch))
        return float(pdfmetrics.stringWidth(main, font, size)) + size * (len(text) - len(main))

    def lines(self, parts: list[str], width: float, font: str, size: float) -> list[str]:
        """Pieces packed greedily into lines of at most `width` points; a piece wider than a line
        is cut between characters (it is never shortened)."""
        lines: list[str] = []
        cur = ""
        for part in parts:
            if cur and self.width(cur + part, font, size) > width:
                lines.append(cur)
                cur = ""
            cur += part
            while self.width(cur, font, size) > width and len(cur) > 1:
                cut = max(1, self._fit(cur, width, font, size))
                lines.append(cur[:cut])
                cur = cur[cut:]
        if cur or not lines:
            lines.append(cur)
        return lines

    def _fit(self, text: str, width: float, font: str, size: float) -> int:
        lo, hi = 1, len(text)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.width(text[:mid], font, size) <= width:
                lo = mid
            else:
                hi = mid - 1
        return lo


# Where a name may wrap: after `::`, after `<`, and after a comma or `(` not followed by a space
# (a space at a line's end would be lost, and with it the name's exact text).
_NAME_BREAKS = re.compile(r"(?<=::)|(?<=<)(?!<)|(?<=[,(])(?! )")


def name_parts(name: str) -> list[str]:
    """A demangled name in pieces that may each start a line; joined they are the name."""
    return [p for p in _NAME_BREAKS.split(name) if p]


def path_parts(path: str) -> list[str]:
    """A path in pieces ending at each `/`: lines break only there, so `file:line` stays whole."""
    return [p for p in re.split(r"(?<=/)", path) if p]


def common_dir(paths: list[str]) -> str:
    """The directory, ending in `/`, that the absolute ones of `paths` share when that is worth
    saying once (two or more of them, at least 16 characters), else ""."""
    absolute = [p for p in paths if p.startswith("/")]
    if len(absolute) < 2:
        return ""
    prefix = os.path.commonpath([os.path.dirname(p) for p in absolute])
    prefix = prefix.rstrip("/") + "/"
    return prefix if len(prefix) >= 16 else ""


class _Heading(Paragraph):  # type: ignore[misc]
    """A section heading that adds itself to the PDF outline."""

    def __init__(self, text: str, style: ParagraphStyle, level: int, key: str) -> None:
        super().__init__(text, style)
        self.outline_level = level
        self.outline_key = key


class _Doc(BaseDocTemplate):  # type: ignore[misc]
    def afterFlowable(self, flowable: Flowable) -> None:
        if isinstance(flowable, _Heading):
            key = flowable.outline_key
            self.canv.bookmarkPage(key)
            self.canv.addOutlineEntry(flowable.getPlainText(), key, level=flowable.outline_level, closed=False)


def write_pdf(r: ReportData, options: RenderOptions = RenderOptions()) -> bytes:
    fonts = _register_fonts()
    m = _Markup(fonts)
    styles = {
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
    counter = iter(range(1, 10_000))

    def heading(text: str, level: int) -> _Heading:
        style = styles["h2"] if level == 0 else styles["h3"]
        return _Heading(m(text), style, level, f"s{next(counter)}")

    def p(text: str, style: str = "body") -> Paragraph:
        return Paragraph(m(text), styles[style])

    def lines(parts: list[str], width: float, style: str = "lines", after: str = "") -> Paragraph:
        """Pieces packed into lines of `width` points, each escaped, joined by <br/>; `after`
        is markup appended as is."""
        st = styles[style]
        packed = m.lines(parts, width, st.fontName, st.fontSize)
        return Paragraph("<br/>".join(m(ln) for ln in packed) + after, st)

    ctx = _Context(r, fonts, heading, p, lines, styles)
    story: list[Flowable] = [Paragraph(m(r.title), styles["h1"])]
    story += _answer(ctx)
    story += _checks(ctx)
    story += _growth(ctx)
    story += group_flowables(ctx, _table_style)
    story.append(heading(f"{r.words.sites} ({min(len(r.leaks), PDF_LEAK_SITES)} largest of {r.leak_sites_total} "
                         "distinct stacks)", 0))
    if r.mode == "base":
        story.append(p("Values are the new profile minus the base.", "small"))
    for site in r.leaks[:PDF_LEAK_SITES]:
        story += _leak_site(site, ctx)
    story.append(heading("Top functions", 0))
    for t in r.tables:
        story += _top_table(t, ctx)
    story += _details(ctx)
    story.append(heading("Binaries", 0))
    story += _binaries(ctx)

    # the pages of their own come last, after all the text, so that no text page is cut short
    growth_title = f"Call graph of the growth (last dump minus {'base' if r.base else 'first'})"
    readers: list[PdfReader] = []
    tiles: list[GraphTile] = []
    for title_text, images, dot in ((f"Call graph ({r.sample_type})", r.graph_images, r.graph_dot),
                                    (growth_title, r.growth_images, r.growth_dot)):
        if "pdf" in images:
            reader = PdfReader(io.BytesIO(images["pdf"]))
            box = reader.pages[0].mediabox
            tiles += plan_graph(len(readers), title_text, (float(box.left), float(box.bottom), float(box.right),
                                                           float(box.top)), smallest_font(dot))
            readers.append(reader)
    slots: list[tuple[int, int, float, float]] = []  # (tile, page index, x, y)
    for ti, tile in enumerate(tiles):
        wx0, wy0, wx1, wy1 = tile.window
        story += [NextPageTemplate(tile_template(tile.page)), PageBreak()]
        if tile.part == 1:
            story.append(heading(tile.title, 0))
        story.append(p(tile_caption(tile), "small"))
        story.append(Spacer(1, 4))
        story.append(GraphSlot((wx1 - wx0) * tile.scale, (wy1 - wy0) * tile.scale, ti, slots))
    flame_size: tuple[float, float] | None = None
    if r.flame is not None and r.flame.root.cum > 0:
        flame = r.flame
        width = landscape(A4)[0] - 2 * MARGIN
        flowables, height = flame_flowables(flame, heading, p, fonts.mono, width, landscape(A4)[1] - 2 * MARGIN,
                                            lambda v: format_value(v, flame.sample_unit, r.flame_unit))
        flame_size = (landscape(A4)[0], height + 2 * MARGIN)
        story += [NextPageTemplate(FLAME_TEMPLATE), PageBreak(), *flowables]

    buf = io.BytesIO()
    title = r.title

    def on_page(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(fonts.regular, 7.5)
        canvas.setFillColor(colors.grey)
        w = canvas._pagesize[0]  # this page's own size: graph and flame pages differ
        canvas.drawString(MARGIN, MARGIN / 2, f"heapviz {r.version}")
        canvas.drawRightString(w - MARGIN, MARGIN / 2, f"page {doc.page}")
        canvas.restoreState()

    doc = _Doc(buf, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN, bottomMargin=MARGIN,
               title=title, author="heapviz", subject=", ".join(r.profiles), creator=f"heapviz {r.version}",
               invariant=True)
    portrait = Frame(MARGIN, MARGIN, A4[0] - 2 * MARGIN, A4[1] - 2 * MARGIN, id="body")
    templates = [PageTemplate("portrait", [portrait], onPage=on_page, pagesize=A4)]
    for size in sorted({t.page for t in tiles}):
        frame = Frame(GRAPH_MARGIN, GRAPH_MARGIN, size[0] - 2 * GRAPH_MARGIN, size[1] - 2 * GRAPH_MARGIN,
                      id=tile_template(size),
                      leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
        templates.append(PageTemplate(tile_template(size), [frame], onPage=on_page, pagesize=size))
    if flame_size is not None:
        frame = Frame(MARGIN, MARGIN, flame_size[0] - 2 * MARGIN, flame_size[1] - 2 * MARGIN, id=FLAME_TEMPLATE,
                      leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)
        templates.append(PageTemplate(FLAME_TEMPLATE, [frame], onPage=on_page, pagesize=flame_size))
    doc.addPageTemplates(templates)
    doc.build(story)

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(buf.getvalue())))
    forms: dict[int, IndirectObject] = {}  # each graph's page, copied once as a form for every tile of it
    for ti, page_index, x, y in slots:
        tile = tiles[ti]
        if tile.graph not in forms:
            forms[tile.graph] = graph_form(writer, readers[tile.graph].pages[0])
        draw_form(writer, writer.pages[page_index], forms[tile.graph], f"/HvGraph{tile.graph}", tile.window,
                   tile.scale, (x, y))
    out = io.BytesIO()
    writer.add_metadata({"/Title": title, "/Author": "heapviz", "/Creator": f"heapviz {r.version}"})
    writer.write(out)
    return out.getvalue()


@dataclass
class _Context:
    r: ReportData
    fonts: _Fonts
    heading: Callable[[str, int], Flowable]
    p: Callable[..., Paragraph]
    lines: Callable[..., Paragraph]
    styles: dict[str, ParagraphStyle]

    def style(self, name: str) -> ParagraphStyle:
        return self.styles[name]


def _table_style(fonts_header: str) -> TableStyle:
    return TableStyle([
        ("FONTNAME", (0, 0), (-1, 0), fonts_header),
        ("FONTSIZE", (0, 0), (-1, -1), 7.5),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.HexColor("#b20000")),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, colors.HexColor("#f4f4f4")]),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ])


def _total(r: ReportData, name: str) -> int | None:
    return next((exact for n, _t, exact in r.totals if n == name), None)


def _in_use(r: ReportData, space: int | None, objects: int | None, signed: bool = False) -> str:
    """`35.71kB in 119 objects`; `signed`: `+35.71kB in +54 objects`."""
    parts = []
    if space is not None:
        parts.append(r.bytes_text(space, signed))
    if objects is not None:
        text = r.objects_text(objects)
        parts.append("+" + text if signed and objects > 0 else text)
    return " in ".join(parts) or "nothing"


def _lower_first(text: str) -> str:
    """`Leak suspects` -> `leak suspects`, for use inside a sentence (`CPU` stays upper case)."""
    return text[:1].lower() + text[1:] if text[1:2].islower() else text


def _name(path: str) -> str:
    return os.path.basename(path) or path


def _overview(r: ReportData) -> str:
    """One sentence: what was measured and how much is in use (or changed)."""
    value_type, count_type = r.growth_types
    space, objects = _total(r, value_type), _total(r, count_type)
    what = f" of {r.program}" if r.program else ""
    in_use = r.words.in_use
    if r.mode == "base" and len(r.dumps) >= 2:
        base, new = r.dumps[0], r.dumps[-1]
        return (f"Difference {_name(new.file)} minus base {_name(base.file)}{what}: "
                f"{_in_use(r, space, objects, signed=True)} {in_use}. "
                f"Base: {r.bytes_text(base.inuse_space)} in {r.objects_text(base.inuse_objects)}; "
                f"new: {r.bytes_text(new.inuse_space)} in {r.objects_text(new.inuse_objects)}.")
    if r.mode == "series" and len(r.dumps) >= 2:
        first, last = r.dumps[0], r.dumps[-1]
        change = last.inuse_space - first.inuse_space
        start = f"base {first.label}" if r.base else first.label
        return (f"{len(r.dumps)} dumps{what}, {start} to {last.label}: {r.words.measure} "
                f"{r.bytes_text(first.inuse_space)} → {r.bytes_text(last.inuse_space)} "
                f"({r.bytes_text(change, signed=True) if change else 'no change'}), "
                f"{r.objects_text(first.inuse_objects)} → {r.objects_text(last.inuse_objects)}.")
    names = ", ".join(_name(f) for f in r.profiles)
    seq = f" ({r.sequence})" if r.sequence else ""
    merged = "Merged profiles " if r.mode == "merged" else ""
    return f"{merged}{names}{seq}{what}: {_in_use(r, space, objects)} {in_use}."


def _headline(r: ReportData) -> list[str]:
    """The answer in a sentence or two, worded for the mode."""
    out = []
    if r.mode in ("series", "base") and r.suspects:
        grown = [s for s in r.suspects if s.growth_bytes > 0]
        before = [s for s in r.suspects if (s.growth_before_collapse or 0) > 0]
        if not grown and r.collapse is not None and before:
            s = before[0]
            out.append(f"Top suspect before the last dump collapsed: {s.function}, "
                       f"{r.bytes_text(s.growth_before_collapse or 0, signed=True)} from the first dump to the one "
                       f"before the last ({r.bytes_text(s.inuse_space[0])} → {r.bytes_text(s.inuse_space[-2])}; "
                       f"score {s.score:.2f}).")
        elif not grown:
            out.append("Nothing grew from the first to the last dump.")
        elif r.base or r.mode == "base":
            s = max(grown, key=lambda s: (s.growth_bytes, -s.rank))
            out.append(f"Grew the most: {s.function}, {r.bytes_text(s.growth_bytes, signed=True)} since the base "
                       f"({_first_last(r, s)}).")
        else:
            s = r.suspects[0] if r.suspects[0].growth_bytes > 0 else grown[0]
            kind = "steady growth" if s.steady else "grew"
            out.append(f"Top suspect: {s.function}, {r.bytes_text(s.growth_bytes, signed=True)} over "
                       f"{len(r.dumps)} dumps ({_first_last(r, s)}; {kind}, score {s.score:.2f}).")
    if r.leaks and r.leaks[0].frames:
        site = r.leaks[0]
        where = site.user_frame
        at = ""
        if where is not None:
            at = f" at {os.path.basename(where.location)}"
            if where.function != site.frames[0].function:
                at = f", from {where.function}{at}"
        label = "Largest change by stack" if r.mode == "base" else r.words.largest_site
        out.append(f"{label}: {site.frames[0].function}, {_site_amount(r, site)}{at}.")
    if r.collapse is not None:
        k = r.collapse
        out.append(f"The last dump fell by {k.drop_fraction * 100:.0f}% ({r.bytes_text(k.before)} → "
                   f"{r.bytes_text(k.last)}): probably the dump at exit, after the program freed its heap. Before "
                   f"it, the heap grew by {r.bytes_text(k.growth_before, signed=True)} since the first dump; "
                   "suspects are ranked on their growth up to the collapse as well as from first to last.")
    top = r.tables[0].rows[0] if r.tables and r.tables[0].rows else None
    if top is not None and top.flat and r.mode not in ("series", "base"):  # there the suspects say it
        out.append(f"{r.words.holds} {r.sample_type} in the function itself: {top.name}, {top.flat_text} "
                   f"({top.flat_pct}).")
    return out or [r.words.no_values]


def _first_last(r: ReportData, s: Suspect) -> str:
    return f"{r.bytes_text(s.inuse_space[0])} → {r.bytes_text(s.inuse_space[-1])}" if s.inuse_space else ""


def _site_amount(r: ReportData, site: LeakSite) -> str:
    amount = site.bytes_text if site.bytes_text else site.value_text
    text = f"{amount} ({site.pct})"
    if site.objects_text:
        text += f" in {site.objects_text}"
    return text


def _answer(c: _Context) -> list[Flowable]:
    """Page 1: what was measured, the answer in words, then the table it comes from."""
    r = c.r
    out: list[Flowable] = [c.heading("Summary", 0), c.p(_overview(r))]
    out.append(Spacer(1, 4))
    out += [c.p(text, "answer" if i == 0 else "body") for i, text in enumerate(_headline(r))]
    if r.mode in ("series", "base") and r.suspects:
        out += _suspects_answer(c)
    elif r.leaks:
        out += _sites_answer(c)
    if r.wrappers:
        names = ", ".join(w.name + (" (detected)" if w.detected else "") for w in r.wrappers[:12])
        more = f" and {len(r.wrappers) - 12} more" if len(r.wrappers) > 12 else ""
        out.append(c.p(f"Allocation wrappers: {names}{more}. {r.words.sites} and suspects are named after their "
                       f"callers; the graph and tables keep them (--hide '{r.wrappers_hide}' removes them; "
                       "--no-alloc-wrappers turns this off).", "small"))
    out += [c.p(note, "small") for note in r.notes]
    if r.warnings:
        out.append(c.heading("Warnings", 0))
        out += [c.p("• " + w, "warn") for w in r.warnings]
    return out


def _user_location(f: StackFrame | None, prefix: str) -> str:
    if f is None:
        return ""
    loc = f.location
    return loc[len(prefix):] if prefix and loc.startswith(prefix) else loc


def _sites_answer(c: _Context) -> list[Flowable]:
    r = c.r
    sites = r.leaks[:ANSWER_ROWS]
    user = [s.user_frame for s in sites]
    prefix = common_dir([f.file for f in user if f is not None and f.file])
    widths = [7 * mm, 62 * mm, 17 * mm, 15 * mm, 17 * mm]
    widths.append(_PAGE_W - sum(widths))
    name_w, where_w = widths[1] - 2 * _CELL_PAD, widths[5] - 2 * _CELL_PAD
    in_bytes = any(s.bytes_text for s in sites)
    w = r.words
    data: list[list[Any]] = [["#", w.by, w.value_column if in_bytes else r.sample_type, "Share", w.count_column,
                              "First frame in your code"]]
    for s in sites:
        f = s.user_frame
        where: Any = ""
        if f is not None:
            where = [c.lines(path_parts(_user_location(f, prefix)), where_w, "path")]
            if not s.frames or f.function != s.frames[0].function:
                where.insert(0, c.lines(name_parts(f.function), where_w))
        data.append([str(s.rank), c.lines(name_parts(s.frames[0].function if s.frames else "?"), name_w),
                     s.bytes_text or s.value_text, s.pct, s.objects_text, where])
    t = LongTable(data, colWidths=widths, repeatRows=1)
    style = _table_style(c.fonts.bold)
    style.add("ALIGN", (2, 0), (4, -1), "RIGHT")
    t.setStyle(style)
    title = "Largest changes by stack (new minus base)" if r.mode == "base" else w.largest_sites
    note = f"{min(len(r.leaks), ANSWER_ROWS)} of {r.leak_sites_total} distinct stacks; their frames follow under "
    note += f"{w.sites}."
    if prefix:
        note += f" Paths are under {prefix}"
    return [c.heading(title, 1), t, Spacer(1, 2), c.p(note, "small")]


def _suspects_answer(c: _Context) -> list[Flowable]:
    r = c.r
    widths = [7 * mm, 0.0, 20 * mm, 40 * mm, 30 * mm, 13 * mm]
    widths[1] = _PAGE_W - sum(widths)
    data: list[list[Any]] = [["#", "Function", "Growth", f"{upper_first(r.words.measure)}, first → last", "Trend",
                              "Score"]]
    for s in r.suspects[:ANSWER_ROWS]:
        data.append([str(s.rank), c.lines(name_parts(s.function + _tag(r, s)), widths[1] - 2 * _CELL_PAD),
                     r.bytes_text(s.growth_bytes, signed=True), _first_last(r, s),
                     _chart(list(s.inuse_space), 28 * mm, 9 * mm, None, c.fonts.regular, r.bytes_text),
                     f"{s.score:.2f}"])
    t = LongTable(data, colWidths=widths, repeatRows=1)
    style = _table_style(c.fonts.bold)
    style.add("ALIGN", (2, 0), (3, -1), "RIGHT")
    style.add("ALIGN", (5, 0), (5, -1), "RIGHT")
    t.setStyle(style)
    title = "Grew the most" if r.base or r.mode == "base" else f"{r.words.suspects} (steady growers first)"
    more = f"; all {min(len(r.suspects), PDF_SUSPECTS)} with their stacks under Growth" if len(r.dumps) > 1 else ""
    note = f"Stacks ranked: {r.suspect_stacks}{more}. Score: 1 for a steady grower that made all the growth."
    return [c.heading(title, 1), t, Spacer(1, 2), c.p(note, "small")]


def _tag(r: ReportData, s: Suspect) -> str:
    if s.steady:
        return "  (steady growth)"
    return "  (grew)" if s.growth_bytes > 0 and len(r.dumps) < 3 else ""


def _checks(c: _Context) -> list[Flowable]:
    """Thresholds and the comparison with a previous run: short, and what a nightly job asks."""
    r = c.r
    out: list[Flowable] = []
    if r.thresholds:
        out.append(c.heading("Thresholds", 0))
        for t in r.thresholds:
            what = r.words.growth_limit if t.name == "growth" else f"{r.words.grows} (last dump)"
            value, limit = r.bytes_text(t.value, signed=t.name == "growth"), r.bytes_text(t.limit)
            verdict = f"EXCEEDED: {value} > {limit}" if t.exceeded else f"ok: {value} <= {limit}"
            sep = "" if r.growth_unit == "bytes" else ","  # 1,490,000,000 nanoseconds: readable digits
            out.append(c.p(f"{what}: {verdict} ({t.value:{sep}} > {t.limit:{sep}} {r.growth_unit})" if t.exceeded else
                           f"{what}: {verdict}", "warn" if t.exceeded else "body"))
    if r.changes or r.previous:
        out.append(c.heading("Since the previous run", 0))
        out += [c.p(f"{ch.kind}: {ch.function} grew {r.bytes_text(ch.growth_bytes)}"
                    + (f" (previously {r.bytes_text(ch.previous_growth_bytes)})"
                       if ch.previous_growth_bytes is not None else ""))
                for ch in r.changes] or [c.p("Nothing got worse.")]
    return out


def _chart(values: list[int], width: float, height: float, labels: list[str] | None, font: str,
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


def _timeline_chart(t: Timeline, width: float, height: float, font: str, fmt: Callable[[int], str]) -> Drawing:
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


def _growth(c: _Context) -> list[Flowable]:
    r = c.r
    if len(r.dumps) < 2:
        return []
    out: list[Flowable] = [c.heading(f"Growth over {len(r.dumps)} dumps"
                                     + (" (the first is the base)" if r.base else ""), 0)]
    if r.timeline is not None:
        t = r.timeline
        names = ", ".join(name for name, _ in t.series)
        out.append(KeepTogether([c.p(f"Memory over the whole run, at every measurement ({t.unit} on the x axis): "
                                     f"{names}"),
                                 _timeline_chart(t, 170 * mm, 50 * mm, c.fonts.regular, r.bytes_text)]))
    labels = [d.label for d in r.dumps]
    bytes_chart = _chart([d.inuse_space for d in r.dumps], 170 * mm, 45 * mm, labels, c.fonts.regular,
                         r.bytes_text)
    out.append(KeepTogether([c.p(f"{upper_first(r.words.grows)} per dump"), bytes_chart]))
    objects_chart = _chart([d.inuse_objects for d in r.dumps], 170 * mm, 35 * mm, labels, c.fonts.regular,
                           r.objects_text)
    out.append(KeepTogether([c.p(f"{upper_first(r.words.counts)} per dump"), objects_chart]))
    # exact bytes are worth a column; a time's exact nanoseconds are not for reading
    exact = r.growth_unit == "bytes"
    data: list[list[Any]] = [["#", "File", upper_first(r.words.measure), *(["Bytes (exact)"] if exact else []),
                              r.words.count_column]]
    data += [["base" if r.base and i == 0 else str(d.sequence if d.sequence is not None else i + 1),
              c.lines(path_parts(d.file), _PAGE_W - 84 * mm - 12 * mm - 2 * _CELL_PAD, "path"),
              r.bytes_text(d.inuse_space), *([str(d.inuse_space)] if exact else []), r.objects_text(d.inuse_objects)]
             for i, d in enumerate(r.dumps)]
    t = LongTable(data, colWidths=[12 * mm, None, 22 * mm, *([26 * mm] if exact else []), 24 * mm], repeatRows=1)
    style = _table_style(c.fonts.bold)
    style.add("ALIGN", (2, 0), (-1, -1), "RIGHT")
    t.setStyle(style)
    out.append(t)
    shown = r.suspects[:PDF_SUSPECTS]
    out.append(c.heading(f"All {_lower_first(r.words.suspects)} ({len(shown)} of {r.suspect_stacks} stacks, "
                         "steady growers first)", 1))
    widths = [8 * mm, 0.0, 12 * mm, 18 * mm, 30 * mm]
    widths[1] = _PAGE_W - sum(widths)
    rows: list[list[Any]] = [["#", f"Function, stack and {r.words.grows} per dump", "Score", "Growth", "Trend"]]
    for s in shown:
        stack = " ← ".join(s.stack[:8]) + (" ← …" if len(s.stack) > 8 else "")
        cell = [c.p(s.function + _tag(r, s), "mono"), c.p(stack, "small"),
                c.p(" → ".join(r.bytes_text(v) for v in s.inuse_space), "small")]
        rows.append([str(s.rank), cell, f"{s.score:.2f}", r.bytes_text(s.growth_bytes, signed=True),
                     _chart(list(s.inuse_space), 28 * mm, 9 * mm, None, c.fonts.regular, r.bytes_text)])
    t = LongTable(rows, colWidths=widths, repeatRows=1)
    t.setStyle(_table_style(c.fonts.bold))
    out.append(t)
    return out


def _top_table(t: TopTable, c: _Context) -> list[Flowable]:
    rows = t.rows[:PDF_TABLE_ROWS]
    more = len(t.rows) - len(rows) + t.omitted
    data: list[list[Any]] = [["flat", "flat%", "sum%", "cum", "cum%", "name"]]
    for row in rows:
        data.append([row.flat_text, row.flat_pct, row.sum_pct, row.cum_text, row.cum_pct, c.p(row.name, "mono")])
    widths = [20 * mm, 14 * mm, 14 * mm, 20 * mm, 14 * mm, None]
    table = LongTable(data, colWidths=widths, repeatRows=1)
    style = _table_style(c.fonts.bold)
    style.add("ALIGN", (0, 0), (4, -1), "RIGHT")
    table.setStyle(style)
    out: list[Flowable] = [c.heading(f"{t.title} (total {t.total_text})", 1), table]
    if more > 0:
        out.append(c.p(f"… {more} more rows in the HTML report or with heapviz top.", "small"))
    return out


def _leak_site(site: LeakSite, c: _Context) -> list[Flowable]:
    r = c.r
    what = f"#{site.rank}  {site.frames[0].function if site.frames else '?'}: {_site_amount(r, site)}"
    exact = r.growth_unit == "bytes"  # a time's exact nanoseconds are not for reading
    if site.bytes is not None and site.bytes_text and site.bytes_text != f"{site.bytes}B" and exact:
        what += f" ({site.bytes} bytes)"
    files = [f.file for f in site.frames if f.file]
    prefix = common_dir(files)
    widths = [8 * mm, 0.0, 58 * mm]
    widths[1] = _PAGE_W - sum(widths)
    name_w, loc_w = widths[1] - 2 * _CELL_PAD, widths[2] - 2 * _CELL_PAD
    data: list[list[Any]] = []
    for i, f in enumerate(site.frames):
        inline = ' <font color="#777777">[inlined]</font>' if f.inline else ""
        loc = f.location[len(prefix):] if prefix and f.file.startswith(prefix) else f.location
        data.append([str(i), c.lines(name_parts(f.full_name or f.function), name_w, after=inline),
                     c.lines(path_parts(loc), loc_w, "path")])
    table = LongTable(data or [["", "", ""]], colWidths=widths)
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("FONTNAME", (0, 0), (0, -1), c.fonts.regular),
                               ("FONTSIZE", (0, 0), (0, -1), 7), ("TEXTCOLOR", (0, 0), (0, -1), colors.grey),
                               ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#e0e0e0")),
                               ("TOPPADDING", (0, 0), (-1, -1), 1), ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]))
    head: list[Flowable] = [c.p(f"{what}, {r.words.site_verb}:", "body")]
    if site.wrappers:
        head.append(c.p("allocated through " + " ← ".join(f.function for f in site.wrappers), "small"))
    if prefix:
        head.append(c.lines(path_parts(f"files under {prefix}"), _PAGE_W, "path"))
    out: list[Flowable] = [KeepTogether([*head, table])]
    code = r.site_sources.get(site.rank)
    if code is not None:
        out += _site_code(code, c)
    return [*out, Spacer(1, 5)]


_CODE_WIDTHS = (16 * mm, 16 * mm, 10 * mm)  # this site, all stacks, line number; the code gets the rest


def _code_cell(text: str, width: float, c: _Context) -> XPreformatted:
    """A source line in the code font, whitespace kept, wrapped at `width` points: each
    continuation starts with a marker, and no character is ever cut off."""
    st = c.style("code")
    m = _Markup(c.fonts)
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
    lines = [m(pieces[0])] + [f'<font color="#b20000">{m(marker)}</font>{m(p)}' for p in pieces[1:]]
    return XPreformatted("\n".join(lines), st)


def _site_code(code: SiteSource, c: _Context) -> list[Flowable]:
    """The code of a site's functions in the user's code: a table per function with the values
    in a left gutter and the hot lines shaded."""
    code_w = _PAGE_W - sum(_CODE_WIDTHS) - 2 * _CELL_PAD
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
        table = LongTable(data, colWidths=[*_CODE_WIDTHS, None], repeatRows=1)
        table.setStyle(style)
        out.append(KeepTogether([head, table]))
        out.append(Spacer(1, 3))
    if code.note:
        out.append(c.p(code.note, "small"))
    return out


def _details(c: _Context) -> list[Flowable]:
    """The metadata: where the numbers come from and how they were made."""
    r = c.r
    rows = []
    if r.program:
        rows.append(("Program", r.program_path or r.program))
    rows.append(("Profile" + ("s" if len(r.profiles) > 1 else ""), ", ".join(r.profiles)))
    if r.base:
        rows.append(("Base", r.base))
    rows.append(("Kind", r.kind + (f" — {r.sequence}" if r.sequence else "")))
    rows.append(("Header", r.header))
    rows.append(("Shown", r.sample_type + (" (new minus base)" if r.mode == "base" else "")))
    for name, text, exact in r.totals:
        label = f"Total {name}" + (" (difference)" if r.mode == "base" else "")
        if name.endswith("_space"):
            rows.append((label, f"{r.bytes_text(exact, signed=r.mode == 'base')} ({exact} bytes)"))
        elif name.endswith("_objects"):
            rows.append((label, r.objects_text(exact)))
        elif r.is_time(name):  # 1.49s, not 1490000000 nanoseconds
            rows.append((label, ("+" if r.mode == "base" and exact > 0 else "") + text))
        else:
            rows.append((label, f"{text} ({exact})" if text != str(exact) else text))
    if r.header_totals:
        rows.append(("Header totals", ", ".join(f"{n} {t}" for n, t in r.header_totals)))
    rows.append(("Sampling", f"values are estimates: {r.sampling}" if r.estimated else "none: values are exact"))
    rows.append(("Made by", f"heapviz {r.version}" + (": " + " ".join(r.options) if r.options else "")))
    table = LongTable([[c.p(k, "small"), c.p(v, "small")] for k, v in rows], colWidths=[35 * mm, None])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("TOPPADDING", (0, 0), (-1, -1), 1),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]))
    return [c.heading("Details", 0), table]


def _binaries(c: _Context) -> list[Flowable]:
    r = c.r
    data: list[list[Any]] = [["Mapped file", "Symbolized with", "Addresses", "Status"]]
    for b in r.binaries:
        sym = b.symbol_file + (f"\ndebug: {b.debug_file}" if b.debug_file else "")
        if b.build_id:
            sym += f"\nbuild id {b.build_id}"
        data.append([c.lines(path_parts(b.file), 55 * mm - 2 * _CELL_PAD, "path"), c.p(sym, "small"),
                     f"{b.resolved}/{b.addresses}", c.p(b.status, "small")])
    table = LongTable(data, colWidths=[55 * mm, 70 * mm, 18 * mm, None], repeatRows=1)
    table.setStyle(_table_style(c.fonts.bold))
    return [table]
