"""The PDF report (reportlab): the answer on page 1, then the leak sites, tables and metadata,
then Graphviz's own vector PDF of each call graph on pages of their own (placed and drawn by
pdf_graph.py: A4 tiles when a whole graph would print with labels below 8 pt). This module puts
the document together; the sections' flowables come from pdf_summary.py (page 1),
pdf_sections.py, pdf_groups.py and flame_pdf.py."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    NextPageTemplate,
    PageBreak,
    PageTemplate,
    Paragraph,
    Spacer,
)

from heapviz.render.dot import RenderOptions
from heapviz.units import format_value
from heapviz.report.collect import ReportData
from heapviz.report.flame_pdf import TEMPLATE as FLAME_TEMPLATE
from heapviz.report.flame_pdf import flame_flowables
from heapviz.report.pdf_groups import group_flowables
from heapviz.report.pdf_graph import (GRAPH_MARGIN, GraphSlot, GraphTile, draw_graph, graph_form,
                                     plan_graph, smallest_font, tile_caption, tile_template)
from heapviz.report.pdf_read import GraphPage, read_graph_page
from heapviz.report.pdf_sections import binaries, details, growth, leak_site, top_table
from heapviz.report.pdf_style import MARGIN, PDF_LEAK_SITES, Heading, new_context, table_style
from heapviz.report.pdf_summary import answer, checks
from heapviz.report.pdf_text import Markup


class _Doc(BaseDocTemplate):  # type: ignore[misc]
    at_page_end: Callable[[Any], None] | None = None  # given the canvas, before the page is shown

    def afterPage(self) -> None:
        if self.at_page_end is not None:
            self.at_page_end(self.canv)

    def afterFlowable(self, flowable: Flowable) -> None:
        if isinstance(flowable, Heading):
            key = flowable.outline_key
            self.canv.bookmarkPage(key)
            self.canv.addOutlineEntry(flowable.getPlainText(), key, level=flowable.outline_level, closed=False)


def write_pdf(r: ReportData, options: RenderOptions = RenderOptions()) -> bytes:
    ctx = new_context(r)
    fonts, heading, p = ctx.fonts, ctx.heading, ctx.p
    story: list[Flowable] = [Paragraph(Markup(fonts)(r.title), ctx.style("h1"))]
    story += answer(ctx)
    story += checks(ctx)
    story += growth(ctx)
    story += group_flowables(ctx, table_style)
    story.append(heading(f"{r.words.sites} ({min(len(r.leaks), PDF_LEAK_SITES)} largest of {r.leak_sites_total} "
                         "distinct stacks)", 0))
    if r.mode == "base":
        story.append(p("Values are the new profile minus the base.", "small"))
    for site in r.leaks[:PDF_LEAK_SITES]:
        story += leak_site(site, ctx)
    story.append(heading("Top functions", 0))
    for t in r.tables:
        story += top_table(t, ctx)
    story += details(ctx)
    story.append(heading("Binaries", 0))
    story += binaries(ctx)

    # the pages of their own come last, after all the text, so that no text page is cut short
    growth_title = f"Call graph of the growth (last dump minus {'base' if r.base else 'first'})"
    pages: list[GraphPage] = []
    tiles: list[GraphTile] = []
    for title_text, images, dot in ((f"Call graph ({r.sample_type})", r.graph_images, r.graph_dot),
                                    (growth_title, r.growth_images, r.growth_dot)):
        if "pdf" in images:
            page = read_graph_page(images["pdf"])
            tiles += plan_graph(len(pages), title_text, page.box, smallest_font(dot))
            pages.append(page)
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
    drawn: list[int] = []  # the graphs made forms of the document

    def draw_graphs(canvas: Any) -> None:
        """The graph tiles of the page just laid out, over everything else on it."""
        while slots:
            ti, _page, x, y = slots.pop(0)
            tile = tiles[ti]
            name = f"HvGraph{tile.graph}"
            if tile.graph not in drawn:
                graph_form(canvas, name, pages[tile.graph])
                drawn.append(tile.graph)
            draw_graph(canvas, name, tile.window, tile.scale, (x, y))

    doc.at_page_end = draw_graphs
    doc.build(story)
    return buf.getvalue()
