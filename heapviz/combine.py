"""One way to add profiles up: the sum of weight * profile, stack by stack.

`--merge` and several profiles given to `top` are weights of 1, `--base` is the base at weight
-1 (pprof's diff: scale the base by -1, then merge), and a fleet is merged in chunks, since
combining is associative. "The same stack" is decided here and nowhere else: two stacks are
the same when their locations are, frame by frame, and a location is its symbolized frames
(function, file, line of each inline frame), or its binary and file offset where nothing could
be symbolized; never a raw address, which ASLR moves between runs. Inputs are never changed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Sequence

import numpy as np

from heapviz.errors import InputError
from heapviz.graph.arrays import IntArray, group_part_rows
from heapviz.graph.stacks import LocationTable
from heapviz.model import Label, Location, Mapping, Profile, Sample, Value

LocKey = Hashable


def location_key(loc: Location) -> LocKey:
    """What makes two locations of different profiles (or runs) the same location."""
    if loc.lines:
        return tuple((ln.function.name, ln.function.filename, ln.line) for ln in loc.lines)
    if loc.mapping is not None:
        return (loc.mapping.basename, loc.mapping.file_offset(loc.address))
    return ("", loc.address)


def stack_numbers(profiles: Sequence[Profile]) -> tuple[list[list[int]], list[tuple[int, int]]]:
    """Each sample's stack (and labels) numbered across the profiles by its locations' keys, in order of first
    appearance: (per profile, each sample's number; per number, where it first appears as
    (profile, sample)). Each location is keyed once; the stacks are grouped by the compiled row
    hashing (graph/arrays.group_part_rows)."""
    numbers: dict[LocKey, int] = {}
    label_numbers: dict[tuple[Label, ...], int] = {}
    labelled = any(s.labels for p in profiles for s in p.samples)
    rows: list[IntArray] = []
    starts: list[IntArray] = []
    for p in profiles:
        table = LocationTable(p.samples)
        code = np.array([numbers.setdefault(location_key(loc), len(numbers)) for loc in table.locations],
                        dtype=np.int64)
        row = code[table.index] if len(code) else np.zeros(0, dtype=np.int64)
        row_starts = table.loc_starts
        if labelled:
            # samples with different labels are different samples (pprof's merge): each row ends
            # with its labels' number, negative so that it never equals a location's
            tags = np.array([-1 - label_numbers.setdefault(s.labels, len(label_numbers)) for s in p.samples],
                            dtype=np.int64)
            row = np.insert(row, row_starts[1:], tags)
            row_starts = row_starts + np.arange(len(row_starts), dtype=np.int64)
        rows.append(row)
        starts.append(row_starts)
    grouped = group_part_rows(np.concatenate(rows), starts)
    return [part.tolist() for part in grouped.per_part], grouped.first_at


def _common_types(profiles: Sequence[Profile], weights: Sequence[int]) -> list[str]:
    first = profiles[0]
    names = [vt.type for vt in first.sample_types]
    for p in profiles[1:]:
        theirs = [vt.type for vt in p.sample_types]
        common = [n for n in names if n in theirs]
        if not common:
            raise InputError(p.source, f"has no sample type in common with {first.source} "
                             f"({', '.join(theirs)} vs {', '.join(names)})")
        if all(w > 0 for w in weights) and sorted(theirs) != sorted(names):
            raise InputError(p.source, f"sample types {theirs} differ from {first.source}'s {names}; "
                             "cannot sum them")
        names = common
    return names


def combine(profiles: Sequence[Profile], weights: Sequence[int] | None = None) -> Profile:
    """A new profile whose samples are the sum of weight * profile, stack by stack (stacks whose values
    all cancel out are dropped). The first profile with a positive weight names the result; a
    profile at weight -1 is a base. One profile at weight 1 is returned as it is."""
    if not profiles:
        raise ValueError("nothing to combine")
    weights = list(weights) if weights is not None else [1] * len(profiles)
    if len(weights) != len(profiles):
        raise ValueError("one weight per profile")
    if len(profiles) == 1 and weights[0] == 1:
        return profiles[0]
    names = _common_types(profiles, weights)
    shown = [p for p, w in zip(profiles, weights, strict=True) if w > 0] or list(profiles)
    bases = [p for p, w in zip(profiles, weights, strict=True) if w < 0]
    lead = shown[0]
    numbered, first = stack_numbers(profiles)
    sums: list[list[Value]] = [[0] * len(names) for _ in first]  # per stack number, in order of appearance
    for profile, weight, stack_of in zip(profiles, weights, numbered, strict=True):
        idx = [profile.sample_index(n) for n in names]
        for g, s in zip(stack_of, profile.samples, strict=True):
            acc = sums[g]
            for j, i in enumerate(idx):
                acc[j] += weight * s.values[i]
    out = Profile(
        sample_types=[lead.sample_types[lead.sample_index(n)] for n in names],
        default_sample_type=lead.default_sample_type,
        period_type=lead.period_type,
        period=lead.period,
        source=", ".join(p.source for p in shown),
        kind=lead.kind,
        profile_kind=lead.profile_kind,
        header=lead.header,
        scaled=any(p.scaled for p in profiles),
        sampling=lead.sampling,
        symbolized=all(p.symbolized for p in profiles),
        drop_frames=lead.drop_frames,
        keep_frames=lead.keep_frames,
        size_pairs=lead.size_pairs if len(names) == len(lead.sample_types) else (),
        base_source=", ".join(p.source for p in bases),
        sequence=lead.sequence if len(shown) == 1 else None,
        sequence_text=lead.sequence_text if len(shown) == 1 else "",
        time_ns=max(p.time_ns for p in shown),
    )
    for p in profiles:
        out.warnings.extend(w for w in p.warnings if w not in out.warnings)
        out.comments.extend(c for c in p.comments if c not in out.comments and not bases)
        if all(w > 0 for w in weights):
            for name, v in p.header_totals.items():
                out.header_totals[name] = out.header_totals.get(name, 0) + v
    if bases:
        out.comments.append(f"difference: {out.source} minus base {out.base_source}")
    # Copies with fresh ids: the inputs' own mappings and locations stay as they were.
    mappings: dict[int, Mapping] = {}
    for p in profiles:
        for m in p.mappings:
            if id(m) not in mappings:
                mappings[id(m)] = dataclasses.replace(m, id=len(mappings) + 1)
    out.mappings = list(mappings.values())
    copies: dict[int, Location] = {}

    def copy(loc: Location) -> Location:
        c = copies.get(id(loc))
        if c is None:
            mapping = mappings[id(loc.mapping)] if loc.mapping is not None else None
            c = copies[id(loc)] = Location(len(copies) + 1, loc.address, mapping, loc.lines)
        return c

    for values, (k, i) in zip(sums, first, strict=True):
        if all(v == 0 for v in values):
            continue
        first_sample = profiles[k].samples[i]
        out.samples.append(Sample(values, tuple(copy(loc) for loc in first_sample.locations), first_sample.labels))
    out.locations = list(copies.values())
    out.functions = list(dict.fromkeys(f for p in profiles for f in p.functions))
    return out
