"""Profiles pickle as columns (heapviz/packed.py): what a fleet's processes and Dask workers send
each other comes back equal, with the same objects shared, and a good deal smaller."""

from __future__ import annotations

import dataclasses
import gc
import io
import pickle

import numpy as np

from heapviz.model import Function, Line, Location, Mapping, Profile, Sample, ValueType
from heapviz.packed import gc_paused
from heapviz.pipeline import LoadOptions, load_each
from heapviz.sample_table import SampleTable


def everything(p: Profile) -> tuple:
    """Every field, the samples' stacks and values included, for comparing profiles."""
    rest = {f.name: getattr(p, f.name) for f in dataclasses.fields(Profile) if f.name != "samples"}
    return rest, [(s.values, s.locations, s.labels) for s in p.samples]


def shared(p: Profile) -> tuple[bool, bool, bool]:
    """Whether the samples' locations are the profile's objects, their lines' functions the
    profile's functions and their mappings the profile's mappings."""
    locs, fns, maps = set(map(id, p.locations)), set(map(id, p.functions)), set(map(id, p.mappings))
    return (all(id(loc) in locs for s in p.samples for loc in s.locations),
            all(id(ln.function) in fns for loc in p.locations for ln in loc.lines),
            all(id(loc.mapping) in maps for loc in p.locations if loc.mapping is not None))


def test_a_symbolized_profile_comes_back_equal_and_shared(examples):
    p = load_each([str(examples / "cxx.0001.heap")], LoadOptions())[0].profile
    assert isinstance(p.samples, SampleTable) and p.symbolized
    assert any(len(loc.lines) > 1 for loc in p.locations)  # inline frames
    data = pickle.dumps(p, protocol=5)
    q = pickle.loads(data)
    assert isinstance(q.samples, SampleTable)
    assert everything(q) == everything(p)
    assert np.array_equal(q.samples.values, p.samples.values) and q.samples.values.dtype == p.samples.values.dtype
    assert shared(p) == shared(q) == (True, True, True)
    # a function two lines share is one object again
    by_name: dict[str, set[int]] = {}
    for loc in q.locations:
        for ln in loc.lines:
            by_name.setdefault(ln.function.system_name + ln.function.filename, set()).add(id(ln.function))
    assert all(len(ids) == 1 for ids in by_name.values())
    # the columns are smaller than the objects pickled one by one, as Python would
    assert len(data) < len(plain_pickle(p))


def plain_pickle(p: Profile) -> bytes:
    out = io.BytesIO()
    pickler = pickle.Pickler(out, protocol=5)
    pickler.dispatch_table = {Profile: lambda p: (object.__new__, (Profile,), vars(p))}  # type: ignore[assignment]
    pickler.dump(p)
    return out.getvalue()


def test_sample_objects_labels_floats_and_no_mapping_come_back():
    exe = Mapping(1, 0x1000, 0x2000, 0, "/bin/app", build_id="abc")
    f = Function(1, "std::vector<int>::push_back", "_ZNSt6vectorIiE9push_backEOi", "vector.h", 10)
    g = Function(2, "main", "main", "app.c", 3)
    inlined = Location(1, 0x1010, exe, (Line(f, 11), Line(g, 5, 2)))
    bare = Location(2, 0xdead, None, ())
    p = Profile([ValueType("space", "bytes")],
                samples=[Sample([1.5], (inlined, bare), (("host", "a"),)), Sample([2.25], (bare,), ())],
                locations=[inlined, bare], functions=[f, g], mappings=[exe], source="x.heap", scaled=True,
                header_totals={"space": 3.75}, warnings=["x.heap: something"])
    q = pickle.loads(pickle.dumps(p))
    assert not isinstance(q.samples, SampleTable)
    assert everything(q) == everything(p)
    assert q.samples[0].locations[1] is q.samples[1].locations[0] is q.locations[1]
    assert q.locations[0].lines[0].function is q.functions[0] and q.locations[0].mapping is q.mappings[0]
    assert q.locations[1].mapping is None


def test_gc_paused_restores_the_collector():
    was = gc.isenabled()  # in-process runs of the command line (other tests) leave it off
    try:
        gc.enable()
        with gc_paused():
            assert not gc.isenabled()
        assert gc.isenabled()
        gc.disable()
        with gc_paused():
            pass
        assert not gc.isenabled()  # left as it was
    finally:
        (gc.enable if was else gc.disable)()
