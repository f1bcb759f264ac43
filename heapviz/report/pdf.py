"""The PDF report (reportlab), with Graphviz's own vector PDF of the call graph merged onto a
page of its own (pypdf), so the graph keeps Graphviz's fonts and shapes at any zoom."""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Any
from xml.sax.saxutils import escape

from pypdf import PdfReader, PdfWriter, Transformation
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
    CondPageBreak,
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
)

from heapviz.render.dot import RenderOptions
from heapviz.units import format_value
from heapviz.report.collect import LeakSite, ReportData, TopTable
from heapviz.report.flame_pdf import TEMPLATE as FLAME_TEMPLATE
from heapviz.report.flame_pdf import add_flame_page

MARGIN = 15 * mm
MAX_PAGE = 14400.0  # PDF's largest page side (200 in)
PDF_TABLE_ROWS = 100
PDF_LEAK_SITES = 25
_HEADING = 40.0  # room for the graph page's heading
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
            fb = ord(ch) > 0x7F and ord(ch) not in self.fonts.covered
            if fb != run_fallback and run:
                out.append(self._flush(run, run_fallback))
                run = []
            run_fallback = fb
            run.append(ch)
        if run:
            out.append(self._flush(run, run_fallback))
        return "".join(out)

    def _flush(self, run: list[str], fallback: bool) -> str:
        s = escape("".join(run))
        return f'<font name="{self.fonts.fallback}">{s}</font>' if fallback else s


class _Heading(Paragraph):  # type: ignore[misc]
    """A section heading that adds itself to the PDF outline."""

    def __init__(self, text: str, style: ParagraphStyle, level: int, key: str) -> None:
        super().__init__(text, style)
        self.outline_level = level
        self.outline_key = key


class _GraphSlot(Flowable):  # type: ignore[misc]
    """Reserves a graph's box and records where it landed, for the merge after the build."""

    def __init__(self, width: float, height: float, graph: int, slots: list[tuple[int, int, float, float]]) -> None:
        super().__init__()
        self.width, self.height = width, height
        self._graph = graph
        self._slots = slots

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        x, y = self.canv.absolutePosition(0, 0)
        self._slots.append((self._graph, self.canv.getPageNumber() - 1, x, y))


class _Doc(BaseDocTemplate):  # type: ignore[misc]
    def afterFlowable(self, flowable: Flowable) -> None:
        if isinstance(flowable, _Heading):
            key = flowable.outline_key
            self.canv.bookmarkPage(key)
            self.canv.addOutlineEntry(flowable.getPlainText(), key, level=flowable.outline_level, closed=False)


def _page_size_for(w: float, h: float) -> tuple[tuple[float, float], float]:
    """A page for a graph of w x h points and the scale to draw it at: A4 (landscape when the
    graph is wide) when that keeps it at half size or more, else a page of its own size."""
    for page in ((landscape(A4), A4) if w > h else (A4, landscape(A4))):
        aw, ah = page[0] - 2 * MARGIN, page[1] - 2 * MARGIN - _HEADING
        scale = min(aw / w, ah / h, 1.0)
        if scale >= 0.5:
            return page, scale
    scale = min(1.0, (MAX_PAGE - 2 * MARGIN) / w, (MAX_PAGE - 2 * MARGIN - _HEADING) / h)
    return (w * scale + 2 * MARGIN, h * scale + 2 * MARGIN + _HEADING), scale


