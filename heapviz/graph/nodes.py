"""Turn a Profile's stacks into per-node frames at a granularity, and flat/cum per node.

A node is what pprof calls NodeInfo: the fields the granularity keeps (function name, file,
line, address). flat goes to the leaf node of each sample; cum counts every node once per
sample, so recursion is not double counted.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import chain
from dataclasses import dataclass, field
from typing import NamedTuple

from heapviz.model import Location, Sample, Value
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
    """flat/cum per node over samples; total defaults to theirs (pass the unfiltered one).

    Hot path for big profiles: each sample's frames are flattened with C-level helpers, cum is
    added once per distinct node of the sample, and edges (for the inline marks) are kept per
    distinct (caller, callee) pair of the sample.
    """
    mapper = FrameMapper(options)
    table = NodeTable()
    flat, cum, edges = table.flat, table.cum, table.edge_inline
    node_cache: dict[int, tuple[NodeInfo, ...]] = {}
    inline_cache: dict[int, tuple[bool, ...]] = {}
    locations: dict[int, Location] = {}

    def nodes_of(loc: Location) -> tuple[NodeInfo, ...]:
        key = id(loc)
        got = node_cache.get(key)
        if got is None:
            frames = mapper.frames(loc)
            got = node_cache[key] = tuple(fr.node for fr in frames)
            inline_cache[key] = tuple(fr.inline for fr in frames)
            locations[key] = loc
        return got

    chain_from = chain.from_iterable
    for s in samples:
        v = s.values[index]
        if v == 0:
            continue
        stack = list(chain_from(map(nodes_of, s.locations)))  # leaf first
        if not stack:
            continue
        flat[stack[0]] += v
        for n in set(stack):
            cum[n] += v
        if len(stack) > 1:
            inl = list(chain_from(inline_cache[id(loc)] for loc in s.locations))
            pairs: dict[tuple[NodeInfo, NodeInfo], bool] = {}
            for callee, caller, inline in zip(stack, stack[1:], inl, strict=False):
                if callee != caller:
                    # pprof: an edge is counted once per sample, with its first (leaf-most) call
                    pairs.setdefault((caller, callee), inline)
            for e, inline in pairs.items():
                edges[e] = edges.get(e, True) and inline
    full = table.full_names
    for loc in locations.values():
        for fr in mapper.frames(loc):
            if fr.node in cum:
                full[fr.node].add(fr.full_name)
    table.total = sum(abs(s.values[index]) for s in samples) if total is None else total
    return table
