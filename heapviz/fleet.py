"""Fleets: many profiles (paths, globs, directories, fsspec URLs) summed in partitions on local
processes or a Dask cluster, inputs that cannot be read skipped and counted, totals per group.
Loading is pipeline's and summing is combine's; this module only spreads the work and gathers it
(on a Dask cluster: fleet_dask.py).
"""

from __future__ import annotations

import collections
import dataclasses
import glob
import io
import itertools
import math
import multiprocessing
import os
import re
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, BinaryIO, cast

from heapviz.combine import combine
from heapviz.errors import HeapvizError, InputError, UsageError
from heapviz.graph.nodes import NodeOptions
from heapviz.graph.tables import node_tables
from heapviz.model import Profile, Value
from heapviz.packed import gc_paused
from heapviz.symbolize import MappingReport

EXTRA = "heapviz[fleet]"  # what to install for URLs and --scheduler
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_GLOB_CHARS = "*?["
MAX_PARTITION = 64  # profiles a task sums before its partial is sent on
GROUP_TOP = 10  # functions listed per group


@dataclass(frozen=True)
class FleetOptions:
    jobs: int = 0  # local processes; 0 = the machine's cores
    scheduler: str = ""  # a Dask scheduler's address: the work runs there instead
    group_by: str = ""  # a regex with named groups that labels each input from its path
    strict: bool = False  # an input that cannot be read fails the run instead of being skipped
    timeout_s: float = 3600.0  # the most the client waits for the cluster


def is_url(path: str) -> bool:
    return bool(_URL.match(path))


def _fsspec() -> Any:
    try:
        import fsspec
    except ImportError:
        raise UsageError(f"reading URLs needs fsspec: pip install '{EXTRA}'") from None
    return fsspec


class _Raw(io.RawIOBase):
    """An fsspec file as a raw stream, so that io.BufferedReader gives it the peek() sniffing needs."""

    def __init__(self, f: Any) -> None:
        self._f = f

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._f.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._f.close()
        super().close()


def open_url(url: str) -> BinaryIO:
    """A profile at an fsspec URL (s3://, gs://, file://, ...), streamed."""
    fsspec = _fsspec()
    try:
        f = fsspec.open(url, "rb").open()
    except ImportError as e:  # the protocol's own package (s3fs, gcsfs) is missing
        raise UsageError(f"{url}: {e}") from None
    except Exception as e:  # each filesystem raises its own errors
        raise InputError(url, _describe(e)) from e
    return cast(BinaryIO, io.BufferedReader(_Raw(f), 1 << 16))


def _describe(e: BaseException) -> str:
    if isinstance(e, FileNotFoundError):
        return "No such file or directory"
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    return str(e) or type(e).__name__


def _files_under(directory: str) -> list[str]:
    out = []
    for root, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        out += [os.path.join(root, f) for f in sorted(files) if not f.startswith(".")]
    return out


def _expand_url(url: str) -> list[str]:
    fs, root = _fsspec().core.url_to_fs(url)
    try:
        if any(c in root for c in _GLOB_CHARS):
            found = sorted(fs.glob(root))
            if not found:
                raise UsageError(f"{url!r} matches no file")
            return [fs.unstrip_protocol(p) for p in found if not fs.isdir(p)]
        if fs.isdir(root):
            return [fs.unstrip_protocol(p) for p in sorted(fs.find(root))] or [url]
    except HeapvizError:
        raise
    except Exception as e:
        raise InputError(url, _describe(e)) from e
    return [url]


def expand(inputs: list[str]) -> list[str]:
    """Each input as the profiles it names: a directory its files (recursively, in name order,
    hidden ones left out), a glob its matches, a URL's directory or glob the same through fsspec.
    An empty directory stays as it is, for the loader to refuse."""
    out: list[str] = []
    for inp in inputs:
        if inp == "-":
            out.append(inp)
        elif is_url(inp):
            out += _expand_url(inp)
        elif os.path.isdir(inp):
            out += _files_under(inp) or [inp]
        elif not os.path.exists(inp) and any(c in inp for c in _GLOB_CHARS):
            found = sorted(glob.glob(inp, recursive=True))
            if not found:
                raise UsageError(f"{inp!r} matches no file")
            for f in found:
                out += _files_under(f) if os.path.isdir(f) else [f]
        else:
            out.append(inp)
    return out


