"""The peek view (callers and callees of functions, like pprof -peek) as text, JSON and a report
section; weights are the call graph's edges."""

from __future__ import annotations

import json

import pytest

from conftest import run_heapviz
from heapviz.graph.build import build
from heapviz.graph.filters import FilterOptions
from heapviz.graph.nodes import NodeOptions
from heapviz.graph.stacks import StackTable
from heapviz.pipeline import LoadOptions, make_view, subject


def peek_json(*args: str) -> dict:
    r = run_heapviz("peek", "--format", "json", *args)
    assert r.rc == 0, r.err
    return json.loads(r.out)


@pytest.fixture(scope="module")
def recursion_graph(examples):
    subj = subject([str(examples / "recursion.0001.heap")], LoadOptions(), [], False)
    view = make_view(subj.shown, None, FilterOptions(), NodeOptions())
    return build(StackTable(view.samples, NodeOptions()), view.sample_index)


def test_json_weights_are_the_graph_edges(examples, expected, recursion_graph):
    doc = peek_json(str(examples / "recursion.0001.heap"))
    g = recursion_graph
    by_name = {f["name"]: f for f in doc["functions"]}
    assert len(by_name) == g.number_of_nodes()
    for n, a in g.nodes(data=True):
        f = by_name[n.printable()]
        assert (f["flat"], f["cum"]) == (a["flat"], a["cum"])
        assert {c["name"]: c["weight"] for c in f["callers"]} == {u.printable(): e["weight"]
                                                                   for u, _, e in g.in_edges(n, data=True)}
        assert {c["name"]: c["weight"] for c in f["callees"]} == {v.printable(): e["weight"]
                                                                   for _, v, e in g.out_edges(n, data=True)}
    truth = expected["recursion"]
    for fn, cum in truth["cumulative"]["recursion.0001.heap"].items():
        assert by_name[fn]["cum"] == cum
    for fn, flat in truth["dumps"]["recursion.0001.heap"].items():
        assert by_name[fn]["flat"] == flat
    # ping and pong call each other: every pong sits under a ping
    ping = by_name["ping"]
    assert {c["name"]: c["weight"] for c in ping["callers"]} == {"main": 1700, "pong": 1200}
    assert {c["name"]: c["weight"] for c in ping["callees"]} == {"pong": 1500}
    assert ping["callers"][0]["pct_of_cum"] == 100.0
    assert doc["total"] == truth["total_inuse"]["recursion.0001.heap"]


def test_text_like_pprof_peek(examples):
    """pprof -peek's layout; values in bytes with --unit B (by default each value is in its own
    unit, the reports' policy: 1.66kB for 1700 bytes)."""
    default = run_heapviz("peek", str(examples / "recursion.0001.heap"), "^p[io]ng$")
    assert default.rc == 0, default.err
    ping = next(line for line in default.out.splitlines() if line.endswith("| ping"))
    assert ping.split()[:5] == ["800B", "21.34%", "45.36%", "1.66kB", "45.36%"]
    r = run_heapviz("peek", str(examples / "recursion.0001.heap"), "^p[io]ng$", "--unit", "B")
    assert r.rc == 0, r.err
    lines = r.out.splitlines()
    assert "calls calls% + context" in r.out
    i = next(k for k, line in enumerate(lines) if line.endswith("| ping"))
    assert lines[i].split()[:5] == ["800B", "21.34%", "45.36%", "1700B", "45.36%"]
    callers = []
    k = i - 1
    while not lines[k].startswith("---"):
        callers.append(lines[k].split())
        k -= 1
    assert sorted((c[-1], c[0]) for c in callers) == [("main", "1700B"), ("pong", "1200B")]
    assert lines[i + 1].split() == ["1500B", "88.24%", "|", "pong"]
    assert not any(line.endswith("| recurse") for line in lines)
    same = run_heapviz("peek", str(examples / "recursion.0001.heap"), "--regex", "^p[io]ng$", "--unit", "B")
    assert same.out == r.out


def test_bad_regex_is_a_usage_error(examples):
    r = run_heapviz("peek", str(examples / "recursion.0001.heap"), "ping(")
    assert r.rc == 2 and "REGEX" in r.err


def test_report_has_the_peek_section(examples, tmp_path):
    out = tmp_path / "r.html"
    r = run_heapviz("report", str(examples / "recursion.0001.heap"), "-o", str(out))
    assert r.rc == 0, r.err
    page = out.read_text()
    section = page[page.index('<section id="peek">'):]
    section = section[:section.index("</section>")]
    assert 'href="#peek"' in page
    assert section.count("<details") == 7  # recurse, ping, pong, main and the three process entry frames
    assert '<tr class="caller"><td>caller</td><td class="num" data-v="1700">' in section


@pytest.mark.parametrize("granularity", ["functions", "lines"])
@pytest.mark.parametrize("profile", ["recursion.0001.heap", "cxx.0002.heap", "threads.0004.heap"])
def test_peek_from_the_untrimmed_sums_is_peek_of_the_graph(examples, profile, granularity):
    """The report's peek is made from the untrimmed graph's arrays without the networkx graph:
    the same functions, callers and callees in the same order (ties by name, then the graph's order)."""
    from heapviz.graph.build import Untrimmed
    from heapviz.graph.peek import peek, peek_untrimmed
    from heapviz.graph.untrimmed import untrimmed_nodes
    from heapviz.graph.stacks import node_sums

    subj = subject([str(examples / profile)], LoadOptions(), [], False)
    options = NodeOptions(granularity=granularity)
    view = make_view(subj.shown, None, FilterOptions(), options)
    t = StackTable(view.samples, options)
    u = Untrimmed(t, node_sums(t, view.sample_index), {})
    for sort_cum in (False, True):
        for limit in (0, 3):
            want = peek(view.samples, view.sample_index, options, 1000, sort_cum=sort_cum, limit=limit, graph=u.graph())
            got = peek_untrimmed(u, 1000, sort_cum, limit)
            assert got == want
            assert got.entries and any(e.callers for e in got.entries)
            # as the report makes it: node sums without edges, then only the chosen functions' edges
            fresh = StackTable(view.samples, options)
            lazy = Untrimmed(fresh, lambda t=fresh: node_sums(t, view.sample_index), {}, view.sample_index,
                             untrimmed_nodes(fresh, [view.sample_index])[0])
            assert peek_untrimmed(lazy, 1000, sort_cum, limit) == want
            assert (view.sample_index, True) not in fresh.untrimmed_sums  # the full pass was not made
