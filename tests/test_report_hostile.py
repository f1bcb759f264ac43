"""Hostile and awkward names through the whole report: shown literally, never executed."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from browser import PageWatch, browser
from heapviz.graph.nodes import NodeOptions
from heapviz.model import Function, Line, Location, Mapping, Profile, Sample, ValueType
from heapviz.render.dot import RenderOptions
from heapviz.report.collect import ReportOptions, collect
from heapviz.report.layout import lay_out
from heapviz.report.html import write_html
from heapviz.report.pdf import write_pdf
from heapviz.symbolize import MappingReport

HOSTILE = [
    "</svg><script>alert(1)</script>",
    '"><img src=x onerror=alert(2)>',
    "javascript:alert(3)",
    '"]; a -> b [ URL="javascript:alert(4)"',
    "<b>bold</b>&amp;&lt;&#x27;",
    "hv::函数名::计算()",
    "std::vector<int, std::allocator<int> >::operator[](unsigned long)",
    "\x1b[31mred\x1b[0m ansi",
    "{{ 7*7 }} {% raw %}",
    "nul\x00byte and invalid utf-8 \udcff\udcfe",
]


def hostile_profile() -> tuple[Profile, list[MappingReport]]:
    types = [ValueType("inuse_objects", "count"), ValueType("inuse_space", "bytes"),
             ValueType("alloc_objects", "count"), ValueType("alloc_space", "bytes")]
    prof = Profile(sample_types=types, source="/tmp/<script>alert(5)</script>.0001.heap", kind="heapprofile",
                   header="heap profile: 1: 2 [3: 4] @ heapprofile <i>x</i>", default_sample_type="inuse_space")
    mapping = Mapping(1, 0x1000, 0x9000, 0, "/opt/<img src=x onerror=alert(6)>/app")
    prof.mappings.append(mapping)
    main = Function(1, "main", "main", "/src/<main>.cc")
    prof.functions.append(main)
    root = Location(1, 0x1000, mapping, (Line(main, 3),))
    prof.locations.append(root)
    for i, name in enumerate(HOSTILE):
        fn = Function(i + 2, name, name, f"/src/{name}.cc")
        inlined = Function(100 + i, "inl<" + name + ">", "x", "/src/inl.h")
        loc = Location(i + 2, 0x2000 + i, mapping, (Line(inlined, 7), Line(fn, 9)))
        prof.functions += [fn, inlined]
        prof.locations.append(loc)
        n = 1000 * (i + 1)
        prof.samples.append(Sample([i + 1, n, i + 1, n], (loc, root)))
    prof.warn("binary <script>alert(7)</script> not found")
    reports = [MappingReport(file=mapping.file, symbol_file="/x/<script>", build_id="<b>", addresses=3,
                             status="<i>missing</i>")]
    return prof, reports


def hostile_explorer_page(path: Path) -> Path:
    """The hostile profile's HTML report with the explorer (every view recomputable), at path."""
    from heapviz.graph.filters import FilterOptions
    from heapviz.report.explorer_data import ExplorerInput, ExplorerSettings
    prof, reports = hostile_profile()
    opts = ReportOptions(sample_index=1, node_options=NodeOptions(demangle="full"))
    r = collect(prof, prof.samples, opts, reports)
    lay_out(r, RenderOptions())
    r.explorer = ExplorerInput(prof, ExplorerSettings(1, opts.node_options, FilterOptions(), 80, 0.005, 0.001,
                                                      False, "auto"))
    path.write_bytes(write_html(r))
    return path


@pytest.fixture(scope="module")
def data():
    prof, reports = hostile_profile()
    r = collect(prof, prof.samples, ReportOptions(sample_index=1, node_options=NodeOptions(demangle="full"),
                                                 command_line=("report", "<script>alert(8)</script>")), reports)
    lay_out(r, RenderOptions())  # the graphs through Graphviz, as `heapviz report` does for HTML and PDF
    return r


def test_html_shows_names_and_runs_nothing(data, tmp_path):
    path = tmp_path / "hostile.html"
    path.write_bytes(write_html(data))
    with browser() as b:
        page = b.new_page()
        watch = PageWatch(page)
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        assert watch.dialogs == [] and watch.errors == []
        assert watch.requests == [path.as_uri()]
        # our data block, our script, and the flame graph's own script inside its inline SVG
        assert page.eval_on_selector_all("script", "s => s.length") == 3
        assert page.eval_on_selector_all("#report-flame-svg script", "s => s.length") == 1
        assert page.eval_on_selector_all("img", "s => s.length") == 0
        text = page.inner_text("body")
        for name in HOSTILE[:2] + HOSTILE[4:7]:
            assert name in text, name
        assert "alert(7)" in page.inner_text("#warnings")
        tips = page.eval_on_selector_all("#graph-viewport a", "as => as.map(a => a.getAttribute('xlink:title') || '')")
        assert any(t.startswith(HOSTILE[0]) for t in tips)
        hrefs = page.eval_on_selector_all(
            "a", "as => as.map(a => a.getAttribute('href') || a.getAttribute('xlink:href')).filter(h => h)")
        assert hrefs and all(h.startswith("#") for h in hrefs)  # only the page's own section links


def test_pdf_shows_names_literally(data, tmp_path):
    path = tmp_path / "hostile.pdf"
    path.write_bytes(write_pdf(data))
    text = subprocess.run(["pdftotext", str(path), "-"], capture_output=True, text=True, check=True).stdout
    flat = text.replace("\n", "")
    for name in ("</svg><script>alert(1)</script>", "<b>bold</b>&amp;&lt;", "函数名", "计算",
                 "std::vector<int, std::allocator<int> >::operator[]"):
        assert name in flat, name
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(path), str(tmp_path / "p")], check=True)
