"""Turn a Profile's stacks into per-node frames at a granularity, and flat/cum per node.

A node is what pprof calls NodeInfo: the fields the granularity keeps (function name, file,
line, address). flat goes to the leaf node of each sample; cum counts every node once per
sample, so recursion is not double counted.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, NamedTuple

from heapviz.model import Location, Sample, Value

if TYPE_CHECKING:
    from heapviz.graph.stacks import StackTable
from heapviz.symbolize.demangle import display_name

GRANULARITIES = ("functions", "files", "lines", "addresses")


@dataclass(frozen=True)
class NodeOptions:
    granularity: str = "functions"
    demangle: str = "default"
    inlines: bool = True


class NodeInfo(NamedTuple):
    """A graph node's identity. A NamedTuple, not a dataclass: nodes are hashed millions of
    times on big profiles, and tuple hashing and comparison run in C."""

    name: str
    file: str = ""
    line: int = 0
    address: int = 0

    def printable(self) -> str:
        parts = []
        if self.address:
            parts.append(f"{self.address:016x}")
        if self.name:
            parts.append(self.name)
        if self.line:
            parts.append(f"{self.file}:{self.line}")
        elif self.file:
            parts.append(self.file)
        return " ".join(parts) or "<unknown>"


@dataclass(frozen=True)
class Frame:
    node: NodeInfo
    full_name: str  # the complete demangled name, for tooltips and `full_names`
    inline: bool  # this frame is inlined into the next (outer) frame of the same location


class FrameMapper:
    """Maps locations to their node frames, innermost first, caching per location."""

    def __init__(self, options: NodeOptions) -> None:
        self.options = options
        self._cache: dict[int, tuple[Frame, ...]] = {}
        self._keep: list[Location] = []  # keeps cached objects alive so their ids stay unique

    def frames(self, loc: Location) -> tuple[Frame, ...]:
        # Keyed by object: filters may replace a location with a copy that keeps its id.
        key = id(loc)
        got = self._cache.get(key)
        if got is None:
            got = self._cache[key] = self._make(loc)
            self._keep.append(loc)
        return got

    def _make(self, loc: Location) -> tuple[Frame, ...]:
        opts = self.options
        lines = loc.lines if opts.inlines else loc.lines[-1:]
        out = []
        last = len(lines) - 1
        for i, ln in enumerate(lines):
            fn = ln.function
            name = display_name(fn.name, fn.system_name, opts.demangle)
            g = opts.granularity
            if g == "functions":
                node = NodeInfo(name)
            elif g == "files":
                node = NodeInfo("" if fn.filename else name, fn.filename)
            elif g == "lines":
                node = NodeInfo(name, fn.filename, ln.line)
            else:
                node = NodeInfo(name, fn.filename, ln.line, loc.address)
            out.append(Frame(node, fn.name, inline=i != last))
        return tuple(out)

    def seen_locations(self) -> list[Location]:
        """Every location this mapper has made frames for."""
        return self._keep

    def stack(self, sample: Sample) -> list[Frame]:
        """All frames of a sample, leaf first."""
        out: list[Frame] = []
        for loc in sample.locations:
            out.extend(self.frames(loc))
        return out


@dataclass
class NodeTable:
    flat: dict[NodeInfo, Value] = field(default_factory=lambda: defaultdict(int))
    cum: dict[NodeInfo, Value] = field(default_factory=lambda: defaultdict(int))
    full_names: dict[NodeInfo, set[str]] = field(default_factory=lambda: defaultdict(set))
    # caller -> callee edges; True while every contribution came through an inlined call
    edge_inline: dict[tuple[NodeInfo, NodeInfo], bool] = field(default_factory=dict)
    total: Value = 0  # sum of |value| over all samples (pprof's total)

    def inline_marks(self) -> dict[NodeInfo, str]:
        state: dict[NodeInfo, int] = {}
        for (_, callee), inl in self.edge_inline.items():
            state[callee] = state.get(callee, 0) | (1 if inl else 2)
        return {n: ("(inline)" if v == 1 else "(partial-inline)") for n, v in state.items() if v & 1}


def node_table(samples: list[Sample], index: int, options: NodeOptions, total: Value | None = None) -> NodeTable:
    """flat/cum per node over samples; total defaults to theirs (pass the unfiltered one)."""
    return node_tables(samples, (index,), options, None if total is None else (total,))[index]


def node_tables(samples: list[Sample], indices: tuple[int, ...], options: NodeOptions,
                totals: tuple[Value, ...] | None = None, stacks: StackTable | None = None) -> dict[int, NodeTable]:
    """node_table for several sample types from one stack table (`stacks`: the samples' table at
    `options`, when the caller has made it already).

    The edges behind pprof's "(inline)" marks are every pair of adjacent frames: a callee frame
    inlined into its caller makes an inline edge, a call between locations a direct one.
    """
    from heapviz.graph.stacks import StackTable, node_sums_many

    t = stacks if stacks is not None else StackTable(samples, options)
    nodes = t.nodes
    tables = {}
    for k, (i, s) in enumerate(zip(indices, node_sums_many(t, indices, first_only=False), strict=True)):
        table = NodeTable()
        table.flat.update((nodes[n], v) for n, v in s.flat.items())
        table.cum.update((nodes[n], v) for n, v in s.cum.items())
        table.full_names.update((nodes[n], set(t.full_names[n])) for n in s.cum)
        table.edge_inline.update(((nodes[u], nodes[v]), inl) for (u, v), inl in s.edge_inline.items())
        table.total = sum(abs(x) for x in t.weights(i).tolist()) if totals is None else totals[k]
        tables[i] = table
    return tables
