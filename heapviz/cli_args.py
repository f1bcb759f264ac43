"""The command line's options and subcommands (argparse). Parsing only: cli.py runs them."""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable

from heapviz.doctor import version_line
from heapviz.formats import DEFAULT_MAX_INPUT, DEFAULT_MAX_LINE
from heapviz.graph.nodes import GRANULARITIES
from heapviz.render.dot import FORMATS
from heapviz.symbolize.demangle import DEMANGLE_MODES
from heapviz.units import UNIT_CHOICES

SAMPLE_ALIASES = ("inuse_space", "inuse_objects", "alloc_space", "alloc_objects")


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


def _snapshot(text: str) -> str:
    if text in ("peak", "last") or text.isdigit():
        return text
    raise argparse.ArgumentTypeError(f"not a snapshot: {text!r} (use a number, peak or last)")


def _fraction(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= v <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1: {text!r}")
    return v


# Keeps the epilog's line breaks, which argparse would otherwise rewrap into one paragraph;
# option help is still wrapped to the terminal.
_RAW = argparse.RawDescriptionHelpFormatter


# What each subcommand's --help ends with: command lines to copy and adapt.
EXAMPLES: dict[str, tuple[str, ...]] = {
    "top": (
        "heapviz top app.0003.heap --cum --nodecount 20",
        "heapviz top app.0007.heap --base app.0002.heap --focus MyCache",
        "heapviz top app.0003.heap --sample-index alloc_space --format json -o top.json",
    ),
    "graph": (
        "heapviz graph app.0003.heap -o leak.svg",
        "heapviz graph app.0003.heap --focus MyCache --nodecount 30 -o cache.pdf",
        "heapviz graph app.0007.heap --base app.0002.heap --drop-negative -o grew.svg",
    ),
    "report": (
        "heapviz report app.0003.heap -o leak.html -o leak.pdf",
        "heapviz report app.*.heap -o growth.html -o summary.md -o leaks.junit.xml --fail-if-growth 10MB",
        "heapviz report app.0007.heap --base app.0002.heap -o grew.pdf --previous last-night/summary.json",
    ),
    "flame": (
        "heapviz flame app.0003.heap -o flame.svg",
        "heapviz flame app.0007.heap --base app.0002.heap -o grew.svg",
        "heapviz flame app.0003.heap --focus worker --width 1600 -o worker.svg",
    ),
    "peek": (
        "heapviz peek app.0003.heap 'MyCache::'",
        "heapviz peek app.0003.heap '^Cache::Insert$' --cum",
        "heapviz peek app.0003.heap --regex 'Cache' --format json -o peek.json",
    ),
    "list": (
        "heapviz list 'MyCache::Insert' app.0003.heap",
        "heapviz list 'Cache' app.0003.heap --source-path ~/src/app --trim-path /build/app",
        "heapviz list '^main$' app.0003.heap --context 8 --format json -o main.json",
    ),
    "disasm": (
        "heapviz disasm 'MyCache::Insert' app.0003.heap",
        "heapviz disasm '^main$' app.0003.heap --all-frames --unit B",
        "heapviz disasm 'Cache' app.0003.heap --format json -o cache-asm.json",
    ),
    "doctor": (
        "heapviz doctor",
        "heapviz doctor && heapviz top app.0003.heap",
    ),
    "convert": (
        "heapviz convert app.0003.heap -o app.pb.gz",
        "heapviz convert app.0007.heap --base app.0002.heap --focus MyCache -o grew.pb",
        "heapviz convert app.0003.heap --sample-index alloc_space -o alloc.pb.gz",
    ),
}


def _examples(command: str) -> str:
    """The epilog that ends a subcommand's --help."""
    return "examples:\n" + "\n".join(f"  {c}" for c in EXAMPLES[command])


def _add_routine_options(p: argparse.ArgumentParser, command: str, regex_help: str, profiles_help: str) -> None:
    """What `list` and `disasm` share: REGEX PROFILE…, -o, --format text|json and --unit."""
    p.add_argument("regex", metavar="REGEX", help=regex_help)
    p.add_argument("profiles", nargs="+", metavar="PROFILE", help=profiles_help)
    p.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    p.add_argument("--format", choices=("text", "json"), default="text",
                   help=f"text (laid out like pprof -{command}, the default) or json (the same rows)")
    p.add_argument("--unit", choices=UNIT_CHOICES, default=None,
                   help=f"memory unit (1024-based); default: each value in its own unit, as pprof -{command}")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _add_quiet(p: argparse.ArgumentParser) -> None:
    # SUPPRESS: without it the subcommand's default (False) would overwrite `heapviz -q top …`.
    p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                   help="do not say which files were written (warnings and errors still print)")


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
    g.add_argument("--snapshot", metavar="N|peak|last", default=None, type=_snapshot,
                   help="files that hold a series of snapshots (massif): use only snapshot N, the peak or the "
                        "last (default: a report shows them all as a series; other commands use the last)")
    g.add_argument("--thread", type=int, metavar="N", default=None,
                   help="jemalloc profiles: show only thread N's values (default: all threads)")


