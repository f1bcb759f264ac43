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


def test_labels_are_read_kept_apart_and_written(examples, tmp_path):
    """pprof's sample labels: read, kept through combine (equal stacks with other labels stay
    apart, as in pprof's merge) and written back by convert."""
    import gzip
    import subprocess

    from conftest import run_heapviz
    from heapviz.formats import load, profile_pb2

    pb = tmp_path / "t.pb"
    assert run_heapviz("convert", str(examples / "threads.0004.heap"), "-o", str(pb)).rc == 0
    msg = profile_pb2.Profile()
    msg.ParseFromString(pb.read_bytes())
    strings = list(msg.string_table)

    def s(text):  # heapviz's schema holds strings as bytes (profiles may carry invalid UTF-8)
        raw = text.encode()
        if raw not in strings:
            strings.append(raw)
            msg.string_table.append(raw)
        return strings.index(raw)

    first = msg.sample[0]
    twin = msg.sample.add()
    twin.CopyFrom(first)
    first.label.add(key=s("worker"), str=s("a"))
    twin.label.add(key=s("worker"), str=s("b"))
    twin.label.add(key=s("request_bytes"), num=4096, num_unit=s("bytes"))
    labelled = tmp_path / "labelled.pb.gz"
    labelled.write_bytes(gzip.compress(msg.SerializeToString()))

    p = load(str(labelled))
    tags = [s.labels for s in p.samples if s.labels]
    assert tags == [(("worker", "a"),), (("worker", "b"), ("request_bytes", 4096, "bytes"))]
    twice = combine([p, p])
    assert len(twice.samples) == len(p.samples)  # equal (stack, labels) merged, the twins kept apart
    assert sorted(s.labels for s in twice.samples if s.labels) == sorted(tags)
    out = tmp_path / "back.pb.gz"
    assert run_heapviz("convert", str(labelled), "-o", str(out), "--all-frames").rc == 0
    back = load(str(out))
    assert sorted(s.labels for s in back.samples if s.labels) == sorted(tags)
    listed = subprocess.run(["go", "tool", "pprof", "-tags", str(out)], capture_output=True, text=True, timeout=300)
    assert "worker" in listed.stdout and "b" in listed.stdout, listed.stdout + listed.stderr
