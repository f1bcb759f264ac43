"""Command line: subcommands, options, and the only place that prints errors and exits."""

from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import re
import sys
import traceback
from collections.abc import Sequence
from typing import NoReturn

from heapviz.cli_args import build_parser
from heapviz.cli_common import (
    check_regex,
    each_in_own_unit,
    header_lines,
    print_warnings,
    source_options,
    subject_and_view,
    unit_option,
    write_outputs,
)
from heapviz.cli_report import cmd_report
from heapviz.disasm import attach_source, find_objdump
from heapviz.disasm import routines as disasm_routines
from heapviz.doctor import checks as doctor_checks
from heapviz.doctor import missing_required
from heapviz.doctor import render as doctor_text
from heapviz.errors import HeapvizError, Terminated, UsageError, ignore_signals, install_signal_handlers
from heapviz.graph.build import GraphOptions, trimmed_graph
from heapviz.graph.peek import peek
from heapviz.graph.tables import node_table
from heapviz.model import Value, profile_title
from heapviz.pipeline import View, view_tree
from heapviz.render.collapsed import to_collapsed
from heapviz.render.dot import RenderOptions, legend_lines, render, to_dot
from heapviz.render.flame import FlameOptions, to_svg
from heapviz.render.graph_json import to_json as graph_json
from heapviz.render.listing import render_disasm_json as disasm_json
from heapviz.render.listing import render_disasm_text as disasm_text
from heapviz.render.listing import render_json as listing_json
from heapviz.render.listing import render_text as listing_text
from heapviz.render.peek import render_json as peek_json
from heapviz.render.peek import render_text as peek_text
from heapviz.render.pprof_proto import to_proto
from heapviz.source import SourceReader, listing, routines
from heapviz.text import TopOptions, render_top, safe, top_rows
from heapviz.timing import phase
from heapviz.units import choose_unit, format_value
from heapviz.writers import output_for, suffixes


def cmd_top(args: argparse.Namespace) -> int:
    _, view = subject_and_view(args, series=False)
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
    print_warnings(view.profile)
    write_outputs(args, [(args.output, text)])
    return 0


def _write_collapsed(args: argparse.Namespace, view: View) -> int:
    text = to_collapsed(view.samples, view.sample_index, view.node_options, args.drop_negative)
    print_warnings(view.profile)
    write_outputs(args, [(args.output, text)])
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
    _, view = subject_and_view(args, series=False)
    if fmt == "collapsed":
        return _write_collapsed(args, view)
    vt = view.profile.sample_types[view.sample_index]
    gopts = GraphOptions(node_count=args.nodecount, node_fraction=args.nodefraction,
                         edge_fraction=args.edgefraction, cum_sort=args.cum, drop_negative=args.drop_negative)
    with phase(args.timings_obj, "graph"):
        cg = trimmed_graph(view.samples, view.sample_index, view.node_options, gopts, view.total,
                           view.profile.size_pairs)
    unit = choose_unit(vt.unit, unit_option(args), ((cg.flat(n), cg.cum(n)) for n in cg.order), cg.total)

    def fmt_value(v: Value) -> str:
        return format_value(v, vt.unit, unit)

    title = profile_title(view.profile)
    ropts = RenderOptions(layout_timeout_s=args.layout_timeout)
    legend = legend_lines(cg, header_lines(view), fmt_value)
    with phase(args.timings_obj, f"render_{fmt}"):
        if fmt == "json":
            data: str | bytes = graph_json(cg, legend, "bytes" if vt.unit == "bytes" else "count")
        else:
            data = render(to_dot(cg, legend, fmt_value, title, ropts), fmt, ropts)
    print_warnings(view.profile)
    write_outputs(args, [(args.output, data)])
    return 0


def cmd_flame(args: argparse.Namespace) -> int:
    subj, view = subject_and_view(args, series=False)
    title = profile_title(view.profile)
    options = FlameOptions(width=args.width, max_depth=args.max_depth)
    tree = view_tree(subj, view, f"Flame graph of {title}", options.keep_fraction())
    unit = choose_unit(tree.sample_unit, unit_option(args), [], tree.total)

    def fmt_value(v: Value) -> str:
        return format_value(v, tree.sample_unit, unit)

    svg = to_svg(tree, fmt_value, options)
    print_warnings(view.profile)
    write_outputs(args, [(args.output, svg)])
    return 0


