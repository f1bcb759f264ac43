"""pprof's peek view: for each chosen function, its callers and callees with the weights of the
call graph's edges (each edge counted once per sample, no self edges). No formatting here."""

from __future__ import annotations

from collections.abc import Sequence

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from heapviz.graph.build import build
from heapviz.graph.nodes import NodeInfo, NodeOptions
from heapviz.graph.stacks import StackTable
from heapviz.model import Sample, Value

if TYPE_CHECKING:
    import networkx as nx


@dataclass(frozen=True)
class PeekEdge:
    name: str  # the caller's or callee's printable name
    weight: Value
    inline: bool  # every contribution came through an inlined call
    residual: bool = False


@dataclass(frozen=True)
class PeekEntry:
    name: str
    flat: Value
    cum: Value
    full_names: tuple[str, ...]
    callers: tuple[PeekEdge, ...]  # heaviest first
    callees: tuple[PeekEdge, ...]


@dataclass(frozen=True)
class PeekResult:
    entries: list[PeekEntry]
    total: Value  # percentages are of this (the unfiltered profile's total)
    nodes: int  # nodes in the graph, before the regex
    warnings: tuple[str, ...] = ()  # for the user, e.g. a regex that matched no function


def _edge_key(e: PeekEdge) -> tuple[float, str]:
    return (-abs(e.weight), e.name)


def peek(samples: Sequence[Sample], index: int, options: NodeOptions, total: Value, regex: str = "",
         sort_cum: bool = False, limit: int = 0, graph: nx.DiGraph | None = None) -> PeekResult:
    """Functions matching `regex` (searched in the short and full names; all when empty), sorted by
    flat (or cum) like pprof's list, each with its callers and callees."""
    # `graph`: the untrimmed graph of these samples when the caller has built it already
    g = graph if graph is not None else build(StackTable(samples, options), index)
    rx = re.compile(regex) if regex else None

    def matches(n: NodeInfo) -> bool:
        if rx is None:
            return True
        return bool(rx.search(n.printable()) or any(rx.search(f) for f in g.nodes[n]["full_names"]))

    def key(n: NodeInfo) -> tuple[float, str, float]:
        a = g.nodes[n]
        first, second = ("cum", "flat") if sort_cum else ("flat", "cum")
        return (-abs(a[first]), n.printable(), -abs(a[second]))

    chosen = sorted((n for n in g.nodes if matches(n)), key=key)
    # Worded like the filters' warnings (graph/filters.py): an empty result is not an error,
    # but the user should know it came from the regex and not from an empty profile.
    warnings = (f"--regex={regex} matched nothing",) if rx is not None and not chosen else ()
    if limit > 0:
        chosen = chosen[:limit]
    entries = []
    for n in chosen:
        a = g.nodes[n]
        callers = sorted((PeekEdge(u.printable(), e["weight"], e["inline"], e["residual"])
                          for u, _, e in g.in_edges(n, data=True)), key=_edge_key)
        callees = sorted((PeekEdge(v.printable(), e["weight"], e["inline"], e["residual"])
                          for _, v, e in g.out_edges(n, data=True)), key=_edge_key)
        entries.append(PeekEntry(n.printable(), a["flat"], a["cum"], tuple(sorted(a["full_names"])),
                                 tuple(callers), tuple(callees)))
    return PeekResult(entries, total, g.number_of_nodes(), warnings)
