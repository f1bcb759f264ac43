"""Flame graphs: the call tree, the standalone SVG (parsed, and driven in headless Chromium), and
the flame sections of the HTML and PDF reports."""

from __future__ import annotations

import json
import re
import subprocess
import xml.etree.ElementTree as ET

import pytest

from browser import PageWatch, browser
from conftest import run_heapviz
from heapviz.graph.nodes import NodeOptions
from heapviz.graph.tree import build_tree, package_of
from heapviz.render.flame import MATCH_FILL, FlameOptions, clean, to_svg
from test_report_hostile import HOSTILE, hostile_profile

SVG = "{http://www.w3.org/2000/svg}"
INNER = 1180.0  # 1200 px minus the 10 px padding on each side


def flame(examples, tmp_path, dump: str, *args: str):
    out = tmp_path / f"{dump}.svg"
    r = run_heapviz("flame", str(examples / dump), "-o", str(out), *args)
    assert r.rc == 0, r.err
    return out


def script_data(svg_text: str) -> dict:
    m = re.search(r"var D = (\{.*?\});\n", svg_text)
    assert m, "no data in the flame script"
    return json.loads(m.group(1))


def frames(root: ET.Element) -> dict[int, dict]:
    out = {}
    for g in root.iter(f"{SVG}g"):
        gid = g.get("id", "")
        if not re.fullmatch(r"flame-f\d+", gid):
            continue
        rect, text, title = g.find(f"{SVG}rect"), g.find(f"{SVG}text"), g.find(f"{SVG}title")
        out[int(gid[7:])] = {"x": float(rect.get("x")), "w": float(rect.get("width")), "y": float(rect.get("y")),
                             "fill": rect.get("fill"), "text": text.text or "", "title": title.text or "",
                             "class": g.get("class")}
    return out


@pytest.fixture(scope="module")
def chromium():
    with browser() as b:
        yield b


def test_svg_layout_matches_the_tree(examples, tmp_path, expected):
    path = flame(examples, tmp_path, "cxx.0002.heap", "--unit", "B")
    text = path.read_text()
    root = ET.fromstring(text.encode())  # well-formed XML
    assert root.get("width") == "1200"
    data = script_data(text)
    boxes = frames(root)
    fr = data["frames"]
    assert len(boxes) == len(fr)
    total = expected["cxx"]["total_inuse"]["cxx.0002.heap"]
    assert fr[0][1] == total == data["total"]
    assert boxes[0]["w"] == pytest.approx(INNER) and f"{total}B (100%)" in boxes[0]["title"]
    for i, (start, value, depth, parent, end, _name, _full) in enumerate(fr):
        assert boxes[i]["w"] == pytest.approx(value * INNER / total, abs=0.01)
        assert boxes[i]["x"] == pytest.approx(10 + start * INNER / total, abs=0.01)
        kids = [j for j in range(i + 1, end) if fr[j][3] == i]
        assert sum(fr[j][1] for j in kids) <= value
        if parent >= 0:
            assert fr[parent][2] == depth - 1 and fr[parent][0] <= start
            assert start + value <= fr[parent][0] + fr[parent][1]
    # the leaves that allocate are outlined, and hv::Pool::grow holds its 12288 bytes
    grow = next(b for b in boxes.values() if b["title"].startswith("hv::Pool::grow\n"))
    assert "self" in grow["class"] and "allocated here: 12288B" in grow["title"]
    assert grow["text"] == "hv::Pool::grow"  # wide enough for its whole name
    # names are cut to fit their box
    for b in boxes.values():
        assert len(b["text"]) * 0.6 * 12 <= max(b["w"], 0) + 0.5
    # deterministic
    again = flame(examples, tmp_path, "cxx.0002.heap", "--unit", "B")
    assert again.read_bytes() == text.encode()


def test_recursion_stays_nested(examples, expected):
    from heapviz.pipeline import LoadOptions, make_view, subject
    from heapviz.graph.filters import FilterOptions

    subj = subject([str(examples / "recursion.0001.heap")], LoadOptions(), [], False)
    view = make_view(subj.shown, None, FilterOptions(), NodeOptions())
    tree = build_tree(view.samples, view.sample_index, NodeOptions(), view.total, "inuse_space", "bytes")
    assert tree.root.cum == expected["recursion"]["total_inuse"]["recursion.0001.heap"]
    longest = 0
    stack = [(tree.root, 0)]
    while stack:  # the most recurse frames on one path from the root
        node, count = stack.pop()
        count += node.name == "recurse"
        longest = max(longest, count)
        stack += [(c, count) for c in node.children.values()]
        assert sum(c.cum for c in node.children.values()) + node.self_value == node.cum
    # recurse runs 8 deep but allocates only at even depths 0..6: the deepest allocating stack has 7
    assert longest == expected["recursion"]["max_frames_of_function_in_one_stack"]["recurse"] - 1 == 7
    selfs: dict[str, int] = {}
    for _, node in tree.root.walk():
        selfs[node.name] = selfs.get(node.name, 0) + node.self_value
    for fn, value in expected["recursion"]["dumps"]["recursion.0001.heap"].items():
        assert selfs[fn] == value


