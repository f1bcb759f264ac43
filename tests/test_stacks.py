"""The numpy stack table against a plain per-sample loop, on the examples' real profiles.

graph/stacks.py replaces Python loops over every frame with array sums; this checks it gives
exactly what the loop written straight from pprof's newGraph gives: flat, cum once per
sample, edges once per sample with residual and inline flags from their first occurrence,
with and without dropped nodes, with inline frames, recursion, sampled (float) values and
filters that copy locations. And the flame tree against a plain trie. Each runs with the three
ways graph/arrays.py groups keys (lookup table, compiled hash table, sorting), forced where
the examples' small key ranges would always pick the first.
"""

from __future__ import annotations

from itertools import pairwise
from pathlib import Path

import numpy as np
import pytest

from heapviz.graph import arrays, stacks, untrimmed
from heapviz.graph.filters import FilterOptions
from heapviz.graph.nodes import FrameMapper, NodeInfo, NodeOptions
from heapviz.graph.stacks import StackTable, node_sums
from heapviz.sample_table import SampleTable
from heapviz.graph.tree import build_tree
from heapviz.model import Sample, Value
from heapviz.pipeline import LoadOptions, make_view, subject
from heapviz.prune import PruneOptions

PROFILES = ["recursion.0001.heap", "cxx.0002.heap", "sampled.heap", "threads.0004.heap", "shlib.0002.heap"]


def reference(samples: list[Sample], index: int, options: NodeOptions, kept: set[NodeInfo] | None):
    """pprof's newGraph, one sample and one frame at a time."""
    mapper = FrameMapper(options)
    flat: dict[NodeInfo, Value] = {}
    cum: dict[NodeInfo, Value] = {}
    weight: dict[tuple[NodeInfo, NodeInfo], Value] = {}
    residual: set[tuple[NodeInfo, NodeInfo]] = set()
    direct: set[tuple[NodeInfo, NodeInfo]] = set()
    for s in samples:
        w = s.values[index]
        if w == 0:
            continue
        seen: set[NodeInfo] = set()
        seen_edges: set[tuple[NodeInfo, NodeInfo]] = set()
        parent = None
        skipped = False
        for loc in reversed(s.locations):
            frames = mapper.frames(loc)
            for i in range(len(frames) - 1, -1, -1):
                n, inline = frames[i].node, i != len(frames) - 1
                if kept is not None and n not in kept:
                    skipped = True
                    continue
                if n not in seen:
                    seen.add(n)
                    cum[n] = cum.get(n, 0) + w
                if parent is not None and n != parent and (parent, n) not in seen_edges:
                    e = (parent, n)
                    seen_edges.add(e)
                    weight[e] = weight.get(e, 0) + w
                    if skipped:
                        residual.add(e)
                    if not inline:
                        direct.add(e)
                parent = n
                skipped = False
        if parent is not None and not skipped:
            flat[parent] = flat.get(parent, 0) + w
    inline_edges = {e: e not in direct for e in weight}
    return flat, cum, weight, residual, inline_edges


@pytest.fixture(params=["lookup table", "hashing", "sorting"])
def grouping(request, monkeypatch):
    if request.param != "lookup table":
        monkeypatch.setattr(arrays, "USE_LOOKUP_TABLE", False)
    if request.param == "sorting":
        monkeypatch.setattr(arrays, "USE_HASHING", False)
    return request.param


def test_compiled_grouping_is_built():
    assert arrays._groupby is not None  # `make setup` compiles it; CI must test what users get


@pytest.mark.parametrize("dtype", ["int64", "uint64", "int32"])
def test_index_of_groups_like_numpy_unique(grouping, dtype):
    rng = np.random.default_rng(7)
    info = np.iinfo(dtype)
    pool = rng.integers(info.min, info.max, 500, dtype=dtype, endpoint=True)
    pool[:3] = [info.min, info.max, 0]
    for x in (pool[rng.integers(0, 500, 20000)], rng.integers(0, 40, 3000).astype(dtype), pool[:1],
              np.zeros(0, dtype=dtype)):
        values, first, inverse = arrays.index_of(x)
        want_values, want_first, want_inverse = np.unique(x, return_index=True, return_inverse=True)
        assert values.dtype == x.dtype
        assert np.array_equal(values, want_values) and np.array_equal(first, want_first)
        assert np.array_equal(inverse, want_inverse.ravel())
        assert np.array_equal(arrays.index_of(x, want_first=False)[2], inverse)


