"""The compiled sample-line scanner (heapviz/formats/_heapscan.c) against the pure Python parser.

The scanner takes the plain lines gperftools writes and leaves every other line to Python, so
both paths must give the same profile (or the same error) for any input: real profiles of the
examples, hand-written edge cases, every block size, and fuzzed variants of all of them.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from heapviz.errors import InputError
from heapviz.formats import ReadLimits, gperftools_heap, heap_values, load_bytes

HEADER = "heap profile: 4: 400 [ 4: 400] @ heapprofile\n"
V2 = "heap profile: 4: 400 [ 4: 400] @ heap_v2/524288\n"
MAPS = "MAPPED_LIBRARIES:\n00400000-00500000 r-xp 00000000 08:01 123 /usr/bin/prog\n"
LIMITS = ReadLimits(max_line_bytes=4096, max_input_bytes=1 << 24)


def outcome(data: bytes, scanner: bool, block: int = gperftools_heap.BLOCK_BYTES,
            limits: ReadLimits = LIMITS) -> tuple:
    """Everything a parse yields, in plain values: the profile or the error."""
    saved = gperftools_heap.USE_SCANNER, gperftools_heap.BLOCK_BYTES
    gperftools_heap.USE_SCANNER, gperftools_heap.BLOCK_BYTES = scanner, block
    try:
        p = load_bytes(data, "p.heap", limits)
    except InputError as e:
        return ("error", e.line, e.what)
    finally:
        gperftools_heap.USE_SCANNER, gperftools_heap.BLOCK_BYTES = saved
    return ("ok", p.kind, p.header_totals, p.warnings, p.comments,
            [(s.values, [loc.id for loc in s.locations]) for s in p.samples],
            [(loc.id, loc.address, loc.mapping.file if loc.mapping else None,
              [ln.function.name for ln in loc.lines]) for loc in p.locations],
            [(m.start, m.limit, m.offset, m.file) for m in p.mappings])


def same_both_ways(data: bytes, **kw) -> tuple:
    fast, pure = outcome(data, True, **kw), outcome(data, False, **kw)
    assert fast == pure
    return fast


def test_compiled_scanner_is_built():
    # `make setup` compiles it (gcc and the Python headers are installed first); heapviz still
    # works without it, but CI must test the path users get.
    assert gperftools_heap._heapscan is not None


def test_examples_parse_the_same_at_every_block_size(examples):
    files = sorted(examples.glob("*.heap"))
    assert len(files) >= 10
    for f in files:
        data = f.read_bytes()
        ref = same_both_ways(data)
        assert ref[0] == "ok" and ref[5], f
        for block in (1, 97, 4096):
            assert outcome(data, True, block) == ref, (f, block)
        # gzip: the memory map is read from a decompressing stream after the scanner's blocks
        assert outcome(gzip.compress(data), True, 64) == ref, f


def test_the_scanners_numbering_is_the_tables_order(examples):
    """gperftools_heap hands the scanner's address ids to the SampleTable as already numbered by
    first appearance over every location (no renumbering pass): check that on every example, and
    that the tables equal the ones renumbered from scratch."""
    import numpy as np

    from heapviz.graph.arrays import first_seen
    from heapviz.sample_table import SampleTable

    for f in sorted(examples.glob("*.heap")):
        table = load_bytes(f.read_bytes(), f.name, LIMITS).samples
        assert isinstance(table, SampleTable), f
        renumbered = SampleTable(table.locations, table.loc_index, table.starts, table.values)
        assert [id(loc) for loc in renumbered.locations] == [id(loc) for loc in table.locations], f
        assert np.array_equal(renumbered.loc_index, table.loc_index), f
        inverse, first = first_seen(table.loc_index.astype(np.int64))
        assert np.array_equal(inverse, table.loc_index) and len(first) == len(table.locations), f


EDGE_CASES = {
    "plain": HEADER + " 1: 100 [ 1: 100] @ 0x401000 0x402000\n" + MAPS,
    "crlf": (HEADER + " 1: 100 [ 1: 100] @ 0x401000 0x402000\n" + MAPS).replace("\n", "\r\n"),
    "tabs and no spaces": HEADER + "1:100[1:100]@\t0x401000\t0x402000\n" + MAPS,
    "two counts": HEADER + " 1: 100 @ 0x401000\n" + MAPS,
    "three counts": HEADER + " 1: 100 [ 1: ] @ 0x401000\n" + MAPS,
    "blank lines between": HEADER + "\n 1: 100 [ 1: 100] @ 0x401000\n   \n 2: 16 [ 2: 16] @ 0x401000\n\n" + MAPS,
    "same stack and size summed": HEADER + " 1: 100 [ 1: 100] @ 0x401000\n 1: 100 [ 2: 200] @ 0x401000\n" + MAPS,
    "same stack other size": HEADER + " 1: 100 [ 1: 100] @ 0x401000\n 1: 50 [ 1: 50] @ 0x401000\n" + MAPS,
    "one address written two ways": HEADER + " 1: 8 [ 1: 8] @ 0x401000 0x402000\n"
    " 1: 8 [ 1: 8] @ 0x0000401000 0X402000\n" + MAPS,
    "hex case": HEADER + " 1: 8 [ 1: 8] @ 0xABCDEF 0xabcdef 0xAbCdEf\n" + MAPS,
    "no 0x prefix": HEADER + " 1: 8 [ 1: 8] @ 401000\n" + MAPS,
    "leading zeros beyond 16 digits": HEADER + " 1: 8 [ 1: 8] @ 0x00000000000000000000401000\n" + MAPS,
    "largest address": HEADER + " 1: 8 [ 1: 8] @ 0xffffffffffffffff\n" + MAPS,
    "address beyond 64 bits": HEADER + " 1: 8 [ 1: 8] @ 0x10000000000000000\n" + MAPS,
    "address zero": HEADER + " 1: 8 [ 1: 8] @ 0x0\n" + MAPS,
    "bare 0x": HEADER + " 1: 8 [ 1: 8] @ 0x\n" + MAPS,
    "underscore in address": HEADER + " 1: 8 [ 1: 8] @ 0x40_1000\n" + MAPS,
    "junk after address": HEADER + " 1: 8 [ 1: 8] @ 0x401000;\n" + MAPS,
    "second @": HEADER + " 1: 8 [ 1: 8] @ 0x401000 @ 0x402000\n" + MAPS,
    "empty stack": HEADER + " 1: 8 [ 1: 8] @\n 1: 8 [ 1: 8] @   \n" + MAPS,
    "32 frames": HEADER + " 1: 8 [ 1: 8] @" + "".join(f" 0x{0x401000 + i:x}" for i in range(32)) + "\n" + MAPS,
    "largest count": HEADER + " 1: 18446744073709551615 [ 1: 8] @ 0x401000\n" + MAPS,
    "count beyond 64 bits": HEADER + " 1: 18446744073709551616 [ 1: 8] @ 0x401000\n" + MAPS,
    "plus sign": HEADER + " +1: 8 [ 1: 8] @ 0x401000\n" + MAPS,
    "negative count": HEADER + " 1: -8 [ 1: 8] @ 0x401000\n" + MAPS,
    "zero count with bytes": HEADER + " 0: 8 [ 1: 8] @ 0x401000\n" + MAPS,
    "zero everything": HEADER + " 0: 0 [ 0: 0] @ 0x401000\n" + MAPS,
    "five counts": HEADER + " 1: 8 [ 1: 8] 9 @ 0x401000\n" + MAPS,
    "no @": HEADER + " 1: 8 [ 1: 8] 0x401000\n" + MAPS,
    "bad line after good ones": HEADER + " 1: 8 [ 1: 8] @ 0x401000\n" * 50 + " 1: 8 [ 1: 8] @ 0xzz\n" + MAPS,
    "non-ascii": HEADER + " 1: 8 [ 1: 8] @ 0x401000 \u00e9\n" + MAPS,
    "nul byte": HEADER + " 1: 8 [ 1: 8] @ 0x401000\x00\n" + MAPS,
    "memory map sentinel of the heap checker": HEADER + " 1: 8 [ 1: 8] @ 0x401000\n--- Memory map: ---\n"
    + MAPS.split("\n", 1)[1],
    "no memory map": HEADER + " 1: 8 [ 1: 8] @ 0x401000\n",
    "cut in the last line": HEADER + " 1: 8 [ 1: 8] @ 0x401000\n 1: 8 [ 1: 8] @ 0x4010 0x",
    "cut in the counts": HEADER + " 1: 8 [ 1: 8] @ 0x401000\n 1: 8 [ 1",
    "cut before any sample": HEADER + " 1: 8 [ 1",
    "last line unterminated but whole": HEADER + " 1: 8 [ 1: 8] @ 0x401000",
    "sampled duplicates summed after unsampling": V2 + " 1: 100 [ 1: 100] @ 0x401000\n"
    " 1: 100 [ 3: 300] @ 0x401000\n 2: 4096 [ 2: 4096] @ 0x402000\n" + MAPS,
    "line at the length limit": HEADER + " 1: 8 [ 1: 8] @" + " 0x401000" * 453 + "\n" + MAPS,
    "line beyond the length limit": HEADER + " 1: 8 [ 1: 8] @" + " 0x401000" * 454 + "\n" + MAPS,
}


@pytest.mark.parametrize("name", sorted(EDGE_CASES))
def test_edge_cases_parse_the_same(name):
    data = EDGE_CASES[name].encode()
    ref = same_both_ways(data)
    for block in (1, 13, 64):
        assert outcome(data, True, block) == ref


def test_what_the_edge_cases_give():
    """A few of the outcomes above, spelled out, so that both paths agreeing on a wrong answer fails too."""
    def got(name):
        return outcome(EDGE_CASES[name].encode(), True)

    assert got("same stack and size summed")[5] == [([2, 200, 3, 300], [1])]
    assert got("same stack other size")[5] == [([1, 100, 1, 100], [1]), ([1, 50, 1, 50], [1])]
    # one location per address, however the address is written
    assert [(i, a) for i, a, *_ in got("one address written two ways")[6]] == [(1, 0x400FFF), (2, 0x401FFF)]
    assert got("one address written two ways")[5] == [([2, 16, 2, 16], [1, 2])]
    assert got("largest address")[6][0][1] == (1 << 64) - 2
    assert got("bad line after good ones")[:2] == ("error", 52)
    assert "malformed address" in got("bad line after good ones")[2]
    assert got("count beyond 64 bits")[0] == "error" and "64 bits" in got("count beyond 64 bits")[2]
    assert got("address zero")[0] == "error" and got("line beyond the length limit")[0] == "error"
    assert got("line at the length limit")[0] == "ok"
    assert any("truncated at line 3" in w for w in got("cut in the last line")[3])
    assert any("truncated at line 3" in w for w in got("cut in the counts")[3])
    assert got("cut before any sample")[0] == "error"
    (v2_first, _), _second = got("sampled duplicates summed after unsampling")[5]
    one, three = heap_values.unsample_v2(1, 100, 524288), heap_values.unsample_v2(3, 300, 524288)
    assert v2_first == [one[0] + one[0], one[1] + one[1], one[0] + three[0], one[1] + three[1]]


def test_error_line_numbers_count_the_scanned_lines(tmp_path):
    body = "".join(f" 1: 8 [ 1: 8] @ 0x{0x401000 + i:x} 0x500000\n" for i in range(3000))
    data = (HEADER + body + " 1: 8 [ 1: 8] @ 0x401000 junk\n" + MAPS).encode()
    err = same_both_ways(data, block=1000)
    assert err[:2] == ("error", 3002)


def test_many_distinct_stacks_and_addresses():
    """Past the scanner's first table sizes (1024): its tables grow and keep their ids."""
    lines = [f" {i % 3 + 1}: {8 * (i % 3 + 1)} [ 1: 8] @ 0x{0x401000 + i:x} 0x{0x900000 + i % 1500:x}\n"
             for i in range(6000)]
    data = (HEADER + "".join(lines + lines[:2500]) + MAPS).encode()
    ref = same_both_ways(data)
    assert len(ref[5]) == 6000 and len(ref[6]) == 7500
    assert ref[5][0][0] == [2, 16, 2, 16]  # the first 2500 lines come twice


