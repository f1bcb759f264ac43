"""What the commands share: options into the pipeline's option objects, the timed steps,
warnings, and writing the outputs."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sys
from collections.abc import Callable, Iterator

from heapviz.errors import UsageError
from heapviz.fleet import FleetOptions, names_many
from heapviz.formats import ReadLimits
from heapviz.graph.filters import FilterOptions, compile_regex
from heapviz.graph.nodes import NodeOptions
from heapviz.model import Profile, Value
from heapviz.output import Written, write_all
from heapviz.pipeline import LoadOptions, Subject, View, make_view, subject
from heapviz.prune import PruneOptions
from heapviz.report.collect import legend_header
from heapviz.source import SourceOptions, split_dirs
from heapviz.symbolize import SymbolizeOptions
from heapviz.symbolize.cache import default_dir as default_cache_dir
from heapviz.text import safe
from heapviz.timing import Timings, phase
from heapviz.units import format_value


def check_regex(rx: str, option: str) -> None:
    try:
        re.compile(rx)
    except re.error as e:
        raise UsageError(f"{option}: bad regular expression {rx!r}: {e}") from None


def load_options(args: argparse.Namespace) -> LoadOptions:
    for d in args.drop_frames:
        check_regex(d, "--drop-frames")
    paths = list(args.symbol_path)
    env = os.environ.get("HEAPVIZ_SYMBOL_PATH") or os.environ.get("PPROF_BINARY_PATH") or ""
    paths += [d for d in env.split(os.pathsep) if d]
    args.timings_obj = Timings() if args.timings else None
    return LoadOptions(
        timings=args.timings_obj,
        progress=progress if sys.stderr.isatty() else None,
        limits=ReadLimits(max_line_bytes=args.max_line_size, max_input_bytes=args.max_input_size,
                          thread=args.thread),
        snapshot=args.snapshot,
        symbolize=SymbolizeOptions(binary=args.binary, symbol_path=tuple(paths), tool=args.symbolizer,
                                   timeout_s=args.symbolizer_timeout, cache_dir=cache_dir(args)),
        prune=PruneOptions(all_frames=args.all_frames, drop_frames=tuple(args.drop_frames)),
    )


def progress(what: str) -> None:
    """Where a long run is, for people watching a terminal (never in logs or pipes)."""
    print(f"heapviz: {safe(what)}…", file=sys.stderr, flush=True)


@contextlib.contextmanager
def step(args: argparse.Namespace, name: str, what: str) -> Iterator[None]:
    """A timed phase that also says what it is doing when stderr is a terminal."""
    if sys.stderr.isatty():
        progress(what)
    with phase(getattr(args, "timings_obj", None), name):
        yield


def cache_dir(args: argparse.Namespace) -> str | None:
    if args.no_cache or os.environ.get("HEAPVIZ_NO_CACHE"):
        return None
    return str(args.cache_dir or os.environ.get("HEAPVIZ_CACHE_DIR") or default_cache_dir())


def filter_options(args: argparse.Namespace) -> FilterOptions:
    filters = FilterOptions(focus=args.focus, ignore=args.ignore, hide=args.hide, show=args.show)
    for name in ("focus", "ignore", "hide", "show"):
        compile_regex(getattr(args, name), name)
    return filters


def node_options(args: argparse.Namespace) -> NodeOptions:
    return NodeOptions(granularity=args.granularity or "functions", demangle=args.demangle, inlines=args.inlines)


def fleet_options(args: argparse.Namespace, series: bool) -> FleetOptions | None:
    """A fleet's options when the command takes them and the run is one: options that ask for it,
    or inputs that name many profiles (directories, globs, URLs)."""
    if not hasattr(args, "jobs"):
        return None
    scheduler = args.scheduler or os.environ.get("DASK_SCHEDULER_ADDRESS", "")
    if args.group_by is not None:
        check_regex(args.group_by, "--group-by")
    if series and (args.scheduler or args.group_by):
        raise UsageError("--scheduler and --group-by sum the inputs: add --merge")
    if not (args.jobs or scheduler or args.group_by or args.strict or names_many(args.profiles)):
        return None
    if args.timeout <= 0:
        raise UsageError("--timeout must be positive")
    return FleetOptions(jobs=args.jobs or 0, scheduler="" if series else scheduler, group_by=args.group_by or "",
                        strict=args.strict, timeout_s=args.timeout)


def subject_and_view(args: argparse.Namespace, series: bool) -> tuple[Subject, View]:
    filters = filter_options(args)
    subj = subject(args.profiles, load_options(args), args.base, series, fleet_options(args, series))
    return subj, make_view(subj.shown, args.sample_index, filters, node_options(args))


def header_lines(view: View) -> list[str]:
    vt = view.profile.sample_types[view.sample_index]
    return legend_header(view.profile, vt, tuple(view.filters.describe()))


def print_warnings(profile: Profile) -> None:
    for w in profile.warnings:
        print(f"heapviz: warning: {safe(w)}", file=sys.stderr)


def write_outputs(args: argparse.Namespace, outputs: list[tuple[str | None, str | bytes]]) -> None:
    """Write the outputs (all or none, see output.write_all), then say on stderr which files were
    written unless --quiet; what went to stdout is not announced, since it is the output itself."""
    with phase(getattr(args, "timings_obj", None), "write"):
        written = write_all(outputs)
    if getattr(args, "quiet", False):
        return
    for w in written:
        print(f"heapviz: wrote {safe(w.path)} ({describe_written(w)})", file=sys.stderr)


def describe_written(w: Written) -> str:
    """`6 pages, 212 KiB` for a PDF, `48 KiB` for anything else."""
    size = file_size(w.size_bytes)
    # By content, not by suffix: `graph --format pdf -o out` is a PDF too.
    if not w.data.startswith(b"%PDF-"):
        return size
    pages = pdf_pages(w.data)
    if pages is None:
        return size
    return f"{pages} page{'s' if pages != 1 else ''}, {size}"


def pdf_pages(data: bytes) -> int | None:
    from heapviz.report.pdf_read import page_count

    pages = page_count(data)  # reportlab's and Graphviz's PDFs, without importing pypdf (50-90 ms)
    if pages is not None:
        return pages
    # imported here: pypdf costs startup time that `heapviz top` need not pay
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        return len(PdfReader(io.BytesIO(data)).pages)
    except (PyPdfError, ValueError, KeyError):
        # The file is written and fine for its reader; a page count pypdf cannot make is no
        # reason to fail the run, so the line just leaves it out.
        return None


def file_size(n: int) -> str:
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


def source_options(args: argparse.Namespace) -> SourceOptions:
    return SourceOptions(source_path=split_dirs(args.source_path), trim_path=split_dirs(args.trim_path))


def unit_option(args: argparse.Namespace) -> str:
    """The unit of every view but top (one unit policy): each value in its own unit, unless --unit."""
    return str(args.unit) if args.unit else "auto"


def each_in_own_unit(sample_unit: str, args: argparse.Namespace) -> Callable[[Value], str]:
    """pprof's list and disasm print each value in its own unit unless --unit forces one."""
    unit = unit_option(args)
    return lambda v: format_value(v, sample_unit, unit)