def test_first_seen_numbers_values_as_they_appear(grouping):
    rng = np.random.default_rng(5)
    x = rng.integers(-2**62, 2**62, 300)[rng.integers(0, 300, 20000)]
    numbers: dict[int, int] = {}
    want = [numbers.setdefault(v, len(numbers)) for v in x.tolist()]
    inverse, first = arrays.first_seen(x)
    assert inverse.tolist() == want
    assert first.tolist() == [want.index(g) for g in range(len(numbers))]
    assert [len(a) for a in arrays.first_seen(np.zeros(0, dtype=np.int64))] == [0, 0]


def test_factorize_rows_numbers_rows_like_a_dict(grouping):
    rng = np.random.default_rng(11)
    lengths = rng.integers(0, 5, 30000)
    starts = np.concatenate(([0], np.cumsum(lengths)))
    values = rng.integers(0, 3, int(starts[-1]))
    numbers: dict[tuple[int, ...], int] = {}
    want = [numbers.setdefault(tuple(values[a:b].tolist()), len(numbers)) for a, b in pairwise(starts)]
    inverse, first = arrays.factorize_rows(values, starts)
    assert inverse.tolist() == want and 30 < len(first) < 30000
    assert first.tolist() == [want.index(g) for g in range(len(first))]
    later: dict[tuple[int, ...], int] = {}  # rows need not start at the first value
    want_later = [later.setdefault(tuple(values[a:b].tolist()), len(later)) for a, b in pairwise(starts[5:])]
    assert arrays.factorize_rows(values, starts[5:])[0].tolist() == want_later
    assert len(arrays.factorize_rows(values, starts[:1])[0]) == 0


def loaded(examples: Path, name: str, hide: str = ""):
    subj = subject([str(examples / name)], LoadOptions(), [], False)
    return make_view(subj.shown, None, FilterOptions(hide=hide), NodeOptions())


@pytest.mark.parametrize("name", PROFILES)
@pytest.mark.parametrize("granularity", ["functions", "lines"])
@pytest.mark.parametrize("chunk", [0, 37])  # 0: one chunk; 37 frames: many, and samples bigger than one
def test_node_sums_equal_the_per_sample_loop(examples, name, granularity, chunk, grouping, monkeypatch):
    if chunk:
        monkeypatch.setattr(stacks, "CHUNK_FRAMES", chunk)
    view = loaded(examples, name)
    options = NodeOptions(granularity=granularity)
    table = StackTable(view.samples, options)
    for index in range(len(view.profile.sample_types)):
        for kept in (None, set(table.nodes[::2]), set(table.nodes[1::3])):
            flat, cum, weight, residual, inline = reference(view.samples, index, options, kept)
            s = node_sums(table, index, None if kept is None else table.node_mask(kept))
            nodes = table.nodes
            assert {nodes[n]: v for n, v in s.flat.items()} == flat
            assert {nodes[n]: v for n, v in s.cum.items()} == cum
            assert {(nodes[u], nodes[v]): w for (u, v), w in s.edge_weight.items()} == weight
            assert {(nodes[u], nodes[v]) for u, v in s.edge_residual} == residual
            assert {(nodes[u], nodes[v]): i for (u, v), i in s.edge_inline.items()} == inline
            assert (kept is None) <= bool(cum)


def test_recursion_counts_cum_once_per_sample(examples, expected):
    view = loaded(examples, "recursion.0001.heap")
    table = StackTable(view.samples, NodeOptions())
    s = node_sums(table, view.sample_index)
    recurse = next(n for n, node in enumerate(table.nodes) if node.name == "recurse")
    # recurse is on every stack many times over, yet its cum is at most the total
    assert s.cum[recurse] <= sum(x.values[view.sample_index] for x in view.samples)
    assert s.cum[recurse] > 0 and (recurse, recurse) not in s.edge_weight