def names_many(inputs: list[str]) -> bool:
    """Whether the inputs are more than a list of files: a URL, a directory, a glob."""
    return any(is_url(i) or os.path.isdir(i) or (not os.path.exists(i) and any(c in i for c in _GLOB_CHARS))
               for i in inputs if i != "-")


def label(path: str, group_by: str) -> str:
    """What --group-by calls an input: its named groups' values (`host=a, pid=7` for several),
    the whole match without named groups; `(no match)` when the regex does not match."""
    m = re.search(group_by, path)
    if m is None:
        return "(no match)"
    named = {k: v for k, v in m.groupdict().items() if v is not None}
    if len(named) == 1:
        return next(iter(named.values()))
    if named:
        return ", ".join(f"{k}={v}" for k, v in named.items())
    return m.group(0)


@dataclass
class GroupTotals:
    """One group's sums: profiles, totals per sample type, flat per function per sample type."""

    profiles: int = 0
    totals: dict[str, Value] = field(default_factory=dict)
    flat: dict[str, dict[str, Value]] = field(default_factory=dict)

    def add(self, other: GroupTotals) -> None:
        self.profiles += other.profiles
        for k, v in other.totals.items():
            self.totals[k] = self.totals.get(k, 0) + v
        for name, values in other.flat.items():
            mine = self.flat.setdefault(name, {})
            for k, v in values.items():
                mine[k] = mine.get(k, 0) + v


def _group_totals(p: Profile) -> GroupTotals:
    types = [vt.type for vt in p.sample_types]
    indices = tuple(range(len(types)))
    tables = node_tables(p.samples, indices, NodeOptions())
    flat: dict[str, dict[str, Value]] = {}
    for i in indices:
        for node, v in tables[i].flat.items():
            if v:
                d = flat.setdefault(node.printable(), {})
                d[types[i]] = d.get(types[i], 0) + v
    return GroupTotals(1, {t: p.total(i) for i, t in enumerate(types)}, flat)


@dataclass
class Partial:
    """What a partition of inputs sums to; partials add up in order, so the sum of all of them is
    the sum of every profile in the order given (the serial --merge, exactly)."""

    profile: Profile | None = None
    reports: list[MappingReport] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (input, why)
    groups: dict[str, GroupTotals] = field(default_factory=dict)
    profiles: int = 0


def _unique_reports(reports: list[MappingReport]) -> list[MappingReport]:
    """One report per binary and outcome, its addresses and resolved ones added up over the
    profiles: thousands of profiles of one build are one row of the report's binaries, and what
    a partial carries does not grow with its inputs."""
    out: dict[tuple[Any, ...], MappingReport] = {}
    for r in reports:
        key = dataclasses.astuple(dataclasses.replace(r, addresses=0, resolved=0))
        have = out.get(key)
        if have is None:
            out[key] = dataclasses.replace(r)
        else:
            have.addresses += r.addresses
            have.resolved += r.resolved
    return list(out.values())


def _compact(p: Profile) -> Profile:
    """Only the mappings and functions the summed samples use: combine keeps every input's own
    copies, which would make a partial grow with its inputs instead of with their distinct
    stacks. The profile is combine's new one, never an input."""
    p.mappings = list({id(loc.mapping): loc.mapping for loc in p.locations if loc.mapping is not None}.values())
    p.functions = list(dict.fromkeys(ln.function for loc in p.locations for ln in loc.lines))
    return p


def load_partition(paths: list[str], options: Any, group_by: str, strict: bool) -> Partial:
    """The profiles of `paths` loaded, symbolized, pruned and summed (on a worker)."""
    with gc_paused():  # a Dask worker runs tasks with the collector on (see packed.gc_paused)
        return _load_partition(paths, options, group_by, strict)