def test_hostile_names_are_shown_literally(tmp_path, chromium):
    prof, _ = hostile_profile()
    tree = build_tree(prof.samples, 1, NodeOptions(demangle="full"), prof.total(1), "inuse_space", "bytes",
                      title="<script>alert(9)</script>")
    svg = to_svg(tree, lambda v: f"{v}B", FlameOptions(min_width=0))
    root = ET.fromstring(svg.encode())
    titles = [t.text or "" for t in root.iter(f"{SVG}title")]
    for name in HOSTILE:
        shown = clean(name)  # control characters and undecodable bytes cannot be in XML 1.0
        assert any(t.startswith(shown + "\n") for t in titles), name
    assert any("(inlined)" in t for t in titles)
    assert len(list(root.iter(f"{SVG}script"))) == 1
    data_part = re.search(r"var D = (\{.*?\});\n", svg).group(1)
    assert not re.search(r"[<>&]", data_part)
    assert json.loads(data_part)["frames"][1][5].startswith("main")
    path = tmp_path / "hostile.svg"
    path.write_text(svg)
    page = chromium.new_page()
    watch = PageWatch(page)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    page.click("#flame-f2")
    assert watch.errors == [] and watch.dialogs == [] and watch.requests == [path.as_uri()]
    assert page.eval_on_selector_all("script", "s => s.length") == 1
    page.close()


def _rect(page, sel):
    return page.eval_on_selector(sel + " rect", "r => [+r.getAttribute('x'), +r.getAttribute('width')]")


def check_zoom_and_search(page, prefix: str, frame_name: str) -> None:
    ids = page.eval_on_selector_all(f"#{prefix}-frames > g", "gs => gs.map(g => g.id)")
    names = page.eval_on_selector_all(f"#{prefix}-frames > g title", "ts => ts.map(t => t.textContent.split('\\n')[0])")
    target = ids[names.index(frame_name)]
    x0, w0 = _rect(page, f"#{target}")
    assert w0 < INNER / 2
    page.click(f"#{target}")
    x, w = _rect(page, f"#{target}")
    assert x == pytest.approx(10) and w == pytest.approx(INNER)
    hidden = page.eval_on_selector_all(f"#{prefix}-frames > g",
                                       "gs => gs.filter(g => g.style.display === 'none').length")
    assert hidden > 0  # frames beside the zoomed one are gone
    assert _rect(page, f"#{ids[0]}")[1] == pytest.approx(INNER)  # ancestors still span the width
    page.click(f"#{prefix}-reset")
    assert _rect(page, f"#{target}") == pytest.approx([x0, w0])
    # search: typed into the search box, a regular expression
    page.fill(f"#{prefix}-search", "grow_")
    matched = page.eval_on_selector_all(f"#{prefix}-frames > g.match title",
                                        "ts => ts.map(t => t.textContent.split('\\n')[0])")
    assert matched and all("grow_" in m for m in matched)
    fills = page.eval_on_selector_all(f"#{prefix}-frames > g.match rect", "rs => rs.map(r => r.getAttribute('fill'))")
    assert set(fills) == {MATCH_FILL}
    others = page.eval_on_selector_all(f"#{prefix}-frames > g:not(.match) rect",
                                       "rs => rs.map(r => r.getAttribute('fill'))")
    assert others and MATCH_FILL not in others  # no frame shares the highlight colour
    label = page.text_content(f"#{prefix}-matched")
    assert label.startswith("Matched: ") and "%" in label
    assert 0 < float(page.get_attribute(f"#{prefix}-svg", "data-matched")) < 100
    page.click(f"#{prefix}-clear")
    assert page.eval_on_selector_all(f"#{prefix}-frames > g.match", "gs => gs.length") == 0


def test_zoom_and_search_in_chromium(examples, tmp_path, chromium):
    path = flame(examples, tmp_path, "cxx.0002.heap")
    page = chromium.new_page(viewport={"width": 1300, "height": 700})
    watch = PageWatch(page)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    check_zoom_and_search(page, "flame", "hv::grow_map")
    assert watch.errors == [] and watch.dialogs == []
    assert watch.requests == [path.as_uri()]
    page.close()


