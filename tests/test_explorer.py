"""The HTML report's explorer: the vendored Graphviz (WebAssembly) build, the embedded stack
table, and the in-browser recompute checked against `heapviz graph --format json`."""

from __future__ import annotations

import hashlib
import json

from conftest import ROOT

VENDOR = ROOT / "templates" / "vendor"


def test_vendored_viz_is_what_the_script_recorded():
    record = json.loads((VENDOR / "VENDORED.json").read_text())
    assert record["name"] == "@viz-js/viz"
    assert record["license"] == "MIT"
    assert record["tarball"].startswith("https://registry.npmjs.org/@viz-js/viz/-/")
    for name, want in record["files"].items():
        data = (VENDOR / name).read_bytes()
        assert hashlib.sha256(data).hexdigest() == want["sha256"], f"{name} differs from VENDORED.json: rerun " \
            "scripts/vendor-viz.py, never edit it by hand"
        assert len(data) == want["bytes"]


# ---- the embedded stack table and the in-page recompute

import re  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402
from browser import PageWatch, browser  # noqa: E402
from test_report_hostile import HOSTILE, hostile_explorer_page  # noqa: E402

from heapviz.cli import main as heapviz_main  # noqa: E402
from heapviz.graph.build import GraphOptions  # noqa: E402
from heapviz.graph.filters import FilterOptions  # noqa: E402
from heapviz.graph.nodes import NodeOptions  # noqa: E402
from heapviz.model import Function, Line, Location, Mapping, Profile, Sample, ValueType  # noqa: E402
from heapviz.render.dot import RenderOptions  # noqa: E402
from heapviz.report.collect import ReportOptions, collect  # noqa: E402
from heapviz.report.explorer_data import ExplorerInput, ExplorerSettings  # noqa: E402
from heapviz.report.html import write_html  # noqa: E402
from heapviz.report.layout import lay_out  # noqa: E402

# (name, profiles, extra CLI arguments); the grid below runs on each
PROFILES = [
    ("cxx", ["cxx.0002.heap"], []),
    ("threads", ["threads.0004.heap"], []),
    ("diff", ["cxx.0002.heap"], ["--base", "cxx.0001.heap"]),
]
GRID = [
    {},
    {"focus": "main"},
    {"ignore": "std::|operator"},
    {"hide": "leak|Leak"},
    {"show": "main|make|alloc"},
    {"focus": "worker|main", "hide": "^std"},
    {"granularity": "lines"},
    {"granularity": "lines", "node_count": 5},
    {"node_count": 3},
    {"node_count": 0, "node_fraction": 0},
    {"node_fraction": 0.2},
    {"node_count": 7, "node_fraction": 0.01},
]
SAMPLE_TYPES = ["inuse_objects", "inuse_space", "alloc_objects", "alloc_space"]


def _cli_args(o: dict) -> list[str]:
    args = []
    for k in ("focus", "ignore", "hide", "show"):
        if o.get(k):
            args += [f"--{k}", o[k]]
    if "granularity" in o:
        args.append(f"--{o['granularity']}")
    if "node_count" in o:
        args += ["--nodecount", str(o["node_count"])]
    if "node_fraction" in o:
        args += ["--nodefraction", str(o["node_fraction"])]
    args += ["--sample-index", o["sample_type"]]
    return args


def _python_graph(paths: list[str], extra: list[str], o: dict, tmp: Path, fmt: str = "json") -> str:
    out = tmp / f"graph.{fmt}"
    assert heapviz_main(["-q", "graph", *paths, *extra, *_cli_args(o), "--unit", "auto", "--format", fmt,
                         "-o", str(out)]) == 0
    return out.read_text()


def _by_name(doc: dict) -> tuple[list, list]:
    names = {n["id"]: n["name"] for n in doc["nodes"]} if doc["nodes"] and "id" in doc["nodes"][0] else {}
    nodes = [(n["name"], n["flat"], n["cum"]) for n in doc["nodes"]]
    edges = sorted((names.get(e["from"], e["from"]), names.get(e["to"], e["to"]), e["weight"], e["residual"],
                    e["inline"]) for e in doc["edges"])
    return nodes, edges


