"""Sum several profiles into one, as pprof does with several sources."""

from __future__ import annotations

from heapviz.errors import InputError
from heapviz.model import Profile


def merge(profiles: list[Profile]) -> Profile:
    """Concatenate samples of profiles with the same sample types; ids are renumbered.

    Views key nodes on symbolized names, so equal stacks from different files add up.
    """
    if len(profiles) == 1:
        return profiles[0]
    first = profiles[0]
    names = [vt.type for vt in first.sample_types]
    out = Profile(
        sample_types=list(first.sample_types),
        default_sample_type=first.default_sample_type,
        period_type=first.period_type,
        period=first.period,
        source=", ".join(p.source for p in profiles),
        kind=first.kind,
        header=first.header,
        scaled=any(p.scaled for p in profiles),
        sampling=first.sampling,
        symbolized=all(p.symbolized for p in profiles),
        drop_frames=first.drop_frames,
        keep_frames=first.keep_frames,
        size_pairs=first.size_pairs,
    )
    for p in profiles:
        if [vt.type for vt in p.sample_types] != names:
            raise InputError(p.source, f"sample types {[vt.type for vt in p.sample_types]} differ from "
                             f"{first.source}'s {names}; cannot sum them")
        for m in p.mappings:
            m.id = len(out.mappings) + 1
            out.mappings.append(m)
        for loc in p.locations:
            loc.id = len(out.locations) + 1
            out.locations.append(loc)
        out.functions.extend(p.functions)
        out.samples.extend(p.samples)
        out.warnings.extend(w for w in p.warnings if w not in out.warnings)
        out.comments.extend(c for c in p.comments if c not in out.comments)
        for k, v in p.header_totals.items():
            out.header_totals[k] = out.header_totals.get(k, 0) + v
    return out
