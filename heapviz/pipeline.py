"""The steps every command shares: load, symbolize and prune each profile; sum, diff or order
them as a series; choose the sample type; filter. No printing and no exit codes here.
"""

from __future__ import annotations

import dataclasses
import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from heapviz.combine import combine
from heapviz.errors import InputError, UsageError
from heapviz.formats import ReadLimits, load_series, parsed_natively
from heapviz.graph.filters import FilterOptions
from heapviz.graph.filters import apply as apply_filters
from heapviz.graph.nodes import NodeOptions
from heapviz.graph.tree import FlameTree, build_tree
from heapviz.model import Profile, Sample, Value
from heapviz.prune import PruneOptions, drop_allocator_frames
from heapviz.symbolize import MappingReport, SymbolizeOptions, symbolize
from heapviz.timing import Timings, phase

if TYPE_CHECKING:
    from heapviz.fleet import FleetOptions, GroupTotals


@dataclass(frozen=True)
class LoadOptions:
    limits: ReadLimits = ReadLimits()
    symbolize: SymbolizeOptions = SymbolizeOptions()
    prune: PruneOptions = PruneOptions()
    snapshot: str | None = None  # of a file holding a series: only snapshot N, "peak" or "last"
    timings: Timings | None = field(default=None, compare=False)
    progress: Callable[[str], None] | None = field(default=None, compare=False)  # only when stderr is a tty


@dataclass
class Loaded:
    profile: Profile
    reports: list[MappingReport] = field(default_factory=list)
    last_in_file: bool = True  # False for all but the last profile of a file that holds a series


def _load_one(path: str, options: LoadOptions) -> list[Loaded]:
    """The profile in a file, or each profile of the series it holds, symbolized and pruned."""
    t = options.timings
    if options.progress:
        options.progress(f"reading {path}")
    with phase(t, "parse"):
        profiles = _chosen(load_series(path, options.limits), options.snapshot, path)
    if options.progress:
        options.progress(f"symbolizing {path}")
    out: list[Loaded] = []
    for p in profiles:
        with phase(t, "symbolize"):
            reports = symbolize(p, options.symbolize)
        with phase(t, "prune"):
            p = drop_allocator_frames(p, options.prune).profile
        out.append(Loaded(p, reports, last_in_file=len(out) == len(profiles) - 1))
    return out


def _chosen(profiles: list[Profile], snapshot: str | None, path: str) -> list[Profile]:
    """The snapshot --snapshot asks for from a file that holds a series; one profile stays as it is."""
    if snapshot is None or len(profiles) == 1:
        return profiles
    if snapshot == "last":
        return profiles[-1:]
    if snapshot == "peak":
        peak = [p for p in profiles if p.peak]
        if not peak:
            raise InputError(path, "marks no snapshot as the peak (use --snapshot N or last)")
        return peak[:1]
    found = [p for p in profiles if p.sequence == int(snapshot)]
    if not found:
        numbers = ", ".join(str(p.sequence) for p in profiles)
        raise InputError(path, f"has no detailed snapshot {snapshot} (it has: {numbers})")
    return found


PARALLEL_MIN_BYTES = 4 << 20  # below this, starting workers costs more than it saves


def load_each(paths: list[str], options: LoadOptions) -> list[Loaded]:
    """Each profile loaded, symbolized against its own memory map and pruned of allocator frames;
    a file that holds a series gives each of its profiles, in order.

    Several big files (a series of dumps) are loaded on all cores where that pays; the result is
    the same as loading them one after the other, in the order given.
    """
    if paths.count("-") > 1:
        raise UsageError("'-' (stdin) can be given only once")
    workers = min(len(paths), os.cpu_count() or 1)
    if workers > 1 and "-" not in paths and options.symbolize.symbolizer is None and _workers_pay(paths):
        with phase(options.timings, "load_parallel"), \
                ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork")) as pool:
            if options.progress:
                options.progress(f"reading {len(paths)} profiles on {workers} cores")
            clean = dataclasses.replace(options, timings=None, progress=None)  # what workers get must pickle
            return [item for loaded in pool.map(_load_one, paths, [clean] * len(paths)) for item in loaded]
    return [item for path in paths for item in _load_one(path, options)]


