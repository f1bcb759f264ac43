"""Leak reports: HTML opened in headless Chromium, PDF read back with poppler."""

from __future__ import annotations

import json
import subprocess
import zipfile
from pathlib import Path

import pytest

from browser import PageWatch, browser
from conftest import ROOT, run_heapviz

ARTIFACTS = ROOT / "build" / "test-artifacts"


@pytest.fixture(scope="module")
def chromium():
    with browser() as b:
        yield b


def open_report(chromium, path: Path, shot: str):
    page = chromium.new_page(viewport={"width": 1366, "height": 900})
    watch = PageWatch(page)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / shot), full_page=False)
    return page, watch


def test_html_report_in_chromium(chromium, cxx_reports):
    html, _ = cxx_reports
    page, watch = open_report(chromium, html, "cxx-report.png")
    assert watch.errors == [] and watch.dialogs == []
    assert watch.requests == [html.as_uri()]  # nothing but the file itself
    # the headline is the largest leak site: its allocating function, bytes and the user's file:line
    headline = page.inner_text("#headline")
    assert "hv::grow_vector" in headline and "7.81kB" in headline and "cxx_leaks.cpp:" in headline
    assert page.is_visible("#graph-viewport svg")
    # sorting: by name ascending, then by flat descending
    table = "#tbl-inuse_space-flat"
    page.click(f"{table} th:nth-child(6)")
    names = page.eval_on_selector_all(f"{table} tbody td.name", "els => els.map(e => e.textContent)")
    assert names == sorted(names, key=str.lower)
    page.click(f"{table} th:nth-child(1)")
    flats = page.eval_on_selector_all(f"{table} tbody td:first-child", "els => els.map(e => +e.dataset.v)")
    assert flats == sorted(flats, reverse=True) and flats[0] == 12288
    # filtering by name (one regex box for every table)
    page.fill("#filter", "grow_")
    visible = page.eval_on_selector_all(f"{table} tbody tr", "rows => rows.filter(r => r.offsetParent !== null)"
                                                            ".map(r => r.cells[5].textContent)")
    assert visible and all("grow_" in v for v in visible)
    # zoom
    before = page.get_attribute("#graph-viewport", "data-scale")
    page.click("[data-zoom=in]")
    assert float(page.get_attribute("#graph-viewport", "data-scale")) > float(before)
    # the leaking stacks, with inline frames and file:line
    leaks = page.inner_text("#leaks")
    assert "hv::grow_vector" in leaks and "cxx_leaks.cpp:" in leaks
    data = json.loads(page.inner_text("#heapviz-data") or page.eval_on_selector("#heapviz-data", "e => e.textContent"))
    assert data["totals"]["inuse_space"] == 36569
    page.close()


def test_pdf_report_reads_back(cxx_reports, tmp_path, expected):
    _, pdf = cxx_reports
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    for name in ("hv::Pool::grow", "hv::grow_vector", "hv::grow_string", "(anonymous namespace)::leak_here"):
        assert name in text
    assert "36569" in text and "cxx_leaks.cpp:" in text and "allocated from" in text
    assert "Call graph" in text and "Showing nodes accounting for" in text  # the merged Graphviz page
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True).stdout
    pages = int(next(line.split()[-1] for line in info.splitlines() if line.startswith("Pages:")))
    assert "Title:" in info and "cxx_leaks" in info
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(pdf), str(tmp_path / "p")], check=True)
    assert len(list(tmp_path.glob("p-*.png"))) == pages
    outline = subprocess.run(["python3", "-c", "import sys"], check=True)
    assert outline.returncode == 0
    from pypdf import PdfReader

    titles = [o.title for o in PdfReader(str(pdf)).outline if not isinstance(o, list)]
    assert {"Summary", "Top functions", "Binaries"} <= set(titles)
    assert any(t.startswith("Call graph") for t in titles) and any(t.startswith("Leak sites") for t in titles)


@pytest.mark.parametrize("dump", ["threads.0004.heap", "shlib.0002.heap", "recursion.0001.heap", "sampled.heap",
                                  "heapcheck.heap"])
