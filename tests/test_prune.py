"""Dropping allocator frames is a pure step: a new profile and what was decided; the input stays."""

from __future__ import annotations

import copy

from heapviz.formats import load
from heapviz.prune import PruneOptions, drop_allocator_frames
from heapviz.symbolize import SymbolizeOptions, symbolize


def snapshot(profile):
    return ([(s.values, [(id(loc), loc.id, loc.lines) for loc in s.locations]) for s in profile.samples],
            [(id(loc), loc.id, loc.lines) for loc in profile.locations])


def test_prune_leaves_its_input_as_it_was(examples):
    raw = load(str(examples / "cxx.0002.heap"))
    symbolize(raw, SymbolizeOptions())
    before = copy.deepcopy(snapshot(raw))
    result = drop_allocator_frames(raw)
    assert snapshot(raw) == before
    result.profile.validate()
    assert result.profile is not raw and result.changed > 0
    assert any("_Vector_base" in f and "_M_allocate" in f for f in result.functions)  # inlined by GCC
    leaves = {s.locations[0].lines[0].function.name for s in result.profile.samples if s.locations[0].lines}
    assert not leaves & {"malloc", "operator new", "operator new[]"}
    assert raw.total_of("inuse_space") == result.profile.total_of("inuse_space")
    # nothing to drop: the same profile back, nothing decided
    kept = drop_allocator_frames(raw, PruneOptions(all_frames=True))
    assert kept.profile is raw and kept.changed == 0 and kept.functions == ()
