"""The flame graph page of the PDF report: a static vector drawing (reportlab shapes) as wide as
a landscape A4 page and only as tall as the graph, with narrow frames merged into "other" so
that every label stays readable."""

from __future__ import annotations

from collections.abc import Callable

from reportlab.graphics.shapes import Drawing, Rect, String
from reportlab.lib import colors
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.platypus import Flowable, Spacer

from heapviz.graph.tree import FlameTree
from heapviz.model import Value
from heapviz.render.flame import clean, fill_rgb, layout, max_delta

TEMPLATE = "flame"
FONT_SIZE = 6.5
MIN_WIDTH = 3.0  # points: narrower frames go into their parent's "other" box
MAX_FRAME_HEIGHT = 11.0
MIN_FRAME_HEIGHT = 8.0


def _fit(text: str, width: float, font: str) -> str:
    """The longest prefix (with …) that fits `width` points in `font`."""
    room = width - 3
    if stringWidth(text, font, FONT_SIZE) <= room:
        return text
    lo, hi = 0, len(text)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if stringWidth(text[:mid] + "…", font, FONT_SIZE) <= room:
            lo = mid
        else:
            hi = mid - 1
    return text[:lo] + "…" if lo >= 2 else ""


def flame_drawing(tree: FlameTree, width: float, height: float, font: str) -> tuple[Drawing, int]:
    """The icicle drawing and how many levels were cut to fit the page."""
    depth = tree.depth()
    fh = max(MIN_FRAME_HEIGHT, min(MAX_FRAME_HEIGHT, height / (depth + 1)))
    levels = max(1, int(height // fh))
    boxes = layout(tree, width, MIN_WIDTH, levels - 1, merge_small=True)
    drawn = max((b.depth for b in boxes), default=0) + 1
    d = Drawing(width, drawn * fh)
    biggest = max_delta(tree)
    for b in boxes:
        y = (drawn - 1 - b.depth) * fh  # icicle: the root on top
        r, g, bl = fill_rgb(tree, b, biggest)
        is_self = b.node is not None and bool(b.node.self_value) and b.depth > 0
        d.add(Rect(b.x, y, b.w, fh - 0.8, fillColor=colors.Color(r / 255, g / 255, bl / 255),
                   strokeColor=colors.HexColor("#8b0000") if is_self else colors.white,
                   strokeWidth=0.8 if is_self else 0.3))
        name = clean(b.node.name if b.node is not None else "other")
        label = _fit(name, b.w, font)
        if label:
            d.add(String(b.x + 1.5, y + (fh - FONT_SIZE) / 2 + 0.8, label, fontName=font, fontSize=FONT_SIZE))
    return d, max(0, depth + 1 - drawn)


def flame_flowables(tree: FlameTree, heading: Callable[[str, int], Flowable], p: Callable[..., Flowable],
                    font: str, width: float, max_height: float,
                    fmt: Callable[[Value], str]) -> tuple[list[Flowable], float]:
    """The flame graph's heading, note and drawing for a page `width` points wide, and the
    height they take: the page is then made that tall, so it has no empty half."""
    what = f"{tree.sample_type}, {fmt(tree.root.cum) if tree.root.cum else '0'}"
    if tree.diff:
        what += " in the new profile; red grew, green shrank since the base"
    outline = tree.words.outline
    note = (f"Width: {what}. Root on top, callees below their callers; colour: binary or namespace; "
            f"dark outline: {outline}; frames narrower than 3 pt are merged into 'other'.")
    if tree.diff:
        note = f"Width: {what}. Dark outline: {outline}; narrow frames are merged into 'other'."
    head = heading(f"Flame graph ({tree.sample_type})", 0)
    para = p(note, "small")
    head_h = _height(head, width, max_height)
    note_h = _height(para, width, max_height)
    drawing, cut = flame_drawing(tree, width, max_height - head_h - note_h - 12, font)
    if cut:
        note += f" {cut} deeper level{'s' if cut > 1 else ''} not shown."
        para = p(note, "small")
        note_h = _height(para, width, max_height)
    return [head, para, Spacer(1, 6), drawing], head_h + note_h + 6 + drawing.height + 2


def _height(f: Flowable, width: float, max_height: float) -> float:
    _, h = f.wrap(width, max_height)
    return float(h) + float(f.getSpaceBefore()) + float(f.getSpaceAfter())