def test_flame_with_base_colours_the_change(examples, tmp_path, expected):
    path = flame(examples, tmp_path, "cxx.0002.heap", "--base", str(examples / "cxx.0001.heap"), "--unit", "B")
    text = path.read_text()
    data = script_data(text)
    assert data["frames"][0][1] == expected["cxx"]["total_inuse"]["cxx.0002.heap"]  # widths: the new profile
    boxes = frames(ET.fromstring(text.encode()))
    grew = [b for b in boxes.values() if "change since base: +" in b["title"]]
    same = [b for b in boxes.values() if "change since base: 0" in b["title"]]
    assert grew and same
    for b in grew:
        r, g, bl = (int(b["fill"][i:i + 2], 16) for i in (1, 3, 5))
        assert r == 255 and g == bl < 255  # red
    for b in same:
        assert b["fill"] == "#e6e6e6"


def test_flame_to_stdout_and_bad_depth(examples):
    r = run_heapviz("flame", str(examples / "recursion.0001.heap"), "--max-depth", "3")
    assert r.rc == 0 and r.out.startswith("<?xml")
    root = ET.fromstring(r.out.encode())
    assert any("deeper frames not drawn" in (t.text or "") for t in root.iter(f"{SVG}title"))


def test_package_colours():
    assert package_of("hv::Pool<hv::Cell>::grow(unsigned long)", "app") == "hv"
    assert package_of("(anonymous namespace)::leak_here()", "app") == "(anonymous namespace)"
    assert package_of("malloc", "libc.so.6") == "libc.so.6"
    assert package_of("operator new(unsigned long)", "libstdc++.so.6") == "libstdc++.so.6"


def test_html_report_flame_section(cxx_reports, chromium):
    html, _ = cxx_reports
    page = chromium.new_page(viewport={"width": 1366, "height": 900})
    watch = PageWatch(page)
    page.goto(html.as_uri())
    page.wait_for_load_state("load")
    assert page.is_visible("#flame #report-flame-svg")
    assert page.eval_on_selector("nav a[href='#flame']", "a => a.textContent") == "Flame graph"
    page.click("nav a[href='#flame']")
    check_zoom_and_search(page, "report-flame", "hv::grow_map")
    # the report's own script still works beside the flame graph's
    before = float(page.get_attribute("#graph-viewport", "data-scale"))
    page.click("[data-zoom=in]")
    assert float(page.get_attribute("#graph-viewport", "data-scale")) > before
    assert watch.errors == [] and watch.dialogs == []
    assert watch.requests == [html.as_uri()]
    page.close()


def test_pdf_report_flame_page(cxx_reports, tmp_path):
    _, pdf = cxx_reports
    from pypdf import PdfReader

    reader = PdfReader(str(pdf))
    titles = [o.title for o in reader.outline if not isinstance(o, list)]
    assert "Flame graph (inuse_space)" in titles
    index = next(i for i, page in enumerate(reader.pages) if "Flame graph (inuse_space)" in page.extract_text())
    box = reader.pages[index].mediabox
    # as wide as landscape A4 and only as tall as the flame graph: no empty half page
    assert round(float(box.width)) == 842 and float(box.height) < 595
    n = str(index + 1)
    text = subprocess.run(["pdftotext", "-f", n, "-l", n, str(pdf), "-"], capture_output=True, text=True,
                          check=True).stdout
    for name in ("main", "hv::Pool::grow", "hv::grow_map", "hv::grow_string", "hv::grow_vector"):
        assert name in text, name
    subprocess.run(["pdftoppm", "-f", n, "-l", n, "-r", "40", "-png", str(pdf), str(tmp_path / "flame")], check=True)
    assert list(tmp_path.glob("flame-*.png"))


def test_deep_stacks_are_cut_not_a_crash():
    from heapviz.model import Function, Line, Location, Profile, Sample, ValueType

    fns = [Function(i + 1, f"f{i % 50}", f"f{i % 50}") for i in range(5000)]
    locs = tuple(Location(i + 1, 0x1000 + i, None, (Line(fn),)) for i, fn in enumerate(fns))
    prof = Profile(sample_types=[ValueType("inuse_space", "bytes")], samples=[Sample([64], locs)],
                   locations=list(locs), functions=fns)
    tree = build_tree(prof.samples, 0, NodeOptions(), 64, "inuse_space", "bytes")
    assert tree.depth() == 5000
    root = ET.fromstring(to_svg(tree, str).encode())
    drawn = [g for g in root.iter(f"{SVG}g") if re.fullmatch(r"flame-f\d+", g.get("id", ""))]
    assert len(drawn) == FlameOptions().max_depth + 1
    assert "deeper frames not drawn" in (drawn[-1].find(f"{SVG}title").text or "")
