"""pdf_read: Graphviz's PDF read without pypdf gives what pypdf reads (page box, drawing), a report
page drawn from it looks the same as one drawn from pypdf's reading, and a file the reader does not
expect goes to pypdf."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from PIL import Image, ImageChops
from pypdf import PdfReader
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen.canvas import Canvas

from heapviz.report.pdf_graph import draw_graph, graph_form
from heapviz.report.pdf_read import read_graph_page

DOT = """digraph g {
  node [shape=box, fontname="DejaVu Sans", fontsize=12];
  a [label="main\\n10MB (50%)"]; b [label="hv::函数名 <b>&amp; (x)\\\\", fontsize=8];
  c [label="std::vector<int, std::allocator<int> >::push_back(int const&)"];
  a -> b [label="  5MB", penwidth=3]; a -> c [label="  1MB", style=dashed]; b -> c;
}
"""


@pytest.fixture(scope="module")
def graph_pdf() -> bytes:
    return subprocess.run(["dot", "-Tpdf"], input=DOT.encode(), capture_output=True, check=True).stdout


def test_reads_what_pypdf_reads(graph_pdf):
    ours = read_graph_page(graph_pdf)
    assert ours._reader is not None  # this reader, not the fallback
    page = PdfReader(io.BytesIO(graph_pdf)).pages[0]
    assert ours.box == tuple(float(v) for v in (page.mediabox.left, page.mediabox.bottom, page.mediabox.right,
                                                page.mediabox.top))
    assert ours.contents == page._get_contents_as_bytes()


def _page_with_graph(graph_pdf: bytes, pypdf: bool) -> bytes:
    page = read_graph_page(graph_pdf, pypdf=pypdf)
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4, invariant=True)
    graph_form(c, "G", page)
    x0, y0, x1, y1 = page.box
    draw_graph(c, "G", (x0, y0, x1, y1), 0.8, (20.0, 300.0))
    draw_graph(c, "G", (x0 + 30, y0, x1 - 30, y1 - 20), 0.5, (40.0, 60.0))  # a clipped tile
    c.showPage()
    c.save()
    return buf.getvalue()


def _look(pdf: bytes, tmp: Path, name: str) -> tuple[str, str, Image.Image]:
    path = tmp / f"{name}.pdf"
    path.write_bytes(pdf)
    out = []
    for args in (["-layout"], ["-bbox"]):
        out.append(subprocess.run(["pdftotext", *args, str(path), "-"], capture_output=True, text=True,
                                  check=True).stdout)
    subprocess.run(["pdftoppm", "-r", "100", "-png", "-singlefile", str(path), str(tmp / name)], check=True)
    return out[0], out[1], Image.open(tmp / f"{name}.png").convert("RGB")


def test_drawn_like_pypdfs_reading(graph_pdf, tmp_path):
    text, boxes, image = _look(_page_with_graph(graph_pdf, False), tmp_path, "ours")
    p_text, p_boxes, p_image = _look(_page_with_graph(graph_pdf, True), tmp_path, "pypdf")
    assert "10MB (50%)" in text and "函数名" in text and "<b>& (x)\\" in text  # Graphviz reads &amp; as &
    assert (text, boxes) == (p_text, p_boxes)
    assert ImageChops.difference(image, p_image).getbbox() is None


def test_an_unexpected_file_goes_to_pypdf(graph_pdf):
    at = graph_pdf.rindex(b"startxref")
    broken = graph_pdf[:at] + b"startxref\n12\n%%EOF\n"  # the table is not where it says: pypdf repairs it
    page = read_graph_page(broken)
    assert page._reader is None and page._pypdf_page is not None
    assert page.contents == read_graph_page(graph_pdf).contents


def test_page_count(graph_pdf, tmp_path):
    from heapviz.report.pdf_read import page_count
    buf = io.BytesIO()
    c = Canvas(buf, pagesize=A4)
    for i in range(7):
        c.drawString(100, 100, f"page {i}")
        c.showPage()
    c.save()
    assert page_count(buf.getvalue()) == 7 == len(PdfReader(buf).pages)
    assert page_count(graph_pdf) == 1
    assert page_count(b"%PDF-1.4\nnot really\n%%EOF\n") is None
