"""Command line: subcommands, options, and the only place that prints errors and exits."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass

from heapviz import __version__
from heapviz.errors import HeapvizError, UsageError
from heapviz.formats import DEFAULT_MAX_INPUT, DEFAULT_MAX_LINE, ReadLimits, load
from heapviz.graph.build import GraphOptions, trimmed_graph
from heapviz.graph.filters import FilterOptions, compile_regex
from heapviz.graph.filters import apply as apply_filters
from heapviz.graph.nodes import GRANULARITIES, NodeOptions, node_table
from heapviz.merge import merge
from heapviz.model import Profile, Sample, Value, main_mapping
from heapviz.render.graph_json import to_json as graph_json
from heapviz.report.collect import DumpRow, ReportOptions, collect, dump_sequence
from heapviz.report.html import write_html
from heapviz.report.pdf import write_pdf
from heapviz.render.dot import FORMATS, RenderOptions, legend_lines, render, to_dot
from heapviz.output import write
from heapviz.prune import PruneOptions, drop_allocator_frames
from heapviz.symbolize import MappingReport, SymbolizeOptions, symbolize
from heapviz.symbolize.demangle import DEMANGLE_MODES
from heapviz.text import TopOptions, render_top, top_rows
from heapviz.units import UNIT_CHOICES, choose_unit, format_value

SAMPLE_ALIASES = ("inuse_space", "inuse_objects", "alloc_space", "alloc_objects")


def _size(text: str) -> int:
    """A byte count with an optional k/M/G suffix (powers of 1024)."""
    t = text.strip().upper().rstrip("B").rstrip("I")
    mult = 1
    if t and t[-1] in "KMGT":
        mult = 1024 ** ("KMGT".index(t[-1]) + 1)
        t = t[:-1]
    try:
        v = int(float(t) * mult)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}") from None
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
    g.add_argument("--max-line-size", type=_size, default=DEFAULT_MAX_LINE, metavar="BYTES",
                   help="refuse input lines longer than this (default 1M)")
    g.add_argument("--max-input-size", type=_size, default=DEFAULT_MAX_INPUT, metavar="BYTES",
                   help="refuse inputs larger than this once decompressed (default 1G)")


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
    f = p.add_argument_group("filters (regexes searched in function, file and binary names)")
    f.add_argument("--focus", "-focus", default="", metavar="REGEX", help="keep only stacks through a match")
    f.add_argument("--ignore", "-ignore", default="", metavar="REGEX", help="drop stacks through a match")
    f.add_argument("--hide", "-hide", default="", metavar="REGEX", help="remove matching frames from stacks")
    f.add_argument("--show", "-show", default="", metavar="REGEX", help="keep only matching frames in stacks")


@dataclass
class _Loaded:
    profile: Profile
    sample_index: int
    reports: list[MappingReport]


def _load_each(args: argparse.Namespace) -> list[tuple[Profile, list[MappingReport]]]:
    """Load, symbolize and prune every profile on the command line, separately."""
    limits = ReadLimits(max_line_bytes=args.max_line_size, max_input_bytes=args.max_input_size)
    paths = list(args.symbol_path)
    env = os.environ.get("HEAPVIZ_SYMBOL_PATH") or os.environ.get("PPROF_BINARY_PATH") or ""
    paths += [d for d in env.split(os.pathsep) if d]
    sym = SymbolizeOptions(binary=args.binary, symbol_path=tuple(paths), tool=args.symbolizer)
    for d in args.drop_frames:
        _check_regex(d, "--drop-frames")
    prune = PruneOptions(all_frames=args.all_frames, drop_frames=tuple(args.drop_frames))
    if args.profiles.count("-") > 1:
        raise UsageError("'-' (stdin) can be given only once")
    out = []
    for path in args.profiles:
        p = load(path, limits)
        reports = symbolize(p, sym)
        drop_allocator_frames(p, prune)
        out.append((p, reports))
    return out


def _load_all(args: argparse.Namespace) -> _Loaded:
    loaded = _load_each(args)
    profile = merge([p for p, _ in loaded])
    reports = [r for _, rs in loaded for r in rs]
    return _Loaded(profile, _sample_index(profile, args.sample_index), reports)


def _check_regex(rx: str, option: str) -> None:
    import re

    try:
        re.compile(rx)
    except re.error as e:
        raise UsageError(f"{option}: bad regular expression {rx!r}: {e}") from None


def _sample_index(profile: Profile, requested: str | None) -> int:
    names = [vt.type for vt in profile.sample_types]
    if requested is None:
        requested = profile.default_sample_type or names[-1]
    if requested.isdigit() and int(requested) < len(names):
        return int(requested)
    for cand in (requested, f"inuse_{requested}", requested.removeprefix("inuse_")):
        if cand in names:
            return names.index(cand)
    raise UsageError(f"sample index {requested!r} is not in this profile (it has: {', '.join(names)})")


def _print_warnings(profile: Profile) -> None:
    for w in profile.warnings:
        print(f"heapviz: warning: {w}", file=sys.stderr)


@dataclass
class _View:
    profile: Profile
    reports: list[MappingReport]
    sample_index: int
    samples: list[Sample]  # after --focus/--ignore/--hide/--show
    total: Value  # of the unfiltered samples, as pprof's percentages
    node_options: NodeOptions
    filters: FilterOptions


def _filter_options(args: argparse.Namespace) -> FilterOptions:
    filters = FilterOptions(focus=args.focus, ignore=args.ignore, hide=args.hide, show=args.show)
    for name in ("focus", "ignore", "hide", "show"):
        compile_regex(getattr(args, name), name)
    return filters


def _view(args: argparse.Namespace, loaded: _Loaded | None = None) -> _View:
    filters = _filter_options(args)
    loaded = loaded or _load_all(args)
    profile = loaded.profile
    result = apply_filters(profile.samples, filters)
    for w in result.warnings:
        profile.warn(w)
    opts = NodeOptions(granularity=args.granularity or "functions", demangle=args.demangle, inlines=args.inlines)
    return _View(profile, loaded.reports, loaded.sample_index, result.samples, profile.total(loaded.sample_index),
                 opts, filters)


def _header_lines(view: _View) -> list[str]:
    profile = view.profile
    vt = profile.sample_types[view.sample_index]
    lines = []
    main = main_mapping(profile)
    if main is not None:
        lines.append(f"File: {main.basename}")
    lines.append("Profile: " + ", ".join(os.path.basename(s) for s in profile.source.split(", ")))
    lines.append(f"Type: {vt.type}" + (" (estimated from samples)" if profile.scaled else ""))
    if view.filters.active:
        lines.append("Active filters:")
        lines.extend(f"   {d[:80]}" for d in view.filters.describe())
    return lines


def cmd_top(args: argparse.Namespace) -> int:
    view = _view(args)
    profile = view.profile
    table = node_table(view.samples, view.sample_index, view.node_options, view.total)
    top = TopOptions(sort_cum=args.cum, node_count=args.nodecount, node_fraction=args.nodefraction,
                     unit=args.unit, format=args.format)
    text = render_top(profile, view.sample_index, top_rows(table, top), top)
    _print_warnings(profile)
    write(args.output, text)
    return 0


_SUFFIXES = {".svg": "svg", ".pdf": "pdf", ".png": "png", ".dot": "dot", ".gv": "dot", ".json": "json"}


def _graph_format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    if args.output and args.output != "-":
        suffix = os.path.splitext(args.output)[1].lower()
        if suffix not in _SUFFIXES:
            raise UsageError(f"cannot tell the format from {args.output!r}: use a .svg, .pdf, .png or .dot "
                             "suffix or --format")
        return _SUFFIXES[suffix]
    return "dot"


def cmd_graph(args: argparse.Namespace) -> int:
    fmt = _graph_format(args)
    view = _view(args)
    vt = view.profile.sample_types[view.sample_index]
    gopts = GraphOptions(node_count=args.nodecount, node_fraction=args.nodefraction,
                         edge_fraction=args.edgefraction, cum_sort=args.cum)
    cg = trimmed_graph(view.samples, view.sample_index, view.node_options, gopts, view.total,
                       view.profile.size_pairs)
    unit = choose_unit(vt.unit, args.unit, ((cg.flat(n), cg.cum(n)) for n in cg.order), cg.total)

    def fmt_value(v: Value) -> str:
        return format_value(v, vt.unit, unit)

    main = main_mapping(view.profile)
    title = main.basename if main is not None else os.path.basename(view.profile.source)
    ropts = RenderOptions(layout_timeout_s=args.layout_timeout)
    legend = legend_lines(cg, _header_lines(view), fmt_value)
    if fmt == "json":
        data: str | bytes = graph_json(cg, legend, "bytes" if vt.unit == "bytes" else "count")
    else:
        data = render(to_dot(cg, legend, fmt_value, title, ropts), fmt, ropts)
    _print_warnings(view.profile)
    write(args.output, data)
    return 0


_REPORT_SUFFIXES = {".html": "html", ".htm": "html", ".pdf": "pdf"}


def _report_outputs(outputs: list[str]) -> list[tuple[str, str]]:
    out = []
    for path in outputs:
        suffix = os.path.splitext(path)[1].lower()
        if suffix not in _REPORT_SUFFIXES:
            raise UsageError(f"cannot tell the report format from {path!r}: use a .html or .pdf suffix")
        out.append((path, _REPORT_SUFFIXES[suffix]))
    return out


def _series_order(loaded: list[tuple[Profile, list[MappingReport]]]) -> list[tuple[Profile, list[MappingReport]]]:
    """Dumps in order: gperftools' sequence number in the name, then modification time."""

    def key(item: tuple[Profile, list[MappingReport]]) -> tuple[int, float, str]:
        src = item[0].source
        seq, _ = dump_sequence(src)
        try:
            mtime = os.stat(src).st_mtime if src != "-" else 0.0
        except OSError:
            mtime = 0.0
        return (seq if seq is not None else 1 << 62, mtime, src)

    return sorted(loaded, key=key)


