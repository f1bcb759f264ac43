"""NEW minus BASE, matched on symbolized stacks, never on raw addresses.

Two dumps of different runs of one build load the same code at different addresses (ASLR), so
stacks are keyed on each frame's function, file and line, or on binary + file offset where
nothing could be symbolized. Identical stacks are merged, so totals are pprof's Σ|net|.
"""

from __future__ import annotations

from collections.abc import Hashable

import numpy as np

from heapviz.errors import InputError
from heapviz.graph.arrays import IntArray, group_part_rows
from heapviz.graph.stacks import LocationTable
from heapviz.model import Location, Profile, Sample, Value

LocKey = Hashable


def location_key(loc: Location) -> LocKey:
    if loc.lines:
        return tuple((ln.function.name, ln.function.filename, ln.line) for ln in loc.lines)
    if loc.mapping is not None:
        return (loc.mapping.basename, loc.mapping.file_offset(loc.address))
    return ("", loc.address)


def _stack_numbers(profiles: tuple[Profile, ...]) -> tuple[list[list[int]], list[tuple[int, int]]]:
    """Each sample's stack numbered across the profiles by its frames' keys (not addresses), in
    order of first appearance: (per profile, each sample's number; per number, where it first
    appears as (profile, sample)). Each location is keyed once; the stacks are grouped by the
    compiled row hashing (graph/arrays.group_part_rows)."""
    numbers: dict[LocKey, int] = {}
    rows: list[IntArray] = []
    starts: list[IntArray] = []
    for p in profiles:
        table = LocationTable(p.samples)
        code = np.array([numbers.setdefault(location_key(loc), len(numbers)) for loc in table.locations],
                        dtype=np.int64)
        rows.append(code[table.index] if len(code) else np.zeros(0, dtype=np.int64))
        starts.append(table.loc_starts)
    grouped = group_part_rows(np.concatenate(rows), starts)
    return [part.tolist() for part in grouped.per_part], grouped.first_at


def subtract(new: Profile, base: Profile) -> Profile:
    """A profile whose samples are new's minus base's, stack by stack (all-zero stacks dropped)."""
    names = [vt.type for vt in new.sample_types]
    base_names = [vt.type for vt in base.sample_types]
    common = [n for n in names if n in base_names]
    if not common:
        raise InputError(base.source, f"has no sample type in common with {new.source} "
                         f"({', '.join(base_names)} vs {', '.join(names)})")
    new_idx = [names.index(n) for n in common]
    base_idx = [base_names.index(n) for n in common]
    numbered, first = _stack_numbers((new, base))
    sums: list[list[Value]] = [[0] * len(common) for _ in first]  # per stack number, in order of appearance
    for profile, idx, sign, stack_of in ((new, new_idx, 1, numbered[0]), (base, base_idx, -1, numbered[1])):
        for g, s in zip(stack_of, profile.samples, strict=True):
            acc = sums[g]
            for j, i in enumerate(idx):
                acc[j] += sign * s.values[i]
    stacks = [(new, base)[k].samples[i].locations for k, i in first]
    out = Profile(
        sample_types=[new.sample_types[i] for i in new_idx],
        default_sample_type=new.default_sample_type,
        period_type=new.period_type,
        period=new.period,
        source=new.source,
        kind=new.kind,
        header=new.header,
        scaled=new.scaled or base.scaled,
        sampling=new.sampling or base.sampling,
        symbolized=new.symbolized and base.symbolized,
        mappings=list(new.mappings),
        functions=list(new.functions),
        warnings=list(new.warnings) + [w for w in base.warnings if w not in new.warnings],
        comments=[f"difference: {new.source} minus base {base.source}"],
        base_source=base.source,
    )
    # Copies with fresh ids: the inputs' own locations stay as they were.
    copies: dict[int, Location] = {}

    def copy(loc: Location) -> Location:
        c = copies.get(id(loc))
        if c is None:
            c = copies[id(loc)] = Location(len(copies) + 1, loc.address, loc.mapping, loc.lines)
        return c

    for values, stack in zip(sums, stacks, strict=True):
        if all(v == 0 for v in values):
            continue
        out.samples.append(Sample(values, tuple(copy(loc) for loc in stack)))
    out.locations = list(copies.values())
    out.mappings += [m for m in base.mappings if m not in out.mappings]
    return out