def _workers_pay(paths: list[str]) -> bool:
    """Worker processes parse and symbolize on both cores, but each then pickles its profile back
    to this one, which costs about as much as the compiled scanner takes to parse a gperftools
    text profile (measured on six 100k-stack dumps: 2.7 s either way). They pay for big inputs
    of the formats parsed in Python; gperftools files read by the scanner are loaded here, one
    after the other, and later dumps of the same build then find their symbols in the cache."""
    return _total_size(paths) >= PARALLEL_MIN_BYTES and not all(map(parsed_natively, paths))


def _total_size(paths: list[str]) -> int:
    total = 0
    for p in paths:
        try:
            total += os.path.getsize(p)
        except OSError:
            return 0  # let the serial path report the error
    return total


def summed(items: list[Loaded]) -> Loaded:
    return Loaded(combine([i.profile for i in items]), [r for i in items for r in i.reports])


def series_order(items: list[Loaded]) -> list[Loaded]:
    """Dumps in order: the producer's dump number (gperftools' file names), then the time the
    profile states it was taken, then the file's modification time."""

    def key(item: Loaded) -> tuple[int, float, str]:
        p = item.profile
        when = p.time_ns / 1e9
        if not when:
            try:
                when = os.stat(p.source).st_mtime if p.source != "-" else 0.0
            except OSError:
                when = 0.0
        return (p.sequence if p.sequence is not None else 1 << 62, when, p.source)

    return sorted(items, key=key)


def sample_index(profile: Profile, requested: str | None) -> int:
    names = [vt.type for vt in profile.sample_types]
    if requested is None:
        requested = profile.default_sample_type or profile.profile_kind.default_sample_type or names[-1]
        if requested not in names:
            requested = names[-1]
    if requested.isdigit() and int(requested) < len(names):
        return int(requested)
    for cand in (requested, f"inuse_{requested}", requested.removeprefix("inuse_")):
        if cand in names:
            return names.index(cand)
    raise UsageError(f"sample index {requested!r} is not in this profile (it has: {', '.join(names)})")


@dataclass
class View:
    """What a command shows: one profile (a dump, a sum or a difference), filtered."""

    profile: Profile
    reports: list[MappingReport]
    sample_index: int
    samples: Sequence[Sample]  # after --focus/--ignore/--hide/--show
    total: Value  # of the unfiltered samples, as pprof's percentages
    node_options: NodeOptions
    filters: FilterOptions


def make_view(loaded: Loaded, requested_index: str | None, filters: FilterOptions,
              node_options: NodeOptions) -> View:
    profile = loaded.profile
    index = sample_index(profile, requested_index)
    result = apply_filters(profile.samples, filters)
    for w in result.warnings:
        profile.warn(w)
    return View(profile, loaded.reports, index, result.samples, profile.total(index), node_options, filters)


@dataclass
class Subject:
    """The profiles a command works on.

    `shown` is what tables and graphs show; `dumps` are the in-order profiles growth is measured
    over ([base, new] with --base, [base, dump…] for a series with --base, the series, or the
    one profile); `growth` is last minus first when there is more than one dump; `base` names
    the --base profile(s) when there is one.
    """

    shown: Loaded
    dumps: list[Profile]
    growth: Profile | None
    mode: str  # "single", "merged", "series" or "base"
    base: str = ""
    skipped: list[tuple[str, str]] = field(default_factory=list)  # a fleet's inputs that could not be read, why
    groups: dict[str, GroupTotals] = field(default_factory=dict)  # a fleet's --group-by groups


def _detailed(items: list[Loaded]) -> Loaded:
    """The dump a series report details: the peak the producer marked in a file that holds the
    whole series (massif), else the last."""
    if len({it.profile.source for it in items}) == 1:
        return next((it for it in items if it.profile.peak), items[-1])
    return items[-1]


def _last_of_each_file(items: list[Loaded]) -> list[Loaded]:
    """Of the profiles of a file that holds a series, the last: what a command that sums its
    profiles takes from it (a snapshot series over time has no meaningful sum)."""
    return [it for it in items if it.last_in_file]


def _same_file(a: str, b: str) -> bool:
    try:
        return a != "-" and b != "-" and os.path.samefile(a, b)
    except OSError:
        return False