LABEL = re.compile(r'^(N\d+(?: -> N{1}N?\d+(?:_\d+)?)?|NN\d+_\d+) \[label="((?:[^"\\]|\\.)*)"', re.M)


def _labels(dot: str) -> list[tuple[str, str]]:
    return LABEL.findall(dot)


@pytest.fixture(scope="module")
def chromium():
    with browser() as b:
        yield b


def _report(paths: list[str], extra: list[str], out: Path, *more: str) -> Path:
    assert heapviz_main(["-q", "report", *paths, *extra, "-o", str(out), *more]) == 0
    return out


def _open(chromium, path: Path):
    page = chromium.new_page()
    watch = PageWatch(page)
    page.goto(path.as_uri())
    page.wait_for_load_state("load")
    return page, watch


def _embedded(html: str) -> dict:
    m = re.search(r'<script type="application/json" id="heapviz-explorer">(.*?)</script>', html, re.S)
    assert m, "no explorer data block"
    return json.loads(m.group(1))


def _unpacked(doc: dict) -> dict:
    """The binary block's arrays, decoded here as explorer_pack documents them (independently of it)."""
    import base64
    import gzip
    import zlib

    import numpy as np

    raw = gzip.decompress(base64.b64decode(doc["binary"]["gzip_base64"]))
    assert zlib.crc32(raw) == doc["binary"]["crc32"]
    kinds = {"Int8Array": "<i1", "Uint8Array": "<u1", "Int16Array": "<i2", "Uint16Array": "<u2", "Int32Array": "<i4",
             "Float64Array": "<f8"}
    out, at = {}, 0
    for name, kind, n in doc["binary"]["arrays"]:
        dt = np.dtype(kinds[kind])
        planes = np.frombuffer(raw, np.uint8, n * dt.itemsize, at).reshape(dt.itemsize, n)
        out[name] = planes.T.copy().view(dt).reshape(-1)
        at += n * dt.itemsize
    assert at == len(raw)
    parent = np.cumsum(out["tree_parent_delta"].astype(np.int64)) - 1
    start = np.concatenate([[0], np.cumsum(out["pair_count"])])
    loc = np.zeros(len(parent), np.int64)
    for i, p in enumerate(parent):  # parents come first
        loc[i] = out["pair_child"][start[loc[p] + 1 if p >= 0 else 0] + out["tree_code"][i]]
    out["tree_parent"], out["tree_location"] = parent, loc
    return out


def test_report_embeds_the_stack_table_and_static_leaves_it_out(examples, tmp_path):
    path = _report([str(examples / "cxx.0002.heap")], [], tmp_path / "r.html")
    html = path.read_text()
    doc = _embedded(html)
    assert doc["format"] == "heapviz-explorer/1" and doc["trimmed"] == 0
    assert [t["type"] for t in doc["sample_types"]] == SAMPLE_TYPES
    arrays = _unpacked(doc)
    assert len(arrays["sample_stack"]) == doc["samples"] > 0
    assert "'wasm-unsafe-eval'" in html and "https:" not in html.split("<body>")[0]
    static = _report([str(examples / "cxx.0002.heap")], [], tmp_path / "s.html", "--static").read_text()
    assert "heapviz-explorer" not in static and "wasm-unsafe-eval" not in static and "Viz.instance" not in static


