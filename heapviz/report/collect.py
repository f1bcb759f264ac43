"""Collect everything a leak report shows into one ReportData; the HTML and PDF writers only
lay it out. Numbers are computed here once and never again.
"""

from __future__ import annotations

from collections.abc import Sequence

import heapq
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from heapviz import __version__
from heapviz.graph.build import CallGraph, GraphOptions, trimmed_graph
from heapviz.graph.tree import FlameTree
from heapviz.growth import Collapse, Suspect, collapse_of, suspect_options, suspects
from heapviz.graph.nodes import FrameMapper, NodeOptions
from heapviz.graph.tables import NodeTable, node_tables
from heapviz.graph.arrays import IntArray, factorize_rows, index_of, sums
from heapviz.graph.stacks import StackTable
from heapviz.kinds import HEAP, Words
from heapviz.model import Profile, Sample, Timeline, Value, ValueType, main_mapping, profile_title
from heapviz.render.dot import RenderOptions, legend_lines, to_dot
from heapviz.report.callers import PeekRow, flame_tree, peek_graph, peek_rows
from heapviz.report.sources import SiteSource, SourceSettings, site_sources
from heapviz.sample_table import SampleTable
from heapviz.symbolize import MappingReport
from heapviz.text import TopOptions, top_rows
from heapviz.units import choose_unit, count_text, dimension, format_value, percentage, report_unit
from heapviz.wrappers import NO_WRAPPERS, Wrapper, WrapperOptions, Wrappers, cut_rows, detect, hidden_allocations

if TYPE_CHECKING:
    from heapviz.fleet import GroupRow
    from heapviz.report.explorer_data import ExplorerInput

MAX_TABLE_ROWS = 300
MAX_LEAK_SITES = 50
MAX_SUSPECTS = 100  # in the JSON summary; the HTML and PDF reports show 30


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


# Where code that is not the user's own lives: the C/C++ runtime's headers and system libraries.
_SYSTEM_DIRS = ("/usr/", "/lib/", "/lib64/", "/lib32/")
_RUNTIME_PREFIXES = ("std::", "__gnu_cxx::", "__cxxabiv1::", "__libc_", "__GI_", "_dl_", "_start")


def is_user_code(function: str, file: str, mapping_path: str) -> bool:
    """Whether a frame is in the user's own code: symbolized to a file and line, not in a system
    library, a system header or the C/C++ runtime (glibc's own sources have relative paths)."""
    if not file or function.startswith(_RUNTIME_PREFIXES):
        return False
    if mapping_path.startswith(_SYSTEM_DIRS) or file.startswith(_SYSTEM_DIRS):
        return False
    return not file.startswith(("./", "../"))


@dataclass(frozen=True)
class Frame:
    function: str
    full_name: str
    file: str
    line: int
    inline: bool
    binary: str
    user: bool = False  # in the user's own code (is_user_code)

    @property
    def location(self) -> str:
        if self.file:
            return f"{self.file}:{self.line}" if self.line else self.file
        return f"[{self.binary}]" if self.binary else ""


@dataclass(frozen=True)
class LeakSite:
    rank: int
    value: int  # of the report's sample type
    value_text: str
    pct: str
    bytes: int | None
    objects: int | None
    frames: list[Frame]  # leaf first
    objects_text: str = ""  # "1 object", "3 objects"
    bytes_text: str = ""  # in the report's unit
    wrappers: tuple[Frame, ...] = ()  # the allocation wrapper frames cut from the leaf, leaf first

    @property
    def user_frame(self) -> Frame | None:
        """The first frame, from the leaf, in the user's own code: where to start reading."""
        return next((f for f in self.frames if f.user), None)


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


def _table(profile: Profile, table: NodeTable, index: int, opts: ReportOptions, sort_cum: bool) -> TopTable:
    vt = profile.sample_types[index]
    result = top_rows(table, TopOptions(sort_cum=sort_cum))
    unit = choose_unit(vt.unit, opts.unit, ((r.flat, r.cum) for r in result.rows), result.total)
    rows = []
    running: Value = 0
    for r in result.rows:
        running += r.flat
        rows.append(TableRow(
            name=r.label, full_names=r.full_names, flat=round(r.flat), cum=round(r.cum),
            flat_text=format_value(r.flat, vt.unit, unit), cum_text=format_value(r.cum, vt.unit, unit),
            flat_pct=percentage(r.flat, result.total).strip(), sum_pct=percentage(running, result.total).strip(),
            cum_pct=percentage(r.cum, result.total).strip(),
        ))
    sort = "cum" if sort_cum else "flat"
    return TopTable(
        key=f"{vt.type}-{sort}", title=f"{vt.type} by {sort}", sample_type=vt.type, sort=sort,
        total_text=format_value(result.total, vt.unit, unit), rows=rows[:MAX_TABLE_ROWS],
        omitted=max(0, len(rows) - MAX_TABLE_ROWS),
    )


