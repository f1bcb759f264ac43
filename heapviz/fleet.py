"""Fleets: many profiles (paths, globs, directories, fsspec URLs) summed in partitions on local
processes or a Dask cluster, inputs that cannot be read skipped and counted, totals per group.
Loading is pipeline's and summing is combine's; this module only spreads the work and gathers it.
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
import threading
import time
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
        return _on_dask(paths, clean, fleet)
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


class FleetError(HeapvizError):
    """The cluster could not be reached or did not finish in time."""


def _connect(client_class: Any, address: str, seconds: float) -> Any:
    """A Dask client of the scheduler at `address`, or FleetError after `seconds`: Dask's own
    timeout covers the TCP connection, not a peer that accepts it and then never answers, so the
    handshake runs on a thread of its own that is given up on (it is a daemon: it cannot keep
    the process alive)."""
    box: dict[str, Any] = {}

    def connect() -> None:
        try:
            box["client"] = client_class(address, timeout=f"{seconds}s", set_as_default=False)
        except BaseException as e:  # handed to the caller's thread
            box["error"] = e

    thread = threading.Thread(target=connect, name="heapviz-dask-connect", daemon=True)
    thread.start()
    thread.join(seconds + 1.0)
    if thread.is_alive():
        raise FleetError(f"cannot reach the Dask scheduler at {address}: no answer within {seconds:g} s")
    error = box.get("error")
    if isinstance(error, (OSError, TimeoutError)):
        raise FleetError(f"cannot reach the Dask scheduler at {address}: {error}") from None
    if error is not None:
        raise FleetError(f"cannot use the Dask scheduler at {address}: {_describe(error)}") from None
    return box["client"]


_SUM_FIRST = 1  # Dask runs higher priorities first: a sum before any partition still waiting
AHEAD = 2  # partitions of a lane loading or loaded and not yet summed: what a worker holds beside its sum


def _lanes(parts: list[list[str]], n: int) -> list[list[list[str]]]:
    """The partitions as `n` lanes of consecutive ones, in order."""
    size = math.ceil(len(parts) / max(1, n))
    return [parts[i:i + size] for i in range(0, len(parts), size)]


class _Lanes:
    """Each lane's sum on the cluster: its partitions loaded in order, at most AHEAD at a time,
    each added to the lane's running sum (in order: the sum is the serial --merge exactly) as
    soon as it and those before it are there. The client hands a lane its next partition only
    when one is summed, so a worker holds its lane's sum and a partial or two however many
    inputs there are: memory does not grow with the fleet. (Submitting a whole lane at once let
    an idle worker steal queued loads from the other lane's worker, whose partials then held
    memory there and travelled back: peaks grew with the fleet.) A lane prefers one worker, so
    that its sums need no transfers; others take over its tasks when that worker is lost."""

    def __init__(self, client: Any, lanes: list[list[list[str]]], options: Any, fleet: FleetOptions,
                 addresses: list[str]) -> None:
        self.client, self.options, self.fleet = client, options, fleet
        self.todo = [collections.deque(lane) for lane in lanes]
        self.loading: list[collections.deque[Any]] = [collections.deque() for _ in lanes]
        self.sums: list[Any] = [None] * len(lanes)
        self.where = [{"workers": addresses[i:i + 1], "allow_other_workers": True} if i < len(addresses) else {}
                      for i in range(len(lanes))]
        self.lane_of: dict[str, int] = {}

    def run(self, seconds: float) -> list[Any]:
        """The lanes' sums as futures, once every partition is loaded and handed to its sum;
        TimeoutError after `seconds`, a task's own error if one failed."""
        from distributed import as_completed

        done = as_completed(loop=self.client.loop, timeout=seconds)  # type: ignore[no-untyped-call]
        for i in range(len(self.todo)):
            self._feed(i, done)
        for future in done:
            i = self.lane_of.pop(future.key)
            if future.status != "finished":
                future.result()  # raises what the task raised (an input with --strict) or why it was lost
            loading = self.loading[i]
            while loading and loading[0].done():
                loaded = loading.popleft()
                total = self.sums[i]
                self.sums[i] = loaded if total is None else self.client.submit(
                    merge, total, loaded, pure=False, priority=_SUM_FIRST, **self.where[i])
            self._feed(i, done)
        return self.sums

    def _feed(self, i: int, done: Any) -> None:
        while self.todo[i] and len(self.loading[i]) < AHEAD:
            future = self.client.submit(load_partition, self.todo[i].popleft(), self.options, self.fleet.group_by,
                                        self.fleet.strict, pure=False, retries=1, **self.where[i])
            self.loading[i].append(future)
            self.lane_of[future.key] = i
            done.add(future)


def _on_dask(paths: list[str], options: Any, fleet: FleetOptions) -> Partial:
    try:
        from distributed import Client
    except ImportError:
        raise UsageError(f"--scheduler needs Dask's distributed: pip install '{EXTRA}'") from None
    address = fleet.scheduler
    client = _connect(Client, address, min(fleet.timeout_s, 30.0))
    deadline = time.monotonic() + fleet.timeout_s
    with client:
        addresses = sorted(client.scheduler_info().get("workers", {}))
        workers = max(1, len(addresses))
        try:
            futures = [f for f in _Lanes(client, _lanes(_partitions(paths, workers), workers), options, fleet,
                                         addresses).run(fleet.timeout_s) if f is not None]
            # the lanes' sums, neighbours added pairwise, level by level (a few: one lane per worker)
            while len(futures) > 1:
                pairs = [client.submit(merge, futures[i], futures[i + 1], pure=False, priority=_SUM_FIRST)
                         for i in range(0, len(futures) - 1, 2)]
                futures = pairs + futures[len(futures) - len(futures) % 2:]
            result: Partial = futures[0].result(timeout=max(0.001, deadline - time.monotonic())) \
                if futures else Partial()
        except HeapvizError:  # an input with --strict, raised on a worker
            raise
        except TimeoutError:
            raise FleetError(f"the Dask cluster at {address} did not finish within {fleet.timeout_s:g} s "
                             "(--timeout)") from None
        except Exception as e:  # KilledWorker (a task's workers died again and again), a lost scheduler
            raise FleetError(f"the Dask cluster at {address} failed: {type(e).__name__}: {_describe(e)}") from None
    return result


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
