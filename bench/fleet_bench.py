"""`make bench`'s fleet part (issue 20): thousands of generated heap profiles merged into one report
serially, with `--jobs 2` and on a 2-worker Dask LocalCluster started here.

The profiles come from a few builds of a generated leaking program (bench/gen_program.py with
different seeds: the same function names at other addresses, as successive releases are), each
run once under the heap checker for a pool of real stacks. Every generated profile takes a random
subset of one build's stacks with random counts (varied leak sites) and that build's memory map,
so it symbolizes against the real binary. They sit under hosts/hNN/, for --group-by.

Measured per size and mode: wall time, profiles per second, the client's peak RSS (bench/measure.c,
its largest process: --jobs forks its processes from it) and each Dask worker's peak RSS (the
workers are restarted before each run, so each run's own peak). The workers' peak must stay flat
as the fleet grows: a partition holds at most 64 profiles and only sums travel.
"""

from __future__ import annotations

import json
import random
import resource
import shutil
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

GROUP_BY = "hosts/(?P<host>[^/]+)/"
HOSTS = 50
BUILD_SEEDS = (11, 12, 13)  # three builds of the program
LINES = (20, 200)  # sample lines per generated profile: from, to
MODES = ("serial", "jobs 2", "dask 2 workers")


@dataclass
class FleetRun:
    profiles: int
    mode: str
    wall_s: float
    rss_mb: float  # the client's peak (its largest process)
    status: str
    worker_rss_mb: list[float] = field(default_factory=list)  # each Dask worker's peak

    @property
    def per_s(self) -> float:
        return self.profiles / self.wall_s if self.wall_s else 0.0


