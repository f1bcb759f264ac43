"""Command line: subcommands, options, and the only place that prints errors and exits."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import traceback
from collections.abc import Sequence

from heapviz import __version__
from heapviz.errors import HeapvizError, InputError, Terminated, UsageError, install_signal_handlers
from heapviz.formats import DEFAULT_MAX_INPUT, DEFAULT_MAX_LINE, ReadLimits
from heapviz.graph.build import GraphOptions, trimmed_graph
from heapviz.graph.filters import FilterOptions, compile_regex
from heapviz.graph.nodes import GRANULARITIES, NodeOptions, node_table
from heapviz.graph.peek import peek
from heapviz.graph.tree import view_tree
from heapviz.model import Profile, Value, main_mapping
from heapviz.pipeline import LoadOptions, Subject, View, make_view, subject
from heapviz.prune import PruneOptions
from heapviz.render.dot import FORMATS, RenderOptions, legend_lines, render, to_dot
from heapviz.render.collapsed import to_collapsed
from heapviz.render.flame import FlameOptions, to_svg
from heapviz.render.graph_json import to_json as graph_json
from heapviz.render.peek import render_json as peek_json
from heapviz.render.peek import render_text as peek_text
from heapviz.render.pprof_proto import to_proto
from heapviz.report.collect import ReportData, ReportOptions, Threshold, collect
from heapviz.report.html import write_html
from heapviz.report.pdf import write_pdf
from heapviz.report.summary import write_json
from heapviz.output import write, write_all
from heapviz.symbolize import SymbolizeOptions
from heapviz.symbolize.cache import default_dir as default_cache_dir
from heapviz.symbolize.demangle import DEMANGLE_MODES
from heapviz.timing import Timings, phase
from heapviz.text import TopOptions, render_top, safe, top_rows
from heapviz.units import UNIT_CHOICES, choose_unit, format_value

SAMPLE_ALIASES = ("inuse_space", "inuse_objects", "alloc_space", "alloc_objects")
EXIT_THRESHOLD = 3


def _size(text: str) -> int:
    """A byte count: `10MB`, `512KiB`, `1.5G`, `4096` (every unit a power of 1024, as pprof prints them)."""
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kKmMgGtT]?)(i?[bB])?\s*", text)
    if not m:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (use e.g. 4096, 512KiB, 10MB)")
    mult = 1024 ** ("KMGT".index(m.group(2).upper()) + 1) if m.group(2) else 1
    v = int(float(m.group(1)) * mult)
    if v <= 0:
        raise argparse.ArgumentTypeError(f"size must be positive: {text!r}")
    return v


def _fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= v <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {text!r}")
    return v


def _add_input_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("input and symbolization")
    g.add_argument("--binary", metavar="FILE", help="the profiled program, when its path in the profile is wrong")
    g.add_argument("--symbol-path", metavar="DIR", action="append", default=[],
                   help="directory to search for binaries and debug files (like PPROF_BINARY_PATH); repeatable")
    g.add_argument("--symbolizer", choices=("auto", "llvm-symbolizer", "addr2line", "none"), default="auto",
                   help="symbolizer to use (default: llvm-symbolizer if installed, else addr2line)")
    g.add_argument("--timings", action="store_true",
                   help="print the wall time of each phase (parse, symbolize, graph, render, write) to stderr")
    g.add_argument("--symbolizer-timeout", type=float, default=120.0, metavar="SECONDS",
                   help="kill a symbolizer that has not answered within this long (default 120)")
    g.add_argument("--cache-dir", metavar="DIR", default=None,
                   help="keep symbolizer answers here between runs, keyed by build id (default: "
                        "$HEAPVIZ_CACHE_DIR or ~/.cache/heapviz/symbols)")
    g.add_argument("--no-cache", action="store_true", help="do not read or write the symbol cache")
    g.add_argument("--base", metavar="PROFILE", action="append", default=[],
                   help="show PROFILE minus this base (matched on symbolized stacks); repeat to sum bases")
    g.add_argument("--max-line-size", type=_size, default=DEFAULT_MAX_LINE, metavar="BYTES",
                   help="refuse input lines longer than this (default 1MiB)")
    g.add_argument("--max-input-size", type=_size, default=DEFAULT_MAX_INPUT, metavar="BYTES",
                   help="refuse inputs larger than this once decompressed (default 1GiB)")
    g.add_argument("--thread", type=int, metavar="N", default=None,
                   help="jemalloc profiles: show only thread N's values (default: all threads)")


def _add_view_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("what to show")
    g.add_argument("--sample-index", "--sample_index", "-sample_index", dest="sample_index", metavar="NAME",
                   help="sample type to show: inuse_space (default), inuse_objects, alloc_space, alloc_objects")
    for name in SAMPLE_ALIASES:
        g.add_argument(f"--{name}", f"--{name.replace('_', '-')}", f"-{name}", dest="sample_index",
                       action="store_const", const=name, help=argparse.SUPPRESS)
    g.add_argument("--granularity", choices=GRANULARITIES, default=None)
    for name in GRANULARITIES:
        g.add_argument(f"--{name}", f"-{name}", dest="granularity", action="store_const", const=name,
                       help=argparse.SUPPRESS)
    g.add_argument("--demangle", choices=DEMANGLE_MODES, default="default",
                   help="default: no parameters or template arguments (as pprof); templates; full; none")
    g.add_argument("--no-inlines", "--noinlines", "-noinlines", dest="inlines", action="store_false",
                   help="keep only the outermost function of inlined frames")
    g.add_argument("--all-frames", "--all_frames", dest="all_frames", action="store_true",
                   help="keep allocator frames (malloc, operator new, std::allocator …)")
    g.add_argument("--drop-frames", "--drop_frames", dest="drop_frames", action="append", default=[],
                   metavar="REGEX", help="also drop frames whose short name matches REGEX (your allocator wrappers)")
    g.add_argument("--drop-negative", "--drop_negative", "-drop_negative", dest="drop_negative",
                   action="store_true", help="with --base: hide what shrank")
    f = p.add_argument_group("filters (regexes searched in function, file and binary names)")
    f.add_argument("--focus", "-focus", default="", metavar="REGEX", help="keep only stacks through a match")
    f.add_argument("--ignore", "-ignore", default="", metavar="REGEX", help="drop stacks through a match")
    f.add_argument("--hide", "-hide", default="", metavar="REGEX", help="remove matching frames from stacks")
    f.add_argument("--show", "-show", default="", metavar="REGEX", help="keep only matching frames in stacks")


def _add_graph_options(p: argparse.ArgumentParser, node_count: int, node_fraction: float, what: str) -> None:
    p.add_argument("--nodecount", "--node-count", "-nodecount", dest="nodecount", type=int, default=node_count,
                   metavar="N", help=f"{what}show at most N nodes (default {node_count or 'all'}; 0 = no limit)")
    p.add_argument("--nodefraction", "--node-fraction", "-nodefraction", dest="nodefraction", type=_fraction,
                   default=node_fraction, metavar="F",
                   help=f"{what}drop nodes whose cum is below F of the total (default {node_fraction})")
    p.add_argument("--unit", choices=UNIT_CHOICES, default="minimum",
                   help="memory unit (1024-based, labelled like pprof); default: pprof's 'minimum'")
    p.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)


def _add_edge_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--edgefraction", "--edge-fraction", "-edgefraction", dest="edgefraction", type=_fraction,
                   default=0.001, metavar="F", help="drop edges below F of the total (default 0.001)")
    p.add_argument("--layout-timeout", type=float, default=120.0, metavar="SECONDS",
                   help="give up on a Graphviz layout after this long (default 120)")


def _check_regex(rx: str, option: str) -> None:
    try:
        re.compile(rx)
    except re.error as e:
        raise UsageError(f"{option}: bad regular expression {rx!r}: {e}") from None


def _load_options(args: argparse.Namespace) -> LoadOptions:
    for d in args.drop_frames:
        _check_regex(d, "--drop-frames")
    paths = list(args.symbol_path)
    env = os.environ.get("HEAPVIZ_SYMBOL_PATH") or os.environ.get("PPROF_BINARY_PATH") or ""
    paths += [d for d in env.split(os.pathsep) if d]
    args.timings_obj = Timings() if args.timings else None
    return LoadOptions(
        timings=args.timings_obj,
        progress=_progress if sys.stderr.isatty() else None,
        limits=ReadLimits(max_line_bytes=args.max_line_size, max_input_bytes=args.max_input_size,
                          thread=args.thread),
        symbolize=SymbolizeOptions(binary=args.binary, symbol_path=tuple(paths), tool=args.symbolizer,
                                   timeout_s=args.symbolizer_timeout, cache_dir=_cache_dir(args)),
        prune=PruneOptions(all_frames=args.all_frames, drop_frames=tuple(args.drop_frames)),
    )


def _progress(what: str) -> None:
    """Where a long run is, for people watching a terminal (never in logs or pipes)."""
    print(f"heapviz: {safe(what)}…", file=sys.stderr, flush=True)


def _cache_dir(args: argparse.Namespace) -> str | None:
    if args.no_cache or os.environ.get("HEAPVIZ_NO_CACHE"):
        return None
    return str(args.cache_dir or os.environ.get("HEAPVIZ_CACHE_DIR") or default_cache_dir())


def _filter_options(args: argparse.Namespace) -> FilterOptions:
    filters = FilterOptions(focus=args.focus, ignore=args.ignore, hide=args.hide, show=args.show)
    for name in ("focus", "ignore", "hide", "show"):
        compile_regex(getattr(args, name), name)
    return filters


def _node_options(args: argparse.Namespace) -> NodeOptions:
    return NodeOptions(granularity=args.granularity or "functions", demangle=args.demangle, inlines=args.inlines)


def _subject_and_view(args: argparse.Namespace, series: bool) -> tuple[Subject, View]:
    filters = _filter_options(args)
    subj = subject(args.profiles, _load_options(args), args.base, series)
    return subj, make_view(subj.shown, args.sample_index, filters, _node_options(args))


def _header_lines(view: View) -> list[str]:
    profile = view.profile
    vt = profile.sample_types[view.sample_index]
    lines = []
    main = main_mapping(profile)
    if main is not None:
        lines.append(f"File: {main.basename}")
    lines.append("Profile: " + ", ".join(os.path.basename(s) for s in profile.source.split(", ")))
    lines.append(f"Type: {vt.type}" + (" (estimated from samples)" if profile.scaled else ""))
    if profile.base_source:
        lines.append(f"Base: {os.path.basename(profile.base_source)} (values are new minus base;")
        lines.append("  percentages are of the total absolute change)")
    if view.filters.active:
        lines.append("Active filters:")
        lines.extend(f"   {d[:80]}" for d in view.filters.describe())
    return lines


def _print_warnings(profile: Profile) -> None:
    for w in profile.warnings:
        print(f"heapviz: warning: {safe(w)}", file=sys.stderr)


def cmd_top(args: argparse.Namespace) -> int:
    _, view = _subject_and_view(args, series=False)
    if args.format == "collapsed":
        return _write_collapsed(args, view)
    with phase(args.timings_obj, "graph"):
        table = node_table(view.samples, view.sample_index, view.node_options, view.total)
    if args.drop_negative:
        for n in [n for n in table.cum if table.flat.get(n, 0) < 0 or (table.flat.get(n, 0) == 0 and table.cum[n] < 0)]:
            del table.cum[n]
    top = TopOptions(sort_cum=args.cum, node_count=args.nodecount, node_fraction=args.nodefraction,
                     unit=args.unit, format=args.format)
    with phase(args.timings_obj, "render_text"):
        text = render_top(view.profile, view.sample_index, top_rows(table, top), top)
    _print_warnings(view.profile)
    with phase(args.timings_obj, "write"):
        write(args.output, text)
    return 0


def _write_collapsed(args: argparse.Namespace, view: View) -> int:
    text = to_collapsed(view.samples, view.sample_index, view.node_options, args.drop_negative)
    _print_warnings(view.profile)
    write(args.output, text)
    return 0


_GRAPH_SUFFIXES = {".svg": "svg", ".pdf": "pdf", ".png": "png", ".dot": "dot", ".gv": "dot", ".json": "json",
                   ".folded": "collapsed"}


def _graph_format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    if args.output and args.output != "-":
        suffix = os.path.splitext(args.output)[1].lower()
        if suffix not in _GRAPH_SUFFIXES:
            raise UsageError(f"cannot tell the format from {args.output!r}: use a .svg, .pdf, .png or .dot "
                             "suffix or --format")
        return _GRAPH_SUFFIXES[suffix]
    return "dot"


def cmd_graph(args: argparse.Namespace) -> int:
    fmt = _graph_format(args)
    _, view = _subject_and_view(args, series=False)
    if fmt == "collapsed":
        return _write_collapsed(args, view)
    vt = view.profile.sample_types[view.sample_index]
    gopts = GraphOptions(node_count=args.nodecount, node_fraction=args.nodefraction,
                         edge_fraction=args.edgefraction, cum_sort=args.cum, drop_negative=args.drop_negative)
    with phase(args.timings_obj, "graph"):
        cg = trimmed_graph(view.samples, view.sample_index, view.node_options, gopts, view.total,
                           view.profile.size_pairs)
    unit = choose_unit(vt.unit, args.unit, ((cg.flat(n), cg.cum(n)) for n in cg.order), cg.total)

    def fmt_value(v: Value) -> str:
        return format_value(v, vt.unit, unit)

    main = main_mapping(view.profile)
    title = main.basename if main is not None else os.path.basename(view.profile.source)
    ropts = RenderOptions(layout_timeout_s=args.layout_timeout)
    legend = legend_lines(cg, _header_lines(view), fmt_value)
    with phase(args.timings_obj, f"render_{fmt}"):
        if fmt == "json":
            data: str | bytes = graph_json(cg, legend, "bytes" if vt.unit == "bytes" else "count")
        else:
            data = render(to_dot(cg, legend, fmt_value, title, ropts), fmt, ropts)
    _print_warnings(view.profile)
    with phase(args.timings_obj, "write"):
        write(args.output, data)
    return 0


_REPORT_SUFFIXES = {".html": "html", ".htm": "html", ".pdf": "pdf", ".json": "json"}


def _report_outputs(outputs: list[str]) -> list[tuple[str, str]]:
    out = []
    for path in outputs:
        suffix = os.path.splitext(path)[1].lower()
        if suffix not in _REPORT_SUFFIXES:
            raise UsageError(f"cannot tell the report format from {path!r}: use a .html, .pdf or .json suffix")
        out.append((path, _REPORT_SUFFIXES[suffix]))
    return out


def _read_previous(path: str) -> tuple[str, dict[str, object]]:
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


def _thresholds(args: argparse.Namespace, data: ReportData) -> list[Threshold]:
    out = []
    first, last = data.dumps[0].inuse_space, data.dumps[-1].inuse_space
    if args.fail_if_growth is not None:
        out.append(Threshold("growth", args.fail_if_growth, last - first, last - first > args.fail_if_growth))
    if args.fail_if_inuse is not None:
        out.append(Threshold("inuse", args.fail_if_inuse, last, last > args.fail_if_inuse))
    return out


def cmd_report(args: argparse.Namespace) -> int:
    outputs = _report_outputs(args.output)
    previous = _read_previous(args.previous) if args.previous else None
    subj, view = _subject_and_view(args, series=not args.merge)
    gopts = GraphOptions(node_count=args.nodecount, node_fraction=args.nodefraction,
                         edge_fraction=args.edgefraction, drop_negative=args.drop_negative)
    ropts = ReportOptions(sample_index=view.sample_index, node_options=view.node_options, graph=gopts,
                          command_line=tuple(sys.argv[1:]) if args.record_command else (),
                          filters=tuple(view.filters.describe()), unit=args.unit,
                          layout_timeout_s=args.layout_timeout)
    flame = view_tree(subj, view, "Flame graph of the change since base") if subj.mode == "base" else None
    t = args.timings_obj
    with phase(t, "graph"):
        data = collect(view.profile, view.samples, ropts, view.reports, subj.dumps, subj.growth, subj.mode,
                       previous, flame)
    data.thresholds = _thresholds(args, data)
    render_opts = RenderOptions(layout_timeout_s=args.layout_timeout)
    writers = {"html": write_html, "pdf": write_pdf}
    files = []
    for path, kind in outputs:
        with phase(t, f"render_{kind}"):
            files.append((path, write_json(data) if kind == "json" else writers[kind](data, render_opts)))
    _print_warnings(view.profile)
    with phase(t, "write"):
        write_all(list(files))
    exceeded = [t for t in data.thresholds if t.exceeded]
    for t in exceeded:
        what = "in-use growth" if t.name == "growth" else "in-use bytes in the last dump"
        print(f"heapviz: threshold exceeded: {what} {t.value} > {t.limit}", file=sys.stderr)
    return EXIT_THRESHOLD if exceeded else 0


def cmd_flame(args: argparse.Namespace) -> int:
    subj, view = _subject_and_view(args, series=False)
    main = main_mapping(view.profile)
    title = main.basename if main is not None else os.path.basename(view.profile.source.split(", ")[0])
    tree = view_tree(subj, view, f"Flame graph of {title}")
    unit = choose_unit(tree.sample_unit, args.unit, [], tree.total)

    def fmt_value(v: Value) -> str:
        return format_value(v, tree.sample_unit, unit)

    svg = to_svg(tree, fmt_value, FlameOptions(width=args.width, max_depth=args.max_depth))
    _print_warnings(view.profile)
    write(args.output, svg)
    return 0


def cmd_peek(args: argparse.Namespace) -> int:
    # `peek PROFILE [REGEX]`: a last argument that is not a file is the regex.
    if not args.regex and len(args.profiles) > 1 and args.profiles[-1] != "-" and not os.path.exists(args.profiles[-1]):
        args.regex = args.profiles.pop()
    _check_regex(args.regex, "REGEX")
    _, view = _subject_and_view(args, series=False)
    vt = view.profile.sample_types[view.sample_index]
    result = peek(view.samples, view.sample_index, view.node_options, view.total, args.regex, args.cum)
    if args.format == "json":
        text = peek_json(result, view.profile.source, vt.type, vt.unit, view.profile.warnings)
    else:
        unit = choose_unit(vt.unit, args.unit, ((e.flat, e.cum) for e in result.entries), result.total)

        def fmt_value(v: Value) -> str:
            return format_value(v, vt.unit, unit)

        text = peek_text(result, _header_lines(view), fmt_value)
    _print_warnings(view.profile)
    write(args.output, text)
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    _, view = _subject_and_view(args, series=False)
    default = view.profile.sample_types[view.sample_index].type
    data = to_proto(view.profile, view.samples, default, compress=not args.output.endswith(".pb"),
                    demangle=args.demangle)
    _print_warnings(view.profile)
    write(args.output, data)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="heapviz",
        description="Heap profiles (gperftools/tcmalloc) to call graphs, leak reports and tables.",
    )
    parser.add_argument("--version", action="version", version=f"heapviz {__version__}")
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    many = "heap profile(s); several are summed; - is stdin"

    top = sub.add_parser("top", help="table of functions by flat or cumulative value (like pprof -top)")
    top.add_argument("profiles", nargs="+", metavar="PROFILE", help=many)
    top.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    top.add_argument("--format", choices=("text", "json", "csv", "collapsed"), default="text",
                     help="collapsed: folded stacks ('root;caller;leaf VALUE') for flamegraph.pl or speedscope")
    top.add_argument("--cum", action="store_true", help="sort by cumulative value")
    _add_graph_options(top, 0, 0.0, "")
    _add_input_options(top)
    _add_view_options(top)
    top.set_defaults(func=cmd_top)

    gr = sub.add_parser("graph", help="call graph as SVG, PDF, PNG or DOT (like pprof -svg)")
    gr.add_argument("profiles", nargs="+", metavar="PROFILE", help=many)
    gr.add_argument("-o", "--output", metavar="FILE", help="output file; its suffix picks the format "
                    "(.svg .pdf .png .dot .json); without it DOT goes to stdout")
    gr.add_argument("--format", choices=(*FORMATS, "json", "collapsed"), default=None,
                    help="output format (overrides the suffix); collapsed: folded stacks for flame graphs")
    gr.add_argument("--cum", action="store_true", help=argparse.SUPPRESS)
    _add_graph_options(gr, 80, 0.005, "")
    _add_edge_options(gr)
    _add_input_options(gr)
    _add_view_options(gr)
    gr.set_defaults(func=cmd_graph)

    rp = sub.add_parser("report", help="leak report as one self-contained HTML or PDF file, or a JSON summary")
    rp.add_argument("profiles", nargs="+", metavar="PROFILE",
                    help="heap profile; several are a series of dumps (or summed with --merge)")
    rp.add_argument("-o", "--output", metavar="FILE", action="append", required=True,
                    help="report file; .html, .pdf or .json picks the format; repeat to write several")
    rp.add_argument("--merge", action="store_true", help="sum several profiles into one instead of a series")
    rp.add_argument("--fail-if-growth", type=_size, metavar="SIZE",
                    help="exit 3 when in-use bytes grew by more than SIZE from first to last dump (or vs --base)")
    rp.add_argument("--fail-if-inuse", type=_size, metavar="SIZE",
                    help="exit 3 when the last dump holds more than SIZE in use")
    rp.add_argument("--previous", metavar="SUMMARY.json",
                    help="a previous run's JSON summary: report what got worse since then")
    rp.add_argument("--no-command-line", dest="record_command", action="store_false",
                    help="do not record the heapviz command line in the report")
    _add_graph_options(rp, 80, 0.005, "graph: ")
    _add_edge_options(rp)
    _add_input_options(rp)
    _add_view_options(rp)
    rp.set_defaults(func=cmd_report)

    fl = sub.add_parser("flame", help="flame graph (icicle) of the call tree as a standalone SVG")
    fl.add_argument("profiles", nargs="+", metavar="PROFILE", help=many)
    fl.add_argument("-o", "--output", metavar="FILE.svg", help="write here instead of stdout")
    fl.add_argument("--width", type=float, default=1200.0, metavar="PX", help="width in pixels (default 1200)")
    fl.add_argument("--max-depth", type=int, default=400, metavar="N", help="draw at most N levels (default 400)")
    fl.add_argument("--unit", choices=UNIT_CHOICES, default="auto", help="memory unit in tooltips (default auto)")
    fl.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    _add_input_options(fl)
    _add_view_options(fl)
    fl.set_defaults(func=cmd_flame)

    pk = sub.add_parser("peek", help="callers and callees of matching functions (like pprof -peek)")
    pk.add_argument("profiles", nargs="+", metavar="PROFILE [REGEX]",
                    help=many + "; a last argument that is not a file is REGEX")
    pk.add_argument("--regex", "--match", dest="regex", default="", metavar="REGEX",
                    help="functions to show (searched in short and full names; default: all)")
    pk.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    pk.add_argument("--format", choices=("text", "json"), default="text")
    pk.add_argument("--cum", action="store_true", help="order by cumulative value instead of flat")
    pk.add_argument("--unit", choices=UNIT_CHOICES, default="minimum",
                    help="memory unit (1024-based, labelled like pprof); default: pprof's 'minimum'")
    pk.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    _add_input_options(pk)
    _add_view_options(pk)
    pk.set_defaults(func=cmd_peek)

    cv = sub.add_parser("convert", help="write what heapviz shows as a symbolized pprof profile.proto")
    cv.add_argument("profiles", nargs="+", metavar="PROFILE", help=many)
    cv.add_argument("-o", "--output", metavar="FILE.pb.gz", required=True,
                    help="profile.proto file, gzipped unless its name ends in .pb; - is stdout")
    cv.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    _add_input_options(cv)
    _add_view_options(cv)
    cv.set_defaults(func=cmd_convert)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    install_signal_handlers()
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        rc = int(args.func(args))
        timings = getattr(args, "timings_obj", None)
        if timings is not None:
            print("heapviz: timings: " + json.dumps(timings.as_dict()), file=sys.stderr)
        return rc
    except UsageError as e:
        print(f"heapviz: error: {safe(e.message())}", file=sys.stderr)
        return 2
    except HeapvizError as e:
        if args.debug:
            traceback.print_exc()
        print(f"heapviz: error: {safe(e.message())}", file=sys.stderr)
        return 1
    except Terminated:
        print("heapviz: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("heapviz: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        with contextlib.suppress(OSError):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        return 1
    except MemoryError:
        print("heapviz: error: out of memory", file=sys.stderr)
        return 1
    except Exception as e:  # a bug: still one line unless --debug
        if args.debug:
            traceback.print_exc()
        print(f"heapviz: error: internal error: {type(e).__name__}: {safe(str(e))} (rerun with --debug for details)",
              file=sys.stderr)
        return 1