def _jobs(text: str) -> int:
    v = _context(text)
    if v < 1:
        raise argparse.ArgumentTypeError(f"must be 1 or more: {text!r}")
    return v


def _add_fleet_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("fleets (inputs may also be directories, globs and fsspec URLs: s3://, gs://, file://)")
    g.add_argument("--jobs", "-j", type=_jobs, default=None, metavar="N",
                   help="parse and symbolize on N local processes (default: the machine's cores)")
    g.add_argument("--scheduler", metavar="ADDRESS", default=None,
                   help="run the parsing, symbolizing and summing on this Dask cluster (tcp://host:8786; "
                        "default: $DASK_SCHEDULER_ADDRESS when set); needs heapviz[fleet]")
    g.add_argument("--group-by", metavar="REGEX", default=None,
                   help="label each input by REGEX's named groups searched in its path "
                        "('hosts/(?P<host>[^/]+)/'): totals and top functions per group")
    g.add_argument("--strict", action="store_true",
                   help="fail on an input that cannot be read instead of skipping it with a warning")
    g.add_argument("--timeout", type=float, default=3600.0, metavar="SECONDS",
                   help="give up waiting for the Dask cluster after this long (default 3600)")


def _add_view_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("what to show")
    g.add_argument("--sample-index", "--sample_index", "-sample_index", dest="sample_index", metavar="NAME",
                   help="sample type to show: inuse_space (default), inuse_objects, alloc_space, alloc_objects")
    for name in SAMPLE_ALIASES:
        g.add_argument(f"--{name}", f"--{name.replace('_', '-')}", f"-{name}", dest="sample_index",
                       action="store_const", const=name, help=argparse.SUPPRESS)
    g.add_argument("--granularity", choices=GRANULARITIES, default=None,
                   help="what one row or node is: functions (default), files, lines or addresses; "
                        "also --functions, --files, --lines, --addresses")
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


def _context(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {text!r}")
    return v


def _add_source_options(p: argparse.ArgumentParser, report: bool = False, context: bool = True) -> None:
    g = p.add_argument_group("source files")
    if report:
        g.add_argument("--source-sites", type=_context, default=10, metavar="N",
                       help="show the annotated code of the N largest leak sites (default 10; 0: none)")
        g.add_argument("--source-lines", type=_context, default=40, metavar="N",
                       help="source lines shown per leak site, over all its frames (default 40)")
    g.add_argument("--source-path", "--source_path", "-source_path", dest="source_path", action="append",
                   default=[], metavar="DIR[:DIR...]",
                   help="directories to find source files in; each one's parents are tried too "
                        "(default: the current directory); repeatable")
    g.add_argument("--trim-path", "--trim_path", "-trim_path", dest="trim_path", action="append", default=[],
                   metavar="PREFIX[:PREFIX...]",
                   help="cut this build-machine prefix from recorded source paths before searching "
                        "(default: cut up to the name of a --source-path directory found in the path)")
    if not report and context:
        g.add_argument("--context", type=_context, default=4, metavar="N",
                       help="source lines shown around each line with values (default 4)")


def _add_graph_options(p: argparse.ArgumentParser, node_count: int, node_fraction: float, what: str) -> None:
    p.add_argument("--nodecount", "--node-count", "-nodecount", dest="nodecount", type=int, default=node_count,
                   metavar="N", help=f"{what}show at most N nodes (default {node_count or 'all'}; 0 = no limit)")
    p.add_argument("--nodefraction", "--node-fraction", "-nodefraction", dest="nodefraction", type=_fraction,
                   default=node_fraction, metavar="F",
                   help=f"{what}drop nodes whose cum is below F of the total (default {node_fraction})")
    p.add_argument("--unit", choices=UNIT_CHOICES, default=None,
                   help="unit of the values (bytes 1024-based as pprof labels them, or time); default: top uses "
                        "pprof's 'minimum' (one unit for the table), other views show each value in its own ('auto')")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def _add_edge_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--edgefraction", "--edge-fraction", "-edgefraction", dest="edgefraction", type=_fraction,
                   default=0.001, metavar="F", help="drop edges below F of the total (default 0.001)")
    p.add_argument("--layout-timeout", type=float, default=120.0, metavar="SECONDS",
                   help="give up on a Graphviz layout after this long (default 120)")


