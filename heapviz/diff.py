"""NEW minus BASE, matched on symbolized stacks, never on raw addresses.

Two dumps of different runs of one build load the same code at different addresses (ASLR), so
stacks are keyed on each frame's function, file and line, or on binary + file offset where
nothing could be symbolized. Identical stacks are merged, so totals are pprof's Σ|net|.
"""

from __future__ import annotations

from collections.abc import Hashable

from heapviz.errors import InputError
from heapviz.model import Location, Profile, Sample, Value

LocKey = Hashable


def location_key(loc: Location) -> LocKey:
    if loc.lines:
        return tuple((ln.function.name, ln.function.filename, ln.line) for ln in loc.lines)
    if loc.mapping is not None:
        return (loc.mapping.basename, loc.mapping.file_offset(loc.address))
    return ("", loc.address)


class _StackKeys:
    """Stacks keyed for matching across profiles: each location's key is worked out once per
    location object and numbered, so that a stack's key is a tuple of small ints."""

    def __init__(self) -> None:
        self.numbers: dict[LocKey, int] = {}
        self._of_object: dict[int, int] = {}  # id(location) -> number; the profiles keep them alive

    def add_profile(self, profile: Profile) -> None:
        numbers, of_object = self.numbers, self._of_object
        for loc in profile.locations:
            of_object[id(loc)] = numbers.setdefault(location_key(loc), len(numbers))

    def key(self, sample: Sample) -> tuple[int, ...]:
        try:
            return tuple(map(self._of_object.__getitem__, map(id, sample.locations)))
        except KeyError:  # a location missing from its profile's list: key it here
            return tuple(self.numbers.setdefault(location_key(loc), len(self.numbers)) for loc in sample.locations)


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
    sums: dict[tuple[int, ...], list[Value]] = {}
    stacks: dict[tuple[int, ...], tuple[Location, ...]] = {}
    keys = _StackKeys()
    for profile, idx, sign in ((new, new_idx, 1), (base, base_idx, -1)):
        keys.add_profile(profile)
        for s in profile.samples:
            key = keys.key(s)
            acc = sums.get(key)
            if acc is None:
                acc = sums[key] = [0] * len(common)
                stacks[key] = s.locations
            for j, i in enumerate(idx):
                acc[j] += sign * s.values[i]
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

    for key, values in sums.items():
        if all(v == 0 for v in values):
            continue
        out.samples.append(Sample(values, tuple(copy(loc) for loc in stacks[key])))
    out.locations = list(copies.values())
    out.mappings += [m for m in base.mappings if m not in out.mappings]
    return out
