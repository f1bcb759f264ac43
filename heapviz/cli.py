"""Command line: subcommands, options, and the only place that prints errors and exits."""

from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import os
import re
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence

from heapviz.cli_args import build_parser
from heapviz.doctor import checks as doctor_checks
from heapviz.doctor import missing_required
from heapviz.doctor import render as doctor_text
from heapviz.errors import HeapvizError, InputError, Terminated, UsageError, ignore_signals, install_signal_handlers
from heapviz.fleet import FleetOptions, group_rows, names_many
from heapviz.formats import ReadLimits
from heapviz.graph.build import GraphOptions, trimmed_graph
from heapviz.graph.filters import FilterOptions, compile_regex
from heapviz.graph.nodes import NodeOptions
from heapviz.graph.peek import peek
from heapviz.graph.tables import node_table
from heapviz.model import Profile, Value, profile_title
from heapviz.pipeline import LoadOptions, Subject, View, make_view, subject, view_tree
from heapviz.prune import PruneOptions
from heapviz.render.dot import RenderOptions, legend_lines, render, to_dot
from heapviz.render.collapsed import to_collapsed
from heapviz.render.flame import FlameOptions, to_svg
from heapviz.render.graph_json import to_json as graph_json
from heapviz.render.peek import render_json as peek_json
from heapviz.render.peek import render_text as peek_text
from heapviz.disasm import attach_source, find_objdump
from heapviz.disasm import routines as disasm_routines
from heapviz.render.listing import render_disasm_json as disasm_json
from heapviz.render.listing import render_disasm_text as disasm_text
from heapviz.render.listing import render_json as listing_json
from heapviz.render.listing import render_text as listing_text
from heapviz.render.pprof_proto import to_proto
from heapviz.report.callers import REPORT_FLAME
from heapviz.report.collect import ReportData, ReportOptions, Threshold, collect, legend_header
from heapviz.report.sources import SourceSettings
from heapviz.report.explorer_data import ExplorerInput, ExplorerSettings, Preparation
from heapviz.report.layout import lay_out
from heapviz.report.summary_md import threshold_name
from heapviz.output import Written, write_all
from heapviz.writers import Output, output_for, report_writer, suffixes
from heapviz.source import SourceOptions, SourceReader, listing, routines, split_dirs
from heapviz.symbolize import SymbolizeOptions
from heapviz.symbolize.cache import default_dir as default_cache_dir
from heapviz.timing import Timings, phase
from heapviz.text import TopOptions, render_top, safe, top_rows
from heapviz.units import choose_unit, format_value
from heapviz.wrappers import WrapperOptions, warning as wrapper_warning

EXIT_THRESHOLD = 3


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
        snapshot=args.snapshot,
        symbolize=SymbolizeOptions(binary=args.binary, symbol_path=tuple(paths), tool=args.symbolizer,
                                   timeout_s=args.symbolizer_timeout, cache_dir=_cache_dir(args)),
        prune=PruneOptions(all_frames=args.all_frames, drop_frames=tuple(args.drop_frames)),
    )