def subject(paths: list[str], options: LoadOptions, base: list[str], series: bool,
            fleet: FleetOptions | None = None) -> Subject:
    """What the profiles given are to a command.

    Without `series` several profiles are summed (as pprof does), and with `base` the sum minus
    the base. With `series` (reports, unless --merge) several profiles are a series of dumps in
    dump order and nothing is summed; with `base` too, the base is the series' first point, so
    growth and suspects are measured from it (a base that is also one of the dumps is not
    counted twice).

    With `fleet` (and without `series`) the inputs may be directories, globs and URLs, are
    summed in partitions on local processes or a Dask cluster, and one that cannot be read is
    skipped with a warning unless fleet.strict; the sum equals the one made here.
    """
    if fleet is not None:
        from heapviz.fleet import expand

        paths = expand(paths)
        if not series and (len(paths) > 1 or fleet.group_by):
            return _fleet_subject(paths, options, base, fleet)
    if base and series and len(paths) > 1:
        rest = [p for p in paths if not any(_same_file(p, b) for b in base)]
        if rest:
            paths = rest
    items = load_each(paths, options)
    if not series:
        items = _last_of_each_file(items)  # a file's snapshots are moments in time, never summed
    if base:
        old = summed(_last_of_each_file(load_each(base, options)))
        if len(items) > 1 and series:
            items = series_order(items)
            growth = combine([items[-1].profile, old.profile], [1, -1])
            shown = Loaded(items[-1].profile, old.reports + items[-1].reports)
            return Subject(shown, [old.profile] + [i.profile for i in items], growth, "series", old.profile.source)
        new = summed(items)
        diff = combine([new.profile, old.profile], [1, -1])
        return Subject(Loaded(diff, old.reports + new.reports), [old.profile, new.profile], diff, "base",
                       old.profile.source)
    if len(items) > 1 and series:
        items = series_order(items)
        growth = combine([items[-1].profile, items[0].profile], [1, -1])
        return Subject(_detailed(items), [i.profile for i in items], growth, "series")
    shown = summed(items)
    return Subject(shown, [shown.profile], None, "merged" if len(items) > 1 else "single")


def _fleet_subject(paths: list[str], options: LoadOptions, base: list[str], fleet: FleetOptions) -> Subject:
    from heapviz.fleet import merge_all

    if "-" in paths:
        raise UsageError("'-' (stdin) cannot be one of a fleet's inputs")
    with phase(options.timings, "load_fleet"):
        if options.progress:
            options.progress(f"reading {len(paths)} profiles" + (f" on {fleet.scheduler}" if fleet.scheduler else ""))
        part = merge_all(paths, options, fleet)
    if part.profile is None:
        why = "; ".join(w for _, w in part.skipped[:3])
        raise InputError(paths[0] if len(paths) == 1 else f"{len(paths)} inputs",
                         f"none could be read ({why}{'; …' if len(part.skipped) > 3 else ''})")
    profile = part.profile
    # said as it is: warn() would prefix the merged profile's name, every input's
    profile.warnings.extend(f"skipped: {why}" for _, why in part.skipped)
    shown = Loaded(profile, part.reports)
    mode = "merged" if part.profiles > 1 else "single"
    if base:
        old = summed(_last_of_each_file(load_each(base, options)))
        diff = combine([profile, old.profile], [1, -1])
        return Subject(Loaded(diff, old.reports + part.reports), [old.profile, profile], diff, "base",
                       old.profile.source, part.skipped, part.groups)
    return Subject(shown, [profile], None, mode, skipped=part.skipped, groups=part.groups)


def view_tree(subj: Subject, view: View, title: str = "", min_fraction: float = 0.0) -> FlameTree:
    """The tree a command shows for a view: with --base, widths from the new profile (filtered
    the same way) and colours from the difference."""
    vt = view.profile.sample_types[view.sample_index]
    words = view.profile.profile_kind.words
    if subj.mode == "base":
        new = subj.dumps[-1]
        new_index = new.sample_index(vt.type)
        new_samples = apply_filters(new.samples, view.filters).samples
        return build_tree(new_samples, new_index, view.node_options, new.total(new_index), vt.type, vt.unit,
                          view.samples, view.sample_index, title, min_fraction, words=words)
    return build_tree(view.samples, view.sample_index, view.node_options, view.total, vt.type, vt.unit,
                      title=title, min_fraction=min_fraction, words=words)
