"""What a leak report shows, as plain data: ReportData and its rows, made once by collect.py and
laid out by the HTML and PDF writers; and the report's options.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from heapviz.graph.build import GraphOptions
from heapviz.graph.tree import FlameTree
from heapviz.growth import Collapse, Suspect
from heapviz.graph.nodes import NodeOptions
from heapviz.kinds import HEAP, Words
from heapviz.model import Timeline, Value
from heapviz.report.callers import PeekRow
from heapviz.report.sites import LeakSite
from heapviz.report.sources import SiteSource, SourceSettings
from heapviz.units import count_text, dimension, format_value
from heapviz.wrappers import Wrapper, WrapperOptions

if TYPE_CHECKING:
    from heapviz.fleet import GroupRow
    from heapviz.report.explorer_data import ExplorerInput


@dataclass(frozen=True)
class TableRow:
    name: str
    full_names: tuple[str, ...]
    flat: int
    cum: int
    flat_text: str
    cum_text: str
    flat_pct: str
    sum_pct: str
    cum_pct: str


@dataclass(frozen=True)
class TopTable:
    key: str  # stable id, e.g. "inuse_space-flat"
    title: str
    sample_type: str
    sort: str  # "flat" or "cum"
    total_text: str
    rows: list[TableRow]
    omitted: int  # rows beyond MAX_TABLE_ROWS


@dataclass(frozen=True)
class BinaryRow:
    file: str
    symbol_file: str
    debug_file: str
    build_id: str
    addresses: int
    resolved: int
    status: str


@dataclass(frozen=True)
class DumpRow:
    file: str
    sequence: int | None
    inuse_space: int
    inuse_objects: int
    label: str = ""  # what charts call it: the file's name, or "#9" when a file holds several


@dataclass(frozen=True)
class Change:
    kind: str  # "new" (not a suspect in the previous run) or "grown" (grew more than then)
    function: str
    stack: tuple[str, ...]
    growth_bytes: int
    previous_growth_bytes: int | None


@dataclass(frozen=True)
class Threshold:
    name: str  # "growth" or "inuse"
    limit: int
    value: int
    exceeded: bool


@dataclass
class ReportData:
    title: str
    program: str
    program_path: str
    profiles: list[str]
    kind: str
    header: str
    sequence: str
    sample_type: str
    sample_unit: str
    totals: list[tuple[str, str, int]]  # (sample type, formatted, exact)
    header_totals: list[tuple[str, str]]
    estimated: bool
    sampling: str
    period: int
    version: str
    options: list[str]
    graph_dot: str
    graph_legend: list[str]
    graph_nodes: int
    tables: list[TopTable]
    leaks: list[LeakSite]
    leak_sites_total: int
    binaries: list[BinaryRow]
    warnings: list[str]
    comments: list[str]
    dumps: list[DumpRow] = field(default_factory=list)
    mode: str = "single"  # single, merged, series or base
    base: str = ""
    suspects: list[Suspect] = field(default_factory=list)  # the first MAX_SUSPECTS, and all that grew
    suspect_stacks: int = 0  # stacks ranked in all
    growth_dot: str = ""  # call graph of last minus first dump (series)
    # Graphviz's layouts, made once for both writers by report/layout.py: {"svg": ..., "pdf": ...},
    # or {} when the layout failed or timed out (the report then says so instead of the graph).
    graph_images: dict[str, bytes] = field(default_factory=dict)
    growth_images: dict[str, bytes] = field(default_factory=dict)
    growth_legend: list[str] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    previous: str = ""
    thresholds: list[Threshold] = field(default_factory=list)
    flame: FlameTree | None = None  # call tree of the shown samples (widths from NEW with --base)
    flame_unit: str = ""  # display unit for the flame graph's values
    peek: list[PeekRow] = field(default_factory=list)  # top functions by cum with callers/callees
    timeline: Timeline | None = None  # the run's totals over time (massif), for a chart
    unit: str = "auto"  # the unit values are shown in: pprof's auto unless --unit forced one
    words: Words = HEAP.words  # the profile kind's words (heap: "Leak sites", CPU: "Hot paths")
    growth_unit: str = "bytes"  # the sample unit of the growth values (dumps, suspects): heap bytes, CPU ns
    sample_units: dict[str, str] = field(default_factory=dict)  # each sample type's unit, as in the profile
    growth_types: tuple[str, str] = HEAP.growth_types  # the kind's (value, count) types: what dumps hold
    # (file name, format) of every -o output of the run, file names without their folder: what
    # the Markdown and JUnit summaries point to as the full reports. Set by the command line.
    outputs: list[tuple[str, str]] = field(default_factory=list)
    # the HTML explorer's input (the shown profile's samples and the report's options), or None
    # for a static report; set by the command line, embedded by report/html.py
    explorer: ExplorerInput | None = None
    # a fleet's --group-by groups (largest first) and the inputs it skipped (input, why); set by
    # the command line
    groups: list[GroupRow] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    # the code of the largest leak sites, by rank (report/sources.py); sites without code are absent
    site_sources: dict[int, SiteSource] = field(default_factory=dict)
    # the allocation wrappers found in the profile (largest share first), the --hide regex that
    # removes them, a series' collapsed last dump, and notes on what the profiler cannot see
    wrappers: list[Wrapper] = field(default_factory=list)
    wrappers_hide: str = ""
    collapse: Collapse | None = None
    notes: list[str] = field(default_factory=list)

    def bytes_text(self, v: Value, signed: bool = False) -> str:
        """A growth value (heap: bytes) as every figure of the report shows it (`35.71kB`, CPU
        `1.20s`); `signed`: `+35.71kB`."""
        text = format_value(v, self.growth_unit, self.unit)
        return "+" + text if signed and v > 0 else text

    def objects_text(self, v: Value) -> str:
        """A count with the kind's noun: `3 objects` (heap), `3 samples` (CPU)."""
        return count_text(v, self.words.objects)

    def is_time(self, sample_type: str) -> bool:
        """Whether a sample type's values are times: shown in s/ms only, their exact nanoseconds
        left to a tooltip (a raw count of nanoseconds is not for people)."""
        return dimension(self.sample_units.get(sample_type, "")) == "time"


@dataclass(frozen=True)
class ReportOptions:
    sample_index: int
    node_options: NodeOptions = NodeOptions()
    graph: GraphOptions = GraphOptions()
    command_line: tuple[str, ...] = ()
    filters: tuple[str, ...] = ()
    unit: str = "auto"  # report_unit(--unit)
    layout_timeout_s: float = 120.0
    sources: SourceSettings = SourceSettings()  # --source-sites, --source-lines, --source-path, --trim-path
    wrappers: WrapperOptions = WrapperOptions()  # --alloc-wrappers, --no-alloc-wrappers
    peek: bool = True  # callers and callees of the top functions: the HTML report's; a PDF has none