def _progress(what: str) -> None:
    """Where a long run is, for people watching a terminal (never in logs or pipes)."""
    print(f"heapviz: {safe(what)}…", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _step(args: argparse.Namespace, name: str, what: str) -> Iterator[None]:
    """A timed phase that also says what it is doing when stderr is a terminal."""
    if sys.stderr.isatty():
        _progress(what)
    with phase(getattr(args, "timings_obj", None), name):
        yield


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


def _fleet_options(args: argparse.Namespace, series: bool) -> FleetOptions | None:
    """A fleet's options when the command takes them and the run is one: options that ask for it,
    or inputs that name many profiles (directories, globs, URLs)."""
    if not hasattr(args, "jobs"):
        return None
    scheduler = args.scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS", "")
    if args.group_by is not None:
        _check_regex(args.group_by, "--group-by")
    if series and (args.scheduler or args.group_by):
        raise UsageError("--scheduler and --group-by sum the inputs: add --merge")
    if not (args.jobs or scheduler or args.group_by or args.strict or names_many(args.profiles)):
        return None
    if args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    return FleetOptions(jobs=args.jobs or 0, scheduler="" if series else scheduler, group_by=args.group_by or "",
                        strict=args.strict, timeout_s=args.timeout)


def _subject_and_view(args: argparse.Namespace, series: bool) -> tuple[Subject, View]:
    filters = _filter_options(args)
    subj = subject(args.profiles, _load_options(args), args.base, series, _fleet_options(args, series))
    return subj, make_view(subj.shown, args.sample_index, filters, _node_options(args))


def _header_lines(view: View) -> list[str]:
    vt = view.profile.sample_types[view.sample_index]
    return legend_header(view.profile, vt, tuple(view.filters.describe()))


def _print_warnings(profile: Profile) -> None:
    for w in profile.warnings:
        print(f"heapviz: warning: {safe(w)}", file=sys.stderr)


def _write(args: argparse.Namespace, outputs: list[tuple[str | None, str | bytes]]) -> None:
    """Write the outputs (all or none, see output.write_all), then say on stderr which files were
    written unless --quiet; what went to stdout is not announced, since it is the output itself."""
    with phase(getattr(args, "timings_obj", None), "write"):
        written = write_all(outputs)
    if getattr(args, "quiet", False):
        return
    for w in written:
        print(f"heapviz: wrote {safe(w.path)} ({_describe(w)})", file=sys.stderr)


def _describe(w: Written) -> str:
    """`6 pages, 212 KiB` for a PDF, `48 KiB` for anything else."""
    size = _file_size(w.size_bytes)
    # By content, not by suffix: `graph --format pdf -o out` is a PDF too.
    if not w.data.startswith(b"%PDF-"):
        return size
    pages = _pdf_pages(w.data)
    if pages is None:
        return size
    return f"{pages} page{'s' if pages != 1 else ''}, {size}"


def _pdf_pages(data: bytes) -> int | None:
    # imported here: pypdf costs startup time that `heapviz top` need not pay
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        return len(PdfReader(io.BytesIO(data)).pages)
    except (PyPdfError, ValueError, KeyError):
        # The file is written and fine for its reader; a page count pypdf cannot make is no
        # reason to fail the run, so the line just leaves it out.
        return None


def _file_size(n: int) -> str:
    """1024-based, as `812 B`, `6.2 KiB`, `212 KiB`, `1.4 MiB`: two or three significant digits."""
    if n < 1024:
        return f"{n} B"
    value = n / 1024
    for unit in ("KiB", "MiB", "GiB"):
        text = f"{value:.1f}" if value < 9.95 else f"{value:.0f}"
        # 1023.7 KiB would print as "1024 KiB": say 1.0 MiB instead.
        if float(text) < 1024:
            return f"{text} {unit}"
        value /= 1024
    return f"{value:.0f} TiB"


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
                     unit=args.unit or "minimum", format=args.format)  # pprof -top's default
    with phase(args.timings_obj, "render_text"):
        text = render_top(view.profile, view.sample_index, top_rows(table, top), top)
    _print_warnings(view.profile)
    _write(args, [(args.output, text)])
    return 0


def _write_collapsed(args: argparse.Namespace, view: View) -> int:
    text = to_collapsed(view.samples, view.sample_index, view.node_options, args.drop_negative)
    _print_warnings(view.profile)
    _write(args, [(args.output, text)])
    return 0


def _graph_format(args: argparse.Namespace) -> str:
    if args.format:
        return str(args.format)
    if args.output and args.output != "-":
        out = output_for(args.output, "graph")
        if out is None:
            raise UsageError(f"cannot tell the format from {args.output!r}: use a "
                             f"{suffixes('graph')} suffix or --format")
        return out.format
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
    unit = choose_unit(vt.unit, _unit(args), ((cg.flat(n), cg.cum(n)) for n in cg.order), cg.total)

    def fmt_value(v: Value) -> str:
        return format_value(v, vt.unit, unit)

    title = profile_title(view.profile)
    ropts = RenderOptions(layout_timeout_s=args.layout_timeout)
    legend = legend_lines(cg, _header_lines(view), fmt_value)
    with phase(args.timings_obj, f"render_{fmt}"):
        if fmt == "json":
            data: str | bytes = graph_json(cg, legend, "bytes" if vt.unit == "bytes" else "count")
        else:
            data = render(to_dot(cg, legend, fmt_value, title, ropts), fmt, ropts)
    _print_warnings(view.profile)
    _write(args, [(args.output, data)])
    return 0


def _report_outputs(paths: list[str]) -> list[tuple[str, Output]]:
    out = []
    for path in paths:
        chosen = output_for(path, "report")
        if chosen is None:
            raise UsageError(f"cannot tell the report format from {path!r}: use a "
                             f"{suffixes('report', ('html', 'pdf', 'json'))} suffix for a report, or "
                             f"{suffixes('report', ('markdown', 'junit'))} for a CI summary")
        out.append((path, chosen))
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


def _wrapper_options(args: argparse.Namespace) -> WrapperOptions:
    for rx in args.alloc_wrappers:
        _check_regex(rx, "--alloc-wrappers")
    return WrapperOptions(enabled=args.wrappers_enabled, extra=tuple(args.alloc_wrappers))


