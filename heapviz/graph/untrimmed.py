"""The untrimmed graph's node sums without its edges: what the report's tables and pprof's node
cut read. A recursive program's 250k stacks have 900k distinct caller -> callee edges; hashing
them took the untrimmed pass (stacks.node_sums) 0.34 s, where these sums take a tenth of that
(_groupby.node_pass). The edges are made by stacks.py's passes when something reads them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from heapviz.graph.arrays import BoolArray, IntArray, KeySums, hashing
from heapviz.graph.stacks import StackTable, Sums, node_dicts, node_sums_many
from heapviz.model import Value


@dataclass
class NodeSums:
    """The untrimmed graph's node sums without its edges (untrimmed_nodes): Sums' flat, cum and
    leaves, and how each node is called, as NodeTable.callee_inline reads the edges."""

    flat: dict[int, Value]
    cum: dict[int, Value]
    leaf_samples: IntArray
    leaf_nodes: IntArray
    callee_state: npt.NDArray[np.uint8]  # per node: 2 if an edge into it was ever direct, | 1 if one only inlined


def untrimmed_nodes(t: StackTable, indices: Sequence[int]) -> list[NodeSums]:
    """node_sums without a keep-set, but without the edges (see the module doc), per sample type
    of `indices`; kept in the table."""
    todo = [i for i in indices if i not in t.untrimmed_nodes]
    while todo:
        active = t.weights(todo[0]) != 0
        same = [i for i in todo if np.array_equal(t.weights(i) != 0, active)]
        if hashing() and len(t.samples) and t.values.dtype in (np.int64, np.float64):
            made = _node_pass(t, same, active)
        else:  # from the full pass's edges (no compiled pass: its numpy stand-in makes the edges anyway)
            made = [_without_edges(t, s) for s in node_sums_many(t, same, first_only=False)]
        t.untrimmed_nodes.update(zip(same, made, strict=True))
        todo = [i for i in todo if i not in same]
    return [t.untrimmed_nodes[i] for i in indices]


def _without_edges(t: StackTable, s: Sums) -> NodeSums:
    """NodeSums from a full pass's Sums (first_only=False): the reference _node_pass equals."""
    n = max(len(t.nodes), 1)
    state = np.zeros(n, dtype=np.uint8)
    np.bitwise_or.at(state, s.edge_child[s.inline], 1)
    np.bitwise_or.at(state, s.edge_child[~s.inline], 2)
    return NodeSums(s.flat, s.cum, s.leaf_samples, s.leaf_nodes, state)


def _node_pass(t: StackTable, indices: list[int], active: BoolArray) -> list[NodeSums]:
    from heapviz.graph import _groupby  # type: ignore[attr-defined]  # built: untrimmed_nodes checked hashing()

    n_nodes = max(len(t.nodes), 1)
    weights = np.ascontiguousarray(t.values[:, indices])
    node_sums = np.zeros((n_nodes, len(indices)), dtype=weights.dtype)
    raw_counted, raw_state = _groupby.node_pass(
        np.ascontiguousarray(t.ids, dtype=np.int32), np.ascontiguousarray(t.starts, dtype=np.int64),
        np.ascontiguousarray(active, dtype=np.bool_).view(np.uint8),
        np.ascontiguousarray(t.inline, dtype=np.bool_).view(np.uint8), n_nodes, weights, len(indices),
        weights.dtype == np.float64, node_sums)
    columns = [t.weights(i) for i in indices]
    cum = [KeySums(w, n_nodes) for w in columns]
    for j, acc in enumerate(cum):
        acc.values = node_sums[:, j].copy()
    has_cum = np.frombuffer(raw_counted, dtype=np.bool_)
    state = np.frombuffer(raw_state, dtype=np.uint8)
    leaf_samples, leaf_nodes, dicts = node_dicts(t, columns, active, None, cum, has_cum)
    return [NodeSums(flat, c, leaf_samples, leaf_nodes, state) for flat, c in dicts]