def write_pdf(r: ReportData, options: RenderOptions = RenderOptions()) -> bytes:
    fonts = _register_fonts()
    m = _Markup(fonts)
    graphs = []  # (title, Graphviz page, page size, scale)
    growth_title = f"Call graph of the growth (last dump minus {'base' if r.base else 'first'})"
    for title_text, images in ((f"Call graph ({r.sample_type})", r.graph_images), (growth_title, r.growth_images)):
        if "pdf" in images:
            gpage = PdfReader(io.BytesIO(images["pdf"])).pages[0]
            size, scale = _page_size_for(float(gpage.mediabox.width), float(gpage.mediabox.height))
            graphs.append((title_text, gpage, size, scale))

    styles = {
        "body": ParagraphStyle("body", fontName=fonts.regular, fontSize=9, leading=12, alignment=TA_LEFT),
        "small": ParagraphStyle("small", fontName=fonts.regular, fontSize=7.5, leading=9.5),
        "mono": ParagraphStyle("mono", fontName=fonts.mono, fontSize=7.5, leading=9.5, splitLongWords=True),
        "h1": ParagraphStyle("h1", fontName=fonts.bold, fontSize=16, leading=20, spaceAfter=6),
        "h2": ParagraphStyle("h2", fontName=fonts.bold, fontSize=12.5, leading=16, spaceBefore=10, spaceAfter=4,
                             textColor=colors.HexColor("#b20000")),
        "h3": ParagraphStyle("h3", fontName=fonts.bold, fontSize=9.5, leading=12, spaceBefore=6, spaceAfter=2),
        "warn": ParagraphStyle("warn", fontName=fonts.regular, fontSize=8.5, leading=11,
                               textColor=colors.HexColor("#8a4b00")),
    }
    counter = iter(range(1, 10_000))

    def heading(text: str, level: int) -> _Heading:
        style = styles["h2"] if level == 0 else styles["h3"]
        return _Heading(m(text), style, level, f"s{next(counter)}")

    def p(text: str, style: str = "body") -> Paragraph:
        return Paragraph(m(text), styles[style])

    story: list[Flowable] = [Paragraph(m(r.title), styles["h1"])]
    story += _summary(r, heading, p, styles)
    story += _growth(r, heading, p, fonts)
    slots: list[tuple[int, int, float, float]] = []  # (graph, page index, x, y)
    for gi, (gtitle, gpage, _size, scale) in enumerate(graphs):
        w, h = float(gpage.mediabox.width) * scale, float(gpage.mediabox.height) * scale
        story += [NextPageTemplate(f"graph{gi}"), PageBreak(), heading(gtitle, 0), _GraphSlot(w, h, gi, slots),
                  NextPageTemplate("portrait"), PageBreak()]
    flame_frame = (landscape(A4)[0] - 2 * MARGIN, landscape(A4)[1] - 2 * MARGIN)
    if r.flame is not None and r.flame.root.cum > 0:
        flame = r.flame
        add_flame_page(story, flame, heading, p, fonts.mono, flame_frame,
                       lambda v: format_value(v, flame.sample_unit, r.flame_unit))
    story.append(heading("Top functions", 0))
    for t in r.tables:
        story += _top_table(t, heading, p)
    story.append(CondPageBreak(120))
    story.append(heading(f"Leak sites ({min(len(r.leaks), PDF_LEAK_SITES)} largest of {r.leak_sites_total} "
                         f"distinct stacks)", 0))
    for site in r.leaks[:PDF_LEAK_SITES]:
        story += _leak_site(site, p, fonts)
    story.append(heading("Binaries", 0))
    story += _binaries(r, p, fonts)

    buf = io.BytesIO()
    title = r.title

    def on_page(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(fonts.regular, 7.5)
        canvas.setFillColor(colors.grey)
        w = canvas._pagesize[0]  # this page's own size: graph pages may differ
        canvas.drawString(MARGIN, MARGIN / 2, f"heapviz {r.version}")
        canvas.drawRightString(w - MARGIN, MARGIN / 2, f"page {doc.page}")
        canvas.restoreState()

    doc = _Doc(buf, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN, bottomMargin=MARGIN,
               title=title, author="heapviz", subject=", ".join(r.profiles), creator=f"heapviz {r.version}",
               invariant=True)
    portrait = Frame(MARGIN, MARGIN, A4[0] - 2 * MARGIN, A4[1] - 2 * MARGIN, id="body")
    templates = [PageTemplate("portrait", [portrait], onPage=on_page, pagesize=A4)]
    for gi, (_t, _g, size, _s) in enumerate(graphs):
        frame = Frame(MARGIN, MARGIN, size[0] - 2 * MARGIN, size[1] - 2 * MARGIN, id=f"graph{gi}", leftPadding=0,
                      rightPadding=0, topPadding=0, bottomPadding=0)
        templates.append(PageTemplate(f"graph{gi}", [frame], onPage=on_page, pagesize=size))
    templates.append(PageTemplate(FLAME_TEMPLATE, [Frame(MARGIN, MARGIN, *flame_frame, id=FLAME_TEMPLATE)],
                                  onPage=on_page, pagesize=landscape(A4)))
    doc.addPageTemplates(templates)
    doc.build(story)

    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(buf.getvalue())))
    for gi, page_index, x, y in slots:
        _t, gpage, _size, scale = graphs[gi]
        writer.pages[page_index].merge_transformed_page(gpage, Transformation().scale(scale).translate(x, y))
    out = io.BytesIO()
    writer.add_metadata({"/Title": title, "/Author": "heapviz", "/Creator": f"heapviz {r.version}"})
    writer.write(out)
    return out.getvalue()


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


