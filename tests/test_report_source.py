"""The code of the largest leak sites in HTML and PDF reports: the hot lines of the examples'
sites (found with `heapviz list`, not with the report's own code), --source-sites and
--source-lines, --base differences, a link to a site's code in Chromium, and a hostile source
file shown literally in both formats."""

from __future__ import annotations

import html
import json
import re
import subprocess
from pathlib import Path

import pytest

from browser import PageWatch, browser
from conftest import ROOT, run_heapviz
from heapviz.graph.nodes import NodeOptions
from heapviz.model import Function, Line, Location, Mapping, Profile, Sample, ValueType
from heapviz.report.collect import ReportOptions, collect
from heapviz.report.html import write_html
from heapviz.report.pdf import write_pdf
from heapviz.report.sources import SourceSettings, printable
from heapviz.source import SourceOptions
from heapviz.units import format_value

_ROW = re.compile(r'<tr( class="hot")?><td class="num">([^<]*)</td><td class="num">([^<]*)</td>'
                  r'<td class="num ln">(\d+)</td><td class="code">(.*?)</td></tr>', re.S)


def code_rows(page: str) -> list[tuple[bool, str, str, int, str]]:
    """Every source row of a report page: (hot, this site, all stacks, line, the code as shown)."""
    return [(bool(hot), site, all_, int(line), html.unescape(re.sub(r"<[^>]+>", "", code)))
            for hot, site, all_, line, code in _ROW.findall(page)]


def pdf_text(path: Path) -> str:
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True).stdout
    return " ".join(text.split())


def listed(profile: Path) -> list[dict]:
    """`heapviz list .`'s routines in the examples' sources."""
    r = run_heapviz("list", ".", str(profile), "--format", "json", "--source-path", str(ROOT / "examples"))
    assert r.rc == 0, r.err
    return [rt for rt in json.loads(r.out)["routines"] if (rt["source"] or "").startswith(str(ROOT / "examples"))]


def allocating_lines(profile: Path) -> dict[tuple[str, int], str]:
    """(file, line) -> text of every line that allocates (flat > 0) in the examples' sources."""
    return {(rt["source"], row["line"]): row["text"] for rt in listed(profile) for row in rt["lines"]
            if row["flat"] > 0}


def test_hot_lines_of_every_site_in_html_and_pdf(examples, cxx_reports):
    """Each allocating line of cxx (its 9 leaking functions: the leak sites' allocating frames)
    is a hot row of the HTML, with the site's value, and is in the PDF's text."""
    page, pdf = cxx_reports
    rows = code_rows(page.read_text())
    hot = {code for is_hot, site, _, _, code in rows if is_hot and site}
    wanted = allocating_lines(examples / "cxx.0002.heap")
    assert len(wanted) >= 9
    for text in wanted.values():
        assert printable(text) in hot, text
    text = pdf_text(pdf)
    for line in wanted.values():
        assert " ".join(line.split()) in text, line
    # the callers' code too: main's lines calling the leaking functions
    assert any(code.strip() == "hv::grow_vector();" for is_hot, _, _, _, code in rows if is_hot)
    assert "hv::grow_vector();" in text
    check_all_stacks(examples / "cxx.0002.heap", rows)


def check_all_stacks(profile: Path, rows: list[tuple[bool, str, str, int, str]]) -> None:
    """"all stacks" is the line's cum as `heapviz list` sums it (each example's code is one file)."""
    cum: dict[int, int] = {}
    for rt in listed(profile):
        for row in rt["lines"]:  # each routine's rows, with its context lines at 0
            cum[row["line"]] = cum.get(row["line"], 0) + row["cum"]
    shown = [(line, all_) for _, _, all_, line, _ in rows if all_]
    assert len(shown) > 10
    for line, all_ in shown:
        assert all_ == format_value(cum[line], "bytes", "auto"), line