def cmd_report(args: argparse.Namespace) -> int:
    outputs = _report_outputs(args.output)
    _filter_options(args)
    each = _load_each(args)
    dumps: list[DumpRow] = []
    if len(each) > 1 and not args.merge:
        # A series of dumps: the report is on the last one, with every dump's totals.
        each = _series_order(each)
        for p, _ in each:
            dumps.append(DumpRow(p.source, dump_sequence(p.source)[0], round(_total_of(p, "inuse_space")),
                                 round(_total_of(p, "inuse_objects"))))
        each = each[-1:]
    profile = merge([p for p, _ in each])
    loaded = _Loaded(profile, _sample_index(profile, args.sample_index), [r for _, rs in each for r in rs])
    view = _view(args, loaded)
    gopts = GraphOptions(node_count=args.nodecount, node_fraction=args.nodefraction,
                         edge_fraction=args.edgefraction)
    ropts = ReportOptions(sample_index=view.sample_index, node_options=view.node_options, graph=gopts,
                          command_line=tuple(sys.argv[1:]) if args.record_command else (),
                          filters=tuple(view.filters.describe()), unit=args.unit)
    data = collect(view.profile, view.samples, ropts, view.reports, dumps)
    render_opts = RenderOptions(layout_timeout_s=args.layout_timeout)
    files = []
    for path, kind in outputs:
        files.append((path, write_html(data, render_opts) if kind == "html" else write_pdf(data, render_opts)))
    _print_warnings(view.profile)
    for path, blob in files:
        write(path, blob)
    return 0