def cmd_report(args: argparse.Namespace) -> int:
    outputs = _report_outputs(args.output)
    previous = _read_previous(args.previous) if args.previous else None
    subj, view = _subject_and_view(args, series=not args.merge)
    gopts = GraphOptions(node_count=args.nodecount, node_fraction=args.nodefraction,
                         edge_fraction=args.edgefraction, drop_negative=args.drop_negative)
    ropts = ReportOptions(sample_index=view.sample_index, node_options=view.node_options, graph=gopts,
                          command_line=tuple(sys.argv[1:]) if args.record_command else (),
                          filters=tuple(view.filters.describe()), unit=_unit(args),
                          layout_timeout_s=args.layout_timeout,
                          sources=SourceSettings(args.source_sites, args.source_lines, _source_options(args)),
                          wrappers=_wrapper_options(args))
    flame = view_tree(subj, view, "Flame graph of the change since base", REPORT_FLAME.keep_fraction()) \
        if subj.mode == "base" else None
    words = view.profile.profile_kind.words
    explorer = None
    if not args.static and any(out.format == "html" for _, out in outputs):
        # the explorer's data is packed on a thread while the report's views are computed
        explorer = _explorer_input(view, gopts, ropts, subj.dumps[-1] if subj.mode == "base" else None)
    with _step(args, "graph", f"collecting the report: call graph, tables, {words.site}s, suspects"):
        data = collect(view.profile, view.samples, ropts, view.reports, subj.dumps, subj.growth, subj.mode,
                       previous, flame, subj.base)
    data.thresholds = _thresholds(args, data)
    data.groups = group_rows(subj.groups, view.profile.sample_types[view.sample_index].type)
    data.skipped = subj.skipped
    data.outputs = [(os.path.basename(path), out.format) for path, out in outputs]
    data.explorer = explorer
    render_opts = RenderOptions(layout_timeout_s=args.layout_timeout)
    if any(out.laid_out for _, out in outputs):
        with _step(args, "layout", "laying the call graphs out"):
            lay_out(data, render_opts)
    files: list[tuple[str | None, str | bytes]] = []
    for path, out in outputs:
        # writers are imported when used: reportlab, pypdf and jinja2 cost a tenth of a second
        with _step(args, f"render_{out.format}", f"writing the {out.format.upper()} report"):
            files.append((path, report_writer(out)(data, render_opts)))
    _print_warnings(view.profile)
    if data.wrappers:
        print(f"heapviz: warning: {safe(wrapper_warning(data.wrappers, data.wrappers_hide))}", file=sys.stderr)
    _write(args, files)
    exceeded = [t for t in data.thresholds if t.exceeded]
    for t in exceeded:
        print(f"heapviz: threshold exceeded: {threshold_name(data, t)} {t.value} > {t.limit}", file=sys.stderr)
    return EXIT_THRESHOLD if exceeded else 0


def _explorer_input(view: View, gopts: GraphOptions, ropts: ReportOptions, widths: Profile | None) -> ExplorerInput:
    """What the HTML report's explorer starts from: the shown profile's samples, unfiltered (its
    filter boxes hold the report's filters), and the report's options; with --base, the new
    profile (`widths`), whose samples give the flame graph its widths."""
    p = view.profile
    headers = tuple(tuple(legend_header(p, vt, ())) for vt in p.sample_types)
    settings = ExplorerSettings(view.sample_index, view.node_options, view.filters, gopts.node_count,
                                gopts.node_fraction, gopts.edge_fraction, gopts.drop_negative, ropts.unit, headers)
    return ExplorerInput(p, settings, widths, Preparation(p, settings, widths))


def cmd_flame(args: argparse.Namespace) -> int:
    subj, view = _subject_and_view(args, series=False)
    title = profile_title(view.profile)
    options = FlameOptions(width=args.width, max_depth=args.max_depth)
    tree = view_tree(subj, view, f"Flame graph of {title}", options.keep_fraction())
    unit = choose_unit(tree.sample_unit, _unit(args), [], tree.total)

    def fmt_value(v: Value) -> str:
        return format_value(v, tree.sample_unit, unit)

    svg = to_svg(tree, fmt_value, options)
    _print_warnings(view.profile)
    _write(args, [(args.output, svg)])
    return 0


def cmd_peek(args: argparse.Namespace) -> int:
    # `peek PROFILE [REGEX]`: a last argument that is not a file is the regex.
    if not args.regex and len(args.profiles) > 1 and args.profiles[-1] != "-" and not os.path.exists(args.profiles[-1]):
        args.regex = args.profiles.pop()
    _check_regex(args.regex, "REGEX")
    _, view = _subject_and_view(args, series=False)
    vt = view.profile.sample_types[view.sample_index]
    result = peek(view.samples, view.sample_index, view.node_options, view.total, args.regex, args.cum)
    # before rendering: the JSON carries the profile's warnings too
    for w in result.warnings:
        view.profile.warn(w)
    if args.format == "json":
        text = peek_json(result, view.profile.source, vt.type, vt.unit, view.profile.warnings)
    else:
        unit = choose_unit(vt.unit, _unit(args), ((e.flat, e.cum) for e in result.entries), result.total)

        def fmt_value(v: Value) -> str:
            return format_value(v, vt.unit, unit)

        text = peek_text(result, _header_lines(view), fmt_value)
    _print_warnings(view.profile)
    _write(args, [(args.output, text)])
    return 0


