"""Flame graphs (icicle layout: the root on top) of a call tree, as a standalone SVG with a small
inline script for zoom and search, and the box layout the PDF report draws with reportlab.

Reads only the FlameTree, never a Profile. Every profile string is XML-escaped here, and the
script's data is JSON with `<`, `>` and `&` escaped, so nothing in a name can end the script.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from xml.sax.saxutils import escape

from heapviz.graph.tree import FlameTree, TreeNode, draw_fraction
from heapviz.model import Value
from heapviz.units import percentage

FONT = "DejaVu Sans Mono"
CHAR_WIDTH = 0.61  # DejaVu Sans Mono's advance is 1233/2048 em; a little more for safety
# Search hits: a saturated blue with a dark outline and white bold names. No frame shares it:
# package colours are pastels (HSL saturation 0.55, lightness 0.72 or 0.86), diff colours are white-red or white-green.
MATCH_FILL = "#0a4fe0"
MATCH_STROKE = "#001a66"
OTHER_FILL = "#d9d9d9"
PAD = 10.0  # blank margin left and right of the frames
_SCRIPT_SOURCE = Path(__file__).resolve().parent.parent.parent / "templates" / "flame.js"


@dataclass(frozen=True)
class FlameOptions:
    width: float = 1200.0
    frame_height: float = 16.0
    font_size: float = 12.0
    min_width: float = 0.5  # frames narrower than this are not drawn (PDF: merged into "other")
    max_depth: int = 400  # deeper frames are cut, and the frame at the cut says so
    id_prefix: str = "flame"  # prefixes every id, so that the SVG can be inlined in a page
    merge_small: bool = False  # draw the narrow children of a frame as one "other" box
    standalone: bool = True  # with the XML prolog (False: for inlining in HTML)

    def keep_fraction(self) -> float:
        """What build_tree may leave out of a tree drawn with these options."""
        return draw_fraction(self.width - 2 * PAD, self.min_width)


@dataclass(frozen=True)
class Box:
    """One drawn frame: x and w in drawing units, start/value in profile units."""

    index: int
    parent: int  # index of the parent box, -1 for the root
    end: int  # one past the index of the last descendant (boxes are in pre-order)
    depth: int
    x: float
    w: float
    start: Value  # offset from the root's left edge, in profile units
    value: Value
    node: TreeNode | None  # None for an "other" box of merged narrow frames
    omitted: int  # narrow children not drawn (or merged) under this frame
    omitted_value: Value
    cut: bool  # children deeper than max_depth not drawn


def clean(text: str) -> str:
    """Text that XML 1.0 can hold: no control characters, no lone surrogates."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]", " ", text)


def layout(tree: FlameTree, width: float, min_width: float, max_depth: int, merge_small: bool) -> list[Box]:
    """Frames in pre-order, children sorted by name and packed from their parent's left edge.
    Iterative: stacks can be thousands of frames deep."""
    root = tree.root
    if root.cum <= 0:
        return []
    scale = width / root.cum
    boxes: list[Box] = []
    # (node, value, parent index, depth, x, start); None is an "other" box of merged narrow frames
    todo: list[tuple[TreeNode | None, Value, int, int, float, Value]] = [(root, root.cum, -1, 0, 0.0, 0)]
    while todo:
        node, value, parent, depth, x, start = todo.pop()
        index = len(boxes)
        kids = node.sorted_children() if node is not None else []
        cut = depth >= max_depth and (bool(kids) or (node is not None and node.pruned > 0))
        drawn: list[tuple[TreeNode | None, Value, int, int, float, Value]] = []
        # children build_tree left out as too narrow to draw count as not drawn here
        omitted = node.pruned if node is not None else 0
        omitted_value: Value = node.pruned_value if node is not None else 0
        if not cut:
            cx, cs = x, start
            for c in kids:
                if c.cum * scale < min_width:
                    omitted += 1
                    omitted_value += c.cum
                    continue
                drawn.append((c, c.cum, index, depth + 1, cx, cs))
                cx += c.cum * scale
                cs += c.cum
            if merge_small and omitted and omitted_value * scale >= min_width / 4:
                drawn.append((None, omitted_value, index, depth + 1, cx, cs))
        boxes.append(Box(index, parent, index + 1, depth, x, value * scale, start, value, node, omitted,
                         omitted_value, cut))
        todo.extend(reversed(drawn))
    # each box's subtree ends at the next box that is not deeper
    open_boxes: list[int] = []
    ends = [len(boxes)] * len(boxes)
    for b in boxes:
        while open_boxes and boxes[open_boxes[-1]].depth >= b.depth:
            ends[open_boxes.pop()] = b.index
        open_boxes.append(b.index)
    return [replace(b, end=e) for b, e in zip(boxes, ends, strict=True)]