def _total_of(profile: Profile, name: str) -> Value:
    try:
        return profile.total(profile.sample_index(name))
    except KeyError:
        return 0


def _add_report_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    rp = sub.add_parser("report", help="leak report as one self-contained HTML or PDF file")
    rp.add_argument("profiles", nargs="+", metavar="PROFILE",
                    help="heap profile; several are a series of dumps (or summed with --merge)")
    rp.add_argument("-o", "--output", metavar="FILE", action="append", required=True,
                    help="report file; .html or .pdf picks the format; repeat to write several")
    rp.add_argument("--merge", action="store_true", help="sum several profiles into one instead of a series")
    rp.add_argument("--nodecount", "--node-count", "-nodecount", dest="nodecount", type=int, default=80,
                    metavar="N", help="graph: show at most N nodes (default 80)")
    rp.add_argument("--nodefraction", "--node-fraction", "-nodefraction", dest="nodefraction", type=_fraction,
                    default=0.005, metavar="F", help="graph: drop nodes below F of the total (default 0.005)")
    rp.add_argument("--edgefraction", "--edge-fraction", "-edgefraction", dest="edgefraction", type=_fraction,
                    default=0.001, metavar="F", help="graph: drop edges below F of the total (default 0.001)")
    rp.add_argument("--unit", choices=UNIT_CHOICES, default="minimum", help="memory unit")
    rp.add_argument("--layout-timeout", type=float, default=120.0, metavar="SECONDS",
                    help="give up on the Graphviz layout after this long (default 120)")
    rp.add_argument("--no-command-line", dest="record_command", action="store_false",
                    help="do not record the heapviz command line in the report")
    rp.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    _add_input_options(rp)
    _add_view_options(rp)
    rp.set_defaults(func=cmd_report)