def build_parser(commands: dict[str, Callable[[argparse.Namespace], int]]) -> argparse.ArgumentParser:
    """The command line; `commands` maps each subcommand to the function that runs it."""
    parser = argparse.ArgumentParser(
        prog="heapviz",
        description="Heap profiles (gperftools/tcmalloc) to call graphs, leak reports and tables.",
    )
    parser.add_argument("--version", action="version", version=version_line(),
                        help="show the version and whether the compiled parts are in use, then exit")
    parser.add_argument("--check-tools", action="store_true",
                        help="list the tools heapviz uses and what is missing, as `heapviz doctor` does")
    parser.add_argument("--debug", action="store_true", help="show a traceback on errors")
    parser.add_argument("-q", "--quiet", action="store_true", default=False,
                        help="do not say which files were written (warnings and errors still print)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    many = "heap profile(s); several are summed; - is stdin"

    top = sub.add_parser("top", help="table of functions by flat or cumulative value (like pprof -top)",
                         formatter_class=_RAW, epilog=_examples("top"))
    top.add_argument("profiles", nargs="+", metavar="PROFILE", help=many)
    top.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    top.add_argument("--format", choices=("text", "json", "csv", "collapsed"), default="text",
                     help="collapsed: folded stacks ('root;caller;leaf VALUE') for flamegraph.pl or speedscope")
    top.add_argument("--cum", action="store_true", help="sort by cumulative value")
    _add_graph_options(top, 0, 0.0, "")
    _add_input_options(top)
    _add_fleet_options(top)
    _add_view_options(top)
    _add_quiet(top)
    top.set_defaults(func=commands["top"])

    gr = sub.add_parser("graph", help="call graph as SVG, PDF, PNG or DOT (like pprof -svg)",
                        formatter_class=_RAW, epilog=_examples("graph"))
    gr.add_argument("profiles", nargs="+", metavar="PROFILE", help=many)
    gr.add_argument("-o", "--output", metavar="FILE", help="output file; its suffix picks the format "
                    "(.svg .pdf .png .dot .json); without it DOT goes to stdout")
    gr.add_argument("--format", choices=(*FORMATS, "json", "collapsed"), default=None,
                    help="output format (overrides the suffix); collapsed: folded stacks for flame graphs")
    gr.add_argument("--cum", action="store_true", help=argparse.SUPPRESS)
    _add_graph_options(gr, 80, 0.005, "")
    _add_edge_options(gr)
    _add_input_options(gr)
    _add_fleet_options(gr)
    _add_view_options(gr)
    _add_quiet(gr)
    gr.set_defaults(func=commands["graph"])

    rp = sub.add_parser("report", help="leak report as one self-contained HTML or PDF file, or a JSON summary",
                        formatter_class=_RAW, epilog=_examples("report"))
    rp.add_argument("profiles", nargs="+", metavar="PROFILE",
                    help="heap profile; several are a series of dumps (or summed with --merge)")
    rp.add_argument("-o", "--output", metavar="FILE", action="append", required=True,
                    help="report file; .html, .pdf or .json picks the format, .md a Markdown summary for "
                         "CI, .junit.xml JUnit XML with a test case per threshold; repeat to write several")
    rp.add_argument("--merge", action="store_true", help="sum several profiles into one instead of a series")
    rp.add_argument("--fail-if-growth", type=_size, metavar="SIZE",
                    help="exit 3 when in-use bytes grew by more than SIZE from first to last dump (or vs --base)")
    rp.add_argument("--fail-if-inuse", type=_size, metavar="SIZE",
                    help="exit 3 when the last dump holds more than SIZE in use")
    rp.add_argument("--previous", metavar="SUMMARY.json",
                    help="a previous run's JSON summary: report what got worse since then")
    rp.add_argument("--no-command-line", dest="record_command", action="store_false",
                    help="do not record the heapviz command line in the report")
    rp.add_argument("--static", action="store_true",
                    help="HTML without the explorer (no embedded samples, no in-page recompute of the graph)")
    rp.add_argument("--alloc-wrappers", dest="alloc_wrappers", action="append", default=[], metavar="REGEX",
                    help="functions matching REGEX (whole short name) are allocation wrappers too: leak sites "
                         "and suspects are named after their callers (the graph keeps them)")
    rp.add_argument("--no-alloc-wrappers", dest="wrappers_enabled", action="store_false",
                    help="no built-in list of allocation wrappers (g_malloc, xmalloc, PyMem_Malloc …) and no "
                         "detection of the program's own; only --alloc-wrappers")
    _add_graph_options(rp, 80, 0.005, "graph: ")
    _add_edge_options(rp)
    _add_source_options(rp, report=True)
    _add_input_options(rp)
    _add_fleet_options(rp)
    _add_view_options(rp)
    _add_quiet(rp)
    rp.set_defaults(func=commands["report"])

    fl = sub.add_parser("flame", help="flame graph (icicle) of the call tree as a standalone SVG",
                        formatter_class=_RAW, epilog=_examples("flame"))
    fl.add_argument("profiles", nargs="+", metavar="PROFILE", help=many)
    fl.add_argument("-o", "--output", metavar="FILE.svg", help="write here instead of stdout")
    fl.add_argument("--width", type=float, default=1200.0, metavar="PX", help="width in pixels (default 1200)")
    fl.add_argument("--max-depth", type=int, default=400, metavar="N", help="draw at most N levels (default 400)")
    fl.add_argument("--unit", choices=UNIT_CHOICES, default="auto", help="memory unit in tooltips (default auto)")
    fl.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    _add_input_options(fl)
    _add_view_options(fl)
    _add_quiet(fl)
    fl.set_defaults(func=commands["flame"])

    pk = sub.add_parser("peek", help="callers and callees of matching functions (like pprof -peek)",
                        formatter_class=_RAW, epilog=_examples("peek"))
    pk.add_argument("profiles", nargs="+", metavar="PROFILE [REGEX]",
                    help=many + "; a last argument that is not a file is REGEX")
    pk.add_argument("--regex", "--match", dest="regex", default="", metavar="REGEX",
                    help="functions to show (searched in short and full names; default: all)")
    pk.add_argument("-o", "--output", metavar="FILE", help="write here instead of stdout")
    pk.add_argument("--format", choices=("text", "json"), default="text",
                    help="text (laid out like pprof -peek, the default) or json")
    pk.add_argument("--cum", action="store_true", help="order by cumulative value instead of flat")
    pk.add_argument("--unit", choices=UNIT_CHOICES, default=None,
                    help="unit of the values (bytes 1024-based as pprof labels them, or time); default: each value "
                         "in its own ('auto')")
    pk.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    _add_input_options(pk)
    _add_view_options(pk)
    _add_quiet(pk)
    pk.set_defaults(func=commands["peek"])

    ls = sub.add_parser("list", help="source lines of matching functions with flat and cum (like pprof -list)",
                        formatter_class=_RAW, epilog=_examples("list"))
    _add_routine_options(ls, "list", "functions to list (searched in names as `top` prints them)", many)
    _add_source_options(ls)
    _add_input_options(ls)
    _add_view_options(ls)
    _add_quiet(ls)
    ls.set_defaults(func=commands["list"])

    da = sub.add_parser("disasm", help="instructions of matching functions with flat and cum (like pprof -disasm)",
                        formatter_class=_RAW, epilog=_examples("disasm"))
    _add_routine_options(da, "disasm",
                         "functions to disassemble (searched in names as `top` prints them, full names and symbols)",
                         many)
    da.add_argument("--source", action="store_true",
                    help="show each instruction group's source line (file:line and its text, when the file is "
                         "found) and the callers its code is inlined into; the plain layout stays pprof's")
    _add_source_options(da, context=False)
    _add_input_options(da)
    _add_view_options(da)
    _add_quiet(da)
    da.set_defaults(func=commands["disasm"])

    cv = sub.add_parser("convert", help="write what heapviz shows as a symbolized pprof profile.proto",
                        formatter_class=_RAW, epilog=_examples("convert"))
    cv.add_argument("profiles", nargs="+", metavar="PROFILE", help=many)
    cv.add_argument("-o", "--output", metavar="FILE.pb.gz", required=True,
                    help="profile.proto file, gzipped unless its name ends in .pb; - is stdout")
    cv.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    _add_input_options(cv)
    _add_fleet_options(cv)
    _add_view_options(cv)
    _add_quiet(cv)
    cv.set_defaults(func=commands["convert"])
    if "doctor" not in commands:  # a caller that only parses profile commands
        return parser

    dr = sub.add_parser("doctor", help="check the external tools and compiled parts heapviz uses",
                        formatter_class=_RAW, epilog=_examples("doctor"),
                        description="List Graphviz, the symbolizers, the demanglers, the fonts, the compiled "
                                    "parts and the Python packages heapviz uses: version, path, and what a "
                                    "missing one costs. Exits 1 when something required is missing (a "
                                    "symbolizer: llvm-symbolizer or addr2line; a Python package).")
    dr.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    dr.set_defaults(func=commands["doctor"])
    return parser