def test_filters_that_copy_locations_are_told_apart(examples, grouping):
    """--hide makes new locations that keep their ids: the table must group by object."""
    view = loaded(examples, "cxx.0002.heap", hide="std::")
    table = SampleTable.from_samples(view.samples)
    for k, s in enumerate(view.samples):
        got = [table.locations[i] for i in table.loc_index[table.starts[k]:table.starts[k + 1]]]
        assert all(a is b for a, b in zip(got, s.locations, strict=True))
    flat, cum, _, _, _ = reference(view.samples, view.sample_index, NodeOptions(), None)
    st = StackTable(view.samples, NodeOptions(), table)
    s = node_sums(st, view.sample_index)
    assert {st.nodes[n]: v for n, v in s.cum.items()} == cum
    assert {st.nodes[n]: v for n, v in s.flat.items()} == flat


def test_location_table_groups_copies_with_the_same_id(grouping):
    from heapviz.model import Function, Line, Location

    f, g = Function(1, "f", "f"), Function(2, "g", "g")
    a = Location(1, 0x10, None, (Line(f),))
    a_copy = Location(1, 0x10, None, (Line(g), Line(f)))  # same id, other frames: another location
    samples = [Sample([1], (a,)), Sample([2], (a_copy, a)), Sample([4], ())]
    huge = Location(2**64 - 1, 0x20, None, (Line(g),))  # pprof ids are any uint64
    tables = (SampleTable.from_samples([Sample([1], (huge, a))]), SampleTable.from_samples([]))
    assert [len(t.locations) for t in tables] == [2, 0]
    table = SampleTable.from_samples(samples)
    assert len(table.locations) == 2 and table.locations[0] is a and table.locations[1] is a_copy
    st = StackTable(samples, NodeOptions())
    s = node_sums(st, 0)
    names = {st.nodes[n].name: v for n, v in s.cum.items()}
    assert names == {"f": 3, "g": 2}
    assert {st.nodes[n].name: v for n, v in s.flat.items()} == {"f": 1, "g": 2}


def _trie(samples: list[Sample], index: int, options: NodeOptions) -> dict[tuple[NodeInfo, ...], Value]:
    mapper = FrameMapper(options)
    out: dict[tuple[NodeInfo, ...], Value] = {}
    for s in samples:
        v = s.values[index]
        if v <= 0:
            continue
        path: tuple[NodeInfo, ...] = ()
        for loc in reversed(s.locations):
            for fr in reversed(mapper.frames(loc)):
                path = (*path, fr.node)
                out[path] = out.get(path, 0) + v
    return out


@pytest.mark.parametrize("name", PROFILES)
def test_flame_tree_equals_a_plain_trie(examples, name, grouping):
    view = loaded(examples, name)
    options = NodeOptions()
    want = _trie(view.samples, view.sample_index, options)
    tree = build_tree(view.samples, view.sample_index, options, view.total, "inuse_space", "bytes")
    got: dict[tuple[NodeInfo, ...], Value] = {}
    todo = [((), tree.root)]
    while todo:
        path, node = todo.pop()
        for key, child in node.children.items():
            got[(*path, key)] = child.cum
            todo.append(((*path, key), child))
    assert got == want
    # pruned to what can be drawn: narrow frames leave, their weight stays counted in the parent
    pruned = build_tree(view.samples, view.sample_index, options, view.total, "inuse_space", "bytes",
                        min_fraction=0.05)
    root = pruned.root
    assert root.cum == tree.root.cum
    assert sum(c.cum for c in root.children.values()) + root.pruned_value == \
        sum(c.cum for c in tree.root.children.values())
    assert all(c.cum >= 0.05 * root.cum for c in root.children.values())


def test_edge_flags_come_from_the_first_occurrence_in_a_sample(grouping):
    """pprof's newGraph counts an edge once per sample, flags included: a -> b seen again in the
    same sample across a dropped frame does not become residual."""
    from heapviz.model import Function, Line, Location

    main, a, b, x = (Function(i, n, n) for i, n in enumerate(("main", "a", "b", "x"), 1))
    loc = {f.name: Location(f.id, 0x100 * f.id, None, (Line(f),)) for f in (main, a, b, x)}
    leaf_first = tuple(loc[n] for n in ("b", "x", "a", "b", "a", "main"))  # then a -> x -> b
    samples = [Sample([8], leaf_first)]
    st = StackTable(samples, NodeOptions())
    kept = {n for n in st.nodes if n.name != "x"}
    s = node_sums(st, 0, st.node_mask(kept))
    edges = {(st.nodes[u].name, st.nodes[v].name): w for (u, v), w in s.edge_weight.items()}
    assert edges == {("main", "a"): 8, ("a", "b"): 8, ("b", "a"): 8}
    assert s.edge_residual == set()
    _, cum, _, residual, _ = reference(samples, 0, NodeOptions(), kept)
    assert residual == set()
    assert {st.nodes[n].name: v for n, v in s.cum.items()} == {n.name: v for n, v in cum.items()}