def cmd_peek(args: argparse.Namespace) -> int:
    # `peek PROFILE [REGEX]`: a last argument that is not a file is the regex.
    if not args.regex and len(args.profiles) > 1 and args.profiles[-1] != "-" and not os.path.exists(args.profiles[-1]):
        args.regex = args.profiles.pop()
    check_regex(args.regex, "REGEX")
    _, view = subject_and_view(args, series=False)
    vt = view.profile.sample_types[view.sample_index]
    result = peek(view.samples, view.sample_index, view.node_options, view.total, args.regex, args.cum)
    # before rendering: the JSON carries the profile's warnings too
    for w in result.warnings:
        view.profile.warn(w)
    if args.format == "json":
        text = peek_json(result, view.profile.source, vt.type, vt.unit, view.profile.warnings)
    else:
        unit = choose_unit(vt.unit, unit_option(args), ((e.flat, e.cum) for e in result.entries), result.total)

        def fmt_value(v: Value) -> str:
            return format_value(v, vt.unit, unit)

        text = peek_text(result, header_lines(view), fmt_value)
    print_warnings(view.profile)
    write_outputs(args, [(args.output, text)])
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    check_regex(args.regex, "REGEX")
    _, view = subject_and_view(args, series=False)
    vt = view.profile.sample_types[view.sample_index]
    with phase(args.timings_obj, "graph"):
        found = routines(view.samples, view.sample_index, re.compile(args.regex), view.node_options)
    if not found:
        raise UsageError(f"no function with values matches {args.regex!r}")
    reader = SourceReader(source_options(args))
    listings = [listing(r, reader, args.context) for r in found]
    for li in listings:
        for w in li.warnings:
            view.profile.warn(w)
    if args.format == "json":
        text = listing_json(listings, view.total, view.profile.source, vt.type, vt.unit, view.profile.warnings)
    else:
        text = listing_text(listings, view.total, each_in_own_unit(vt.unit, args))
    print_warnings(view.profile)
    write_outputs(args, [(args.output, text)])
    return 0


def cmd_disasm(args: argparse.Namespace) -> int:
    check_regex(args.regex, "REGEX")
    objdump = find_objdump()
    _, view = subject_and_view(args, series=False)
    vt = view.profile.sample_types[view.sample_index]
    with phase(args.timings_obj, "disasm"):
        found = disasm_routines(view.samples, view.sample_index, re.compile(args.regex), args.demangle, objdump,
                                inlines=args.source)
    if not found:
        raise UsageError(f"no function with values matches {args.regex!r} in the binaries' symbol tables")
    if args.source:
        attach_source(found, SourceReader(source_options(args)))
    if args.format == "json":
        text = disasm_json(found, view.total, view.profile.source, vt.type, vt.unit, view.profile.warnings,
                           args.source)
    else:
        text = disasm_text(found, view.total, each_in_own_unit(vt.unit, args), args.source)
    print_warnings(view.profile)
    write_outputs(args, [(args.output, text)])
    return 0


def cmd_convert(args: argparse.Namespace) -> int:
    _, view = subject_and_view(args, series=False)
    default = view.profile.sample_types[view.sample_index].type
    data = to_proto(view.profile, view.samples, default, compress=not args.output.endswith(".pb"),
                    demangle=args.demangle)
    print_warnings(view.profile)
    write_outputs(args, [(args.output, data)])
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    found = doctor_checks()
    print(doctor_text(found), end="")
    return 1 if missing_required(found) else 0


def run() -> NoReturn:
    """The `heapviz` command and `python -m heapviz`: main() in a process of its own, which ends
    here once its output is flushed: every file is written and closed by then, and the
    interpreter's teardown (freeing a big profile's millions of objects one by one) took 0.19 s
    of a 2.2 s report on 250k stacks."""
    rc = main(process=True)
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except (BrokenPipeError, OSError):
        rc = rc or 1
    os._exit(rc)


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