def test_recursion_counts_each_stack_once(examples, tmp_path):
    """A recursive function's line is on a stack many times: its cum counts the stack once, and
    the site shows that line once."""
    page = tmp_path / "rec.html"
    r = run_heapviz("report", str(examples / "recursion.0001.heap"), "-o", str(page), "--static")
    assert r.rc == 0, r.err
    doc = page.read_text()
    check_all_stacks(examples / "recursion.0001.heap", code_rows(doc))
    for block in re.findall(r'<details class="src".*?</details>', doc, re.S):
        heads = re.findall(r'<code class="loc">([^<]+)</code>', block)
        assert len(heads) == len(set(heads))


def test_site_values_and_links(cxx_reports):
    page, _ = cxx_reports
    doc = page.read_text()
    sites = re.findall(r'<details class="leak" id="leak-(\d+)".*?</table>\s*(.*?)\n  </details>', doc, re.S)
    with_code = [rank for rank, rest in sites if 'class="src-block"' in rest]
    assert with_code == [str(i) for i in range(1, 11)]  # --source-sites 10 by default
    first = doc[doc.index('id="leak-1"'):doc.index('id="leak-2"')]
    value = re.search(r"<strong>([^<]+)</strong>", first).group(1)
    hot = [r for r in code_rows(first) if r[0]]
    assert [r[1] for r in hot] == [value, value]  # the allocating frame and main, each with the site's value
    assert 'href="#src-1-0"' in first and 'id="src-1-0"' in first and 'id="src-1-1"' in first
    assert "<style>" in doc and ".src .code .k {" in doc  # Pygments' colours, inline (the CSP forbids sheets)


def test_link_opens_a_closed_site(cxx_reports):
    page, _ = cxx_reports
    with browser() as b:
        p = b.new_page(viewport={"width": 1440, "height": 900})
        watch = PageWatch(p)
        p.goto(page.as_uri())
        p.wait_for_load_state("load")
        assert not p.eval_on_selector("#leak-7", "d => d.open")  # the first 5 sites are open
        p.eval_on_selector("#leak-7 a.src-link", "a => a.closest('details').open = true")
        p.eval_on_selector("#leak-7 details.src", "d => d.open = false")
        p.click("#leak-7 a.src-link")
        assert p.eval_on_selector("#leak-7 details.src", "d => d.open")
        assert p.evaluate("location.hash") == "#src-7-0"
        box = p.eval_on_selector("#src-7-0", "e => e.getBoundingClientRect().top")
        assert 0 <= box < 900
        assert watch.errors == [] and watch.dialogs == []


def test_source_sites_and_lines(examples, tmp_path):
    args = [str(examples / "cxx.0002.heap"), "-o", str(tmp_path / "a.html")]
    r = run_heapviz("report", *args, "--source-sites", "2", "--source-lines", "5")
    assert r.rc == 0, r.err
    doc = (tmp_path / "a.html").read_text()
    assert doc.count('class="src-block"') == 2  # site 1's allocating frame fills its 5 lines
    assert len(code_rows(doc)) == 10
    assert doc.count("code cut to 5 lines (--source-lines): 1 caller function not shown") == 2
    r = run_heapviz("report", *args, "--source-sites", "0")
    assert r.rc == 0, r.err
    assert 'class="src-block"' not in (tmp_path / "a.html").read_text()


def test_base_values_are_differences(examples, tmp_path):
    page = tmp_path / "base.html"
    r = run_heapviz("report", str(examples / "threads.0004.heap"), "--base", str(examples / "threads.0001.heap"),
                    "-o", str(page))
    assert r.rc == 0, r.err
    doc = page.read_text()
    blocks = re.findall(r'<details class="leak" id="leak-\d+".*?<strong>([^<]+)</strong>(.*?)\n  </details>', doc,
                        re.S)
    checked = 0
    for value, rest in blocks:
        for is_hot, site, _, _, _ in code_rows(rest):
            if is_hot:
                assert site == value
                checked += 1
    assert checked >= 2


