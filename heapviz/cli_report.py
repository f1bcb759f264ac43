"""`heapviz report`: one or more reports (HTML, PDF, JSON, Markdown, JUnit) from one collection."""

from __future__ import annotations

import argparse
import json
import os
import sys

from heapviz.cli_common import (cache_dir, check_regex, print_warnings, source_options, step, subject_and_view,
                                 unit_option, write_outputs)
from heapviz.errors import InputError, UsageError
from heapviz.fleet import group_rows
from heapviz.graph.build import GraphOptions
from heapviz.model import Profile
from heapviz.pipeline import View, view_tree
from heapviz.render.dot import RenderOptions
from heapviz.report.callers import REPORT_FLAME
from heapviz.report.collect import ReportData, ReportOptions, Threshold, collect, legend_header
from heapviz.report.explorer_data import ExplorerInput, ExplorerSettings, prepare_in_background
from heapviz.report.layout import lay_out
from heapviz.report.sources import SourceSettings
from heapviz.report.summary_md import threshold_name
from heapviz.text import safe
from heapviz.wrappers import WrapperOptions
from heapviz.wrappers import warning as wrapper_warning
from heapviz.writers import Output, output_for, preload, preload_graph, report_writer, suffixes

EXIT_THRESHOLD = 3


def report_outputs(paths: list[str]) -> list[tuple[str, Output]]:
    out = []
    for path in paths:
        chosen = output_for(path, "report")
        if chosen is None:
            raise UsageError(f"cannot tell the report format from {path!r}: use a "
                             f"{suffixes('report', ('html', 'pdf', 'json'))} suffix for a report, or "
                             f"{suffixes('report', ('markdown', 'junit'))} for a CI summary")
        out.append((path, chosen))
    return out


def read_previous(path: str) -> tuple[str, dict[str, object]]:
    try:
        with open(path, encoding="utf-8") as f:
            doc = json.load(f)
    except OSError as e:
        raise InputError(path, f"cannot read the previous summary: {e.strerror or e}") from e
    except ValueError as e:
        raise InputError(path, f"the previous summary is not JSON: {e}") from e
    if not isinstance(doc, dict) or not str(doc.get("schema", "")).startswith("heapviz-summary/"):
        raise InputError(path, "not a heapviz summary (-o summary.json)")
    return path, doc


def thresholds(args: argparse.Namespace, data: ReportData) -> list[Threshold]:
    out = []
    first, last = data.dumps[0].inuse_space, data.dumps[-1].inuse_space
    if args.fail_if_growth is not None:
        out.append(Threshold("growth", args.fail_if_growth, last - first, last - first > args.fail_if_growth))
    if args.fail_if_inuse is not None:
        out.append(Threshold("inuse", args.fail_if_inuse, last, last > args.fail_if_inuse))
    return out


def wrapper_options(args: argparse.Namespace) -> WrapperOptions:
    for rx in args.alloc_wrappers:
        check_regex(rx, "--alloc-wrappers")
    return WrapperOptions(enabled=args.wrappers_enabled, extra=tuple(args.alloc_wrappers))


def cmd_report(args: argparse.Namespace) -> int:
    outputs = report_outputs(args.output)
    previous = read_previous(args.previous) if args.previous else None
    if any(out.laid_out for _, out in outputs):
        preload_graph()  # while the profile is read
    subj, view = subject_and_view(args, series=not args.merge)
    gopts = GraphOptions(node_count=args.nodecount, node_fraction=args.nodefraction,
                         edge_fraction=args.edgefraction, drop_negative=args.drop_negative)
    ropts = ReportOptions(sample_index=view.sample_index, node_options=view.node_options, graph=gopts,
                          command_line=tuple(sys.argv[1:]) if args.record_command else (),
                          filters=tuple(view.filters.describe()), unit=unit_option(args),
                          layout_timeout_s=args.layout_timeout,
                          sources=SourceSettings(args.source_sites, args.source_lines, source_options(args)),
                          wrappers=wrapper_options(args),
                          peek=any(out.format == "html" for _, out in outputs))
    flame = view_tree(subj, view, "Flame graph of the change since base", REPORT_FLAME.keep_fraction()) \
        if subj.mode == "base" else None
    words = view.profile.profile_kind.words
    explorer = None
    if not args.static and any(out.format == "html" for _, out in outputs):
        # the explorer's data is packed on a thread while the report's views are computed
        explorer = explorer_input(view, gopts, ropts, subj.dumps[-1] if subj.mode == "base" else None)
    with step(args, "graph", f"collecting the report: call graph, tables, {words.site}s, suspects"):
        data = collect(view.profile, view.samples, ropts, view.reports, subj.dumps, subj.growth, subj.mode,
                       previous, flame, subj.base)
    data.thresholds = thresholds(args, data)
    data.groups = group_rows(subj.groups, view.profile.sample_types[view.sample_index].type)
    data.skipped = subj.skipped
    data.outputs = [(os.path.basename(path), out.format) for path, out in outputs]
    data.explorer = explorer
    render_opts = RenderOptions(layout_timeout_s=args.layout_timeout, cache_dir=cache_dir(args))
    if any(out.laid_out for _, out in outputs):
        with step(args, "layout", "laying the call graphs out"):
            preload([out for _, out in outputs])  # the writers' imports run while `dot` lays out
            lay_out(data, render_opts)
    files: list[tuple[str | None, str | bytes]] = []
    for path, out in outputs:
        # writers are imported when used: reportlab, pypdf and jinja2 cost a tenth of a second
        with step(args, f"render_{out.format}", f"writing the {out.format.upper()} report"):
            files.append((path, report_writer(out)(data, render_opts)))
    print_warnings(view.profile)
    if data.wrappers:
        print(f"heapviz: warning: {safe(wrapper_warning(data.wrappers, data.wrappers_hide))}", file=sys.stderr)
    write_outputs(args, files)
    exceeded = [t for t in data.thresholds if t.exceeded]
    for t in exceeded:
        print(f"heapviz: threshold exceeded: {threshold_name(data, t)} {t.value} > {t.limit}", file=sys.stderr)
    return EXIT_THRESHOLD if exceeded else 0


def explorer_input(view: View, gopts: GraphOptions, ropts: ReportOptions, widths: Profile | None) -> ExplorerInput:
    """What the HTML report's explorer starts from: the shown profile's samples, unfiltered (its
    filter boxes hold the report's filters), and the report's options; with --base, the new
    profile (`widths`), whose samples give the flame graph its widths."""
    p = view.profile
    headers = tuple(tuple(legend_header(p, vt, ())) for vt in p.sample_types)
    settings = ExplorerSettings(view.sample_index, view.node_options, view.filters, gopts.node_count,
                                gopts.node_fraction, gopts.edge_fraction, gopts.drop_negative, ropts.unit, headers)
    return ExplorerInput(p, settings, widths, prepare_in_background(p, settings, widths))