def _hue(package: str) -> int:
    return zlib.crc32(package.encode("utf-8", "surrogateescape")) % 360


def _hsl_to_rgb(h: float, s: float, lum: float) -> tuple[int, int, int]:
    c = (1 - abs(2 * lum - 1)) * s
    hp = h / 60
    x = c * (1 - abs(hp % 2 - 1))
    r, g, b = [(c, x, 0), (x, c, 0), (0, c, x), (0, x, c), (x, 0, c), (c, 0, x)][int(hp) % 6]
    m = lum - c / 2
    return round((r + m) * 255), round((g + m) * 255), round((b + m) * 255)


def max_delta(tree: FlameTree) -> Value:
    if not tree.diff:
        return 0
    return max((abs(n.delta) for d, n in tree.root.walk() if d > 0), default=0)


def fill_rgb(tree: FlameTree, box: Box, biggest_delta: Value) -> tuple[int, int, int]:
    """Colour by package (binary or namespace); with a base, red for growth and green for shrinkage."""
    node = box.node
    if node is None:
        return 0xD9, 0xD9, 0xD9
    if tree.diff:
        if node.delta == 0 or not biggest_delta:
            return 0xE6, 0xE6, 0xE6
        k = round(40 + 170 * min(1.0, abs(node.delta) / abs(biggest_delta)))
        return (255, 255 - k, 255 - k) if node.delta > 0 else (255 - k, 255, 255 - k)
    if box.depth == 0:
        return 0xC8, 0xC8, 0xC8
    return _hsl_to_rgb(_hue(node.package), 0.55, 0.86 if node.inline else 0.72)