def test_report_for_each_example(examples, tmp_path, expected, dump):
    html, pdf = tmp_path / "r.html", tmp_path / "r.pdf"
    r = run_heapviz("report", str(examples / dump), "-o", str(html), "-o", str(pdf))
    assert r.rc == 0, r.err
    prog = next(p for p in expected.values() if isinstance(p, dict) and dump in p.get("dumps", {}))
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    page = html.read_text()
    for fn in prog["dumps"][dump]:
        name = prog.get("full_names", {}).get(fn, fn).split("(")[0]
        assert name in text and name in page


def test_series_and_merge(examples, tmp_path):
    dumps = [str(examples / f"threads.000{i}.heap") for i in (3, 1, 4, 2)]
    out = tmp_path / "series.html"
    r = run_heapviz("report", *dumps, "-o", str(out))
    assert r.rc == 0, r.err
    page = out.read_text()
    series = page[page.index('id="series"'):]
    order = [series.index(f"threads.000{i}.heap") for i in (1, 2, 3, 4)]
    assert order == sorted(order)
    assert "112884" in page  # the last dump's total, in the dumps table
    merged = tmp_path / "merged.html"
    r = run_heapviz("report", "--merge", *dumps, "-o", str(merged))
    assert r.rc == 0
    assert "2391650" in merged.read_text()  # sum of the four dumps' in-use bytes


def test_failed_report_leaves_no_file(examples, tmp_path):
    """All outputs or none: the second -o cannot be written, so the first is not left behind."""
    html = tmp_path / "r.html"
    r = run_heapviz("report", str(examples / "cxx.0002.heap"), "-o", str(html), "-o",
                    str(tmp_path / "missing-dir" / "r.pdf"))
    assert r.rc == 1 and "missing-dir" in r.err
    assert list(tmp_path.iterdir()) == []


def test_layout_timeout_gives_a_report_without_graph(examples, tmp_path):
    html, pdf = tmp_path / "r.html", tmp_path / "r.pdf"
    r = run_heapviz("report", str(examples / "cxx.0002.heap"), "-o", str(html), "-o", str(pdf),
                    "--layout-timeout", "0.0001")
    assert r.rc == 0, r.err
    page = html.read_text()
    assert "call graph is not in this report" in page and "could not be drawn" in page
    assert "hv::grow_vector" in page
    text = subprocess.run(["pdftotext", str(pdf), "-"], capture_output=True, text=True, check=True).stdout
    assert "call graph is not in this report" in text.replace("\n", " ") and "hv::grow_vector" in text


def test_graphviz_runs_only_for_reports_that_draw_graphs(examples, tmp_path):
    """A nightly job's JSON summary alone needs no layout; with HTML or PDF the graphs are laid
    out once for both, and a layout failure is a warning in every output, the JSON's too."""
    alone, both = tmp_path / "alone.json", tmp_path / "both.json"
    slow = ("--layout-timeout", "0.0001")
    r = run_heapviz("report", str(examples / "cxx.0002.heap"), "-o", str(alone), *slow, "--timings")
    assert r.rc == 0, r.err
    assert '"layout"' not in r.err and not any("call graph" in w for w in json.loads(alone.read_text())["warnings"])
    r = run_heapviz("report", str(examples / "cxx.0002.heap"), "-o", str(both), "-o", str(tmp_path / "r.html"),
                    "-o", str(tmp_path / "r.pdf"), *slow, "--timings")
    assert r.rc == 0, r.err
    assert r.err.count('"layout"') == 1  # one layout phase for both writers
    assert any("call graph is not in this report" in w for w in json.loads(both.read_text())["warnings"])


def test_report_needs_known_suffix(examples, tmp_path):
    r = run_heapviz("report", str(examples / "cxx.0002.heap"), "-o", str(tmp_path / "r.docx"))
    assert r.rc == 2 and ".html, .pdf or .json" in r.err


def test_templates_ship_inside_the_wheel(tmp_path):
    import sys

    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                    str(tmp_path), str(ROOT)], check=True, capture_output=True)
    wheel = next(tmp_path.glob("heapviz-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for t in ("report.html.j2", "report.css", "report.js", "vendor/viz-global.js", "vendor/VENDORED.json",
              "vendor/LICENSE-viz-js.txt"):
        assert f"heapviz/templates/{t}" in names