def _seeds() -> list[bytes]:
    data_dir = Path(__file__).resolve().parent / "data"
    found = [p.read_bytes()[:6000] for p in sorted(data_dir.rglob("*.heap"))
             if p.read_bytes().startswith(b"heap profile:")]
    return found + [c.encode() for c in EDGE_CASES.values()]


SEEDS = _seeds()
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
BYTES = st.sampled_from([b" ", b"\t", b"\r", b"\n", b"@", b":", b"[", b"]", b"0x", b"0X", b"0", b"1", b"f", b"9",
                         b"-", b"+", b"_", b"z", b"\x00", b"MAPPED_LIBRARIES:\n", b"18446744073709551616"])


@FUZZ
@given(st.sampled_from(SEEDS), st.data())
def test_fuzzed_inputs_parse_the_same(seed, data):
    buf = bytearray(seed)
    for _ in range(data.draw(st.integers(1, 6))):
        i = data.draw(st.integers(0, len(buf)))
        op = data.draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = data.draw(BYTES)
        if op == "insert":
            buf[i:i] = piece
        elif op == "delete":
            del buf[i:i + data.draw(st.integers(1, 12))]
        else:
            buf[i:i + len(piece)] = piece
    same_both_ways(bytes(buf), block=data.draw(st.sampled_from([1, 50, gperftools_heap.BLOCK_BYTES])))
