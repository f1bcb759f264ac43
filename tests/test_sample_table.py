"""The columnar sample table every format hands to the views, and the steps that read its arrays
(allocator-frame pruning, combine) checked against plain per-sample loops on real profiles."""

from __future__ import annotations

import numpy as np
import pytest

from heapviz.combine import combine, location_key
from heapviz.formats import load, load_series
from heapviz.model import Sample
from heapviz.prune import ALLOCATOR_FRAMES, ALLOCATOR_LIBRARIES, KEEP_FRAMES, STDLIB_PREFIXES, drop_allocator_frames
from heapviz.sample_table import SampleTable, as_table
from heapviz.symbolize import SymbolizeOptions, symbolize
from heapviz.symbolize.demangle import simplify

PROFILES = ["cxx.0002.heap", "shlib.0002.heap", "recursion.0001.heap", "sampled.heap", "heapcheck.heap",
            "threads.0004.heap", "cpu_api.prof", "jemalloc.heap"]


def loaded(examples, name):
    profile = load(str(examples / name))
    symbolize(profile, SymbolizeOptions())
    return profile


@pytest.mark.parametrize("name", PROFILES)
def test_every_format_hands_over_a_table_that_round_trips(examples, name):
    profile = loaded(examples, name)
    table = profile.samples
    assert isinstance(table, SampleTable) and len(table) > 0
    # numbered by first appearance, every location used and in the profile
    assert np.array_equal(np.unique(table.loc_index, return_index=True)[1].argsort(), np.arange(len(table.locations)))
    assert {id(loc) for loc in table.locations} <= {id(loc) for loc in profile.locations}
    again = SampleTable.from_samples(list(table))
    assert again.locations == table.locations
    assert np.array_equal(again.loc_index, table.loc_index) and np.array_equal(again.starts, table.starts)
    assert np.array_equal(again.values, table.values) and again.values.dtype == table.values.dtype
    for i in range(len(profile.sample_types)):
        assert profile.total(i) == sum(abs(s.values[i]) for s in table)


def test_a_table_holds_only_what_it_holds_exactly():
    assert isinstance(as_table([Sample([1, 2], ())]), SampleTable)
    assert isinstance(as_table([Sample([1.5, 2.0], ())]), SampleTable)
    mixed = [Sample([1, 2], ()), Sample([1.5, 2.0], ())]
    assert as_table(mixed) is mixed  # ints and floats in one profile: kept as objects
    huge = [Sample([2**64, 1], ())]
    assert as_table(huge) is huge


def reference_prune(profile):
    """pprof's cut and heapviz's leaf stripping as a loop over each sample's stack, the plain
    statement the array version (prune._cuts) must equal: each sample's new stack as the names of
    its frames, leaf first."""
    import re
    drop = re.compile("^(?:" + "|".join(f"(?:{p})" for p in ALLOCATOR_FRAMES) + ")$")
    keep = re.compile(f"^(?:{profile.keep_frames or KEEP_FRAMES})$")

    def hit(name):
        short = simplify(name)
        return bool(drop.match(short)) and not keep.match(short)

    def cut_at(loc):  # None: no match; else the index of the outermost matching line
        for i in range(len(loc.lines) - 1, -1, -1):
            if hit(loc.lines[i].function.name):
                return i
        return None

    def is_std(name):
        return simplify(name).startswith(STDLIB_PREFIXES)

    out = []
    for s in profile.samples:
        stack = [list(loc.lines) for loc in s.locations]
        maps = [loc.mapping for loc in s.locations]
        marks = [cut_at(loc) for loc in s.locations]
        start, user = 0, False
        for i in range(len(stack) - 1, -1, -1):
            if marks[i] is None:
                user = True
            elif user:
                whole = marks[i] == len(stack[i]) - 1
                start = i + 1 if whole else i
                if not whole:
                    stack[i] = stack[i][marks[i] + 1:]
                break
        for i in range(len(stack)):  # a location cut inside is cut inside wherever it is kept
            if marks[i] is not None and marks[i] < len(stack[i]) - 1 and i >= start and i != start - 1:
                stack[i] = list(s.locations[i].lines[marks[i] + 1:])
        stack, maps = stack[start:], maps[start:]
        while len(stack) > 1 and maps[0] is not None and ALLOCATOR_LIBRARIES.match(maps[0].basename):
            stack, maps = stack[1:], maps[1:]
        for i, lines in enumerate(stack):
            k = 0
            while k < len(lines) and is_std(lines[k].function.name):
                k += 1
            if k == 0:
                stack = stack[i:]
                break
            if k < len(lines):
                stack = [lines[k:], *stack[i + 1:]]
                break
        out.append((s.values, [[ln.function.name for ln in lines] for lines in stack]))
    return out


@pytest.mark.parametrize("name", ["cxx.0002.heap", "shlib.0002.heap", "recursion.0001.heap",
                                  "recursion_preload.0001.heap", "heapcheck.heap", "threads.0004.heap"])
