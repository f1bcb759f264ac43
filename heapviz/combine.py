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
from typing import Any

import numpy as np
import numpy.typing as npt

from heapviz.errors import InputError
from heapviz.graph.arrays import IntArray, group_part_rows
from heapviz.model import Label, Location, Mapping, Profile
from heapviz.sample_table import SampleTable

LocKey = Hashable


def location_key(loc: Location) -> LocKey:
    """What makes two locations of different profiles (or runs) the same location."""
    if loc.lines:
        return tuple((ln.function.name, ln.function.filename, ln.line) for ln in loc.lines)
    if loc.mapping is not None:
        return (loc.mapping.basename, loc.mapping.file_offset(loc.address))
    return ("", loc.address)


def stack_numbers(tables: Sequence[SampleTable]) -> tuple[list[IntArray], list[tuple[int, int]]]:
    """Each sample's stack (and labels) numbered across the profiles' samples by its locations' keys, in order of first
    appearance: (per profile, each sample's number; per number, where it first appears as
    (profile, sample)). Each location is keyed once; the stacks are grouped by the compiled row
    hashing (graph/arrays.group_part_rows)."""
    numbers: dict[LocKey, int] = {}
    label_numbers: dict[tuple[Label, ...], int] = {}
    labelled = any(t.has_labels() for t in tables)
    rows: list[IntArray] = []
    starts: list[IntArray] = []
    for table in tables:
        code = np.array([numbers.setdefault(location_key(loc), len(numbers)) for loc in table.locations],
                        dtype=np.int64)
        row = code[table.loc_index] if len(code) else np.zeros(0, dtype=np.int64)
        row_starts = table.starts
        if labelled:
            # samples with different labels are different samples (pprof's merge): each row ends
            # with its labels' number, negative so that it never equals a location's
            tag_of = np.array([-1 - label_numbers.setdefault(labels, len(label_numbers)) for labels in table.labels],
                              dtype=np.int64)
            row = np.insert(row, row_starts[1:], tag_of[table.sample_labels()])
            row_starts = row_starts + np.arange(len(row_starts), dtype=np.int64)
        rows.append(row)
        starts.append(row_starts)
    grouped = group_part_rows(np.concatenate(rows), starts)
    return grouped.per_part, grouped.first_at


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
    tables = [SampleTable.from_samples(p.samples) for p in profiles]
    numbered, first = stack_numbers(tables)
    floats = any(t.values.dtype.kind == "f" for t in tables)
    sums = np.zeros((len(first), len(names)), dtype=np.float64 if floats else np.int64)
    for table, profile, weight, stack_of in zip(tables, profiles, weights, numbered, strict=True):
        if len(table):
            # in profile and sample order, one addition at a time: floats add up as a loop would
            np.add.at(sums, stack_of, table.values[:, [profile.sample_index(n) for n in names]] * weight)
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
    mappings: dict[int, Mapping] = {}  # copies with fresh ids: the inputs' own stay as they were
    for p in profiles:
        for m in p.mappings:
            if id(m) not in mappings:
                mappings[id(m)] = dataclasses.replace(m, id=len(mappings) + 1)
    out.mappings = list(mappings.values())
    out.samples = _table_of_sums(tables, sums, first, mappings)
    out.locations = list(out.samples.locations)
    out.functions = list(dict.fromkeys(f for p in profiles for f in p.functions))
    return out


def _table_of_sums(tables: Sequence[SampleTable], sums: npt.NDArray[Any], first: list[tuple[int, int]],
                   mappings: dict[int, Mapping]) -> SampleTable:
    """The combined samples: each stack's sum (stacks whose values all cancel out are dropped) on
    its first appearance's stack and labels, over copies of the inputs' locations and mappings
    with fresh ids (`mappings`: each input mapping's copy, by id)."""
    kept = np.flatnonzero((sums != 0).any(axis=1)) if len(sums) else np.zeros(0, dtype=np.int64)
    where = np.array(first, dtype=np.int64).reshape(-1, 2)[kept]
    # every input location once (by object), as candidates; the table keeps those used
    candidates: list[Location] = []
    number: dict[int, int] = {}
    index_parts: list[npt.NDArray[Any]] = []
    lens_parts: list[IntArray] = []
    label_sets: dict[tuple[Label, ...], int] = {(): 0}
    label_parts: list[npt.NDArray[Any]] = []
    for k, table in enumerate(tables):
        for loc in table.locations:
            if id(loc) not in number:
                number[id(loc)] = len(candidates)
                candidates.append(loc)
        local = np.array([number[id(loc)] for loc in table.locations], dtype=np.int32)
        rows = where[where[:, 0] == k, 1]
        index, starts = table.stacks_of(rows)
        index_parts.append(local[index] if len(index) else index)
        lens_parts.append(np.diff(starts))
        label_code = np.array([label_sets.setdefault(ls, len(label_sets)) for ls in table.labels], dtype=np.int32)
        label_parts.append(label_code[table.sample_labels()[rows]])
    lens = np.concatenate(lens_parts)
    starts = np.zeros(len(lens) + 1, dtype=np.int64)
    np.cumsum(lens, out=starts[1:])
    label_of = np.concatenate(label_parts) if len(label_sets) > 1 else None
    out = SampleTable(candidates, np.concatenate(index_parts), starts, sums[kept], list(label_sets), label_of)
    out.locations = [Location(k + 1, loc.address, mappings[id(loc.mapping)] if loc.mapping is not None else None,
                              loc.lines) for k, loc in enumerate(out.locations)]
    return out
