"""Parser edge cases on small hand-written gperftools heap files."""

from __future__ import annotations

import gzip
import math

import pytest

from heapviz.errors import InputError, UnrecognizedFormat
from heapviz.formats import ReadLimits, load
from heapviz.formats.gperftools_heap import unsample_v2
from heapviz.model import TRUNCATED_STACK, UNKNOWN_STACK

MAPS = (
    "MAPPED_LIBRARIES:\n"
    "00400000-00401000 r-xp 00000000 08:01 123 /usr/bin/prog\n"
    "7f0000000000-7f0000100000 r-xp 00001000 08:01 456 /lib/libfoo.so\n"
    "7f0000100000-7f0000200000 rw-p 00000000 00:00 0\n"
)
BASIC = (
    "heap profile:      3:     300 [     5:     500] @ heapprofile\n"
    "     2:      200 [     3:      300] @ 0x00400010 0x00400020\n"
    "     1:      100 [     2:      200] @ 0x7f0000000011 0x00400020\n"
    "\n" + MAPS
)


def write(tmp_path, text, name="p.heap", mode="w"):
    p = tmp_path / name
    if mode == "wb":
        p.write_bytes(text)
    else:
        p.write_text(text)
    return str(p)


def test_basic_four_values_and_locations(tmp_path):
    prof = load(write(tmp_path, BASIC))
    assert [vt.type for vt in prof.sample_types] == ["inuse_objects", "inuse_space", "alloc_objects", "alloc_space"]
    assert [s.values for s in prof.samples] == [[2, 200, 3, 300], [1, 100, 2, 200]]
    # return addresses are moved back one byte onto the call; shared addresses share a location
    assert [loc.address for loc in prof.samples[0].locations] == [0x40000F, 0x40001F]
    assert prof.samples[0].locations[1] is prof.samples[1].locations[1]
    assert prof.samples[1].locations[0].mapping.file == "/lib/libfoo.so"
    assert len(prof.mappings) == 2  # the rw-p mapping is not code
    assert prof.header_totals == {"inuse_objects": 3, "inuse_space": 300, "alloc_objects": 5, "alloc_space": 500}
    assert prof.total(1) == 300 and not prof.scaled and not prof.warnings


def test_crlf_and_missing_final_newline(tmp_path):
    text = BASIC.replace("\n", "\r\n").rstrip("\r\n")
    prof = load(write(tmp_path, text))
    assert len(prof.samples) == 2 and len(prof.mappings) == 2
    assert not prof.warnings


def test_gzip_and_stdin_equivalent(tmp_path):
    p = tmp_path / "p.heap.gz"
    p.write_bytes(gzip.compress(BASIC.encode()))
    prof = load(str(p))
    assert [s.values for s in prof.samples] == [[2, 200, 3, 300], [1, 100, 2, 200]]


def test_v2_unsampling_exact_not_truncated(tmp_path):
    text = ("heap profile: 10: 1000 [ 10: 1000] @ heap_v2/524288\n"
            " 10: 1000 [ 10: 1000] @ 0x00400010\n" + MAPS)
    prof = load(write(tmp_path, text))
    scale = 1 / (1 - math.exp(-(1000 / 10) / 524288))
    assert prof.samples[0].values[0] == pytest.approx(10 * scale, rel=1e-12)
    assert prof.samples[0].values[1] == pytest.approx(1000 * scale, rel=1e-12)
    assert isinstance(prof.samples[0].values[1], float) and prof.scaled and prof.period == 524288
    assert unsample_v2(0, 0, 524288) == (0, 0)
    assert unsample_v2(3, 30, 1) == (3, 30)


def test_heap_n_is_v2_with_half_rate(tmp_path):
    text = "heap profile: 1: 64 [ 1: 64] @ heap/1048576\n 1: 64 [ 1: 64] @ 0x00400010\n" + MAPS
    prof = load(write(tmp_path, text))
    assert prof.samples[0].values[1] == pytest.approx(unsample_v2(1, 64, 524288)[1])


def test_growth_is_unscaled(tmp_path):
    text = "heap profile: 1: 4096 [ 1: 4096] @ growthz\n 1: 4096 [ 1: 4096] @ 0x00400010\n" + MAPS
    prof = load(write(tmp_path, text))
    assert prof.kind == "growthz" and prof.samples[0].values == [1, 4096, 1, 4096]


def test_empty_stack_kept_as_unknown(tmp_path):
    text = "heap profile: 1: 8 [ 1: 8] @ heapprofile\n 1: 8 [ 1: 8] @\n" + MAPS
    prof = load(write(tmp_path, text))
    assert prof.samples[0].locations[0].lines[0].function.name == UNKNOWN_STACK