def _leak_sites(profile: Profile, stacks: StackTable, index: int, opts: ReportOptions, total: Value,
                unit: str, wrappers: Wrappers = NO_WRAPPERS) -> tuple[list[LeakSite], int]:
    unit_bytes = report_unit(opts.unit)
    words = profile.profile_kind.words
    """Distinct symbolized stacks (function, file, line of every frame), largest first."""
    mapper = FrameMapper(NodeOptions(granularity="lines", demangle=opts.node_options.demangle,
                                     inlines=opts.node_options.inlines))
    names = [vt.type for vt in profile.sample_types]
    value_type, count_type = profile.profile_kind.growth_types
    i_bytes = names.index(value_type) if value_type in names else None
    i_objs = names.index(count_type) if count_type in names else None
    # Each distinct location's frames are interned as a small int (equal frames, equal ids), so
    # that a stack is a tuple of ints: cheap to hash on profiles with hundreds of thousands of samples.
    frame_ids: dict[tuple[Frame, ...], int] = {}
    of_location = []
    for loc in stacks.locations.locations:
        binary = loc.mapping.basename if loc.mapping is not None else ""
        path = loc.mapping.file if loc.mapping is not None else ""
        frames = tuple(Frame(fr.node.name, fr.full_name, fr.node.file, fr.node.line, fr.inline, binary,
                             is_user_code(fr.full_name, fr.node.file, path))
                       for fr in mapper.frames(loc))
        of_location.append(frame_ids.setdefault(frames, len(frame_ids)))
    # each sample's stack of frame ids (leaf first), numbered; then the stacks of counted samples
    table = stacks.locations
    frame_rows = np.asarray(of_location, dtype=np.int64)[table.loc_index]
    starts = table.starts
    # keyed below the allocation wrappers: a location cut partway stands for its frames left
    frame_rows, starts, cut = _below_wrappers(frame_rows, starts, frame_ids, wrappers)
    frames_by_id = list(frame_ids)
    stack_of, _ = factorize_rows(frame_rows, starts)
    w = stacks.weights(index)
    wanted = np.flatnonzero(w != 0)
    _, first, groups = index_of(stack_of[wanted])
    n = len(first)
    value = sums(groups, w[wanted], n) if n else []
    space = sums(groups, stacks.weights(i_bytes)[wanted], n) if n and i_bytes is not None else [0] * n
    objects = sums(groups, stacks.weights(i_objs)[wanted], n) if n and i_objs is not None else [0] * n
    vt = profile.sample_types[index]
    vt_space = profile.sample_types[i_bytes] if i_bytes is not None else vt
    # the largest, ties broken by the stack's frame ids: only stacks that can make the cut need
    # their ids as a tuple (in floats a few more may look tied: still only candidates)
    candidates: list[int] | range = range(n)
    if n > MAX_LEAK_SITES:
        size = np.abs(np.asarray(value, dtype=np.float64))
        candidates = np.flatnonzero(size >= np.partition(size, n - MAX_LEAK_SITES)[n - MAX_LEAK_SITES]).tolist()

    def key_of(g: int) -> tuple[int, ...]:
        s = int(wanted[first[g]])
        return tuple(frame_rows[starts[s]:starts[s + 1]].tolist())

    ordered = heapq.nsmallest(MAX_LEAK_SITES, ((abs(value[g]), key_of(g), g) for g in candidates),
                              key=lambda vkg: (-vkg[0], vkg[1]))
    sites = []
    for rank, (_, key, g) in enumerate(ordered, 1):
        v = value[g]
        sites.append(LeakSite(
            rank=rank, value=round(v), value_text=format_value(v, vt.unit, unit),
            pct=percentage(v, total).strip(), bytes=round(space[g]) if i_bytes is not None else None,
            objects=round(objects[g]) if i_objs is not None else None,
            frames=[f for k in key for f in frames_by_id[k]],
            objects_text=count_text(objects[g], words.objects) if i_objs is not None else "",
            bytes_text=format_value(space[g], vt_space.unit, unit_bytes) if i_bytes is not None else "",
            wrappers=_cut_frames(table, of_location, frames_by_id, int(wanted[first[g]]), int(cut[wanted[first[g]]])),
        ))
    return sites, n