@pytest.mark.parametrize("name", PROFILES)
@pytest.mark.parametrize("chunk", [0, 37, 1 << 20])
def test_compiled_pass_equals_the_numpy_pass(examples, name, chunk, monkeypatch):
    """Same sums, same edges in the same order (graphs add edges in it), same flags."""
    monkeypatch.setattr(stacks, "CHUNK_FRAMES", chunk)
    view = loaded(examples, name)
    for granularity in ("functions", "lines"):
        monkeypatch.setattr(arrays, "USE_HASHING", True)
        table = StackTable(view.samples, NodeOptions(granularity=granularity))
        indices = tuple(range(len(view.profile.sample_types)))
        for kept in (None, set(table.nodes[::2]), set(table.nodes[1::3])):
            mask = None if kept is None else table.node_mask(kept)
            for first_only in (True, False):
                monkeypatch.setattr(arrays, "USE_HASHING", True)
                table.untrimmed_sums.clear()
                compiled = stacks.node_sums_many(table, indices, mask, first_only)
                monkeypatch.setattr(arrays, "USE_HASHING", False)
                table.untrimmed_sums.clear()
                plain = stacks.node_sums_many(table, indices, mask, first_only)
                for a, b in zip(compiled, plain, strict=True):
                    assert list(a.flat.items()) == list(b.flat.items())
                    assert list(a.cum.items()) == list(b.cum.items())
                    assert list(a.edge_weight.items()) == list(b.edge_weight.items())
                    assert a.edge_values.dtype == b.edge_values.dtype
                    assert a.residual.tolist() == b.residual.tolist()
                    assert a.inline.tolist() == b.inline.tolist()
                    assert a.leaf_samples.tolist() == b.leaf_samples.tolist()


@pytest.mark.parametrize("name", PROFILES)
@pytest.mark.parametrize("all_frames", [False, True])
def test_node_pass_equals_the_full_pass_without_its_edges(examples, name, all_frames):
    """untrimmed_nodes (the compiled node pass: no edges, callee flags from a table of the
    inlined edges) gives the full pass's flat, cum, leaves and NodeTable's callee flags. With
    the allocator's frames kept, cxx's stacks hold inlined calls (std::__new_allocator::allocate)."""
    subj = subject([str(examples / name)], LoadOptions(prune=PruneOptions(all_frames=all_frames)), [], False)
    view = make_view(subj.shown, None, FilterOptions(), NodeOptions())
    for granularity in ("functions", "lines", "addresses"):
        for inlines in (True, False):
            options = NodeOptions(granularity=granularity, inlines=inlines)
            indices = tuple(range(len(view.profile.sample_types)))
            fast = untrimmed.untrimmed_nodes(StackTable(view.samples, options), indices)
            table = StackTable(view.samples, options)
            full = stacks.node_sums_many(table, indices, first_only=False)
            for a, s in zip(fast, full, strict=True):
                b = untrimmed._without_edges(table, s)
                assert list(a.flat.items()) == list(b.flat.items())
                assert list(a.cum.items()) == list(b.cum.items())
                assert a.leaf_samples.tolist() == b.leaf_samples.tolist()
                assert a.leaf_nodes.tolist() == b.leaf_nodes.tolist()
                assert a.callee_state.tolist() == b.callee_state.tolist()
            if inlines and all_frames and name.startswith("cxx"):
                assert any(s & 1 for s in fast[0].callee_state.tolist())  # inlined callees were seen


