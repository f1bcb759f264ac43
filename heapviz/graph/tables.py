"""pprof's flat/cum table per node (what `top` prints and the report's tables show), from the
stack table's sums: flat at each sample's leaf, cum once per node per sample, and the
caller -> callee edges behind pprof's "(inline)" marks."""

from __future__ import annotations

from collections.abc import Sequence

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from heapviz.graph.nodes import NodeInfo, NodeOptions
from heapviz.graph.untrimmed import untrimmed_nodes
from heapviz.graph.stacks import StackTable
from heapviz.model import Sample, Value


@dataclass
class NodeTable:
    flat: dict[NodeInfo, Value] = field(default_factory=lambda: defaultdict(int))
    cum: dict[NodeInfo, Value] = field(default_factory=lambda: defaultdict(int))
    full_names: dict[NodeInfo, set[str]] = field(default_factory=lambda: defaultdict(set))
    # per callee, of the edges into it: 1 if one is inlined at every occurrence, | 2 if one is
    # not (a million edges in a recursive program's graph are reduced to this in numpy)
    callee_inline: dict[NodeInfo, int] = field(default_factory=dict)
    total: Value = 0  # sum of |value| over all samples (pprof's total)

    def inline_marks(self) -> dict[NodeInfo, str]:
        return {n: ("(inline)" if v == 1 else "(partial-inline)") for n, v in self.callee_inline.items() if v & 1}


def node_table(samples: Sequence[Sample], index: int, options: NodeOptions, total: Value | None = None) -> NodeTable:
    """flat/cum per node over samples; total defaults to theirs (pass the unfiltered one)."""
    return node_tables(samples, (index,), options, None if total is None else (total,))[index]


def node_tables(samples: Sequence[Sample], indices: tuple[int, ...], options: NodeOptions,
                totals: tuple[Value, ...] | None = None, stacks: StackTable | None = None) -> dict[int, NodeTable]:
    """node_table for several sample types from one stack table (`stacks`: the samples' table at
    `options`, when the caller has made it already).

    The edges behind pprof's "(inline)" marks are every pair of adjacent frames: a callee frame
    inlined into its caller makes an inline edge, a call between locations a direct one.
    """
    t = stacks if stacks is not None else StackTable(samples, options)
    nodes = t.nodes
    tables = {}
    for k, (i, s) in enumerate(zip(indices, untrimmed_nodes(t, indices), strict=True)):
        table = NodeTable()
        table.flat.update((nodes[n], v) for n, v in s.flat.items())
        table.cum.update((nodes[n], v) for n, v in s.cum.items())
        table.full_names.update((nodes[n], set(t.full_names[n])) for n in s.cum)
        table.callee_inline.update((nodes[c], v) for c, v in zip(np.flatnonzero(s.callee_state).tolist(),
                                                                 s.callee_state[s.callee_state != 0].tolist(),
                                                                 strict=True))
        table.total = sum(abs(x) for x in t.weights(i).tolist()) if totals is None else totals[k]
        tables[i] = table
    return tables