def _below_wrappers(rows: IntArray, starts: IntArray, frame_ids: dict[tuple[Frame, ...], int],
                    wrappers: Wrappers) -> tuple[IntArray, IntArray, IntArray]:
    """Stacks of interned frame tuples with their leading wrapper frames cut (wrappers.cut_rows);
    a tuple cut partway is interned as what is left of it."""
    if not wrappers.found and not wrappers.names:
        return rows, starts, np.zeros(len(starts) - 1, dtype=np.int64)
    tuples = list(frame_ids)

    def trim(k: int, drop: int) -> int:
        return frame_ids.setdefault(tuples[k][drop:], len(frame_ids))

    return cut_rows(rows, starts, [tuple(f.function for f in t) for t in tuples], wrappers, trim)


def _cut_frames(table: SampleTable, of_location: list[int], frames_by_id: list[tuple[Frame, ...]],
                sample: int, cut: int) -> tuple[Frame, ...]:
    """The `cut` wrapper frames of a sample, leaf first."""
    if not cut:
        return ()
    ids = table.loc_index[table.starts[sample]:table.starts[sample + 1]].tolist()
    return tuple(f for k in ids for f in frames_by_id[of_location[k]])[:cut]


def _graph_dot(profile: Profile, samples: Sequence[Sample], index: int, opts: ReportOptions, total: Value,
               header: list[str], graph_id: str, stacks: StackTable | None = None) -> tuple[str, list[str], CallGraph]:
    vt = profile.sample_types[index]
    cg = trimmed_graph(samples, index, opts.node_options, opts.graph, total, profile.size_pairs, stacks)
    unit = choose_unit(vt.unit, opts.unit, ((cg.flat(n), cg.cum(n)) for n in cg.order), cg.total)

    def fmt(v: Value) -> str:
        return format_value(v, vt.unit, unit)

    legend = legend_lines(cg, header, fmt)
    title = profile_title(profile)
    return to_dot(cg, legend, fmt, title, RenderOptions(graph_id=graph_id)), legend, cg


def legend_header(profile: Profile, vt: ValueType, filters: tuple[str, ...]) -> list[str]:
    """The first lines of a graph's legend: program, profile, sample type, base, filters."""
    main = main_mapping(profile)
    sources = profile.source.split(", ")
    header = [f"File: {main.basename}"] if main is not None else []
    header.append("Profile: " + ", ".join(os.path.basename(s) for s in sources))
    header.append(f"Type: {vt.type}" + (" (estimated from samples)" if profile.scaled else ""))
    if profile.base_source:
        header.append(f"Base: {os.path.basename(profile.base_source)} (values are new minus base;")
        header.append("  percentages are of the total absolute change)")
    if filters:
        header.append("Active filters:")
        header.extend(f"   {f[:80]}" for f in filters)
    return header


def _dump_label(p: Profile) -> str:
    """A short label for one of several profiles of one file (massif's snapshots): `#9`, `#28 peak`."""
    if p.sequence is None:
        return p.sequence_text or os.path.basename(p.source)
    return f"#{p.sequence}" + (" peak" if p.peak else "")


def _growth_unit(profile: Profile) -> str:
    name = profile.profile_kind.growth_types[0]
    return next((vt.unit for vt in profile.sample_types if vt.type == name), "bytes")


def compare_previous(current: list[Suspect], previous: dict[str, object]) -> list[Change]:
    """What got worse since a previous run's summary: new growing stacks and stacks that grew more."""
    before: dict[tuple[str, ...], int] = {}
    items = previous.get("suspects")
    for s in items if isinstance(items, list) else []:
        if isinstance(s, dict) and isinstance(s.get("stack"), list):
            before[tuple(str(x) for x in s["stack"])] = int(s.get("growth_bytes", 0) or 0)
    changes = []
    for s in current:
        if s.growth_bytes <= 0:
            continue
        if s.stack not in before:
            changes.append(Change("new", s.function, s.stack, s.growth_bytes, None))
        elif s.growth_bytes > before[s.stack]:
            changes.append(Change("grown", s.function, s.stack, s.growth_bytes, before[s.stack]))
    return changes