def test_stack_at_depth_limit_gets_truncated_root(tmp_path):
    deep = " ".join(f"0x{0x400010 + i:x}" for i in range(32))
    text = f"heap profile: 2: 16 [ 2: 16] @ heapprofile\n 1: 8 [ 1: 8] @ {deep}\n 1: 8 [ 1: 8] @ 0x00400010\n" + MAPS
    prof = load(write(tmp_path, text))
    deep_sample, short_sample = prof.samples
    assert deep_sample.locations[-1].lines[0].function.name == TRUNCATED_STACK
    assert len(deep_sample.locations) == 33 and len(short_sample.locations) == 1
    assert any("limit of 32 frames" in w for w in prof.warnings)


def test_missing_alloc_pair_copies_inuse(tmp_path):
    text = "heap profile: 1: 8 [ 1: 8] @ heapprofile\n 1: 8 @ 0x00400010\n" + MAPS
    assert load(write(tmp_path, text)).samples[0].values == [1, 8, 1, 8]


def test_header_totals_above_samples_warn(tmp_path):
    text = BASIC.replace("3:     300 [     5:     500]", "9:     900 [     9:     900]")
    prof = load(write(tmp_path, text))
    assert prof.header_totals["inuse_space"] == 900 and prof.total(1) == 300
    assert any("sum to 300" in w and "1 MiB" in w for w in prof.warnings)


def test_truncated_mid_line_keeps_what_was_read(tmp_path):
    text = BASIC.split("\n\n")[0] + "\n     1:      100 [     2:  "
    prof = load(write(tmp_path, text))
    assert len(prof.samples) == 2
    assert any("truncated at line 4" in w for w in prof.warnings)


def test_no_memory_map_warns(tmp_path):
    text = BASIC.split("\n\n")[0] + "\n"
    prof = load(write(tmp_path, text))
    assert len(prof.samples) == 2 and prof.mappings == []
    assert any("no memory map" in w for w in prof.warnings)


@pytest.mark.parametrize(
    "text,line,what",
    [
        ("", 0, "empty file"),
        ("heap profile: x\n", 1, "header"),
        ("heap profile: 1: 8 [ 1: 8] @ heapprofile\n garbage here\n" + MAPS, 2, "malformed sample line"),
        ("heap profile: 1: 8 [ 1: 8] @ heapprofile\n 1: 8 [ 1: 8] @ 0xzz\n" + MAPS, 2, "malformed address"),
        ("heap profile: 1: 8 [ 1: 8] @ heapprofile\n -1: 8 [ 1: 8] @ 0x10\n" + MAPS, 2, "negative"),
        ("heap profile: 1: 8 [ 1: 8] @ heapprofile\n 0: 8 [ 1: 8] @ 0x10\n" + MAPS, 2, "count is zero"),
        ("heap profile: 1: 8 [ 1: 8] @ heapprofile\n 1: 99999999999999999999999 [ 1: 8] @ 0x10\n" + MAPS, 2,
         "64 bits"),
        ("heap profile: 1: 8 [ 1: 8] @ heap_v2/0\n", 1, "below 1"),
        ("heap profile: 1: 8 [ 1: 8] @ heapprofile\n 1: 8 [ 1: 8] @ 0x10\nMAPPED_LIBRARIES:\nnot a map line\n",
         4, "malformed memory map line"),
    ],
)
def test_bad_input_names_file_and_line(tmp_path, text, line, what):
    path = write(tmp_path, text)
    with pytest.raises(InputError) as ei:
        load(path)
    assert ei.value.path == path and ei.value.line == line
    assert what in ei.value.what


def test_unrecognized_format_lists_known_formats(tmp_path):
    with pytest.raises(UnrecognizedFormat) as ei:
        load(write(tmp_path, b"\x00\x01garbage\xff" * 10, mode="wb"))
    assert "gperftools heap" in ei.value.what


def test_line_limit_refuses_long_line_without_reading_it(tmp_path):
    text = "heap profile: 1: 8 [ 1: 8] @ heapprofile\n 1: 8 [ 1: 8] @" + " 0x10" * 100000 + "\n"
    with pytest.raises(InputError) as ei:
        load(write(tmp_path, text), ReadLimits(max_line_bytes=4096))
    assert ei.value.line == 2 and "longer than the limit" in ei.value.what


def test_directory_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="directory"):
        load(str(tmp_path))
    with pytest.raises(InputError) as ei:
        load(str(tmp_path / "nope.heap"))
    assert "No such file" in ei.value.what
