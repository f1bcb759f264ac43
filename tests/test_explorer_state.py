"""The explorer's state in Chromium: refinements from context menus (graph node, table row, flame
frame) that stack and come off again, reset to the report as written, the URL fragment round
trip, the "copy command" line (run, it writes the graph the page shows), the keyboard, and
hostile names in every recomputed view."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import pytest
from browser import PageWatch, browser
from test_report_hostile import HOSTILE, hostile_explorer_page

from heapviz.cli import main as heapviz_main


@pytest.fixture(scope="module")
def chromium():
    with browser() as b:
        yield b


@pytest.fixture(scope="module")
def report(examples, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("state") / "cxx.html"
    assert heapviz_main(["-q", "report", str(examples / "cxx.0002.heap"), "-o", str(path)]) == 0
    return path


def _open(chromium, url: str):
    page = chromium.new_page(viewport={"width": 1440, "height": 900})
    watch = PageWatch(page)
    page.goto(url)
    page.wait_for_load_state("load")
    page.evaluate("window.heapvizExplorer.ready")
    return page, watch


def _settled(page) -> None:
    page.wait_for_function("!/Laying out/.test(document.getElementById('explorer-status').textContent)")


def _clean(watch) -> None:
    assert watch.errors == [] and watch.dialogs == []
    assert [u for u in watch.requests if not u.startswith("file://")] == [] and len(watch.requests) == 1


def test_context_menus_stack_refinements_and_reset_restores_the_report(chromium, report):
    page, watch = _open(chromium, report.as_uri())
    page.evaluate("document.querySelector('#tables details.table-block').dataset.original = 'yes'")
    # a row of the top table: focus on its function
    page.click("#tbl-inuse_space-flat tbody tr:nth-child(1) td.name")
    assert page.is_visible("#explorer-menu")
    name = page.text_content("#explorer-menu .menu-title")
    page.click("#explorer-menu button[data-action=focus]")
    _settled(page)
    state = page.evaluate("window.heapvizExplorer.state()")
    assert len(state["focus"]) == 1 and state["focus"][0].startswith("^") and state["focus"][0].endswith("$"), name
    assert page.evaluate("document.querySelector('#tables details.table-block').dataset.original") is None
    focused = page.eval_on_selector_all("#tbl-inuse_space-flat tbody tr", "rs => rs.length")
    # a node of the recomputed graph: hide another function, stacked on the focus
    nodes = page.evaluate("window.heapvizExplorer.lastGraph.nodes.map(n => n.name)")
    target = next(n for n in nodes if n == "main")
    index = nodes.index(target) + 1
    page.click(f"#graph-viewport g#node{index} text")
    page.click("#explorer-menu button[data-action=hide]")
    _settled(page)
    state = page.evaluate("window.heapvizExplorer.state()")
    assert state["hide"] == ["^main$"] and len(state["focus"]) == 1
    assert page.eval_on_selector_all("#explorer-refinements .chip", "cs => cs.length") == 2
    assert "main" not in page.evaluate("window.heapvizExplorer.lastGraph.nodes.map(n => n.name)")
    assert page.input_value("#explorer input[name=hide]") == "^main$"
    # each refinement comes off on its own
    page.click("#explorer-refinements .chip-hide .chip-x")
    _settled(page)
    assert page.evaluate("window.heapvizExplorer.state().hide") == []
    assert page.eval_on_selector_all("#tbl-inuse_space-flat tbody tr", "rs => rs.length") == focused
    # reset: the report as written, its own elements
    page.click("#explorer button[type=reset]")
    _settled(page)
    assert page.evaluate("document.querySelector('#tables details.table-block').dataset.original") == "yes"
    assert page.evaluate("location.hash") == ""
    assert page.eval_on_selector_all("#explorer-refinements .chip", "cs => cs.length") == 0
    # a flame frame (the report's own SVG): the menu offers the sandwich
    page.click("#flame g.f:nth-child(2)")
    frame = page.text_content("#explorer-menu .menu-title")
    page.click("#explorer-menu button[data-action=sandwich]")
    state = page.evaluate("window.heapvizExplorer.state()")
    assert state["flame"] == "sandwich" and state["flame_fn"] == frame
    assert page.eval_on_selector_all("#flame svg.explorer-flame", "s => s.length") == 2
    assert page.evaluate("location.hash").startswith("#explore?") and "flame=sandwich" in page.evaluate("location.hash")
    _clean(watch)
    page.close()


def test_fragment_round_trip(chromium, report):
    page, watch = _open(chromium, report.as_uri())
    page.select_option("#explorer select[name=sample_index]", "3")
    page.fill("#explorer input[name=ignore]", "grow_map")
    page.fill("#explorer input[name=node_count]", "6")
    page.click("#explorer button[type=submit]")
    page.click("#flame-modes button[data-mode=bottom-up]")
    _settled(page)
    url = page.url
    state = page.evaluate("window.heapvizExplorer.state()")
    tables = page.inner_text("#tables")
    graph = page.evaluate("window.heapvizExplorer.lastGraph.nodes")
    assert "#explore?" in url and state["ignore"] == ["grow_map"] and state["node_count"] == 6
    page.close()
    again, watch2 = _open(chromium, url)
    _settled(again)
    assert again.evaluate("window.heapvizExplorer.state()") == state
    assert again.inner_text("#tables") == tables
    assert again.evaluate("window.heapvizExplorer.lastGraph.nodes") == graph
    assert again.input_value("#explorer input[name=ignore]") == "grow_map"
    assert again.eval_on_selector_all("#flame svg.explorer-flame", "s => s.length") == 1
    # an in-page link keeps the fragment
    again.click("nav a[href='#leaks']")
    assert again.evaluate("location.hash").startswith("#explore?")
    _clean(watch)
    _clean(watch2)
    again.close()


def test_copy_command_writes_the_graph_the_page_shows(chromium, report, tmp_path):
    page, watch = _open(chromium, report.as_uri())
    page.evaluate("window.heapvizExplorer.refine({sample_index: 2, focus: 'main', hide: '^hv::grow_string$', "
                  "granularity: 'lines', node_count: 9})")
    _settled(page)
    command = page.text_content("#explorer-command")
    assert command == page.evaluate("window.heapvizExplorer.command()")
    args = shlex.split(command)
    assert args[:2] == ["heapviz", "graph"] and args[-2:] == ["-o", "out.svg"]
    assert args[args.index("--sample-index") + 1] == "alloc_objects" and "--lines" in args
    out = tmp_path / "g.json"
    assert heapviz_main(["-q", *args[1:-2], "--unit", "auto", "--format", "json", "-o", str(out)]) == 0
    want = [(n["name"], n["flat"], n["cum"]) for n in json.loads(out.read_text())["nodes"]]
    got = [(n["name"], n["flat"], n["cum"]) for n in page.evaluate("window.heapvizExplorer.lastGraph.nodes")]
    assert got == want
    _clean(watch)
    page.close()


def test_keyboard_slash_and_escape_only(chromium, report):
    page, watch = _open(chromium, report.as_uri())
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "filter"
    page.keyboard.type("grow_/")  # a slash typed in a box stays in it
    assert page.input_value("#filter") == "grow_/"
    page.keyboard.press("Escape")
    assert page.input_value("#filter") == "" and page.evaluate("document.activeElement.id") != "filter"
    # other keys are the browser's
    prevented = page.evaluate("""() => ['k', 'f', ' ', 'ArrowDown', 'PageDown'].map(key => {
        const e = new KeyboardEvent('keydown', {key, bubbles: true, cancelable: true});
        document.body.dispatchEvent(e); return e.defaultPrevented; })""")
    assert prevented == [False] * 5
    ctrl = page.evaluate("""() => { const e = new KeyboardEvent('keydown', {key: '/', ctrlKey: true, bubbles: true,
        cancelable: true}); document.body.dispatchEvent(e); return e.defaultPrevented; }""")
    assert ctrl is False
    _clean(watch)
    page.close()


def test_hostile_names_stay_inert_in_every_recomputed_view(chromium, tmp_path):
    path = hostile_explorer_page(tmp_path / "hostile.html")
    page, watch = _open(chromium, path.as_uri())
    # the report's flame SVG has one script of its own
    count = "Array.from(document.scripts).filter(s => !s.closest('.flame-box')).length"
    scripts = page.evaluate(count)
    page.evaluate("window.heapvizExplorer.refine({sample_index: 3, granularity: 'lines'})")
    _settled(page)
    for view in ("#tables", "#leaks", "#peek"):
        if page.query_selector(view):
            text = page.inner_text(view)
            assert any(h.split("(")[0][:12] in text for h in HOSTILE[:2]), view
    page.click("#flame-modes button[data-mode=bottom-up]")
    names = page.evaluate("window.heapvizExplorer.lastGraph.nodes.map(n => n.name)")
    hostile = next(n for n in names if n.startswith(HOSTILE[0]))
    page.evaluate("n => window.heapvizExplorer.addRefinement('focus', n)", hostile)
    _settled(page)
    assert page.evaluate("window.heapvizExplorer.state().focus[0]").startswith("^")
    page.evaluate("n => window.heapvizExplorer.refine({granularity: 'lines', flame: 'sandwich', flame_fn: n})", hostile)
    _settled(page)
    assert page.eval_on_selector_all("#flame svg.explorer-flame", "s => s.length") == 2
    assert hostile in page.text_content("#flame-focus")
    assert page.evaluate(count) == scripts
    assert page.eval_on_selector_all("img", "s => s.length") == 0
    hrefs = page.eval_on_selector_all(
        "a", "as => as.map(a => a.getAttribute('href') || a.getAttribute('xlink:href')).filter(h => h)")
    assert all(h.startswith("#") for h in hrefs)
    _clean(watch)
    page.close()