@pytest.mark.parametrize("name", PROFILES)
@pytest.mark.parametrize("hashing", [True, False])
def test_edges_touching_some_nodes_are_the_full_pass_edges_with_those_ends(examples, name, hashing, monkeypatch):
    """node_sums_touching (the peek view's pass: only edges with an end among some nodes are
    hashed) gives the full pass's edges with such an end, in the same order, sums and flags."""
    monkeypatch.setattr(arrays, "USE_HASHING", hashing)
    view = loaded(examples, name)
    full = node_sums(StackTable(view.samples, NodeOptions()), view.sample_index)
    table = StackTable(view.samples, NodeOptions())
    record = np.zeros(len(table.nodes), dtype=np.bool_)
    record[::3] = True
    part = stacks.node_sums_touching(table, view.sample_index, record)
    mine = record[full.edge_parent] | record[full.edge_child]
    assert 0 < len(part.edge_parent) < len(full.edge_parent) or not len(full.edge_parent)
    assert part.edge_parent.tolist() == full.edge_parent[mine].tolist()
    assert part.edge_child.tolist() == full.edge_child[mine].tolist()
    assert part.edge_values.tolist() == full.edge_values[mine].tolist()
    assert part.residual.tolist() == full.residual[mine].tolist()
    assert part.inline.tolist() == full.inline[mine].tolist()
    assert (part.flat, part.cum) == (full.flat, full.cum)


def test_untrimmed_sums_are_made_once_for_every_sample_type(examples):
    view = loaded(examples, "cxx.0002.heap")
    table = StackTable(view.samples, NodeOptions())
    n = len(view.profile.sample_types)
    first = node_sums(table, 0)
    assert node_sums(table, 0) is first
    assert {k for k in table.untrimmed_sums if k[0] == 0} == {(0, True), (0, False)}
    for i in range(n):  # each type: computed with index 0 when its samples are the same, else now
        table_again = StackTable(view.samples, NodeOptions())
        assert stacks.node_sums_many(table, (i,), first_only=False)[0].edge_inline == \
            node_sums(table_again, i, first_only=False).edge_inline


@pytest.mark.parametrize("name", PROFILES)
def test_edge_sums_not_asked_for_are_made_when_read(examples, name):
    """The untrimmed pass sums every sample type's nodes, but the edges only of those asked for;
    another type's edge sums, read later, are those of a pass of its own (same edges, same order)."""
    view = loaded(examples, name)
    n = len(view.profile.sample_types)
    table = StackTable(view.samples, NodeOptions())
    node_sums(table, 0)
    for i in range(1, n):
        made = table.untrimmed_sums.get((i, True))
        if made is None:  # other samples than type 0's: not summed with it
            continue
        alone = StackTable(view.samples, NodeOptions())
        eager = stacks.node_sums_many(alone, (i,), first_only=True)[0]
        assert made.edge_values.tolist() == eager.edge_values.tolist()
        assert made.edge_values.dtype == eager.edge_values.dtype
        assert list(made.edge_weight.items()) == list(eager.edge_weight.items())


def test_rows_of_32_bit_values_are_numbered_as_their_64_bit_copy():
    """factorize_rows hashes a profile's int32 frames as they are: the same numbers as int64."""
    rng = np.random.default_rng(7)
    lens = rng.integers(0, 6, 3000)
    starts = np.concatenate(([0], np.cumsum(lens))).astype(np.int64)
    values = rng.integers(-3, 4, int(starts[-1])).astype(np.int32)  # small alphabets: many equal rows
    wide = arrays.factorize_rows(values.astype(np.int64), starts)
    narrow = arrays.factorize_rows(values, starts)
    assert wide[0].tolist() == narrow[0].tolist() and wide[1].tolist() == narrow[1].tolist()
    assert len(wide[1]) < 3000


@pytest.mark.parametrize("dtype", [np.int64, np.float64])
def test_once_sums_counts_each_sample_once_per_id(dtype, monkeypatch):
    """arrays.once_sums (compiled) equals its numpy fallback and a loop over the samples."""
    rng = np.random.default_rng(3)
    lens = rng.integers(0, 8, 2000)
    starts = np.concatenate(([0], np.cumsum(lens))).astype(np.int64)
    ids = rng.integers(-2, 9, int(starts[-1])).astype(np.int32)  # repeats within a sample, and skipped ids
    weights = (rng.standard_normal(2000) * 1e6).astype(dtype)
    want = [0.0 if dtype == np.float64 else 0] * 9
    for i in range(2000):
        for v in sorted({x for x in ids[starts[i]:starts[i + 1]].tolist() if x >= 0}):
            want[v] += weights[i].item()
    got = arrays.once_sums(ids, starts, weights, 9)
    monkeypatch.setattr(arrays, "USE_HASHING", False)
    plain = arrays.once_sums(ids, starts, weights, 9)
    assert got == want and plain == want
    assert [type(x) for x in got] == [type(x) for x in want]
