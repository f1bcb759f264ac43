"""Loading several profiles: on worker processes where that pays, with the same result as one
after the other."""

from __future__ import annotations

import os

from heapviz import pipeline
from heapviz.pipeline import LoadOptions, load_each


def described(items: list[pipeline.Loaded]) -> list[tuple]:
    return [(it.profile.source, it.profile.warnings,
             [(s.values, [(loc.address, [(ln.function.name, ln.line) for ln in loc.lines]) for loc in s.locations])
              for s in it.profile.samples],
             [(r.file, r.addresses, r.resolved, r.status) for r in it.reports]) for it in items]


def test_workers_give_what_one_after_the_other_gives(examples, monkeypatch):
    paths = [str(examples / f"threads.000{i}.heap") for i in (3, 1, 4, 2)] + [str(examples / "jemalloc.heap")]
    serial = load_each(paths, LoadOptions())
    monkeypatch.setattr(pipeline, "PARALLEL_MIN_BYTES", 0)
    assert pipeline._workers_pay(paths)  # the jemalloc profile is parsed in Python
    used: list[int] = []
    real_pool = pipeline.ProcessPoolExecutor

    def counting_pool(*args, **kwargs):
        used.append(kwargs["max_workers"])
        return real_pool(*args, **kwargs)

    monkeypatch.setattr(pipeline, "ProcessPoolExecutor", counting_pool)
    parallel = load_each(paths, LoadOptions())
    assert used == [min(len(paths), os.cpu_count() or 1)]  # both cores here (and in CI)
    assert described(parallel) == described(serial)
    assert [it.profile.source for it in parallel] == paths  # in the order given


def test_gperftools_profiles_read_by_the_scanner_load_here(examples, monkeypatch):
    """Shipping a profile back from a worker costs about what the scanner takes to parse it."""
    monkeypatch.setattr(pipeline, "PARALLEL_MIN_BYTES", 0)
    dumps = [str(examples / f"threads.000{i}.heap") for i in range(1, 5)]
    assert not pipeline._workers_pay(dumps)
    assert pipeline._workers_pay([*dumps, str(examples / "jemalloc.heap")])
    monkeypatch.setattr(pipeline, "PARALLEL_MIN_BYTES", 1 << 40)
    assert not pipeline._workers_pay([*dumps, str(examples / "jemalloc.heap")])  # small inputs: never