def _add_graph_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    gr = sub.add_parser("graph", help="call graph as SVG, PDF, PNG or DOT (like pprof -svg)")
    gr.add_argument("profiles", nargs="+", metavar="PROFILE", help="heap profile(s); several are summed; - is stdin")
    gr.add_argument("-o", "--output", metavar="FILE", help="output file; its suffix picks the format "
                    "(.svg .pdf .png .dot); without it DOT goes to stdout")
    gr.add_argument("--format", choices=(*FORMATS, "json"), default=None, help="output format (overrides the suffix)")
    gr.add_argument("--nodecount", "--node-count", "-nodecount", dest="nodecount", type=int, default=80,
                    metavar="N", help="show at most N nodes (default 80; 0 = no limit)")
    gr.add_argument("--nodefraction", "--node-fraction", "-nodefraction", dest="nodefraction", type=_fraction,
                    default=0.005, metavar="F", help="drop nodes whose cum is below F of the total (default 0.005)")
    gr.add_argument("--edgefraction", "--edge-fraction", "-edgefraction", dest="edgefraction", type=_fraction,
                    default=0.001, metavar="F", help="drop edges below F of the total (default 0.001)")
    gr.add_argument("--cum", action="store_true", help=argparse.SUPPRESS)
    gr.add_argument("--unit", choices=UNIT_CHOICES, default="minimum", help="memory unit in labels")
    gr.add_argument("--layout-timeout", type=float, default=120.0, metavar="SECONDS",
                    help="give up on a Graphviz layout after this long (default 120)")
    gr.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    _add_input_options(gr)
    _add_view_options(gr)
    gr.set_defaults(func=cmd_graph)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="heapviz",
        description="Heap profiles (gperftools/tcmalloc) to call graphs, leak reports and tables.",
    )
    parser.add_argument("--version", action="version", version=f"heapviz {__version__}")
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    top = sub.add_parser("top", help="table of functions by flat or cumulative value (like pprof -top)")
    top.add_argument("profiles", nargs="+", metavar="PROFILE", help="heap profile(s); several are summed; - is stdin")
    top.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    top.add_argument("--format", choices=("text", "json", "csv"), default="text")
    top.add_argument("--cum", action="store_true", help="sort by cumulative value")
    top.add_argument("--nodecount", "--node-count", "-nodecount", dest="nodecount", type=int, default=0,
                     metavar="N", help="show at most N rows (default: all)")
    top.add_argument("--nodefraction", "--node-fraction", "-nodefraction", dest="nodefraction", type=_fraction,
                     default=0.0, metavar="F", help="hide rows whose cum is below F of the total (default 0)")
    top.add_argument("--unit", choices=UNIT_CHOICES, default="minimum",
                     help="memory unit (1024-based, labelled like pprof); default: pprof's 'minimum'")
    top.add_argument("--debug", action="store_true", help=argparse.SUPPRESS)
    _add_input_options(top)
    _add_view_options(top)
    top.set_defaults(func=cmd_top)
    _add_graph_parser(sub)
    _add_report_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args))
    except UsageError as e:
        print(f"heapviz: error: {e.message()}", file=sys.stderr)
        return 2
    except HeapvizError as e:
        if args.debug:
            traceback.print_exc()
        print(f"heapviz: error: {e.message()}", file=sys.stderr)
        return 1
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
        print(f"heapviz: error: internal error: {type(e).__name__}: {e} (rerun with --debug for details)",
              file=sys.stderr)
        return 1
