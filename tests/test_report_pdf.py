"""The PDF report read back: page 1 answers the question for every kind of report, no page is
left mostly empty, graph labels print at 8 pt or more on A4 and Letter, and names and paths are
shown whole and literally."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from pypdf import PdfReader

from conftest import run_heapviz
from heapviz.graph.nodes import NodeOptions
from heapviz.model import Function, Line, Location, Mapping, Profile, Sample, ValueType
from heapviz.report.collect import ReportOptions, collect
from heapviz.report.pdf import write_pdf
from heapviz.report.pdf_graph import MIN_LABEL_PT, print_scale
from heapviz.units import format_value

SERIES = [f"threads.000{i}.heap" for i in (1, 2, 3, 4)]
KINDS = {
    "single": (["cxx.0002.heap"], []),
    "series": (SERIES, []),
    "series-base": (SERIES, ["--base", SERIES[0]]),
    "base": ([SERIES[-1]], ["--base", SERIES[0]]),
}


def pdftotext(pdf: Path, page: int | None = None, *args: str) -> str:
    pages = ["-f", str(page), "-l", str(page)] if page else []
    return subprocess.run(["pdftotext", *pages, *args, str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout


def is_picture(page_text: str) -> bool:
    """A graph or flame graph page (its heading or tile caption need not come first in the text)."""
    return bool(re.search(r"^(Call graph|Flame graph) \(|^Call graph of the growth", page_text, re.MULTILINE))


def flat(text: str) -> str:
    """Text with its line breaks taken out: names and paths wrap over lines in table cells."""
    return re.sub(r"\s*\n\s*", "", text)


def bytes_text(v: int) -> str:
    return format_value(v, "bytes", "auto")


@pytest.fixture(scope="module")
def reports(examples, tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    out = {}
    for kind, (files, extra) in KINDS.items():
        d = tmp_path_factory.mktemp(kind)
        args = [str(examples / f) for f in files] + [a if a.startswith("--") else str(examples / a) for a in extra]
        r = run_heapviz("report", *args, "-o", str(d / "r.pdf"), "-o", str(d / "r.json"))
        assert r.rc == 0, r.err
        out[kind] = (d / "r.pdf", json.loads((d / "r.json").read_text()))
    return out


@pytest.mark.parametrize("kind", list(KINDS))
def test_page_one_has_the_answer(reports, kind):
    pdf, doc = reports[kind]
    page1 = pdftotext(pdf, 1)
    one_line = " ".join(page1.split())
    assert "Summary" in page1
    if kind == "single":
        top = doc["top"][0]
        assert top["name"] in page1 and bytes_text(top["flat"]) in page1
        assert "Largest leak site" in page1 and "First frame in your code" in page1
        assert "cxx_leaks.cpp:" in page1
        assert re.search(r"\b1 object\b", page1) and re.search(r"\b\d+ objects\b", page1)
    else:
        top = doc["suspects"][0]
        assert top["growth_bytes"] > 0
        assert top["function"] in page1 and "+" + bytes_text(top["growth_bytes"]) in page1
        assert "Trend" in page1 and "Score" in page1 and f"{top['score']:.2f}" in page1
    if kind in ("series-base", "base"):
        assert "Grew the most:" in one_line
    if kind == "base":
        # totals are a difference, shown next to the base's and the new profile's totals
        base, new = doc["dumps"][0], doc["dumps"][-1]
        assert "+" + bytes_text(doc["totals"]["inuse_space"]) in page1
        assert "Difference" in page1 and "minus base" in page1
        assert bytes_text(base["inuse_space"]) in page1 and bytes_text(new["inuse_space"]) in page1
    # metadata comes later
    assert "Header" not in page1 and "Made by" not in page1


@pytest.mark.parametrize("kind", list(KINDS))
def test_no_page_is_mostly_empty(reports, kind):
    pdf, _ = reports[kind]
    pages = len(PdfReader(str(pdf)).pages)
    seen_text_after_graphs = False
    in_pictures = False
    for n in range(1, pages + 1):
        text = pdftotext(pdf, n).strip()
        picture = is_picture(text)
        if picture:
            in_pictures = True
        elif in_pictures:
            seen_text_after_graphs = True
        if not picture:
            assert len(text) >= 200, f"page {n} of {pages}: {text!r}"
        assert len(text) > 0, f"page {n} is blank"
    assert not seen_text_after_graphs  # graph and flame pages come after all the text
    outline = [o.title for o in PdfReader(str(pdf)).outline if not isinstance(o, list)]
    assert outline.index("Summary") == 0 and outline.index("Top functions") > next(
        i for i, t in enumerate(outline) if t.startswith("Leak sites"))
    assert outline.index("Details") > outline.index("Top functions")


def _label_sizes(pdf: Path) -> list[tuple[int, str, float]]:
    """Each text drawn by Graphviz on the graph pages: (page, text, printed size in points once
    that page is printed fitted to A4 or Letter, whichever is smaller)."""
    reader = PdfReader(str(pdf))
    out = []
    for n, page in enumerate(reader.pages, 1):
        text = pdftotext(pdf, n)
        if not is_picture(text) or re.search(r"^Flame graph \(", text, re.MULTILINE):
            continue
        fit = print_scale(float(page.mediabox.width), float(page.mediabox.height))

        def visit(text: str, cm: list[float], tm: list[float], _font: object, size: float,
                  n: int = n, fit: float = fit) -> None:
            if not text.strip() or cm[:4] == [1, 0, 0, 1]:
                return  # reportlab's own heading, caption and footer (drawn unscaled)
            c = tm[2] * cm[1] + tm[3] * cm[3], tm[2] * cm[0] + tm[3] * cm[2]  # the text's up vector
            out.append((n, text.strip(), size * (c[0] ** 2 + c[1] ** 2) ** 0.5 * fit))

        page.extract_text(visitor_text=visit)
    return out


@pytest.mark.parametrize("kind", ["single", "series", "base"])
def test_graph_labels_print_at_8_points(reports, kind):
    pdf, _ = reports[kind]
    sizes = _label_sizes(pdf)
    words = {t for _, t, _ in sizes}
    assert any("main" in w or "leak_in_worker" in w for w in words)  # Graphviz's text was found
    smallest = min(sizes, key=lambda s: s[2])
    assert smallest[2] >= MIN_LABEL_PT - 0.01, smallest
    # nodes that hold nothing themselves ("0 of …": main, __libc_start_main) had the smallest labels
    no_flat = [s for _, t, s in sizes if t.startswith("0 of ")]
    assert no_flat and min(no_flat) >= MIN_LABEL_PT - 0.01


def test_single_profile_report_in_units(reports):
    pdf, doc = reports["single"]
    text = pdftotext(pdf)
    assert bytes_text(doc["totals"]["inuse_space"]) + " (36569 bytes)" in text  # exact bytes under Details
    assert "119 objects" in text
    # every frame's file:line is on one line
    assert not re.search(r"\.(cpp|h|c):?\n", text)
    assert re.search(r"(^|/)cxx_leaks\.cpp:\d+$", text, re.MULTILINE)


# A name that reportlab would read as markup, and a long template name that must wrap
HOSTILE_SITE = "site_<b>bold</b>&amp;<font color=red>x</font>"
TEMPLATE_SITE = ("hv::detail::Cache<std::map<std::__cxx11::basic_string<char, std::char_traits<char>, "
                 "std::allocator<char> >, hv::Entry<int, 12>, std::less<void> >, hv::Policy<3> >::"
                 "lookup_or_insert(std::__cxx11::basic_string<char, std::char_traits<char>, "
                 "std::allocator<char> > const&)")
LONG_DIR = "/home/builder/work/projects/heap-visualisation/really/long/source/tree/src/module"


def _awkward_profile() -> Profile:
    types = [ValueType("inuse_objects", "count"), ValueType("inuse_space", "bytes")]
    prof = Profile(sample_types=types, source="/tmp/awkward.0001.heap", kind="heapprofile",
                   header="heap profile: 3: 3000 [3: 3000] @ heapprofile", default_sample_type="inuse_space")
    mapping = Mapping(1, 0x1000, 0x9000, 0, "/opt/app/bin/app")
    prof.mappings.append(mapping)
    main = Function(1, "main", "main", f"{LONG_DIR}/main_entry_point.cc")
    prof.functions.append(main)
    root = Location(1, 0x1000, mapping, (Line(main, 7),))
    prof.locations.append(root)
    for i, name in enumerate((HOSTILE_SITE, TEMPLATE_SITE)):
        fn = Function(i + 2, name, name, f"{LONG_DIR}/file_with_a_long_name_{i}.cc")
        loc = Location(i + 2, 0x2000 + i, mapping, (Line(fn, 40 + i),))
        prof.functions.append(fn)
        prof.locations.append(loc)
        prof.samples.append(Sample([i + 1, 1000 * (i + 1)], (loc, root)))
    return prof


def test_leak_site_names_and_paths_print_whole(tmp_path):
    prof = _awkward_profile()
    data = collect(prof, prof.samples, ReportOptions(sample_index=1, node_options=NodeOptions(demangle="full")), [])
    path = tmp_path / "awkward.pdf"
    path.write_bytes(write_pdf(data))
    text = pdftotext(path)
    joined = flat(text)
    assert HOSTILE_SITE in joined  # literally: reportlab did not read it as markup
    assert TEMPLATE_SITE in joined  # in full: template arguments kept
    assert "bold" in text and "<b>" in joined
    lines = text.splitlines()
    assert any(len(ln) < len(TEMPLATE_SITE) and "hv::detail::Cache<" in ln for ln in lines)  # it wrapped
    for i in (0, 1):
        # file:line never split; the long directory shown once above each stack
        assert any(ln.strip().endswith(f"file_with_a_long_name_{i}.cc:{40 + i}") for ln in lines), i
    assert "main_entry_point.cc:7" in text
    assert joined.count(f"files under {LONG_DIR}/") == 2  # once per stack, not once per frame
    # paths wrap only after a "/"
    for ln in lines:
        if LONG_DIR.startswith(ln.strip()) and ln.strip():
            assert ln.strip().endswith("/") or ln.strip() == LONG_DIR, ln
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(path), str(tmp_path / "p")], check=True)
