"""pprof's call-graph pruning written plainly over integer ids: the reference that other ports
(the HTML explorer's JavaScript) must match, and that the fast pruner (build.trimmed_graph,
numpy and networkx) is tested against. Slow on purpose: one loop per rule, nothing clever.

Input, a "stack table" as plain data (export() makes one from a StackTable):
  nodes    [name, …]: node i's printable name. Nodes are numbered in the order of their
           identity (name, file, line, address), so that the last tie-break is the id.
  samples  [[value, [node, …root first], [inline, …per frame], size_label], …]: one sample
           type's value; each frame's node and whether it was inlined into its caller;
           size_label is the printed object size for nodelets ("" for none).
Options: node_count, node_fraction, edge_fraction, visual (pprof's dot output: entropy order,
nodelets counted as nodes, redundant residual edges removed), cum_sort, drop_negative.

The rules, in order (pprof's newTrimmedGraph):
1. sums(kept): over samples with value != 0, each kept node's cum counts once per sample; the
   leaf's flat counts if the leaf is kept (with its size label's weight as a nodelet); between
   consecutive kept frames an edge parent->child (never to itself) counts once per sample. At
   an edge's first occurrence in a sample it is residual if frames were skipped between the two,
   and direct if the child frame is not inlined; an edge is residual if it ever was, inline if it
   was never direct. A graph holds the nodes with cum or flat != 0 and edges between them.
2. total = sum of flat, added in node id order; node cutoff = |int(total * node_fraction)|, edge cutoff likewise.
3. With a node cutoff, keep nodes with |cum| >= cutoff and rebuild (dropped_nodes counts the rest).
4. drop_negative: rebuild without nodes whose flat < 0, or flat == 0 and cum < 0.
5. Order: visual: by entropy score descending (below), then name, then |cum| descending, then
   id; cum_sort: |cum| desc, name, |flat| desc, id; else |flat| desc, name, |cum| desc, id.
6. With node_count > 0: drop tags (nodelets) with |weight| < node cutoff and edges with |weight| <
   edge cutoff; take nodes in order until node_count is reached (visual: each node counts 1 +
   its non-zero tags, at most 4; the node that reaches the count is included); if fewer than all,
   rebuild with those and order again.
7. Drop tags below the node cutoff and edges below the edge cutoff (dropped_edges counts them).
8. visual: for nodes from last to first in the order, their in-edges from heaviest (weight desc,
   caller name, then callee name) to lightest: walking from the lightest, while an edge is
   residual, remove it if its caller still reaches the node through other edges.
Entropy score of a node: in = 1 if no in-edges else entropy(in-edge weights); out = 1 if no
out-edges else entropy(out-edge weights, self = the node's flat), where entropy(ws, self) =
-sum(f * log2 f) over the ws (and self when self > 0) with f = |w| / T > 0, and T = self + the
sum of the positive ws; score = int((in + out) * cum) + int(flat), int truncating toward 0.
"""

from __future__ import annotations

import math
from collections import deque
from itertools import pairwise
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from heapviz.graph.build import CallGraph
    from heapviz.graph.stacks import StackTable

MAX_NODELETS = 4

Sample = tuple[float, list[int], list[bool], str]


@dataclass
class Graph:
    flat: dict[int, float] = field(default_factory=dict)
    cum: dict[int, float] = field(default_factory=dict)
    tags: dict[int, dict[str, float]] = field(default_factory=dict)
    weight: dict[tuple[int, int], float] = field(default_factory=dict)
    residual: dict[tuple[int, int], bool] = field(default_factory=dict)
    inline: dict[tuple[int, int], bool] = field(default_factory=dict)

    def nodes(self) -> list[int]:
        return sorted(self.cum)


