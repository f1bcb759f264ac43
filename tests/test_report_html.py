"""The HTML report in headless Chromium at 1440x900: the answer on the first screen for every kind
of report, legible graph labels, sortable columns, one regex filter for every table, flame search,
chart captions, anchors below the sticky header and base-mode binaries. Screenshots of each first
screen go to /tmp/shots."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from browser import PageWatch, browser
from conftest import run_heapviz
from heapviz.render.flame import MATCH_FILL
from heapviz.units import format_value

SHOTS = Path("/tmp/shots")
VIEW = {"width": 1440, "height": 900}
KINDS = ("single", "series", "series-base", "base")


def _bytes(v: int, signed: bool = False) -> str:
    text = format_value(v, "bytes", "auto")
    return "+" + text if signed and v > 0 else text


@pytest.fixture(scope="module")
def chromium():
    with browser() as b:
        yield b


@pytest.fixture(scope="module")
def reports(examples, tmp_path_factory) -> dict[str, tuple[Path, dict]]:
    """Each kind of report, HTML and its JSON summary from the same run."""
    out = tmp_path_factory.mktemp("html-reports")
    threads = [str(examples / f"threads.000{i}.heap") for i in (1, 2, 3, 4)]
    args = {
        "single": [str(examples / "cxx.0002.heap")],
        "series": threads,
        "series-base": [*threads[1:], "--base", threads[0]],
        "base": [threads[3], "--base", threads[0]],
    }
    made = {}
    for kind, a in args.items():
        html, js = out / f"{kind}.html", out / f"{kind}.json"
        r = run_heapviz("report", *a, "-o", str(html), "-o", str(js))
        assert r.rc == 0, r.err
        made[kind] = (html, json.loads(js.read_text()))
    return made


def open_page(chromium, path: Path):
    page = chromium.new_page(viewport=VIEW)
    watch = PageWatch(page)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, watch


# Elements whose own text contains `needle`, with their box: the innermost such elements.
_FIND = """([scope, needle]) => {
  const out = [];
  for (const el of document.querySelectorAll(scope + ' *')) {
    if (!el.textContent.includes(needle)) continue;
    if ([...el.children].some(c => c.textContent.includes(needle))) continue;
    const r = el.getBoundingClientRect();
    if (r.width && r.height) out.push({top: r.top, bottom: r.bottom, left: r.left, right: r.right,
                                       text: el.textContent});
  }
  return out;
}"""


def in_first_screen(page, needle: str, scope: str = "main") -> bool:
    header = page.eval_on_selector("header.top", "h => h.getBoundingClientRect().bottom")
    boxes = page.evaluate(_FIND, [scope, needle])
    return any(b["top"] >= header - 1 and b["bottom"] <= VIEW["height"] and b["left"] >= 0
               and b["right"] <= VIEW["width"] for b in boxes)


def expected_answer(kind: str, doc: dict) -> list[str]:
    """What the first screen must show, from the JSON summary of the same run."""
    if kind == "single":
        top = doc["top"][0]
        return [top["name"], _bytes(top["flat"])]
    s = doc["suspects"][0]
    return [s["function"], _bytes(s["growth_bytes"], signed=True)]


@pytest.mark.parametrize("kind", KINDS)
def test_first_screen_shows_the_answer(chromium, reports, kind):
    html, doc = reports[kind]
    page, watch = open_page(chromium, html)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{kind}.png"))
    assert watch.errors == [] and watch.dialogs == [] and watch.requests == [html.as_uri()]
    for needle in expected_answer(kind, doc):
        assert in_first_screen(page, needle), needle
    headline = page.inner_text("#headline")
    if kind == "single":
        # the largest leak site: its function, bytes in the unit policy's form, the user's file:line
        first = page.eval_on_selector("#answer-table tbody tr", "r => [...r.cells].map(c => c.textContent.trim())")
        assert first[1] in headline and first[2] in headline and "cxx_leaks.cpp:" in headline
        assert re.fullmatch(r"[\d.]+(B|kB|MB|GB)", first[2]) and re.fullmatch(r"\d+ objects?", first[4])
        assert "cxx_leaks.cpp:" in first[5]
        assert in_first_screen(page, first[5].split()[-1])
        assert in_first_screen(page, _bytes(doc["totals"]["inuse_space"]))
    else:
        s = doc["suspects"][0]
        assert s["function"] in headline and _bytes(s["growth_bytes"], True) in headline
        values = [_bytes(v) for v in s["inuse_space"]]
        shown = " → ".join(values) if len(values) <= 8 else " → ".join([values[0], "…", *values[-4:]])
        assert in_first_screen(page, shown, "#answer-table")
        assert page.eval_on_selector("#answer-table tbody tr svg.spark", "s => s.getBoundingClientRect().bottom") < 900
        d0, d1 = doc["dumps"][0], doc["dumps"][-1]
        figures = page.inner_text("#figures")
        assert _bytes(d0["inuse_space"]) in figures and _bytes(d1["inuse_space"]) in figures
    if kind in ("series-base", "base"):
        assert headline.startswith("Grew the most:")
    if kind == "base":
        # the shown totals are a difference (new minus base), and say so
        figures = page.inner_text("#figures")
        assert "DIFFERENCE (NEW − BASE)" in figures.upper()
        assert _bytes(doc["totals"]["inuse_space"], True) in figures
        assert doc["totals"]["inuse_space"] == doc["dumps"][1]["inuse_space"] - doc["dumps"][0]["inuse_space"]
    # metadata comes after the answer
    assert page.eval_on_selector("#summary", "s => s.getBoundingClientRect().top") > VIEW["height"]
    page.close()


_LABELS = """v => [...v.querySelectorAll('g.node text')].map(t => {
  const size = parseFloat(t.getAttribute('font-size'));
  return {px: size * Math.abs(t.getScreenCTM().a), h: t.getBoundingClientRect().height, text: t.textContent};
})"""


@pytest.mark.parametrize("kind", KINDS)
def test_graph_labels_are_legible_at_default_fit(chromium, reports, kind):
    html, _ = reports[kind]
    page, _ = open_page(chromium, html)
    viewports = page.eval_on_selector_all(".viewport", "vs => vs.map(v => v.id)")
    assert "graph-viewport" in viewports and (kind.startswith("series") == ("growth-viewport" in viewports))
    for vid in viewports:
        labels = page.eval_on_selector(f"#{vid}", _LABELS)
        assert labels
        small = [lab for lab in labels if lab["px"] < 10 - 1e-6 or lab["h"] < 10]
        assert not small, (vid, small[:3])
        # the default fit: the page's width, not past 1:1, unless the labels need more
        scale = float(page.get_attribute(f"#{vid}", "data-scale"))
        legible = float(page.get_attribute(f"#{vid}", "data-legible-scale"))
        width = page.eval_on_selector(f"#{vid}",
                                      "v => (v.clientWidth - 4) / v.querySelector('svg').viewBox.baseVal.width")
        assert scale == pytest.approx(max(min(1.0, width), legible), abs=2e-3)
        # the top of the graph is in view
        assert page.eval_on_selector(f"#{vid}", "v => v.scrollTop") == 0
    page.close()


def test_growth_graph_pans_and_zooms(chromium, reports):
    page, _ = open_page(chromium, reports["series"][0])
    main = page.get_attribute("#graph-viewport", "data-scale")
    before = float(page.get_attribute("#growth-viewport", "data-scale"))
    page.click(".toolbar[data-for='growth-viewport'] [data-zoom=in]")
    assert float(page.get_attribute("#growth-viewport", "data-scale")) > before
    page.click(".toolbar[data-for='growth-viewport'] [data-zoom=one]")
    assert float(page.get_attribute("#growth-viewport", "data-scale")) == 1
    assert page.get_attribute("#graph-viewport", "data-scale") == main  # each toolbar drives its own graph
    # drag to pan
    page.click(".toolbar[data-for='growth-viewport'] [data-zoom=in]")
    box = page.eval_on_selector("#growth-viewport", "v => { const r = v.getBoundingClientRect(); "
                                "return [r.left + r.width / 2, r.top + 100, v.scrollWidth > v.clientWidth]; }")
    if box[2]:
        page.mouse.move(box[0], box[1])
        page.mouse.down()
        page.mouse.move(box[0] - 80, box[1])
        page.mouse.up()
        assert page.eval_on_selector("#growth-viewport", "v => v.scrollLeft") > 0
    page.close()


_SORT_ALL = """() => {
  const key = (cell, numeric) => {
    if (!cell) return numeric ? -Infinity : '';
    const v = cell.getAttribute('data-v');
    if (v !== null) return parseFloat(v);
    const t = cell.textContent.trim();
    if (numeric) { const n = parseFloat(t.replace(/[^0-9.eE+-]/g, '')); return isNaN(n) ? -Infinity : n; }
    return t.toLowerCase();
  };
  const failures = [];
  let count = 0;
  document.querySelectorAll('table.sortable').forEach((table, ti) => {
    [...table.tHead.rows[0].cells].forEach((th, i) => {
      const numeric = th.classList.contains('num');
      for (const pass of [0, 1]) {
        th.click();
        const desc = th.classList.contains('sorted-desc');
        if (!desc && !th.classList.contains('sorted-asc')) { failures.push([table.id || ti, i, 'no mark']); continue; }
        const keys = [...table.tBodies[0].rows].map(r => key(r.cells[i], numeric));
        for (let k = 1; k < keys.length; k++) {
          if (desc ? keys[k - 1] < keys[k] : keys[k - 1] > keys[k]) {
            failures.push([table.id || ti, th.textContent, pass, keys]); break;
          }
        }
        count++;
      }
    });
  });
  return {failures, count};
}"""


@pytest.mark.parametrize("kind", ["single", "series"])
def test_every_column_sorts(chromium, reports, kind):
    page, watch = open_page(chromium, reports[kind][0])
    headers = page.eval_on_selector_all("table.data th", "ths => ths.length")
    sortable = page.eval_on_selector_all("table.sortable th", "ths => ths.length")
    assert headers == sortable  # every column of every table
    result = page.evaluate(_SORT_ALL)
    assert result["failures"] == [] and result["count"] == 2 * sortable
    assert watch.errors == []
    page.close()


_VISIBLE_NAMES = """sel => [...document.querySelectorAll(sel)].map(e => [e.getAttribute('data-names'),
                                                                 !e.classList.contains('filtered-out')])"""


def _check_filtered(page, selector: str, pattern: str, expect_hidden: bool = True) -> None:
    rows = page.evaluate(_VISIBLE_NAMES, selector)
    assert rows, selector
    rx = re.compile(pattern, re.M)
    for names, shown in rows:
        assert shown == bool(rx.search(names)), (selector, names)
    assert any(shown for _, shown in rows), selector
    if expect_hidden:
        assert not all(shown for _, shown in rows), selector


def test_one_regex_filter_for_every_table(chromium, reports):
    page, watch = open_page(chromium, reports["single"][0])
    pattern = "^hv::grow_(map|vector)$"
    page.fill("#filter", pattern)
    for sel in ("#answer-table tbody tr", "#tbl-inuse_space-flat tbody tr", "#tbl-inuse_objects-cum tbody tr",
                "details.peek", "details.leak"):
        _check_filtered(page, sel, pattern)
    # the binaries table matches binary names, as --focus does
    page.fill("#filter", r"libc\.so")
    _check_filtered(page, "#binaries-table tbody tr", r"libc\.so")
    # not a regular expression: said so, and nothing is hidden by it
    page.fill("#filter", "")
    page.fill("#filter", "grow_(")
    assert "invalid" in page.get_attribute("#filter", "class")
    assert page.eval_on_selector_all(".filtered-out", "es => es.length") == 0
    page.fill("#filter", "")
    assert page.eval_on_selector_all(".filtered-out", "es => es.length") == 0
    assert watch.errors == []
    page.close()
    page, _ = open_page(chromium, reports["series"][0])
    page.fill("#filter", "worker_[ab]")
    _check_filtered(page, "#suspects-table tbody tr", "worker_[ab]")
    _check_filtered(page, "#answer-table tbody tr", "worker_[ab]")
    page.close()


@pytest.mark.parametrize("kind", ["single", "base"])
def test_flame_search_highlights_in_a_colour_no_frame_uses(chromium, reports, kind):
    page, watch = open_page(chromium, reports[kind][0])
    fills = page.eval_on_selector_all("#report-flame-frames rect", "rs => rs.map(r => r.getAttribute('fill'))")
    assert fills and MATCH_FILL not in fills
    assert page.get_attribute("#report-flame-search", "type") == "search"  # a box to type in, no prompt
    page.fill("#report-flame-search", "worker|grow_")
    hits = page.eval_on_selector_all("#report-flame-frames > g.match rect",
                                     "rs => rs.map(r => getComputedStyle(r).fill)")
    assert hits and set(hits) == {"rgb(10, 79, 224)"}  # MATCH_FILL, as drawn
    others = page.eval_on_selector_all("#report-flame-frames > g:not(.match) rect",
                                       "rs => rs.map(r => r.getAttribute('fill'))")
    assert MATCH_FILL not in others
    assert watch.dialogs == [] and watch.errors == []
    page.close()


def test_chart_captions_sit_above_their_own_charts(chromium, reports):
    page, _ = open_page(chromium, reports["series"][0])
    charts = page.eval_on_selector_all("#series figure.chart-box", """fs => fs.map(f => {
      const c = f.querySelector('figcaption').getBoundingClientRect(), s = f.querySelector('svg');
      const r = s.getBoundingClientRect();
      const texts = [...s.querySelectorAll('text')].map(t => t.getBBox());
      const w = s.viewBox.baseVal.width;
      return {caption: f.querySelector('figcaption').textContent, label: s.getAttribute('aria-label'),
              above: c.bottom <= r.top + 1 && c.left < r.right && c.right > r.left,
              inside: texts.every(b => b.x >= 0 && b.x + b.width <= w + 0.5),
              ticks: [...s.querySelectorAll('text.tick, text.value')].map(t => t.textContent)};
    })""")
    assert [c["caption"] for c in charts] == ["In-use bytes per dump", "In-use objects per dump"]
    for c in charts:
        assert c["label"] == c["caption"] and c["above"] and c["inside"], c
    assert all(re.fullmatch(r"[\d.]+(B|kB|MB|GB)", t) for t in charts[0]["ticks"])
    assert all(re.fullmatch(r"\d+ objects?", t) for t in charts[1]["ticks"])
    page.close()


@pytest.mark.parametrize("kind", ["single", "series"])
def test_anchors_land_below_the_sticky_header(chromium, reports, kind):
    page, _ = open_page(chromium, reports[kind][0])
    links = page.eval_on_selector_all("nav a", "as => as.map(a => a.getAttribute('href'))")
    assert "#leaks" in links and "#binaries" in links
    for href in links:
        page.click(f"nav a[href='{href}']")
        page.wait_for_timeout(50)
        header = page.eval_on_selector("header.top", "h => h.getBoundingClientRect().bottom")
        top = page.eval_on_selector(href, "e => e.getBoundingClientRect().top")
        assert header - 1 <= top < VIEW["height"], href
    page.close()


def test_base_mode_lists_each_binary_once(chromium, reports):
    page, _ = open_page(chromium, reports["base"][0])
    rows = page.eval_on_selector_all("#binaries-table tbody tr",
                                     "rs => rs.map(r => [...r.cells].map(c => c.textContent.trim()))")
    files = [r[0] for r in rows]
    assert len(files) == len(set(files)) and any(f.endswith("threads_series") for f in files)
    program = next(r for r in rows if r[0].endswith("threads_series"))
    assert program[1] == "base and new"
    page.close()


def test_compiled_templates_are_kept_in_the_cache_and_give_the_same_page(examples, tmp_path):
    """The report's templates are compiled once into <cache>/templates (jinja's bytecode cache);
    a later report reads them and writes the same page, and a cache that cannot be written (a
    file where its directory should be) costs nothing but the time."""
    cache = tmp_path / "cache"
    pages = []
    for i in range(2):
        out = tmp_path / f"r{i}.html"
        r = run_heapviz("report", str(examples / "cxx.0002.heap"), "-o", str(out), "--cache-dir", str(cache),
                        env={"HEAPVIZ_NO_CACHE": ""})
        assert r.rc == 0, r.err
        pages.append(out.read_text(encoding="utf-8").replace(out.name, "OUT").replace(str(cache), "CACHE"))
    assert pages[0] == pages[1]
    compiled = list((cache / "templates").iterdir())
    assert compiled and all(p.name.startswith("__jinja2_") for p in compiled)
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "templates").write_text("not a directory")
    out = tmp_path / "blocked.html"
    r = run_heapviz("report", str(examples / "cxx.0002.heap"), "-o", str(out), "--cache-dir", str(blocked),
                    env={"HEAPVIZ_NO_CACHE": ""})
    assert r.rc == 0 and "Traceback" not in r.err, r.err
    assert out.read_text(encoding="utf-8").replace(out.name, "OUT").replace(str(blocked), "CACHE") == pages[0]
