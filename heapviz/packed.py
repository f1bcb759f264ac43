"""Profiles as compact pickles, for the processes and Dask workers a fleet is spread over.

Pickled as they are, a profile's tens of thousands of locations, lines and functions are one
object and one attribute dict each: a fleet's partial sum (6,000 stacks, 64,000 locations) took
0.6 s and 25 MiB on the way out and 0.9 s and 50 MiB on the way in, on every transfer between
Dask workers and back to the client. Packed, the same objects travel as columns (lists of
numbers and strings, and the sample table's arrays as they are) and are made again on the other
side, with the same sharing: a location, function or mapping that two places held is one object
again (lines are values: each location gets its own). `Profile.__reduce__` calls `pack`;
nothing else needs to know.
"""

from __future__ import annotations

import dataclasses
import gc
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar

import numpy as np

from heapviz.graph.arrays import first_seen
from heapviz.model import Function, Line, Location, Profile, Sample

T = TypeVar("T")

# the fields packed as columns; every other field of Profile travels as it is
_PACKED = ("samples", "locations", "functions", "mappings")


def _interned(*groups: Sequence[T]) -> tuple[list[T], list[list[int]]]:
    """The distinct objects of `groups` by identity, in order of first sight, and each group's
    objects as numbers into them (compiled hashing: a partial holds a hundred thousand)."""
    objs = [o for g in groups for o in g]
    numbers, first = first_seen(np.fromiter(map(id, objs), dtype=np.int64, count=len(objs)))
    out, at = [], 0
    for g in groups:
        out.append(numbers[at:at + len(g)].tolist())
        at += len(g)
    return [objs[k] for k in first.tolist()], out


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic collector off while tens of thousands of objects are made, as the command line
    keeps it (cli.main): each collection of the young objects rescans the older ones, which made
    unpacking a fleet's partial 0.85 s instead of 0.13 s. Dask workers run with it on, so their
    tasks and unpickling pause it here; it is back on afterwards, if it was on."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def pack(p: Profile) -> tuple[Any, ...]:
    """`p` as plain columns (see the module doc); `unpack` makes it again."""
    with gc_paused():
        return _pack(p)


def _pack(p: Profile) -> tuple[Any, ...]:
    from heapviz.sample_table import SampleTable

    table = p.samples if isinstance(p.samples, SampleTable) else None
    stacks = [table.locations] if table is not None else [s.locations for s in p.samples]
    locations, (profile_locations, *stack_numbers) = _interned(p.locations, *stacks)
    if table is not None:
        samples: Any = ("table", stack_numbers[0], table.loc_index, table.starts, table.values, table.labels,
                        table.label_of)
    else:
        samples = ("list", [(s.values, k, s.labels) for s, k in zip(p.samples, stack_numbers, strict=True)])
    mappings, (profile_mappings, mapping_of) = _interned(p.mappings, [loc.mapping for loc in locations])
    lines = [ln for loc in locations for ln in loc.lines]  # each location's, innermost first
    functions, (profile_functions, function_of) = _interned(p.functions, [ln.function for ln in lines])
    loc_columns = ([loc.id for loc in locations], [loc.address for loc in locations], mapping_of,
                   [len(loc.lines) for loc in locations])
    line_columns = (function_of, [ln.line for ln in lines], [ln.column for ln in lines])
    fn_columns = ([f.id for f in functions], [f.name for f in functions], [f.system_name for f in functions],
                  [f.filename for f in functions], [f.start_line for f in functions])
    rest = {f.name: getattr(p, f.name) for f in dataclasses.fields(Profile) if f.name not in _PACKED}
    return (rest, list(mappings), profile_mappings, fn_columns, profile_functions, line_columns, loc_columns,
            profile_locations, samples)


def unpack(state: tuple[Any, ...]) -> Profile:
    """The profile `pack` gave `state` for."""
    with gc_paused():
        return _unpack(state)


def _unpack(state: tuple[Any, ...]) -> Profile:
    from heapviz.sample_table import SampleTable

    rest, mappings, profile_mappings, fn_columns, profile_functions, line_columns, loc_columns, \
        profile_locations, samples = state
    functions = list(map(Function, *fn_columns))
    fn_of, line_of, column_of = line_columns
    lines = list(map(Line, [functions[k] for k in fn_of], line_of, column_of))
    ids, addresses, mapping_of, line_counts = loc_columns
    locations = []
    at = 0
    for loc_id, address, m, n in zip(ids, addresses, mapping_of, line_counts, strict=True):
        locations.append(Location(loc_id, address, mappings[m], tuple(lines[at:at + n])))
        at += n
    if samples[0] == "table":
        _, used, loc_index, starts, values, labels, label_of = samples
        rows: Sequence[Sample] = SampleTable([locations[k] for k in used], loc_index, starts, values, labels,
                                             label_of, ordered=True)
    else:
        rows = [Sample(v, tuple(locations[k] for k in stack), labels) for v, stack, labels in samples[1]]
    return Profile(samples=rows, locations=[locations[k] for k in profile_locations],
                   functions=[functions[k] for k in profile_functions],
                   mappings=[mappings[k] for k in profile_mappings], **rest)
