"""Property-based and mutation fuzzing of every parser: any bytes either parse into a valid
profile or raise the documented InputError, never anything else.

CI runs a bounded number of cases; `make fuzz` sets HEAPVIZ_FUZZ_EXAMPLES much higher.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heapviz.errors import InputError
from heapviz.formats import FORMATS, ReadLimits, load_bytes
from heapviz.graph.build import GraphOptions, trimmed_graph
from heapviz.graph.nodes import NodeOptions
from heapviz.prune import drop_allocator_frames
from heapviz.symbolize import SymbolizeOptions, symbolize

EXAMPLES = int(os.environ.get("HEAPVIZ_FUZZ_EXAMPLES", "300"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
LIMITS = ReadLimits(max_line_bytes=1 << 16, max_input_bytes=1 << 22)

SEEDS_DIR = Path(__file__).resolve().parent / "data"


def seeds() -> list[bytes]:
    """Real and hand-written inputs of every format we have files for."""
    found = [p.read_bytes() for p in sorted(SEEDS_DIR.rglob("*")) if p.is_file() and p.suffix in (".heap", ".log",
                                                                                                   ".pb", ".gz")]
    return [s[:20000] for s in found] or [b"heap profile: 1: 8 [ 1: 8] @ heapprofile\n 1: 8 [ 1: 8] @ 0x10\n"]


SEEDS = seeds()


def check(data: bytes) -> None:
    try:
        profile = load_bytes(data, "fuzz.heap", LIMITS)
    except InputError as e:
        assert e.path == "fuzz.heap" and e.what
        return
    profile.validate()
    # what follows parsing must cope with whatever parsed
    symbolize(profile, SymbolizeOptions(tool="none"))
    profile = drop_allocator_frames(profile).profile
    profile.validate()
    for i in range(len(profile.sample_types)):
        trimmed_graph(profile.samples, i, NodeOptions(), GraphOptions(), profile.total(i), profile.size_pairs)


@FUZZ
@given(st.binary(max_size=4000))
def test_random_bytes(data):
    check(data)


@FUZZ
@given(st.sampled_from(FORMATS and SEEDS), st.data())
def test_mutated_real_inputs(seed, data):
    buf = bytearray(seed)
    for _ in range(data.draw(st.integers(1, 8))):
        op = data.draw(st.sampled_from(["flip", "insert", "delete", "truncate", "dup"]))
        if not buf:
            break
        i = data.draw(st.integers(0, len(buf) - 1))
        if op == "flip":
            buf[i] = data.draw(st.integers(0, 255))
        elif op == "insert":
            buf[i:i] = data.draw(st.binary(min_size=1, max_size=40))
        elif op == "delete":
            del buf[i : i + data.draw(st.integers(1, 40))]
        elif op == "truncate":
            del buf[i:]
        else:
            j = data.draw(st.integers(i, min(len(buf), i + 200)))
            buf[j:j] = buf[i:j]
    check(bytes(buf))


_LINE = st.one_of(
    st.builds(lambda a, b, c, d, addrs: f" {a}: {b} [{c}: {d}] @ " + " ".join(f"0x{x:x}" for x in addrs),
              st.integers(-5, 1 << 70), st.integers(-5, 1 << 70), st.integers(-5, 1 << 70), st.integers(-5, 1 << 70),
              st.lists(st.integers(0, 1 << 66), max_size=40)),
    st.text(max_size=60),
)


@FUZZ
@given(st.sampled_from(["heapprofile", "heap_v2/524288", "heap_v2/0", "heap/1048576", "growthz", "heap_v2/1"]),
       st.lists(_LINE, max_size=30), st.booleans(), st.booleans())
def test_structured_gperftools(kind, lines, with_maps, gz):
    text = f"heap profile: 1: 2 [ 3: 4] @ {kind}\n" + "\n".join(lines)
    if with_maps:
        text += "\nMAPPED_LIBRARIES:\n00400000-00401000 r-xp 00000000 08:01 1 /bin/x\n"
    data = text.encode("utf-8", "surrogateescape")
    check(gzip.compress(data) if gz else data)


_PC = st.one_of(st.integers(0, 1 << 64), st.integers(0x400000, 0x401000))


@FUZZ
@given(st.sampled_from(["<I", ">I", "<Q", ">Q"]), st.integers(0, 1 << 64),
       st.lists(st.tuples(st.integers(0, 1 << 64), st.lists(_PC, max_size=12)), max_size=12),
       st.booleans(), st.booleans(), st.one_of(st.none(), st.integers(0, 600)), st.booleans())
def test_structured_gperftools_cpu(word, period, records, trailer, with_maps, cut, gz):
    """gperftools' binary CPU profiles: any word size and byte order, any counts, frames and
    periods, with or without trailer and memory map, cut anywhere."""
    mask = (1 << (32 if word[1] == "I" else 64)) - 1
    words = [0, 3, 0, period & mask or 1, 0]
    for count, pcs in records:
        words += [count & mask, len(pcs), *(pc & mask for pc in pcs)]
    if trailer:
        words += [0, 1, 0]
    data = b"".join(struct.pack(word, w) for w in words)
    if with_maps:
        data += b"00400000-00401000 r-xp 00000000 08:01 1 /bin/x\nbuild=1\ngarbage line\n"
    if cut is not None:
        data = data[:cut]
    check(gzip.compress(data) if gz else data)


@pytest.mark.parametrize("seed", range(len(SEEDS)))
def test_seeds_parse_or_fail_cleanly(seed):
    check(SEEDS[seed])
