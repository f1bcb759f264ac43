"""pdf_text.Lines, the PDF report's cheap table cell: it must draw exactly what the Paragraph (or
XPreformatted) it stands in for draws, word for word at the same place, and hand over to that
Paragraph when a line does not fit or the cell has to be measured for a free column."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path
from xml.sax.saxutils import escape

import pytest
from PIL import Image, ImageChops
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, LongTable, Paragraph, SimpleDocTemplate, XPreformatted

from heapviz.report.pdf_style import paragraph_styles, table_style
from heapviz.report.pdf_text import Lines, plain, register_fonts

FONTS = register_fonts()
STYLES = paragraph_styles(FONTS)

# (lines, style): names and paths as the report packs them, markup-like text reportlab must not read,
# a name too long for its column (the Paragraph breaks it), and short cells in a free column
CELLS = [
    (["std::vector<int, std::allocator<int> >::", "_M_realloc_insert(int&&)"], "lines"),
    (["/usr/src/app/", "lib/alloc.cc:42"], "path"),
    (["<b>bold</b>&amp;&lt;&#x27;", "</svg><script>alert(1)</script>"], "lines"),
    (["main"], "mono"),
    (["a_template_name_without_any_place_to_break_it_" * 4], "mono"),
    (["operator new(unsigned long)"], "mono"),
    (["x"], "small"),
]
CODE = ["    for (int i = 0; i < n; ++i) {", "  return p;  // <not markup> & more", "}"]


def _doc(cells: list[Flowable], code: list[Flowable]) -> bytes:
    """A page with the cells in a table of fixed columns and in a free column, and the code."""
    fixed = LongTable([[str(i), c] for i, c in enumerate(cells)], colWidths=[10 * mm, 60 * mm])
    free = LongTable([["head", "name"], *[[str(i), c] for i, c in enumerate(cells)]], colWidths=[10 * mm, None])
    code_table = LongTable([[str(i), c] for i, c in enumerate(code)], colWidths=[10 * mm, None])
    for t in (fixed, free, code_table):
        t.setStyle(table_style(FONTS.bold))
    buf = io.BytesIO()
    SimpleDocTemplate(buf, pagesize=A4, invariant=True).build([fixed, free, code_table])
    return buf.getvalue()


def _fast() -> bytes:
    return _doc([Lines(lines, STYLES[s]) for lines, s in CELLS] + [Lines(lines, STYLES[s]) for lines, s in CELLS],
                [Lines([c], STYLES["code"], preformatted=True) for c in CODE])


def _reportlab() -> bytes:
    paras = [Paragraph("<br/>".join(escape(ln) for ln in lines), STYLES[s]) for lines, s in CELLS]
    paras2 = [Paragraph("<br/>".join(escape(ln) for ln in lines), STYLES[s]) for lines, s in CELLS]
    return _doc(paras + paras2, [XPreformatted(escape(c), STYLES["code"]) for c in CODE])


def _render(pdf: bytes, tmp: Path, name: str) -> tuple[str, str, list[Image.Image]]:
    path = tmp / f"{name}.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    boxes = subprocess.run(["pdftotext", "-bbox", str(path), "-"], capture_output=True, text=True, check=True).stdout
    subprocess.run(["pdftoppm", "-r", "100", "-png", str(path), str(tmp / name)], check=True)
    return text, boxes, [Image.open(p).convert("RGB") for p in sorted(tmp.glob(f"{name}-*.png"))]


def test_lines_draw_what_the_paragraphs_draw(tmp_path):
    fast_text, fast_boxes, fast_pages = _render(_fast(), tmp_path, "fast")
    rl_text, rl_boxes, rl_pages = _render(_reportlab(), tmp_path, "reportlab")
    assert "<b>bold</b>&amp;&lt;&#x27;" in fast_text and "</svg><script>alert(1)</script>" in fast_text
    assert "    for (int i = 0; i < n; ++i) {" in fast_text  # the code's indentation kept
    assert fast_text == rl_text
    assert fast_boxes == rl_boxes  # every word at the same place
    assert len(fast_pages) == len(rl_pages)
    for a, b in zip(fast_pages, rl_pages, strict=True):
        assert ImageChops.difference(a, b).getbbox() is None


def test_a_line_too_wide_goes_to_the_paragraph():
    lines, style = CELLS[4]
    cell = Lines(lines, STYLES[style])
    w, h = cell.wrap(60 * mm, 1000)
    para = Paragraph(escape(lines[0]), STYLES[style])
    assert (w, h) == para.wrap(60 * mm, 1000)
    assert h > STYLES[style].leading  # broken over lines by reportlab (splitLongWords)
    short = Lines(["main"], STYLES["mono"])
    assert short.wrap(60 * mm, 1000) == (60 * mm, STYLES["mono"].leading)


@pytest.mark.parametrize("lines,style", CELLS)
def test_min_width_is_the_paragraphs(lines, style):
    assert Lines(lines, STYLES[style]).minWidth() == Paragraph("<br/>".join(escape(ln) for ln in lines),
                                                               STYLES[style]).minWidth()


@pytest.mark.parametrize("text,expected", [
    ("main", True), ("operator new(unsigned long)", True), ("<b>x</b>&amp;", True),
    ("", False), (" leading", False), ("trailing ", False), ("two  spaces", False), ("tab\there", False),
    ("nul\x00byte", False), ("\x1b[31mred", False), ("hv::函数名", False), ("a\u00a0b", False),
])
def test_plain_text_only(text, expected):
    assert plain(text) is expected


def _table_doc(cls: type) -> bytes:
    """Tables of string cells (bold heading, right-aligned numbers, a grey column, two-line cells)
    with Lines and Paragraph cells between them, long enough to split over pages."""
    rows: list[list[object]] = [["#", "flat", "flat%", "name"]]
    for i in range(120):
        name: Flowable = (Lines([f"function_{i}::run()"], STYLES["mono"]) if i % 3 else
                          Paragraph(escape(f"<fn {i}> & friends"), STYLES["mono"]))
        rows.append([str(i), f"{i * 1.5:.2f}MB", f"{i / 10:.1f}%" if i % 7 else "12.5%\n(of all)", name])
    table = cls(rows, colWidths=[10 * mm, 25 * mm, 20 * mm, None], repeatRows=1)
    style = table_style(FONTS.bold)
    style.add("ALIGN", (1, 0), (2, -1), "RIGHT")
    style.add("TEXTCOLOR", (0, 1), (0, -1), "#777777")
    style.add("FONTSIZE", (0, 1), (0, -1), 7)
    table.setStyle(style)
    buf = io.BytesIO()
    SimpleDocTemplate(buf, pagesize=A4, invariant=True).build([Paragraph("Top", STYLES["h2"]), table])
    return buf.getvalue()


def test_table_string_cells_drawn_as_reportlab_draws_them(tmp_path):
    from heapviz.report.pdf_table import Table
    ours_text, ours_boxes, ours_pages = _render(_table_doc(Table), tmp_path, "ours")
    rl_text, rl_boxes, rl_pages = _render(_table_doc(LongTable), tmp_path, "longtable")
    assert len(ours_pages) == len(rl_pages) >= 3
    assert "119" in ours_text and "178.50MB" in ours_text and "(of all)" in ours_text
    assert ours_text == rl_text
    assert ours_boxes == rl_boxes
    for a, b in zip(ours_pages, rl_pages, strict=True):
        assert ImageChops.difference(a, b).getbbox() is None