def test_pruning_over_arrays_equals_the_per_sample_loop(examples, name):
    profile = loaded(examples, name)
    pruned = drop_allocator_frames(profile)
    got = [(s.values, [[ln.function.name for ln in loc.lines] for loc in s.locations]) for s in pruned.profile.samples]
    assert got == reference_prune(profile)
    assert pruned.changed == sum(a != b for a, b in zip(got, [(s.values, [[ln.function.name for ln in loc.lines]
                                                                        for loc in s.locations])
                                                               for s in profile.samples], strict=True))
    pruned.profile.validate()


def test_combine_over_arrays_equals_a_sum_by_stack(examples):
    dumps = load_series(str(examples / "threads.0001.heap")) + load_series(str(examples / "threads.0004.heap"))
    for p in dumps:
        symbolize(p, SymbolizeOptions())
    expected: dict = {}
    for p, w in zip(dumps, (-1, 1), strict=True):
        for s in p.samples:
            acc = expected.setdefault(tuple(map(location_key, s.locations)), [0] * len(s.values))
            for i, v in enumerate(s.values):
                acc[i] += w * v
    got = combine(dumps[::-1], [1, -1])
    assert isinstance(got.samples, SampleTable)
    assert {tuple(map(location_key, s.locations)): s.values for s in got.samples} == \
        {k: v for k, v in expected.items() if any(v)}
    got.validate()


def reference_filter(samples, options):
    """--focus/--ignore/--hide/--show as a loop over each sample's locations: the plain statement
    graph/filters.apply (over the table's arrays) must equal."""
    import re

    def line_hit(rx, ln):
        fn = ln.function
        return bool(rx.search(simplify(fn.name)) or rx.search(fn.name) or (fn.filename and rx.search(fn.filename)))

    def loc_hit(rx, loc):
        return any(line_hit(rx, ln) for ln in loc.lines) or bool(loc.mapping and loc.mapping.file
                                                                  and rx.search(loc.mapping.file))
    rx = {k: re.compile(getattr(options, k)) if getattr(options, k) else None
          for k in ("focus", "ignore", "hide", "show")}
    out = []
    for s in samples:
        if rx["ignore"] and any(loc_hit(rx["ignore"], loc) for loc in s.locations):
            continue
        if not any(rx["focus"] is None or loc_hit(rx["focus"], loc) for loc in s.locations
                   if not (rx["ignore"] and loc_hit(rx["ignore"], loc))):
            continue
        stack = []
        for loc in s.locations:
            hidden = rx["hide"] is not None and loc_hit(rx["hide"], loc)
            lines = [ln for ln in loc.lines if not (hidden and line_hit(rx["hide"], ln))]
            if rx["show"]:
                lines = [ln for ln in lines if line_hit(rx["show"], ln)]
            if lines:
                stack.append([ln.function.name for ln in lines])
        if stack:
            out.append((s.values, stack))
    return out


@pytest.mark.parametrize("opts", [dict(focus="main"), dict(ignore="leak"), dict(hide="^std::|operator"),
                                  dict(show="main|leak|grow"), dict(focus="leak", hide="main", ignore="zzz"),
                                  dict(focus="nothing-matches")])
@pytest.mark.parametrize("name", ["cxx.0002.heap", "recursion.0001.heap", "threads.0004.heap"])
def test_filters_over_arrays_equal_the_per_sample_loop(examples, name, opts):
    from heapviz.graph.filters import FilterOptions, apply
    profile = drop_allocator_frames(loaded(examples, name)).profile
    options = FilterOptions(**opts)
    result = apply(profile.samples, options)
    got = [(s.values, [[ln.function.name for ln in loc.lines] for loc in s.locations]) for s in result.samples]
    assert got == reference_filter(profile.samples, options)
    import re
    locations = {id(loc): loc for s in profile.samples for loc in s.locations}.values()
    unmatched = {f"--{k}" for k, v in opts.items()
                 if not any(re.search(v, ln.function.name) or re.search(v, simplify(ln.function.name))
                            or re.search(v, ln.function.filename or "\0") for loc in locations for ln in loc.lines)}
    assert {w.split("=")[0] for w in result.warnings} == unmatched


def test_a_location_cut_inside_is_stripped_of_std_lines_as_its_copy(tmp_path):
    """A leaf location whose inline frames are [helper, allocator, std, user] (innermost first):
    the cut keeps [std, user], and the standard library's line then goes too."""
    from heapviz.model import Function, Line, Location, Profile, ValueType
    names = ["my_arena_helper", "std::__new_allocator::allocate", "std::vector::_M_realloc_insert", "fill_table"]
    fns = [Function(i + 1, n, n) for i, n in enumerate([*names, "main"])]
    leaf = Location(1, 0x1000, None, tuple(Line(f) for f in fns[:4]))
    root = Location(2, 0x2000, None, (Line(fns[4]),))
    profile = Profile(sample_types=[ValueType("inuse_space", "bytes")], samples=[Sample([64], (leaf, root))],
                      locations=[leaf, root], functions=fns)
    profile.samples = as_table(profile.samples)
    got = drop_allocator_frames(profile).profile
    assert [[ln.function.name for ln in loc.lines] for loc in got.samples[0].locations] == [["fill_table"], ["main"]]
    assert [(s.values, [[ln.function.name for ln in loc.lines] for loc in s.locations]) for s in got.samples] == \
        reference_prune(profile)