def _samples(path: Path) -> tuple[list[tuple[int, bytes]], bytes]:
    """A heap-checker dump's (bytes per object, stack) lines and its MAPPED_LIBRARIES section."""
    data = path.read_bytes()
    _, _, rest = data.partition(b"\n")
    body, sep, maps = rest.partition(b"\nMAPPED_LIBRARIES:")
    out = []
    for line in body.split(b"\n"):
        counts, at, stack = line.partition(b"@")
        if at:
            n, size = counts.split()[:2]
            out.append((max(1, int(size) // max(1, int(n.rstrip(b":")))), stack))
    return out, sep + maps


def write_fleet(out: Path, n: int, bases: list[Path], log: Callable[[str], None]) -> Path:
    """`n` generated profiles under out/fleet-N/hosts/hNN/; reused while the bases are unchanged."""
    root = out / f"fleet-{n}"
    key = json.dumps([n, LINES, HOSTS, [(str(b), b.stat().st_mtime) for b in bases]])
    stamp = root / ".key"
    if stamp.exists() and stamp.read_text() == key:
        return root
    shutil.rmtree(root, ignore_errors=True)
    log(f"writing {n} fleet profiles under {root}")
    pools = [_samples(b) for b in bases]
    rng = random.Random(n)
    for i in range(n):
        samples, maps = pools[i % len(pools)]
        host = root / "hosts" / f"h{i % HOSTS:02d}"
        host.mkdir(parents=True, exist_ok=True)
        lines, objects, space = [], 0, 0
        for size, stack in rng.sample(samples, min(len(samples), rng.randint(*LINES))):
            k = rng.randint(1, 4)
            objects, space = objects + k, space + k * size
            lines.append(b"%6d: %8d [%6d: %8d] @%s" % (k, k * size, k, k * size, stack))
        head = b"heap profile: %6d: %8d [%6d: %8d] @ heapprofile" % (objects, space, objects, space)
        (host / f"dump-{i:05d}.heap").write_bytes(b"\n".join([head, *lines]) + maps)
    stamp.write_text(key)
    return root


def _cluster() -> tuple[object, object] | None:
    """A 2-worker LocalCluster (worker processes) and a client of it, or None without distributed."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        return None
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                           host="127.0.0.1", protocol="tcp://")
    return cluster, Client(cluster)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_fleet(out: Path, sizes: list[int], bases: list[Path], measure: Callable[..., tuple[object, str]],
              env: dict[str, str], timeout: float, log: Callable[[str], None],
              modes: tuple[str, ...] = MODES) -> list[FleetRun]:
    """Every size in every mode: `heapviz report --merge DIR --group-by ... -o fleet.json`."""
    cache = out / "fleet-cache"  # the symbol cache a nightly job keeps (the README's advice)
    shutil.rmtree(cache, ignore_errors=True)
    env = dict(env, HEAPVIZ_CACHE_DIR=str(cache))
    for k in ("HEAPVIZ_NO_CACHE", "DASK_SCHEDULER_ADDRESS"):
        env.pop(k, None)
    # the workers get the cache directory from the client, with the options
    both = _cluster() if "dask 2 workers" in modes else None
    runs: list[FleetRun] = []
    try:
        warm = write_fleet(out, len(bases), bases, log)  # one profile per build: the cache filled once
        measure([sys.executable, "-m", "heapviz", "top", str(warm)], out / "fleet.txt", timeout, env)
        for n in sizes:
            root = write_fleet(out, n, bases, log)
            for mode in modes:
                extra = {"serial": ["--jobs", "1"], "jobs 2": ["--jobs", "2"]}.get(mode)
                if extra is None:
                    if both is None:
                        continue
                    cluster, client = both
                    client.restart()  # type: ignore[attr-defined]  # fresh workers: this run's own peak
                    client.wait_for_workers(2, timeout=120)  # type: ignore[attr-defined]  # both back
                    extra = ["--scheduler", cluster.scheduler_address]  # type: ignore[attr-defined]
                argv = [sys.executable, "-m", "heapviz", "report", "--merge", str(root / "hosts"), "--group-by",
                        GROUP_BY, "-o", str(out / "fleet.json"), *extra]
                r, err = measure(argv, out / "fleet.txt", timeout, env)
                run = FleetRun(n, mode, r.wall_s, r.rss_mb, r.status)  # type: ignore[attr-defined]
                if extra[0] == "--scheduler":
                    peaks = client.run(_peak_rss_mb)  # type: ignore[union-attr]
                    run.worker_rss_mb = [round(v, 1) for _, v in sorted(peaks.items())]
                if run.status != "ok":
                    log(f"fleet {mode} {n}: {err.strip()[-500:]}")
                workers = ", ".join(f"{v:.1f}" for v in run.worker_rss_mb)
                log(f"fleet {n:6d} {mode:15s} {run.wall_s:7.2f} s {run.per_s:7.1f}/s client {run.rss_mb:6.1f} MiB"
                    + (f" workers {workers} MiB" if workers else ""))
                runs.append(run)
    finally:
        if both is not None:
            both[1].close()  # type: ignore[attr-defined]
            both[0].close()  # type: ignore[attr-defined]
    return runs


def fleet_table(runs: list[FleetRun]) -> list[str]:
    """The markdown section: every run, then whether the workers' peak stayed flat."""
    if not runs:
        return []
    md = ["", f"### Fleet (issue 20): `report --merge DIR --group-by … -o fleet.json`, generated profiles of "
          f"{len(BUILD_SEEDS)} builds, {LINES[0]}–{LINES[1]} stacks each", "",
          "| profiles | mode | wall s | profiles/s | client peak RSS MiB | workers' peak RSS MiB |",
          "|---:|---|---:|---:|---:|---|"]
    for r in runs:
        workers = ", ".join(f"{v:.0f}" for v in r.worker_rss_mb) or "—"
        status = "" if r.status == "ok" else f" ({r.status})"
        md.append(f"| {r.profiles:,} | {r.mode}{status} | {r.wall_s:.2f} | {r.per_s:.0f} | {r.rss_mb:.0f} | "
                  f"{workers} |")
    dask = [r for r in runs if r.worker_rss_mb and r.status == "ok"]
    if len(dask) >= 2:
        lo, hi = dask[0], dask[-1]
        ratio = max(hi.worker_rss_mb) / max(lo.worker_rss_mb)
        md += ["", f"Workers' peak RSS from {lo.profiles:,} to {hi.profiles:,} profiles: "
               f"{max(lo.worker_rss_mb):.0f} → {max(hi.worker_rss_mb):.0f} MiB ({ratio:.2f}×; flat: "
               f"{'yes' if ratio <= 1.15 else 'no'}, at most 1.15×)."]
    return md


def as_json(runs: list[FleetRun]) -> list[dict[str, object]]:
    return [dict(asdict(r), per_s=round(r.per_s, 1)) for r in runs]
