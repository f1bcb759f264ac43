"""combine(): the one way profiles are added up (--merge, several profiles, --base, series
growth). Pure, associative, and matching stacks on symbolized frames."""

from __future__ import annotations

import copy

from heapviz.combine import combine
from heapviz.pipeline import LoadOptions, load_each


def by_stack(profile) -> dict:
    """Each stack (function, file, line of every frame) with its values, for comparing profiles."""
    out: dict = {}
    for s in profile.samples:
        key = tuple(tuple((ln.function.name, ln.line) for ln in loc.lines) for loc in s.locations)
        acc = out.setdefault(key, [0] * len(s.values))
        for i, v in enumerate(s.values):
            acc[i] += v
    return {k: v for k, v in out.items() if any(v)}


def described(profile) -> tuple:
    return ([(s.values, [(loc.id, loc.address, loc.mapping.id if loc.mapping else None, loc.lines)
                         for loc in s.locations]) for s in profile.samples],
            [(m.id, m.file) for m in profile.mappings], [loc.id for loc in profile.locations])


def test_combine_is_pure_and_associative(examples):
    dumps = [it.profile for it in load_each([str(examples / f"threads.000{i}.heap") for i in (1, 2, 3, 4)],
                                             LoadOptions())]
    before = [copy.deepcopy(described(p)) for p in dumps]
    all_at_once = combine(dumps)
    in_chunks = combine([combine(dumps[:2]), combine(dumps[2:])])
    assert by_stack(all_at_once) == by_stack(in_chunks)
    assert [described(p) for p in dumps] == before  # inputs untouched: ids, mappings, stacks
    # identical stacks of different dumps became one sample each
    assert len(all_at_once.samples) == len(by_stack(all_at_once))
    assert all_at_once.total_of("inuse_space") == sum(p.total_of("inuse_space") for p in dumps)
    # a difference is the base at weight -1, and a + b - b gives a back
    a, b = dumps[3], dumps[1]
    diff = combine([a, b], [1, -1])
    assert diff.base_source == b.source and diff.source == a.source
    assert by_stack(combine([diff, b])) == by_stack(a)
    assert by_stack(combine([a, a], [1, -1])) == {}


def test_combine_keeps_what_the_profiles_are(examples):
    dumps = [it.profile for it in load_each([str(examples / f"threads.000{i}.heap") for i in (2, 3)],
                                             LoadOptions())]
    summed = combine(dumps)
    assert summed.profile_kind is dumps[0].profile_kind and summed.sequence is None
    diff = combine(dumps, [1, -1])
    assert diff.sequence == 2 and diff.sequence_text == "dump #2"