# A source file no compiler wrote: markup of every writer, bytes that are not UTF-8, control
# characters, tabs and a line far wider than a PDF page.
LONG = " ".join(f"w{i:03d}" for i in range(120))
HOSTILE_LINES = [
    "int main(void) {",
    "  /* </script><script>alert(1)</script> */",
    '  x = "<b>bold</b>&amp;<font name=\\"Zapf\\">z</font>"; {{ 7*7 }}',
    "\tbad \udcff\udcfe utf-8, nul \x00 esc \x1b[31m",
    "  " + LONG,
    "}",
]


@pytest.fixture()
def hostile(tmp_path) -> tuple[bytes, bytes]:
    src = tmp_path / "hostile<src>.c"
    src.write_bytes("\n".join(HOSTILE_LINES * 3).encode("utf-8", "surrogateescape") + b"\n")
    types = [ValueType("inuse_objects", "count"), ValueType("inuse_space", "bytes")]
    prof = Profile(sample_types=types, source=str(tmp_path / "h.0001.heap"), kind="heapprofile",
                   header="heap profile", default_sample_type="inuse_space")
    mapping = Mapping(1, 0x1000, 0x9000, 0, str(tmp_path / "app"))
    prof.mappings.append(mapping)
    main = Function(1, "main", "main", str(src))
    leaf = Function(2, "alloc</script>", "alloc</script>", str(src))
    prof.functions += [main, leaf]
    caller = Location(1, 0x1000, mapping, (Line(main, 11),))
    for k, line in enumerate((3, 5, 2)):
        loc = Location(k + 2, 0x2000 + k, mapping, (Line(leaf, line),))
        prof.locations.append(loc)
        prof.samples.append(Sample([1, 1000 * (k + 1)], (loc, caller)))
    prof.locations.append(caller)
    opts = ReportOptions(sample_index=1, node_options=NodeOptions(),
                         sources=SourceSettings(options=SourceOptions(source_path=(str(tmp_path),))))
    data = collect(prof, prof.samples, opts, [])
    return write_html(data), write_pdf(data)


def test_hostile_source_shown_literally(hostile, tmp_path):
    page_bytes, pdf = hostile
    page = page_bytes.decode("utf-8")
    assert "<script>alert(1)" not in page and "<b>bold" not in page and "\x00" not in page and "\x1b" not in page
    shown = {line: code for _, _, _, line, code in code_rows(page)}
    for n, text in enumerate(HOSTILE_LINES * 3, 1):
        if n in shown:
            assert shown[n] == printable(text)
    assert shown[3] == '  x = "<b>bold</b>&amp;<font name=\\"Zapf\\">z</font>"; {{ 7*7 }}'
    assert shown[4] == "        bad \\xff\\xfe utf-8, nul \\x00 esc \\x1b[31m"
    path = tmp_path / "h.html"
    path.write_bytes(page_bytes)
    with browser() as b:
        p = b.new_page()
        watch = PageWatch(p)
        p.goto(path.as_uri())
        p.wait_for_load_state("load")
        assert watch.dialogs == [] and watch.errors == [] and watch.requests == [path.as_uri()]
        assert "</script><script>alert(1)</script>" in p.inner_text("#leaks")
    pdf_path = tmp_path / "h.pdf"
    pdf_path.write_bytes(pdf)
    text = pdf_text(pdf_path)
    for literal in ("</script><script>alert(1)</script>", '"<b>bold</b>&amp;<font name=\\"Zapf\\">z</font>";',
                    "bad \\xff\\xfe utf-8, nul \\x00 esc \\x1b[31m"):
        assert literal in text, literal
    # the long line wraps with a marker and loses nothing
    assert "\u21aa" in text
    words = [w for w in text.split() if re.fullmatch(r"w\d\d\d", w)]
    assert words[:120] == LONG.split()