def hex_colour(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def fit_label(name: str, width: float, font_size: float) -> str:
    """The name truncated with … to fit a box `width` wide (3 px padding each side)."""
    chars = int((width - 6) / (CHAR_WIDTH * font_size))
    if chars < 3:
        return ""
    return name if len(name) <= chars else name[: chars - 1] + "…"


def tooltip(tree: FlameTree, box: Box, fmt: Callable[[Value], str]) -> str:
    node = box.node
    pct = percentage(box.value, tree.total).strip()
    if node is None:
        return f"other: {box.value and fmt(box.value)} ({pct}) in frames too narrow to draw apart"
    lines = [node.name]
    if node.full_name and node.full_name != node.name and box.depth:
        lines.append(node.full_name)
    lines.append(f"{fmt(node.cum)} ({pct}){' in the new profile' if tree.diff else ''}")
    if node.self_value:
        lines.append(f"{tree.words.flat}: {fmt(node.self_value)} "
                     f"({percentage(node.self_value, tree.total).strip()})")
    if tree.diff:
        sign = "+" if node.delta > 0 else ""
        lines.append(f"change since base: {sign}{fmt(node.delta)}" if node.delta else "change since base: 0")
    if node.inline:
        lines.append("(inlined)")
    if box.depth and node.package:
        lines.append(f"in {node.package}")
    if box.omitted:
        lines.append(f"{box.omitted} narrower callee frame{'s' if box.omitted > 1 else ''} "
                     f"({fmt(box.omitted_value)}) not drawn")
    if box.cut:
        lines.append("deeper frames not drawn (maximum depth)")
    return "\n".join(lines)


def _script_source() -> str:
    try:
        return resources.files("heapviz.templates").joinpath("flame.js").read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        return _SCRIPT_SOURCE.read_text(encoding="utf-8")


def script_json(data: object) -> str:
    """JSON that can sit inside <script> in XML (CDATA) and HTML alike."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"), sort_keys=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _n(v: float) -> str:
    return f"{v:.2f}".rstrip("0").rstrip(".")


def to_svg(tree: FlameTree, fmt: Callable[[Value], str], options: FlameOptions = FlameOptions()) -> str:
    pid = re.sub(r"[^A-Za-z0-9_-]", "_", options.id_prefix) or "flame"
    pad = PAD
    inner = options.width - 2 * pad
    boxes = layout(tree, inner, options.min_width, options.max_depth, options.merge_small)
    fh, fs = options.frame_height, options.font_size
    top = 48.0
    depth = max((b.depth for b in boxes), default=0)
    height = top + (depth + 1) * fh + 30
    title = clean(tree.title or "Flame graph")
    biggest = max_delta(tree)
    total_text = fmt(tree.root.cum) if tree.root.cum else "0"
    head = clean(f"{title} — {tree.sample_type}, {total_text}"
                 + (" in the new profile; colour: change since base (red grew, green shrank)" if tree.diff else ""))
    out = []
    if options.standalone:
        out.append('<?xml version="1.0" encoding="UTF-8" standalone="no"?>')
    out.append(f'<svg xmlns="http://www.w3.org/2000/svg" version="1.1" id="{pid}-svg" class="heapviz-flame" '
               f'width="{_n(options.width)}" height="{_n(height)}" viewBox="0 0 {_n(options.width)} {_n(height)}" '
               f'font-family="{FONT}, monospace" font-size="{_n(fs)}">')
    out.append(f"<title>{escape(title)}</title>")
    out.append(f"<style>#{pid}-svg .f{{cursor:pointer}} #{pid}-svg .f:hover rect{{stroke:#000;stroke-width:1}} "
               f"#{pid}-svg .ctl{{cursor:pointer;fill:#1a4fa0;text-decoration:underline}} "
               f"#{pid}-svg .inl text{{font-style:italic}} #{pid}-svg .anc{{opacity:.55}} "
               f"#{pid}-svg .match rect{{stroke:{MATCH_STROKE};stroke-width:1.5}} "
               f"#{pid}-svg .match text{{fill:#fff;font-weight:bold}}</style>")
    out.append(f'<rect x="0" y="0" width="{_n(options.width)}" height="{_n(height)}" fill="#fdfdfd"/>')
    out.append(f'<text x="{_n(pad)}" y="18" font-size="{_n(fs + 2)}">{escape(head)}</text>')
    out.append(f'<text x="{_n(pad)}" y="38" class="ctl" id="{pid}-reset">Reset zoom</text>')
    # an HTML input box inside the SVG (standalone or inlined): the search is typed, not prompted
    out.append(f'<foreignObject x="{_n(pad + 100)}" y="24" width="260" height="22">'
               f'<input xmlns="http://www.w3.org/1999/xhtml" type="search" id="{pid}-search" '
               f'placeholder="Search: regular expression" aria-label="Highlight frames whose name matches" '
               f'spellcheck="false" style="width:250px;height:18px;font:12px {FONT}, monospace;'
               f'box-sizing:border-box;border:1px solid #999;border-radius:3px;padding:0 4px"/></foreignObject>')
    out.append(f'<text x="{_n(pad + 370)}" y="38" class="ctl" id="{pid}-clear">Clear</text>')
    out.append(f'<text x="{_n(options.width - pad)}" y="38" text-anchor="end" id="{pid}-matched"></text>')
    out.append(f'<g id="{pid}-frames">')
    frames: list[list[object]] = []
    for b in boxes:
        node = b.node
        name = clean(node.name if node is not None else "other")
        full = clean(node.full_name if node is not None else "other")
        classes = "f"
        if node is not None and node.inline:
            classes += " inl"
        if node is not None and node.self_value and b.depth:
            classes += " self"
        y = top + b.depth * fh
        rgb = fill_rgb(tree, b, biggest)
        stroke = ' stroke="#8b0000" stroke-width="1.5"' if "self" in classes else ' stroke="#ffffff" stroke-width="0.5"'
        if node is not None and node.inline:
            stroke += ' stroke-dasharray="3,2"'
        label = fit_label(name, b.w, fs)
        out.append(
            f'<g class="{classes}" id="{pid}-f{b.index}"><title>{escape(clean(tooltip(tree, b, fmt)))}</title>'
            f'<rect x="{_n(pad + b.x)}" y="{_n(y)}" width="{_n(b.w)}" height="{_n(fh - 1)}" '
            f'fill="{hex_colour(rgb)}"{stroke}/>'
            f'<text x="{_n(pad + b.x + 3)}" y="{_n(y + fh - 4.5)}">{escape(label)}</text></g>')
        frames.append([b.start, b.value, b.depth, b.parent, b.end, name, full])
    out.append("</g>")
    legend = ("Width: " + tree.sample_type + "; click a frame to zoom; type in the search box to highlight. "
              + ("Colour: red grew, green shrank since base. " if tree.diff else "Colour: binary or namespace. ")
              + f"Dark outline: {tree.words.outline}; dashed, lighter, italic: inlined.")
    out.append(f'<text x="{_n(pad)}" y="{_n(height - 10)}" font-size="{_n(fs - 2)}" fill="#555">'
               f"{escape(legend)}</text>")
    data = {"prefix": pid, "width": inner, "pad": pad, "charWidth": CHAR_WIDTH * fs, "total": tree.total,
            "matchFill": MATCH_FILL, "frames": frames, "fmtTotal": fmt(tree.total) if tree.total else "0"}
    js = _script_source().replace("/*DATA*/null", script_json(data))
    if "]]>" in js:  # cannot happen with escaped JSON; never emit a broken CDATA section
        raise ValueError("flame script contains ]]>")
    out.append(f'<script type="text/javascript"><![CDATA[\n{js}]]></script>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
