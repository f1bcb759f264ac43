"""The PDF report's call-graph pages: where a graph goes (one A4 page, or tiles so that no label
prints below MIN_LABEL_PT on A4 or Letter), the slots reportlab leaves for them, and Graphviz's
own page (read by pdf_read.py) made a form of reportlab's document, drawn into each slot."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from reportlab.pdfbase.pdfdoc import PDFArray, PDFDictionary, PDFName, PDFStream
from reportlab.lib.pagesizes import A4, LETTER, landscape
from reportlab.lib.units import mm
from reportlab.platypus import Flowable

from heapviz.report.pdf_read import GraphPage

GRAPH_MARGIN = 10 * mm  # graph pages use more of the paper: fewer tiles
MIN_LABEL_PT = 8.0  # the smallest graph label once a graph page is printed on A4 or Letter
PAPERS = (A4, LETTER)
_DOT_DEFAULT_FONT = 14.0  # Graphviz's fontsize where the DOT sets none (edge labels)
_GRAPH_HEAD = 46.0  # room above a graph tile for its heading and caption
_TILE_OVERLAP = 28.0  # points of a tile repeated on the next one, so that a cut label is whole on one


class GraphSlot(Flowable):  # type: ignore[misc]
    """Reserves a graph tile's box and records where it landed, for the merge after the build."""

    def __init__(self, width: float, height: float, tile: int, slots: list[tuple[int, int, float, float]]) -> None:
        super().__init__()
        self.width, self.height = width, height
        self._tile = tile
        self._slots = slots

    def wrap(self, aw: float, ah: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        x, y = self.canv.absolutePosition(0, 0)
        self._slots.append((self._tile, self.canv.getPageNumber() - 1, x, y))


def print_scale(w: float, h: float) -> float:
    """The scale at which a w x h point page comes out when printed fitted to A4 or to Letter,
    whichever shrinks it more (in the better orientation; never enlarged)."""
    return float(min(min(1.0, max(min(pw / w, ph / h), min(ph / w, pw / h))) for pw, ph in PAPERS))


def smallest_font(dot: str) -> float:
    """The smallest font size any label of this DOT is drawn in."""
    sizes = [float(v) for v in re.findall(r"\bfontsize=\"?([0-9.]+)", dot)]
    return min([*sizes, _DOT_DEFAULT_FONT])


@dataclass(frozen=True)
class GraphTile:
    """One page of a call graph: the window (x0, y0, x1, y1) of Graphviz's page it shows, drawn
    at `scale` on an A4 page of `page` size."""
    graph: int
    title: str
    part: int  # 1-based
    parts: int
    across: int
    down: int
    window: tuple[float, float, float, float]
    scale: float
    page: tuple[float, float]


def plan_graph(graph: int, title: str, box: tuple[float, float, float, float], min_font: float) -> list[GraphTile]:
    """Place a graph of Graphviz page `box` on A4: on one page, at the largest scale that fits,
    when its smallest label (`min_font`) then prints at MIN_LABEL_PT or more on A4 and Letter;
    else in tiles at the scale that keeps that minimum, in the orientation needing fewer pages."""
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    pages = (landscape(A4), A4) if w > h else (A4, landscape(A4))
    fit = print_scale(*A4)
    need = MIN_LABEL_PT / (min_font * fit)
    best: tuple[int, float, tuple[float, float]] | None = None
    for page in pages:
        aw, ah = page[0] - 2 * GRAPH_MARGIN, page[1] - 2 * GRAPH_MARGIN - _GRAPH_HEAD
        scale = min(aw / w, ah / h, 1.0)
        if scale >= need and (best is None or scale > best[1]):
            best = (1, scale, page)
    if best is not None:
        _, scale, page = best
        return [GraphTile(graph, title, 1, 1, 1, 1, box, scale, page)]
    grids = []
    for page in pages:
        aw, ah = page[0] - 2 * GRAPH_MARGIN, page[1] - 2 * GRAPH_MARGIN - _GRAPH_HEAD
        across = max(1, math.ceil((w * need - _TILE_OVERLAP) / (aw - _TILE_OVERLAP)))
        down = max(1, math.ceil((h * need - _TILE_OVERLAP) / (ah - _TILE_OVERLAP)))
        grids.append((across * down, across, down, page, aw, ah))
    _, across, down, page, aw, ah = min(grids, key=lambda g: g[0])
    tiles: list[GraphTile] = []
    step_x, step_y = (aw - _TILE_OVERLAP) / need, (ah - _TILE_OVERLAP) / need
    for row in range(down):
        top = y1 - row * step_y  # rows from the top, where Graphviz puts the roots
        for col in range(across):
            left = x0 + col * step_x
            window = (left, max(y0, top - ah / need), min(x1, left + aw / need), top)
            tiles.append(GraphTile(graph, title, len(tiles) + 1, across * down, across, down, window, need, page))
    return tiles


def graph_form(canvas: Any, name: str, page: GraphPage) -> None:
    """Graphviz's page as the form XObject `name` of the document reportlab is writing: its drawing
    and resources (fonts, graphics states) copied once, drawn on every tile by reference."""
    doc = canvas._doc
    form = PDFStream(PDFDictionary({
        "Type": PDFName("XObject"), "Subtype": PDFName("Form"), "BBox": PDFArray(list(page.box)),
        "Resources": page.reportlab_resources(doc),
    }), page.contents)
    doc.Reference(form, doc.getXObjectName(name))


def draw_graph(canvas: Any, name: str, window: tuple[float, float, float, float], scale: float,
               at: tuple[float, float]) -> None:
    """Draw the part `window` of form `name` at `at` (page coordinates, drawn after everything else
    on the page, where the coordinates are the page's own), scaled, clipped to the window."""
    wx0, wy0, wx1, wy1 = window
    x, y = at
    canvas.addLiteral(f"q {scale:.6f} 0 0 {scale:.6f} {x - wx0 * scale:.4f} {y - wy0 * scale:.4f} cm "
                      f"{wx0:.4f} {wy0:.4f} {wx1 - wx0:.4f} {wy1 - wy0:.4f} re W n")
    canvas.doForm(name)
    canvas.addLiteral("Q")


def tile_template(page: tuple[float, float]) -> str:
    return "graph-landscape" if page[0] > page[1] else "graph-portrait"


def tile_caption(t: GraphTile) -> str:
    if t.parts == 1:
        return f"Drawn at {t.scale:.0%} of Graphviz's size."
    if t.part == 1:
        return (f"Part 1 of {t.parts}: the graph is cut into {t.across} x {t.down} pages, drawn at {t.scale:.0%}, so "
                f"that no label prints below {MIN_LABEL_PT:.0f} pt on A4 or Letter; neighbouring parts overlap a "
                "little. The HTML report shows it whole.")
    row, col = divmod(t.part - 1, t.across)
    return f"{t.title}, part {t.part} of {t.parts} (row {row + 1}, column {col + 1})"