def sums(samples: list[Sample], kept: set[int] | None) -> Graph:
    g = Graph()
    direct: dict[tuple[int, int], bool] = {}
    for value, frames, inline, label in samples:
        if value == 0:
            continue
        seq = [(pos, node) for pos, node in enumerate(frames) if kept is None or node in kept]
        for node in {node for _, node in seq}:
            g.cum[node] = g.cum.get(node, 0) + value
        if frames and (kept is None or frames[-1] in kept):
            leaf = frames[-1]
            g.flat[leaf] = g.flat.get(leaf, 0) + value
            if label:
                tags = g.tags.setdefault(leaf, {})
                tags[label] = tags.get(label, 0) + value
        seen: set[tuple[int, int]] = set()
        for (p_pos, parent), (c_pos, child) in pairwise(seq):
            if parent == child:
                continue
            e = (parent, child)
            if e in seen:
                continue
            seen.add(e)
            g.weight[e] = g.weight.get(e, 0) + value
            g.residual[e] = g.residual.get(e, False) or c_pos - p_pos > 1
            direct[e] = direct.get(e, False) or not inline[c_pos]
    keep = {n for n in g.cum if g.cum[n] != 0 or g.flat.get(n, 0) != 0}
    g.cum = {n: v for n, v in g.cum.items() if n in keep}
    g.flat = {n: g.flat.get(n, 0) for n in keep}
    g.tags = {n: t for n, t in g.tags.items() if n in keep}
    for e in list(g.weight):
        if e[0] not in keep or e[1] not in keep:
            del g.weight[e], g.residual[e]
        else:
            g.inline[e] = not direct[e]
    return g


def _entropy(weights: list[float], self_weight: float) -> float:
    total = self_weight + sum(abs(w) for w in weights if w > 0)
    score = 0.0
    if total:
        for w in [*weights, *([self_weight] if self_weight > 0 else [])]:
            f = abs(w) / total
            if f > 0:
                score -= f * math.log2(f)
    return score


def _score(g: Graph, n: int) -> int:
    ins = [w for (u, v), w in g.weight.items() if v == n]
    outs = [w for (u, v), w in g.weight.items() if u == n]
    score = 1.0 if not ins else _entropy(ins, 0)
    score += 1.0 if not outs else _entropy(outs, g.flat[n])
    return int(score * g.cum[n]) + int(g.flat[n])


def order(g: Graph, names: list[str], visual: bool, cum_sort: bool) -> list[int]:
    nodes = g.nodes()
    if visual:
        score = {n: _score(g, n) for n in nodes}
        return sorted(nodes, key=lambda n: (-score[n], names[n], -abs(g.cum[n]), n))
    if cum_sort:
        return sorted(nodes, key=lambda n: (-abs(g.cum[n]), names[n], -abs(g.flat[n]), n))
    return sorted(nodes, key=lambda n: (-abs(g.flat[n]), names[n], -abs(g.cum[n]), n))


def _drop_tags(g: Graph, cutoff: float) -> None:
    g.tags = {n: {k: w for k, w in t.items() if abs(w) >= cutoff} for n, t in g.tags.items()}


def _drop_edges(g: Graph, cutoff: float) -> int:
    light = [e for e, w in g.weight.items() if abs(w) < cutoff]
    for e in light:
        del g.weight[e], g.residual[e], g.inline[e]
    return len(light)


def _reaches_otherwise(g: Graph, src: int, dest: int) -> bool:
    """Can src reach dest, walking edges backwards from dest, without the edge src->dest?"""
    seen = {dest}
    queue = deque([dest])
    while queue:
        n = queue.popleft()
        for (p, c) in g.weight:
            if c != n or (p, c) == (src, dest) or p in seen:
                continue
            if p == src:
                return True
            seen.add(p)
            queue.append(p)
    return False