def test_the_binary_block_is_the_tree_and_the_values(examples):
    """The block decodes to the prefix tree of the samples' stacks and their exact values."""
    import numpy as np

    from heapviz.sample_table import SampleTable, values_matrix
    from heapviz.pipeline import LoadOptions, subject
    from heapviz.report.explorer_data import stack_table

    prof = subject([str(examples / "threads.0004.heap")], LoadOptions(), None, False).shown.profile
    settings = ExplorerSettings(0, NodeOptions(), FilterOptions(), 80, 0.005, 0.001, False, "auto")
    doc = stack_table(prof, settings)
    a = _unpacked(doc)
    table = SampleTable.from_samples(prof.samples)
    for i in range(len(prof.samples)):  # each sample's leaf walks up its own locations, leaf first
        got, n = [], int(a["sample_stack"][i])
        while n >= 0:
            got.append(int(a["tree_location"][n]))
            n = int(a["tree_parent"][n])
        want = table.loc_index[table.starts[i]:table.starts[i + 1]].tolist()
        assert got == want, i
    values = values_matrix(prof.samples)
    for t, same in enumerate(doc["same_as"]):
        assert np.array_equal(a[f"values_{same if same >= 0 else t}"], values[:, t])
    assert stack_table(prof, settings) == doc  # deterministic
    # prepared on a thread (as the report command does) or here: the same data, trimmed or not
    from heapviz.report.explorer_data import prepare_in_background
    assert stack_table(prof, settings, prepared=prepare_in_background(prof, settings, None).result()) == doc
    small = stack_table(prof, settings, max_bytes=doc["bytes"] // 2)
    prepared = prepare_in_background(prof, settings, None).result()
    assert stack_table(prof, settings, max_bytes=doc["bytes"] // 2, prepared=prepared) == small


def test_distinct_pairs_equal_numpy_unique():
    """transitions' pairs without the compiled part: by two 16-bit radix sorts (np.unique past 65,535
    locations) they are np.unique's."""
    import numpy as np

    from heapviz.report.explorer_pack import _pairs

    rng = np.random.default_rng(7)
    for n in (1, 3, 300, 65534, 65535, 70000):
        a, b = rng.integers(0, n + 1, 50_000), rng.integers(0, n, 50_000)
        pairs, inverse, count = np.unique(a * n + b, return_inverse=True, return_counts=True)
        got = _pairs(a, b, n)
        want = (pairs // n, pairs % n, inverse.reshape(-1), count)
        assert all(np.array_equal(x, y) for x, y in zip(got, want, strict=True)), n
    assert all(len(x) == 0 for x in _pairs(np.zeros(0, np.int64), np.zeros(0, np.int64), 5)[:3])


@pytest.mark.parametrize("name", ["cxx.0002.heap", "recursion.0001.heap", "threads.0004.heap", "random"])
def test_compiled_tree_transitions_and_cut_order_equal_numpy(examples, name, monkeypatch):
    """The compiled prefix tree, transitions and cut order (report/_prefix.c) are numpy's, array for
    array, and so is the embedded table, whole and trimmed."""
    import numpy as np

    from heapviz.pipeline import LoadOptions, subject
    from heapviz.report import explorer_data, explorer_pack
    from heapviz.sample_table import SampleTable

    assert explorer_pack.compiled() is not None, "report/_prefix.c is not built"
    prof = _random_profile() if name == "random" else \
        subject([str(examples / name)], LoadOptions(), None, False).shown.profile
    # and a sample without frames, and one far deeper than the rest (a few deep stacks cost only their own)
    deep = tuple(prof.samples[0].locations) * (2000 // len(prof.samples[0].locations) + 1)
    prof.samples = [*prof.samples, Sample([1] * len(prof.sample_types), ()), Sample([2] * len(prof.sample_types), deep)]
    table = SampleTable.from_samples(prof.samples)
    tree = explorer_data._prefix_tree(table)
    want = explorer_data._prefix_tree_numpy(table)
    assert tree[3] == want[3]
    assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(tree[:3], want[:3], strict=True))
    parent, location, leaf, levels = tree
    got_t = explorer_pack.transitions(parent, location, len(table.locations))
    want_t = explorer_pack._transitions_numpy(parent, location, len(table.locations))
    assert all(np.array_equal(a, b) for a, b in zip(got_t, want_t, strict=True))
    weights = np.random.default_rng(3).integers(0, 4, len(leaf)) / 4  # many equal weights: ties in order
    assert np.array_equal(explorer_data._cut_order(parent, leaf, levels, weights),
                          explorer_data._cut_order_numpy(parent, leaf, levels, weights))
    settings = ExplorerSettings(0, NodeOptions(), FilterOptions(), 80, 0.005, 0.001, False, "auto")
    docs = []
    for compiled in (True, False):
        monkeypatch.setattr(explorer_pack, "USE_COMPILED", compiled)
        whole = explorer_data.stack_table(prof, settings)
        docs.append((whole, explorer_data.stack_table(prof, settings, max_bytes=whole["bytes"] * 3 // 4)))
    assert docs[0] == docs[1] and docs[0][1]["trimmed"] > 0


def test_the_compiled_tree_refuses_bad_arrays():
    import numpy as np

    from heapviz.report import explorer_pack

    c = explorer_pack.compiled()
    i32 = np.zeros(4, np.int32)
    with pytest.raises(ValueError, match="out of range"):  # a location past n_locations
        c.prefix_tree(np.array([0, 5], np.int32), np.array([0, 2], np.int64), 3, i32.copy(), i32.copy(),
                      np.zeros(1, np.int32))
    with pytest.raises(ValueError, match="mismatched"):  # no room for the nodes
        c.prefix_tree(np.array([0, 1], np.int32), np.array([0, 2], np.int64), 3, np.zeros(1, np.int32),
                      np.zeros(1, np.int32), np.zeros(1, np.int32))
    with pytest.raises(ValueError, match="sample starts must not decrease"):
        c.prefix_tree(np.array([0, 1], np.int32), np.array([0, 2, 1, 2], np.int64), 3, i32.copy(), i32.copy(),
                      np.zeros(3, np.int32))
    with pytest.raises(ValueError, match="level starts must not decrease"):
        c.cut_order(np.array([-1, -1], np.int32), np.array([1], np.int32), np.ones(1), np.array([0, 2, 1, 2], np.int64),
                    np.zeros(2, np.int32))
    with pytest.raises(ValueError, match="out of range"):  # a parent past the tree
        c.transitions(np.array([-1, 7], np.int32), np.array([0, 1], np.int32), 3, np.zeros(2, np.int32))
    with pytest.raises(ValueError, match="level before"):  # a parent in its own level
        c.cut_order(np.array([-1, 1], np.int32), np.array([1], np.int32), np.ones(1), np.array([0, 1, 2], np.int64),
                    np.zeros(2, np.int32))


def test_a_large_block_deflated_in_halves_is_one_gzip_stream(monkeypatch):
    import gzip

    import numpy as np

    from heapviz.report import explorer_pack

    raw = np.random.default_rng(5).integers(0, 40, 300_000, dtype=np.uint8).tobytes()
    single = explorer_pack.compressed(raw)
    monkeypatch.setattr(explorer_pack, "PARALLEL_FROM", 1)
    halves = explorer_pack.compressed(raw)
    assert halves != single and gzip.decompress(halves) == raw and explorer_pack.compressed(raw) == halves


def test_a_failed_preparation_raises_in_the_caller(examples):
    from heapviz.report.explorer_data import prepare_in_background

    settings = ExplorerSettings(0, NodeOptions(), FilterOptions(), 80, 0.005, 0.001, False, "auto")
    with pytest.raises(AttributeError):
        prepare_in_background(None, settings, None).result()  # type: ignore[arg-type]


def test_trimming_keeps_the_table_in_its_budget(examples):
    from heapviz.report.explorer_data import stack_table, to_json
    from heapviz.pipeline import LoadOptions, subject

    prof = subject([str(examples / "threads.0004.heap")], LoadOptions(), None, False).shown.profile
    settings = ExplorerSettings(0, NodeOptions(), FilterOptions(), 80, 0.005, 0.001, False, "auto")
    full = stack_table(prof, settings)
    budget = full["bytes"] - len(full["binary"]["gzip_base64"]) // 3
    small = stack_table(prof, settings, max_bytes=budget)
    assert small["trimmed"] > 0 and small["bytes"] <= budget
    assert all(0 < share <= 1 for share in small["trimmed_share"])
    assert len(to_json(small).encode()) == small["bytes"]
    a, b = _unpacked(small), _unpacked(full)
    assert len(a["tree_location"]) < len(b["tree_location"])
    assert all((a[k] == b[k]).all() for k in a if k.startswith("values_")) and small["totals"] == full["totals"]


@pytest.mark.parametrize(("name", "files", "extra"), PROFILES, ids=[p[0] for p in PROFILES])
def test_page_graph_equals_heapviz_graph(chromium, examples, tmp_path, name, files, extra):
    paths = [str(examples / f) for f in files]
    extra = [a if not a.endswith(".heap") else str(examples / a) for a in extra]
    page, watch = _open(chromium, _report(paths, extra, tmp_path / f"{name}.html"))
    cases = [dict(o, sample_type=t) for o in GRID for t in (SAMPLE_TYPES if not o else SAMPLE_TYPES[:1])]
    cases += [dict(o, sample_type=t) for o in GRID[1:4] for t in SAMPLE_TYPES[1:]]
    js_opts = [{**{k: v for k, v in o.items() if k != "sample_type"},
                "sample_index": SAMPLE_TYPES.index(o["sample_type"])} for o in cases]
    got = page.evaluate("os => window.heapvizExplorer.loaded.then(() => os.map(o => { "
                        "const g = window.heapvizExplorer.compute(o); "
                        "return {nodes: g.nodes, edges: g.edges, dot: g.dot}; }))",
                        js_opts)
    for o, js in zip(cases, got, strict=True):
        want = json.loads(_python_graph(paths, extra, o, tmp_path))
        assert _by_name(js) == _by_name(want), (name, o)
    # the DOT's label text equals Python's, nodes, nodelets and edges
    for o, js in [*list(zip(cases, got, strict=True))[:3], (cases[6], got[6])]:
        assert _labels(js["dot"]) == _labels(_python_graph(paths, extra, o, tmp_path, "dot")), (name, o)
    # a refine lays the graph out with the vendored Graphviz and replaces the SVG
    started = time.monotonic()
    n = page.evaluate("window.heapvizExplorer.refine({focus: 'main', sample_index: 1}).then(g => g.nodes.length)")
    assert time.monotonic() - started < 20
    assert page.eval_on_selector_all("#graph-viewport svg g.node", "ns => ns.length") >= n > 0
    assert watch.errors == [] and watch.dialogs == []
    assert [u for u in watch.requests if not u.startswith("file://")] == []
    assert len(watch.requests) == 1
    page.close()


def _random_profile(samples: int = 3000, functions: int = 300) -> Profile:
    """A heap profile of random call stacks (seeded: the same on every run and worker)."""
    import numpy as np

    rng = np.random.default_rng(15)
    types = [ValueType("inuse_objects", "count"), ValueType("inuse_space", "bytes"),
             ValueType("alloc_objects", "count"), ValueType("alloc_space", "bytes")]
    prof = Profile(sample_types=types, source="random.heap", kind="heapprofile", default_sample_type="inuse_space")
    mapping = Mapping(1, 0x1000, 0x90000, 0, "/opt/app")
    prof.mappings.append(mapping)
    for i in range(functions):
        fn = Function(i + 1, f"fn_{i}", f"fn_{i}", f"/src/f{i % 17}.cc")
        prof.functions.append(fn)
        prof.locations.append(Location(i + 1, 0x1000 + 16 * i, mapping, (Line(fn, 10 + i % 7),)))
    locs = prof.locations
    for _ in range(samples):
        depth = int(rng.integers(2, 14))
        stack = [locs[0]] + [locs[int(k)] for k in rng.integers(1, functions, depth)]
        n, size = int(rng.integers(1, 50)), int(rng.integers(8, 4096))
        prof.samples.append(Sample([n, n * size, 2 * n, 2 * n * size], tuple(reversed(stack))))
    return prof


def _write_report(prof: Profile, path: Path, node_count: int = 16) -> Path:
    # few nodes: any function of the random profile calls any other, and Graphviz takes minutes to
    # lay out 80 such nodes (in the page too); the block holds every stack whatever is drawn
    opts = ReportOptions(sample_index=1, graph=GraphOptions(node_count=node_count))
    r = collect(prof, prof.samples, opts, [])
    lay_out(r, RenderOptions())
    r.explorer = ExplorerInput(prof, ExplorerSettings(1, opts.node_options, FilterOptions(), node_count, 0.005,
                                                      0.001, False, "auto"))
    path.write_bytes(write_html(r))
    return path


def test_page_decodes_the_block_as_python_and_says_what_was_trimmed(chromium, tmp_path, monkeypatch):
    """In the page the block (DecompressionStream, no request) gives Python's arrays; a page over
    its budget says how many stacks were cut short and their share, and still refines."""
    import heapviz.report.explorer_pack as explorer_pack
    import heapviz.report.html as report_html

    monkeypatch.setattr(explorer_pack, "PARALLEL_FROM", 1)  # deflated in two halves, as a large block is
    prof = _random_profile()
    full_path = _write_report(prof, tmp_path / "full.html")
    full = _embedded(full_path.read_text())
    budget = full_path.stat().st_size - len(full["binary"]["gzip_base64"]) // 3
    monkeypatch.setattr(report_html, "MAX_PAGE_BYTES", budget)
    for path in (full_path, _write_report(prof, tmp_path / "trimmed.html")):
        html = path.read_text()
        doc = _embedded(html)
        want = _unpacked(doc)
        page, watch = _open(chromium, path)
        got = page.evaluate("""() => window.heapvizExplorer.loaded.then(D => ({crc: D.decoded_crc32,
            location: Array.from(D.tree_location), parent: Array.from(D.tree_parent), stack: Array.from(D.sample_stack),
            values: D.values.map(v => Array.from(v))}))""")
        assert got["crc"] == doc["binary"]["crc32"]
        assert got["location"] == want["tree_location"].tolist() and got["parent"] == want["tree_parent"].tolist()
        assert got["stack"] == want["sample_stack"].tolist()
        for t, same in enumerate(doc["same_as"]):
            assert got["values"][t] == (want[f"values_{t}"].tolist() if same < 0 else [])
        note = page.locator("#explorer-trimmed")
        if path == full_path:
            assert doc["trimmed"] == 0 and note.count() == 0
        else:
            assert path.stat().st_size <= report_html.MAX_PAGE_BYTES and 0 < doc["trimmed"] < doc["samples"]
            text = note.text_content()
            assert f"the {doc['trimmed']:,} smallest of {doc['samples']:,} stacks" in text
            for t, share in zip(doc["sample_types"], doc["trimmed_share"], strict=True):
                assert 0 < share < 0.5 and f"{100 * share:.2g}% of {t['type']}" in text
        n = page.evaluate("window.heapvizExplorer.ready.then(() => window.heapvizExplorer.refine({focus: 'fn_1'}))"
                          ".then(g => g.nodes.length)")
        assert n > 0
        assert watch.errors == [] and [u for u in watch.requests if not u.startswith("file://")] == []
        page.close()


def test_page_form_drives_the_graph(chromium, examples, tmp_path):
    page, watch = _open(chromium, _report([str(examples / "cxx.0002.heap")], [], tmp_path / "f.html"))
    assert page.is_visible("#explorer")
    page.fill("#explorer input[name=focus]", "main")
    page.fill("#explorer input[name=node_count]", "4")
    page.click("#explorer button[type=submit]")
    page.wait_for_function("window.heapvizExplorer.lastGraph && "
                           "/nodes/.test(document.getElementById('explorer-status').textContent)")
    assert len(page.evaluate("window.heapvizExplorer.lastGraph.nodes")) <= 4
    assert watch.errors == [] and len(watch.requests) == 1
    page.close()


def test_hostile_names_stay_inert_after_a_refine(chromium, tmp_path):
    path = hostile_explorer_page(tmp_path / "hostile.html")
    page, watch = _open(chromium, path)
    scripts = page.eval_on_selector_all("script", "s => s.length")
    for o in ({"hide": "alert\\(1\\)", "granularity": "lines"}, {"focus": "script|img"}, {}):
        g = page.evaluate("o => window.heapvizExplorer.refine(o).then(g => g && g.nodes.map(n => n.name))", o)
        assert g, o
    tips = page.eval_on_selector_all(
        "#graph-viewport a", "as => as.map(a => a.getAttribute('xlink:title') || a.getAttribute('title') || '')")
    assert any(t.startswith(HOSTILE[0]) for t in tips)
    assert page.eval_on_selector_all("script", "s => s.length") == scripts
    assert page.eval_on_selector_all("img", "s => s.length") == 0
    hrefs = page.eval_on_selector_all(
        "a", "as => as.map(a => a.getAttribute('href') || a.getAttribute('xlink:href')).filter(h => h)")
    assert all(h.startswith("#") for h in hrefs)
    assert watch.dialogs == [] and watch.errors == [] and len(watch.requests) == 1
    page.close()
