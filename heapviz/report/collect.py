"""Collect everything a leak report shows into one ReportData; the HTML and PDF writers only
lay it out. Numbers are computed here once and never again.
"""

from collections.abc import Sequence

import os

import numpy as np

from heapviz import __version__
from heapviz.graph.build import CallGraph, trimmed_graph
from heapviz.graph.tree import FlameTree
from heapviz.growth import Suspect, collapse_of, suspect_options, suspects
from heapviz.graph.tables import NodeTable, node_tables
from heapviz.graph.stacks import StackTable
from heapviz.model import Profile, Sample, Value, ValueType, main_mapping, profile_title
from heapviz.render.dot import RenderOptions, legend_lines, to_dot
from heapviz.report.callers import flame_tree, peek_rows
from heapviz.report.data import (BinaryRow, Change, DumpRow, ReportData, ReportOptions, TableRow, Threshold,
                                 TopTable)
from heapviz.report.sites import MAX_LEAK_SITES, Frame, LeakSite, is_user_code, leak_sites, report_wrappers
from heapviz.report.sources import site_sources
from heapviz.symbolize import MappingReport
from heapviz.text import TopOptions, top_rows
from heapviz.units import choose_unit, format_value, percentage, report_unit, dimension
from heapviz.wrappers import NO_WRAPPERS, hidden_allocations

__all__ = ["MAX_LEAK_SITES", "MAX_SUSPECTS", "MAX_TABLE_ROWS", "BinaryRow", "Change", "DumpRow", "Frame",
           "LeakSite", "ReportData", "ReportOptions", "TableRow", "Threshold", "TopTable", "collect",
           "compare_previous", "is_user_code", "legend_header"]

MAX_TABLE_ROWS = 300
MAX_SUSPECTS = 100  # in the JSON summary; the HTML and PDF reports show 30


def _table(profile: Profile, table: NodeTable, index: int, opts: ReportOptions, sort_cum: bool) -> TopTable:
    vt = profile.sample_types[index]
    result = top_rows(table, TopOptions(sort_cum=sort_cum))
    unit = choose_unit(vt.unit, opts.unit, ((r.flat, r.cum) for r in result.rows), result.total)
    rows = []
    running: Value = 0
    for r in result.rows[:MAX_TABLE_ROWS]:  # the rows shown: the others are only counted
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
        total_text=format_value(result.total, vt.unit, unit), rows=rows,
        omitted=max(0, len(result.rows) - MAX_TABLE_ROWS),
    )


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
        wrappers = report_wrappers(profile, samples, stacks if same else None, dumps,
                                   [d.inuse_space for d in dump_rows], opts)
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

    leaks, nsites = leak_sites(profile, stacks, index, opts, total, unit, wrappers)
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
                       untrimmed=cg.untrimmed) if kind.shows("peek") and opts.peek else [],
        site_sources=site_code,
        wrappers=list(wrappers.found), wrappers_hide=wrappers.hide_regex(),
        collapse=collapse_of([d.inuse_space for d in dump_rows]) if mode == "series" else None,
        notes=hidden_allocations(profile) if kind.shows("hidden") else [],
    )
