"""What the flame-graph and peek sections of a report show, computed once for both writers: the
call tree, and the top functions by cum with their callers and callees as formatted rows."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from heapviz.graph.build import Untrimmed
from heapviz.graph.nodes import NodeOptions
from heapviz.graph.peek import MadeWhenRead, PeekEdge, peek
from heapviz.graph.stacks import StackTable
from heapviz.graph.tree import FlameTree, build_tree
from heapviz.model import Profile, Sample, Value
from heapviz.render.flame import FlameOptions
from heapviz.units import percentage

REPORT_PEEK_FUNCTIONS = 30
REPORT_FLAME = FlameOptions(id_prefix="report-flame", standalone=False)  # the HTML report's flame graph


@dataclass(frozen=True)
class PeekEdgeRow:
    name: str
    weight: int
    weight_text: str
    pct: str  # of the function's cum, as pprof -peek shows it
    inline: bool


class EdgeRows(MadeWhenRead[PeekEdgeRow]):
    """A function's callers or callees as rows, each formatted when read: the HTML report lists
    the first hundred (and the PDF none). Equal to a list of the same rows."""

    noun = "rows"

    def __init__(self, edges: Sequence[PeekEdge], cum: Value, text: Callable[[Value], str]) -> None:
        self._edges, self._cum, self._text = edges, cum, text

    def __len__(self) -> int:
        return len(self._edges)

    def _row(self, e: PeekEdge) -> PeekEdgeRow:
        return PeekEdgeRow(e.name, round(e.weight), self._text(e.weight), percentage(e.weight, self._cum).strip(),
                           e.inline)

    def _item(self, i: int) -> PeekEdgeRow:
        return self._row(self._edges[i])

    def _items(self, i: slice) -> list[PeekEdgeRow]:
        return [self._row(e) for e in self._edges[i]]

    __hash__ = None  # type: ignore[assignment]  # as the list it stands for


@dataclass(frozen=True)
class PeekRow:
    name: str
    full_names: tuple[str, ...]
    flat_text: str
    flat_pct: str
    cum_text: str
    cum_pct: str
    callers: Sequence[PeekEdgeRow]  # EdgeRows: formatted when read
    callees: Sequence[PeekEdgeRow]


def flame_tree(profile: Profile, samples: Sequence[Sample], index: int, options: NodeOptions, title: str,
               stacks: StackTable | None = None, total: Value | None = None) -> FlameTree:
    """The report's call tree, without what its flame graphs are too narrow to draw (`total`:
    profile.total(index), when the caller has it)."""
    vt = profile.sample_types[index]
    total = profile.total(index) if total is None else total
    return build_tree(samples, index, options, total, vt.type, vt.unit, title=title,
                      min_fraction=REPORT_FLAME.keep_fraction(), stacks=stacks, words=profile.profile_kind.words)


def peek_rows(samples: Sequence[Sample], index: int, options: NodeOptions, total: Value,
              fmt: Callable[[Value], str], limit: int = REPORT_PEEK_FUNCTIONS,
              untrimmed: Untrimmed | None = None) -> list[PeekRow]:
    """`untrimmed`: the untrimmed graph's sums (CallGraph.untrimmed), which spare building the graph."""
    result = peek(samples, index, options, total, sort_cum=True, limit=limit, untrimmed=untrimmed)
    texts: dict[Value, str] = {}  # a big graph's edges repeat a few weights many times

    def text(v: Value) -> str:
        got = texts.get(v)
        if got is None:
            got = texts[v] = fmt(v)
        return got

    def edges(items: Sequence[PeekEdge], cum: Value) -> EdgeRows:
        return EdgeRows(items, cum, text)

    return [PeekRow(e.name, e.full_names, fmt(e.flat), percentage(e.flat, total).strip(), fmt(e.cum),
                    percentage(e.cum, total).strip(), edges(e.callers, e.cum), edges(e.callees, e.cum))
            for e in result.entries]