def _summary(r: ReportData, heading: Any, p: Any, styles: dict[str, ParagraphStyle]) -> list[Flowable]:
    rows = []
    if r.program:
        rows.append(("Program", r.program_path or r.program))
    rows.append(("Profile" + ("s" if len(r.profiles) > 1 else ""), ", ".join(r.profiles)))
    rows.append(("Kind", r.kind + (f" — {r.sequence}" if r.sequence else "")))
    rows.append(("Header", r.header))
    rows.append(("Shown", r.sample_type))
    rows += [(f"Total {name}", f"{text} ({exact})") for name, text, exact in r.totals]
    if r.header_totals:
        rows.append(("Header totals", ", ".join(f"{n} {t}" for n, t in r.header_totals)))
    rows.append(("Sampling", f"values are estimates: {r.sampling}" if r.estimated else "none: values are exact"))
    rows.append(("Made by", f"heapviz {r.version}" + (": " + " ".join(r.options) if r.options else "")))
    table = LongTable([[p(k, "small"), p(v, "small")] for k, v in rows], colWidths=[35 * mm, None])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("TOPPADDING", (0, 0), (-1, -1), 1),
                               ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]))
    out: list[Flowable] = [heading("Summary", 0), table]
    if r.tables and r.tables[0].rows:
        top = r.tables[0].rows[0]
        text = (f"Holds the most {r.sample_type}: {top.name} with {top.flat_text} ({top.flat_pct}) allocated "
                "in the function itself")
        if r.leaks and r.leaks[0].frames:
            text += f"; largest single stack: {r.leaks[0].value_text} from {r.leaks[0].frames[0].function}"
        out += [Spacer(1, 4), p(text + ".")]
    if r.warnings:
        out.append(heading("Warnings", 0))
        out += [p("• " + w, "warn") for w in r.warnings]
    return out


def _chart(values: list[int], width: float, height: float, labels: list[str] | None, font: str,
           in_bytes: bool = True) -> Drawing:
    """A vector line chart: in-use bytes per dump (with labels) or a sparkline (without)."""
    d = Drawing(width, height)
    if not values:
        return d
    left, bottom = (48.0, 16.0) if labels else (2.0, 2.0)
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
        d.add(String(left - 4, top - 3, format_value(hi, "bytes", "auto") if in_bytes else str(hi), fontName=font,
                     fontSize=7,
                     textAnchor="end"))
        d.add(String(left - 4, bottom - 3, "0", fontName=font, fontSize=7, textAnchor="end"))
        for i, lab in enumerate(labels):
            if n <= 10 or i in (0, n - 1):
                d.add(String(left + i * step, 3, lab, fontName=font, fontSize=6.5, textAnchor="middle"))
    d.add(PolyLine(pts, strokeColor=colors.HexColor("#b20000"), strokeWidth=1.5 if labels else 1))
    return d


def _growth(r: ReportData, heading: Any, p: Any, fonts: _Fonts) -> list[Flowable]:
    out: list[Flowable] = []
    if r.thresholds:
        out.append(heading("Thresholds", 0))
        for t in r.thresholds:
            what = "in-use growth" if t.name == "growth" else "in-use bytes (last dump)"
            verdict = f"EXCEEDED: {t.value} > {t.limit}" if t.exceeded else f"ok: {t.value} <= {t.limit}"
            out.append(p(f"{what}: {verdict}", "warn" if t.exceeded else "body"))
    if r.changes or r.previous:
        out.append(heading("Since the previous run", 0))
        out += [p(f"{c.kind}: {c.function} grew {c.growth_bytes} bytes"
                  + (f" (previously {c.previous_growth_bytes})" if c.previous_growth_bytes is not None else ""))
                for c in r.changes] or [p("Nothing got worse.")]
    if len(r.dumps) < 2:
        return out
    out.append(heading(f"Growth over {len(r.dumps)} dumps" + (" (the first is the base)" if r.base else ""), 0))
    labels = [os.path.basename(d.file) for d in r.dumps]
    out.append(p("In-use bytes per dump"))
    out.append(_chart([d.inuse_space for d in r.dumps], 170 * mm, 50 * mm, labels, fonts.regular, True))
    out.append(p("In-use objects per dump"))
    out.append(_chart([d.inuse_objects for d in r.dumps], 170 * mm, 40 * mm, labels, fonts.regular, False))
    data: list[list[Any]] = [["#", "File", "In-use bytes", "In-use objects"]]
    data += [["base" if r.base and i == 0 else str(d.sequence if d.sequence is not None else i + 1),
              p(d.file, "small"), str(d.inuse_space),
              str(d.inuse_objects)] for i, d in enumerate(r.dumps)]
    t = LongTable(data, colWidths=[12 * mm, None, 28 * mm, 28 * mm], repeatRows=1)
    t.setStyle(_table_style(fonts.bold))
    out.append(t)
    out.append(heading("Leak suspects (steady growers first)", 0))
    rows: list[list[Any]] = [["#", "Function and stack", "Score", "Growth", "Trend"]]
    for s in r.suspects[:30]:
        stack = " ← ".join(s.stack[:8]) + (" ← …" if len(s.stack) > 8 else "")
        tag = "  (steady growth)" if s.steady else "  (grew)" if s.growth_bytes > 0 and len(r.dumps) < 3 else ""
        cell = [p(s.function + tag, "mono"), p(stack, "small"),
                p(" → ".join(str(v) for v in s.inuse_space), "small")]
        rows.append([str(s.rank), cell, f"{s.score:.2f}", str(s.growth_bytes),
                     _chart(list(s.inuse_space), 28 * mm, 9 * mm, None, fonts.regular)])
    t = LongTable(rows, colWidths=[8 * mm, None, 12 * mm, 18 * mm, 30 * mm], repeatRows=1)
    t.setStyle(_table_style(fonts.bold))
    out.append(t)
    return out


