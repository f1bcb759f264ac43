"""pprof's pruning as a plain reference over integer ids (heapviz/graph/reference.py): equal to
the fast pruner (build.trimmed_graph, itself tested against pprof -dot) on real profiles and a
grid of options, and pinned by golden fixtures (stack table + options -> graph) that any other
port of the pruning (the HTML explorer's JavaScript) must pass too.

Regenerate the fixtures with HEAPVIZ_REGEN_GOLDEN=1 (they are made from the examples' profiles
and committed; review the diff)."""

from __future__ import annotations

import itertools
import json
import os

from conftest import DATA
from heapviz.combine import combine
from heapviz.graph import reference
from heapviz.graph.build import GraphOptions, trimmed_graph
from heapviz.graph.nodes import NodeOptions
from heapviz.graph.stacks import StackTable
from heapviz.pipeline import LoadOptions, load_each
from heapviz.prune import PruneOptions

FIXTURES = DATA / "pruning"
# (example, granularity, sample type); "threads-diff" is threads.0004 minus threads.0002; "cxx-all"
# keeps the allocator's frames, where libstdc++'s inlined ones give inline edges
PROFILES = [("cxx.0002.heap", "functions", "inuse_space"), ("cxx-all", "lines", "alloc_objects"),
            ("threads-diff", "functions", "inuse_space"), ("recursion.0001.heap", "functions", "inuse_space"),
            ("sampled.heap", "functions", "inuse_space")]
# A hand-made stack table for the tie-breaks real profiles rarely reach: equal names on two ids,
# names beyond U+FFFF (sorted by code point), equal values, recursion, inline frames, a negative
# sample and a sample with no frames.
HANDMADE_NODES = ["main", "Z\U0001d518 wide", "Z\uffee narrow", "dup", "dup", "leaf<int>", "inl"]
HANDMADE_SAMPLES = [
    (100, [0, 1, 5], [False, False, False], "16B"), (100, [0, 2, 5], [False, False, True], "16B"),
    (50, [0, 3, 6], [False, False, True], "8B"), (50, [0, 4, 6], [False, False, True], "8B"),
    (30, [0, 3, 0, 3, 5], [False, False, False, False, False], "1kB"), (-20, [0, 1, 6], [False, True, False], "8B"),
    (7, [], [], ""), (5, [0, 6, 6, 6], [False, True, True, True], "32B"),
]
FIXTURE_OPTIONS = [
    {},
    {"node_count": 5},
    {"node_count": 3, "visual": False, "cum_sort": True},
    {"node_count": 4, "visual": False},
    {"node_fraction": 0.2, "edge_fraction": 0.1},
    {"node_count": 0, "node_fraction": 0.0, "edge_fraction": 0.3},
    {"node_count": 0, "node_fraction": 0.0, "edge_fraction": 0.0},
    {"drop_negative": True, "node_count": 6},
]


def _profile(examples, name):
    if name == "threads-diff":
        new, old = (it.profile for it in load_each([str(examples / "threads.0004.heap"),
                                                    str(examples / "threads.0002.heap")], LoadOptions()))
        return combine([new, old], [1, -1])
    if name == "cxx-all":
        return load_each([str(examples / "cxx.0002.heap")], LoadOptions(prune=PruneOptions(all_frames=True)))[0].profile
    return load_each([str(examples / name)], LoadOptions())[0].profile


def _exported(profile, granularity, sample_type):
    options = NodeOptions(granularity=granularity)
    t = StackTable(profile.samples, options)
    index = profile.sample_index(sample_type)
    names, samples = reference.export(t, index, profile.size_pairs)
    infos = [t.nodes[i] for i in sorted(range(len(t.nodes)), key=t.nodes.__getitem__)]
    return t, index, names, samples, infos


def _fixture_name(name, granularity, sample_type):
    return f"{name.replace('.heap', '').replace('.', '-')}-{granularity}-{sample_type}.json"


def test_reference_equals_the_fast_pruner(examples):
    grid = list(itertools.product((80, 6, 0), (0.005, 0.0, 0.15), (0.001, 0.05), (True, False), (False, True),
                                  (False, True)))
    for name, granularity, sample_type in PROFILES:
        profile = _profile(examples, name)
        t, index, names, samples, infos = _exported(profile, granularity, sample_type)
        for nc, nf, ef, visual, cum_sort, negative in grid:
            opts = GraphOptions(node_count=nc, node_fraction=nf, edge_fraction=ef, visual=visual, cum_sort=cum_sort,
                                drop_negative=negative)
            cg = trimmed_graph(profile.samples, index, NodeOptions(granularity=granularity), opts,
                               profile.total(index), profile.size_pairs, t)
            want = reference.from_call_graph(cg, names, infos)
            got = reference.prune(names, samples, nc, nf, ef, visual, cum_sort, negative)
            assert got == want, (name, granularity, sample_type, opts)


def _cases(names, samples):
    return [{"options": o, "expected": reference.prune(names, samples, **o)} for o in FIXTURE_OPTIONS]


def _regenerate(examples):
    FIXTURES.mkdir(exist_ok=True)
    for old in FIXTURES.glob("*.json"):
        old.unlink()
    for name, granularity, sample_type in PROFILES:
        _, _, names, samples, _ = _exported(_profile(examples, name), granularity, sample_type)
        doc = {"profile": name, "granularity": granularity, "sample_type": sample_type, "nodes": names,
               "samples": [list(s) for s in samples], "cases": _cases(names, samples)}
        (FIXTURES / _fixture_name(name, granularity, sample_type)).write_text(json.dumps(doc, indent=1) + "\n")
    samples = [list(s) for s in HANDMADE_SAMPLES]
    doc = {"profile": "hand-made", "granularity": "", "sample_type": "", "nodes": HANDMADE_NODES,
           "samples": samples, "cases": _cases(HANDMADE_NODES, HANDMADE_SAMPLES)}
    (FIXTURES / "handmade-ties.json").write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n")


def test_golden_fixtures(request):
    if os.environ.get("HEAPVIZ_REGEN_GOLDEN"):
        _regenerate(request.getfixturevalue("examples"))
    files = sorted(FIXTURES.glob("*.json"))
    assert len(files) == len(PROFILES) + 1  # and the hand-made one
    for path in files:
        doc = json.loads(path.read_text())
        samples = [tuple(s) for s in doc["samples"]]
        assert len(doc["cases"]) == len(FIXTURE_OPTIONS)
        for case in doc["cases"]:
            got = json.loads(json.dumps(reference.prune(doc["nodes"], samples, **case["options"])))
            assert got == case["expected"], (path.name, case["options"])
        assert len(doc["cases"][1]["expected"]["order"]) <= 5  # node_count 5 holds
    handmade = json.loads((FIXTURES / "handmade-ties.json").read_text())
    assert handmade["nodes"] == HANDMADE_NODES and handmade["samples"] == [list(s) for s in HANDMADE_SAMPLES]


def test_fixtures_cover_the_rules():
    docs = [json.loads(p.read_text()) for p in sorted(FIXTURES.glob("*.json"))]
    expected = [c["expected"] for d in docs for c in d["cases"]]
    assert any(e["dropped_nodes"] for e in expected) and any(e["dropped_edges"] for e in expected)
    assert any(edge[3] for e in expected for edge in e["edges"])  # residual
    assert any(edge[4] for e in expected for edge in e["edges"])  # inline
    assert any(n["flat"] < 0 for e in expected for n in e["nodes"].values())  # a difference
    assert any(n["tags"] for e in expected for n in e["nodes"].values())  # nodelets
    assert any(isinstance(s[0], float) for d in docs for s in d["samples"])  # sampled values