def _sample_totals(profile: Profile, samples: Sequence[Sample], stacks: StackTable) -> list[Value]:
    """profile.total(i) of every sample type, each summed once: from the stack table's value
    columns when they are the profile's own samples in int64 (the same ints; floats are left to
    profile.total, whose order of additions they depend on)."""
    values = stacks.values
    n = len(profile.sample_types)
    if (samples is profile.samples and len(samples) and values.dtype == np.int64 and values.shape[1] == n
            and float(np.abs(values.astype(np.float64)).max()) * len(samples) < 2.0**62):
        return [int(v) for v in np.abs(values).sum(axis=0).tolist()]
    return [profile.total(i) for i in range(n)]


def collect(profile: Profile, samples: Sequence[Sample], opts: ReportOptions, reports: list[MappingReport],
            dumps: list[Profile] | None = None, growth: Profile | None = None, mode: str = "single",
            previous: tuple[str, dict[str, object]] | None = None, flame: FlameTree | None = None,
            base: str = "") -> ReportData:
    """Everything the report shows, computed once from the (filtered) samples. `flame` is the
    call tree when the caller built it (with --base: widths from the new profile). `base` names
    the --base profile of a series, whose first dump it then is."""
    index = opts.sample_index
    vt = profile.sample_types[index]
    kind = profile.profile_kind  # which sections the report has (kinds.SECTIONS), and their words
    words = kind.words
    main = main_mapping(profile)
    program = main.basename if main is not None else ""
    sources = profile.source.split(", ")
    # the samples' stacks as arrays, made once for the graph, the tables and the flame graph
    stacks = StackTable(samples, opts.node_options)
    sample_totals = _sample_totals(profile, samples, stacks)
    total = sample_totals[index]
    dot, legend, cg = _graph_dot(profile, samples, index, opts, total, legend_header(profile, vt, opts.filters),
                                 "callgraph", stacks)
    unit = choose_unit(vt.unit, opts.unit, ((cg.flat(n), cg.cum(n)) for n in cg.order), cg.total)
    dumps = dumps or [profile]
    shared = {p.source for p in dumps if sum(q.source == p.source for q in dumps) > 1}

    def total_of(p: Profile, name: str) -> Value:  # Profile.total_of, each of this profile's summed once
        if p is not profile:
            return p.total_of(name)
        return next((sample_totals[i] for i, t in enumerate(p.sample_types) if t.type == name), 0)

    dump_rows = [DumpRow(p.source, p.sequence, round(total_of(p, p.profile_kind.growth_types[0])),
                         round(total_of(p, p.profile_kind.growth_types[1])),
                         _dump_label(p) if p.source in shared else os.path.basename(p.source))
                 for p in dumps]
    same = suspect_options(opts.node_options) == opts.node_options
    wrappers = NO_WRAPPERS
    if kind.shows("wrappers"):
        wrappers = _wrappers(profile, samples, stacks if same else None, dumps, [d.inuse_space for d in dump_rows],
                             opts)
    ranked, suspect_stacks = list[Suspect](), 0
    if kind.shows("suspects"):
        ranked, suspect_stacks = suspects(dumps, opts.node_options,
                                          [stacks if same and p.samples is samples else None for p in dumps],
                                          limit=MAX_SUSPECTS, wrappers=wrappers)
    growth_dot, growth_legend = "", list[str]()
    if growth is not None and mode == "series" and kind.shows("growth_graph"):
        try:
            gi = growth.sample_index(growth.profile_kind.growth_types[0])
        except KeyError:
            gi = 0
        gvt = growth.sample_types[gi]
        growth_dot, growth_legend, _ = _graph_dot(growth, growth.samples, gi, opts, growth.total(gi),
                                                  legend_header(growth, gvt, ()), "growthgraph")
    changes: list[Change] = []
    if previous is not None:
        changes = compare_previous(ranked, previous[1])
    tables = []
    wanted = [vt.type] + [t for t in profile.profile_kind.growth_types if t and t != vt.type]
    indices = tuple(profile.sample_index(t) for t in wanted if t in [v.type for v in profile.sample_types])
    # one pass over the samples for every sample type; each table serves both orders
    by_index = node_tables(samples, indices, opts.node_options, tuple(sample_totals[i] for i in indices), stacks)
    for name in wanted:
        try:
            i = profile.sample_index(name)
        except KeyError:
            continue
        for sort_cum in (False, True):
            tables.append(_table(profile, by_index[i], i, opts, sort_cum))

    totals = []
    for i, t in enumerate(profile.sample_types):
        v = sample_totals[i]
        u = choose_unit(t.unit, "auto", [], v)
        totals.append((t.type, format_value(v, t.unit, u if dimension(t.unit) != "count" else ""), round(v)))
    header_totals = []
    for t in profile.sample_types:
        if t.type in profile.header_totals:
            hv = profile.header_totals[t.type]
            header_totals.append((t.type, format_value(hv, t.unit, "auto" if dimension(t.unit) != "count" else "")))

    leaks, nsites = _leak_sites(profile, stacks, index, opts, total, unit, wrappers)
    site_code = site_sources(leaks, stacks, index, opts.node_options, opts.sources,
                             lambda v: format_value(v, vt.unit, unit)) if kind.shows("source") else {}
    seq_text = profile.sequence_text if len(sources) == 1 else ""
    binaries = [BinaryRow(r.file, r.symbol_file, r.debug_file, r.build_id, r.addresses, r.resolved, r.status)
                for r in reports] if kind.shows("binaries") else []
    return ReportData(
        title=f"{words.title} of {program}" if program else f"{words.title} {os.path.basename(sources[0])}",
        words=words,
        program=program, program_path=main.file if main is not None else "",
        profiles=sources, kind=profile.kind, header=profile.header, sequence=seq_text,
        sample_type=vt.type, sample_unit=vt.unit, totals=totals, header_totals=header_totals,
        estimated=profile.scaled, sampling=profile.sampling, period=profile.period,
        version=__version__, options=list(opts.command_line),
        graph_dot=dot, graph_legend=legend, graph_nodes=len(cg.order),
        tables=tables, leaks=leaks, leak_sites_total=nsites, binaries=binaries,
        warnings=list(profile.warnings), comments=list(profile.comments), dumps=dump_rows,
        mode=mode, base=base or profile.base_source, suspects=ranked, suspect_stacks=suspect_stacks,
        growth_dot=growth_dot, growth_legend=growth_legend,
        changes=changes, previous=previous[0] if previous else "",
        flame=(flame or flame_tree(profile, samples, index, opts.node_options,
                                   f"Flame graph of {program or os.path.basename(sources[0])}", stacks, total))
        if kind.shows("flame") else None,
        flame_unit=unit, unit=report_unit(opts.unit), timeline=dumps[-1].timeline if kind.shows("timeline") else None,
        growth_unit=_growth_unit(profile),
        sample_units={t.type: t.unit for t in profile.sample_types}, growth_types=profile.profile_kind.growth_types,
        peek=peek_rows(samples, index, opts.node_options, total, lambda v: format_value(v, vt.unit, unit),
                       graph=peek_graph(cg)) if kind.shows("peek") else [],
        site_sources=site_code,
        wrappers=list(wrappers.found), wrappers_hide=wrappers.hide_regex(),
        collapse=collapse_of([d.inuse_space for d in dump_rows]) if mode == "series" else None,
        notes=hidden_allocations(profile) if kind.shows("hidden") else [],
    )


def _wrappers(profile: Profile, samples: Sequence[Sample], stacks: StackTable | None, dumps: list[Profile],
              totals: list[int], opts: ReportOptions) -> Wrappers:
    """The allocation wrappers of a heap profile's stacks, found in the shown samples, or in a
    series' largest dump by `totals` (a collapsed last dump holds little)."""
    value_type, count_type = profile.profile_kind.growth_types
    largest = dumps[max(range(len(dumps)), key=lambda i: (abs(totals[i]), -i))]
    if largest is not profile and len(dumps) > 1:
        profile, samples, stacks = largest, largest.samples, None
    names = [t.type for t in profile.sample_types]
    if value_type not in names:
        return NO_WRAPPERS
    table = stacks if stacks is not None else StackTable(samples, suspect_options(opts.node_options))
    return detect(table, names.index(value_type), names.index(count_type) if count_type in names else None,
                  opts.wrappers)