def _top_table(t: TopTable, heading: Any, p: Any) -> list[Flowable]:
    rows = t.rows[:PDF_TABLE_ROWS]
    more = len(t.rows) - len(rows) + t.omitted
    data: list[list[Any]] = [["flat", "flat%", "sum%", "cum", "cum%", "name"]]
    for row in rows:
        data.append([row.flat_text, row.flat_pct, row.sum_pct, row.cum_text, row.cum_pct, p(row.name, "mono")])
    widths = [20 * mm, 14 * mm, 14 * mm, 20 * mm, 14 * mm, None]
    table = LongTable(data, colWidths=widths, repeatRows=1)
    style = _table_style("HV-Sans-Bold" if "HV-Sans-Bold" in pdfmetrics.getRegisteredFontNames() else "Helvetica-Bold")
    style.add("ALIGN", (0, 0), (4, -1), "RIGHT")
    table.setStyle(style)
    out: list[Flowable] = [heading(f"{t.title} (total {t.total_text})", 1), table]
    if more > 0:
        out.append(p(f"… {more} more rows in the HTML report or with heapviz top.", "small"))
    return out


def _leak_site(site: LeakSite, p: Any, fonts: _Fonts) -> list[Flowable]:
    what = f"#{site.rank}  {site.value_text} ({site.pct})"
    if site.bytes is not None:
        what += f" — {site.bytes} bytes"
    if site.objects is not None:
        what += f" in {site.objects} objects"
    data: list[list[Any]] = []
    for i, f in enumerate(site.frames):
        name = f.function + ("  [inlined]" if f.inline else "")
        data.append([str(i), p(name, "mono"), p(f.location, "small")])
    table = LongTable(data or [["", "", ""]], colWidths=[8 * mm, None, 62 * mm])
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("FONTNAME", (0, 0), (0, -1), fonts.regular),
                               ("FONTSIZE", (0, 0), (0, -1), 7), ("TEXTCOLOR", (0, 0), (0, -1), colors.grey),
                               ("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.HexColor("#e0e0e0")),
                               ("TOPPADDING", (0, 0), (-1, -1), 1), ("BOTTOMPADDING", (0, 0), (-1, -1), 1)]))
    head = p(what + "  allocated from:", "body")
    if len(data) <= 25:
        return [KeepTogether([head, table]), Spacer(1, 5)]
    return [head, table, Spacer(1, 5)]


def _binaries(r: ReportData, p: Any, fonts: _Fonts) -> list[Flowable]:
    data: list[list[Any]] = [["Mapped file", "Symbolized with", "Addresses", "Status"]]
    for b in r.binaries:
        sym = b.symbol_file + (f"\ndebug: {b.debug_file}" if b.debug_file else "")
        if b.build_id:
            sym += f"\nbuild id {b.build_id}"
        data.append([p(b.file, "small"), p(sym, "small"), f"{b.resolved}/{b.addresses}", p(b.status, "small")])
    table = LongTable(data, colWidths=[55 * mm, 70 * mm, 18 * mm, None], repeatRows=1)
    table.setStyle(_table_style(fonts.bold))
    return [table]