def _load_partition(paths: list[str], options: Any, group_by: str, strict: bool) -> Partial:
    from heapviz.pipeline import _load_one

    out = Partial()
    profiles: list[Profile] = []
    for path in paths:
        try:
            items = [it for it in _load_one(path, options) if it.last_in_file]
        except (HeapvizError, OSError) as e:
            if strict:
                raise
            out.skipped.append((path, e.message() if isinstance(e, HeapvizError) else _describe(e)))
            continue
        for it in items:
            profiles.append(it.profile)
            out.reports += it.reports
            if group_by:
                out.groups.setdefault(label(path, group_by), GroupTotals()).add(_group_totals(it.profile))
    out.reports = _unique_reports(out.reports)
    out.profiles = len(profiles)
    out.profile = _compact(combine(profiles)) if len(profiles) > 1 else (profiles[0] if profiles else None)
    return out


def merge(a: Partial, b: Partial) -> Partial:
    """a then b, summed."""
    with gc_paused():
        return _merge(a, b)


def _merge(a: Partial, b: Partial) -> Partial:
    both = [p for p in (a.profile, b.profile) if p is not None]
    groups = {k: dataclasses.replace(v, totals=dict(v.totals), flat={n: dict(d) for n, d in v.flat.items()})
              for k, v in a.groups.items()}
    for k, v in b.groups.items():
        groups.setdefault(k, GroupTotals()).add(v)
    summed = (_compact(combine(both)) if len(both) > 1 else both[0]) if both else None
    return Partial(summed, _unique_reports(a.reports + b.reports),
                   a.skipped + b.skipped, groups, a.profiles + b.profiles)


def _partitions(paths: list[str], workers: int) -> list[list[str]]:
    """Consecutive runs of inputs, about four per worker and at most MAX_PARTITION each."""
    size = max(1, min(MAX_PARTITION, math.ceil(len(paths) / (max(workers, 1) * 4))))
    return [paths[i:i + size] for i in range(0, len(paths), size)]


def merge_all(paths: list[str], options: Any, fleet: FleetOptions) -> Partial:
    """Every input summed, on the Dask cluster (--scheduler) or on local processes (--jobs)."""
    clean = dataclasses.replace(options, timings=None, progress=None)  # what workers get must pickle
    if fleet.scheduler:
        from heapviz.fleet_dask import on_dask

        return on_dask(paths, clean, fleet)
    jobs = fleet.jobs or os.cpu_count() or 1
    parts = _partitions(paths, jobs)
    total = Partial()
    for part in _local(parts, clean, fleet, min(jobs, len(parts))):
        total = merge(total, part)
    return total


def _local(parts: list[list[str]], options: Any, fleet: FleetOptions, jobs: int) -> Iterator[Partial]:
    if jobs <= 1:
        for p in parts:
            yield load_partition(p, options, fleet.group_by, fleet.strict)
        return
    # at most two partitions per process under way or waiting to be summed: the client holds a
    # few partials at a time however many inputs there are (pool.map would queue them all)
    todo = iter(parts)
    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork")) as pool:
        pending = collections.deque(pool.submit(load_partition, p, options, fleet.group_by, fleet.strict)
                                    for p in itertools.islice(todo, 2 * jobs))
        while pending:
            done = pending.popleft().result()
            for p in itertools.islice(todo, 1):
                pending.append(pool.submit(load_partition, p, options, fleet.group_by, fleet.strict))
            yield done


@dataclass(frozen=True)
class GroupRow:
    """One --group-by group as reports show it."""

    label: str
    profiles: int
    value: Value  # total of the report's sample type
    totals: dict[str, Value]
    top: list[tuple[str, Value]]  # functions by flat of the report's sample type, largest first


def group_rows(groups: dict[str, GroupTotals], sample_type: str, top: int = GROUP_TOP) -> list[GroupRow]:
    """Groups by their total of `sample_type`, largest first (ties by label)."""
    rows = []
    for name, g in groups.items():
        funcs = sorted(((f, v[sample_type]) for f, v in g.flat.items() if v.get(sample_type)),
                       key=lambda fv: (-abs(fv[1]), fv[0]))
        rows.append(GroupRow(name, g.profiles, g.totals.get(sample_type, 0), dict(g.totals), funcs[:top]))
    return sorted(rows, key=lambda r: (-r.value, r.label))
