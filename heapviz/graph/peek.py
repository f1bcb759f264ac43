"""pprof's peek view: for each chosen function, its callers and callees with the weights of the
call graph's edges (each edge counted once per sample, no self edges). No formatting here."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import re
from itertools import pairwise
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar, overload

import numpy as np
import numpy.typing as npt

from heapviz.graph.build import Untrimmed, build, graph_nodes
from heapviz.graph.nodes import NodeInfo, NodeOptions
from heapviz.graph.stacks import StackTable
from heapviz.model import Sample, Value

if TYPE_CHECKING:
    import networkx as nx

T = TypeVar("T")


@dataclass(frozen=True)
class PeekEdge:
    name: str  # the caller's or callee's printable name
    weight: Value
    inline: bool  # every contribution came through an inlined call
    residual: bool = False


class MadeWhenRead(Sequence[T]):
    """A sequence whose items are made when read, one (`_item`) or a slice at a time (`_items`):
    a recursive program's top functions have hundreds of thousands of callers, of which a report
    shows a few. Equal to any sequence of the same items."""

    __slots__ = ()
    noun = "items"

    def _item(self, i: int) -> T:
        raise NotImplementedError

    def _items(self, i: slice) -> Sequence[T]:
        raise NotImplementedError

    @overload
    def __getitem__(self, i: int) -> T: ...

    @overload
    def __getitem__(self, i: slice) -> Sequence[T]: ...

    def __getitem__(self, i: int | slice) -> T | Sequence[T]:
        return self._items(i) if isinstance(i, slice) else self._item(i)

    def __iter__(self) -> Iterator[T]:
        return iter(self._items(slice(None)))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __hash__(self) -> int:
        return hash(tuple(self))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({len(self)} {self.noun})"


class EdgeList(MadeWhenRead[PeekEdge]):
    """A function's callers or callees as arrays (the other end's node ids, the edges' weights
    and flags), each PeekEdge made when read. Equal to a tuple of the same edges."""

    __slots__ = ("_inline", "_names", "_other", "_residual", "_weights")
    noun = "edges"

    def __init__(self, names: Sequence[str], other: npt.NDArray[Any], weights: npt.NDArray[Any],
                 inline: npt.NDArray[np.bool_], residual: npt.NDArray[np.bool_]) -> None:
        self._names, self._other, self._weights, self._inline, self._residual = names, other, weights, inline, residual

    def __len__(self) -> int:
        return len(self._other)

    def _items(self, i: slice) -> tuple[PeekEdge, ...]:
        names = self._names
        return tuple(PeekEdge(names[o], w, inl, r) for o, w, inl, r in zip(
            self._other[i].tolist(), self._weights[i].tolist(), self._inline[i].tolist(),
            self._residual[i].tolist(), strict=True))

    def _item(self, i: int) -> PeekEdge:
        return PeekEdge(self._names[int(self._other[i])], self._weights[i].item(), bool(self._inline[i]),
                        bool(self._residual[i]))


@dataclass(frozen=True)
class PeekEntry:
    name: str
    flat: Value
    cum: Value
    full_names: tuple[str, ...]
    callers: Sequence[PeekEdge]  # heaviest first (a tuple, or an EdgeList)
    callees: Sequence[PeekEdge]


@dataclass(frozen=True)
class PeekResult:
    entries: list[PeekEntry]
    total: Value  # percentages are of this (the unfiltered profile's total)
    nodes: int  # nodes in the graph, before the regex
    warnings: tuple[str, ...] = ()  # for the user, e.g. a regex that matched no function


def _edge_key(e: PeekEdge) -> tuple[float, str]:
    return (-abs(e.weight), e.name)


def peek(samples: Sequence[Sample], index: int, options: NodeOptions, total: Value, regex: str = "",
         sort_cum: bool = False, limit: int = 0, graph: nx.DiGraph | None = None,
         untrimmed: Untrimmed | None = None) -> PeekResult:
    """Functions matching `regex` (searched in the short and full names; all when empty), sorted by
    flat (or cum) like pprof's list, each with its callers and callees."""
    if untrimmed is not None and not regex:
        return peek_untrimmed(untrimmed, total, sort_cum, limit)
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


def peek_untrimmed(u: Untrimmed, total: Value, sort_cum: bool = False, limit: int = 0) -> PeekResult:
    """peek() of every function from the untrimmed graph's sums (the graph Untrimmed.graph would
    make), without making it: the chosen functions' edges are picked and ordered in numpy (a
    recursive program's graph has a million edges, its top functions' lists hundreds of thousands)."""
    t, s_nodes = u.stacks, u.nodes
    nodes = graph_nodes(s_nodes)
    flat = {n: s_nodes.flat.get(n, 0) for n in nodes}
    cum = s_nodes.cum
    first, second = (cum, flat) if sort_cum else (flat, cum)
    printable = [n.printable() for n in t.nodes]
    chosen = sorted(nodes, key=lambda n: (-abs(first[n]), printable[n], -abs(second[n])))
    if limit > 0:
        chosen = chosen[:limit]
    n_nodes = max(len(t.nodes), 1)
    in_graph = np.zeros(n_nodes, dtype=np.bool_)
    in_graph[nodes] = True
    rank = np.full(n_nodes, -1, dtype=np.int64)
    rank[chosen] = np.arange(len(chosen), dtype=np.int64)
    # node ids in the order of their printable names (equal names alike): the edges' tie-break
    by_name = sorted(range(len(t.nodes)), key=printable.__getitem__)
    name_rank = np.zeros(n_nodes, dtype=np.int64)
    for a, b in pairwise(by_name):
        name_rank[b] = name_rank[a] + (printable[a] != printable[b])
    # only the chosen functions' edges are read: a pass that hashes only those, unless made already
    s = u.touching(rank >= 0)
    parent, child = s.edge_parent, s.edge_child
    edges = in_graph[parent] & in_graph[child]
    lists = []
    for at, other in ((child, parent), (parent, child)):  # callers, then callees
        pick = np.flatnonzero(edges & (rank[at] >= 0))
        weight = s.edge_values[pick]
        # by function, heaviest first, then by name, then in the graph's order (a stable sort)
        order = np.lexsort((pick, name_rank[other[pick]], -np.abs(weight), rank[at[pick]]))
        pick = pick[order]
        bounds = np.searchsorted(rank[at[pick]], np.arange(len(chosen) + 1)).tolist()
        ends, weights, inline, residual = other[pick], s.edge_values[pick], s.inline[pick], s.residual[pick]
        lists.append([EdgeList(printable, ends[a:b], weights[a:b], inline[a:b], residual[a:b])
                      for a, b in pairwise(bounds)])
    entries = [PeekEntry(printable[n], flat[n], cum[n], tuple(sorted(t.full_names[n])), callers, callees)
               for n, callers, callees in zip(chosen, *lists, strict=True)]
    return PeekResult(entries, total, len(nodes))
