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


def test_a_file_may_hold_a_series(examples, tmp_path, monkeypatch):
    """A format may return several profiles from one file (massif's snapshots): a report takes
    them as a series in their order; commands that sum profiles take the file's last one."""
    import json
    import types

    from heapviz import formats
    from heapviz.cli import main

    dumps = [examples / f"threads.000{i}.heap" for i in (1, 2, 3, 4)]
    bundle = tmp_path / "bundle.series"
    bundle.write_bytes(b"SERIES\n" + b"\n".join(str(p).encode() for p in dumps) + b"\n")

    def parse_series(reader):
        paths = [line.strip().decode() for line in reader][1:]
        return [formats.load(p) for p in paths if p]

    fake = types.ModuleType("series_test")
    fake.NAME, fake.DESCRIPTION = "series_test", "a file naming gperftools dumps, one per line"
    fake.sniff = lambda head: head.startswith(b"SERIES\n")
    fake.parse = lambda reader: parse_series(reader)[-1]
    fake.parse_series = parse_series
    monkeypatch.setattr(formats, "FORMATS", {fake.NAME: fake, **formats.FORMATS})  # most specific first

    loaded = load_each([str(bundle)], LoadOptions())
    assert [it.profile.sequence for it in loaded] == [1, 2, 3, 4]
    assert [it.last_in_file for it in loaded] == [False, False, False, True]
    assert all(it.profile.source == str(bundle) for it in loaded)
    summary = tmp_path / "s.json"
    assert main(["report", str(bundle), "-o", str(summary), "-q"]) == 0
    doc = json.loads(summary.read_text())
    assert doc["mode"] == "series" and len(doc["dumps"]) == 4
    assert doc["suspects"][0]["function"] == "leak_in_worker_b"
    assert doc["suspects"][0]["inuse_space"] == [12288, 24576, 36864, 49152]
    top = tmp_path / "top.json"
    assert main(["top", str(bundle), "--format", "json", "-o", str(top), "-q"]) == 0
    assert json.loads(top.read_text())["total"] == doc["dumps"][-1]["inuse_space"]  # the last, not a sum
