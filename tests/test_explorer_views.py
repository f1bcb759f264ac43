"""The explorer's views beyond the call graph, recomputed in Chromium, against Python: the top
tables, callers/callees, leak sites and the flame tree equal what `heapviz report` collects for
the same options (Python is the reference), a sample type switch makes the top table what
`heapviz top --sample-index` prints, and the bottom-up flame graph starts at the leaf functions."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from browser import PageWatch, browser

import heapviz.cli_report as cli
from heapviz.cli import main as heapviz_main

PROFILES = [
    ("cxx", ["cxx.0002.heap"], []),
    ("threads", ["threads.0004.heap"], []),
    ("diff", ["cxx.0002.heap"], ["--base", "cxx.0001.heap"]),
]
TYPES = ["inuse_objects", "inuse_space", "alloc_objects", "alloc_space"]
GRID = [
    {"sample_type": "inuse_space"},
    {"sample_type": "alloc_space"},
    {"sample_type": "alloc_objects", "focus": "main"},
    {"sample_type": "inuse_space", "ignore": "std::|operator"},
    {"sample_type": "inuse_space", "hide": "^hv::grow|Leak"},
    {"sample_type": "inuse_objects", "show": "main|make|alloc|grow|worker"},
    {"sample_type": "inuse_space", "granularity": "lines"},
    {"sample_type": "alloc_space", "granularity": "files", "focus": "worker|main"},
]


@pytest.fixture(scope="module")
def chromium():
    with browser() as b:
        yield b


def _paths(examples: Path, files: list[str], extra: list[str]) -> tuple[list[str], list[str]]:
    return [str(examples / f) for f in files], [str(examples / a) if a.endswith(".heap") else a for a in extra]


def _args(o: dict) -> list[str]:
    args = ["--sample-index", o["sample_type"]]
    for k in ("focus", "ignore", "hide", "show"):
        if o.get(k):
            args += [f"--{k}", o[k]]
    if "granularity" in o:
        args.append(f"--{o['granularity']}")
    return args


def _js_options(o: dict) -> dict:
    out = {k: v for k, v in o.items() if k != "sample_type"}
    out["sample_index"] = TYPES.index(o["sample_type"])
    return out


def _collected(monkeypatch, paths: list[str], extra: list[str], o: dict, tmp: Path):
    """What `heapviz report` collects for these options."""
    got = []
    real = cli.collect

    def spy(*a, **k):
        got.append(real(*a, **k))
        return got[-1]

    monkeypatch.setattr(cli, "collect", spy)
    # an HTML report's collection (the peek view is the HTML report's), without the explorer's data
    assert heapviz_main(["-q", "report", *paths, *extra, *_args(o), "--static", "-o", str(tmp / "r.html")]) == 0
    monkeypatch.setattr(cli, "collect", real)
    return got[-1]


def _tree(node) -> dict:
    return {"name": node.name, "cum": node.cum, "self": node.self_value, "delta": node.delta, "inline": node.inline,
            "kids": [_tree(c) for c in node.sorted_children()]}


def _open(chromium, path: Path, fragment: str = ""):
    page = chromium.new_page(viewport={"width": 1440, "height": 900})
    watch = PageWatch(page)
    page.goto(path.as_uri() + fragment)
    page.wait_for_load_state("load")
    page.evaluate("window.heapvizExplorer.ready")
    return page, watch


@pytest.mark.parametrize(("name", "files", "extra"), PROFILES, ids=[p[0] for p in PROFILES])
def test_views_equal_what_python_collects(chromium, examples, tmp_path, monkeypatch, name, files, extra):
    paths, extra = _paths(examples, files, extra)
    report = tmp_path / "r.html"
    assert heapviz_main(["-q", "report", *paths, *extra, "-o", str(report)]) == 0
    page, watch = _open(chromium, report)
    snaps = page.evaluate("os => os.map(o => window.heapvizExplorer.snapshot(o))", [_js_options(o) for o in GRID])
    for o, js in zip(GRID, snaps, strict=True):
        r = _collected(monkeypatch, paths, extra, o, tmp_path)
        want_tables = [{"key": t.key, "title": t.title, "total_text": t.total_text, "omitted": t.omitted,
                        "rows": [{"name": x.name, "full_names": list(x.full_names), "flat": x.flat, "cum": x.cum,
                                  "flat_text": x.flat_text, "cum_text": x.cum_text, "flat_pct": x.flat_pct,
                                  "sum_pct": x.sum_pct, "cum_pct": x.cum_pct} for x in t.rows]} for t in r.tables]
        assert js["tables"] == want_tables, (name, o)
        want_peek = [{"name": e.name, "full_names": list(e.full_names), "flat_text": e.flat_text,
                      "flat_pct": e.flat_pct, "cum_text": e.cum_text, "cum_pct": e.cum_pct,
                      "callers": [vars(c) for c in e.callers], "callees": [vars(c) for c in e.callees]} for e in r.peek]
        assert js["peek"] == json.loads(json.dumps(want_peek)), (name, o)
        assert js["leak_total"] == r.leak_sites_total, (name, o)
        want_leaks = [{"rank": s.rank, "value": s.value, "bytes": s.bytes, "objects": s.objects,
                       "frames": [[f.function, f.file, f.line, f.inline, f.user] for f in s.frames]} for s in r.leaks]
        assert js["leaks"] == want_leaks, (name, o)
        assert js["flame"] == _tree(r.flame.root), (name, o)
    assert watch.errors == [] and len(watch.requests) == 1
    page.close()


TOP_ROW = re.compile(r"^\s*(\S+)\s+(\S+%)\s+(\S+%)\s+(\S+)\s+(\S+%)\s+(.*)$")


def _top(paths: list[str], sample_type: str, tmp: Path) -> list[list[str]]:
    out = tmp / "top.txt"
    assert heapviz_main(["-q", "top", *paths, "--sample-index", sample_type, "--unit", "auto", "-o", str(out)]) == 0
    rows = []
    for line in out.read_text().splitlines():
        m = TOP_ROW.match(line)
        if m and m.group(1) != "flat":
            rows.append(list(m.groups()))
    return rows


def test_sample_type_switch_makes_the_top_table_heapviz_top(chromium, examples, tmp_path):
    paths = [str(examples / "threads.0004.heap")]
    report = tmp_path / "r.html"
    assert heapviz_main(["-q", "report", *paths, "-o", str(report)]) == 0
    page, watch = _open(chromium, report)
    for t in ("alloc_objects", "alloc_space", "inuse_objects"):
        page.select_option("#explorer select[name=sample_index]", str(TYPES.index(t)))
        page.wait_for_function("t => document.getElementById('tbl-' + t + '-flat')", arg=t)
        shown = page.eval_on_selector_all(
            f"#tbl-{t}-flat tbody tr",
            "rs => rs.map(r => [0, 1, 2, 3, 4, 5].map(i => r.cells[i].textContent))")
        assert shown == _top(paths, t, tmp_path), t
        assert page.evaluate("location.hash") == f"#explore?t={t}"
    assert watch.errors == [] and len(watch.requests) == 1
    page.close()


@pytest.mark.parametrize("sample_type", ["inuse_space", "alloc_objects"])
def test_bottom_up_flame_starts_at_the_leaf_functions(chromium, examples, tmp_path, sample_type):
    paths = [str(examples / "cxx.0002.heap")]
    report = tmp_path / "r.html"
    assert heapviz_main(["-q", "report", *paths, "-o", str(report)]) == 0
    page, watch = _open(chromium, report)
    page.evaluate("t => window.heapvizExplorer.refine({sample_index: t})", TYPES.index(sample_type))
    page.click("#flame-modes button[data-mode=bottom-up]")
    kids = page.evaluate("() => { const c = window.heapvizExplorer.current(); "
                         "return window.heapvizExplorer.sortedKids(c.flame.tree.root).map(n => [n.name, n.cum]); }")
    out = tmp_path / "top.csv"
    assert heapviz_main(["-q", "top", *paths, "--sample-index", sample_type, "--format", "csv", "-o", str(out)]) == 0
    leaves = sorted((row.split(",")[0], int(row.split(",")[1])) for row in out.read_text().splitlines()[1:]
                    if int(row.split(",")[1]) > 0)
    assert sorted((n, round(v)) for n, v in kids) == leaves
    # drawn: one frame per leaf function under the root, the root's width the total
    assert page.eval_on_selector_all("#flame svg.explorer-flame g.f", "gs => gs.length") >= len(leaves) + 1
    assert "flame=bottom-up" in page.evaluate("location.hash")
    assert watch.errors == [] and len(watch.requests) == 1
    page.close()


@pytest.mark.parametrize(("name", "files", "extra"), PROFILES[:1] + PROFILES[2:], ids=["cxx", "diff"])
def test_source_view_follows_refinements_and_sample_type(chromium, examples, tmp_path, monkeypatch, name, files,
                                                         extra):
    """The leak sites' code recomputed in the page: per-line values equal report/sources.py's for
    the same options, on every line whose code the page holds (the report's own sites' code)."""
    paths, extra = _paths(examples, files, extra)
    report = tmp_path / "r.html"
    assert heapviz_main(["-q", "report", *paths, *extra, "-o", str(report)]) == 0
    page, watch = _open(chromium, report)
    cases = [GRID[0], GRID[1], GRID[2], GRID[4]]
    snaps = page.evaluate("os => os.map(o => window.heapvizExplorer.snapshot(o))", [_js_options(o) for o in cases])
    compared = 0
    for o, js in zip(cases, snaps, strict=True):
        r = _collected(monkeypatch, paths, extra, o, tmp_path)
        want = {s.rank: s for s in r.site_sources.values()}
        assert [s["rank"] for s in js["sources"]] == sorted(want), (name, o)
        for s in js["sources"]:
            py_blocks = {(b.function, b.file): b for b in want[s["rank"]].blocks}
            assert [(b["function"], b["file"]) for b in s["blocks"]] == list(py_blocks), (name, o)
            for b in s["blocks"]:
                pb = py_blocks[(b["function"], b["file"])]
                assert b["frames"] == list(pb.frames) and b["line"] == pb.line
                py_rows = {row.line: row for row in pb.rows}
                hot = [row[0] for row in b["rows"] if row[3]]
                assert hot == [row.line for row in pb.rows if row.hot], (name, o)
                for line, site_text, all_text, is_hot, text in b["rows"]:
                    if line in py_rows:
                        p = py_rows[line]
                        assert (site_text, all_text, is_hot) == (p.site_text, p.all_text, p.hot), (name, o, line)
                        if text is not None:
                            assert text == (p.text or ""), (name, o, line)
                        compared += 1
    assert compared > 20
    # shown: the recomputed sites carry their code, the hot line marked
    page.evaluate("window.heapvizExplorer.refine({sample_index: 3})")
    assert page.eval_on_selector_all("#leaks details.leak .src-block tr.hot", "rs => rs.length") > 0
    assert page.eval_on_selector_all("#leaks details.leak .src-block td.code span", "s => s.length") > 0  # highlighted
    assert watch.errors == [] and len(watch.requests) == 1
    page.close()
