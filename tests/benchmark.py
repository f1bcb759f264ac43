"""`make bench`: time heapviz's phases on the example profiles and on a scaled-up dump.

A benchmark, not a test: it prints a table and asserts nothing. Issue 9 grows it to the
large-profile comparison with the reference tools.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import statistics
import sys
import time
from pathlib import Path

from heapviz.formats import load
from heapviz.graph.nodes import NodeOptions, node_table
from heapviz.prune import drop_allocator_frames
from heapviz.symbolize import symbolize

ROOT = Path(__file__).resolve().parent.parent


def scale_up(src: Path, dst: Path, lines: int) -> None:
    """Repeat a real dump's sample lines with distinct counts until it has `lines` samples."""
    text = src.read_text()
    head, _, rest = text.partition("\n")
    body, _, maps = rest.partition("\nMAPPED_LIBRARIES:")
    samples = [ln for ln in body.splitlines() if "@" in ln]
    with dst.open("w") as f:
        f.write(head + "\n")
        for i in range(lines):
            stack = samples[i % len(samples)].split("@", 1)[1]
            f.write(f"{1 + i % 7}: {64 * (1 + i % 13)} [{2 + i % 7}: {128 * (1 + i % 13)}] @{stack}\n")
        f.write("\nMAPPED_LIBRARIES:" + maps)


def phases(path: Path) -> dict[str, float]:
    t: dict[str, float] = {}
    start = time.perf_counter()
    gc.disable()
    prof = load(str(path))
    gc.enable()
    t["parse"] = time.perf_counter() - start
    start = time.perf_counter()
    symbolize(prof)
    t["symbolize"] = time.perf_counter() - start
    start = time.perf_counter()
    drop_allocator_frames(prof)
    t["prune"] = time.perf_counter() - start
    start = time.perf_counter()
    node_table(prof.samples, 1, NodeOptions())
    t["aggregate"] = time.perf_counter() - start
    return t


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "build" / "bench"))
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    examples = ROOT / "build" / "examples"
    base = examples / "threads.0004.heap"
    if not base.exists():
        print("run `make examples` first", file=sys.stderr)
        return 1
    files = [examples / "cxx.0002.heap", base]
    for n in (10_000, 100_000):
        dst = out / f"scaled-{n}.heap"
        if not dst.exists():
            scale_up(base, dst, n)
        files.append(dst)
    print(f"{'profile':28s} {'MB':>7s} " + " ".join(f"{p:>10s}" for p in ("parse", "symbolize", "prune", "aggregate")))
    for f in files:
        runs = [phases(f) for _ in range(args.runs)]
        med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
        size = os.path.getsize(f) / 1e6
        print(f"{f.name:28s} {size:7.2f} " + " ".join(f"{med[k]:9.3f}s" for k in med))
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {rss:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