def prune(nodes: list[str], samples: list[Sample], node_count: int = 80, node_fraction: float = 0.005,
          edge_fraction: float = 0.001, visual: bool = True, cum_sort: bool = False,
          drop_negative: bool = False) -> dict[str, Any]:
    """The pruned graph as plain data: order (node ids), per node flat/cum/tags, edges, cutoffs."""
    if not visual:  # nodelets belong to pprof's dot output only
        samples = [(value, frames, inline, "") for value, frames, inline, _ in samples]
    g = sums(samples, None)
    total = sum(g.flat[n] for n in g.nodes())  # in id order: float sums depend on it
    node_cutoff = abs(int(total * node_fraction))
    edge_cutoff = abs(int(total * edge_fraction))
    dropped_nodes = 0
    if node_cutoff > 0:
        kept = {n for n in g.nodes() if abs(g.cum[n]) >= node_cutoff}
        if len(kept) != len(g.cum):
            dropped_nodes = len(g.cum) - len(kept)
            g = sums(samples, kept)
    if drop_negative:
        negative = {n for n in g.nodes() if g.flat[n] < 0 or (g.flat[n] == 0 and g.cum[n] < 0)}
        if negative:
            g = sums(samples, set(g.nodes()) - negative)
    before_count = len(g.cum)
    ordered = order(g, nodes, visual, cum_sort)
    if node_count > 0:
        _drop_tags(g, node_cutoff)
        _drop_edges(g, edge_cutoff)
        limit = node_count
        if visual:
            count = 0
            for i, n in enumerate(ordered):
                count += 1 + min(sum(1 for w in g.tags.get(n, {}).values() if w != 0), MAX_NODELETS)
                if count >= node_count:
                    limit = i + 1
                    break
        top = ordered[:limit]
        if len(top) != len(ordered):
            g = sums(samples, set(top))
            ordered = order(g, nodes, visual, cum_sort)
    _drop_tags(g, node_cutoff)
    dropped_edges = _drop_edges(g, edge_cutoff)
    if visual:
        for n in reversed(ordered):
            ins = sorted((u for (u, v) in g.weight if v == n),
                         key=lambda u: (-abs(g.weight[(u, n)]), nodes[u], nodes[n]))
            for u in reversed(ins):
                if not g.residual[(u, n)]:
                    break
                if _reaches_otherwise(g, u, n):
                    del g.weight[(u, n)], g.residual[(u, n)], g.inline[(u, n)]
    return {
        "order": ordered,
        "nodes": {str(n): {"flat": g.flat[n], "cum": g.cum[n],
                           "tags": dict(sorted(g.tags.get(n, {}).items()))} for n in ordered},
        "edges": sorted(([u, v, g.weight[(u, v)], g.residual[(u, v)], g.inline[(u, v)]] for (u, v) in g.weight),
                        key=lambda e: (e[0], e[1])),
        "node_cutoff": node_cutoff, "edge_cutoff": edge_cutoff, "dropped_nodes": dropped_nodes,
        "dropped_edges": dropped_edges, "nodes_before_count": before_count,
    }


def export(t: StackTable, index: int, size_pairs: tuple[tuple[int, int], ...] = ()) -> tuple[list[str], list[Sample]]:
    """A stack table as the reference's plain data: nodes numbered in the order of their identity
    (NodeInfo), and per sample its value at `index`, frames root first, inline flags and the
    printed object size (from size_pairs, as the graph's nodelets)."""
    from heapviz.graph.build import _block_sizes
    from heapviz.units import format_value

    rank = sorted(range(len(t.nodes)), key=t.nodes.__getitem__)
    number = {old: new for new, old in enumerate(rank)}
    names = [t.nodes[old].printable() for old in rank]
    values = t.weights(index).tolist() if len(t.samples) else []
    sizes = _block_sizes(t.values, size_pairs).tolist() if size_pairs and len(t.samples) else [0] * len(values)
    ids, inline, starts = t.ids.tolist(), t.inline.tolist(), t.starts.tolist()
    samples: list[Sample] = []
    for i, value in enumerate(values):
        a, b = starts[i], starts[i + 1]
        label = format_value(sizes[i], "bytes", "auto") if size_pairs and b > a else ""
        samples.append((value, [number[n] for n in ids[a:b]], inline[a:b], label))
    return names, samples


def from_call_graph(cg: CallGraph, names: list[str], nodes: list[object]) -> dict[str, Any]:
    """The fast pruner's result in the reference's shape, `nodes` being the NodeInfo of each
    reference id (to compare the two)."""
    number = {n: i for i, n in enumerate(nodes)}
    g = cg.graph
    return {
        "order": [number[n] for n in cg.order],
        "nodes": {str(number[n]): {"flat": g.nodes[n]["flat"], "cum": g.nodes[n]["cum"],
                                   "tags": dict(sorted((k, w) for k, (_, w) in g.nodes[n]["tags"].items()))}
                  for n in cg.order},
        "edges": sorted(([number[u], number[v], e["weight"], bool(e["residual"]), bool(e["inline"])]
                         for u, v, e in g.edges(data=True)), key=lambda e: (e[0], e[1])),
        "node_cutoff": cg.node_cutoff, "edge_cutoff": cg.edge_cutoff, "dropped_nodes": cg.dropped_nodes,
        "dropped_edges": cg.dropped_edges, "nodes_before_count": cg.nodes_before_count,
    }