def _source_options(args: argparse.Namespace) -> SourceOptions:
    return SourceOptions(source_path=split_dirs(args.source_path), trim_path=split_dirs(args.trim_path))


def cmd_list(args: argparse.Namespace) -> int:
    _check_regex(args.regex, "REGEX")
    _, view = _subject_and_view(args, series=False)
    vt = view.profile.sample_types[view.sample_index]
    with phase(args.timings_obj, "graph"):
        found = routines(view.samples, view.sample_index, re.compile(args.regex), view.node_options)
    if not found:
        raise UsageError(f"no function with values matches {args.regex!r}")
    reader = SourceReader(_source_options(args))
    listings = [listing(r, reader, args.context) for r in found]
    for li in listings:
        for w in li.warnings:
            view.profile.warn(w)
    if args.format == "json":
        text = listing_json(listings, view.total, view.profile.source, vt.type, vt.unit, view.profile.warnings)
    else:
        text = listing_text(listings, view.total, _each_in_own_unit(vt.unit, args))
    _print_warnings(view.profile)
    _write(args, [(args.output, text)])
    return 0


def _unit(args: argparse.Namespace) -> str:
    """The unit of every view but top (one unit policy): each value in its own unit, unless --unit."""
    return str(args.unit) if args.unit else "auto"


def _each_in_own_unit(sample_unit: str, args: argparse.Namespace) -> Callable[[Value], str]:
    """pprof's list and disasm print each value in its own unit unless --unit forces one."""
    unit = _unit(args)
    return lambda v: format_value(v, sample_unit, unit)


def cmd_disasm(args: argparse.Namespace) -> int:
    _check_regex(args.regex, "REGEX")
    objdump = find_objdump()
    _, view = _subject_and_view(args, series=False)
    vt = view.profile.sample_types[view.sample_index]
    with phase(args.timings_obj, "disasm"):
        found = disasm_routines(view.samples, view.sample_index, re.compile(args.regex), args.demangle, objdump,
                                inlines=args.source)
    if not found:
        raise UsageError(f"no function with values matches {args.regex!r} in the binaries' symbol tables")
    if args.source:
        attach_source(found, SourceReader(_source_options(args)))
    if args.format == "json":
        text = disasm_json(found, view.total, view.profile.source, vt.type, vt.unit, view.profile.warnings,
                           args.source)
    else:
        text = disasm_text(found, view.total, _each_in_own_unit(vt.unit, args), args.source)
    _print_warnings(view.profile)
    _write(args, [(args.output, text)])
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    _, view = _subject_and_view(args, series=False)
    default = view.profile.sample_types[view.sample_index].type
    data = to_proto(view.profile, view.samples, default, compress=not args.output.endswith(".pb"),
                    demangle=args.demangle)
    _print_warnings(view.profile)
    _write(args, [(args.output, data)])
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    found = doctor_checks()
    print(doctor_text(found), end="")
    return 1 if missing_required(found) else 0


def run() -> int:
    """The `heapviz` command and `python -m heapviz`: main() in a process of its own."""
    return main(process=True)


def main(argv: Sequence[str] | None = None, *, process: bool = False) -> int:
    """The command line. `process`: heapviz owns the process (see run()), so once every output is
    complete, SIGTERM and SIGINT are ignored until it exits (a late signal cannot make finished
    outputs look interrupted); a caller embedding heapviz keeps its own signal handling."""
    install_signal_handlers()
    # heapviz is a one-shot process that builds millions of small acyclic objects (locations,
    # frames, graph nodes); the cyclic collector would rescan them over and over (measured: 40%
    # of a 100k-stack report) and has little to free. Memory is released when the process exits.
    gc.disable()
    args = argparse.Namespace(debug=False)
    try:  # from the start: a signal while the options are read is handled as one during the work
        parser = build_parser({"top": cmd_top, "graph": cmd_graph, "report": cmd_report, "flame": cmd_flame,
                               "peek": cmd_peek, "list": cmd_list, "disasm": cmd_disasm, "convert": cmd_convert,
                               "doctor": cmd_doctor})
        args = parser.parse_args(argv)
        if args.check_tools and not getattr(args, "command", None):
            return cmd_doctor(args)
        if not getattr(args, "command", None):
            parser.print_help(sys.stderr)
            return 2
        rc = int(args.func(args))
        if process:
            ignore_signals()  # done: every output is complete, so a late signal changes nothing
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
