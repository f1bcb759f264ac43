"""The explorer's pruning in JavaScript (templates/prune.js) against the Python reference
(heapviz/graph/reference.py), in Chromium: every golden fixture in tests/data/pruning, and real
profiles over a grid of options. Python is the reference; the two must agree exactly."""

from __future__ import annotations

import itertools
import json

import pytest
from browser import browser
from conftest import DATA, ROOT
from test_pruning_reference import PROFILES, _exported, _profile

from heapviz.graph import reference

SCRIPT = (ROOT / "templates" / "prune.js").read_text()


@pytest.fixture(scope="module")
def page():
    with browser() as b:
        p = b.new_page()
        p.set_content("<!DOCTYPE html><html><body></body></html>")
        p.add_script_tag(content=SCRIPT)
        yield p


def run_js(page, names, samples, options_list):
    return page.evaluate("([names, samples, opts]) => opts.map(o => heapvizPrune(names, samples, o))",
                         [names, samples, options_list])


def same(python, js):
    """Equal after the JSON round trip both sides take (dict keys are strings)."""
    return json.loads(json.dumps(python)) == json.loads(json.dumps(js))


def test_golden_fixtures_in_chromium(page):
    files = sorted((DATA / "pruning").glob("*.json"))
    assert files
    for path in files:
        doc = json.loads(path.read_text())
        got = run_js(page, doc["nodes"], doc["samples"], [c["options"] for c in doc["cases"]])
        for case, js in zip(doc["cases"], got, strict=True):
            assert same(case["expected"], js), (path.name, case["options"])


def test_javascript_equals_python_on_real_profiles(page, examples):
    grid = [dict(node_count=nc, node_fraction=nf, edge_fraction=ef, visual=v, cum_sort=c, drop_negative=d)
            for nc, nf, ef, v, c, d in itertools.product((80, 6, 2, 0), (0.005, 0.0, 0.15), (0.001, 0.05),
                                                          (True, False), (False, True), (False, True))]
    for name, granularity, sample_type in PROFILES:
        _, _, names, samples, _ = _exported(_profile(examples, name), granularity, sample_type)
        js = run_js(page, names, [list(s) for s in samples], grid)
        for options, got in zip(grid, js, strict=True):
            want = reference.prune(names, samples, **options)
            assert same(want, got), (name, granularity, sample_type, options)
