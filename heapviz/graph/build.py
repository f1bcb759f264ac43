"""The weighted call graph (networkx) and pprof's pruning of it. No Graphviz here.

Pruning follows pprof's newTrimmedGraph: build, keep nodes above the node cutoff and rebuild
from the samples (calls through dropped nodes become residual edges), pick the top nodes in
entropy order and rebuild again, drop light edges, then remove redundant residual edges.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from heapviz.graph.nodes import NodeInfo, NodeOptions
from heapviz.graph.arrays import IntArray, index_of
from heapviz.graph.arrays import sums as group_sums
from heapviz.graph.untrimmed import NodeSums, untrimmed_nodes
from heapviz.graph.stacks import StackTable, Sums, node_sums, node_sums_touching
from heapviz.model import SIZE_EPSILON, Sample, Value
from heapviz.units import format_value

if TYPE_CHECKING:
    import networkx as nx

MAX_NODELETS = 4


@dataclass(frozen=True)
class GraphOptions:
    node_count: int = 80
    node_fraction: float = 0.005
    edge_fraction: float = 0.001
    visual: bool = True  # entropy order and redundant-edge removal, as for pprof's dot output
    cum_sort: bool = False
    drop_negative: bool = False


@dataclass
class CallGraph:
    """A pruned call graph: `graph` nodes are NodeInfo with flat/cum/full_names/tags attributes;
    edges carry weight, residual and inline. `order` is the display order."""

    graph: nx.DiGraph
    order: list[NodeInfo]
    total: Value  # pprof's total (sum of |value| over the unfiltered samples)
    node_cutoff: Value = 0
    edge_cutoff: Value = 0
    dropped_nodes: int = 0
    dropped_edges: int = 0
    nodes_before_count: int = 0  # nodes left after the fraction cut, before --nodecount
    options: GraphOptions = field(default_factory=GraphOptions)
    untrimmed: Untrimmed | None = None  # the untrimmed graph's sums, of the same samples

    def flat(self, n: NodeInfo) -> Value:
        v: Value = self.graph.nodes[n]["flat"]
        return v

    def cum(self, n: NodeInfo) -> Value:
        v: Value = self.graph.nodes[n]["cum"]
        return v

    def shown_flat(self) -> Value:
        return sum(self.flat(n) for n in self.order)


class Untrimmed:
    """The sums of the untrimmed graph, from which graphs of all or part of it are made. `sums`
    may be what makes them, called when they are first read: their edges cost a pass of their
    own (a million on a recursive program's profile), which a report without the peek view
    (a PDF) never needs."""

    def __init__(self, stacks: StackTable, sums: Sums | Callable[[], Sums],
                 tags: dict[int, dict[str, tuple[int, Value]]], index: int | None = None,
                 nodes: NodeSums | None = None) -> None:
        self.stacks = stacks
        self._sums = sums
        self.tags = tags
        self.index = index  # the sample type, when `sums` is made when read
        self._nodes = nodes  # the same sums' nodes, made without the edges

    @property
    def sums(self) -> Sums:
        if callable(self._sums):
            self._sums = self._sums()
        return self._sums

    @property
    def nodes(self) -> Sums | NodeSums:
        """flat, cum and leaves, without making the edges when they are not made yet."""
        return self._nodes if self._nodes is not None and callable(self._sums) else self.sums

    def touching(self, record: npt.NDArray[np.bool_]) -> Sums:
        """The sums with (at least) every edge that has an end among `record`'s nodes: the full
        sums when made, else a pass that hashes only those edges (stacks.node_sums_touching)."""
        if callable(self._sums) and self.index is not None:
            return node_sums_touching(self.stacks, self.index, record)
        return self.sums

    def graph(self) -> nx.DiGraph:
        return _graph(self.stacks, self.sums, self.tags)


def _block_sizes(values: npt.NDArray[Any], pairs: tuple[tuple[int, int], ...]) -> npt.NDArray[Any]:
    """Each sample's object size, pprof's numeric label `bytes` (the in-use pair wins)."""
    size = np.zeros(len(values), dtype=np.float64)
    done = np.zeros(len(values), dtype=np.bool_)
    for count, total in pairs:
        pick = ~done & (values[:, count] != 0)
        size[pick] = np.trunc(values[pick, total] / values[pick, count] + SIZE_EPSILON)  # as model.object_size
        done |= pick
    return size.astype(np.int64)


def _tags(t: StackTable, index: int, sums: Sums | NodeSums,
          size_pairs: tuple[tuple[int, int], ...]) -> dict[int, dict[str, tuple[int, Value]]]:
    """pprof's nodelets: object sizes at the leaf, merged by their printed form."""
    tags: dict[int, dict[str, tuple[int, Value]]] = {}
    if not len(sums.leaf_samples):
        return tags
    every = t.block_sizes.get(size_pairs)
    if every is None:  # each sample's, once per table: the trimmed graphs' leaves are some of them
        every = t.block_sizes[size_pairs] = _block_sizes(t.values, size_pairs)
    sizes = every[sums.leaf_samples]
    distinct_sizes, _, size_of = index_of(sizes, want_first=False)
    n_sizes = len(distinct_sizes)
    keys, first, group = index_of(sums.leaf_nodes * n_sizes + size_of)
    weights = group_sums(group, t.weights(index)[sums.leaf_samples], len(keys))
    labels: dict[int, str] = {}
    for g in np.argsort(first, kind="stable").tolist():  # in order of first appearance
        node = int(keys[g]) // n_sizes
        size = int(sizes[first[g]])
        label = labels.get(size)
        if label is None:
            label = labels[size] = format_value(size, "bytes", "auto")
        node_tags = tags.setdefault(node, {})
        old = node_tags.get(label)
        node_tags[label] = (size, weights[g]) if old is None else (old[0], old[1] + weights[g])
    return tags


def build(t: StackTable, index: int, kept: set[NodeInfo] | None = None,
          size_pairs: tuple[tuple[int, int], ...] = ()) -> nx.DiGraph:
    """pprof's newGraph: cum and each edge once per sample, no self loops; frames outside
    `kept` make the next edge residual; flat goes to the leaf only if it is kept. With
    size_pairs (Profile.size_pairs), leaves carry object-size tags for nodelets.

    The sums come from the stack table's arrays (stacks.node_sums); networkx only holds the result.
    """
    s = node_sums(t, index, None if kept is None else t.node_mask(kept))
    return _graph(t, s, _tags(t, index, s, size_pairs) if size_pairs else {})


def graph_nodes(s: Sums | NodeSums) -> list[int]:
    """The nodes a graph of these sums has: those with a cum or a flat."""
    return [n for n, c in s.cum.items() if c != 0 or s.flat.get(n, 0) != 0]


def _graph(t: StackTable, s: Sums, tags: dict[int, dict[str, tuple[int, Value]]]) -> nx.DiGraph:
    """The networkx graph of the sums."""
    nodes = t.nodes
    keep = graph_nodes(s)
    keep_mask = np.zeros(max(len(nodes), 1), dtype=np.bool_)
    keep_mask[keep] = True
    parent, child = s.edge_parent, s.edge_child
    pick = np.flatnonzero(keep_mask[parent] & keep_mask[child])
    import networkx  # here: commands that draw no graph (top) start a tenth of a second sooner

    g = networkx.DiGraph()
    g.add_nodes_from((nodes[n], {"flat": s.flat.get(n, 0), "cum": s.cum[n], "full_names": set(t.full_names[n]),
                                 "tags": tags.get(n, {})}) for n in keep)
    g.add_edges_from((nodes[u], nodes[v], {"weight": w, "residual": r, "inline": i})
                     for u, v, w, r, i in zip(parent[pick].tolist(), child[pick].tolist(),
                                              s.edge_values[pick].tolist(), s.residual[pick].tolist(),
                                              s.inline[pick].tolist(), strict=True))
    return g


def _graph_edges(t: StackTable, s: Sums, keep: list[int]) -> IntArray:
    """The edges of the graph of the sums: those between its nodes (`keep`)."""
    keep_mask = np.zeros(max(len(t.nodes), 1), dtype=np.bool_)
    keep_mask[keep] = True
    return np.flatnonzero(keep_mask[s.edge_parent] & keep_mask[s.edge_child])


def nodelets(tags: dict[str, tuple[int, Value]]) -> list[tuple[int, int, Value]]:
    """Up to four (smallest size, largest size, weight) object-size boxes for a node, heaviest
    first; more sizes are grouped around the four heaviest, as pprof does."""
    ordered = sorted(((k, sz, w) for k, (sz, w) in tags.items() if w != 0), key=lambda t: (-abs(t[2]), t[0]))
    groups = [[t] for t in ordered[:MAX_NODELETS]]
    for t in ordered[MAX_NODELETS:]:
        best = min(range(MAX_NODELETS), key=lambda i: (abs(t[1] - groups[i][0][1]), i))
        groups[best].append(t)
    out = [(min(t[1] for t in grp), max(t[1] for t in grp), sum(t[2] for t in grp)) for grp in groups]
    out.sort(key=lambda t: (-abs(t[2]), t[0]))
    return out


def _printable(n: NodeInfo) -> str:
    return n.printable()


def _edge_entropy(weights: list[Value], self_weight: Value) -> float:
    total = self_weight + sum(abs(w) for w in weights if w > 0)
    score = 0.0
    if total:
        for w in [*weights, *([self_weight] if self_weight > 0 else [])]:
            frac = abs(w) / total
            if frac > 0:
                score -= frac * math.log2(frac)
    return score


def _entropy(ins: list[Value], outs: list[Value], flat: Value, cum: Value) -> int:
    """pprof's visual order: penalise nodes that only pass weight through (`ins`, `outs`: the
    weights of the node's edges, in the graph's order)."""
    score = 1.0 if not ins else _edge_entropy(ins, 0)
    score += 1.0 if not outs else _edge_entropy(outs, flat)
    return int(score * cum) + int(flat)


def _entropy_score(g: nx.DiGraph, n: NodeInfo) -> int:
    a = g.nodes[n]
    return _entropy([e["weight"] for _, _, e in g.in_edges(n, data=True)],
                    [e["weight"] for _, _, e in g.out_edges(n, data=True)], a["flat"], a["cum"])


def _sorted(nodes: list[NodeInfo], flat: dict[NodeInfo, Value], cum: dict[NodeInfo, Value],
            ent: dict[NodeInfo, int] | None, by_cum: bool) -> list[NodeInfo]:
    if ent is not None:
        nodes.sort(key=lambda n: (-ent[n], _printable(n), -abs(cum[n]), n))
    elif by_cum:
        nodes.sort(key=lambda n: (-abs(cum[n]), _printable(n), -abs(flat[n]), n))
    else:
        nodes.sort(key=lambda n: (-abs(flat[n]), _printable(n), -abs(cum[n]), n))
    return nodes


def sort_nodes(g: nx.DiGraph, visual: bool, cum: bool) -> list[NodeInfo]:
    a = g.nodes
    return _sorted(list(g.nodes), {n: a[n]["flat"] for n in a}, {n: a[n]["cum"] for n in a},
                   {n: _entropy_score(g, n) for n in a} if visual else None, cum)


def _sums_order(t: StackTable, s: Sums, visual: bool, by_cum: bool) -> list[NodeInfo]:
    """sort_nodes of the graph of these sums (_graph), from its arrays: the graph is not made."""
    keep = graph_nodes(s)
    nodes = [t.nodes[n] for n in keep]
    flat = {t.nodes[n]: s.flat.get(n, 0) for n in keep}
    cum = {t.nodes[n]: s.cum[n] for n in keep}
    ent = None
    if visual:
        ins: dict[int, list[Value]] = {n: [] for n in keep}
        outs: dict[int, list[Value]] = {n: [] for n in keep}
        pick = _graph_edges(t, s, keep)
        for u, v, w in zip(s.edge_parent[pick].tolist(), s.edge_child[pick].tolist(), s.edge_values[pick].tolist(),
                           strict=True):
            outs[u].append(w)
            ins[v].append(w)
        ent = {t.nodes[n]: _entropy(ins[n], outs[n], flat[t.nodes[n]], cum[t.nodes[n]]) for n in keep}
    return _sorted(nodes, flat, cum, ent, by_cum)


def _trim_tags(g: nx.DiGraph, cutoff: Value) -> None:
    for _, a in g.nodes(data=True):
        a["tags"] = {k: v for k, v in a["tags"].items() if abs(v[1]) >= cutoff}


def _trim_edges(g: nx.DiGraph, cutoff: Value) -> int:
    light = [(u, v) for u, v, w in g.edges(data="weight") if abs(w) < cutoff]
    g.remove_edges_from(light)
    return len(light)


def _select_top(tags_of: Callable[[NodeInfo], dict[str, tuple[int, Value]]], order: list[NodeInfo], max_nodes: int,
                visual: bool) -> list[NodeInfo]:
    """The first nodes of `order` that fit in `max_nodes` (`tags_of`: a node's nodelets, trimmed)."""
    if visual:
        # pprof counts each node's nodelets (distinct object sizes, up to 4) as nodes too.
        count = 0
        for i, n in enumerate(order):
            tags = min(sum(1 for v in tags_of(n).values() if v[1] != 0), MAX_NODELETS)
            count += tags + 1
            if count >= max_nodes:
                max_nodes = i + 1
                break
    return order[:max_nodes]


def _edge_sort_key(g: nx.DiGraph, u: NodeInfo, v: NodeInfo) -> tuple[float, str, str]:
    return (-abs(g.edges[u, v]["weight"]), _printable(u), _printable(v))


def _is_redundant(g: nx.DiGraph, src: NodeInfo, dest: NodeInfo) -> bool:
    """Can src still reach dest through other in-edges once src->dest is gone?"""
    seen = {dest}
    queue = deque([dest])
    while queue:
        n = queue.popleft()
        for p in g.predecessors(n):
            if (p, n) == (src, dest) or p in seen:
                continue
            if p == src:
                return True
            seen.add(p)
            queue.append(p)
    return False


def _remove_redundant_edges(g: nx.DiGraph, order: list[NodeInfo]) -> None:
    for n in reversed(order):
        ins = sorted(g.predecessors(n), key=lambda u: _edge_sort_key(g, u, n))
        for u in reversed(ins):
            if not g.edges[u, n]["residual"]:
                break
            if _is_redundant(g, u, n):
                g.remove_edge(u, n)


def trimmed_graph(samples: Sequence[Sample], index: int, node_options: NodeOptions, options: GraphOptions,
                  total: Value, size_pairs: tuple[tuple[int, int], ...] = (),
                  stacks: StackTable | None = None) -> CallGraph:
    """Build and prune; size_pairs (Profile.size_pairs) turns on object-size nodelets. `stacks`:
    the samples' stack table at node_options when the caller has made it already."""
    if stacks is None:
        stacks = StackTable(samples, node_options)
    tags = size_pairs if options.visual else ()
    # The untrimmed graph's node sums decide the cut. Its edges (a pass of their own: a recursive
    # program's has a million) are made only if nothing is cut or they are read (Untrimmed.sums:
    # the HTML report's peek view), and its networkx graph only when asked for (Untrimmed.graph).
    s = untrimmed_nodes(stacks, [index])[0]
    untrimmed = Untrimmed(stacks, lambda: node_sums(stacks, index), _tags(stacks, index, s, tags) if tags else {},
                          index, s)
    nodes = graph_nodes(s)
    total_value = sum(s.flat.get(n, 0) for n in nodes)
    node_cutoff = abs(int(total_value * options.node_fraction))
    edge_cutoff = abs(int(total_value * options.edge_fraction))
    dropped_nodes = 0
    kept = {stacks.nodes[n] for n in nodes if abs(s.cum[n]) >= node_cutoff} if node_cutoff > 0 else None
    # The graph of the nodes above the cutoff is ordered and cut to --nodecount from its sums;
    # networkx holds only the graph drawn (the one cut to --nodecount has a few thousand edges
    # where this one can have a hundred thousand).
    if kept is not None and len(kept) != len(nodes):
        dropped_nodes = len(nodes) - len(kept)
        cut, cut_tags = _sums_of(stacks, index, kept, tags)
    else:
        cut, cut_tags = untrimmed.sums, untrimmed.tags
    if options.drop_negative:
        neg = {stacks.nodes[n] for n in graph_nodes(cut)
               if cut.flat.get(n, 0) < 0 or (cut.flat.get(n, 0) == 0 and cut.cum[n] < 0)}
        if neg:
            cut, cut_tags = _sums_of(stacks, index, {stacks.nodes[n] for n in graph_nodes(cut)} - neg, tags)
    before_count = len(graph_nodes(cut))
    order = _sums_order(stacks, cut, options.visual, options.cum_sort)
    g: nx.DiGraph | None = None
    if options.node_count > 0:
        trimmed_tags = {stacks.nodes[n]: {k: v for k, v in node_tags.items() if abs(v[1]) >= node_cutoff}
                        for n, node_tags in cut_tags.items()}
        top = _select_top(lambda n: trimmed_tags.get(n, {}), order, options.node_count, options.visual)
        if len(top) != len(order):
            g = build(stacks, index, set(top), tags)
            order = sort_nodes(g, options.visual, options.cum_sort)
        else:
            g = _graph(stacks, cut, cut_tags)
            _trim_tags(g, node_cutoff)
            _trim_edges(g, edge_cutoff)
    if g is None:
        g = _graph(stacks, cut, cut_tags)
    _trim_tags(g, node_cutoff)
    dropped_edges = _trim_edges(g, edge_cutoff)
    if options.visual:
        _remove_redundant_edges(g, order)
    return CallGraph(g, order, total, node_cutoff, edge_cutoff, dropped_nodes, dropped_edges, before_count,
                     options, untrimmed)


def _sums_of(t: StackTable, index: int, kept: set[NodeInfo],
             size_pairs: tuple[tuple[int, int], ...]) -> tuple[Sums, dict[int, dict[str, tuple[int, Value]]]]:
    """build()'s sums and nodelets, without its graph."""
    s = node_sums(t, index, t.node_mask(kept))
    return s, _tags(t, index, s, size_pairs) if size_pairs else {}
