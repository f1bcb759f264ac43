"""Turn a Profile's locations into per-node frames at a granularity.

A node is what pprof calls NodeInfo: the fields the granularity keeps (function name, file,
line, address). The sums over nodes (flat, cum once per sample, edges) are made from these
frames in stacks.py (arrays) and tables.py (pprof's top table).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from heapviz.model import Line, Location, Sample
from heapviz.symbolize.demangle import display_name
from heapviz.symbolize.raw import group_name, unnamed_object

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
        self._frames: dict[tuple[str, str, str, bool, int], Frame] = {}  # see _make

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
        g = opts.granularity
        if g in ("functions", "files"):
            # pprof's `[binary]`: the unnamed addresses of one object file are one node; finer
            # granularities keep each `binary+0xOFFSET`.
            binary = unnamed_object(loc)
            if binary:
                name = group_name(binary)
                return (Frame(NodeInfo(name), name, inline=False),)
        lines = loc.lines if opts.inlines else loc.lines[-1:]
        last = len(lines) - 1
        if g == "addresses":
            return tuple(self._frame(ln, i != last, loc.address) for i, ln in enumerate(lines))
        # a frame depends on the function's names (and the line) only: made once for each, not
        # per location (symbolization gives each location Function objects of its own)
        cache, by_line = self._frames, g == "lines"
        out = []
        for i, ln in enumerate(lines):
            fn = ln.function
            key = (fn.name, fn.system_name, fn.filename, i != last, ln.line if by_line else 0)
            fr = cache.get(key)
            if fr is None:
                fr = cache[key] = self._frame(ln, i != last, 0)
            out.append(fr)
        return tuple(out)

    def _frame(self, ln: Line, inline: bool, address: int) -> Frame:
        fn = ln.function
        name = display_name(fn.name, fn.system_name, self.options.demangle)
        g = self.options.granularity
        if g == "functions":
            node = NodeInfo(name)
        elif g == "files":
            node = NodeInfo("" if fn.filename else name, fn.filename)
        elif g == "lines":
            node = NodeInfo(name, fn.filename, ln.line)
        else:
            node = NodeInfo(name, fn.filename, ln.line, address)
        return Frame(node, fn.name, inline=inline)

    def stack(self, sample: Sample) -> list[Frame]:
        """All frames of a sample, leaf first."""
        out: list[Frame] = []
        for loc in sample.locations:
            out.extend(self.frames(loc))
        return out
